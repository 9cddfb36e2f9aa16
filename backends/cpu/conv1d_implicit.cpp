// conv1d as an implicit gemm (dense and grouped float32 convolutions of stride 1; conv1d.hpp
// explains when it is chosen). No im2col: for stride 1, tap k of output position t reads
// x[t + offset(k)], so a tile of output positions reads, for each (input channel, tap), a
// contiguous run of x. The forward pass is then a sum of K gemms over shifted views of x:
//
//   y[n][co][t] = bias[co] + sum over ci, k of W[co][ci][k] * x[n][ci][t + offset(k)]
//
// and the micro-kernel (conv1d_implicit.avx512.cpp) computes an mr x nr tile of it with its B
// operand loaded straight from x. Only the weights are packed, once per call, into mr-row
// panels ordered (ci, k) so the kernel broadcasts them from memory. Zero padding: a tile whose
// taps reach outside [0, L) (the first and last tiles of a row) reads a small zero-padded copy
// of just its window instead, never a padded copy of x.
//
// backward_input (stride 1) is the same correlation of grad_out with the transposed, flipped
// weights: grad_x[ci][s] = sum over co, k' of W[co][ci][K-1-k'] * grad_y[co][s + pad_left -
// (K-1-k') * dilation], i.e. input grad_y, output grad_x, first offset pad_left - (K-1) *
// dilation; the same driver runs it with the other packing. backward_weight, a reduction over
// positions, has its own kernel (conv1d_wgrad.cpp).
//
// Threads: over (sample, group, tile of nr positions, chunk of weight panels); each unit writes
// a disjoint block of the output, so results do not depend on the split. Inside a unit the
// edge window (if any) is built once and reused by every panel; the panels (the whole packed
// weight, Cout x Cin/G x K floats) stay in L2, the tile's x rows in L1.
//
// Without AVX-512 the same driver runs a portable micro-kernel (plain loops, same semantics),
// so forcing this algorithm works everywhere; choose() picks it only where the AVX-512 kernel
// runs.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/cpu_features.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace detail {
// conv1d_implicit.avx512.cpp (call only when avx512_supported()).
void conv1d_implicit_kernel_6x64_avx512(std::int64_t depth, std::int64_t taps, std::int64_t dil,
                                        const float* wp, const float* xb, std::int64_t ldx,
                                        float* y, std::int64_t ldy, int rows, int cols,
                                        const float* bias);
void conv1d_implicit_kernel_8x48_avx512(std::int64_t depth, std::int64_t taps, std::int64_t dil,
                                        const float* wp, const float* xb, std::int64_t ldx,
                                        float* y, std::int64_t ldy, int rows, int cols,
                                        const float* bias);
void conv1d_implicit_rows_kernel_6x64_avx512(std::int64_t depth, std::int64_t taps,
                                             std::int64_t tap_step, const float* wp,
                                             const float* const* x, float* const* y,
                                             std::int64_t ldy, int rows, int cols,
                                             const float* bias);
}  // namespace detail

namespace {

using KernelFn = void (*)(std::int64_t, std::int64_t, std::int64_t, const float*, const float*,
                          std::int64_t, float*, std::int64_t, int, int, const float*);

// The portable micro-kernel: the AVX-512 kernel's contract in plain loops (MR x NR).
template <int MR, int NR>
void kernel_portable(std::int64_t depth, std::int64_t taps, std::int64_t dil, const float* wp,
                     const float* xb, std::int64_t ldx, float* y, std::int64_t ldy, int rows,
                     int cols, const float* bias) {
  float acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int t = 0; t < NR; ++t) acc[r][t] = 0.0f;
  for (std::int64_t i = 0; i < depth; ++i) {
    for (std::int64_t k = 0; k < taps; ++k) {
      const float* xk = xb + i * ldx + k * dil;
      for (int r = 0; r < MR; ++r)
        for (int t = 0; t < NR; ++t) acc[r][t] += wp[r] * xk[t];
      wp += MR;
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < cols; ++t) y[r * ldy + t] = bias != nullptr ? acc[r][t] + bias[r] : acc[r][t];
}

struct Kernel {
  int mr, nr;
  KernelFn fn;
};

// The flags the *.avx512.cpp files get, with the OS saving the zmm state.
bool detect_avx512() {
  return avx512_usable(kAvx512F | kAvx512DQ | kAvx512CD | kAvx512BW | kAvx512VL);
}

std::atomic<bool> g_portable{false};  // force_conv1d_implicit_portable

}  // namespace

