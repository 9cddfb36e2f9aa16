// Packed, blocked gemm after Goto & van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication" (ACM TOMS, 2008), in the loop order of BLIS:
//
//   for jc in N by nc:              B block  kc x nc  packed once per (jc, pc), stays in L3
//     for pc in K by kc:
//       pack B[pc:, jc:] into panels of nr columns
//       for ic in M by mc:          A block  mc x kc  packed per thread, stays in L2   (threads)
//         pack A[ic:, pc:] into panels of mr rows
//         for jr in nc by nr:       one kc x nr sliver of B stays in L1
//           for ir in mc by mr:     micro-kernel: C[mr x nr] += A sliver * B sliver
//
// Packing makes every stride pattern (row-major, transposed, sliced) look the same to the
// micro-kernel, and zero-pads the edges so the micro-kernel always runs full tiles.
#include "backends/cpu/gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

constexpr std::int64_t kKc = 512;        // depth of a rank-kc update
constexpr std::int64_t kMcMax = 192;     // rows of a packed A block (mc x kc in L2)
constexpr std::int64_t kNc = 4096;       // columns of a packed B block
constexpr std::int64_t kSmallMacs = 512;          // below: a plain triple loop beats packing
constexpr int kMaxTile = 12 * 32;                 // largest mr x nr of any architecture

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
constexpr std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

// Per-thread packing buffers, grown on demand and kept: steady-state matmul allocates nothing.
struct PackBuffer {
  void* data = nullptr;
  std::size_t bytes = 0;
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data); }
  template <class T>
  T* get(std::int64_t count) {
    auto need = static_cast<std::size_t>(round_up(count * static_cast<std::int64_t>(sizeof(T)), 64));
    if (need > bytes) {
      std::free(data);
      data = std::aligned_alloc(64, need);
      bytes = data ? need : 0;
      if (!data) throw std::bad_alloc();
    }
    return static_cast<T*>(data);
  }
};
thread_local PackBuffer t_pack_a, t_pack_b;

// A[0:mc, 0:kc] -> panels of mr rows; panel p holds, for each k, its mr values (rows past mc
// are zero): out[p * mr * kc + k * mr + r] = A[p * mr + r, k].
template <class T>
void pack_a(std::int64_t mc, std::int64_t kc, int mr, MatrixRef<const T> a, T* out) {
  for (std::int64_t p = 0; p < mc; p += mr) {
    const std::int64_t rows = std::min<std::int64_t>(mr, mc - p);
    T* dst = out + p * kc;
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* src = a.data + (p + r) * a.row_stride;
      for (std::int64_t k = 0; k < kc; ++k) dst[k * mr + r] = src[k * a.col_stride];
    }
    for (std::int64_t r = rows; r < mr; ++r)
      for (std::int64_t k = 0; k < kc; ++k) dst[k * mr + r] = T(0);
  }
}

// B[0:kc, j0:j1] -> panels of nr columns (columns past nc are zero):
// out[(j / nr) * nr * kc + k * nr + (j % nr)] = B[k, j].
template <class T>
void pack_b(std::int64_t kc, std::int64_t nc, std::int64_t j0, std::int64_t j1, int nr,
            MatrixRef<const T> b, T* out) {
  for (std::int64_t q = j0; q < j1; q += nr) {
    const std::int64_t cols = std::min<std::int64_t>(nr, nc - q);
    T* dst = out + q * kc;
    for (std::int64_t k = 0; k < kc; ++k, dst += nr) {
      const T* src = b.data + k * b.row_stride + q * b.col_stride;
      if (b.col_stride == 1 && cols == nr) {
        std::memcpy(dst, src, sizeof(T) * static_cast<std::size_t>(nr));
        continue;
      }
      for (std::int64_t c = 0; c < cols; ++c) dst[c] = src[c * b.col_stride];
      for (std::int64_t c = cols; c < nr; ++c) dst[c] = T(0);
    }
  }
}

// Runs fn over [0, count) on the pool, or inline when this gemm is single-threaded.
template <class F>
void run_tasks(std::int64_t count, int threads, F&& fn) {
  if (threads <= 1) fn(std::int64_t{0}, count);
  else parallel_for(0, count, 1, fn);
}

