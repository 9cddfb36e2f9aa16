// conv1d as matrix products (dense and grouped convolutions). For sample n and group g, write
// the taps of a tile of output positions [t0, t1) as a matrix, im2col:
//
//   col[j*K + k][t - t0] = x[n][g*Cin/G + j][t*stride + k*dilation - pad_left]   (0 outside [0, L))
//
// Then the three primitives are three products with W_g = weight[g*Cout/G ...], a
// (Cout/G) x (Cin/G * K) matrix:
//
//   forward          y[n][group g][t0:t1]  = W_g @ col                      (+ bias)
//   backward_input   col                   = W_g^T @ grad_y[n][group g][t0:t1], then col2im
//                                            scatter-adds col back into grad_x (taps overlap)
//   backward_weight  grad_W_g              = sum over (n, t) of grad_y[...][t] col[..][t]^T
//
// Zero padding is the zeros im2col writes (index arithmetic, no padded copy of x); groups are
// pointer offsets into the same buffers. Tiles bound col (kColBytes per thread, so no buffer
// grows with the whole problem and col is read back from L3 by the gemm's packing), but are
// kept wide: every gemm call packs the weights again, and on bench/conv1d's shapes a 4 MiB
// tile is 20-50% faster than one that fits in L2. A 1x1 convolution that reads every input
// position skips im2col: x itself is the column matrix.
//
// Threads: forward tiles are independent (disjoint outputs) and run in parallel, each thread
// with its own col buffer and a single-threaded gemm; backward_input runs in parallel over
// (sample, group), which own disjoint rows of grad_x; backward_weight splits the sum over
// (n, t) between threads, each with a private partial grad_W, added in a fixed order. When
// there is less work than threads, the loops run inline and the gemm threads itself.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/gemm.hpp"
#include "backends/cpu/gemm_bf16.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

constexpr std::int64_t kColBytes = 4 << 20;  // one im2col tile (per thread)
std::atomic<std::int64_t> g_col_bytes{kColBytes};  // set_conv1d_tile_bytes
constexpr std::int64_t kMinTile = 32;           // fewest columns worth a gemm call
constexpr std::int64_t kTaskMacs = 1 << 18;     // below: not worth a task of its own

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
constexpr std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

std::int64_t task_grain(std::int64_t macs_per_item) {
  return std::max<std::int64_t>(1, kTaskMacs / std::max<std::int64_t>(1, macs_per_item));
}

// Output positions per im2col tile: as many as fit in kColBytes, and (for `balance`) small
// enough that there are several tiles per thread when there are few samples and groups.
std::int64_t tile_width(const Conv1dProblem& c, std::int64_t rows, std::size_t elem,
                        bool balance) {
  const std::int64_t budget = g_col_bytes.load(std::memory_order_relaxed);
  std::int64_t tile = budget / (rows * static_cast<std::int64_t>(elem));
  tile = std::max(kMinTile, tile / kMinTile * kMinTile);
  const std::int64_t wanted = 4 * num_threads(), rows_of_tiles = c.batch * c.groups;
  if (balance && rows_of_tiles < wanted) {
    const std::int64_t split = ceil_div(wanted, rows_of_tiles);
    tile = std::min(tile, std::max(kMinTile, round_up(ceil_div(c.out_length, split), kMinTile)));
  }
  return std::min(tile, c.out_length);
}

// True when tap 0 of a 1x1 kernel reads a real input position for every output: x (rows L
// apart, columns `stride` apart) is then the column matrix itself.
bool pointwise(const Conv1dProblem& c) {
  return c.kernel == 1 && c.valid_lo(0) == 0 && c.valid_hi(0) == c.out_length;
}

// Strided convolutions: tap k at output t reads x[t*s + offset(k)]. With offset(k) = q*s + r
// (floor division) that is phase r of the row at t + q, where phase[r][m] = x[m*s + r]. Split
// the input window a tile reads into its phases once, and every im2col row becomes one
// contiguous copy (col2im one contiguous add) instead of a strided gather (scatter); the
// window holds zeros outside [0, L), so the padding comes for free. Worth it once the kernel
// covers the stride (each input element then lands in several rows).
struct PhaseWindow {
  std::int64_t q_min;  // floor(offset(0) / s): phase slot m0 = t0 + q_min is the window's first
  std::int64_t len;    // slots per phase
};
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return (a - ((a % b) + b) % b) / b; }
bool use_phases(const Conv1dProblem& c) { return c.stride > 1 && c.kernel >= c.stride; }
PhaseWindow phase_window(const Conv1dProblem& c, std::int64_t t0, std::int64_t t1) {
  const std::int64_t q_min = floor_div(c.offset(0), c.stride);
  const std::int64_t q_max = floor_div(c.offset(c.kernel - 1), c.stride);
  return {q_min, t1 - t0 + q_max - q_min};
}

