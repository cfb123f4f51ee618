/* ptx.h: the C ABI of libptx (run ptx models in-process from C, C++, Rust, Go).
 *
 * Valid C99 and C++17 on its own. Every call returns a ptx_status; on failure
 * ptx_last_error() gives one line for this thread (what went wrong, where, what
 * to do). Threads: any host thread may call any function; each thread gets one
 * Python thread state, kept until the thread exits. Models may be shared across
 * threads. Fork: fork() then exec() only; a forked child must not call libptx.
 * Host memory: ptx_run / ptx_run_alloc. CUDA device memory on a caller's stream
 * (.plan engines on TensorRT): ptx_run_device.
 */
#ifndef PTX_PTX_H
#define PTX_PTX_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PTX_API __declspec(dllimport)
#elif defined(__GNUC__)
#define PTX_API __attribute__((visibility("default")))
#else
#define PTX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PTX_API_VERSION 1u /* bumped on any incompatible change to this header */
#define PTX_MAX_RANK 8

typedef enum ptx_status {
  PTX_OK = 0,
  PTX_ERR_INPUT = 1,              /* bad argument, shape, rank, dtype, option */
  PTX_ERR_MODEL = 2,              /* model file missing, corrupt or of the wrong kind */
  PTX_ERR_MISSING_DEPENDENCY = 3, /* an optional package is not installed */
  PTX_ERR_INTERNAL = 4,           /* anything else (the message names it) */
  PTX_ERR_IMAGE = 5,              /* an image that cannot be decoded or written */
  PTX_ERR_BUFFER_TOO_SMALL = 6    /* a caller-provided output buffer is too small */
} ptx_status;

/* Element types; the values are ONNX's TensorProto codes. */
typedef enum ptx_dtype {
  PTX_FLOAT32 = 1,
  PTX_UINT8 = 2,
  PTX_INT8 = 3,
  PTX_INT32 = 6,
  PTX_INT64 = 7,
  PTX_BOOL = 9,
  PTX_FLOAT16 = 10,
  PTX_FLOAT64 = 11
} ptx_dtype;

typedef enum ptx_task { PTX_TASK_ENHANCE = 1, PTX_TASK_STYLIZE = 2 } ptx_task;

typedef struct ptx_model ptx_model;   /* a loaded model (opaque) */
typedef struct ptx_tensor ptx_tensor; /* an owned result; release with ptx_tensor_free */

/* A model input/output or an owned tensor. Dynamic dims are -1 in a model's info.
 * The pointers stay valid while the model (or tensor) lives. */
typedef struct ptx_tensor_info {
  const char *name;
  ptx_dtype dtype;
  int32_t rank;
  const int64_t *shape;
} ptx_tensor_info;

/* An input: a view of the caller's C-contiguous memory (not copied, only read,
 * only during the call). name NULL: bind by position. */
typedef struct ptx_input {
  const char *name;
  ptx_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  const void *data;
} ptx_input;

/* An output written into the caller's buffer. name NULL: by position. The library
 * fills dtype, rank, shape and nbytes (also on PTX_ERR_BUFFER_TOO_SMALL). */
typedef struct ptx_output {
  const char *name;
  void *data;
  size_t capacity; /* bytes */
  ptx_dtype dtype;
  int32_t rank;
  int64_t shape[PTX_MAX_RANK];
  size_t nbytes;
} ptx_output;

PTX_API uint32_t ptx_api_version(void);
/* Start the embedded interpreter (optional: every call starts it when needed).
 * python_executable: the Python of the environment ptx is installed in; NULL
 * uses $PTX_PYTHON, else the one recorded when libptx was built. Idempotent. */
PTX_API ptx_status ptx_init(const char *python_executable);
PTX_API const char *ptx_last_error(void);       /* "" when the last call succeeded */
PTX_API ptx_status ptx_last_error_code(void);
PTX_API const char *ptx_status_name(ptx_status status);
PTX_API size_t ptx_dtype_size(ptx_dtype dtype); /* 0: unknown */

