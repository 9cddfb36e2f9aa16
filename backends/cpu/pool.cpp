// CPU backend, issue 10: MaxPool1d's forward and its backward (scatter_add along the last dim),
// AdaptiveAvgPool1d's forward and backward, on rows with a unit last-dim stride, float32/float64: the reference's loops
// (backends/reference/pool1d.cpp, indexing.cpp) over raw row pointers instead of 3-d index
// arithmetic, threaded over the rows. Max and a scatter of sums in row order round nothing
// differently, so results equal the reference bit for bit, at any thread count.
//
// scatter_add: only the [N, C, L] case MaxPool1d's backward makes (rank 3, dim 2, index and
// source of one shape, all last-dim strides 1); the indices are checked first, and a call
// with one out of range goes whole to the reference, which raises its error.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends {

namespace {

constexpr std::int64_t kPoolGrain = 16384;  // elements per task

bool rows_unit(const View& v) { return v.shape.size() == 3 && (v.shape[2] <= 1 || v.strides[2] == 1); }

template <class T>
void max_pool_rows(const View& out, const View& indices, const View& in, const Pool1dParams& p,
                   std::int64_t r0, std::int64_t r1) {
  const std::int64_t c = in.shape[1], length = in.shape[2], lout = out.shape[2];
  const bool want_idx = indices.data != nullptr;
  // Row r is (n, ch) = (r / c, r % c), advanced without a division per row (an idiv per
  // row of 7-28 elements was a third of the time).
  for (std::int64_t r = r0, n = r0 / c, ch = r0 % c; r < r1;
       ++r, ch = ch + 1 == c ? 0 : ch + 1, n += ch == 0) {
    const T* x = in.ptr<const T>() + n * in.strides[0] + ch * in.strides[1];
    T* y = out.ptr<T>() + n * out.strides[0] + ch * out.strides[1];
    std::int64_t* ix = want_idx ? indices.ptr<std::int64_t>() + n * indices.strides[0] +
                                      ch * indices.strides[1]
                                : nullptr;
    const std::int64_t ys = out.strides[2], is = want_idx ? indices.strides[2] : 0;
    if (p.kernel_size == 2 && p.stride == 2 && p.padding == 0 && p.dilation == 1 &&
        2 * lout <= length) {
      // MaxPool1d(2): both positions inside the row. The scan's first step always leaves
      // x[2t] (-inf stays -inf), the second takes x[2t + 1] when greater or NaN: selects, not
      // branches (random data would mispredict half of them).
      if (ix && ys == 1 && is == 1) {
        // Unit-stride outputs: no stride multiplies or null test in the loop, which GCC then
        // vectorizes (in part), storing wider. bench_fmnist_step's MaxPool1d forward went from
        // 0.48 to 0.10 ms at [128, 64, 28] with this branch: the stores were the cost (their
        // lines are rarely cached: the step's activations outgrow L2).
        for (std::int64_t t = 0; t < lout; ++t) {
          const T a = x[2 * t], b = x[2 * t + 1];
          const bool take = (b > a) | (b != b);
          y[t] = take ? b : a;
          ix[t] = 2 * t + static_cast<std::int64_t>(take);
        }
        continue;
      }
      for (std::int64_t t = 0; t < lout; ++t) {
        const T a = x[2 * t], b = x[2 * t + 1];
        const bool take = (b > a) | (b != b);  // no short circuit: no branch
        y[t * ys] = take ? b : a;
        if (ix) ix[t * is] = 2 * t + static_cast<std::int64_t>(take);
      }
      continue;
    }
    for (std::int64_t t = 0; t < lout; ++t) {
      std::int64_t first = t * p.stride - p.padding;
      const std::int64_t end = std::min(first + (p.kernel_size - 1) * p.dilation + 1, length);
      while (first < 0) first += p.dilation;
      T best = -std::numeric_limits<T>::infinity();
      std::int64_t where = first;
      for (std::int64_t i = first; i < end; i += p.dilation) {
        const T v = x[i];
        if (v > best || std::isnan(v)) {
          best = v;
          where = i;
        }
      }
      y[t * ys] = best;
      if (ix) ix[t * is] = where;
    }
  }
}

// AdaptiveAvgPool1d's windows (the reference's adaptive_start / adaptive_end).
std::int64_t window_lo(std::int64_t t, std::int64_t out, std::int64_t in) { return (t * in) / out; }
std::int64_t window_hi(std::int64_t t, std::int64_t out, std::int64_t in) {
  return ((t + 1) * in + out - 1) / out;
}

// The reference's adaptive average loops on row pointers: the sum in double (float32) or
// double, in position order; the backward zeroes the row, then adds each window's share.
template <class T>
void adaptive_avg_rows(const View& out, const View& in, std::int64_t r0, std::int64_t r1) {
  const std::int64_t c = in.shape[1], length = in.shape[2], lout = out.shape[2];
  // Row r is (n, ch) = (r / c, r % c), advanced without a division per row (an idiv per
  // row of 7-28 elements was a third of the time).
  for (std::int64_t r = r0, n = r0 / c, ch = r0 % c; r < r1;
       ++r, ch = ch + 1 == c ? 0 : ch + 1, n += ch == 0) {
    const T* x = in.ptr<const T>() + n * in.strides[0] + ch * in.strides[1];
    T* y = out.ptr<T>() + n * out.strides[0] + ch * out.strides[1];
    for (std::int64_t t = 0; t < lout; ++t) {
      const std::int64_t lo = window_lo(t, lout, length), hi = window_hi(t, lout, length);
      double acc = 0.0;
      for (std::int64_t i = lo; i < hi; ++i) acc += static_cast<double>(x[i]);
      y[t * out.strides[2]] = static_cast<T>(acc / static_cast<double>(hi - lo));
    }
  }
}

template <class T>
void adaptive_avg_backward_rows(const View& grad_in, const View& grad_out, std::int64_t r0,
                                std::int64_t r1) {
  const std::int64_t c = grad_in.shape[1], length = grad_in.shape[2], lout = grad_out.shape[2];
  // Row r is (n, ch) = (r / c, r % c), advanced without a division per row (an idiv per
  // row of 7-28 elements was a third of the time).
  for (std::int64_t r = r0, n = r0 / c, ch = r0 % c; r < r1;
       ++r, ch = ch + 1 == c ? 0 : ch + 1, n += ch == 0) {
    const T* gy = grad_out.ptr<const T>() + n * grad_out.strides[0] + ch * grad_out.strides[1];
    T* gx = grad_in.ptr<T>() + n * grad_in.strides[0] + ch * grad_in.strides[1];
    if (lout == 1) {  // the global pool: one share, zero plus it (a -0 share gives +0, as there)
      const T v = T(0) + gy[0] / static_cast<T>(length);
      for (std::int64_t i = 0; i < length; ++i) gx[i] = v;
      continue;
    }
    for (std::int64_t i = 0; i < length; ++i) gx[i] = T(0);
    for (std::int64_t t = 0; t < lout; ++t) {
      const std::int64_t lo = window_lo(t, lout, length), hi = window_hi(t, lout, length);
      const T share = gy[t * grad_out.strides[2]] / static_cast<T>(hi - lo);
      for (std::int64_t i = lo; i < hi; ++i) gx[i] += share;
    }
  }
}

// [N, C, L] and [N, C, Lout] of one float dtype, the L side with unit stride: what the
// reference would accept without raising (else the caller leaves the call to it).
bool adaptive_ok(const View& wide, const View& narrow) {
  return (wide.dtype == kFloat32 || wide.dtype == kFloat64) && narrow.dtype == wide.dtype &&
         rows_unit(wide) && narrow.shape.size() == 3 && narrow.shape[0] == wide.shape[0] &&
         narrow.shape[1] == wide.shape[1] && narrow.shape[2] >= 0 && wide.shape[2] > 0;
}

}  // namespace