// Copies n elements of a row (issue 10). The rows staged here are often a few dozen bytes
// (Fashion-MNIST's L 7-28: tens of thousands of rows per pass), for which a libc memmove call
// cost more than the bytes it moved (8% of that example's step in perf); short rows are copied
// inline instead. GCC's loop-distribution pass would turn the loops back into memcpy calls,
// hence the attribute.
template <class T>
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void copy_row(
    T* dst, const T* src, std::int64_t n) {
  if (n > 64) {
    std::memcpy(dst, src, sizeof(T) * static_cast<std::size_t>(n));
    return;
  }
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) __builtin_memcpy(dst + i, src + i, 4 * sizeof(T));
  for (; i < n; ++i) dst[i] = src[i];
}

// col[(j*K + k) * ld + (t - t0)] for t in [t0, t1), from xg = x[n][first channel of group].
template <class T>
void im2col(const Conv1dProblem& c, const T* xg, std::int64_t t0, std::int64_t t1, T* col,
            std::int64_t ld) {
  const std::int64_t s = c.stride;
  if (use_phases(c)) {
    const PhaseWindow win = phase_window(c, t0, t1);
    const std::int64_t first = (t0 + win.q_min) * s;  // x position of phase 0, slot 0
    T* phases = scratch<T>(3, s * win.len);
    for (std::int64_t j = 0; j < c.in_per_group; ++j) {
      const T* src = xg + j * c.length;
      for (std::int64_t m = 0; m < win.len; ++m) {
        for (std::int64_t r = 0; r < s; ++r) {
          const std::int64_t i = first + m * s + r;
          phases[r * win.len + m] = i >= 0 && i < c.length ? src[i] : T(0);
        }
      }
      for (std::int64_t k = 0; k < c.kernel; ++k) {
        const std::int64_t off = c.offset(k), q = floor_div(off, s), r = off - q * s;
        std::memcpy(col + (j * c.kernel + k) * ld, phases + r * win.len + (q - win.q_min),
                    sizeof(T) * static_cast<std::size_t>(t1 - t0));
      }
    }
    return;
  }
  for (std::int64_t j = 0; j < c.in_per_group; ++j) {
    for (std::int64_t k = 0; k < c.kernel; ++k) {
      T* row = col + (j * c.kernel + k) * ld;  // row[t - t0]
      const T* src = xg + j * c.length;         // src[t * s + offset(k)]: tap k at position t
      const std::int64_t off = c.offset(k);
      const std::int64_t lo = std::clamp(c.valid_lo(k), t0, t1);
      const std::int64_t hi = std::clamp(c.valid_hi(k), lo, t1);
      std::fill(row, row + (lo - t0), T(0));
      if (s == 1 && hi > lo) {
        copy_row(row + (lo - t0), src + lo + off, hi - lo);
      } else {
        for (std::int64_t t = lo; t < hi; ++t) row[t - t0] = src[t * s + off];
      }
      std::fill(row + (hi - t0), row + (t1 - t0), T(0));
    }
  }
}

// grad_weight's staging of the flattened (sample, position) range [q0, q1): its im2col columns
// into col and its grad_out columns into gyb (both with leading dimension q1 - q0), sample by
// sample; xg and gyg point at the group's first input / output channel of sample 0.
template <class T>
void stage_weight_chunk(const Conv1dProblem& c, const T* xg, const T* gyg, std::int64_t cout,
                        std::int64_t q0, std::int64_t q1, T* col, T* gyb) {
  const std::int64_t ld = q1 - q0;
  for (std::int64_t q = q0; q < q1;) {
    const std::int64_t n = q / c.out_length, t0 = q % c.out_length;
    const std::int64_t t1 = std::min(c.out_length, t0 + (q1 - q));
    im2col(c, xg + n * c.in_channels * c.length, t0, t1, col + (q - q0), ld);
    for (std::int64_t co = 0; co < cout; ++co) {
      copy_row(gyb + co * ld + (q - q0), gyg + (n * c.out_channels + co) * c.out_length + t0,
               t1 - t0);
    }
    q += t1 - t0;
  }
}

