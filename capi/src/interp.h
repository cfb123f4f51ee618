/* Internal: the embedded interpreter, per-thread Python thread states, errors. */
#ifndef PTX_INTERP_H
#define PTX_INTERP_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ptx/ptx.h"

#define PTX_DTYPE_SLOTS 16 /* ptx_dtype values are below this */

/* The functions of ptx.runtime.capi the library calls and the NumPy dtype of each
 * ptx_dtype (set once by init). */
typedef struct ptx_py {
  PyObject *load, *run, *run_device, *run_image, *generate, *read_image, *write_image, *error;
  PyObject *dtypes[PTX_DTYPE_SLOTS];
} ptx_py;
extern ptx_py ptx_fn;

struct ptx_model {
  PyObject *handle;     /* a ptx.runtime.capi.Handle */
  PyObject *engine_run; /* handle.engine.run, bound once */
  PyObject **in_names, **out_names; /* the names as interned str */
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

/* Run with views of the inputs (run.c): a new reference keeping the outputs alive and
 * outs[i] borrowed from it; NULL after setting the error. GIL held. */
PyObject *ptx_call_run(ptx_model *m, const ptx_input *in, size_t n_in, const char **want,
                       size_t n_out, PyObject **outs);
int ptx_numpy_init(void); /* NumPy's C API (run.c); -1 with a Python error set */

/* A result as a C-contiguous NumPy array: the reference kept, its data, size, shape. */
typedef struct ptx_array {
  PyObject *obj;
  const void *data;
  size_t nbytes;
  ptx_dtype dtype;
  int32_t rank;
  int64_t shape[PTX_MAX_RANK];
} ptx_array;
/* obj (any array-like) as a ptx_array; code < 0: the dtype from the array (0 when it
 * has no ptx_dtype). -1 with a Python error set. */
int ptx_take_array(PyObject *obj, long code, ptx_array *out);

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
