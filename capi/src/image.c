/* libptx image helpers: whole image tasks on 8-bit pixels, and decode/encode. */
#include <string.h>

#include "interp.h"

ptx_tensor *ptx_wrap_array_(PyObject *arr, long code, const char *name); /* ptx.c */

ptx_status ptx_image_run(ptx_model *m, ptx_task task, const uint8_t *pixels, int32_t width,
                         int32_t height, int32_t channels, size_t stride, uint8_t *out,
                         size_t out_stride) {
  if (m == NULL || pixels == NULL || out == NULL)
    return ptx_set_error(PTX_ERR_INPUT, "model, pixels and out are required");
  if (width < 1 || height < 1 || (channels != 3 && channels != 4))
    return ptx_set_error(PTX_ERR_INPUT, "image %dx%dx%d: need positive sizes, 3 or 4 channels",
                         width, height, channels);
  size_t row = (size_t)width * (size_t)channels;
  if (stride == 0) stride = row;
  if (out_stride == 0) out_stride = row;
  if (stride < row || out_stride < row)
    return ptx_set_error(PTX_ERR_INPUT, "stride %zu / out_stride %zu below a row of %zu bytes",
                         stride, out_stride, row);
  size_t bytes = stride * (size_t)(height - 1) + row;
  PTX_ENTER();
  ptx_status st = PTX_OK;
  PyObject *buf = PyMemoryView_FromMemory((char *)pixels, (Py_ssize_t)bytes, PyBUF_READ);
  PyObject *r = buf ? PyObject_CallFunction(ptx_fn.run_image, "OiOiiin", m->handle, (int)task, buf,
                                            width, height, channels, (Py_ssize_t)stride)
                    : NULL;
  Py_buffer view;
  if (r == NULL || PyObject_GetBuffer(r, &view, PyBUF_C_CONTIGUOUS) != 0) {
    st = ptx_fail_python();
  } else {
    if ((size_t)view.len != row * (size_t)height) {
      st = ptx_set_error(PTX_ERR_INTERNAL, "image task returned %zd bytes, expected %zu",
                         view.len, row * (size_t)height);
    } else {
      for (int32_t y = 0; y < height; y++)
        memcpy(out + (size_t)y * out_stride, (const char *)view.buf + (size_t)y * row, row);
    }
    PyBuffer_Release(&view);
  }
  Py_XDECREF(r);
  Py_XDECREF(buf);
  PTX_LEAVE();
  return st;
}

ptx_status ptx_image_generate(ptx_model *m, const char *labels_json, int32_t n, uint64_t seed,
                              ptx_tensor **out) {
  if (m == NULL || out == NULL) return ptx_set_error(PTX_ERR_INPUT, "model and out required");
  *out = NULL;
  PTX_ENTER();
  ptx_status st = PTX_OK;
  PyObject *r = PyObject_CallFunction(ptx_fn.generate, "OziK", m->handle, labels_json, (int)n,
                                      (unsigned long long)seed);
  if (r != NULL) *out = ptx_wrap_array_(r, PTX_UINT8, "images");
  if (*out == NULL) st = ptx_fail_python();
  Py_XDECREF(r);
  PTX_LEAVE();
  return st;
}

ptx_status ptx_image_read(const char *path, ptx_tensor **out) {
  if (path == NULL || out == NULL) return ptx_set_error(PTX_ERR_INPUT, "path and out required");
  *out = NULL;
  PTX_ENTER();
  ptx_status st = PTX_OK;
  PyObject *r = PyObject_CallFunction(ptx_fn.read_image, "s", path);
  if (r != NULL) *out = ptx_wrap_array_(r, PTX_UINT8, "image");
  if (*out == NULL) st = ptx_fail_python();
  Py_XDECREF(r);
  PTX_LEAVE();
  return st;
}

ptx_status ptx_image_write(const char *path, const uint8_t *rgb, int32_t width, int32_t height,
                           size_t stride) {
  if (path == NULL || rgb == NULL) return ptx_set_error(PTX_ERR_INPUT, "path and rgb required");
  if (width < 1 || height < 1)
    return ptx_set_error(PTX_ERR_INPUT, "image %dx%d: need positive sizes", width, height);
  size_t row = (size_t)width * 3;
  if (stride == 0) stride = row;
  if (stride < row) return ptx_set_error(PTX_ERR_INPUT, "stride %zu below a row (%zu)", stride, row);
  PTX_ENTER();
  ptx_status st = PTX_OK;
  size_t bytes = stride * (size_t)(height - 1) + row;
  PyObject *buf = PyMemoryView_FromMemory((char *)rgb, (Py_ssize_t)bytes, PyBUF_READ);
  PyObject *r = buf ? PyObject_CallFunction(ptx_fn.write_image, "sOiin", path, buf, width, height,
                                            (Py_ssize_t)stride)
                    : NULL;
  if (r == NULL) st = ptx_fail_python();
  Py_XDECREF(r);
  Py_XDECREF(buf);
  PTX_LEAVE();
  return st;
}
