// CPU conv1d, the FFT algorithm (issue 10): overlap-save with KissFFT's real transforms, for
// long kernels, where the direct sum's K multiply-adds per output and channel pair cost more
// than a transform of each row and one complex product per frequency bin. conv1d.hpp explains
// where it runs; this file is the how.
//
// Every pass is a correlation of some rows with some kernels,
//   out[n][o][t] = sum_{i in o's group} sum_k h(o, i, k) * in[n][i][t + k * dilation + offset],
// (forward: in = x, h = w, offset = -pad_left; backward_input: in = grad_out, h = w transposed
// per group and flipped, offset = pad_left - (K-1) * dilation), cut into blocks of S outputs:
// block b reads the B = S + Kd - 1 inputs from b * S + offset (Kd = (K-1) * dilation + 1, the
// dense length of a dilated kernel; zeros outside the row), and the B-point circular
// correlation of that window with the kernel is the convolution's output exactly at its first S
// positions. In frequency: Y = conj(H) * U per bin, summed over the group's input channels --
// per bin a complex (Cout/G x Cin/G) by (Cin/G x blocks) product, done as one real gemm of
// [[Hr, Hi], [-Hi, Hr]] by [Ur; Ui] (gemm.hpp: packed, vectorised) over all the blocks of all
// samples at once. backward_weight correlates x's windows with grad_out's blocks (zero past S):
// R = sum over blocks of conj(G) * U, one real gemm per bin of [Gr; Gi] by [Ur, Ui]^T, and one
// inverse transform per (co, ci) read at the taps.
//
// Stages, each threaded over disjoint outputs (so results do not depend on the thread count):
// the kernels' spectra (per output channel), the windows' spectra (per input channel and tile of
// 16 blocks, transposed into per-bin rows), the per-bin gemms (per bin), the inverse transforms
// (per output channel and tile of blocks). Blocks are processed in chunks, so scratch stays a
// few MB for any batch or length. KissFFT computes in float only: float64 runs another
// algorithm (the functions return false), as does stride > 1.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/gemm.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/host_memory.hpp"

#ifdef REEL_WITH_FFT
#include <kiss_fftr.h>
#endif

