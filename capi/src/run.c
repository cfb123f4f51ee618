/* The per-call path of ptx_run / ptx_run_alloc.
 *
 * The feeds dict is built here (read-only NumPy views of the caller's memory made with
 * NumPy's C API), the engine's own `run` is called directly and the outputs are read
 * from its result dict: no Python glue frame per call. That frame (lists, memoryviews,
 * frombuffer+reshape, dtype lookups) cost a two-op model at 64x64 about a third of its
 * per-call time. Calls this path does not take (a wrong input count, an unknown dtype
 * code or output name) go to ptx.runtime.capi.run, which answers them with the error.
 */
#include <stdlib.h>
#include <string.h>

#include "interp.h"

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL ptx_numpy_api
#include <numpy/arrayobject.h>

int ptx_numpy_init(void) { return _import_array(); }

static PyObject *dtype_object(ptx_dtype code) {
  return (code > 0 && code < PTX_DTYPE_SLOTS) ? ptx_fn.dtypes[code] : NULL;
}

static Py_ssize_t output_index(const ptx_model *m, const char *name) {
  for (size_t k = 0; k < m->n_out; k++)
    if (m->out[k].name && strcmp(m->out[k].name, name) == 0) return (Py_ssize_t)k;
  return -1;
}

static int takes_fast_path(const ptx_model *m, size_t n_in, const ptx_input *in, const char **want,
                           size_t n_out) {
  if (n_in != m->n_in || m->engine_run == NULL) return 0;
  for (size_t i = 0; i < n_in; i++)
    if (dtype_object(in[i].dtype) == NULL) return 0;
  for (size_t i = 0; i < n_out; i++)
    if (want[i] && output_index(m, want[i]) < 0) return 0;
  return 1;
}

/* The caller's checks on one input; its byte size into *bytes. -1 after setting the error. */
static int check_input(size_t i, const ptx_input *in, size_t *bytes) {
  if (in->rank < 0 || in->rank > PTX_MAX_RANK || (in->rank && !in->shape)) {
    ptx_set_error(PTX_ERR_INPUT, "input %zu: rank %d outside 0..%d (or no shape)", i, in->rank,
                  PTX_MAX_RANK);
    return -1;
  }
  *bytes = ptx_dtype_size(in->dtype);
  for (int32_t k = 0; k < in->rank; k++) {
    if (in->shape[k] < 0) {
      ptx_set_error(PTX_ERR_INPUT, "input %zu: negative dimension %lld on axis %d", i,
                    (long long)in->shape[k], k);
      return -1;
    }
    *bytes *= (size_t)in->shape[k];
  }
  if (!in->data && *bytes) {
    ptx_set_error(PTX_ERR_INPUT, "input %zu: data is NULL", i);
    return -1;
  }
  return 0;
}

static PyObject *memory(const ptx_input *in, size_t bytes) {
  static char empty;
  char *data = in->data ? (char *)in->data : &empty;
  return PyMemoryView_FromMemory(data, (Py_ssize_t)bytes, PyBUF_READ);
}

static PyObject *shape_tuple(const ptx_input *in) {
  PyObject *shape = PyTuple_New(in->rank);
  for (int32_t k = 0; shape && k < in->rank; k++)
    PyTuple_SET_ITEM(shape, k, PyLong_FromLongLong(in->shape[k]));
  return shape;
}

/* A read-only array over the caller's memory (no copy, no owner: valid during the call). */
static PyObject *view(const ptx_input *in) {
  static char empty;
  npy_intp dims[PTX_MAX_RANK];
  for (int32_t k = 0; k < in->rank; k++) dims[k] = (npy_intp)in->shape[k];
  PyArray_Descr *dtype = (PyArray_Descr *)dtype_object(in->dtype);
  Py_INCREF(dtype); /* PyArray_NewFromDescr steals it */
  return PyArray_NewFromDescr(&PyArray_Type, dtype, in->rank, dims, NULL,
                              in->data ? (void *)in->data : &empty, NPY_ARRAY_CARRAY_RO, NULL);
}

/* The feeds dict {name: array view}; NULL with a Python error set. */
static PyObject *feeds_dict(const ptx_model *m, const ptx_input *in, size_t n_in) {
  PyObject *feeds = PyDict_New();
  for (size_t i = 0; feeds && i < n_in; i++) {
    PyObject *name = NULL;
    if (in[i].name == NULL || (m->in[i].name && strcmp(in[i].name, m->in[i].name) == 0))
      name = Py_NewRef(m->in_names[i]);
    else
      name = PyUnicode_FromString(in[i].name);
    PyObject *arr = name ? view(&in[i]) : NULL;
    int bad = arr == NULL || PyDict_SetItem(feeds, name, arr) != 0;
    Py_XDECREF(name);
    Py_XDECREF(arr);
    if (bad) Py_CLEAR(feeds);
  }
  return feeds;
}

