// CUDA kernels for the 1-D pools over [N, C, L] views with any strides (the host side, pool.cpp,
// hands over the extents and strides; Backend's entry points have checked the views and the
// geometry). The windows, the NaN rule, the tie-breaking and the accumulation types are the
// reference backend's (backends/reference/pool1d.cpp), so the results agree to the last bit:
//
// - max pools: one thread per output element scans its window in ascending position, keeping
//   the first strict maximum; any NaN replaces the running value (the last NaN wins, as ATen's
//   `val > maxval || isnan(val)`). The running value starts at -inf with the first valid
//   position as its index, so a window of -inf reports its first valid position.
// - avg pools: one thread per output element sums its window in ascending position in acc_t
//   (double for float32 and the 16-bit types) and divides there; a 16-bit result is rounded
//   through float32, which is what the reference's widened float32 copies give.
// - their backward: one thread per grad_in element gathers (no atomics, a fixed order) the
//   shares grad_out[t] / divisor of the windows t that cover it, in ascending t as the
//   reference's scatter adds them, in the reference's type: T itself, float32 for the 16-bit
//   types (the reference runs on float32 copies), rounded once at the end.
//
// The 16-bit types are handled natively (widened exactly on load), so no widened copies.
#include <cuda/std/limits>

#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/pool_launch.hpp"

namespace reel::backends::cuda {

namespace {

// The element types the pools take (the op table's kFloating).
template <typename T>
inline constexpr bool kPoolType = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                                  std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Adaptive window bounds (PyTorch's start_index / end_index); out > 0.
__device__ __forceinline__ std::int64_t adaptive_start(std::int64_t t, std::int64_t out,
                                                       std::int64_t in) {
  return (t * in) / out;
}
__device__ __forceinline__ std::int64_t adaptive_end(std::int64_t t, std::int64_t out,
                                                     std::int64_t in) {
  return ((t + 1) * in + out - 1) / out;
}

// The avg window of output t: [lo, hi) inside the input and its divisor (the reference's
// avg_window; `empty` is the reference's "nothing under the window": it writes 0, and the
// backward skips it). Adaptive windows are never skipped, as in the reference.
struct AvgWindow {
  std::int64_t lo, hi, divisor;
  bool empty;
};

__device__ __forceinline__ AvgWindow avg_window(std::int64_t t, const PoolRows& g,
                                                const PoolWindow& w) {
  if (w.adaptive) {
    const std::int64_t lo = adaptive_start(t, g.out_length, g.in_length);
    const std::int64_t hi = adaptive_end(t, g.out_length, g.in_length);
    return {lo, hi, hi - lo, false};
  }
  std::int64_t start = t * w.stride - w.padding;
  std::int64_t end = start + w.kernel_size;
  if (end > g.in_length + w.padding) end = g.in_length + w.padding;
  const std::int64_t pool_size = end - start;
  if (start < 0) start = 0;
  if (end > g.in_length) end = g.in_length;
  return {start, end, w.count_include_pad ? pool_size : end - start, start >= end};
}

// Linear index e over [N, C, len] -> (n, c, position).
struct Pos {
  std::int64_t n, c, l;
};
__device__ __forceinline__ Pos pos_of(std::int64_t e, std::int64_t channels, std::int64_t len) {
  const std::int64_t l = e % len;
  const std::int64_t rest = e / len;
  return {rest / channels, rest % channels, l};
}

__device__ __forceinline__ std::int64_t offset(const std::int64_t (&strides)[3], const Pos& p) {
  return p.n * strides[0] + p.c * strides[1] + p.l * strides[2];
}

template <typename T>
__global__ void max_pool1d_kernel(PoolRows g, PoolWindow w, std::int64_t n, T* out,
                                  std::int64_t* indices, const T* in) {
  using O = math::opmath_t<T>;  // comparisons of widened values: exact
  for (std::int64_t e = grid_start<std::int64_t>(); e < n; e += grid_step<std::int64_t>()) {
    const Pos p = pos_of(e, g.channels, g.out_length);
    std::int64_t first, end, step;
    if (w.adaptive) {
      first = adaptive_start(p.l, g.out_length, g.in_length);
      end = adaptive_end(p.l, g.out_length, g.in_length);
      step = 1;
    } else {
      first = p.l * w.stride - w.padding;
      end = first + (w.kernel_size - 1) * w.dilation + 1;
      if (end > g.in_length) end = g.in_length;
      while (first < 0) first += w.dilation;  // padding never wins
      step = w.dilation;
    }
    const T* row = in + p.n * g.in_strides[0] + p.c * g.in_strides[1];
    O best = -::cuda::std::numeric_limits<O>::infinity();
    std::int64_t where = first;
    for (std::int64_t i = first; i < end; i += step) {
      const O v = math::widen(row[i * g.in_strides[2]]);
      if (v > best || math::is_nan(v)) {
        best = v;
        where = i;
      }
    }
    out[offset(g.out_strides, p)] = math::cast_value<T>(best);  // exact: a widened T or -inf
    if (indices != nullptr) indices[offset(g.index_strides, p)] = where;
  }
}

template <typename T>
__global__ void avg_pool1d_kernel(PoolRows g, PoolWindow w, std::int64_t n, T* out,
                                  const T* in) {
  using A = acc_t<T>;
  for (std::int64_t e = grid_start<std::int64_t>(); e < n; e += grid_step<std::int64_t>()) {
    const Pos p = pos_of(e, g.channels, g.out_length);
    const AvgWindow win = avg_window(p.l, g, w);
    T result = math::cast_value<T>(0);
    if (!win.empty) {
      const T* row = in + p.n * g.in_strides[0] + p.c * g.in_strides[1];
      A acc = A(0);
      for (std::int64_t i = win.lo; i < win.hi; ++i) {
        acc = acc + math::cast_value<A>(row[i * g.in_strides[2]]);
      }
      // cast_value rounds a 16-bit result through float32, as the reference's float32 copy.
      result = math::cast_value<T>(acc / static_cast<A>(win.divisor));
    }
    out[offset(g.out_strides, p)] = result;
  }
}

// Over grad_in's elements: g.in_* is grad_in (written), g.out_* grad_out (read).
template <typename T>
__global__ void avg_pool1d_backward_kernel(PoolRows g, PoolWindow w, std::int64_t n, T* grad_in,
                                           const T* grad_out) {
  using O = math::opmath_t<T>;  // the reference's T on its float32 copies of 16-bit views
  const std::int64_t lout = g.out_length;
  for (std::int64_t e = grid_start<std::int64_t>(); e < n; e += grid_step<std::int64_t>()) {
    const Pos p = pos_of(e, g.channels, g.in_length);
    const std::int64_t i = p.l;
    // A range of t holding every window that covers i (each is tested below, so a range one
    // wider than needed on either side costs nothing but a test).
    std::int64_t t_lo, t_hi;
    if (w.adaptive) {
      // start(t) <= i  <=>  t * L < (i + 1) * Lout;  end(t) > i  <=>  (t + 1) * L > i * Lout.
      t_lo = (i * lout) / g.in_length - 1;
      t_hi = ((i + 1) * lout - 1) / g.in_length + 1;
    } else {
      // t*stride - padding <= i  and  t*stride - padding + kernel_size > i.
      const std::int64_t below = i + w.padding - w.kernel_size;
      t_lo = below < 0 ? 0 : below / w.stride;
      t_hi = (i + w.padding) / w.stride + 1;
    }
    if (t_lo < 0) t_lo = 0;
    if (t_hi > lout - 1) t_hi = lout - 1;
    const T* row = grad_out + p.n * g.out_strides[0] + p.c * g.out_strides[1];
    O acc = O(0);
    for (std::int64_t t = t_lo; t <= t_hi; ++t) {
      const AvgWindow win = avg_window(t, g, w);
      if (win.empty || i < win.lo || i >= win.hi) continue;
      acc = acc + math::widen(row[t * g.out_strides[2]]) / static_cast<O>(win.divisor);
    }
    grad_in[offset(g.in_strides, p)] = math::cast_value<T>(acc);
  }
}

// Calls f(tag) for the pools' element types; any other dtype is refused.
template <typename F>
cudaError_t visit_pool(DType type, F&& f) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (kPoolType<T>) {
      return f(tag);
    } else {
      return cudaErrorNotSupported;  // the op table accepts floating dtypes only
    }
  });
}

}  // namespace

