// host.cpp: ptx.hpp checks (exceptions carry the code; spans; owned tensors move).
#include <iostream>
#include <ptx/ptx.hpp>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  try {
    ptx::Engine missing("/nonexistent/model.onnx", "onnxruntime");
    return 1;
  } catch (const ptx::Error &e) {
    std::cout << "missing " << ptx_status_name(e.code()) << " | " << e.what() << "\n";
  }
  ptx::Engine engine(argv[1], "onnxruntime", R"({"threads": 1})");
  std::vector<float> x(3 * 2 * 2, 1.0f), y(3 * 2 * 2);
  auto in = ptx::Input::of<float>("image", x, {1, 3, 2, 2});
  std::vector<ptx::Tensor> out = engine.run({in});
  ptx::Tensor moved = std::move(out[0]);
  auto shape = engine.run_into<float>({in}, y);
  std::cout << "run " << moved.name() << " " << moved.data<float>()[0] << " " << y[0] << " rank "
            << shape.size() << " inputs " << engine.inputs().size() << "\n";
  try {
    std::vector<double> z(5);
    engine.run({ptx::Input::of<double>("image", z, {5})});
  } catch (const ptx::Error &e) {
    std::cout << "rank " << ptx_status_name(e.code()) << " | " << e.what() << "\n";
  }
  if (argc > 2) {
    ptx::Engine gen(argv[2], "onnxruntime");
    ptx::Tensor images = gen.generate(2, 5);
    auto shape = images.shape();
    std::cout << "generate " << shape[0] << " " << shape[1] << " " << shape[2] << " " << shape[3]
              << "\n";
  }
  return 0;
}