// The adjoint of im2col: gxg[j][t*stride + offset(k)] += col[(j*K + k) * ld + (t - t0)].
template <class T>
void col2im(const Conv1dProblem& c, const T* col, std::int64_t ld, std::int64_t t0,
            std::int64_t t1, T* gxg, const TypedKernels<T>& kern) {
  const std::int64_t s = c.stride;
  if (use_phases(c)) {
    const PhaseWindow win = phase_window(c, t0, t1);
    const std::int64_t first = (t0 + win.q_min) * s;
    T* phases = scratch<T>(3, s * win.len);
    for (std::int64_t j = 0; j < c.in_per_group; ++j) {
      std::fill_n(phases, s * win.len, T(0));
      for (std::int64_t k = 0; k < c.kernel; ++k) {
        const std::int64_t off = c.offset(k), q = floor_div(off, s), r = off - q * s;
        kern.axpy(t1 - t0, T(1), col + (j * c.kernel + k) * ld,
                  phases + r * win.len + (q - win.q_min));
      }
      T* dst = gxg + j * c.length;
      for (std::int64_t m = 0; m < win.len; ++m) {
        for (std::int64_t r = 0; r < s; ++r) {
          const std::int64_t i = first + m * s + r;
          if (i >= 0 && i < c.length) dst[i] += phases[r * win.len + m];  // padding: dropped
        }
      }
    }
    return;
  }
  for (std::int64_t j = 0; j < c.in_per_group; ++j) {
    for (std::int64_t k = 0; k < c.kernel; ++k) {
      const T* row = col + (j * c.kernel + k) * ld;
      T* dst = gxg + j * c.length;
      const std::int64_t off = c.offset(k);
      const std::int64_t lo = std::clamp(c.valid_lo(k), t0, t1);
      const std::int64_t hi = std::clamp(c.valid_hi(k), lo, t1);
      if (hi == lo) continue;
      if (s == 1) {
        // alpha 1: a plain add (fma(1, x, y) rounds as x + y), so short rows (issue 10: the
        // kernel's padded tail dominated rows of 7-28) add inline, bit for bit the same.
        if (hi - lo <= 64) {
          T* d = dst + lo + off;
          const T* r = row + (lo - t0);
          for (std::int64_t i = 0; i < hi - lo; ++i) d[i] += r[i];
        } else {
          kern.axpy(hi - lo, T(1), row + (lo - t0), dst + lo + off);
        }
      } else {
        for (std::int64_t t = lo; t < hi; ++t) dst[t * s + off] += row[t - t0];
      }
    }
  }
}

}  // namespace

void set_conv1d_tile_bytes(std::int64_t bytes) {
  g_col_bytes.store(bytes > 0 ? bytes : kColBytes, std::memory_order_relaxed);
}

template <class T>
void conv1d_gemm_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b) {
  const std::int64_t rows = c.in_per_group * c.kernel;  // the gemm's depth
  const std::int64_t tile = tile_width(c, rows, sizeof(T), true);
  const std::int64_t tiles = ceil_div(c.out_length, tile);
  const bool direct_b = pointwise(c);
  parallel_for(0, c.batch * c.groups * tiles, task_grain(c.out_per_group * rows * tile),
               [&](std::int64_t u0, std::int64_t u1) {
    T* col = direct_b ? nullptr : scratch<T>(0, rows * tile);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / (c.groups * tiles), g = u / tiles % c.groups;
      const std::int64_t t0 = u % tiles * tile, t1 = std::min(t0 + tile, c.out_length);
      const T* xg = x + (n * c.in_channels + g * c.in_per_group) * c.length;
      T* yg = y + (n * c.out_channels + g * c.out_per_group) * c.out_length;
      MatrixRef<const T> cols{col, t1 - t0, 1};
      if (direct_b) cols = {xg + c.offset(0) + t0 * c.stride, c.length, c.stride};
      else im2col(c, xg, t0, t1, col, t1 - t0);
      gemm<T>(c.out_per_group, t1 - t0, rows, {w + g * c.out_per_group * rows, rows, 1}, cols,
              {yg + t0, c.out_length, 1});
      if (b == nullptr) continue;
      for (std::int64_t co = 0; co < c.out_per_group; ++co) {
        const T bias = b[g * c.out_per_group + co];
        T* row = yg + co * c.out_length;
        for (std::int64_t t = t0; t < t1; ++t) row[t] += bias;
      }
    }
  });
}