namespace cpu {

bool adaptive_avg_pool1d_fast(const View& out, const View& in) {
  if (!adaptive_ok(in, out)) return false;
  const std::int64_t rows = in.shape[0] * in.shape[1];
  parallel_for(0, rows, std::max<std::int64_t>(1, kPoolGrain / (in.shape[2] + out.shape[2] + 1)),
               [&](std::int64_t r0, std::int64_t r1) {
                 if (in.dtype == kFloat32) adaptive_avg_rows<float>(out, in, r0, r1);
                 else adaptive_avg_rows<double>(out, in, r0, r1);
               });
  return true;
}

bool adaptive_avg_pool1d_backward_fast(const View& grad_in, const View& grad_out) {
  if (!adaptive_ok(grad_in, grad_out)) return false;
  const std::int64_t rows = grad_in.shape[0] * grad_in.shape[1];
  parallel_for(0, rows,
               std::max<std::int64_t>(1, kPoolGrain / (grad_in.shape[2] + grad_out.shape[2] + 1)),
               [&](std::int64_t r0, std::int64_t r1) {
                 if (grad_in.dtype == kFloat32)
                   adaptive_avg_backward_rows<float>(grad_in, grad_out, r0, r1);
                 else
                   adaptive_avg_backward_rows<double>(grad_in, grad_out, r0, r1);
               });
  return true;
}

bool max_pool1d_fast(const View& out, const View& indices, const View& in, const Pool1dParams& p) {
  if ((in.dtype != kFloat32 && in.dtype != kFloat64) || !rows_unit(in) ||
      out.shape.size() != 3 || out.dtype != in.dtype || out.shape[0] != in.shape[0] ||
      out.shape[1] != in.shape[1] ||
      (indices.data != nullptr && (indices.dtype != kInt64 || indices.shape != out.shape)) ||
      p.kernel_size < 1 || p.stride < 1 || p.dilation < 1 || p.padding < 0) {
    return false;
  }
  const std::int64_t lout = p.out_length(in.shape[2], "max_pool1d");
  if (out.shape[2] != lout) return false;  // the reference raises
  const std::int64_t rows = in.shape[0] * in.shape[1];
  const std::int64_t per_row = std::max<std::int64_t>(1, in.shape[2] + lout);
  parallel_for(0, rows, std::max<std::int64_t>(1, kPoolGrain / per_row),
               [&](std::int64_t r0, std::int64_t r1) {
                 if (in.dtype == kFloat32) max_pool_rows<float>(out, indices, in, p, r0, r1);
                 else max_pool_rows<double>(out, indices, in, p, r0, r1);
               });
  return true;
}

bool scatter_add_last_fast(const View& out, int dim, const View& index, const View& src) {
  if (dim != 2 || (out.dtype != kFloat32 && out.dtype != kFloat64) || src.dtype != out.dtype ||
      index.dtype != kInt64 || !rows_unit(out) || !rows_unit(index) || !rows_unit(src) ||
      index.shape != src.shape || index.shape[0] > out.shape[0] ||
      index.shape[1] > out.shape[1]) {
    return false;
  }
  const std::int64_t c = index.shape[1], len = index.shape[2], size = out.shape[2];
  const std::int64_t rows = index.shape[0] * c;
  auto row_index = [&](std::int64_t n, std::int64_t ch) {
    return index.ptr<const std::int64_t>() + n * index.strides[0] + ch * index.strides[1];
  };
  // Every index inside [0, size) first: a bad one leaves the call to the reference's error.
  for (std::int64_t n = 0; n < index.shape[0]; ++n) {
    for (std::int64_t ch = 0; ch < c; ++ch) {
      const std::int64_t* ix = row_index(n, ch);
      for (std::int64_t t = 0; t < len; ++t)
        if (ix[t] < 0 || ix[t] >= size) return false;
    }
  }
  parallel_for(0, rows, std::max<std::int64_t>(1, kPoolGrain / std::max<std::int64_t>(1, len)),
               [&](std::int64_t r0, std::int64_t r1) {
                 auto run = [&]<class T>() {
                   for (std::int64_t r = r0, n = r0 / c, ch = r0 % c; r < r1;
                        ++r, ch = ch + 1 == c ? 0 : ch + 1, n += ch == 0) {
                     const std::int64_t* ix = row_index(n, ch);
                     const T* s = src.ptr<const T>() + n * src.strides[0] + ch * src.strides[1];
                     T* d = out.ptr<T>() + n * out.strides[0] + ch * out.strides[1];
                     for (std::int64_t t = 0; t < len; ++t) d[ix[t]] += s[t];
                   }
                 };
                 if (out.dtype == kFloat32) run.template operator()<float>();
                 else run.template operator()<double>();
               });
  return true;
}

}  // namespace cpu

}  // namespace reel::backends