/* Load .onnx (or .plan); backend NULL = "auto"; options_json NULL or an object of
 * ptx.runtime.load keywords, e.g. {"threads": 1, "spin": false}. */
PTX_API ptx_status ptx_model_load(const char *path, const char *backend, const char *options_json,
                                  ptx_model **out);
PTX_API void ptx_model_free(ptx_model *model);
PTX_API size_t ptx_model_input_count(const ptx_model *model);
PTX_API size_t ptx_model_output_count(const ptx_model *model);
PTX_API ptx_status ptx_model_input(const ptx_model *model, size_t index, ptx_tensor_info *out);
PTX_API ptx_status ptx_model_output(const ptx_model *model, size_t index, ptx_tensor_info *out);
PTX_API const char *ptx_model_spec_json(const ptx_model *model); /* NULL: no ModelSpec */
PTX_API const char *ptx_model_backend(const ptx_model *model);

/* Run one batch into caller buffers (n_outputs may be fewer than the model has). */
PTX_API ptx_status ptx_run(ptx_model *model, const ptx_input *inputs, size_t n_inputs,
                           ptx_output *outputs, size_t n_outputs);
/* Run one batch; out[i] receives an owned tensor (n_outputs <= the model's count). */
PTX_API ptx_status ptx_run_alloc(ptx_model *model, const ptx_input *inputs, size_t n_inputs,
                                 ptx_tensor **out, size_t n_outputs);
/* Run on CUDA device memory (a .plan engine): inputs[i].data and outputs[i].data are
 * device pointers; the caller allocates each output and sets its dtype, rank, shape
 * and capacity. The work is enqueued on cuda_stream (a cudaStream_t) and the call
 * returns at once; NULL: the engine's stream, returning when the outputs are ready.
 * Nothing is copied. An engine without a GPU path answers PTX_ERR_MODEL. */
PTX_API ptx_status ptx_run_device(ptx_model *model, const ptx_input *inputs, size_t n_inputs,
                                  ptx_output *outputs, size_t n_outputs, void *cuda_stream);
PTX_API ptx_tensor_info ptx_tensor_get_info(const ptx_tensor *tensor);
PTX_API const void *ptx_tensor_data(const ptx_tensor *tensor);
PTX_API size_t ptx_tensor_nbytes(const ptx_tensor *tensor);
PTX_API void ptx_tensor_free(ptx_tensor *tensor);

/* A whole image task on 8-bit pixels (RGB, or RGBA with alpha kept): the
 * ModelSpec's pre/post-processing runs inside. Rows are `stride` bytes apart
 * (0: width * channels); out has the same width, height and channels. */
PTX_API ptx_status ptx_image_run(ptx_model *model, ptx_task task, const uint8_t *pixels,
                                 int32_t width, int32_t height, int32_t channels, size_t stride,
                                 uint8_t *out, size_t out_stride);
/* Generate n images with a generator model: labels_json NULL or an object of label
 * values ({"category": "mug"}; missing labels drawn from seed), as `ptx run generate`
 * draws them. out receives an owned uint8 tensor [n, H, W, 3]. */
PTX_API ptx_status ptx_image_generate(ptx_model *model, const char *labels_json, int32_t n,
                                      uint64_t seed, ptx_tensor **out);
/* Decode an image file (JPEG, PNG, WebP, BMP, TIFF, GIF) to uint8 [H, W, 3] RGB. */
PTX_API ptx_status ptx_image_read(const char *path, ptx_tensor **out);
/* Encode RGB pixels to a file; the format follows the suffix; written atomically. */
PTX_API ptx_status ptx_image_write(const char *path, const uint8_t *rgb, int32_t width,
                                   int32_t height, size_t stride);

#ifdef __cplusplus
}
#endif
#endif /* PTX_PTX_H */
