// The bfloat16 gemm (gemm_bf16.hpp): runtime dispatch, packing and the blocked loops; the
// AVX-512 BF16 micro-kernel is in gemm_bf16.avx512bf16.cpp. The loop order is gemm.cpp's
// (BLIS: B block packed per (jc, pc) and shared by the threads, A block packed per thread, a
// register-blocked micro-kernel over mr x nr tiles), with one difference: k is consumed in
// pairs, because vdpbf16ps multiplies two bf16 pairs per 32-bit lane and adds both products to
// one float32 lane. Packed panels therefore hold uint32 words, each the bits of two consecutive
// k (the lower k in the low half; an odd k's last pair is completed with +0).
#include "backends/cpu/gemm_bf16.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

#include "backends/cpu/cpu_features.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

using detail::kBf16Mr;
using detail::kBf16Nr;

constexpr std::int64_t kKp = 256;        // k-pairs of a rank-kc update (k = 512, as gemm.cpp)
constexpr std::int64_t kMcMax = 192;     // rows of a packed A block (16 panels of 12)
constexpr std::int64_t kNc = 4096;       // columns of a packed B block
constexpr std::int64_t kSmallMacs = 4096;         // below: the portable path

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
constexpr std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

// AVX-512 F, BW, VL and BF16, with the OS saving the zmm state.
bool detect_native() { return avx512_usable(kAvx512F | kAvx512BW | kAvx512VL, /*bf16=*/true); }

bool native_supported() {
  static const bool supported = detect_native();
  return supported;
}

bool env_forces_portable() {
  const char* v = std::getenv("REEL_BF16_GEMM");
  return v != nullptr && std::string_view(v) == "portable";
}
std::atomic<bool> g_force_portable{env_forces_portable()};

// Per-thread packing buffers (uint32 k-pair words, or float32 widenings for the portable path),
// grown on demand and kept.
struct Buffer {
  void* data = nullptr;
  std::size_t bytes = 0;
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data); }
  template <class T>
  T* get(std::int64_t count) {
    auto need = static_cast<std::size_t>(round_up(std::max<std::int64_t>(count, 1) *
                                                  static_cast<std::int64_t>(sizeof(T)), 64));
    if (need > bytes) {
      std::free(data);
      data = std::aligned_alloc(64, need);
      bytes = data ? need : 0;
      if (!data) throw std::bad_alloc();
    }
    return static_cast<T*>(data);
  }
};
thread_local Buffer t_pack_a, t_pack_b, t_tmp;

template <class F>
void run_tasks(std::int64_t count, int threads, F&& fn) {
  if (threads <= 1) fn(std::int64_t{0}, count);
  else parallel_for(0, count, 1, fn);
}

std::uint32_t pair(std::uint16_t lo, std::uint16_t hi) {
  return static_cast<std::uint32_t>(lo) | (static_cast<std::uint32_t>(hi) << 16);
}

// A[0:mc, k0 : k0 + 2 kp] -> panels of 12 rows: out[panel * 12 kp + p * 12 + r] holds
// A[r, k0 + 2p] and A[r, k0 + 2p + 1] (0 past k, rows past mc zero). `k_end` is k - k0.
void pack_a(std::int64_t mc, std::int64_t kp, std::int64_t k_end,
            MatrixRef<const std::uint16_t> a, std::uint32_t* out) {
  for (std::int64_t i = 0; i < mc; i += kBf16Mr) {
    const std::int64_t rows = std::min<std::int64_t>(kBf16Mr, mc - i);
    std::uint32_t* dst = out + i * kp;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::uint16_t* src = a.data + (i + r) * a.row_stride;
      const std::int64_t s = a.col_stride;
      std::int64_t p = 0;
      for (; 2 * p + 1 < k_end && p < kp; ++p)
        dst[p * kBf16Mr + r] = pair(src[2 * p * s], src[(2 * p + 1) * s]);
      if (p < kp) dst[p * kBf16Mr + r] = pair(src[2 * p * s], 0);  // odd k: the last half pair
    }
    for (std::int64_t r = rows; r < kBf16Mr; ++r)
      for (std::int64_t p = 0; p < kp; ++p) dst[p * kBf16Mr + r] = 0;
  }
}

