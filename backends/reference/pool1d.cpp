// --- pooling (issue 7) ---
// Reference backend, 1-D pooling over the last dim of [N, C, L] views: the loops as PyTorch's
// CPU kernels define them, written to be read (the oracle for any fast kernel).
//
// max_pool1d: window t covers positions t*stride - padding + j*dilation, j < kernel_size; the
//   positions outside [0, L) are skipped (padding never wins). The scan keeps the first strict
//   maximum, and any NaN replaces the running value (so the last NaN of a window is reported,
//   as ATen's `val > maxval || isnan(val)`); the running value starts at -inf with the first
//   valid position as its index, so a window of -inf reports its first valid position.
// avg_pool1d: window [start, end) with start = t*stride - padding, end = min(start + K,
//   L + padding); the divisor is end - start (count_include_pad, which counts the padding but
//   not what lies past it: a ceil_mode window running off the padded input is cut) or the
//   number of positions inside [0, L) (count_include_pad = false); the sum runs over the latter.
// adaptive pools: window [floor(t*L/Lout), ceil((t+1)*L/Lout)).
// The avg backwards spread each grad_out[t] / divisor over its window (a gather per input
// position would need the inverse map; the scatter is the formula itself).
#include <cmath>
#include <limits>

#include "backends/reference/array3.hpp"
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace {

using reference::acc_t;
using reference::cast_value;

using reference::Array3;

// Adaptive window bounds (PyTorch's start_index / end_index).
std::int64_t adaptive_start(std::int64_t t, std::int64_t out, std::int64_t in) {
  return (t * in) / out;
}
std::int64_t adaptive_end(std::int64_t t, std::int64_t out, std::int64_t in) {
  return ((t + 1) * in + out - 1) / out;
}

// One max scan over positions first, first + step, ... < end (all inside [0, L)).
template <typename T>
void max_scan(const Array3<const T>& x, std::int64_t n, std::int64_t c, std::int64_t first,
              std::int64_t end, std::int64_t step, T& best, std::int64_t& where) {
  best = -std::numeric_limits<T>::infinity();
  where = first;
  for (std::int64_t i = first; i < end; i += step) {
    const T v = x(n, c, i);
    if (v > best || std::isnan(v)) {
      best = v;
      where = i;
    }
  }
}

template <typename T>
void max_pool_loops(const View& out, const View& indices, const View& in, const Pool1dParams& p) {
  const Array3<const T> x(in);
  const Array3<T> y(out);
  const bool want_idx = indices.data != nullptr;
  const std::int64_t length = in.shape[2];
  for (std::int64_t n = 0; n < out.shape[0]; ++n) {
    for (std::int64_t c = 0; c < out.shape[1]; ++c) {
      for (std::int64_t t = 0; t < out.shape[2]; ++t) {
        std::int64_t first = t * p.stride - p.padding;
        const std::int64_t end = std::min(first + (p.kernel_size - 1) * p.dilation + 1, length);
        while (first < 0) first += p.dilation;
        T best;
        std::int64_t where;
        max_scan(x, n, c, first, end, p.dilation, best, where);
        y(n, c, t) = best;
        if (want_idx) {
          const Array3<std::int64_t> ix(indices);
          ix(n, c, t) = where;
        }
      }
    }
  }
}

template <typename T>
void adaptive_max_loops(const View& out, const View& indices, const View& in) {
  const Array3<const T> x(in);
  const Array3<T> y(out);
  const bool want_idx = indices.data != nullptr;
  const std::int64_t length = in.shape[2], lout = out.shape[2];
  for (std::int64_t n = 0; n < out.shape[0]; ++n) {
    for (std::int64_t c = 0; c < out.shape[1]; ++c) {
      for (std::int64_t t = 0; t < lout; ++t) {
        T best;
        std::int64_t where;
        max_scan(x, n, c, adaptive_start(t, lout, length), adaptive_end(t, lout, length), 1,
                 best, where);
        y(n, c, t) = best;
        if (want_idx) {
          const Array3<std::int64_t> ix(indices);
          ix(n, c, t) = where;
        }
      }
    }
  }
}

// The window of avg_pool1d's output t: [lo, hi) inside the input, and its divisor.
struct AvgWindow {
  std::int64_t lo, hi, divisor;
};
AvgWindow avg_window(std::int64_t t, std::int64_t length, const Pool1dParams& p) {
  std::int64_t start = t * p.stride - p.padding;
  std::int64_t end = std::min(start + p.kernel_size, length + p.padding);
  const std::int64_t pool_size = end - start;
  start = std::max<std::int64_t>(start, 0);
  end = std::min(end, length);
  return {start, end, p.count_include_pad ? pool_size : end - start};
}

template <typename T>
void avg_pool_loops(const View& out, const View& in, const Pool1dParams& p) {
  using A = acc_t<T>;
  const Array3<const T> x(in);
  const Array3<T> y(out);
  for (std::int64_t n = 0; n < out.shape[0]; ++n) {
    for (std::int64_t c = 0; c < out.shape[1]; ++c) {
      for (std::int64_t t = 0; t < out.shape[2]; ++t) {
        const AvgWindow w = avg_window(t, in.shape[2], p);
        if (w.lo >= w.hi) {  // nothing of the input under the window (PyTorch writes 0)
          y(n, c, t) = T(0);
          continue;
        }
        A acc = A(0);
        for (std::int64_t i = w.lo; i < w.hi; ++i) acc += cast_value<A>(x(n, c, i));
        y(n, c, t) = cast_value<T>(acc / static_cast<A>(w.divisor));
      }
    }
  }
}

template <typename T>
void avg_pool_backward_loops(const View& grad_in, const View& grad_out, const Pool1dParams& p) {
  const Array3<const T> gy(grad_out);
  const Array3<T> gx(grad_in);
  for (std::int64_t n = 0; n < grad_in.shape[0]; ++n) {
    for (std::int64_t c = 0; c < grad_in.shape[1]; ++c) {
      for (std::int64_t i = 0; i < grad_in.shape[2]; ++i) gx(n, c, i) = T(0);
      for (std::int64_t t = 0; t < grad_out.shape[2]; ++t) {
        const AvgWindow w = avg_window(t, grad_in.shape[2], p);
        if (w.lo >= w.hi) continue;
        const T share = gy(n, c, t) / static_cast<T>(w.divisor);
        for (std::int64_t i = w.lo; i < w.hi; ++i) gx(n, c, i) += share;
      }
    }
  }
}

template <typename T>
void adaptive_avg_loops(const View& out, const View& in) {
  using A = acc_t<T>;
  const Array3<const T> x(in);
  const Array3<T> y(out);
  const std::int64_t length = in.shape[2], lout = out.shape[2];
  for (std::int64_t n = 0; n < out.shape[0]; ++n) {
    for (std::int64_t c = 0; c < out.shape[1]; ++c) {
      for (std::int64_t t = 0; t < lout; ++t) {
        const std::int64_t lo = adaptive_start(t, lout, length), hi = adaptive_end(t, lout, length);
        A acc = A(0);
        for (std::int64_t i = lo; i < hi; ++i) acc += cast_value<A>(x(n, c, i));
        y(n, c, t) = cast_value<T>(acc / static_cast<A>(hi - lo));
      }
    }
  }
}

template <typename T>
void adaptive_avg_backward_loops(const View& grad_in, const View& grad_out) {
  const Array3<const T> gy(grad_out);
  const Array3<T> gx(grad_in);
  const std::int64_t length = grad_in.shape[2], lout = grad_out.shape[2];
  for (std::int64_t n = 0; n < grad_in.shape[0]; ++n) {
    for (std::int64_t c = 0; c < grad_in.shape[1]; ++c) {
      for (std::int64_t i = 0; i < length; ++i) gx(n, c, i) = T(0);
      for (std::int64_t t = 0; t < lout; ++t) {
        const std::int64_t lo = adaptive_start(t, lout, length), hi = adaptive_end(t, lout, length);
        const T share = gy(n, c, t) / static_cast<T>(hi - lo);
        for (std::int64_t i = lo; i < hi; ++i) gx(n, c, i) += share;
      }
    }
  }
}

template <typename F>
void visit_floating(DType t, F&& f) {
  visit_wide_dtype(t, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) f.template operator()<T>();
  });
}

}  // namespace