template <class T>
void conv1d_gemm_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w) {
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t tile = tile_width(c, rows, sizeof(T), false);
  // A stride-1 1x1 convolution covering every position: the gemm writes grad_x directly.
  const bool direct_c = pointwise(c) && c.stride == 1 && c.out_length == c.length;
  parallel_for(0, c.batch * c.groups,
               task_grain(c.out_per_group * rows * c.out_length),
               [&](std::int64_t u0, std::int64_t u1) {
    T* col = direct_c ? nullptr : scratch<T>(0, rows * tile);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / c.groups, g = u % c.groups;
      T* gxg = gx + (n * c.in_channels + g * c.in_per_group) * c.length;
      const T* gyg = gy + (n * c.out_channels + g * c.out_per_group) * c.out_length;
      // W_g^T: element (j*K + k, co) of the transpose is w[g*Cout/G + co][j][k].
      const MatrixRef<const T> wt{w + g * c.out_per_group * rows, 1, rows};
      if (!direct_c) std::fill_n(gxg, c.in_per_group * c.length, T(0));
      for (std::int64_t t0 = 0; t0 < c.out_length; t0 += tile) {
        const std::int64_t t1 = std::min(t0 + tile, c.out_length);
        const MatrixRef<const T> gyt{gyg + t0, c.out_length, 1};
        if (direct_c) {
          gemm<T>(rows, t1 - t0, c.out_per_group, wt, gyt, {gxg + t0, c.length, 1});
          continue;
        }
        gemm<T>(rows, t1 - t0, c.out_per_group, wt, gyt, {col, t1 - t0, 1});
        col2im(c, col, t1 - t0, t0, t1, gxg, kern);
      }
    }
  });
}

template <class T>
void conv1d_gemm_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy, const T* x) {
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t cout = c.out_per_group;
  // The sum runs over q = n * Lout + t, cut into chunks of `width` columns (a chunk may span
  // samples: small Lout still gives the gemm a deep sum).
  const std::int64_t total = c.batch * c.out_length;
  const std::int64_t width = std::min(
      total, std::max(kMinTile, g_col_bytes.load(std::memory_order_relaxed) /
                                    (rows * static_cast<std::int64_t>(sizeof(T)))));
  const std::int64_t macs = cout * rows * total;  // per group
  std::int64_t slots = 1;
  if (num_threads() > 1 && macs >= 4 * kTaskMacs)
    slots = std::min<std::int64_t>(num_threads(), ceil_div(total, kMinTile));
  CachedBuffer<T> partials((slots - 1) * cout * rows);
  // grad_W (Cout/G x Cin/G*K) or its transpose, whichever pads less to the micro-kernel's
  // mr x nr tiles (Fashion-MNIST's 28 -> 64, k 3: 64 x 84 pads to 72 x 96, 84 x 64 not at
  // all); the transposed sum is accumulated aside and transposed once at the end.
  const auto padded = [&](std::int64_t m, std::int64_t n) {
    return round_up(m, kern.mr) * round_up(n, kern.nr);
  };
  const bool transposed = padded(rows, cout) < padded(cout, rows);
  CachedBuffer<T> sums(transposed ? slots * cout * rows : 0);

  for (std::int64_t g = 0; g < c.groups; ++g) {
    T* gwg = gw + g * cout * rows;
    const T* xg = x + g * c.in_per_group * c.length;      // + n * Cin * L
    const T* gyg = gy + g * cout * c.out_length;           // + n * Cout * Lout
    parallel_for(0, slots, 1, [&](std::int64_t s0, std::int64_t s1) {
      for (std::int64_t slot = s0; slot < s1; ++slot) {
        T* acc = slot == 0 ? gwg : partials.data + (slot - 1) * cout * rows;
        const std::int64_t q_begin = total * slot / slots, q_end = total * (slot + 1) / slots;
        if (q_begin == q_end) std::fill_n(acc, cout * rows, T(0));
        T* col = scratch<T>(0, rows * width);
        T* gyb = scratch<T>(1, cout * width);
        T* product = scratch<T>(2, cout * rows);
        T* sum = transposed ? sums.data + slot * cout * rows : acc;
        for (std::int64_t q0 = q_begin; q0 < q_end; q0 += width) {
          const std::int64_t q1 = std::min(q0 + width, q_end), ld = q1 - q0;
          stage_weight_chunk(c, xg, gyg, cout, q0, q1, col, gyb);
          // grad_W (+)= gyb @ col^T: (Cout/G x ld) @ (ld x Cin/G*K), or its transpose.
          const bool first = q0 == q_begin;
          T* dst = first ? sum : product;
          if (transposed)
            gemm<T>(rows, cout, ld, {col, ld, 1}, {gyb, 1, ld}, {dst, cout, 1});
          else
            gemm<T>(cout, rows, ld, {gyb, ld, 1}, {col, 1, ld}, {dst, rows, 1});
          if (!first) kern.axpy(cout * rows, T(1), product, sum);
        }
        if (transposed && q_begin < q_end) {
          for (std::int64_t o = 0; o < cout; ++o)
            for (std::int64_t r = 0; r < rows; ++r) acc[o * rows + r] = sum[r * cout + o];
        }
      }
    });
    for (std::int64_t slot = 1; slot < slots; ++slot)
      kern.axpy(cout * rows, T(1), partials.data + (slot - 1) * cout * rows, gwg);
  }
  if (gb != nullptr) conv1d_bias_grad<T>(c, gb, gy);
}

