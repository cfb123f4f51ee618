// Shared by preprocess.cu and postprocess.cu: one resize axis, the half <-> float casts.
//
// Semantics are those of ptx/runtime/imaging.py (the NumPy reference):
//   enlarging (out >= in): bilinear, half-pixel centres, src = (i + 0.5) * in / out - 0.5
//                          clamped to [0, in - 1], taps floor(src) and min(floor + 1, in - 1);
//   shrinking (out < in):  exact area average, each source pixel weighted by its overlap
//                          with [i * in / out, (i + 1) * in / out), divided by in / out.
// No headers: NVRTC compiles these without a CUDA toolkit, and a C++ service can
// `#include` them under nvcc unchanged.
#pragma once

struct PtxAxis {
  int first;    // first source index
  int count;    // number of taps
  float lo;     // area: footprint start; bilinear: unused
  float hi;     // area: footprint end
  float ratio;  // area: in / out
  float frac;   // bilinear: weight of the second tap
  int second;   // bilinear: second tap index
  int area;     // 1 when shrinking
};

__device__ __forceinline__ PtxAxis ptx_axis(int i, int n_in, int n_out) {
  PtxAxis a;
  if (n_out >= n_in) {
    // (i + 0.5) * in is exact in float for any image size we accept; one rounding on divide.
    float src = __fdiv_rn((i + 0.5f) * (float)n_in, (float)n_out) - 0.5f;
    src = fminf(fmaxf(src, 0.0f), (float)(n_in - 1));
    int i0 = (int)floorf(src);
    a.first = i0;
    a.second = min(i0 + 1, n_in - 1);
    a.frac = src - (float)i0;
    // A zero-weight tap is skipped: identity resizes read one pixel, and a NaN stays local.
    a.count = (a.frac > 0.0f && a.second != a.first) ? 2 : 1;
    a.area = 0;
    a.lo = a.hi = a.ratio = 0.0f;
  } else {
    a.ratio = __fdiv_rn((float)n_in, (float)n_out);
    a.lo = __fdiv_rn((float)((long long)i * n_in), (float)n_out);
    a.hi = __fdiv_rn((float)((long long)(i + 1) * n_in), (float)n_out);
    a.first = (int)floorf(a.lo);
    int last = min((int)ceilf(a.hi), n_in);  // exclusive
    a.count = last - a.first;
    a.area = 1;
    a.frac = 0.0f;
    a.second = 0;
  }
  return a;
}

// Source index and weight of tap k (0 <= k < a.count).
__device__ __forceinline__ int ptx_tap(const PtxAxis& a, int k, float* w) {
  if (!a.area) {
    *w = k == 0 ? 1.0f - a.frac : a.frac;
    return k == 0 ? a.first : a.second;
  }
  int j = a.first + k;
  float overlap = fminf(a.hi, (float)(j + 1)) - fmaxf(a.lo, (float)j);
  *w = __fdiv_rn(fmaxf(overlap, 0.0f), a.ratio);
  return j;
}

// numpy "reflect" (edge not repeated), periodic for pads longer than the axis.
__device__ __forceinline__ int ptx_reflect(int j, int n) {
  if (n == 1) return 0;
  int period = 2 * (n - 1);
  j %= period;
  if (j < 0) j += period;
  return j < n ? j : period - j;
}

__device__ __forceinline__ unsigned short ptx_f2h(float x) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(x));
  return h;
}

__device__ __forceinline__ float ptx_h2f(unsigned short h) {
  float x;
  asm("cvt.f32.f16 %0, %1;" : "=f"(x) : "h"(h));
  return x;
}
