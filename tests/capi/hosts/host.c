/* host.c: libptx checks driven by tests/capi (one subcommand per check).
 *   host errors MODEL DIR | threads MODEL N | rss MODEL N | fork MODEL
 *   host churn MODEL N | nodevice MODEL | generate MODEL | bench MODEL CALLS SIDE [alloc] */
#include <ptx/ptx.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define H 4
#define W 5
#define N (3 * H * W)

static ptx_model *load(const char *path) {
  ptx_model *m = NULL;
  if (ptx_model_load(path, "onnxruntime", "{\"threads\": 1, \"spin\": false}", &m) != PTX_OK) {
    fprintf(stderr, "load: %s\n", ptx_last_error());
    exit(1);
  }
  return m;
}

static void report(const char *what, ptx_status st) {
  printf("%s %s | %s\n", what, ptx_status_name(st), ptx_last_error());
}

static int64_t g_shape[4] = {1, 3, H, W};

/* affine: out = x * 0.5 + 0.25; x = seed + i / 64 is exact in float32 */
static int run_once(ptx_model *m, float seed, int alloc) {
  float x[N], y[N];
  for (int i = 0; i < N; i++) x[i] = seed + (float)i / 64.0f;
  ptx_input in = {"image", PTX_FLOAT32, 4, g_shape, x};
  const float *out = y;
  ptx_tensor *t = NULL;
  if (alloc) {
    if (ptx_run_alloc(m, &in, 1, &t, 1) != PTX_OK) return -1;
    out = ptx_tensor_data(t);
  } else {
    ptx_output o = {NULL, y, sizeof y, PTX_FLOAT32, 0, {0}, 0};
    if (ptx_run(m, &in, 1, &o, 1) != PTX_OK || o.rank != 4 || o.shape[3] != W) return -1;
  }
  int bad = 0;
  for (int i = 0; i < N; i++) bad += out[i] != x[i] * 0.5f + 0.25f;
  ptx_tensor_free(t);
  return bad;
}

static void on_sigint(int sig) { (void)sig; }

static int errors(const char *model, const char *dir) {
  char path[4096];
  struct sigaction act, now;
  memset(&act, 0, sizeof act);
  act.sa_handler = on_sigint;
  sigaction(SIGINT, &act, NULL); /* the host's handler, set before Python starts */
  ptx_model *m = NULL;
  snprintf(path, sizeof path, "%s/missing.onnx", dir);
  report("missing", ptx_model_load(path, "onnxruntime", NULL, &m));
  snprintf(path, sizeof path, "%s/corrupt.onnx", dir);
  report("corrupt", ptx_model_load(path, "onnxruntime", NULL, &m));
  report("badjson", ptx_model_load(model, "onnxruntime", "{nope", &m));
  report("badoption", ptx_model_load(model, "onnxruntime", "{\"warp\": 9}", &m));
  m = load(model);
  float x[N] = {0}, y[N];
  int64_t rank3[3] = {3, H, W};
  ptx_input in = {"image", PTX_FLOAT32, 3, rank3, x};
  ptx_output o = {NULL, y, sizeof y, PTX_FLOAT32, 0, {0}, 0};
  report("rank", ptx_run(m, &in, 1, &o, 1));
  int32_t xi[N] = {0};
  ptx_input ini = {"image", PTX_INT32, 4, g_shape, xi};
  report("dtype", ptx_run(m, &ini, 1, &o, 1));
  ptx_input named = {"nope", PTX_FLOAT32, 4, g_shape, x};
  report("name", ptx_run(m, &named, 1, &o, 1));
  ptx_input ok = {"image", PTX_FLOAT32, 4, g_shape, x};
  ptx_output small = {NULL, y, 8, PTX_FLOAT32, 0, {0}, 0};
  report("small", ptx_run(m, &ok, 1, &small, 1));
  printf("small_nbytes %zu\n", small.nbytes);
  report("ok", ptx_run(m, &ok, 1, &o, 1));
  ptx_tensor_info info;
  ptx_model_input(m, 0, &info);
  printf("input %s %d %lld %lld %lld %lld\n", info.name, (int)info.dtype, (long long)info.shape[0],
         (long long)info.shape[1], (long long)info.shape[2], (long long)info.shape[3]);
  printf("spec %s\n", ptx_model_spec_json(m) ? ptx_model_spec_json(m) : "null");
  uint8_t rgba[2 * 3 * 4] = {0, 0, 0, 7, 255, 255, 255, 9, 10, 20, 30, 11,
                             0, 0, 0, 7, 255, 255, 255, 9, 10, 20, 30, 11};
  uint8_t out[2 * 3 * 4];
  report("stylize", ptx_image_run(m, PTX_TASK_STYLIZE, rgba, 3, 2, 4, 0, out, 0));
  report("stride", ptx_image_run(m, PTX_TASK_ENHANCE, rgba, 3, 2, 4, 5, out, 0));
  report("image", ptx_image_run(m, PTX_TASK_ENHANCE, rgba, 3, 2, 4, 0, out, 0));
  sigaction(SIGINT, NULL, &now);
  printf("sigint %s\n", now.sa_handler == on_sigint ? "host" : "replaced");
  printf("pixels");
  for (int i = 0; i < 12; i++) printf(" %d", out[i]);
  printf("\n");
  ptx_model_free(m);
  return 0;
}

