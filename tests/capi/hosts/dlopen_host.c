/* dlopen_host.c: a host that dlopen()s libptx RTLD_LOCAL (as plugin loaders do). */
#include <dlfcn.h>
#include <ptx/ptx.h>
#include <stdio.h>

typedef ptx_status (*load_fn)(const char *, const char *, const char *, ptx_model **);
typedef ptx_status (*run_fn)(ptx_model *, const ptx_input *, size_t, ptx_output *, size_t);
typedef const char *(*err_fn)(void);

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  load_fn load = (load_fn)dlsym(lib, "ptx_model_load");
  run_fn run = (run_fn)dlsym(lib, "ptx_run");
  err_fn err = (err_fn)dlsym(lib, "ptx_last_error");
  ptx_model *m = NULL;
  if (load(argv[2], "onnxruntime", "{\"threads\": 1}", &m) != PTX_OK) {
    fprintf(stderr, "load: %s\n", err());
    return 1;
  }
  float x[12] = {0}, y[12];
  int64_t shape[4] = {1, 3, 2, 2};
  ptx_input in = {NULL, PTX_FLOAT32, 4, shape, x};
  ptx_output out = {NULL, y, sizeof y, PTX_FLOAT32, 0, {0}, 0};
  if (run(m, &in, 1, &out, 1) != PTX_OK) {
    fprintf(stderr, "run: %s\n", err());
    return 1;
  }
  printf("dlopen RTLD_LOCAL y0 %g\n", (double)y[0]);
  return 0;
}