bool conv1d_implicit_native() {
  static const bool supported = detect_avx512();
  return supported && !g_portable.load(std::memory_order_relaxed);
}

void force_conv1d_implicit_portable(bool portable) {
  g_portable.store(portable, std::memory_order_relaxed);
}

namespace {

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// The kernel for `rows` output rows per group of `len` positions: the tile shape that computes
// fewer padded elements (zero rows in the last panel, masked columns in the last tile); on a tie
// 8 rows x 3 vectors where the rows divide by 8 and not by 6, else 6 x 4 (longer tiles: fewer
// window edges, and the x loads amortized over 24 FMAs).
Kernel pick_kernel(std::int64_t rows, std::int64_t len) {
  if (conv1d_implicit_native()) {
    const Kernel k8{8, 48, detail::conv1d_implicit_kernel_8x48_avx512};
    const Kernel k6{6, 64, detail::conv1d_implicit_kernel_6x64_avx512};
    const auto padded = [&](const Kernel& k) {
      return ceil_div(rows, k.mr) * k.mr * ceil_div(len, k.nr) * k.nr;
    };
    if (padded(k8) != padded(k6)) return padded(k8) < padded(k6) ? k8 : k6;
    return rows % 8 == 0 && rows % 6 != 0 ? k8 : k6;
  }
  return {6, 64, kernel_portable<6, 64>};
}

// A stride-1 correlation per (sample, group):
//   out[n][g*cout + o][t] = bias[g*cout + o] + sum over i < cin, k < taps of
//                           w(g, o, i, k) * in[n][g*cin + i][t + off0 + k*dil]   (0 outside)
struct Correlation {
  std::int64_t batch, groups, cin, cout, len_in, len_out, taps, dil, off0;
};

// Packed weights: [group][panel][i][k][mr], rows past cout zero. `get(g, o, i, k)`.
template <class Get>
void pack_weights(const Correlation& p, int mr, float* wp, Get get) {
  const std::int64_t panels = ceil_div(p.cout, mr);
  const std::int64_t panel_size = p.cin * p.taps * mr;
  parallel_for(0, p.groups * panels, std::max<std::int64_t>(1, 16384 / panel_size),
               [&](std::int64_t u0, std::int64_t u1) {
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t g = u / panels, o0 = u % panels * mr;
      float* dst = wp + u * panel_size;
      for (std::int64_t i = 0; i < p.cin; ++i) {
        for (std::int64_t k = 0; k < p.taps; ++k) {
          for (int r = 0; r < mr; ++r)
            *dst++ = o0 + r < p.cout ? get(g, o0 + r, i, k) : 0.0f;
        }
      }
    }
  });
}