typedef struct {
  ptx_model *m;
  int runs, index, bad;
} job;

static void *worker(void *p) {
  job *j = p;
  for (int r = 0; r < j->runs; r++) {
    int b = run_once(j->m, (float)(j->index * 1000 + r % 997), r & 1);
    j->bad += b != 0;
  }
  return NULL;
}

static int threads(const char *model, int runs) {
  ptx_model *m = load(model);
  pthread_t t[8];
  job jobs[8];
  for (int i = 0; i < 8; i++) {
    jobs[i] = (job){m, runs, i, 0};
    pthread_create(&t[i], NULL, worker, &jobs[i]);
  }
  int bad = 0;
  for (int i = 0; i < 8; i++) pthread_join(t[i], NULL), bad += jobs[i].bad;
  printf("threads 8 runs %d bad %d\n", runs, bad);
  ptx_model_free(m);
  return bad != 0;
}

static long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  if (f) fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int rss(const char *model, int calls) {
  ptx_model *m = load(model);
  int bad = 0;
  for (int i = 0; i < 2000; i++) bad += run_once(m, (float)(i % 100), i & 1) != 0;  /* warm-up */
  long before = rss_kb();
  for (int i = 0; i < calls; i++) bad += run_once(m, (float)(i % 100), i & 1) != 0;
  long after = rss_kb();
  printf("rss calls %d before_kb %ld after_kb %ld growth_kb %ld bad %d\n", calls, before, after,
         after - before, bad);
  ptx_model_free(m);
  return bad != 0;
}

static void *one_call(void *p) {
  job *j = p;
  j->bad += run_once(j->m, (float)j->index, j->index & 1) != 0;
  return NULL;
}

/* churn MODEL N: N short-lived threads one after another, one call each; each
 * thread's Python thread state is freed when it exits, so RSS stays flat. */
static int churn(const char *model, int n) {
  ptx_model *m = load(model);
  job j = {m, 1, 0, 0};
  long before = 0;
  for (int i = 0; i < n + 200; i++) {
    if (i == 200) before = rss_kb();
    pthread_t t;
    j.index = i;
    pthread_create(&t, NULL, one_call, &j);
    pthread_join(t, NULL);
  }
  printf("churn threads %d growth_kb %ld bad %d\n", n, rss_kb() - before, j.bad);
  ptx_model_free(m);
  return j.bad != 0;
}

static int stop_flag;
static void *spinner(void *p) {
  while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED)) run_once(p, 1.0f, 0);
  return NULL;
}