// --- short rows (issue 10): the gemm algorithm batched over samples ---------------------
// With short rows (Fashion-MNIST's L 28/14/7) one sample's im2col tile is only Lout columns
// wide, so the per-sample gemm pays its packing of the weights (Cout/G x Cin/G*K, as much data
// as the whole tile's products when Lout is 7) and its edge panels once per sample. Here a chunk
// of samples is one wide product instead: im2col of every sample of the chunk side by side,
// column i*Lout + t being (sample i, position t), one gemm into a [Cout/G, chunk*Lout] product,
// then a scatter to y[n][co][t] with the bias added afterwards. Each output element is the
// same FMA chain as in the per-sample gemm (the micro-kernel's sum over (channel, tap) from zero
// in kc blocks that depend only on Cin/G*K), bias added last, so Gemm and GemmBatched agree bit
// for bit wherever both take the packed gemm. backward_input is the transposed product into a
// [Cin/G*K, chunk*Lout] column block and one col2im per sample; backward_weight already sums
// over (sample, position) columns in one long product (conv1d_gemm_backward_weight).
namespace {

// One chunk's im2col columns, about the L2 (1 MiB on the Zen 4 measured): a sweep of the budget
// (bench_conv1d_short_rows --tile-bytes) found 1 MiB 5-25% faster than 256 KiB on the
// 128-channel shapes and even on 28 -> 64; 2 MiB slower again.
constexpr std::int64_t kBatchedColBytes = 1 << 20;

// Samples per chunk: as many as keep the chunk's columns within kBatchedColBytes (and within
// the tile hook's bytes, down to one sample, so tests cross chunk boundaries), with the chunk
// count a multiple of the threads so they share out evenly. 0: one sample's columns alone
// exceed kBatchedColBytes (a row long enough for the per-sample gemm).
std::int64_t batch_chunk(const Conv1dProblem& c, std::int64_t rows, std::size_t elem) {
  const std::int64_t per_sample = rows * c.out_length * static_cast<std::int64_t>(elem);
  if (per_sample > kBatchedColBytes) return 0;
  const std::int64_t budget =
      std::min<std::int64_t>(kBatchedColBytes, g_col_bytes.load(std::memory_order_relaxed));
  const std::int64_t most = std::max<std::int64_t>(1, budget / per_sample);
  const std::int64_t threads = num_threads();
  std::int64_t chunks = ceil_div(c.batch, most);
  if (threads > 1 && c.groups * chunks % threads != 0) chunks = round_up(chunks, threads);
  return ceil_div(c.batch, std::min(chunks, c.batch));
}

}  // namespace

template <class T>
void conv1d_gemm_forward_batched(const Conv1dProblem& c, T* y, const T* x, const T* w,
                                 const T* b) {
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t nb = batch_chunk(c, rows, sizeof(T));
  if (nb == 0) return conv1d_gemm_forward<T>(c, y, x, w, b);
  const std::int64_t chunks = ceil_div(c.batch, nb), lout = c.out_length;
  const std::int64_t cout = c.out_per_group;
  parallel_for(0, c.groups * chunks, task_grain(cout * rows * nb * lout),
               [&](std::int64_t u0, std::int64_t u1) {
    T* col = scratch<T>(0, rows * nb * lout);
    T* prod = scratch<T>(2, cout * nb * lout);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t g = u / chunks, n0 = u % chunks * nb;
      const std::int64_t n1 = std::min(n0 + nb, c.batch), ld = (n1 - n0) * lout;
      for (std::int64_t n = n0; n < n1; ++n) {
        im2col(c, x + (n * c.in_channels + g * c.in_per_group) * c.length, 0, lout,
               col + (n - n0) * lout, ld);
      }
      gemm<T>(cout, ld, rows, {w + g * cout * rows, rows, 1}, {col, ld, 1}, {prod, ld, 1});
      for (std::int64_t n = n0; n < n1; ++n) {
        T* yg = y + (n * c.out_channels + g * cout) * lout;
        for (std::int64_t co = 0; co < cout; ++co) {
          const T* src = prod + co * ld + (n - n0) * lout;
          T* row = yg + co * lout;
          if (b == nullptr) {
            copy_row(row, src, lout);
            continue;
          }
          const T bias = b[g * cout + co];
          for (std::int64_t t = 0; t < lout; ++t) row[t] = src[t] + bias;
        }
      }
    }
  });
}

