/* The embedded interpreter: started once, never finalized, host signals left alone.
 *
 * Thread rule: each host thread gets one PyThreadState, created on its first call
 * and deleted when the thread exits (a pthread key destructor), so a call costs a
 * GIL hand-over, not a thread-state create/destroy. A thread Python already knows
 * (a Python host, or a thread that embeds Python itself) goes through
 * PyGILState_Ensure instead.
 */
#define _GNU_SOURCE
#include "interp.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PTX_PYTHON_EXECUTABLE
#define PTX_PYTHON_EXECUTABLE ""
#endif

ptx_py ptx_fn;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static PyInterpreterState *g_interp;
static ptx_status g_init_status = PTX_OK;
static char g_init_error[1024];
static char g_executable[4096];

/* global-dynamic TLS (the default): initial-exec would move the whole block into the
 * static TLS a dlopen'ed library gets, and dlopen then fails ("cannot allocate memory
 * in static TLS block") */
static _Thread_local PyThreadState *t_state;
static _Thread_local ptx_status t_code;
static _Thread_local char t_error[2048]; /* read only after a failed call */

ptx_status ptx_set_error(ptx_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t_error, sizeof t_error, fmt, ap);
  va_end(ap);
  t_code = code;
  return code;
}

ptx_status ptx_clear_error(void) {
  t_code = PTX_OK;
  return PTX_OK;
}

const char *ptx_last_error(void) { return t_code == PTX_OK ? "" : t_error; }
ptx_status ptx_last_error_code(void) { return t_code; }

static void drop_state(void *p) {
  PyThreadState *ts = (PyThreadState *)p;
  PyEval_RestoreThread(ts);
  PyThreadState_Clear(ts);
  PyThreadState_DeleteCurrent();
}

/* A host that dlopen'ed us RTLD_LOCAL hides libpython's symbols from extension
 * modules (numpy); re-open it RTLD_GLOBAL without loading anything new. */
static void promote_libpython(void) {
  Dl_info info;
  if (dladdr((void *)&Py_InitializeFromConfig, &info) && info.dli_fname != NULL) {
    void *h = dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    (void)h; /* keep the reference: libpython must never be unloaded */
  }
}

static int bind_functions(void) {
  PyObject *mod = PyImport_ImportModule("ptx.runtime.capi");
  if (mod == NULL) return -1;
  const char *names[] = {"load",       "run",        "run_device",  "run_image",
                         "generate_images", "read_image", "write_image", "error"};
  PyObject **slots[] = {&ptx_fn.load,       &ptx_fn.run,        &ptx_fn.run_device,
                        &ptx_fn.run_image,  &ptx_fn.generate,   &ptx_fn.read_image,
                        &ptx_fn.write_image, &ptx_fn.error};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    *slots[i] = PyObject_GetAttrString(mod, names[i]);
    if (*slots[i] == NULL) return -1;
  }
  PyObject *dtypes = PyObject_GetAttrString(mod, "NP_DTYPES"); /* {code: numpy dtype} */
  Py_DECREF(mod);
  if (dtypes == NULL || !PyDict_Check(dtypes) || ptx_numpy_init() != 0) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "NP_DTYPES is not a dict");
    Py_XDECREF(dtypes);
    return -1;
  }
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(dtypes, &pos, &key, &value)) {
    long code = PyLong_AsLong(key);
    if (code > 0 && code < PTX_DTYPE_SLOTS) ptx_fn.dtypes[code] = Py_NewRef(value);
  }
  Py_DECREF(dtypes);
  return PyErr_Occurred() ? -1 : 0;
}

static void init_error_from_python(const char *what) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject *text = value ? PyObject_Str(value) : NULL;
  const char *msg = text ? PyUnicode_AsUTF8(text) : "unknown error";
  snprintf(g_init_error, sizeof g_init_error,
           "%s: %s (python: %s); give the python of the environment ptx is installed in: "
           "$PTX_PYTHON or ptx_init(path)",
           what, msg ? msg : "?", g_executable);
  PyErr_Clear();
  Py_XDECREF(text);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  g_init_status = PTX_ERR_MISSING_DEPENDENCY;
}

