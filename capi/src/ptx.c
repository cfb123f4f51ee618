/* libptx: the C ABI over ptx.runtime (see include/ptx/ptx.h). */
#include <stdlib.h>
#include <string.h>

#include "interp.h"

ptx_tensor *ptx_wrap_array_(PyObject *arr, long code, const char *name);

#define MAX_OUTPUTS 64 /* outputs one call may ask for */

struct ptx_tensor {
  ptx_array a;
  ptx_tensor_info info;
};

uint32_t ptx_api_version(void) { return PTX_API_VERSION; }

const char *ptx_status_name(ptx_status s) {
  switch (s) {
    case PTX_OK: return "ok";
    case PTX_ERR_INPUT: return "input";
    case PTX_ERR_MODEL: return "model";
    case PTX_ERR_MISSING_DEPENDENCY: return "missing dependency";
    case PTX_ERR_INTERNAL: return "internal";
    case PTX_ERR_IMAGE: return "image";
    case PTX_ERR_BUFFER_TOO_SMALL: return "buffer too small";
  }
  return "unknown";
}

size_t ptx_dtype_size(ptx_dtype d) {
  switch (d) {
    case PTX_FLOAT64: case PTX_INT64: return 8;
    case PTX_FLOAT32: case PTX_INT32: return 4;
    case PTX_FLOAT16: return 2;
    case PTX_UINT8: case PTX_INT8: case PTX_BOOL: return 1;
  }
  return 0;
}

static char *dup_utf8(PyObject *s) {
  const char *c = (s == Py_None) ? NULL : PyUnicode_AsUTF8(s);
  return c ? strdup(c) : NULL;
}

/* rows: [(name, code, [dims])] -> infos (names and shapes owned by the model) */
static int fill_infos(PyObject *rows, ptx_tensor_info **dst, size_t *n) {
  *n = (size_t)PyList_Size(rows);
  *dst = calloc(*n ? *n : 1, sizeof **dst);
  for (size_t i = 0; i < *n; i++) {
    PyObject *row = PyList_GET_ITEM(rows, i);
    PyObject *dims = PyTuple_GET_ITEM(row, 2);
    ptx_tensor_info *t = &(*dst)[i];
    t->name = dup_utf8(PyTuple_GET_ITEM(row, 0));
    t->dtype = (ptx_dtype)PyLong_AsLong(PyTuple_GET_ITEM(row, 1));
    t->rank = (int32_t)PyList_Size(dims);
    int64_t *shape = calloc(t->rank ? (size_t)t->rank : 1, sizeof *shape);
    for (int32_t k = 0; k < t->rank; k++) shape[k] = PyLong_AsLongLong(PyList_GET_ITEM(dims, k));
    t->shape = shape;
  }
  return PyErr_Occurred() ? -1 : 0;
}

static void free_infos(ptx_tensor_info *t, size_t n) {
  for (size_t i = 0; t && i < n; i++) {
    free((void *)t[i].name);
    free((void *)t[i].shape);
  }
  free(t);
}

static PyObject **interned(const ptx_tensor_info *t, size_t n) {
  PyObject **names = calloc(n ? n : 1, sizeof *names);
  for (size_t i = 0; i < n; i++) names[i] = PyUnicode_InternFromString(t[i].name ? t[i].name : "");
  return names;
}

/* What the per-call path needs once: the engine's run and the names as str. */
static int bind_run(ptx_model *m) {
  PyObject *engine = PyObject_GetAttrString(m->handle, "engine");
  m->engine_run = engine ? PyObject_GetAttrString(engine, "run") : NULL;
  Py_XDECREF(engine);
  m->in_names = interned(m->in, m->n_in);
  m->out_names = interned(m->out, m->n_out);
  return PyErr_Occurred() ? -1 : 0;
}

