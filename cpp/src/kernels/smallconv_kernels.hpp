// Direct kernels for convolutions with a small reduction (K = kh * kw * C_in) and few filters (F): the whole
// K x F weight block stays in L1 and the output pixel's receptive field is read in place, so no packing, no
// pointer tables, no half-empty 16-wide panels. One call handles `rows` output pixels of one output row: row r,
// tap t (kernel row) reads the kc = kw * C_in contiguous floats at a + r * a_stride + t * tap_stride of a
// zero-padded NHWC input (dilation 1, groups 1).
// Weights are given with a padded row length ldw >= F (a multiple of `lanes`, zero beyond F):
//   w[(t * kc + k) * ldw + f]; the transposed copy for the input gradient is wt[(t * ldw + f) * kcp + k]
//   with kcp >= kc (multiple of `lanes`, zero beyond kc).
#pragma once
#include <cstdint>

namespace convlite {

struct SmallConvArgs {
  std::int64_t rows = 0;        // output pixels in this call
  std::int64_t taps = 1;        // kernel rows
  std::int64_t kc = 0;          // floats per tap (kw * C_in)
  std::int64_t kcp = 0;         // kc rounded up to lanes (wt layout)
  std::int64_t f = 0;           // filters
  std::int64_t ldw = 0;         // F rounded up to lanes
  const float* a = nullptr;     // input (forward, weight grad) or dx (input grad), padded
  float* dx = nullptr;          // input grad target, same addressing as a
  std::int64_t dx_room = 0;     // input grad: floats writable from dx on (its image); lanes beyond kc may add +0 there
  std::int64_t a_stride = 0;    // floats between the receptive fields of neighbouring output pixels
  std::int64_t tap_stride = 0;  // floats between kernel rows
  // Weight grad only: its `rows` pixels may span several output rows of one image, row_pixels each (0: one row),
  // pixel r's field then starting at a + (r / row_pixels) * row_stride + (r % row_pixels) * a_stride.
  std::int64_t row_pixels = 0;
  std::int64_t row_stride = 0;
  const float* w = nullptr;     // forward: (taps*kc) x ldw; input grad: wt
  const float* bias = nullptr;  // ldw floats (zero-padded) or null
  float* y = nullptr;           // forward output rows, row stride F
  const float* dz = nullptr;    // gradient rows (already masked), row stride F
  float* dw = nullptr;          // weight grad accumulator (taps*kc) x ldw, added to
  float* db = nullptr;          // bias grad accumulator (ldw floats), added to, or null
  // Weight grad only: when mask_y is set, dz is the raw dy and the kernel applies act'(y) (y: forward output rows,
  // row stride F; relu: y > 0, leaky_relu: y > 0 ? 1 : negative_slope) as it loads each row.
  const float* mask_y = nullptr;
  int mask_activation = 0;
  int activation = 0;           // forward epilogue: 0 none, 1 relu, 2 leaky_relu
  float negative_slope = 0.0f;
};

struct SmallConvKernels {
  int lanes;
  // y[r][f] = act(bias[f] + sum_t sum_k a(r, t, k) * w[t*kc + k][f])
  void (*forward)(const SmallConvArgs& p);
  // dw[t*kc + k][f] += sum_r a(r, t, k) * dz[r][f] (rows in order); db[f] += sum_r dz[r][f] (any fixed order).
  void (*weight_grad)(const SmallConvArgs& p);
  // For r in order: dx(r, t, k) += sum_f dz[r][f] * w[t*kc + k][f] (rows overlap, so the order is fixed).
  void (*input_grad)(const SmallConvArgs& p);
};

const SmallConvKernels& smallconv_kernels_scalar();
#if defined(CONVLITE_HAVE_AVX2)
const SmallConvKernels& smallconv_kernels_avx2();
#endif
// AVX-512 machines use the AVX2 table (these shapes are too small for 16-lane vectors to pay).
#if defined(CONVLITE_HAVE_AVX2)
// Unit pixel stride (a_stride == 1) kernels of the AVX2 table (smallconv_unit_avx2.cpp); false when the call
// does not fit them (the general kernel then runs).
bool smallconv_unit_forward_avx2(const SmallConvArgs& p);
bool smallconv_unit_weight_grad_avx2(const SmallConvArgs& p);
// Unit pixel stride with F <= 6 filters, pixels in the lanes (smallconv_pixels_avx2.cpp); false when the call
// does not fit it.
bool smallconv_pixels_forward_avx2(const SmallConvArgs& p);
#endif

}  // namespace convlite
