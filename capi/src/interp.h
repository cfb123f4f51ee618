/* Internal: the embedded interpreter, per-thread Python thread states, errors. */
#ifndef PTX_INTERP_H
#define PTX_INTERP_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ptx/ptx.h"

/* The functions of ptx.runtime.capi the library calls (set once by init). */
typedef struct ptx_py {
  PyObject *load, *run, *run_device, *run_image, *generate, *read_image, *write_image, *error;
} ptx_py;
extern ptx_py ptx_fn;

struct ptx_model {
  PyObject *handle; /* a ptx.runtime.capi.Handle */
  size_t n_in, n_out;
  ptx_tensor_info *in, *out;
  char *spec_json;
  char *backend;
};

/* A GIL hold on this thread (see interp.c for the thread-state rule). */
typedef struct ptx_gil {
  int foreign;
  PyGILState_STATE state;
} ptx_gil;

ptx_status ptx_ensure_init(void);
void ptx_enter(ptx_gil *gil);
void ptx_leave(ptx_gil *gil);
ptx_status ptx_set_error(ptx_status code, const char *fmt, ...);
ptx_status ptx_clear_error(void);
ptx_status ptx_fail_python(void); /* the pending Python exception -> status + message */

#define PTX_ENTER()                        \
  ptx_gil gil_;                            \
  {                                        \
    ptx_status st_ = ptx_ensure_init();    \
    if (st_ != PTX_OK) return st_;         \
  }                                        \
  ptx_clear_error();                       \
  ptx_enter(&gil_)
#define PTX_LEAVE() ptx_leave(&gil_)

#endif
