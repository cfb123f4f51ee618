// Fused preprocessing: uint8 HWC (RGB or BGR, any size) -> resize -> normalise ->
// NCHW or NHWC -> FP16 or FP32, placed at (top, left) inside a canvas of the profile's
// shape; the rest of the canvas is a constant fill or a reflection of the image.
//
// One thread per output pixel (all three channels); grid = (ceil(W / 32), ceil(H / 8), N).
// The NumPy reference is ptx.runtime.kernels.reference.preprocess_reference.
#include "resample.cuh"

extern "C" __global__ void ptx_preprocess(
    const unsigned char* __restrict__ src,  // N images, each src_h rows of src_pitch bytes
    long long src_image_stride,             // bytes between images
    int src_pitch,                          // bytes between rows (>= 3 * src_w)
    int src_h, int src_w,
    void* __restrict__ dst,                 // N x 3 x H x W or N x H x W x 3
    int dst_h, int dst_w,                   // the canvas
    int top, int left, int inner_h, int inner_w,  // where the resized image sits
    int reflect,                            // 1: pad by reflection, 0: constant fill
    float fill,                             // pixel value (0..255) of the constant fill
    float scale0, float scale1, float scale2,     // x = p * scale[c] + offset[c],
    float offset0, float offset1, float offset2,  // c in the model's channel order
    int swap_rb,                            // 1 when the source order differs from the model's
    int nchw, int fp16, int batch) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int n = blockIdx.z;
  if (x >= dst_w || y >= dst_h || n >= batch) return;

  int iy = y - top, ix = x - left;
  const bool inside = iy >= 0 && iy < inner_h && ix >= 0 && ix < inner_w;
  float acc0, acc1, acc2;
  if (!inside && !reflect) {
    acc0 = acc1 = acc2 = fill;
  } else {
    if (!inside) {  // reflection is about the image's own rows and columns
      iy = ptx_reflect(iy, inner_h);
      ix = ptx_reflect(ix, inner_w);
    }
    const PtxAxis ry = ptx_axis(iy, src_h, inner_h);
    const PtxAxis rx = ptx_axis(ix, src_w, inner_w);
    const unsigned char* image = src + (long long)n * src_image_stride;
    acc0 = acc1 = acc2 = 0.0f;
    for (int ky = 0; ky < ry.count; ++ky) {
      float wy;
      const int sy = ptx_tap(ry, ky, &wy);
      const unsigned char* row = image + (long long)sy * src_pitch;
      float r0 = 0.0f, r1 = 0.0f, r2 = 0.0f;
      for (int kx = 0; kx < rx.count; ++kx) {
        float wx;
        const int sx = ptx_tap(rx, kx, &wx);
        const unsigned char* p = row + 3 * sx;
        r0 += wx * (float)p[0];
        r1 += wx * (float)p[1];
        r2 += wx * (float)p[2];
      }
      acc0 += wy * r0;
      acc1 += wy * r1;
      acc2 += wy * r2;
    }
  }
  if (swap_rb) {
    const float t = acc0;
    acc0 = acc2;
    acc2 = t;
  }
  // Multiply, then add, each rounded: the same two float32 steps as the reference.
  const float v0 = __fadd_rn(__fmul_rn(acc0, scale0), offset0);
  const float v1 = __fadd_rn(__fmul_rn(acc1, scale1), offset1);
  const float v2 = __fadd_rn(__fmul_rn(acc2, scale2), offset2);

  const long long plane = (long long)dst_h * dst_w;
  const long long pixel = (long long)y * dst_w + x;
  const long long base = (long long)n * 3 * plane;
  long long i0, i1, i2;
  if (nchw) {
    i0 = base + pixel;
    i1 = i0 + plane;
    i2 = i1 + plane;
  } else {
    i0 = base + 3 * pixel;
    i1 = i0 + 1;
    i2 = i0 + 2;
  }
  if (fp16) {
    unsigned short* out = (unsigned short*)dst;
    out[i0] = ptx_f2h(v0);
    out[i1] = ptx_f2h(v1);
    out[i2] = ptx_f2h(v2);
  } else {
    float* out = (float*)dst;
    out[i0] = v0;
    out[i1] = v1;
    out[i2] = v2;
  }
}
