/* hello.c: load a model, describe it, run it once on ones, print the first values.
 *   ptx_hello model.onnx [H W]   (an NCHW float32 image model with dynamic H, W) */
#include <ptx/ptx.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s model.onnx [H W]\n", argv[0]);
    return 2;
  }
  int64_t h = argc > 3 ? atoll(argv[2]) : 8, w = argc > 3 ? atoll(argv[3]) : 8;
  ptx_model *model = NULL;
  if (ptx_model_load(argv[1], "onnxruntime", "{\"threads\": 1}", &model) != PTX_OK) {
    fprintf(stderr, "error (%s): %s\n", ptx_status_name(ptx_last_error_code()), ptx_last_error());
    return 1;
  }
  printf("api %u backend %s\n", ptx_api_version(), ptx_model_backend(model));
  for (size_t i = 0; i < ptx_model_input_count(model); i++) {
    ptx_tensor_info t;
    ptx_model_input(model, i, &t);
    printf("input %s dtype %d shape [", t.name, (int)t.dtype);
    for (int32_t k = 0; k < t.rank; k++) printf("%s%lld", k ? ", " : "", (long long)t.shape[k]);
    printf("]\n");
  }
  size_t n = (size_t)(3 * h * w);
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  for (size_t i = 0; i < n; i++) x[i] = 1.0f;
  int64_t shape[4] = {1, 3, h, w};
  ptx_input in = {NULL, PTX_FLOAT32, 4, shape, x};
  ptx_output out = {NULL, y, n * sizeof *y, PTX_FLOAT32, 0, {0}, 0};
  int rc = 0;
  if (ptx_run(model, &in, 1, &out, 1) != PTX_OK) {
    fprintf(stderr, "error (%s): %s\n", ptx_status_name(ptx_last_error_code()), ptx_last_error());
    rc = 1;
  } else {
    printf("output rank %d, %zu bytes, y[0] = %g\n", (int)out.rank, out.nbytes, (double)y[0]);
  }
  free(x);
  free(y);
  ptx_model_free(model);
  return rc;
}