template <class T>
void conv1d_gemm_backward_input_batched(const Conv1dProblem& c, T* gx, const T* gy,
                                        const T* w) {
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t nb = batch_chunk(c, rows, sizeof(T));
  if (nb == 0) return conv1d_gemm_backward_input<T>(c, gx, gy, w);
  const std::int64_t chunks = ceil_div(c.batch, nb), lout = c.out_length;
  const std::int64_t cout = c.out_per_group;
  parallel_for(0, c.groups * chunks, task_grain(cout * rows * nb * lout),
               [&](std::int64_t u0, std::int64_t u1) {
    T* col = scratch<T>(0, rows * nb * lout);
    T* gyb = scratch<T>(1, cout * nb * lout);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t g = u / chunks, n0 = u % chunks * nb;
      const std::int64_t n1 = std::min(n0 + nb, c.batch), ld = (n1 - n0) * lout;
      // The chunk's grad_out side by side: gyb[co][i*Lout + t] = gy[n0 + i][g*Cout/G + co][t].
      for (std::int64_t n = n0; n < n1; ++n) {
        const T* gyg = gy + (n * c.out_channels + g * cout) * lout;
        for (std::int64_t co = 0; co < cout; ++co) {
          copy_row(gyb + co * ld + (n - n0) * lout, gyg + co * lout, lout);
        }
      }
      // col = W_g^T @ gyb, W_g^T's element (j*K + k, co) being w[g*Cout/G + co][j][k].
      gemm<T>(rows, ld, cout, {w + g * cout * rows, 1, rows}, {gyb, ld, 1}, {col, ld, 1});
      for (std::int64_t n = n0; n < n1; ++n) {
        T* gxg = gx + (n * c.in_channels + g * c.in_per_group) * c.length;
        std::fill_n(gxg, c.in_per_group * c.length, T(0));
        col2im(c, col + (n - n0) * lout, ld, 0, lout, gxg, kern);
      }
    }
  });
}

// --- bfloat16 (issue 9) ---------------------------------------------------------------------
// The same three products with bfloat16 operands (raw bits) and the bfloat16 gemm; im2col
// copies bf16 bits (its zeros are +0.0 in bf16 too), the products land in float32 scratch, and
// each output element is rounded once on store, after the bias (forward), col2im's float32
// scatter-add (backward_input) or the float32 sum of the threads' partials (backward_weight).

namespace {
// Threaded over chunks (inline when called from a pool task): the widened route copies whole
// tensors both ways, which single-threaded cost as much as a depthwise convolution.
constexpr std::int64_t kConvertGrain = 1 << 15;
void round_to_bf16(std::int64_t n, const float* src, std::uint16_t* dst) {
  parallel_for(0, n, kConvertGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) dst[i] = f32_to_bf16_bits(src[i]);
  });
}
void widen_bf16(std::int64_t n, const std::uint16_t* src, float* dst) {
  parallel_for(0, n, kConvertGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) dst[i] = bf16_bits_to_f32(src[i]);
  });
}
}  // namespace

void conv1d_gemm_forward_bf16(const Conv1dProblem& c, std::uint16_t* y, const std::uint16_t* x,
                              const std::uint16_t* w, const std::uint16_t* b) {
  using U = std::uint16_t;
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t tile = tile_width(c, rows, sizeof(U), true);
  const std::int64_t tiles = ceil_div(c.out_length, tile);
  const bool direct_b = pointwise(c);
  parallel_for(0, c.batch * c.groups * tiles, task_grain(c.out_per_group * rows * tile),
               [&](std::int64_t u0, std::int64_t u1) {
    U* col = direct_b ? nullptr : scratch<U>(0, rows * tile);
    float* prod = scratch<float>(2, c.out_per_group * tile);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / (c.groups * tiles), g = u / tiles % c.groups;
      const std::int64_t t0 = u % tiles * tile, t1 = std::min(t0 + tile, c.out_length);
      const std::int64_t width = t1 - t0;
      const U* xg = x + (n * c.in_channels + g * c.in_per_group) * c.length;
      U* yg = y + (n * c.out_channels + g * c.out_per_group) * c.out_length;
      MatrixRef<const U> cols{col, width, 1};
      if (direct_b) cols = {xg + c.offset(0) + t0 * c.stride, c.length, c.stride};
      else im2col(c, xg, t0, t1, col, width);
      gemm_bf16(c.out_per_group, width, rows, {w + g * c.out_per_group * rows, rows, 1}, cols,
                {prod, width, 1});
      for (std::int64_t co = 0; co < c.out_per_group; ++co) {
        const float bias = b ? bf16_bits_to_f32(b[g * c.out_per_group + co]) : 0.0f;
        const float* src = prod + co * width;
        U* row = yg + co * c.out_length + t0;
        for (std::int64_t t = 0; t < width; ++t) row[t] = f32_to_bf16_bits(src[t] + bias);
      }
    }
  });
}

