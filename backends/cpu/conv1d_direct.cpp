// conv1d computed tap by tap, for depthwise convolutions (one input channel per group, any
// channel multiplier). There a gemm would have a single row, and the work is memory-bound:
// each output row is a few shifted, scaled copies of one input row,
//
//   y[n][co][t] = bias[co] + sum_{j, k} w[co][j][k] * x[n][g*Cin/G + j][t*stride + offset(k)],
//
// so each (j, k) term is one SIMD axpy over the output positions whose tap is inside the
// input (zero padding = the range of t; nothing is copied). Rows are processed in blocks of
// kBlock positions so the row being accumulated stays in L1. The backward passes are the same
// sums read the other way: backward_input is the transposed axpy (grad_x[t*stride + offset(k)]
// += w * grad_y[t]), backward_weight one dot product per (co, j, k) and sample.
//
// Stride > 1: positions t*stride + offset(k) are not contiguous. Splitting the input row into
// `stride` phases, phase[r][m] = x[m*stride + r], makes them so: with offset(k) = q*stride + r
// (floor division), tap k at t reads phase[r][t + q]. backward_input accumulates into phases
// and interleaves them back once.
//
// Correct for any groups (j runs over the group's input channels); chosen for depthwise
// convolutions with few outputs per group or a short kernel (conv1d.cpp, choose).
// Rows: where every tap reads inside the input (all but the edges), all taps of a vector of
// outputs are summed in registers and the row is written once (taps_kernel), with non-temporal
// stores when the output is larger than twice the L3; the edges go tap by tap. backward_input
// for stride 1 is such a sum too, over grad_out.
//
// Threads: over (sample, group) for forward and backward_input (disjoint rows of y / grad_x),
// and for backward_weight over contiguous ranges of (sample, group) rows, each with its own
// double accumulators, added in order at the end (one reduction).
#include <algorithm>
#include <atomic>
#include <vector>

#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/cpu_features.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

constexpr std::int64_t kBlock = 2048;          // output positions accumulated at a time
constexpr std::int64_t kTaskElements = 1 << 15;  // fewest multiply-adds worth a task

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::int64_t task_grain(std::int64_t work_per_item) {
  return std::max<std::int64_t>(1, kTaskElements / std::max<std::int64_t>(1, work_per_item));
}

// Where tap k reads: for stride 1 the input row itself at t + offset(k); otherwise phase r of
// the split row at t + q.
struct Tap {
  std::int64_t phase;  // r
  std::int64_t shift;  // offset(k) for stride 1, q otherwise
};
Tap tap(const Conv1dProblem& c, std::int64_t k) {
  const std::int64_t off = c.offset(k);
  if (c.stride == 1) return {0, off};
  const std::int64_t r = (off % c.stride + c.stride) % c.stride;
  return {r, (off - r) / c.stride};
}

// Phases of one input row of length L: phase r holds x[r], x[r + s], ... (`plen` = ceil(L / s)
// slots each; slots past the row's end are never read).
template <class T>
void split_phases(const T* row, std::int64_t length, std::int64_t s, std::int64_t plen, T* out) {
  for (std::int64_t r = 0; r < s; ++r) {
    T* dst = out + r * plen;
    for (std::int64_t m = 0; m * s + r < length; ++m) dst[m] = row[m * s + r];
  }
}

// The rows taps read for the input channels of one group: the rows themselves (stride 1) or
// their phases, staged in scratch slot `slot`. Row j's phase r starts at base + j*row_len + r*plen.
template <class T>
const T* tap_rows(const Conv1dProblem& c, const T* xg, int slot, std::int64_t& row_len,
                  std::int64_t& plen) {
  if (c.stride == 1) {
    row_len = c.length;
    plen = 0;
    return xg;
  }
  plen = ceil_div(c.length, c.stride);
  row_len = plen * c.stride;
  T* buf = scratch<T>(slot, c.in_per_group * row_len);
  for (std::int64_t j = 0; j < c.in_per_group; ++j)
    split_phases(xg + j * c.length, c.length, c.stride, plen, buf + j * row_len);
  return buf;
}

std::atomic<std::int64_t> g_stream_bytes{0};  // set_conv1d_stream_bytes; 0: the default