namespace reel::backends::cpu {

namespace {
std::atomic<std::int64_t> g_block{0};
}  // namespace

void set_conv1d_fft_block(std::int64_t block) { g_block.store(block, std::memory_order_relaxed); }

bool conv1d_fft_available() {
#ifdef REEL_WITH_FFT
  return true;
#else
  return false;
#endif
}

namespace {
// The modelled cost per output position of the FFT algorithm with block length b, in
// multiply-adds of the gemm: per block, the transforms of its input and output rows (kFftCost
// per B log2 B each) and the per-bin gemm (B/2 + 1 bins of 4 Cin Cout / G real multiply-adds:
// ~2 B Cin Cout / G); once per call, the Cout Cin / G kernel transforms (backward_weight's
// inverse ones, as many); over the N Lout outputs. kFftCost, KissFFT's time per B log2 B over
// the gemm's per multiply-add, was fitted on bench_conv1d_algorithms --fft-sweep
// (docs/benchmarks.md, "Long kernels: the FFT path").
constexpr double kFftCost = 10.0;
double fft_cost(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups,
                std::int64_t dense_kernel, std::int64_t out_length, std::int64_t batch,
                std::int64_t b) {
  std::int64_t log2b = 0;
  while ((std::int64_t{1} << log2b) < b) ++log2b;
  const double transform = kFftCost * static_cast<double>(b * log2b);
  const double pairs = static_cast<double>(in_channels) * static_cast<double>(out_channels) /
                       static_cast<double>(groups);
  const double per_block = transform * static_cast<double>(in_channels + out_channels) +
                           2.0 * pairs * static_cast<double>(b);
  const std::int64_t step = b - dense_kernel + 1;
  const double blocks = static_cast<double>(batch * ((out_length + step - 1) / step));
  const double outputs = static_cast<double>(batch) * static_cast<double>(out_length);
  return (blocks * per_block + transform * pairs) / outputs;
}
}  // namespace

// The block length: the power of two (>= 16 and >= 2 Kd, so at least half of each block is
// output) that minimises fft_cost, never longer than needed for the whole row in one block.
std::int64_t conv1d_fft_block(std::int64_t in_channels, std::int64_t out_channels,
                              std::int64_t groups, std::int64_t dense_kernel,
                              std::int64_t out_length, std::int64_t batch) {
  constexpr std::int64_t kMaxBlock = std::int64_t{1} << 16;
  const std::int64_t forced = g_block.load(std::memory_order_relaxed);
  if (forced > 0) return forced >= dense_kernel + 1 && forced % 2 == 0 ? forced : 0;
  std::int64_t lo = 16;
  while (lo < 2 * dense_kernel) lo *= 2;
  if (lo > kMaxBlock) return 0;
  std::int64_t best = lo;
  double best_cost = fft_cost(in_channels, out_channels, groups, dense_kernel, out_length, batch, lo);
  for (std::int64_t b = 2 * lo; b <= kMaxBlock && b / 2 < out_length + dense_kernel - 1; b *= 2) {
    const double cost = fft_cost(in_channels, out_channels, groups, dense_kernel, out_length, batch, b);
    if (cost < best_cost) best = b, best_cost = cost;
  }
  return best;
}

// Auto's rule: the direct sum's K Cin/G multiply-adds per output and output channel against
// fft_cost; the FFT algorithm is taken where their ratio reaches `win`. Fitted on
// bench_conv1d_algorithms --fft-sweep at 2 threads (docs/benchmarks.md): forward (and
// backward_input, the same correlation) measured >= 1.5x faster than the better of Gemm and
// Implicit on every grid point with a ratio >= 8, and mixed (0.9-1.6x) between 7 and 8.
// backward_weight has no Implicit rival and Gemm's is slower than its forward: from 4 (an
// estimate from the fwd+bwd totals, whose FFT/best ratios are mostly >= 1.5 there; not a
// separate sweep). Stride 1, at least 4 input channels per group (depthwise and nearly so keep
// the direct kernel), k >= 8, spectra under 128 MB, and KissFFT built in; float64 and bfloat16
// calls it picks run Gemm (the caller's fallback), which is what they would get anyway.
bool conv1d_fft_preferred(const Conv1dProblem& c, bool backward_weight) {
  const double win = backward_weight ? 4.0 : 8.0;
  if (!conv1d_fft_available() || c.stride != 1 || c.in_per_group < 4 || c.kernel < 8) return false;
  const std::int64_t dense = (c.kernel - 1) * c.dilation + 1;
  const std::int64_t b =
      conv1d_fft_block(c.in_channels, c.out_channels, c.groups, dense, c.out_length, c.batch);
  if (b == 0) return false;
  // The per-bin kernel spectra (backward_weight: the summed products, twice) take about 2 B / K
  // times the weights' memory: past 128 MB (e.g. 256 -> 256 channels, k 255) Auto keeps Gemm.
  const double spectra_bytes = static_cast<double>(b / 2 + 1) * 4.0 *
                               static_cast<double>(c.out_channels * c.in_per_group) * 4.0 * 2.0;
  if (spectra_bytes > 128.0 * (1 << 20)) return false;
  const double direct = static_cast<double>(c.out_per_group * c.in_per_group * c.kernel) *
                        static_cast<double>(c.groups);  // per output position, all channels
  const double fft =
      fft_cost(c.in_channels, c.out_channels, c.groups, dense, c.out_length, c.batch, b);
  return direct >= win * fft;
}

#ifdef REEL_WITH_FFT
namespace {

constexpr std::int64_t kTile = 16;  // blocks per transform task (rows of 16 floats per bin)

// KissFFT's real-transform states hold their own work buffer, so each thread keeps its own,
// for the last block length it used.
struct FftPlans {
  std::int64_t n = 0;
  kiss_fftr_cfg forward = nullptr;
  kiss_fftr_cfg inverse = nullptr;
  FftPlans() = default;
  FftPlans(const FftPlans&) = delete;
  FftPlans& operator=(const FftPlans&) = delete;
  ~FftPlans() { reset(); }
  void reset() {
    kiss_fftr_free(forward);
    kiss_fftr_free(inverse);
    forward = inverse = nullptr;
    n = 0;
  }
  void ensure(std::int64_t block) {
    if (n == block) return;
    reset();
    forward = kiss_fftr_alloc(static_cast<int>(block), 0, nullptr, nullptr);
    inverse = kiss_fftr_alloc(static_cast<int>(block), 1, nullptr, nullptr);
    if (forward == nullptr || inverse == nullptr) {
      reset();
      fail_host_allocation(static_cast<std::size_t>(block) * 16);
    }
    n = block;
  }
};
thread_local FftPlans t_plans;

// One correlation problem (see the header comment); rows are contiguous.
struct Corr {
  std::int64_t batch, in_ch, out_ch, groups, in_len, out_len, kernel, dilation, offset;
  std::int64_t in_pg() const { return in_ch / groups; }
  std::int64_t out_pg() const { return out_ch / groups; }
  std::int64_t dense() const { return (kernel - 1) * dilation + 1; }
};

struct Blocking {
  std::int64_t block, bins, step, per_row, total, chunk;
};

Blocking blocking(const Corr& c, std::int64_t block, std::int64_t channels) {
  Blocking k{};
  k.block = block;
  k.bins = block / 2 + 1;
  k.step = block - c.dense() + 1;
  k.per_row = (c.out_len + k.step - 1) / k.step;
  k.total = c.batch * k.per_row;
  // Spectra of `channels` rows (re and im) per block: chunks of ~12 MB, whole tiles.
  const std::int64_t per_block = k.bins * 2 * channels * static_cast<std::int64_t>(sizeof(float));
  std::int64_t chunk = std::max<std::int64_t>(kTile, (std::int64_t{12} << 20) / per_block);
  chunk = chunk / kTile * kTile;
  k.chunk = std::min(chunk, (k.total + kTile - 1) / kTile * kTile);
  return k;
}

// Spectra of the windows of `rows` rows of `src` (channels x len per sample) for blocks
// [p0, p1): block p = (n, b) reads `take` values from b * step + offset (zeros outside the row
// and past `take`). Written transposed, one row of blocks per (bin f, channel i, part r: 0 re,
// 1 im): spec[(f * 2 * rows + g * 2 * rows_pg + r * rows_pg + il) * ld + (p - p0)] for channel
// il of group g, so each group's [re; im] stack is one (2 rows_pg x blocks) matrix per bin.
void window_spectra(const Blocking& k, std::int64_t rows, std::int64_t rows_pg, std::int64_t len,
                    const float* src, std::int64_t offset, std::int64_t take, std::int64_t p0,
                    std::int64_t p1, std::int64_t ld, float* spec) {
  const std::int64_t tiles = (p1 - p0 + kTile - 1) / kTile;
  parallel_for(0, rows * tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
    t_plans.ensure(k.block);
    float* window = scratch<float>(3, k.block + 2 * k.bins * kTile);
    auto* freq = reinterpret_cast<kiss_fft_cpx*>(window + k.block);
    for (std::int64_t task = t0; task < t1; ++task) {
      const std::int64_t i = task / tiles;
      const std::int64_t q0 = p0 + (task % tiles) * kTile;
      const std::int64_t q1 = std::min(p1, q0 + kTile);
      for (std::int64_t p = q0; p < q1; ++p) {
        const std::int64_t n = p / k.per_row;
        const std::int64_t start = (p % k.per_row) * k.step + offset;
        const float* row = src + (n * rows + i) * len;
        const std::int64_t lo = std::clamp<std::int64_t>(-start, 0, take);
        const std::int64_t hi = std::clamp<std::int64_t>(len - start, lo, take);
        std::fill(window, window + lo, 0.0F);
        if (hi > lo) std::copy(row + start + lo, row + start + hi, window + lo);
        std::fill(window + hi, window + k.block, 0.0F);
        kiss_fftr(t_plans.forward, window, freq + (p - q0) * k.bins);
      }
      const std::int64_t g = i / rows_pg;
      const std::int64_t il = i % rows_pg;
      for (std::int64_t f = 0; f < k.bins; ++f) {
        float* re = spec + (f * 2 * rows + g * 2 * rows_pg + il) * ld + (q0 - p0);
        float* im = re + rows_pg * ld;
        for (std::int64_t p = 0; p < q1 - q0; ++p) {
          re[p] = freq[p * k.bins + f].r;
          im[p] = freq[p * k.bins + f].i;
        }
      }
    }
  });
}

// Per bin and group, the real form of conj(H) as [[Hr, Hi], [-Hi, Hr]] (2 Cout/G x 2 Cin/G),
// H the transform of the dense kernel h(o, i, .) / B (the inverse transform's scale folded in).
template <class Tap>
void kernel_spectra(const Corr& c, const Blocking& k, Tap tap, float* a) {
  const std::int64_t opg = c.out_pg(), ipg = c.in_pg();
  parallel_for(0, c.out_ch, 1, [&](std::int64_t o0, std::int64_t o1) {
    t_plans.ensure(k.block);
    float* dense = scratch<float>(3, k.block + 2 * k.bins);
    auto* freq = reinterpret_cast<kiss_fft_cpx*>(dense + k.block);
    const float scale = 1.0F / static_cast<float>(k.block);
    for (std::int64_t o = o0; o < o1; ++o) {
      const std::int64_t g = o / opg, ol = o % opg;
      for (std::int64_t il = 0; il < ipg; ++il) {
        std::fill(dense, dense + k.block, 0.0F);
        for (std::int64_t kk = 0; kk < c.kernel; ++kk) dense[kk * c.dilation] = tap(o, il, kk) * scale;
        kiss_fftr(t_plans.forward, dense, freq);
        for (std::int64_t f = 0; f < k.bins; ++f) {
          float* m = a + (f * c.groups + g) * 4 * opg * ipg;  // 2 opg rows of 2 ipg
          m[ol * 2 * ipg + il] = freq[f].r;
          m[ol * 2 * ipg + ipg + il] = freq[f].i;
          m[(opg + ol) * 2 * ipg + il] = -freq[f].i;
          m[(opg + ol) * 2 * ipg + ipg + il] = freq[f].r;
        }
      }
    }
  });
}

// The correlation `c` of `in` with the taps tap(o, i, k), plus bias (may be null), into `out`.
template <class Tap>
void correlate(const Corr& c, float* out, const float* in, Tap tap, const float* bias,
               std::int64_t block) {
  const Blocking k = blocking(c, block, c.in_ch + c.out_ch);
  const std::int64_t opg = c.out_pg(), ipg = c.in_pg(), ld = k.chunk;
  // Scratch slots: 2 the kernels' spectra, 0 the windows', 1 the outputs', 3 per-task buffers.
  float* a = scratch<float>(2, k.bins * c.groups * 4 * opg * ipg);
  float* xs = scratch<float>(0, k.bins * 2 * c.in_ch * ld);
  float* ys = scratch<float>(1, k.bins * 2 * c.out_ch * ld);
  kernel_spectra(c, k, tap, a);
  for (std::int64_t p0 = 0; p0 < k.total; p0 += k.chunk) {
    const std::int64_t p1 = std::min(k.total, p0 + k.chunk);
    window_spectra(k, c.in_ch, ipg, c.in_len, in, c.offset, k.block, p0, p1, ld, xs);
    parallel_for(0, k.bins * c.groups, 1, [&](std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; ++j) {  // j = f * groups + g
        const std::int64_t f = j / c.groups, g = j % c.groups;
        gemm<float>(2 * opg, p1 - p0, 2 * ipg, {a + j * 4 * opg * ipg, 2 * ipg, 1},
                    {xs + (f * 2 * c.in_ch + g * 2 * ipg) * ld, ld, 1},
                    {ys + (f * 2 * c.out_ch + g * 2 * opg) * ld, ld, 1});
      }
    });
    const std::int64_t tiles = (p1 - p0 + kTile - 1) / kTile;
    parallel_for(0, c.out_ch * tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
      t_plans.ensure(k.block);
      float* row = scratch<float>(3, k.block + 2 * k.bins);
      auto* freq = reinterpret_cast<kiss_fft_cpx*>(row + k.block);
      for (std::int64_t task = t0; task < t1; ++task) {
        const std::int64_t o = task / tiles;
        const std::int64_t q0 = p0 + (task % tiles) * kTile;
        const std::int64_t q1 = std::min(p1, q0 + kTile);
        const std::int64_t g = o / opg, ol = o % opg;
        const float* re = ys + (g * 2 * opg + ol) * ld;
        const float* im = re + opg * ld;
        const float b = bias != nullptr ? bias[o] : 0.0F;
        for (std::int64_t p = q0; p < q1; ++p) {
          for (std::int64_t f = 0; f < k.bins; ++f) {
            freq[f].r = re[f * 2 * c.out_ch * ld + (p - p0)];
            freq[f].i = im[f * 2 * c.out_ch * ld + (p - p0)];
          }
          kiss_fftri(t_plans.inverse, freq, row);
          const std::int64_t n = p / k.per_row;
          const std::int64_t t0_out = (p % k.per_row) * k.step;
          const std::int64_t count = std::min(k.step, c.out_len - t0_out);
          float* dst = out + (n * c.out_ch + o) * c.out_len + t0_out;
          for (std::int64_t t = 0; t < count; ++t) dst[t] = row[t] + b;
        }
      }
    });
  }
}

