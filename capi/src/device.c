/* libptx on CUDA device memory: pointers and a cudaStream_t handed to the engine. */
#include <string.h>

#include "interp.h"

/* A tensor as (name or None, pointer, dtype code, [dims]); NULL after setting the error. */
static PyObject *row(const char *what, size_t i, const char *name, const void *data, ptx_dtype dt,
                     int32_t rank, const int64_t *shape, size_t *nbytes) {
  if (rank < 0 || rank > PTX_MAX_RANK || (rank && shape == NULL)) {
    ptx_set_error(PTX_ERR_INPUT, "%s %zu: rank %d outside 0..%d (or no shape)", what, i, rank,
                  PTX_MAX_RANK);
    return NULL;
  }
  *nbytes = ptx_dtype_size(dt);
  for (int32_t k = 0; k < rank; k++) {
    if (shape[k] < 0) {
      ptx_set_error(PTX_ERR_INPUT, "%s %zu: negative dimension on axis %d", what, i, k);
      return NULL;
    }
    *nbytes *= (size_t)shape[k];
  }
  if (data == NULL && *nbytes) {
    ptx_set_error(PTX_ERR_INPUT, "%s %zu: data is NULL", what, i);
    return NULL;
  }
  PyObject *dims = PyList_New(rank);
  for (int32_t k = 0; k < rank; k++) PyList_SET_ITEM(dims, k, PyLong_FromLongLong(shape[k]));
  PyObject *key = name ? PyUnicode_FromString(name) : Py_NewRef(Py_None);
  return Py_BuildValue("(NNiN)", key, PyLong_FromVoidPtr((void *)data), (int)dt, dims);
}

ptx_status ptx_run_device(ptx_model *m, const ptx_input *in, size_t n_in, ptx_output *out,
                          size_t n_out, void *cuda_stream) {
  if (m == NULL || (n_in && in == NULL) || (n_out && out == NULL))
    return ptx_set_error(PTX_ERR_INPUT, "model, inputs and outputs are required");
  if (n_out > m->n_out)
    return ptx_set_error(PTX_ERR_INPUT, "%zu outputs given, the model has %zu", n_out, m->n_out);
  PTX_ENTER();
  ptx_status st = PTX_OK;
  PyObject *ins = PyList_New((Py_ssize_t)n_in), *outs = PyList_New((Py_ssize_t)n_out), *r = NULL;
  size_t nbytes = 0;
  for (size_t i = 0; st == PTX_OK && i < n_in; i++) {
    PyObject *t = row("input", i, in[i].name, in[i].data, in[i].dtype, in[i].rank, in[i].shape,
                      &nbytes);
    if (t == NULL) st = ptx_last_error_code();
    else PyList_SET_ITEM(ins, i, t);
  }
  for (size_t i = 0; st == PTX_OK && i < n_out; i++) {
    PyObject *t = row("output", i, out[i].name, out[i].data, out[i].dtype, out[i].rank,
                      out[i].shape, &nbytes);
    if (t == NULL) {
      st = ptx_last_error_code();
    } else if (nbytes > out[i].capacity) {
      Py_DECREF(t);
      st = ptx_set_error(PTX_ERR_BUFFER_TOO_SMALL, "output %zu needs %zu bytes, the buffer has %zu",
                         i, nbytes, out[i].capacity);
    } else {
      out[i].nbytes = nbytes;
      PyList_SET_ITEM(outs, i, t);
    }
  }
  if (st == PTX_OK) {
    r = PyObject_CallFunction(ptx_fn.run_device, "OOON", m->handle, ins, outs,
                              PyLong_FromVoidPtr(cuda_stream));
    if (r == NULL) st = ptx_fail_python();
  }
  for (size_t i = 0; r && i < n_out && i < (size_t)PyList_Size(r); i++) {
    PyObject *shape = PyList_GET_ITEM(r, i);
    out[i].rank = (int32_t)PyTuple_GET_SIZE(shape);
    for (int32_t k = 0; k < out[i].rank && k < PTX_MAX_RANK; k++)
      out[i].shape[k] = PyLong_AsLongLong(PyTuple_GET_ITEM(shape, k));
  }
  Py_XDECREF(r);
  Py_DECREF(ins);
  Py_DECREF(outs);
  PTX_LEAVE();
  return st;
}