// Whether an output of `elements` is written with non-temporal stores: when it is too large to
// stay in the last-level cache anyway, so that caching its lines only costs reading each one
// before it is written. The line is twice the L3 (cpu_cache_sizes; 32 MiB when unknown): at
// half the L3 (a 16 MiB output here) the depthwise forward measured 1.2-1.7x slower with the
// streamed stores than without (bench_conv1d --stream-bytes, docs/benchmarks.md), its output
// being read again soon enough to profit from the cache.
template <class T>
bool stream_output(std::int64_t elements) {
  static const std::int64_t line = [] {
    const std::int64_t l3 = cpu_cache_sizes().l3;
    return (l3 > 0 ? l3 : std::int64_t{32} << 20) * 2;
  }();
  const std::int64_t forced = g_stream_bytes.load(std::memory_order_relaxed);
  return elements * static_cast<std::int64_t>(sizeof(T)) >= (forced > 0 ? forced : line);
}

}  // namespace

void set_conv1d_stream_bytes(std::int64_t bytes) {
  g_stream_bytes.store(bytes > 0 ? bytes : 0, std::memory_order_relaxed);
}

template <class T>
void conv1d_direct_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b) {
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const std::int64_t taps = c.in_per_group * c.kernel;
  // Output positions where every tap reads inside the row: one pass of the taps kernel there
  // (its sums in the same order as the per-tap axpys at the edges).
  std::int64_t inner_lo = 0, inner_hi = c.out_length;
  for (std::int64_t k = 0; k < c.kernel; ++k) {
    inner_lo = std::max(inner_lo, c.valid_lo(k));
    inner_hi = std::min(inner_hi, c.valid_hi(k));
  }
  const bool stream = stream_output<T>(c.batch * c.out_channels * c.out_length);
  parallel_for(0, c.batch * c.groups, task_grain(c.out_per_group * taps * c.out_length),
               [&](std::int64_t u0, std::int64_t u1) {
    const T** src_taps = scratch<const T*>(2, taps);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / c.groups, g = u % c.groups;
      std::int64_t row_len = 0, plen = 0;
      const T* src = tap_rows(c, x + (n * c.in_channels + g * c.in_per_group) * c.length, 0,
                              row_len, plen);
      for (std::int64_t i = 0; i < c.out_per_group; ++i) {
        const std::int64_t co = g * c.out_per_group + i;
        T* out = y + (n * c.out_channels + co) * c.out_length;
        const T* wc = w + co * taps;
        const T init = b ? b[co] : T(0);
        // Positions [a, e) tap by tap: the row's edges, where some taps read the padding.
        auto by_tap = [&](std::int64_t a, std::int64_t e) {
          std::fill(out + a, out + e, init);
          for (std::int64_t j = 0; j < c.in_per_group; ++j) {
            for (std::int64_t k = 0; k < c.kernel; ++k) {
              const std::int64_t lo = std::clamp(c.valid_lo(k), a, e);
              const std::int64_t hi = std::clamp(c.valid_hi(k), lo, e);
              if (hi == lo) continue;
              const Tap tk = tap(c, k);
              const T* in = src + j * row_len + tk.phase * plen;
              kern.axpy(hi - lo, wc[j * c.kernel + k], in + lo + tk.shift, out + lo);
            }
          }
        };
        if (inner_lo >= inner_hi) {
          by_tap(0, c.out_length);
          continue;
        }
        by_tap(0, inner_lo);
        for (std::int64_t j = 0; j < c.in_per_group; ++j) {
          for (std::int64_t k = 0; k < c.kernel; ++k) {
            const Tap tk = tap(c, k);
            src_taps[j * c.kernel + k] = src + j * row_len + tk.phase * plen + inner_lo + tk.shift;
          }
        }
        kern.taps(inner_hi - inner_lo, taps, src_taps, wc, init, out + inner_lo, stream);
        by_tap(inner_hi, c.out_length);
      }
    }
  });
}

namespace {

// backward_input's work for one (sample, group): the group's rows of grad_x.
//
// Stride 1: grad_x[s] = sum over (i, k) of w[i][k] * grad_y[i][s - offset(k)], a direct
// convolution itself; the input positions where every tap reads inside grad_y's rows go
// through the taps kernel (in the (i, k) order of the axpys at the edges). Other strides
// accumulate tap by tap into the row's phases and interleave them back.
template <class T>
class InputRows {
 public:
  InputRows(const Conv1dProblem& c, T* gx, const T* gy, const T* w)
      : c_(c), kern_(simd_kernels().get<T>()), gx_(gx), gy_(gy), w_(w) {
    inner_lo_ = 0;
    inner_hi_ = c.length;
    for (std::int64_t k = 0; k < c.kernel; ++k) {
      inner_lo_ = std::max(inner_lo_, c.offset(k));
      inner_hi_ = std::min(inner_hi_, c.offset(k) + c.out_length);
    }
    inner_ = c.stride == 1 && inner_lo_ < inner_hi_;
    stream_ = stream_output<T>(c.batch * c.in_channels * c.length);
    plen_ = c.stride == 1 ? 0 : ceil_div(c.length, c.stride);
  }