Corr forward_corr(const Conv1dProblem& c) {
  return {c.batch, c.in_channels, c.out_channels, c.groups, c.length, c.out_length,
          c.kernel, c.dilation, -c.pad_left};
}

}  // namespace

template <>
bool conv1d_fft_forward<float>(const Conv1dProblem& c, float* y, const float* x, const float* w,
                               const float* b) {
  if (c.stride != 1) return false;
  const Corr corr = forward_corr(c);
  const std::int64_t block = conv1d_fft_block(c.in_channels, c.out_channels, c.groups,
                                              corr.dense(), c.out_length, c.batch);
  if (block == 0) return false;
  const std::int64_t ipg = c.in_per_group, kk = c.kernel;
  correlate(corr, y, x,
            [&](std::int64_t o, std::int64_t il, std::int64_t k) { return w[(o * ipg + il) * kk + k]; },
            b, block);
  return true;
}

template <>
bool conv1d_fft_backward_input<float>(const Conv1dProblem& c, float* gx, const float* gy,
                                      const float* w) {
  if (c.stride != 1) return false;
  // grad_x[n][ci][s] = sum_co sum_k w[co][ci][K-1-k] * grad_out[n][co][s + k d + offset]:
  // grad_out's rows correlated with the weights transposed per group and flipped.
  const Corr corr{c.batch, c.out_channels, c.in_channels, c.groups, c.out_length, c.length,
                  c.kernel, c.dilation, c.pad_left - (c.kernel - 1) * c.dilation};
  const std::int64_t block = conv1d_fft_block(c.out_channels, c.in_channels, c.groups,
                                              corr.dense(), c.length, c.batch);
  if (block == 0) return false;
  const std::int64_t ipg = c.in_per_group, opg = c.out_per_group, kk = c.kernel;
  correlate(corr, gx, gy,
            [&](std::int64_t ci, std::int64_t col, std::int64_t k) {
              const std::int64_t co = (ci / ipg) * opg + col;
              return w[(co * ipg + ci % ipg) * kk + (kk - 1 - k)];
            },
            nullptr, block);
  return true;
}