static void start_interpreter(void) {
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  char *argv[] = {"libptx"};
  PyStatus st = PyConfig_SetBytesArgv(&config, 1, argv);
  if (!PyStatus_Exception(st) && g_executable[0] != '\0') {
    /* the venv's python: getpath finds pyvenv.cfg, site adds its .pth files */
    st = PyConfig_SetBytesString(&config, &config.executable, g_executable);
    if (!PyStatus_Exception(st))
      st = PyConfig_SetBytesString(&config, &config.program_name, g_executable);
  }
  if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st)) {
    snprintf(g_init_error, sizeof g_init_error, "cannot start Python (%s): %s",
             g_executable[0] ? g_executable : "default", st.err_msg ? st.err_msg : "?");
    g_init_status = PTX_ERR_INTERNAL;
    return;
  }
  g_interp = PyInterpreterState_Get();
  if (bind_functions() != 0) init_error_from_python("cannot import ptx.runtime.capi");
  t_state = PyEval_SaveThread(); /* this thread keeps the main thread state */
}

static void do_init(void) {
  if (g_executable[0] == '\0') {
    const char *env = getenv("PTX_PYTHON");
    const char *exe = (env && env[0]) ? env : PTX_PYTHON_EXECUTABLE;
    snprintf(g_executable, sizeof g_executable, "%s", exe);
  }
  if (pthread_key_create(&g_key, drop_state) != 0) {
    snprintf(g_init_error, sizeof g_init_error, "pthread_key_create failed");
    g_init_status = PTX_ERR_INTERNAL;
    return;
  }
  promote_libpython();
  if (!Py_IsInitialized()) {
    start_interpreter();
    return;
  }
  PyGILState_STATE s = PyGILState_Ensure(); /* a Python host: use its interpreter */
  g_interp = PyInterpreterState_Main();
  if (bind_functions() != 0) init_error_from_python("cannot import ptx.runtime.capi");
  PyGILState_Release(s);
}

ptx_status ptx_init(const char *python_executable) {
  if (python_executable != NULL && python_executable[0] != '\0' && g_executable[0] == '\0')
    snprintf(g_executable, sizeof g_executable, "%s", python_executable);
  ptx_status st = ptx_ensure_init();
  return st == PTX_OK ? ptx_clear_error() : st;
}

ptx_status ptx_ensure_init(void) {
  pthread_once(&g_once, do_init);
  if (g_init_status != PTX_OK) return ptx_set_error(g_init_status, "%s", g_init_error);
  return PTX_OK;
}

void ptx_enter(ptx_gil *gil) {
  if (t_state == NULL) {
    if (PyGILState_GetThisThreadState() != NULL) {
      gil->foreign = 1;
      gil->state = PyGILState_Ensure();
      return;
    }
    t_state = PyThreadState_New(g_interp);
    pthread_setspecific(g_key, t_state);
  }
  gil->foreign = 0;
  PyEval_RestoreThread(t_state);
}

void ptx_leave(ptx_gil *gil) {
  if (gil->foreign)
    PyGILState_Release(gil->state);
  else
    PyEval_SaveThread();
}

ptx_status ptx_fail_python(void) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  ptx_status code = PTX_ERR_INTERNAL;
  PyObject *r = value ? PyObject_CallOneArg(ptx_fn.error, value) : NULL;
  if (r != NULL && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2) {
    code = (ptx_status)PyLong_AsLong(PyTuple_GET_ITEM(r, 0));
    const char *msg = PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 1));
    ptx_set_error(code, "%s", msg ? msg : "?");
  } else {
    ptx_set_error(code, "internal error (the error itself could not be read)");
  }
  PyErr_Clear();
  Py_XDECREF(r);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return code;
}