void ReferenceBackend::max_pool1d_impl(const View& out, const View& indices, const View& in,
                                       const Pool1dParams& p) {
  visit_floating(in.dtype, [&]<typename T>() { max_pool_loops<T>(out, indices, in, p); });
}

void ReferenceBackend::avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p) {
  visit_floating(in.dtype, [&]<typename T>() { avg_pool_loops<T>(out, in, p); });
}

void ReferenceBackend::avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                                const Pool1dParams& p) {
  visit_floating(grad_in.dtype,
                 [&]<typename T>() { avg_pool_backward_loops<T>(grad_in, grad_out, p); });
}

void ReferenceBackend::adaptive_max_pool1d_impl(const View& out, const View& indices,
                                                const View& in) {
  visit_floating(in.dtype, [&]<typename T>() { adaptive_max_loops<T>(out, indices, in); });
}

void ReferenceBackend::adaptive_avg_pool1d_impl(const View& out, const View& in) {
  visit_floating(in.dtype, [&]<typename T>() { adaptive_avg_loops<T>(out, in); });
}

void ReferenceBackend::adaptive_avg_pool1d_backward_impl(const View& grad_in,
                                                         const View& grad_out) {
  visit_floating(grad_in.dtype,
                 [&]<typename T>() { adaptive_avg_backward_loops<T>(grad_in, grad_out); });
}

}  // namespace reel::backends