// B[k0 : k0 + 2 kp, j0:j1] of a block nc wide -> panels of 32 columns:
// out[(j / 32) * 32 kp + p * 32 + j % 32] holds B[k0 + 2p, j] and B[k0 + 2p + 1, j].
void pack_b(std::int64_t kp, std::int64_t k_end, std::int64_t nc, std::int64_t j0,
            std::int64_t j1, MatrixRef<const std::uint16_t> b, std::uint32_t* out) {
  for (std::int64_t q = j0; q < j1; q += kBf16Nr) {
    const std::int64_t cols = std::min<std::int64_t>(kBf16Nr, nc - q);
    std::uint32_t* dst = out + q * kp;
    for (std::int64_t p = 0; p < kp; ++p, dst += kBf16Nr) {
      const std::uint16_t* r0 = b.data + 2 * p * b.row_stride + q * b.col_stride;
      const bool has_hi = 2 * p + 1 < k_end;
      const std::uint16_t* r1 = r0 + b.row_stride;
      for (std::int64_t j = 0; j < cols; ++j)
        dst[j] = pair(r0[j * b.col_stride], has_hi ? r1[j * b.col_stride] : std::uint16_t{0});
      for (std::int64_t j = cols; j < kBf16Nr; ++j) dst[j] = 0;
    }
  }
}