  void operator()(std::int64_t n, std::int64_t g) const {
    const Conv1dProblem& c = c_;
    const std::int64_t taps = c.in_per_group * c.kernel, n_taps = c.out_per_group * c.kernel;
    const T* gyg = gy_ + (n * c.out_channels + g * c.out_per_group) * c.out_length;
    for (std::int64_t j = 0; j < c.in_per_group; ++j) {
      T* dst_row = gx_ + (n * c.in_channels + g * c.in_per_group + j) * c.length;
      if (inner_) {
        const T** src_taps = scratch<const T*>(2, n_taps);
        T* w_taps = scratch<T>(3, n_taps);
        for (std::int64_t i = 0; i < c.out_per_group; ++i) {
          for (std::int64_t k = 0; k < c.kernel; ++k) {
            src_taps[i * c.kernel + k] = gyg + i * c.out_length + (inner_lo_ - c.offset(k));
            w_taps[i * c.kernel + k] = w_[(g * c.out_per_group + i) * taps + j * c.kernel + k];
          }
        }
        kern_.taps(inner_hi_ - inner_lo_, n_taps, src_taps, w_taps, T(0), dst_row + inner_lo_,
                   stream_);
        // The edges: grad_x positions [0, inner_lo) and [inner_hi, L) receive the taps of the
        // output positions t = s - offset(k) that reach them.
        auto edge = [&](std::int64_t s0, std::int64_t s1) {
          std::fill(dst_row + s0, dst_row + s1, T(0));
          for (std::int64_t q = 0; q < n_taps; ++q) {
            const std::int64_t off = c.offset(q % c.kernel);
            const std::int64_t lo = std::max<std::int64_t>(s0 - off, 0);
            const std::int64_t hi = std::min(s1 - off, c.out_length);
            if (lo >= hi) continue;
            kern_.axpy(hi - lo, w_taps[q], gyg + (q / c.kernel) * c.out_length + lo,
                       dst_row + lo + off);
          }
        };
        edge(0, inner_lo_);
        edge(inner_hi_, c.length);
        continue;
      }
      // Tap by tap into acc: grad_x's row itself for stride 1, its phases otherwise.
      T* acc = c.stride == 1 ? dst_row : scratch<T>(0, plen_ * c.stride);
      std::fill_n(acc, c.stride == 1 ? c.length : plen_ * c.stride, T(0));
      for (std::int64_t a = 0; a < c.out_length; a += kBlock) {
        const std::int64_t e = std::min(a + kBlock, c.out_length);
        for (std::int64_t i = 0; i < c.out_per_group; ++i) {
          const T* grad = gyg + i * c.out_length;
          const T* wc = w_ + (g * c.out_per_group + i) * taps + j * c.kernel;
          for (std::int64_t k = 0; k < c.kernel; ++k) {
            const std::int64_t lo = std::clamp(c.valid_lo(k), a, e);
            const std::int64_t hi = std::clamp(c.valid_hi(k), lo, e);
            if (hi == lo) continue;
            const Tap tk = tap(c, k);
            kern_.axpy(hi - lo, wc[k], grad + lo, acc + tk.phase * plen_ + lo + tk.shift);
          }
        }
      }
      if (c.stride == 1) continue;
      for (std::int64_t r = 0; r < c.stride; ++r)  // interleave the phases back
        for (std::int64_t m = 0; m * c.stride + r < c.length; ++m)
          dst_row[m * c.stride + r] = acc[r * plen_ + m];
    }
  }

 private:
  const Conv1dProblem& c_;
  const TypedKernels<T>& kern_;
  T* gx_;
  const T* gy_;
  const T* w_;
  std::int64_t inner_lo_, inner_hi_, plen_;
  bool inner_, stream_;
};

// backward_weight's sums: the rows (sample, group) are shared out in `parts` contiguous ranges
// (memory order, so each part streams through x and grad_out), each part adds its rows' dot
// products (one per weight: tap k's valid positions of grad_out's row times the input row) and
// grad_out's row sums (the bias) into its own accumulators, in double; store() adds the parts
// in order. The result depends on the number of parts, which is a function of the problem and
// the thread count only.
template <class T>
class WeightSums {
 public:
  WeightSums(const Conv1dProblem& c, T* gw, T* gb, const T* gy, const T* x)
      : c_(c), kern_(simd_kernels().get<T>()), gw_(gw), gb_(gb), gy_(gy), x_(x),
        taps_(c.in_per_group * c.kernel), weights_(c.out_channels * taps_) {
    const std::int64_t work = c.batch * c.out_channels * taps_ * c.out_length;
    parts_ = std::clamp<std::int64_t>(work / kTaskElements, 1, num_threads());
    parts_ = std::min(parts_, rows());
    acc_.assign(static_cast<std::size_t>(parts_ * (weights_ + c.out_channels)), 0.0);
  }