void conv1d_gemm_backward_input_bf16(const Conv1dProblem& c, std::uint16_t* gx,
                                     const std::uint16_t* gy, const std::uint16_t* w) {
  using U = std::uint16_t;
  const TypedKernels<float>& kern = simd_kernels().get<float>();
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t tile = tile_width(c, rows, sizeof(float), false);
  const bool direct_c = pointwise(c) && c.stride == 1 && c.out_length == c.length;
  parallel_for(0, c.batch * c.groups, task_grain(c.out_per_group * rows * c.out_length),
               [&](std::int64_t u0, std::int64_t u1) {
    float* col = direct_c ? nullptr : scratch<float>(0, rows * tile);
    float* acc = scratch<float>(1, c.in_per_group * c.length);  // this (n, g)'s grad_x, float32
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / c.groups, g = u % c.groups;
      U* gxg = gx + (n * c.in_channels + g * c.in_per_group) * c.length;
      const U* gyg = gy + (n * c.out_channels + g * c.out_per_group) * c.out_length;
      const MatrixRef<const U> wt{w + g * c.out_per_group * rows, 1, rows};
      if (!direct_c) std::fill_n(acc, c.in_per_group * c.length, 0.0f);
      for (std::int64_t t0 = 0; t0 < c.out_length; t0 += tile) {
        const std::int64_t t1 = std::min(t0 + tile, c.out_length);
        const MatrixRef<const U> gyt{gyg + t0, c.out_length, 1};
        if (direct_c) {
          gemm_bf16(rows, t1 - t0, c.out_per_group, wt, gyt, {acc + t0, c.length, 1});
          continue;
        }
        gemm_bf16(rows, t1 - t0, c.out_per_group, wt, gyt, {col, t1 - t0, 1});
        col2im(c, col, t1 - t0, t0, t1, acc, kern);
      }
      round_to_bf16(c.in_per_group * c.length, acc, gxg);
    }
  });
}

void conv1d_gemm_backward_weight_bf16(const Conv1dProblem& c, std::uint16_t* gw,
                                      std::uint16_t* gb, const std::uint16_t* gy,
                                      const std::uint16_t* x) {
  using U = std::uint16_t;
  const TypedKernels<float>& kern = simd_kernels().get<float>();
  const std::int64_t rows = c.in_per_group * c.kernel;
  const std::int64_t cout = c.out_per_group;
  const std::int64_t total = c.batch * c.out_length;
  const std::int64_t width = std::min(
      total, std::max(kMinTile, g_col_bytes.load(std::memory_order_relaxed) /
                                    (rows * static_cast<std::int64_t>(sizeof(U)))));
  const std::int64_t macs = cout * rows * total;
  std::int64_t slots = 1;
  if (num_threads() > 1 && macs >= 4 * kTaskMacs)
    slots = std::min<std::int64_t>(num_threads(), ceil_div(total, kMinTile));
  // Every slot's partial grad_W_g in float32 (slot 0's collects the others, in a fixed order).
  CachedBuffer<float> partials(slots * cout * rows);

  for (std::int64_t g = 0; g < c.groups; ++g) {
    const U* xg = x + g * c.in_per_group * c.length;
    const U* gyg = gy + g * cout * c.out_length;
    parallel_for(0, slots, 1, [&](std::int64_t s0, std::int64_t s1) {
      for (std::int64_t slot = s0; slot < s1; ++slot) {
        float* acc = partials.data + slot * cout * rows;
        const std::int64_t q_begin = total * slot / slots, q_end = total * (slot + 1) / slots;
        if (q_begin == q_end) std::fill_n(acc, cout * rows, 0.0f);
        U* col = scratch<U>(0, rows * width);
        U* gyb = scratch<U>(1, cout * width);
        for (std::int64_t q0 = q_begin; q0 < q_end; q0 += width) {
          const std::int64_t q1 = std::min(q0 + width, q_end), ld = q1 - q0;
          stage_weight_chunk(c, xg, gyg, cout, q0, q1, col, gyb);
          // grad_W (+)= gyb @ col^T in float32: the bf16 gemm accumulates into acc itself.
          gemm_bf16(cout, rows, ld, {gyb, ld, 1}, {col, 1, ld}, {acc, rows, 1}, q0 != q_begin);
        }
      }
    });
    for (std::int64_t slot = 1; slot < slots; ++slot)
      kern.axpy(cout * rows, 1.0f, partials.data + slot * cout * rows, partials.data);
    round_to_bf16(cout * rows, partials.data, gw + g * cout * rows);
  }
  if (gb != nullptr) conv1d_bias_grad_bf16(c, gb, gy);
}