void ptx_model_free(ptx_model *m) {
  if (m == NULL) return;
  if (ptx_ensure_init() == PTX_OK && m->handle) {
    ptx_gil gil;
    ptx_enter(&gil);
    for (size_t i = 0; m->in_names && i < m->n_in; i++) Py_XDECREF(m->in_names[i]);
    for (size_t i = 0; m->out_names && i < m->n_out; i++) Py_XDECREF(m->out_names[i]);
    Py_XDECREF(m->engine_run);
    Py_DECREF(m->handle);
    ptx_leave(&gil);
  }
  free(m->in_names);
  free(m->out_names);
  free_infos(m->in, m->n_in);
  free_infos(m->out, m->n_out);
  free(m->spec_json);
  free(m->backend);
  free(m);
}

ptx_status ptx_model_load(const char *path, const char *backend, const char *options_json,
                          ptx_model **out) {
  if (out == NULL || path == NULL) return ptx_set_error(PTX_ERR_INPUT, "path and out are required");
  *out = NULL;
  PTX_ENTER();
  ptx_status st = PTX_OK;
  ptx_model *m = calloc(1, sizeof *m);
  PyObject *info = NULL;
  m->handle = PyObject_CallFunction(ptx_fn.load, "szz", path, backend, options_json);
  if (m->handle) info = PyObject_CallMethod(m->handle, "info", NULL);
  if (info == NULL || fill_infos(PyTuple_GET_ITEM(info, 0), &m->in, &m->n_in) != 0 ||
      fill_infos(PyTuple_GET_ITEM(info, 1), &m->out, &m->n_out) != 0) {
    st = ptx_fail_python();
  } else {
    m->spec_json = dup_utf8(PyTuple_GET_ITEM(info, 2));
    m->backend = dup_utf8(PyTuple_GET_ITEM(info, 3));
    if (bind_run(m) != 0) st = ptx_fail_python();
  }
  Py_XDECREF(info);
  PTX_LEAVE();
  if (st != PTX_OK) ptx_model_free(m);
  else *out = m;
  return st;
}

size_t ptx_model_input_count(const ptx_model *m) { return m ? m->n_in : 0; }
size_t ptx_model_output_count(const ptx_model *m) { return m ? m->n_out : 0; }
const char *ptx_model_spec_json(const ptx_model *m) { return m ? m->spec_json : NULL; }
const char *ptx_model_backend(const ptx_model *m) { return m ? m->backend : NULL; }

static ptx_status get_info(const ptx_tensor_info *t, size_t n, size_t i, ptx_tensor_info *out,
                           const char *what) {
  if (t == NULL || out == NULL) return ptx_set_error(PTX_ERR_INPUT, "model and out are required");
  if (i >= n) return ptx_set_error(PTX_ERR_INPUT, "%s %zu: the model has %zu", what, i, n);
  *out = t[i];
  return ptx_clear_error();
}

ptx_status ptx_model_input(const ptx_model *m, size_t i, ptx_tensor_info *out) {
  return get_info(m ? m->in : NULL, m ? m->n_in : 0, i, out, "input");
}

ptx_status ptx_model_output(const ptx_model *m, size_t i, ptx_tensor_info *out) {
  return get_info(m ? m->out : NULL, m ? m->n_out : 0, i, out, "output");
}

static int check_args(ptx_model *m, const ptx_input *in, size_t n_in, const void *out,
                      size_t n_out) {
  if (m == NULL || (n_in && in == NULL) || (n_out && out == NULL)) {
    ptx_set_error(PTX_ERR_INPUT, "model, inputs and outputs are required");
    return -1;
  }
  if (n_out > m->n_out) {
    ptx_set_error(PTX_ERR_INPUT, "%zu outputs asked, the model has %zu", n_out, m->n_out);
    return -1;
  }
  return 0;
}