void correlate(const Correlation& p, const Kernel& kern, float* out, const float* in,
               const float* wp, const float* bias) {
  const std::int64_t nr = kern.nr;
  const std::int64_t panels = ceil_div(p.cout, kern.mr);
  const std::int64_t panel_size = p.cin * p.taps * kern.mr;
  const std::int64_t tiles = ceil_div(p.len_out, nr);
  const std::int64_t reach = (p.taps - 1) * p.dil;  // input positions a tile reads beyond nr
  const std::int64_t window = nr + reach;
  // Split the panels into chunks only when (sample, group, tile) gives too few units.
  const std::int64_t units_wanted = 4 * num_threads();
  const std::int64_t base_units = p.batch * p.groups * tiles;
  const std::int64_t chunks =
      base_units >= units_wanted ? 1 : std::min(panels, ceil_div(units_wanted, base_units));
  const std::int64_t unit_macs = ceil_div(panels, chunks) * panel_size * nr;
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 18) / unit_macs);
  parallel_for(0, base_units * chunks, grain, [&](std::int64_t u0, std::int64_t u1) {
    float* win = nullptr;  // this thread's zero-padded edge window, p.cin rows of `window`
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t chunk = u % chunks, v = u / chunks;
      const std::int64_t tile = v % tiles, g = v / tiles % p.groups, n = v / (tiles * p.groups);
      const std::int64_t t0 = tile * nr;
      const int cols = static_cast<int>(std::min(nr, p.len_out - t0));
      const float* ing = in + (n * p.groups + g) * p.cin * p.len_in;
      float* outg = out + (n * p.groups + g) * p.cout * p.len_out;
      const std::int64_t first = t0 + p.off0;  // input position of column 0, tap 0
      const float* xb = ing + first;
      std::int64_t ldx = p.len_in;
      if (first < 0 || first + window > p.len_in) {
        if (win == nullptr) win = scratch<float>(0, p.cin * window);
        for (std::int64_t i = 0; i < p.cin; ++i) {
          const float* src = ing + i * p.len_in;
          float* dst = win + i * window;
          const std::int64_t lo = std::clamp<std::int64_t>(-first, 0, window);
          const std::int64_t hi = std::clamp<std::int64_t>(p.len_in - first, lo, window);
          std::fill(dst, dst + lo, 0.0f);
          if (hi > lo)
            std::memcpy(dst + lo, src + first + lo, sizeof(float) * static_cast<std::size_t>(hi - lo));
          std::fill(dst + hi, dst + window, 0.0f);
        }
        xb = win;
        ldx = window;
      }
      const std::int64_t pc0 = panels * chunk / chunks, pc1 = panels * (chunk + 1) / chunks;
      for (std::int64_t pc = pc0; pc < pc1; ++pc) {
        const std::int64_t o0 = pc * kern.mr;
        const int rows = static_cast<int>(std::min<std::int64_t>(kern.mr, p.cout - o0));
        kern.fn(p.cin, p.taps, p.dil, wp + (g * panels + pc) * panel_size, xb, ldx,
                outg + o0 * p.len_out + t0, p.len_out, rows, cols,
                bias != nullptr ? bias + g * p.cout + o0 : nullptr);
      }
    }
  });
}

// Short rows (Fashion-MNIST's L 28/14/7): a row of a few dozen outputs is at most one partial
// tile, so most of the kernel's columns would be masked and every tile an edge window. For
// these the tile is transposed: 6 output positions x 64 output channels, positions broadcast
// and weights loaded as vectors, so the tiles run over (sample, position) pairs with no padding
// columns at all. The input is first copied channels-last, one block of S positions per sample:
//
//   xt[n * S + left + j][ch] = in[n][ch][j]   (j < len_in; zero rows where taps reach past the ends)
//
// with `left` and the right margin as wide as the taps reach outside [0, len_in), so a tap
// never reads another sample. Weights are packed as for correlate() with 64-row panels (one
// vector row of 64 output channels per (channel, tap)). Each output is the same FMA chain over
// (channel, tap) as in correlate(), bias added last: the bits do not depend on the path.
constexpr int kRowsMr = 6, kRowsPanel = 64;

void correlate_rows(const Correlation& p, float* out, const float* in, const float* wp,
                    const float* bias) {
  const Conv1dMargins m =
      conv1d_channels_last_margins(p.len_in, p.len_out, p.off0, (p.taps - 1) * p.dil);
  const std::int64_t span = m.left + p.len_in + m.right;  // positions per sample
  const std::int64_t channels = p.groups * p.cin;
  CachedBuffer<float> xt(p.batch * span * channels);
  conv1d_channels_last(in, p.batch, channels, p.len_in, m, xt.data);
  const std::int64_t panels = ceil_div(p.cout, kRowsPanel);
  const std::int64_t panel_size = p.cin * p.taps * kRowsPanel;
  const std::int64_t positions = p.batch * p.len_out;
  const std::int64_t tiles = ceil_div(positions, kRowsMr);
  const std::int64_t grain =
      std::max<std::int64_t>(1, (std::int64_t{1} << 18) / (panel_size * kRowsMr));
  parallel_for(0, p.groups * panels * tiles, grain, [&](std::int64_t u0, std::int64_t u1) {
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t tile = u % tiles, pc = u / tiles % panels, g = u / (tiles * panels);
      const std::int64_t q0 = tile * kRowsMr, co0 = pc * kRowsPanel;
      const int rows = static_cast<int>(std::min<std::int64_t>(kRowsMr, positions - q0));
      const float* x[kRowsMr];
      float* y[kRowsMr];
      for (int r = 0; r < rows; ++r) {
        const std::int64_t n = (q0 + r) / p.len_out, t = (q0 + r) % p.len_out;
        x[r] = xt.data + (n * span + m.left + t + p.off0) * channels + g * p.cin;
        y[r] = out + ((n * p.groups + g) * p.cout + co0) * p.len_out + t;
      }
      detail::conv1d_implicit_rows_kernel_6x64_avx512(
          p.cin, p.taps, p.dil * channels, wp + (g * panels + pc) * panel_size, x, y, p.len_out,
          rows, static_cast<int>(std::min<std::int64_t>(kRowsPanel, p.cout - co0)),
          bias != nullptr ? bias + g * p.cout + co0 : nullptr);
    }
  });
}