// y[i] = sum_q M[i, q] x[q] for i < len, with M[i, q] = mat[i * s_len + q * s_k]: the
// matrix-vector products (m == 1 or n == 1) that mr x nr tiles would mostly pad. Returns false
// when neither stride of M is 1 (the packed path then handles it).
template <class T>
bool gemv(std::int64_t len, std::int64_t k, const T* mat, std::int64_t s_len, std::int64_t s_k,
          const T* x, std::int64_t x_stride, T* y, std::int64_t y_stride,
          const TypedKernels<T>& kern) {
  const int threads = detail::in_parallel_region() || len * k < kParallelMacs ? 1 : num_threads();
  if (s_k == 1) {  // rows of M are contiguous: one dot product per output
    const T* xv = x;
    if (x_stride != 1) {
      T* buf = t_pack_b.get<T>(k);
      for (std::int64_t q = 0; q < k; ++q) buf[q] = x[q * x_stride];
      xv = buf;
    }
    run_tasks(len, threads, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) y[i * y_stride] = kern.dot(k, mat + i * s_len, xv);
    });
    return true;
  }
  if (s_len != 1) return false;
  // Columns of M are contiguous: y accumulates x[q] * column q (axpy), a chunk of y at a time
  // so the accumulator stays in L1.
  constexpr std::int64_t kChunk = 2048;
  run_tasks(ceil_div(len, kChunk), threads, [&](std::int64_t c0, std::int64_t c1) {
    alignas(64) T acc[kChunk];
    for (std::int64_t c = c0; c < c1; ++c) {
      const std::int64_t i0 = c * kChunk, n = std::min(kChunk, len - i0);
      std::fill_n(acc, n, T(0));
      for (std::int64_t q = 0; q < k; ++q) kern.axpy(n, x[q * x_stride], mat + q * s_k + i0, acc);
      for (std::int64_t i = 0; i < n; ++i) y[(i0 + i) * y_stride] = acc[i];
    }
  });
  return true;
}

template <class T>
void gemm_naive(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const T> a,
                MatrixRef<const T> b, MatrixRef<T> c) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      T acc = T(0);
      for (std::int64_t q = 0; q < k; ++q)
        acc += a.data[i * a.row_stride + q * a.col_stride] * b.data[q * b.row_stride + j * b.col_stride];
      c.data[i * c.row_stride + j * c.col_stride] = acc;
    }
  }
}

template <class T>
void gemm_blocked(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const T> a,
                  MatrixRef<const T> b, MatrixRef<T> c, const TypedKernels<T>& kern) {
  const int mr = kern.mr, nr = kern.nr;
  const int threads = detail::in_parallel_region() || m * n * k < kParallelMacs ? 1 : num_threads();
  // Cut M into a multiple of `threads` blocks of at most kMcMax rows, so the blocks share out
  // evenly; when there are fewer blocks than threads, the threads also split the B panels.
  const std::int64_t m_blocks_goal = round_up(ceil_div(m, kMcMax), threads);
  const std::int64_t mc = round_up(ceil_div(m, m_blocks_goal), mr);
  const std::int64_t m_blocks = ceil_div(m, mc);
  // K and N are cut into equal blocks (k = 257 is two blocks of 129, not 256 + 1).
  const std::int64_t kc_max = ceil_div(k, ceil_div(k, kKc));
  const std::int64_t nc_max = round_up(ceil_div(n, ceil_div(n, kNc)), nr);
  T* bp = t_pack_b.get<T>(kc_max * nc_max);

  for (std::int64_t jc = 0; jc < n; jc += nc_max) {
    const std::int64_t nc = std::min(nc_max, n - jc);
    const std::int64_t n_panels = ceil_div(nc, nr);
    const std::int64_t n_groups =
        m_blocks >= threads ? 1 : std::min(n_panels, ceil_div(threads, m_blocks));
    const std::int64_t group_panels = ceil_div(n_panels, n_groups);
    for (std::int64_t pc = 0; pc < k; pc += kc_max) {
      const std::int64_t kc = std::min(kc_max, k - pc);
      const bool accumulate = pc > 0;
      const MatrixRef<const T> b_block{b.data + pc * b.row_stride + jc * b.col_stride,
                                       b.row_stride, b.col_stride};
      run_tasks(n_panels, threads, [&](std::int64_t p0, std::int64_t p1) {
        pack_b(kc, nc, p0 * nr, std::min(p1 * nr, nc), nr, b_block, bp);
      });
      run_tasks(m_blocks * n_groups, threads, [&](std::int64_t t0, std::int64_t t1) {
        T* ap = t_pack_a.get<T>(mc * kc_max);
        std::int64_t packed = -1;
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t ib = t / n_groups, g = t % n_groups;
          const std::int64_t i0 = ib * mc, mcur = std::min(mc, m - i0);
          if (packed != ib) {
            pack_a<T>(mcur, kc, mr, {a.data + i0 * a.row_stride + pc * a.col_stride,
                                     a.row_stride, a.col_stride}, ap);
            packed = ib;
          }
          const std::int64_t jp_end = std::min(n_panels, (g + 1) * group_panels);
          for (std::int64_t jp = g * group_panels; jp < jp_end; ++jp) {
            const std::int64_t j = jp * nr, ncur = std::min<std::int64_t>(nr, nc - j);
            const T* b_panel = bp + j * kc;
            for (std::int64_t ir = 0; ir < mcur; ir += mr) {
              const std::int64_t rows = std::min<std::int64_t>(mr, mcur - ir);
              T* cij = c.data + (i0 + ir) * c.row_stride + (jc + j) * c.col_stride;
              if (rows == mr && ncur == nr && c.col_stride == 1) {
                kern.gemm(kc, ap + ir * kc, b_panel, cij, c.row_stride, accumulate);
                continue;
              }
              // Edge tile (or strided C): compute the full tile aside, write back what exists.
              alignas(64) T tile[kMaxTile];
              kern.gemm(kc, ap + ir * kc, b_panel, tile, nr, false);
              for (std::int64_t r = 0; r < rows; ++r) {
                for (std::int64_t q = 0; q < ncur; ++q) {
                  T& dst = cij[r * c.row_stride + q * c.col_stride];
                  dst = accumulate ? dst + tile[r * nr + q] : tile[r * nr + q];
                }
              }
            }
          }
        }
      });
    }
  }
}

}  // namespace