void gemm_native(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const std::uint16_t> a,
                 MatrixRef<const std::uint16_t> b, MatrixRef<float> c, bool accumulate_c) {
  static_assert(kBf16Mr == 12 && kBf16Nr == 32, "gemm_bf16.avx512bf16.cpp's tile is 12 x 32");
  constexpr int mr = kBf16Mr, nr = kBf16Nr;
  const int threads = detail::in_parallel_region() || m * n * k < kParallelMacs ? 1 : num_threads();
  const std::int64_t m_blocks_goal = round_up(ceil_div(m, kMcMax), threads);
  const std::int64_t mc = round_up(ceil_div(m, m_blocks_goal), mr);
  const std::int64_t m_blocks = ceil_div(m, mc);
  const std::int64_t pairs = ceil_div(k, 2);
  const std::int64_t kp_max = ceil_div(pairs, ceil_div(pairs, kKp));  // equal k blocks
  const std::int64_t nc_max = round_up(ceil_div(n, ceil_div(n, kNc)), nr);
  std::uint32_t* bp = t_pack_b.get<std::uint32_t>(kp_max * nc_max);

  for (std::int64_t jc = 0; jc < n; jc += nc_max) {
    const std::int64_t nc = std::min(nc_max, n - jc);
    const std::int64_t n_panels = ceil_div(nc, nr);
    const std::int64_t n_groups =
        m_blocks >= threads ? 1 : std::min(n_panels, ceil_div(threads, m_blocks));
    const std::int64_t group_panels = ceil_div(n_panels, n_groups);
    for (std::int64_t pc = 0; pc < pairs; pc += kp_max) {
      const std::int64_t kp = std::min(kp_max, pairs - pc);
      const std::int64_t k0 = 2 * pc, k_end = k - k0;
      const bool accumulate = accumulate_c || pc > 0;
      const MatrixRef<const std::uint16_t> b_block{b.data + k0 * b.row_stride + jc * b.col_stride,
                                                   b.row_stride, b.col_stride};
      run_tasks(n_panels, threads, [&](std::int64_t p0, std::int64_t p1) {
        pack_b(kp, k_end, nc, p0 * nr, std::min(p1 * nr, nc), b_block, bp);
      });
      run_tasks(m_blocks * n_groups, threads, [&](std::int64_t t0, std::int64_t t1) {
        std::uint32_t* ap = t_pack_a.get<std::uint32_t>(mc * kp_max);
        std::int64_t packed = -1;
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t ib = t / n_groups, g = t % n_groups;
          const std::int64_t i0 = ib * mc, mcur = std::min(mc, m - i0);
          if (packed != ib) {
            pack_a(mcur, kp, k_end,
                   {a.data + i0 * a.row_stride + k0 * a.col_stride, a.row_stride, a.col_stride}, ap);
            packed = ib;
          }
          const std::int64_t jp_end = std::min(n_panels, (g + 1) * group_panels);
          for (std::int64_t jp = g * group_panels; jp < jp_end; ++jp) {
            const std::int64_t j = jp * nr, ncur = std::min<std::int64_t>(nr, nc - j);
            const std::uint32_t* b_panel = bp + j * kp;
            for (std::int64_t ir = 0; ir < mcur; ir += mr) {
              const std::int64_t rows = std::min<std::int64_t>(mr, mcur - ir);
              float* cij = c.data + (i0 + ir) * c.row_stride + (jc + j) * c.col_stride;
              if (rows == mr && ncur == nr && c.col_stride == 1) {
                detail::gemm_bf16_kernel_avx512bf16(kp, ap + ir * kp, b_panel, cij, c.row_stride,
                                                    accumulate);
                continue;
              }
              // Edge tile (or strided C): the full tile aside, then what exists of it.
              alignas(64) float tile[mr * nr];
              detail::gemm_bf16_kernel_avx512bf16(kp, ap + ir * kp, b_panel, tile, nr, false);
              for (std::int64_t r = 0; r < rows; ++r) {
                for (std::int64_t q = 0; q < ncur; ++q) {
                  float& dst = cij[r * c.row_stride + q * c.col_stride];
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

// Widens a strided bf16 matrix into a dense row-major float32 one (exact).
void widen(std::int64_t rows, std::int64_t cols, MatrixRef<const std::uint16_t> src, float* dst) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      dst[i * cols + j] = bf16_bits_to_f32(src.data[i * src.row_stride + j * src.col_stride]);
}

void gemm_portable(std::int64_t m, std::int64_t n, std::int64_t k,
                   MatrixRef<const std::uint16_t> a, MatrixRef<const std::uint16_t> b,
                   MatrixRef<float> c, bool accumulate) {
  // Three buffers of one thread's scratch: A and B widened, and the product when it is added.
  float* aw = t_pack_a.get<float>(m * k);
  float* bw = t_pack_b.get<float>(k * n);
  widen(m, k, a, aw);
  widen(k, n, b, bw);
  if (!accumulate) {
    gemm<float>(m, n, k, {aw, k, 1}, {bw, n, 1}, c);
    return;
  }
  float* prod = t_tmp.get<float>(m * n);
  gemm<float>(m, n, k, {aw, k, 1}, {bw, n, 1}, {prod, n, 1});
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c.data[i * c.row_stride + j * c.col_stride] += prod[i * n + j];
}

}  // namespace

bool gemm_bf16_native_supported() { return native_supported(); }

bool gemm_bf16_native_active() {
  return native_supported() && !g_force_portable.load(std::memory_order_relaxed);
}

void force_gemm_bf16_portable(bool portable) {
  g_force_portable.store(portable, std::memory_order_relaxed);
}

void gemm_bf16(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const std::uint16_t> a,
               MatrixRef<const std::uint16_t> b, MatrixRef<float> c, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) c.data[i * c.row_stride + j * c.col_stride] = 0.0f;
    return;
  }
  // Matrix-vector products and tiny products pad badly to 12 x 32 tiles: the float32 path's
  // gemv and triple loop serve them better.
  if (!gemm_bf16_native_active() || m == 1 || n == 1 || m * n * k <= kSmallMacs)
    return gemm_portable(m, n, k, a, b, c, accumulate);
  // A skinny C (few columns) pads badly to 32-wide panels; C^T = B^T A^T puts the small side on
  // the 12-row side instead.
  if (n < kBf16Nr / 2 && m > n) {
    return gemm_native(n, m, k, {b.data, b.col_stride, b.row_stride},
                       {a.data, a.col_stride, a.row_stride}, {c.data, c.col_stride, c.row_stride},
                       accumulate);
  }
  gemm_native(m, n, k, a, b, c, accumulate);
}

void batched_gemm_bf16(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                       MatrixRef<const std::uint16_t> a, std::int64_t a_batch_stride,
                       MatrixRef<const std::uint16_t> b, std::int64_t b_batch_stride,
                       MatrixRef<std::uint16_t> c, std::int64_t c_batch_stride) {
  if (m <= 0 || n <= 0) return;
  auto one = [&](std::int64_t p) {
    // The float32 product in this thread's buffer (t_tmp: the portable path's accumulate
    // buffer is not used here, accumulate being false).
    float* prod = t_tmp.get<float>(m * n);
    gemm_bf16(m, n, k, {a.data + p * a_batch_stride, a.row_stride, a.col_stride},
              {b.data + p * b_batch_stride, b.row_stride, b.col_stride}, {prod, n, 1});
    std::uint16_t* cp = c.data + p * c_batch_stride;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        cp[i * c.row_stride + j * c.col_stride] = f32_to_bf16_bits(prod[i * n + j]);
  };
  for_each_batch(batch, m * n * k, one);
}

}  // namespace reel::backends::cpu