template <>
bool conv1d_fft_backward_weight<float>(const Conv1dProblem& c, float* gw, float* gb,
                                       const float* gy, const float* x) {
  if (c.stride != 1 || gw == nullptr) return false;
  const Corr corr = forward_corr(c);
  const std::int64_t block = conv1d_fft_block(c.in_channels, c.out_channels, c.groups,
                                              corr.dense(), c.out_length, c.batch);
  if (block == 0) return false;
  const Blocking k = blocking(corr, block, c.in_channels + c.out_channels);
  const std::int64_t opg = c.out_per_group, ipg = c.in_per_group, ld = k.chunk;
  const std::int64_t mat = 4 * opg * ipg;  // one bin's [Gr; Gi] [Ur, Ui]^T per group
  // Scratch slots: 0 x's window spectra, 1 grad_out's block spectra, 2 the summed products.
  float* xs = scratch<float>(0, k.bins * 2 * c.in_channels * ld);
  float* gs = scratch<float>(1, k.bins * 2 * c.out_channels * ld);
  float* acc = scratch<float>(2, k.bins * c.groups * mat * 2);  // sums, then one chunk's products
  float* part = acc + k.bins * c.groups * mat;
  for (std::int64_t p0 = 0; p0 < k.total; p0 += k.chunk) {
    const std::int64_t p1 = std::min(k.total, p0 + k.chunk);
    window_spectra(k, c.in_channels, ipg, c.length, x, corr.offset, k.block, p0, p1, ld, xs);
    window_spectra(k, c.out_channels, opg, c.out_length, gy, 0, k.step, p0, p1, ld, gs);
    parallel_for(0, k.bins * c.groups, 1, [&](std::int64_t j0, std::int64_t j1) {
      for (std::int64_t j = j0; j < j1; ++j) {
        const std::int64_t f = j / c.groups, g = j % c.groups;
        float* dst = p0 == 0 ? acc + j * mat : part + j * mat;
        gemm<float>(2 * opg, 2 * ipg, p1 - p0, {gs + (f * 2 * c.out_channels + g * 2 * opg) * ld, ld, 1},
                    {xs + (f * 2 * c.in_channels + g * 2 * ipg) * ld, 1, ld}, {dst, 2 * ipg, 1});
        if (p0 != 0)
          for (std::int64_t e = 0; e < mat; ++e) acc[j * mat + e] += dst[e];
      }
    });
  }
  // R = conj(G) U = (Gr Ur + Gi Ui) + i (Gr Ui - Gi Ur); the taps are R's inverse at k * d.
  parallel_for(0, c.out_channels, 1, [&](std::int64_t o0, std::int64_t o1) {
    t_plans.ensure(k.block);
    float* row = scratch<float>(3, k.block + 2 * k.bins);
    auto* freq = reinterpret_cast<kiss_fft_cpx*>(row + k.block);
    const float scale = 1.0F / static_cast<float>(k.block);
    for (std::int64_t o = o0; o < o1; ++o) {
      const std::int64_t g = o / opg, ol = o % opg;
      for (std::int64_t il = 0; il < ipg; ++il) {
        for (std::int64_t f = 0; f < k.bins; ++f) {
          const float* m = acc + (f * c.groups + g) * mat;
          const float gr_ur = m[ol * 2 * ipg + il], gr_ui = m[ol * 2 * ipg + ipg + il];
          const float gi_ur = m[(opg + ol) * 2 * ipg + il];
          const float gi_ui = m[(opg + ol) * 2 * ipg + ipg + il];
          freq[f].r = gr_ur + gi_ui;
          freq[f].i = gr_ui - gi_ur;
        }
        kiss_fftri(t_plans.inverse, freq, row);
        for (std::int64_t kk = 0; kk < c.kernel; ++kk)
          gw[(o * ipg + il) * c.kernel + kk] = row[kk * c.dilation] * scale;
      }
    }
  });
  if (gb != nullptr) conv1d_bias_grad<float>(c, gb, gy);
  return true;
}

#else  // built without KissFFT: every call runs another algorithm

template <>
bool conv1d_fft_forward<float>(const Conv1dProblem&, float*, const float*, const float*,
                               const float*) {
  return false;
}
template <>
bool conv1d_fft_backward_input<float>(const Conv1dProblem&, float*, const float*, const float*) {
  return false;
}
template <>
bool conv1d_fft_backward_weight<float>(const Conv1dProblem&, float*, float*, const float*,
                                       const float*) {
  return false;
}

#endif

// float64: KissFFT's Debian build is float only.
template <>
bool conv1d_fft_forward<double>(const Conv1dProblem&, double*, const double*, const double*,
                                const double*) {
  return false;
}
template <>
bool conv1d_fft_backward_input<double>(const Conv1dProblem&, double*, const double*,
                                       const double*) {
  return false;
}
template <>
bool conv1d_fft_backward_weight<double>(const Conv1dProblem&, double*, double*, const double*,
                                        const double*) {
  return false;
}

}  // namespace reel::backends::cpu
