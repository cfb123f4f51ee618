// Fused postprocessing: a model output (NCHW or NHWC, FP16 or FP32, a canvas of the
// profile's shape) -> crop the image at (top, left, inner_h, inner_w) -> resize back to
// the source size -> denormalise -> clamp -> round half to even -> uint8 HWC.
//
// One thread per output pixel; grid = (ceil(out_w / 32), ceil(out_h / 8), N).
// The NumPy reference is ptx.runtime.kernels.reference.postprocess_reference.
#include "resample.cuh"

__device__ __forceinline__ float ptx_load(const void* src, long long i, int fp16) {
  return fp16 ? ptx_h2f(((const unsigned short*)src)[i]) : ((const float*)src)[i];
}

__device__ __forceinline__ unsigned char ptx_to_u8(float x) {
  // fmaxf/fminf turn NaN into 0 (the reference does the same), rintf rounds half to even.
  return (unsigned char)rintf(fminf(fmaxf(x, 0.0f), 255.0f));
}

extern "C" __global__ void ptx_postprocess(
    const void* __restrict__ src,           // N x 3 x H x W or N x H x W x 3
    int src_h, int src_w,                   // the canvas
    int top, int left, int inner_h, int inner_w,  // where the image sits in the canvas
    unsigned char* __restrict__ dst,        // N images of out_h rows of dst_pitch bytes
    long long dst_image_stride, int dst_pitch,
    int out_h, int out_w,
    float a0, float a1, float a2,           // p = x * a[c] + b[c], c in the model's order
    float b0, float b1, float b2,
    int swap_rb,                            // 1 when the output order differs from the model's
    int nchw, int fp16, int batch) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int n = blockIdx.z;
  if (x >= out_w || y >= out_h || n >= batch) return;

  const PtxAxis ry = ptx_axis(y, inner_h, out_h);
  const PtxAxis rx = ptx_axis(x, inner_w, out_w);
  const long long plane = (long long)src_h * src_w;
  const long long base = (long long)n * 3 * plane;
  const long long cstep = nchw ? plane : 1;
  float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f;
  for (int ky = 0; ky < ry.count; ++ky) {
    float wy;
    const int sy = top + ptx_tap(ry, ky, &wy);
    float r0 = 0.0f, r1 = 0.0f, r2 = 0.0f;
    for (int kx = 0; kx < rx.count; ++kx) {
      float wx;
      const int sx = left + ptx_tap(rx, kx, &wx);
      const long long pixel = (long long)sy * src_w + sx;
      const long long i = base + (nchw ? pixel : 3 * pixel);
      r0 += wx * ptx_load(src, i, fp16);
      r1 += wx * ptx_load(src, i + cstep, fp16);
      r2 += wx * ptx_load(src, i + 2 * cstep, fp16);
    }
    acc0 += wy * r0;
    acc1 += wy * r1;
    acc2 += wy * r2;
  }
  unsigned char p0 = ptx_to_u8(__fadd_rn(__fmul_rn(acc0, a0), b0));
  const unsigned char p1 = ptx_to_u8(__fadd_rn(__fmul_rn(acc1, a1), b1));
  unsigned char p2 = ptx_to_u8(__fadd_rn(__fmul_rn(acc2, a2), b2));
  if (swap_rb) {
    const unsigned char t = p0;
    p0 = p2;
    p2 = t;
  }
  unsigned char* out = dst + (long long)n * dst_image_stride + (long long)y * dst_pitch + 3 * x;
  out[0] = p0;
  out[1] = p1;
  out[2] = p2;
}
