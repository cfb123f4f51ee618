// ptx.hpp: a header-only C++17 RAII wrapper over the C ABI in ptx/ptx.h.
//
//   ptx::Engine engine("enhance.onnx", "onnxruntime", R"({"threads": 1})");
//   std::vector<ptx::Tensor> out = engine.run({ptx::Input::of("image", pixels, {1, 3, h, w})});
//   engine.enhance(rgb, width, height, out_rgb);  // the ModelSpec's pre/post-processing inside
//   ptx::Tensor images = generator.generate(4, /*seed=*/7);  // uint8 [4, H, W, 3]
//
// Every failure throws ptx::Error carrying the ptx_status and the one-line message.
#ifndef PTX_PTX_HPP
#define PTX_PTX_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ptx/ptx.h"

namespace ptx {

// A minimal span (C++17 has no std::span): a pointer and a count, never owning.
template <typename T>
class Span {
 public:
  constexpr Span() = default;
  constexpr Span(T *data, std::size_t size) : data_(data), size_(size) {}
  template <typename C>
  Span(C &c) : data_(c.data()), size_(c.size()) {}  // NOLINT: implicit from containers
  constexpr T *data() const { return data_; }
  constexpr std::size_t size() const { return size_; }
  constexpr T *begin() const { return data_; }
  constexpr T *end() const { return data_ + size_; }
  constexpr T &operator[](std::size_t i) const { return data_[i]; }

 private:
  T *data_ = nullptr;
  std::size_t size_ = 0;
};

class Error : public std::runtime_error {
 public:
  Error(ptx_status code, const std::string &message) : std::runtime_error(message), code_(code) {}
  ptx_status code() const { return code_; }

 private:
  ptx_status code_;
};

inline void check(ptx_status status) {
  if (status != PTX_OK) throw Error(status, ptx_last_error());
}

template <typename T> constexpr ptx_dtype dtype_of();
template <> constexpr ptx_dtype dtype_of<float>() { return PTX_FLOAT32; }
template <> constexpr ptx_dtype dtype_of<double>() { return PTX_FLOAT64; }
template <> constexpr ptx_dtype dtype_of<std::uint8_t>() { return PTX_UINT8; }
template <> constexpr ptx_dtype dtype_of<std::int8_t>() { return PTX_INT8; }
template <> constexpr ptx_dtype dtype_of<std::int32_t>() { return PTX_INT32; }
template <> constexpr ptx_dtype dtype_of<std::int64_t>() { return PTX_INT64; }

// An input: a view of the caller's memory (shape copied, data never copied).
struct Input {
  std::string name;
  ptx_dtype dtype;
  std::vector<std::int64_t> shape;
  const void *data;

