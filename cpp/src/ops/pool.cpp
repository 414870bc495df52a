// Pooling drivers: pick the ISA's kernel table and split output rows (or batch items) across threads.
// Backward passes write each input gradient cell in output order whatever the partition, so results are
// bit-identical for any thread count.
#include "convlite/pool.hpp"

#include <cstring>

#include "convlite/dispatch.hpp"
#include "convlite/parallel.hpp"
#include "kernels/pool_kernels.hpp"

namespace convlite {
namespace {

const PoolKernels& kernels() {
  switch (active_isa()) {
#if defined(CONVLITE_HAVE_AVX512)
    case Isa::avx512: return pool_kernels_avx512();
#endif
#if defined(CONVLITE_HAVE_AVX2)
    case Isa::avx2: return pool_kernels_avx2();
#endif
    default: return pool_kernels_scalar();
  }
}

// Windows never share an input cell: each output row owns its input rows, so threads may split output rows.
bool disjoint(const Pool2dShape& s) { return s.stride_h >= s.pool_h && s.stride_w >= s.pool_w; }

// Disjoint windows that tile the whole input (stride == pool, the last window reaching the end): the backward
// writes every input cell and needs no zeroing pass.
bool tiles_input(const Pool2dShape& s) {
  return s.stride_h == s.pool_h && s.stride_w == s.pool_w && s.pad_top == 0 && s.pad_left == 0 &&
         s.out_h * s.stride_h >= s.in_h && s.out_w * s.stride_w >= s.in_w;
}

void zero(float* p, std::int64_t rows, std::int64_t row_len) {
  parallel_for(rows, static_cast<double>(row_len), [&](std::int64_t r0, std::int64_t r1) {
    std::memset(p + r0 * row_len, 0, static_cast<size_t>((r1 - r0) * row_len) * sizeof(float));
  });
}

// Cost of one output row in bytes moved (each window cell read, each output written): pooling is memory-bound, and
// parallel_for's threshold is in bytes or FLOPs. (Counting elements kept a 6 MB pooling on one thread.) A pixel with
// fewer channels than a vector costs more than its bytes: each cell still takes a whole vector access (8 lanes on
// AVX2), plus a fixed per-pixel overhead worth about 64 bytes (measured, AVX2: the same 1.2 MB pooled at 8 channels
// took 1.45x the time of 16, at 6 channels 1.75x). Counting bytes alone kept LeNet's 64x28x28x6 average pooling
// (1.5 MB counted, 57 us) on one thread; parallel_for gives two threads from 2 MB.
double window_cost(const Pool2dShape& s) {
  constexpr std::int64_t kVectorLanes = 8, kPixelOverhead = 64;
  const std::int64_t cells = s.pool_h * s.pool_w + 1;
  if (s.channels >= kVectorLanes) return 4.0 * static_cast<double>(s.out_w * s.channels * cells) + 1.0;
  return static_cast<double>(s.out_w * (4 * kVectorLanes * cells + kPixelOverhead)) + 1.0;
}

// 2x2 windows at stride 2 that all lie inside the input: the specialised kernels apply.
bool whole_2x2_stride2(const Pool2dShape& s) {
  return s.pool_h == 2 && s.pool_w == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_top == 0 &&
         s.pad_left == 0 && 2 * s.out_h <= s.in_h && 2 * s.out_w <= s.in_w;
}

// Zeroes the input-gradient cells no 2x2 window covers (the last row and/or column of an odd-sized input) instead
// of the whole tensor: the 2x2 kernels write every covered cell. MNIST's 11x11 maps zeroed 2 MB per step for this.
void zero_uncovered_2x2(const Pool2dShape& s, float* dx) {
  const std::int64_t C = s.channels, covered_h = 2 * s.out_h, covered_w = 2 * s.out_w;
  const std::int64_t tail_w = (s.in_w - covered_w) * C;
  parallel_for(s.batch * s.in_h, static_cast<double>(s.in_w * C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      float* row = dx + r * s.in_w * C;
      if (r % s.in_h >= covered_h)
        std::memset(row, 0, static_cast<size_t>(s.in_w * C) * sizeof(float));
      else if (tail_w > 0)
        std::memset(row + covered_w * C, 0, static_cast<size_t>(tail_w) * sizeof(float));
    }
  });
}

// Runs body(r0, r1) over output rows: split by row when windows are disjoint, else by whole images.
template <class Body>
void over_output_rows(const Pool2dShape& s, bool by_row, Body&& body) {
  if (by_row) {
    parallel_for(s.batch * s.out_h, window_cost(s), body);
  } else {
    parallel_for(s.batch, window_cost(s) * static_cast<double>(s.out_h),
                 [&](std::int64_t b0, std::int64_t b1) { body(b0 * s.out_h, b1 * s.out_h); });
  }
}

}  // namespace

void max_pool2d_forward(const Pool2dShape& s, const float* x, float* y, std::int32_t* argmax) {
  const auto& k = kernels();
  const auto forward = whole_2x2_stride2(s) ? k.max_forward_2x2 : k.max_forward;
  parallel_for(s.batch * s.out_h, window_cost(s),
               [&](std::int64_t r0, std::int64_t r1) { forward(s, x, y, argmax, r0, r1); });
}