  std::int64_t parts() const { return parts_; }
  std::int64_t rows() const { return c_.batch * c_.groups; }
  std::int64_t row_begin(std::int64_t part) const { return part * rows() / parts_; }

  void add_row(std::int64_t part, std::int64_t n, std::int64_t g) {
    const Conv1dProblem& c = c_;
    double* acc = acc_.data() + part * (weights_ + c.out_channels);
    double* bias_acc = acc + weights_;
    std::int64_t row_len = 0, plen = 0;
    const T* src = tap_rows(c, x_ + (n * c.in_channels + g * c.in_per_group) * c.length, 0,
                            row_len, plen);
    for (std::int64_t i = 0; i < c.out_per_group; ++i) {
      const std::int64_t co = g * c.out_per_group + i;
      const T* grad = gy_ + (n * c.out_channels + co) * c.out_length;
      if (gb_ != nullptr) bias_acc[co] += static_cast<double>(kern_.sum(c.out_length, grad));
      for (std::int64_t j = 0; j < c.in_per_group; ++j) {
        for (std::int64_t k = 0; k < c.kernel; ++k) {
          const std::int64_t lo = c.valid_lo(k), hi = std::max(c.valid_hi(k), lo);
          if (hi == lo) continue;
          const Tap tk = tap(c, k);
          const T* in = src + j * row_len + tk.phase * plen;
          acc[co * taps_ + j * c.kernel + k] +=
              static_cast<double>(kern_.dot(hi - lo, grad + lo, in + lo + tk.shift));
        }
      }
    }
  }

  void store() const {
    const std::int64_t stride = weights_ + c_.out_channels;
    auto total = [&](std::int64_t q) {
      double sum = 0.0;
      for (std::int64_t p = 0; p < parts_; ++p) sum += acc_[static_cast<std::size_t>(p * stride + q)];
      return sum;
    };
    for (std::int64_t q = 0; q < weights_; ++q) gw_[q] = static_cast<T>(total(q));
    if (gb_ == nullptr) return;
    for (std::int64_t co = 0; co < c_.out_channels; ++co)
      gb_[co] = static_cast<T>(total(weights_ + co));
  }

 private:
  const Conv1dProblem& c_;
  const TypedKernels<T>& kern_;
  T* gw_;
  T* gb_;
  const T* gy_;
  const T* x_;
  std::int64_t taps_, weights_, parts_ = 1;
  std::vector<double> acc_;
};

// Runs row(part, n, g) for every (sample, group), each part's contiguous range on one task.
template <class T, class F>
void for_each_part(WeightSums<T>& sums, F row) {
  parallel_for(0, sums.parts(), 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t end = sums.row_begin(p + 1);
      for (std::int64_t u = sums.row_begin(p); u < end; ++u) row(p, u);
    }
  });
}

}  // namespace

template <class T>
void conv1d_direct_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w) {
  const InputRows<T> rows(c, gx, gy, w);
  const std::int64_t taps = c.in_per_group * c.kernel;
  parallel_for(0, c.batch * c.groups, task_grain(c.out_per_group * taps * c.out_length),
               [&](std::int64_t u0, std::int64_t u1) {
    for (std::int64_t u = u0; u < u1; ++u) rows(u / c.groups, u % c.groups);
  });
}

template <class T>
void conv1d_direct_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy,
                                   const T* x) {
  WeightSums<T> sums(c, gw, gb, gy, x);
  for_each_part(sums, [&](std::int64_t p, std::int64_t u) {
    sums.add_row(p, u / c.groups, u % c.groups);
  });
  sums.store();
}

#define REEL_CONV1D_DIRECT(T)                                                                  \
  template void conv1d_direct_forward<T>(const Conv1dProblem&, T*, const T*, const T*, const T*); \
  template void conv1d_direct_backward_input<T>(const Conv1dProblem&, T*, const T*, const T*);  \
  template void conv1d_direct_backward_weight<T>(const Conv1dProblem&, T*, T*, const T*,        \
                                                 const T*);
REEL_CONV1D_DIRECT(float)
REEL_CONV1D_DIRECT(double)
#undef REEL_CONV1D_DIRECT

}  // namespace reel::backends::cpu