  template <typename T>
  static Input of(std::string name, Span<const T> data, std::vector<std::int64_t> shape) {
    return Input{std::move(name), dtype_of<T>(), std::move(shape), data.data()};
  }
};

// An owned result (moves only); data<T>() checks the element type.
class Tensor {
 public:
  explicit Tensor(ptx_tensor *t) : t_(t) {}
  Tensor(Tensor &&o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  Tensor &operator=(Tensor &&o) noexcept {
    if (this != &o) {
      ptx_tensor_free(t_);
      t_ = std::exchange(o.t_, nullptr);
    }
    return *this;
  }
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;
  ~Tensor() { ptx_tensor_free(t_); }

  ptx_tensor_info info() const { return ptx_tensor_get_info(t_); }
  std::string name() const { return info().name ? info().name : ""; }
  ptx_dtype dtype() const { return info().dtype; }
  std::vector<std::int64_t> shape() const {
    ptx_tensor_info i = info();
    return std::vector<std::int64_t>(i.shape, i.shape + i.rank);
  }
  std::size_t nbytes() const { return ptx_tensor_nbytes(t_); }
  template <typename T>
  Span<const T> data() const {
    if (dtype() != dtype_of<T>()) throw Error(PTX_ERR_INPUT, "tensor '" + name() + "': wrong type");
    return Span<const T>(static_cast<const T *>(ptx_tensor_data(t_)), nbytes() / sizeof(T));
  }

 private:
  ptx_tensor *t_;
};

struct TensorInfo {
  std::string name;
  ptx_dtype dtype;
  std::vector<std::int64_t> shape;  // -1: dynamic
};

class Engine {
 public:
  explicit Engine(const std::string &path, const std::string &backend = "auto",
                  const std::string &options_json = "") {
    check(ptx_model_load(path.c_str(), backend.c_str(),
                         options_json.empty() ? nullptr : options_json.c_str(), &m_));
  }
  Engine(Engine &&o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  Engine &operator=(Engine &&o) noexcept {
    if (this != &o) {
      ptx_model_free(m_);
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;
  ~Engine() { ptx_model_free(m_); }

  ptx_model *get() const { return m_; }
  std::string backend() const { return ptx_model_backend(m_); }
  std::string spec_json() const {
    const char *s = ptx_model_spec_json(m_);
    return s ? s : "";
  }
  std::vector<TensorInfo> inputs() const { return infos(ptx_model_input_count(m_), ptx_model_input); }
  std::vector<TensorInfo> outputs() const {
    return infos(ptx_model_output_count(m_), ptx_model_output);
  }

  // Run one batch; every output comes back as an owned Tensor.
  std::vector<Tensor> run(const std::vector<Input> &inputs) {
    std::vector<ptx_input> in = c_inputs(inputs);
    std::vector<ptx_tensor *> raw(ptx_model_output_count(m_), nullptr);
    check(ptx_run_alloc(m_, in.data(), in.size(), raw.data(), raw.size()));
    std::vector<Tensor> out;
    out.reserve(raw.size());
    for (ptx_tensor *t : raw) out.emplace_back(t);
    return out;
  }

  // Run one batch writing the first output into `out`; returns its shape.
  template <typename T>
  std::vector<std::int64_t> run_into(const std::vector<Input> &inputs, Span<T> out) {
    std::vector<ptx_input> in = c_inputs(inputs);
    ptx_output o{};
    o.data = out.data();
    o.capacity = out.size() * sizeof(T);
    check(ptx_run(m_, in.data(), in.size(), &o, 1));
    if (o.dtype != dtype_of<T>()) throw Error(PTX_ERR_INPUT, "output type differs from the span's");
    return std::vector<std::int64_t>(o.shape, o.shape + o.rank);
  }

  // A whole image task on 8-bit RGB (channels 3) or RGBA (4) pixels; same size out.
  void image(ptx_task task, Span<const std::uint8_t> pixels, int width, int height,
             Span<std::uint8_t> out, int channels = 3) {
    std::size_t need = static_cast<std::size_t>(width) * height * channels;
    if (pixels.size() < need || out.size() < need)
      throw Error(PTX_ERR_INPUT, "image buffers smaller than width * height * channels");
    check(ptx_image_run(m_, task, pixels.data(), width, height, channels, 0, out.data(), 0));
  }
  void enhance(Span<const std::uint8_t> rgb, int width, int height, Span<std::uint8_t> out) {
    image(PTX_TASK_ENHANCE, rgb, width, height, out);
  }
  void stylize(Span<const std::uint8_t> rgb, int width, int height, Span<std::uint8_t> out) {
    image(PTX_TASK_STYLIZE, rgb, width, height, out);
  }
  // n generated images as one uint8 tensor [n, H, W, 3]; labels_json e.g. {"category": "mug"}.
  Tensor generate(int n, std::uint64_t seed = 0, const std::string &labels_json = "") {
    ptx_tensor *t = nullptr;
    check(ptx_image_generate(m_, labels_json.empty() ? nullptr : labels_json.c_str(), n, seed, &t));
    return Tensor(t);
  }

 private:
  using InfoFn = ptx_status (*)(const ptx_model *, std::size_t, ptx_tensor_info *);
  std::vector<TensorInfo> infos(std::size_t n, InfoFn fn) const {
    std::vector<TensorInfo> out;
    for (std::size_t i = 0; i < n; i++) {
      ptx_tensor_info t;
      check(fn(m_, i, &t));
      out.push_back({t.name, t.dtype, std::vector<std::int64_t>(t.shape, t.shape + t.rank)});
    }
    return out;
  }
  static std::vector<ptx_input> c_inputs(const std::vector<Input> &inputs) {
    std::vector<ptx_input> in;
    in.reserve(inputs.size());
    for (const Input &i : inputs)
      in.push_back({i.name.empty() ? nullptr : i.name.c_str(), i.dtype,
                    static_cast<std::int32_t>(i.shape.size()), i.shape.data(), i.data});
    return in;
  }

  ptx_model *m_ = nullptr;
};

// An image decoded through ptx (Pillow): uint8 RGB rows, width * 3 bytes each.
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;

  static Image read(const std::string &path) {
    ptx_tensor *t = nullptr;
    check(ptx_image_read(path.c_str(), &t));
    Tensor owned(t);
    auto shape = owned.shape();
    auto data = owned.data<std::uint8_t>();
    return Image{static_cast<int>(shape[1]), static_cast<int>(shape[0]),
                 std::vector<std::uint8_t>(data.begin(), data.end())};
  }
  void write(const std::string &path) const {
    check(ptx_image_write(path.c_str(), rgb.data(), width, height, 0));
  }
};

}  // namespace ptx

#endif  // PTX_PTX_HPP