// Rows this short or shorter take correlate_rows (about one tile of correlate()'s kernels:
// bench_conv1d's Fashion-MNIST rows, L 7-28) where the AVX-512 kernels run, with at least 48
// output channels per group (at most a quarter of a 64-channel panel padding; conv1d.hpp).
bool rows_path(const Correlation& p) {
  return p.batch > 1 && p.len_out <= kConv1dShortRows && p.cout >= kConv1dRowsMinChannels &&
         conv1d_implicit_native();
}

// Packs the weights (`get(g, o, i, k)`, as pack_weights) for the kernel that suits p and runs
// the correlation.
template <class Get>
void run_correlation(const Correlation& p, float* out, const float* in, const float* bias,
                     Get get) {
  const bool rows = rows_path(p);
  const Kernel kern = rows ? Kernel{} : pick_kernel(p.cout, p.len_out);
  const int mr = rows ? kRowsPanel : kern.mr;  // output channels per packed panel
  CachedBuffer<float> wp(p.groups * ceil_div(p.cout, mr) * mr * p.cin * p.taps);
  pack_weights(p, mr, wp.data, get);
  if (rows) correlate_rows(p, out, in, wp.data, bias);
  else correlate(p, kern, out, in, wp.data, bias);
}

}  // namespace

void conv1d_channels_last(const float* in, std::int64_t batch, std::int64_t channels,
                          std::int64_t len, Conv1dMargins margins, float* out) {
  const std::int64_t left = margins.left, span = left + len + margins.right;
  parallel_for(0, batch, std::max<std::int64_t>(1, 16384 / (span * channels + 1)),
               [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      float* block = out + n * span * channels;
      std::fill(block, block + left * channels, 0.0f);
      std::fill(block + (left + len) * channels, block + span * channels, 0.0f);
      for (std::int64_t ch = 0; ch < channels; ++ch) {
        const float* src = in + (n * channels + ch) * len;
        float* dst = block + left * channels + ch;
        for (std::int64_t j = 0; j < len; ++j) dst[j * channels] = src[j];
      }
    }
  });
}

template <class T>
bool conv1d_implicit_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (c.stride != 1) return false;
    const Correlation p{c.batch,      c.groups,  c.in_per_group, c.out_per_group, c.length,
                        c.out_length, c.kernel,  c.dilation,     -c.pad_left};
    const std::int64_t rows = c.in_per_group * c.kernel;
    run_correlation(p, y, x, b, [&](std::int64_t g, std::int64_t o, std::int64_t i, std::int64_t k) {
      return w[(g * c.out_per_group + o) * rows + i * c.kernel + k];
    });
    return true;
  }
}

template <class T>
bool conv1d_implicit_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (c.stride != 1) return false;
    const Correlation p{c.batch,      c.groups, c.out_per_group, c.in_per_group,
                        c.out_length, c.length, c.kernel,        c.dilation,
                        c.pad_left - (c.kernel - 1) * c.dilation};
    const std::int64_t rows = c.in_per_group * c.kernel;
    // Output channel ci of the correlation is the convolution's input channel, its input
    // channel co the convolution's output channel, and its tap k' the convolution's K-1-k'.
    run_correlation(p, gx, gy, nullptr,
                    [&](std::int64_t g, std::int64_t ci, std::int64_t co, std::int64_t k) {
                      return w[(g * c.out_per_group + co) * rows + ci * c.kernel + (c.kernel - 1 - k)];
                    });
    return true;
  }
}

template bool conv1d_implicit_forward<float>(const Conv1dProblem&, float*, const float*,
                                             const float*, const float*);
template bool conv1d_implicit_forward<double>(const Conv1dProblem&, double*, const double*,
                                              const double*, const double*);
template bool conv1d_implicit_backward_input<float>(const Conv1dProblem&, float*, const float*,
                                                    const float*);
template bool conv1d_implicit_backward_input<double>(const Conv1dProblem&, double*,
                                                     const double*, const double*);

}  // namespace reel::backends::cpu