cudaError_t launch_max_pool1d(DType type, void* out, std::int64_t* indices, const void* in,
                              const PoolRows& g, const PoolWindow& w, cudaStream_t stream) {
  const std::int64_t n = g.batch * g.channels * g.out_length;
  if (n == 0) return cudaSuccess;
  return visit_pool(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_pool1d_kernel<T><<<grid_for(n), kThreadsPerBlock, 0, stream>>>(
        g, w, n, static_cast<T*>(out), indices, static_cast<const T*>(in));
    return cudaGetLastError();
  });
}

cudaError_t launch_avg_pool1d(DType type, void* out, const void* in, const PoolRows& g,
                              const PoolWindow& w, cudaStream_t stream) {
  const std::int64_t n = g.batch * g.channels * g.out_length;
  if (n == 0) return cudaSuccess;
  return visit_pool(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_pool1d_kernel<T><<<grid_for(n), kThreadsPerBlock, 0, stream>>>(
        g, w, n, static_cast<T*>(out), static_cast<const T*>(in));
    return cudaGetLastError();
  });
}

cudaError_t launch_avg_pool1d_backward(DType type, void* grad_in, const void* grad_out,
                                       const PoolRows& g, const PoolWindow& w,
                                       cudaStream_t stream) {
  const std::int64_t n = g.batch * g.channels * g.in_length;
  if (n == 0) return cudaSuccess;
  return visit_pool(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    avg_pool1d_backward_kernel<T><<<grid_for(n), kThreadsPerBlock, 0, stream>>>(
        g, w, n, static_cast<T*>(grad_in), static_cast<const T*>(grad_out));
    return cudaGetLastError();
  });
}

}  // namespace reel::backends::cuda