template <class T>
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const T> a,
          MatrixRef<const T> b, MatrixRef<T> c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c.data[i * c.row_stride + j * c.col_stride] = T(0);
    return;
  }
  const auto& kern = simd_kernels().get<T>();
  if (n == 1 && gemv(m, k, a.data, a.row_stride, a.col_stride, b.data, b.row_stride, c.data,
                     c.row_stride, kern)) {
    return;
  }
  if (m == 1 && gemv(n, k, b.data, b.col_stride, b.row_stride, a.data, a.col_stride, c.data,
                     c.col_stride, kern)) {
    return;
  }
  // A skinny C (few columns) pads badly to nr-wide panels; its transpose C^T = B^T A^T puts
  // the small side on the mr side instead.
  if (n < kern.nr / 2 && m > n) {
    gemm<T>(n, m, k, {b.data, b.col_stride, b.row_stride}, {a.data, a.col_stride, a.row_stride},
            {c.data, c.col_stride, c.row_stride});
    return;
  }
  if (m * n * k <= kSmallMacs) return gemm_naive(m, n, k, a, b, c);
  gemm_blocked(m, n, k, a, b, c, kern);
}

template <class T>
void batched_gemm(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                  MatrixRef<const T> a, std::int64_t a_batch_stride, MatrixRef<const T> b,
                  std::int64_t b_batch_stride, MatrixRef<T> c, std::int64_t c_batch_stride) {
  auto one = [&](std::int64_t p) {
    gemm<T>(m, n, k, {a.data + p * a_batch_stride, a.row_stride, a.col_stride},
            {b.data + p * b_batch_stride, b.row_stride, b.col_stride},
            {c.data + p * c_batch_stride, c.row_stride, c.col_stride});
  };
  for_each_batch(batch, m * n * k, one);
}

template void gemm<float>(std::int64_t, std::int64_t, std::int64_t, MatrixRef<const float>,
                          MatrixRef<const float>, MatrixRef<float>);
template void gemm<double>(std::int64_t, std::int64_t, std::int64_t, MatrixRef<const double>,
                           MatrixRef<const double>, MatrixRef<double>);
template void batched_gemm<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                  MatrixRef<const float>, std::int64_t, MatrixRef<const float>,
                                  std::int64_t, MatrixRef<float>, std::int64_t);
template void batched_gemm<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                   MatrixRef<const double>, std::int64_t, MatrixRef<const double>,
                                   std::int64_t, MatrixRef<double>, std::int64_t);

void for_each_batch(std::int64_t batch, std::int64_t macs,
                    const std::function<void(std::int64_t)>& one) {
  const int threads = num_threads();
  macs = std::max<std::int64_t>(1, macs);
  const bool over_batch = batch > 1 && threads > 1 &&
                          (batch % threads == 0 || batch >= 4 * threads || macs < kParallelMacs);
  if (over_batch) {
    parallel_for(0, batch, std::max<std::int64_t>(1, kParallelMacs / macs),
                 [&](std::int64_t p0, std::int64_t p1) {
                   for (std::int64_t p = p0; p < p1; ++p) one(p);
                 });
  } else {
    for (std::int64_t p = 0; p < batch; ++p) one(p);
  }
}

}  // namespace reel::backends::cpu