void conv1d_bias_grad_bf16(const Conv1dProblem& c, std::uint16_t* gb, const std::uint16_t* gy) {
  const std::int64_t grain = std::max<std::int64_t>(1, 65536 / (c.batch * c.out_length));
  parallel_for(0, c.out_channels, grain, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t co = c0; co < c1; ++co) {
      double acc = 0.0;
      for (std::int64_t n = 0; n < c.batch; ++n) {
        const std::uint16_t* row = gy + (n * c.out_channels + co) * c.out_length;
        for (std::int64_t t = 0; t < c.out_length; ++t) acc += bf16_bits_to_f32(row[t]);
      }
      gb[co] = f32_to_bf16_bits(static_cast<float>(acc));
    }
  });
}

void conv1d_bf16_widened(Conv1dPass pass, Conv1dAlgorithm algorithm, const Conv1dProblem& c,
                         std::uint16_t* out0, std::uint16_t* out1, const std::uint16_t* in0,
                         const std::uint16_t* in1, const std::uint16_t* in2) {
  const std::int64_t x_size = c.batch * c.in_channels * c.length;
  const std::int64_t y_size = c.batch * c.out_channels * c.out_length;
  const std::int64_t w_size = c.out_channels * c.in_per_group * c.kernel;
  auto widened = [](const std::uint16_t* src, std::int64_t n, CachedBuffer<float>& buf) -> float* {
    if (src == nullptr) return nullptr;
    widen_bf16(n, src, buf.data);
    return buf.data;
  };
  const bool direct = algorithm == Conv1dAlgorithm::Direct;
  if (pass == Conv1dPass::Forward) {  // out0 = y; in0 = x, in1 = w, in2 = b
    CachedBuffer<float> y(y_size), x(x_size), w(w_size), b(in2 ? c.out_channels : 0);
    float* bp = widened(in2, c.out_channels, b);
    widened(in0, x_size, x);
    widened(in1, w_size, w);
    if (direct) conv1d_direct_forward<float>(c, y.data, x.data, w.data, bp);
    else conv1d_gemm_forward<float>(c, y.data, x.data, w.data, bp);
    round_to_bf16(y_size, y.data, out0);
  } else if (pass == Conv1dPass::BackwardInput) {  // out0 = gx; in0 = gy, in1 = w
    CachedBuffer<float> gx(x_size), gy(y_size), w(w_size);
    widened(in0, y_size, gy);
    widened(in1, w_size, w);
    if (direct) conv1d_direct_backward_input<float>(c, gx.data, gy.data, w.data);
    else conv1d_gemm_backward_input<float>(c, gx.data, gy.data, w.data);
    round_to_bf16(x_size, gx.data, out0);
  } else {  // out0 = gw (required), out1 = gb (may be null); in0 = gy, in1 = x
    CachedBuffer<float> gw(w_size), gb(out1 ? c.out_channels : 0), gy(y_size), x(x_size);
    widened(in0, y_size, gy);
    widened(in1, x_size, x);
    float* gbp = out1 ? gb.data : nullptr;
    if (direct) conv1d_direct_backward_weight<float>(c, gw.data, gbp, gy.data, x.data);
    else conv1d_gemm_backward_weight<float>(c, gw.data, gbp, gy.data, x.data);
    round_to_bf16(w_size, gw.data, out0);
    if (out1) round_to_bf16(c.out_channels, gb.data, out1);
  }
}

#define REEL_CONV1D_GEMM(T)                                                                    \
  template void conv1d_gemm_forward<T>(const Conv1dProblem&, T*, const T*, const T*, const T*); \
  template void conv1d_gemm_backward_input<T>(const Conv1dProblem&, T*, const T*, const T*);    \
  template void conv1d_gemm_backward_weight<T>(const Conv1dProblem&, T*, T*, const T*, const T*); \
  template void conv1d_gemm_forward_batched<T>(const Conv1dProblem&, T*, const T*, const T*,    \
                                               const T*);                                       \
  template void conv1d_gemm_backward_input_batched<T>(const Conv1dProblem&, T*, const T*,       \
                                                      const T*);
REEL_CONV1D_GEMM(float)
REEL_CONV1D_GEMM(double)
#undef REEL_CONV1D_GEMM

}  // namespace reel::backends::cpu