static int fork_exec(const char *model) {
  ptx_model *m = load(model);
  pthread_t t;
  pthread_create(&t, NULL, spinner, m);
  usleep(20000); /* the spinner is inside Python now and then */
  int status = -1;
  for (int k = 0; k < 5; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", "exit 7", (char *)NULL);
      _exit(99);
    }
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 7) break;
  }
  __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
  pthread_join(t, NULL);
  int bad = run_once(m, 3.0f, 1);
  printf("fork child_status %d parent_bad %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, bad);
  ptx_model_free(m);
  return bad != 0;
}

/* bench MODEL N SIDE: per-call time of ptx_run on [1, 3, SIDE, SIDE] (reported, not asserted) */
static int bench(const char *model, int calls, int side, int alloc) {
  ptx_model *m = load(model);
  size_t n = (size_t)3 * side * side;
  float *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y);
  int64_t shape[4] = {1, 3, side, side};
  ptx_input in = {"image", PTX_FLOAT32, 4, shape, x};
  ptx_output o = {NULL, y, n * sizeof *y, PTX_FLOAT32, 0, {0}, 0};
  struct timespec t0, t1;
  for (int i = 0; i < 200; i++) ptx_run(m, &in, 1, &o, 1);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < calls; i++) {
    if (alloc) {
      ptx_tensor *t = NULL;
      ptx_run_alloc(m, &in, 1, &t, 1);
      ptx_tensor_free(t);
    } else {
      ptx_run(m, &in, 1, &o, 1);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / calls;
  printf("bench side %d %s us_per_call %.2f\n", side, alloc ? "alloc" : "into", us);
  free(x);
  free(y);
  ptx_model_free(m);
  return 0;
}

/* generate MODEL: 3 images from seed 5, their shape and byte sum; then a bad label */
static int generate(const char *model) {
  ptx_model *m = load(model);
  ptx_tensor *t = NULL;
  report("generate", ptx_image_generate(m, NULL, 3, 5, &t));
  ptx_tensor_info info = ptx_tensor_get_info(t);
  const uint8_t *px = ptx_tensor_data(t);
  unsigned long long sum = 0;
  for (size_t i = 0; i < ptx_tensor_nbytes(t); i++) sum += px[i];
  printf("images %lld %lld %lld %lld sum %llu\n", (long long)info.shape[0],
         (long long)info.shape[1], (long long)info.shape[2], (long long)info.shape[3], sum);
  ptx_tensor_free(t);
  report("label", ptx_image_generate(m, "{\"category\": \"mug\"}", 1, 0, &t));
  ptx_model_free(m);
  return 0;
}

/* nodevice MODEL: device pointers to an engine without a GPU path */
static int nodevice(const char *model) {
  ptx_model *m = load(model);
  float x[N] = {0}, y[N];
  ptx_input in = {NULL, PTX_FLOAT32, 4, g_shape, x};
  ptx_output o = {NULL, y, sizeof y, PTX_FLOAT32, 4, {1, 3, H, W}, 0};
  report("nodevice", ptx_run_device(m, &in, 1, &o, 1, NULL));
  ptx_model_free(m);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  if (!strcmp(argv[1], "errors") && argc > 3) return errors(argv[2], argv[3]);
  if (!strcmp(argv[1], "threads")) return threads(argv[2], argc > 3 ? atoi(argv[3]) : 2000);
  if (!strcmp(argv[1], "rss")) return rss(argv[2], argc > 3 ? atoi(argv[3]) : 20000);
  if (!strcmp(argv[1], "fork")) return fork_exec(argv[2]);
  if (!strcmp(argv[1], "nodevice")) return nodevice(argv[2]);
  if (!strcmp(argv[1], "generate")) return generate(argv[2]);
  if (!strcmp(argv[1], "churn")) return churn(argv[2], argc > 3 ? atoi(argv[3]) : 2000);
  if (!strcmp(argv[1], "bench") && argc > 4) return bench(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5);
  return 2;
}