void max_pool2d_backward(const Pool2dShape& s, const std::int32_t* argmax, const float* dy, float* dx) {
  const auto& k = kernels();
  if (whole_2x2_stride2(s)) {
    if (!tiles_input(s)) zero_uncovered_2x2(s, dx);
    parallel_for(s.batch * s.out_h, window_cost(s),
                 [&](std::int64_t r0, std::int64_t r1) { k.max_backward_2x2(s, argmax, dy, dx, r0, r1); });
    return;
  }
  if (!tiles_input(s)) zero(dx, s.batch * s.in_h, s.in_w * s.channels);
  if (disjoint(s)) {
    over_output_rows(s, true, [&](std::int64_t r0, std::int64_t r1) {
      k.max_backward_disjoint(s, argmax, dy, dx, r0, r1);
    });
    return;
  }
  // Overlapping windows: scatter-add each output's gradient to its winner, image by image.
  const std::int64_t C = s.channels, out_pixels = s.out_h * s.out_w, in_pixels = s.in_h * s.in_w;
  parallel_for(s.batch, static_cast<double>(out_pixels * C), [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int32_t* a = argmax + b * out_pixels * C;
      const float* g = dy + b * out_pixels * C;
      float* d = dx + b * in_pixels * C;
      for (std::int64_t o = 0; o < out_pixels; ++o)
        for (std::int64_t c = 0; c < C; ++c) d[a[o * C + c] * C + c] += g[o * C + c];
    }
  });
}

bool max_pool2d_window_code_applies(const Pool2dShape& s) { return whole_2x2_stride2(s); }

void max_pool2d_forward_code(const Pool2dShape& s, const float* x, float* y, std::uint8_t* code) {
  const auto& k = kernels();
  parallel_for(s.batch * s.out_h, window_cost(s),
               [&](std::int64_t r0, std::int64_t r1) { k.max_forward_2x2_code(s, x, y, code, r0, r1); });
}

void max_pool2d_backward_code(const Pool2dShape& s, const std::uint8_t* code, const float* dy, float* dx,
                              const float* relu_y) {
  const auto& k = kernels();
  if (!tiles_input(s)) zero_uncovered_2x2(s, dx);
  parallel_for(s.batch * s.out_h, window_cost(s),
               [&](std::int64_t r0, std::int64_t r1) { k.max_backward_2x2_code(s, code, dy, relu_y, dx, r0, r1); });
}

void avg_pool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const auto& k = kernels();
  const auto forward = whole_2x2_stride2(s) ? k.avg_forward_2x2 : k.avg_forward;
  parallel_for(s.batch * s.out_h, window_cost(s),
               [&](std::int64_t r0, std::int64_t r1) { forward(s, x, y, r0, r1); });
}

void avg_pool2d_backward(const Pool2dShape& s, const float* dy, float* dx) {
  const auto& k = kernels();
  if (whole_2x2_stride2(s)) {
    if (!tiles_input(s)) zero_uncovered_2x2(s, dx);
    parallel_for(s.batch * s.out_h, window_cost(s),
                 [&](std::int64_t r0, std::int64_t r1) { k.avg_backward_2x2(s, dy, dx, r0, r1); });
    return;
  }
  if (!tiles_input(s)) zero(dx, s.batch * s.in_h, s.in_w * s.channels);
  const bool by_row = disjoint(s);
  over_output_rows(s, by_row, [&](std::int64_t r0, std::int64_t r1) { k.avg_backward(s, dy, dx, r0, r1, !by_row); });
}

void global_avg_pool_forward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const float* x,
                             float* y) {
  const auto& k = kernels();
  if (spatial <= 0) return;
  // Cost in bytes read, as the windowed kernels count it (elements kept an 8x56x56x64 pooling on one thread).
  parallel_for(batch, 4.0 * static_cast<double>(spatial * channels), [&](std::int64_t b0, std::int64_t b1) {
    k.global_avg_forward(b0, b1, spatial, channels, x, y);
  });
}

void global_avg_pool_backward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const float* dy,
                              float* dx) {
  const float n = static_cast<float>(spatial);
  parallel_for(batch, static_cast<double>(spatial * channels), [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b)
      for (std::int64_t i = 0; i < spatial; ++i) {
        float* d = dx + (b * spatial + i) * channels;
        const float* g = dy + b * channels;
        for (std::int64_t c = 0; c < channels; ++c) d[c] = g[c] / n;
      }
  });
}

void global_max_pool_forward(std::int64_t batch, std::int64_t spatial, std::int64_t channels, const float* x,
                             float* y, std::int32_t* argmax) {
  const auto& k = kernels();
  if (spatial <= 0) return;
  parallel_for(batch, static_cast<double>(spatial * channels), [&](std::int64_t b0, std::int64_t b1) {
    k.global_max_forward(b0, b1, spatial, channels, x, y, argmax);
  });
}

void global_max_pool_backward(std::int64_t batch, std::int64_t spatial, std::int64_t channels,
                              const std::int32_t* argmax, const float* dy, float* dx) {
  zero(dx, batch * spatial, channels);
  parallel_for(batch, static_cast<double>(channels), [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b)
      for (std::int64_t c = 0; c < channels; ++c)
        dx[(b * spatial + argmax[b * channels + c]) * channels + c] = dy[b * channels + c];
  });
}

}  // namespace convlite