/* The slow path: ptx.runtime.capi.run with lists; (arrays, codes) back. */
static PyObject *glue_run(ptx_model *m, const ptx_input *in, size_t n_in, const char **want,
                          size_t n_out, const size_t *bytes) {
  PyObject *names = PyList_New((Py_ssize_t)n_in), *bufs = PyList_New((Py_ssize_t)n_in);
  PyObject *codes = PyList_New((Py_ssize_t)n_in), *shapes = PyList_New((Py_ssize_t)n_in);
  PyObject *wanted = PyList_New((Py_ssize_t)n_out);
  for (size_t i = 0; i < n_in; i++) {
    PyList_SET_ITEM(shapes, i, shape_tuple(&in[i]));
    PyList_SET_ITEM(names, i, in[i].name ? PyUnicode_FromString(in[i].name) : Py_NewRef(Py_None));
    PyList_SET_ITEM(codes, i, PyLong_FromLong(in[i].dtype));
    PyList_SET_ITEM(bufs, i, memory(&in[i], bytes[i]));
  }
  for (size_t i = 0; i < n_out; i++)
    PyList_SET_ITEM(wanted, i, want[i] ? PyUnicode_FromString(want[i]) : Py_NewRef(Py_None));
  PyObject *r = PyErr_Occurred() ? NULL
                                 : PyObject_CallFunctionObjArgs(ptx_fn.run, m->handle, names, bufs,
                                                                codes, shapes, wanted, NULL);
  Py_DECREF(names);
  Py_DECREF(bufs);
  Py_DECREF(codes);
  Py_DECREF(shapes);
  Py_DECREF(wanted);
  return r;
}

PyObject *ptx_call_run(ptx_model *m, const ptx_input *in, size_t n_in, const char **want,
                       size_t n_out, PyObject **outs) {
  size_t few[16], *bytes = n_in <= 16 ? few : malloc(n_in * sizeof *bytes);
  PyObject *r = NULL;
  for (size_t i = 0; i < n_in; i++)
    if (check_input(i, &in[i], &bytes[i]) != 0) goto done;
  if (!takes_fast_path(m, n_in, in, want, n_out)) {
    r = glue_run(m, in, n_in, want, n_out, bytes);
    for (size_t i = 0; r && i < n_out; i++) outs[i] = PyList_GET_ITEM(PyTuple_GET_ITEM(r, 0), i);
    if (r == NULL) ptx_fail_python();
    goto done;
  }
  PyObject *feeds = feeds_dict(m, in, n_in);
  r = feeds ? PyObject_CallOneArg(m->engine_run, feeds) : NULL;
  Py_XDECREF(feeds);
  for (size_t i = 0; r && i < n_out; i++) {
    Py_ssize_t k = want[i] ? output_index(m, want[i]) : (Py_ssize_t)i;
    outs[i] = PyDict_Check(r) ? PyDict_GetItemWithError(r, m->out_names[k]) : NULL;
    if (outs[i] == NULL) {
      if (!PyErr_Occurred())
        PyErr_Format(PyExc_KeyError, "the engine returned no output '%s'", m->out[k].name);
      Py_CLEAR(r);
    }
  }
  if (r == NULL) ptx_fail_python();
done:
  if (bytes != few) free(bytes);
  return r;
}

static ptx_dtype dtype_of_array(PyArrayObject *a) {
  PyArray_Descr *d = PyArray_DESCR(a);
  if (!PyArray_ISNOTSWAPPED(a)) return (ptx_dtype)0;
  switch (d->kind) {
    case 'f':
      return PyArray_ITEMSIZE(a) == 4   ? PTX_FLOAT32
             : PyArray_ITEMSIZE(a) == 2 ? PTX_FLOAT16
             : PyArray_ITEMSIZE(a) == 8 ? PTX_FLOAT64
                                        : (ptx_dtype)0;
    case 'i':
      return PyArray_ITEMSIZE(a) == 4   ? PTX_INT32
             : PyArray_ITEMSIZE(a) == 8 ? PTX_INT64
             : PyArray_ITEMSIZE(a) == 1 ? PTX_INT8
                                        : (ptx_dtype)0;
    case 'u': return PyArray_ITEMSIZE(a) == 1 ? PTX_UINT8 : (ptx_dtype)0;
    case 'b': return PTX_BOOL;
  }
  return (ptx_dtype)0;
}

int ptx_take_array(PyObject *obj, long code, ptx_array *out) {
  PyObject *arr = NULL;
  if (PyArray_Check(obj) && PyArray_IS_C_CONTIGUOUS((PyArrayObject *)obj) &&
      PyArray_ISALIGNED((PyArrayObject *)obj))
    arr = Py_NewRef(obj); /* what every engine returns: no copy */
  else
    arr = PyArray_FromAny(obj, NULL, 0, 0, NPY_ARRAY_CARRAY_RO, NULL);
  if (arr == NULL) return -1;
  PyArrayObject *a = (PyArrayObject *)arr;
  if (PyArray_NDIM(a) > PTX_MAX_RANK) {
    PyErr_Format(PyExc_ValueError, "output rank %d above PTX_MAX_RANK", PyArray_NDIM(a));
    Py_DECREF(arr);
    return -1;
  }
  out->obj = arr;
  out->data = PyArray_DATA(a);
  out->nbytes = (size_t)PyArray_NBYTES(a);
  out->dtype = code < 0 ? dtype_of_array(a) : (ptx_dtype)code;
  out->rank = PyArray_NDIM(a);
  for (int k = 0; k < out->rank; k++) out->shape[k] = (int64_t)PyArray_DIM(a, k);
  return 0;
}