ptx_status ptx_run(ptx_model *m, const ptx_input *in, size_t n_in, ptx_output *out,
                   size_t n_out) {
  if (check_args(m, in, n_in, out, n_out) != 0) return ptx_last_error_code();
  const char *want[MAX_OUTPUTS];
  if (n_out > MAX_OUTPUTS) return ptx_set_error(PTX_ERR_INPUT, "more than %d outputs", MAX_OUTPUTS);
  for (size_t i = 0; i < n_out; i++) want[i] = out[i].name;
  PyObject *arrays[MAX_OUTPUTS];
  PTX_ENTER();
  ptx_status st = PTX_OK;
  PyObject *r = ptx_call_run(m, in, n_in, want, n_out, arrays);
  if (r == NULL) st = ptx_last_error_code();
  for (size_t i = 0; r && st == PTX_OK && i < n_out; i++) {
    ptx_array a;
    if (ptx_take_array(arrays[i], -1, &a) != 0) {
      st = ptx_fail_python();
      break;
    }
    out[i].dtype = a.dtype;
    out[i].rank = a.rank;
    memcpy(out[i].shape, a.shape, sizeof a.shape);
    out[i].nbytes = a.nbytes;
    if (a.nbytes > out[i].capacity || (a.nbytes && out[i].data == NULL))
      st = ptx_set_error(PTX_ERR_BUFFER_TOO_SMALL, "output %zu needs %zu bytes, the buffer has %zu",
                         i, a.nbytes, out[i].capacity);
    else
      memcpy(out[i].data, a.data, a.nbytes);
    Py_DECREF(a.obj);
  }
  Py_XDECREF(r);
  PTX_LEAVE();
  return st;
}

ptx_tensor *ptx_wrap_array_(PyObject *arr, long code, const char *name) {
  ptx_tensor *t = calloc(1, sizeof *t);
  if (ptx_take_array(arr, code, &t->a) != 0) {
    free(t);
    return NULL;
  }
  t->info.name = name;
  t->info.dtype = t->a.dtype;
  t->info.rank = t->a.rank;
  t->info.shape = t->a.shape;
  return t;
}

ptx_status ptx_run_alloc(ptx_model *m, const ptx_input *in, size_t n_in, ptx_tensor **out,
                         size_t n_out) {
  if (check_args(m, in, n_in, out, n_out) != 0) return ptx_last_error_code();
  const char *want[MAX_OUTPUTS] = {0};
  if (n_out > MAX_OUTPUTS) return ptx_set_error(PTX_ERR_INPUT, "more than %d outputs", MAX_OUTPUTS);
  for (size_t i = 0; i < n_out; i++) out[i] = NULL;
  PyObject *arrays[MAX_OUTPUTS];
  PTX_ENTER();
  ptx_status st = PTX_OK;
  PyObject *r = ptx_call_run(m, in, n_in, want, n_out, arrays);
  if (r == NULL) st = ptx_last_error_code();
  for (size_t i = 0; r && i < n_out; i++) {
    out[i] = ptx_wrap_array_(arrays[i], -1, m->out[i].name);
    if (out[i] == NULL) {
      st = ptx_fail_python();
      break;
    }
  }
  Py_XDECREF(r);
  PTX_LEAVE();
  if (st != PTX_OK)
    for (size_t i = 0; i < n_out; i++) ptx_tensor_free(out[i]), out[i] = NULL;
  return st;
}

ptx_tensor_info ptx_tensor_get_info(const ptx_tensor *t) {
  ptx_tensor_info none = {NULL, PTX_FLOAT32, 0, NULL};
  return t ? t->info : none;
}
const void *ptx_tensor_data(const ptx_tensor *t) { return t ? t->a.data : NULL; }
size_t ptx_tensor_nbytes(const ptx_tensor *t) { return t ? t->a.nbytes : 0; }

void ptx_tensor_free(ptx_tensor *t) {
  if (t == NULL || ptx_ensure_init() != PTX_OK) return;
  ptx_gil gil;
  ptx_enter(&gil);
  Py_DECREF(t->a.obj);
  ptx_leave(&gil);
  free(t);
}
