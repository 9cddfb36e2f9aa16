// The CPU backend's conv1d kernels checked against the reference kernels (the oracle) over
// random configurations: every padding pattern (none, symmetric, the asymmetric split of
// 'same', causal left-only, right-only, arbitrary), strides and dilations 1-4, dense, grouped
// and depthwise convolutions (with channel multipliers), 1x1 kernels, batch 1-4, float32 and
// float64 mostly and some complex; plus a handful of long sequences and wide layers. Each
// configuration runs forward, backward_input and backward_weight (+ bias) on every algorithm
// the CPU backend has (its own choice, gemm, direct), at 1 or 2 threads, on a random SIMD
// architecture the machine supports, with the gemm's default or its smallest im2col tiles.
//
// Tolerance: the fast kernels sum in another order (and float32 in float32), so each element
// may differ from the oracle by a rounding error relative to the sum of the absolute values of
// its terms; that sum is the reference kernel run on |x|, |w|, |grad_out| (and |bias|).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "reel.hpp"

namespace {

using namespace reel;
using namespace reel::backends;
using cpu::Conv1dAlgorithm;

std::mt19937_64& rng() {
  static std::mt19937_64 g(20240603);
  return g;
}
std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {  // inclusive
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

struct Config {
  DType dtype = kFloat32;
  std::int64_t n = 1, cin = 1, cout = 1, length = 1, kernel = 1;
  Conv1dParams p;
  std::int64_t out_length() const {
    const std::int64_t span = p.dilation * (kernel - 1) + 1;
    return (length + p.pad_left + p.pad_right - span) / p.stride + 1;
  }
  bool valid() const {
    return p.dilation * (kernel - 1) + 1 <= length + p.pad_left + p.pad_right;
  }
  std::string str() const {
    return fmt::format("{} N={} Cin={} Cout={} L={} K={} stride={} pad=({}, {}) dilation={} "
                       "groups={}", dtype, n, cin, cout, length, kernel, p.stride, p.pad_left,
                       p.pad_right, p.dilation, p.groups);
  }
};

// A random configuration: one of four channel structures and six padding patterns. `scale`
// multiplies channel counts and lengths (medium configurations are big enough to be split
// over threads).
Config random_config(std::int64_t scale = 1) {
  Config c;
  const std::int64_t pick = rand_int(0, 19);
  c.dtype = pick < 9 ? kFloat32 : pick < 18 ? kFloat64 : pick == 18 ? kComplex64 : kComplex128;
  c.n = rand_int(1, 4);
  const std::int64_t structure = rand_int(0, 3);
  switch (structure) {
    case 0:  // dense
      c.cin = rand_int(1, 8 * scale), c.cout = rand_int(1, 8 * scale);
      break;
    case 1:  // grouped
      c.p.groups = rand_int(2, 4);
      c.cin = c.p.groups * rand_int(1, 4 * scale), c.cout = c.p.groups * rand_int(1, 4 * scale);
      break;
    case 2:  // depthwise, channel multiplier 1-3
      c.cin = c.p.groups = rand_int(1, 8 * scale);
      c.cout = c.cin * rand_int(1, 3);
      break;
    default:  // whatever, with a 1x1 kernel
      c.p.groups = rand_int(1, 2);
      c.cin = c.p.groups * rand_int(1, 6 * scale), c.cout = c.p.groups * rand_int(1, 6 * scale);
      break;
  }
  do {
    c.kernel = c.p.groups == c.cin && c.cin > 1 ? rand_int(1, 9) : rand_int(1, 7);
    if (structure == 3) c.kernel = 1;
    c.p.stride = rand_int(1, 4);
    c.p.dilation = rand_int(1, 4);
    c.length = rand_int(0, 5) == 0 ? rand_int(1, 8) : rand_int(1, 90 * scale);
    const std::int64_t total = c.p.dilation * (c.kernel - 1);  // 'same' / causal padding
    switch (rand_int(0, 5)) {
      case 0: c.p.pad_left = c.p.pad_right = 0; break;                          // valid
      case 1: c.p.pad_left = c.p.pad_right = rand_int(0, 4); break;            // symmetric
      case 2: c.p.pad_left = total / 2, c.p.pad_right = total - total / 2; break;  // 'same'
      case 3: c.p.pad_left = total, c.p.pad_right = 0; break;                  // causal
      case 4: c.p.pad_left = 0, c.p.pad_right = rand_int(1, 5); break;         // right only
      default: c.p.pad_left = rand_int(0, 6), c.p.pad_right = rand_int(0, 6); break;
    }
  } while (!c.valid());
  return c;
}

// Long sequences, wide layers, and the benchmark's shapes at a reduced size.
std::vector<Config> big_configs() {
  auto make = [](DType t, std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                 std::int64_t k, std::int64_t s, std::int64_t pl, std::int64_t pr,
                 std::int64_t d, std::int64_t g) {
    Config c;
    c.dtype = t, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
    c.p = Conv1dParams{s, pl, pr, d, g};
    return c;
  };
  return {
      make(kFloat32, 1, 256, 256, 70, 3, 1, 1, 1, 1, 1),       // wide
      make(kFloat32, 2, 128, 256, 100, 9, 1, 4, 4, 1, 1),      // wide, im2col in several tiles
      make(kFloat64, 1, 256, 32, 500, 9, 1, 8, 8, 2, 1),       // deep gemm, dilated
      make(kFloat32, 1, 32, 32, 4000, 3, 1, 1, 1, 1, 1),       // long, one sample
      make(kFloat64, 1, 16, 32, 4000, 5, 2, 8, 0, 2, 1),       // long, strided causal
      make(kFloat32, 2, 1, 32, 4000, 80, 4, 0, 0, 1, 1),       // raw-audio front end
      make(kFloat32, 3, 64, 128, 500, 7, 1, 3, 3, 1, 4),       // grouped
      make(kFloat32, 2, 256, 256, 4000, 3, 1, 1, 1, 1, 256),   // depthwise, long
      make(kFloat64, 1, 128, 256, 3000, 5, 3, 4, 4, 2, 128),   // depthwise x2, strided
      make(kFloat32, 4, 64, 64, 1000, 1, 1, 0, 0, 1, 1),       // 1x1
      make(kComplex64, 1, 64, 64, 300, 3, 2, 1, 1, 1, 2),      // complex
  };
}

template <class T>
T random_value() {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  if constexpr (is_complex_v<T>) return T(u(rng()), u(rng()));
  else return T(u(rng()));
}

template <class T>
struct Buffer {
  std::vector<T> data;
  Shape shape;
  Buffer(Shape s, bool random) : data(static_cast<std::size_t>(numel_of(s))), shape(s) {
    for (T& v : data) v = random ? random_value<T>() : T(std::numeric_limits<double>::quiet_NaN());
  }
  View view() { return View{data.data(), dtype_v<T>, shape, contiguous_strides(shape)}; }
  Buffer abs() const {
    Buffer b = *this;
    for (T& v : b.data) v = T(std::abs(v));
    return b;
  }
};

// |got - want| <= rtol * bound + atol elementwise (NaN in got, an element never written,
// fails). atol is 0 except for the FFT algorithm (below).
template <class T>
void check_close(const char* what, const Config& c, const Buffer<T>& got, const Buffer<T>& want,
                 const Buffer<T>& bound, double atol = 0) {
  const double rtol = std::is_same_v<T, float> || std::is_same_v<T, complex64> ? 1e-4 : 1e-12;
  std::int64_t bad = 0;
  std::string first;
  for (std::size_t i = 0; i < want.data.size(); ++i) {
    const double err = std::abs(got.data[i] - want.data[i]);
    if (err <= rtol * std::abs(bound.data[i]) + atol + 1e-30) continue;
    if (bad++ == 0)
      first = fmt::format("{} element {}: got {}, want {} (bound {})", what, i,
                          std::abs(got.data[i]), std::abs(want.data[i]), std::abs(bound.data[i]));
  }
  const std::string config = bad == 0 ? std::string() : c.str();
  INFO(config);
  INFO(first);
  CHECK(bad == 0);
}

// All three primitives of one configuration on the CPU backend vs the reference.
template <class T>
void run_config(const Config& c, const std::vector<Conv1dAlgorithm>& algorithms) {
  Backend& cpu_b = cpu_backend();
  Backend& ref = reference_backend();
  const std::int64_t lout = c.out_length();
  Buffer<T> x({c.n, c.cin, c.length}, true), w({c.cout, c.cin / c.p.groups, c.kernel}, true);
  Buffer<T> b({c.cout}, true), gy({c.n, c.cout, lout}, true);
  const bool with_bias = rand_int(0, 3) != 0;
  View no_bias{};

  // The oracle and the error scales.
  Buffer<T> y_ref({c.n, c.cout, lout}, false), y_bound = y_ref;
  Buffer<T> gx_ref({c.n, c.cin, c.length}, false), gx_bound = gx_ref;
  Buffer<T> gw_ref(w.shape, false), gw_bound = gw_ref, gb_ref(b.shape, false), gb_bound = gb_ref;
  Buffer<T> ax = x.abs(), aw = w.abs(), ab = b.abs(), agy = gy.abs();
  ref.conv1d_forward(y_ref.view(), x.view(), w.view(), with_bias ? b.view() : no_bias, c.p);
  ref.conv1d_forward(y_bound.view(), ax.view(), aw.view(), with_bias ? ab.view() : no_bias, c.p);
  ref.conv1d_backward_input(gx_ref.view(), gy.view(), w.view(), c.p);
  ref.conv1d_backward_input(gx_bound.view(), agy.view(), aw.view(), c.p);
  ref.conv1d_backward_weight(gw_ref.view(), gb_ref.view(), gy.view(), x.view(), c.p);
  ref.conv1d_backward_weight(gw_bound.view(), gb_bound.view(), agy.view(), ax.view(), c.p);

  // --- FFT (issue 10) --- The FFT algorithm's error is not one rounding per term: each output
  // carries the transforms' rounding of its whole window, about eps * sqrt(terms) times the
  // largest products (terms: the K * Cin/G products of a forward output, K * Cout/G of a
  // grad_input element, N * Lout of a grad_weight tap). Its outputs may differ from the oracle
  // by kFftTol * eps * sqrt(terms) * max|a| * max|b| beyond the other algorithms' bound.
  auto max_abs = [](const Buffer<T>& v) {
    double m = 0;
    for (const T& e : v.data) m = std::max(m, static_cast<double>(std::abs(e)));
    return m;
  };
  const bool fft_float = std::is_same_v<T, float> && c.p.stride == 1;
  constexpr double kFftTol = 4.0;
  const double eps = std::numeric_limits<float>::epsilon();
  const double ipg = static_cast<double>(c.cin / c.p.groups);
  const double opg = static_cast<double>(c.cout / c.p.groups);
  const double k = static_cast<double>(c.kernel);
  const double fft_y = kFftTol * eps * std::sqrt(k * ipg) * max_abs(x) * max_abs(w);
  const double fft_gx = kFftTol * eps * std::sqrt(k * opg) * max_abs(gy) * max_abs(w);
  const double fft_gw =
      kFftTol * eps * std::sqrt(static_cast<double>(c.n * lout)) * max_abs(gy) * max_abs(x);

  for (Conv1dAlgorithm algorithm : algorithms) {
    cpu::force_conv1d_algorithm(algorithm);
    // Auto picks the FFT algorithm for long kernels: the same allowance.
    const bool fft = fft_float && (algorithm == Conv1dAlgorithm::Fft || algorithm == Conv1dAlgorithm::Auto);
    const std::string where = fmt::format("algorithm {} threads {} arch {}",
                                          static_cast<int>(algorithm), cpu::num_threads(),
                                          cpu::simd_kernels().arch_name);
    CAPTURE(where);
    Buffer<T> y({c.n, c.cout, lout}, false), gx({c.n, c.cin, c.length}, false);
    Buffer<T> gw(w.shape, false), gb(b.shape, false);
    cpu_b.conv1d_forward(y.view(), x.view(), w.view(), with_bias ? b.view() : no_bias, c.p);
    check_close("forward", c, y, y_ref, y_bound, fft ? fft_y : 0);
    cpu_b.conv1d_backward_input(gx.view(), gy.view(), w.view(), c.p);
    check_close("backward_input", c, gx, gx_ref, gx_bound, fft ? fft_gx : 0);
    // Sometimes only one of the two gradients is requested.
    const std::int64_t want = rand_int(0, 5);  // 0: weight only, 1: bias only, else both
    cpu_b.conv1d_backward_weight(want == 1 ? View{} : gw.view(), want == 0 ? View{} : gb.view(),
                                 gy.view(), x.view(), c.p);
    if (want != 1) check_close("backward_weight", c, gw, gw_ref, gw_bound, fft ? fft_gw : 0);
    if (want != 0) check_close("backward_bias", c, gb, gb_ref, gb_bound);
    // Every gradient in one call (conv1d_backward): the same numbers as the separate calls, bit
    // for bit (NaN-free data, so == is exact equality).
    Buffer<T> gx2({c.n, c.cin, c.length}, false), gw2(w.shape, false), gb2(b.shape, false);
    cpu_b.conv1d_backward(gx2.view(), gw2.view(), with_bias ? gb2.view() : View{}, gy.view(),
                          x.view(), w.view(), c.p);
    CHECK(gx2.data == gx.data);
    if (want != 1) CHECK(gw2.data == gw.data);
    if (want >= 2 && with_bias) CHECK(gb2.data == gb.data);  // want 1: conv1d_bias_grad's sums
  }
  cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
}

void run_config(const Config& c, const std::vector<Conv1dAlgorithm>& algorithms) {
  visit_dtype(c.dtype, [&]<typename T>() {
    if constexpr (is_complex_v<T> || std::is_floating_point_v<T>) run_config<T>(c, algorithms);
  });
}

// Restores the thread count, SIMD architecture and algorithm choice on scope exit.
struct RestoreCpuSettings {
  int threads = cpu::num_threads();
  ~RestoreCpuSettings() {
    cpu::set_num_threads(threads);
    cpu::force_simd_arch("");
    cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
    cpu::set_conv1d_tile_bytes(0);
    cpu::set_conv1d_stream_bytes(0);
    cpu::force_conv1d_implicit_portable(false);
    cpu::set_conv1d_fft_block(0);
    use_deterministic_algorithms(false);
  }
};

// A float32 stride-1 configuration (the implicit kernels' edge-case lists).
Config stride1_config(std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                      std::int64_t k, std::int64_t pl, std::int64_t pr, std::int64_t d,
                      std::int64_t g) {
  Config c;
  c.dtype = kFloat32, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
  c.p = Conv1dParams{1, pl, pr, d, g};
  return c;
}

const std::vector<Conv1dAlgorithm> kAllAlgorithms = {Conv1dAlgorithm::Auto, Conv1dAlgorithm::Gemm,
                                                     Conv1dAlgorithm::Direct,
                                                     Conv1dAlgorithm::Implicit,
                                                     Conv1dAlgorithm::Polyphase,
                                                     Conv1dAlgorithm::Fft,
                                                     Conv1dAlgorithm::GemmBatched};

}  // namespace

TEST_CASE("cpu conv1d: random configurations match the reference on every algorithm") {
  RestoreCpuSettings restore;
  const char* archs[] = {"avx512bw", "fma3+avx2", "sse2"};
  for (int i = 0; i < 1000; ++i) {
    const Config c = random_config();
    cpu::set_num_threads(static_cast<int>(rand_int(1, 2)));
    while (!cpu::force_simd_arch(archs[rand_int(0, 2)])) {}  // one this CPU supports
    // Half the time the smallest im2col tiles (32 positions), so tile boundaries are crossed.
    cpu::set_conv1d_tile_bytes(rand_int(0, 1) == 0 ? 1 : 0);
    // Half the time every output of the direct kernels is written with non-temporal stores.
    cpu::set_conv1d_stream_bytes(rand_int(0, 1) == 0 ? 1 : 0);
    cpu::force_conv1d_implicit_portable(rand_int(0, 3) == 0);  // the AVX-512 kernel mostly
    CAPTURE(i);
    run_config(c, kAllAlgorithms);
  }
}

TEST_CASE("cpu conv1d: medium configurations, split over threads, match the reference") {
  RestoreCpuSettings restore;
  cpu::set_num_threads(2);
  for (int i = 0; i < 60; ++i) {
    const Config c = random_config(4);
    cpu::set_conv1d_tile_bytes(rand_int(0, 1) == 0 ? 1 : 0);
    cpu::set_conv1d_stream_bytes(rand_int(0, 1) == 0 ? 1 : 0);
    CAPTURE(i);
    run_config(c, kAllAlgorithms);
  }
}

TEST_CASE("cpu conv1d: long sequences and wide layers match the reference") {
  RestoreCpuSettings restore;
  cpu::set_num_threads(2);
  for (const Config& c : big_configs()) {
    run_config(c, {Conv1dAlgorithm::Auto});
  }
}

// --- implicit gemm (issue 10, dense Conv1d kernel) ---
// The implicit algorithm's edge cases, forced (float32 stride 1: the kernel; float64 and
// strided fall back to the gemm), on the AVX-512 micro-kernel where the CPU has it and on the
// portable one: L shorter than a tile (64 or 48 positions), L not a multiple of the tile,
// padding wider than the kernel's reach, causal padding, dilation, Cout not a multiple of the
// panel rows (6 or 8), Cin = 1, batch 1, grouped.
TEST_CASE("cpu conv1d: the implicit algorithm's edge cases match the reference") {
  RestoreCpuSettings restore;
  auto make = [](DType t, std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                 std::int64_t k, std::int64_t pl, std::int64_t pr, std::int64_t d,
                 std::int64_t g, std::int64_t s = 1) {
    Config c;
    c.dtype = t, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
    c.p = Conv1dParams{s, pl, pr, d, g};
    return c;
  };
  const std::vector<Config> configs = {
      make(kFloat32, 1, 5, 7, 10, 3, 1, 1, 1, 1),        // L shorter than a tile
      make(kFloat32, 2, 9, 13, 131, 3, 1, 1, 1, 1),      // L not a multiple of the tile
      make(kFloat32, 1, 4, 6, 200, 3, 9, 7, 1, 1),       // padding wider than the reach
      make(kFloat32, 2, 8, 16, 300, 5, 8, 0, 2, 1),      // causal, dilated
      make(kFloat32, 1, 8, 24, 300, 5, 0, 8, 2, 1),      // right padding only; 24 rows
      make(kFloat32, 3, 16, 40, 257, 4, 6, 6, 3, 1),     // Cout 40 (8-row panels), dilation 3
      make(kFloat32, 1, 1, 11, 150, 7, 3, 3, 1, 1),      // Cin 1
      make(kFloat32, 2, 12, 20, 190, 7, 3, 3, 1, 4),     // grouped
      make(kFloat32, 1, 16, 32, 64, 1, 0, 0, 1, 1),      // 1x1, exactly one tile
      make(kFloat32, 1, 3, 5, 48, 9, 20, 20, 4, 1),      // long reach, every tile an edge
      make(kFloat32, 2, 33, 65, 513, 9, 4, 4, 1, 1),     // interior tiles, odd channels
      make(kFloat32, 1, 64, 64, 1024, 3, 1, 1, 1, 1),    // the benchmark's, batch 1
      make(kFloat64, 1, 8, 8, 100, 3, 1, 1, 1, 1),       // float64: falls back
      make(kFloat32, 1, 8, 8, 100, 3, 1, 1, 1, 1, 2),    // stride 2: falls back
  };
  for (bool portable : {false, true}) {
    cpu::force_conv1d_implicit_portable(portable);
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      for (const Config& c : configs) {
        CAPTURE(portable);
        run_config(c, {Conv1dAlgorithm::Implicit});
      }
    }
  }
  // Random stride-1 float32 configurations (tiles crossed, interior and edge tiles mixed).
  for (int i = 0; i < 80; ++i) {
    Config c = random_config(4);
    c.dtype = kFloat32;
    c.p.stride = 1;
    if (!c.valid()) continue;
    cpu::set_num_threads(static_cast<int>(rand_int(1, 2)));
    cpu::force_conv1d_implicit_portable(rand_int(0, 3) == 0);
    CAPTURE(i);
    run_config(c, {Conv1dAlgorithm::Implicit});
  }
}

// The implicit algorithm's "rows" tiles for short rows (conv1d_implicit.cpp: batch > 1, at most
// kConv1dShortRows outputs, at least kConv1dRowsMinChannels output channels of the correlation
// per group; forward: Cout/G, backward_input: Cin/G), forced: L 1 and rows shorter than the
// taps' reach, padding wider than the reach, causal, dilated, right padding only, 64 and 70
// channels (a partial second panel), grouped, rows of exactly kConv1dShortRows, one sample per
// tile boundary (positions not a multiple of 6); backward_weight's transposed tiles on the same
// shapes (at least 48 output channels per group). Then the same FMA chains as the per-sample
// tiles: a batch equals its samples run one at a time (batch 1 takes the per-sample tiles), bit
// for bit, forward and backward_input; and the weight gradient is bitwise the same at 1 and 2
// threads.
TEST_CASE("cpu conv1d: the implicit algorithm's short-row tiles match the reference") {
  RestoreCpuSettings restore;
  const auto make = stride1_config;
  const std::vector<Config> configs = {
      make(5, 48, 64, 1, 3, 1, 1, 1, 1),       // L 1: only the centre tap is real
      make(3, 50, 48, 3, 5, 4, 4, 2, 1),       // reach 8 over rows of 3
      make(7, 64, 64, 7, 3, 5, 6, 1, 1),       // padding wider than the reach
      make(4, 56, 70, 20, 3, 4, 0, 2, 1),      // causal, dilated; 70 channels: two panels
      make(3, 70, 56, 9, 4, 0, 3, 1, 1),       // right padding only, even kernel
      make(6, 96, 96, 14, 3, 1, 1, 1, 2),      // grouped, 48 per group
      make(2, 64, 128, 64, 3, 1, 1, 1, 1),     // rows of exactly kConv1dShortRows
      make(11, 28, 64, 28, 3, 1, 1, 1, 1),     // Fashion-MNIST conv1 (backward_input: 28 channels)
      make(13, 128, 128, 7, 3, 1, 1, 1, 1),    // conv3, 91 positions
  };
  REQUIRE(cpu::kConv1dShortRows == 64);
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    for (const Config& c : configs) {
      CAPTURE(threads);
      run_config(c, {Conv1dAlgorithm::Implicit, Conv1dAlgorithm::Auto});
    }
  }

  Backend& cpu_b = cpu_backend();
  cpu::force_conv1d_algorithm(Conv1dAlgorithm::Implicit);
  for (const Config& c : {configs[3], configs[5], configs[8]}) {
    const std::int64_t lout = c.out_length(), cin_g = c.cin / c.p.groups;
    Buffer<float> x({c.n, c.cin, c.length}, true), w({c.cout, cin_g, c.kernel}, true);
    Buffer<float> b({c.cout}, true), gy({c.n, c.cout, lout}, true);
    Buffer<float> y({c.n, c.cout, lout}, false), gx({c.n, c.cin, c.length}, false);
    cpu_b.conv1d_forward(y.view(), x.view(), w.view(), b.view(), c.p);
    cpu_b.conv1d_backward_input(gx.view(), gy.view(), w.view(), c.p);
    for (std::int64_t n = 0; n < c.n; ++n) {
      auto sample = [&](const Buffer<float>& full, std::int64_t rows, std::int64_t len) {
        Buffer<float> one({1, rows, len}, false);
        std::copy_n(full.data.begin() + n * rows * len, rows * len, one.data.begin());
        return one;
      };
      Buffer<float> xn = sample(x, c.cin, c.length), gyn = sample(gy, c.cout, lout);
      Buffer<float> yn({1, c.cout, lout}, false), gxn({1, c.cin, c.length}, false);
      cpu_b.conv1d_forward(yn.view(), xn.view(), w.view(), b.view(), c.p);
      cpu_b.conv1d_backward_input(gxn.view(), gyn.view(), w.view(), c.p);
      CAPTURE(n);
      INFO(c.str());
      CHECK(yn.data == sample(y, c.cout, lout).data);
      CHECK(gxn.data == sample(gx, c.cin, c.length).data);
    }
    std::vector<float> grads[2];
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      Buffer<float> gw({c.cout, cin_g, c.kernel}, false), gb({c.cout}, false);
      cpu_b.conv1d_backward_weight(gw.view(), gb.view(), gy.view(), x.view(), c.p);
      grads[threads - 1] = gw.data;
    }
    INFO(c.str());
    CHECK(grads[0] == grads[1]);
  }
}

// --- short rows (issue 10) ---
// The batched gemm (GemmBatched, forced): rows of 1-5 outputs, batch 1, a batch that is not a
// multiple of the chunk (the tile hook caps a chunk at 1, 2 or 3 samples' columns), padding,
// dilation, groups, stride 2, a 1x1 kernel, float64, the Fashion-MNIST shapes at a smaller
// batch, and a row too long for a chunk (the per-sample gemm then runs). Then the same FMA chains
// as the per-sample gemm: Gemm and GemmBatched agree bit for bit on float32 and float64.
TEST_CASE("cpu conv1d: the batched gemm's edge cases match the reference") {
  RestoreCpuSettings restore;
  auto make = [](DType t, std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                 std::int64_t k, std::int64_t pl, std::int64_t pr, std::int64_t d,
                 std::int64_t g, std::int64_t s = 1) {
    Config c;
    c.dtype = t, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
    c.p = Conv1dParams{s, pl, pr, d, g};
    return c;
  };
  const std::vector<Config> configs = {
      make(kFloat32, 5, 3, 4, 1, 3, 1, 1, 1, 1),         // L 1: only the centre tap is real
      make(kFloat32, 7, 6, 5, 2, 3, 1, 1, 1, 1),         // L 2
      make(kFloat64, 5, 4, 9, 3, 3, 0, 0, 1, 1),         // L 3, one output per sample, float64
      make(kFloat32, 9, 8, 16, 4, 3, 2, 2, 2, 1),        // dilated, padding wider than the row
      make(kFloat32, 6, 8, 12, 5, 2, 1, 0, 1, 2),        // grouped, causal
      make(kFloat32, 1, 28, 64, 28, 3, 1, 1, 1, 1),      // batch 1
      make(kFloat32, 11, 28, 64, 28, 3, 1, 1, 1, 1),     // Fashion-MNIST conv1, odd batch
      make(kFloat32, 10, 64, 128, 14, 3, 1, 1, 1, 1),    // conv2
      make(kFloat64, 13, 128, 128, 7, 3, 1, 1, 1, 1),    // conv3, float64
      make(kFloat32, 7, 16, 24, 29, 3, 1, 1, 1, 1, 2),   // stride 2
      make(kFloat32, 6, 32, 48, 9, 5, 0, 0, 1, 1, 3),    // stride 3 (phase split)
      make(kFloat32, 8, 16, 16, 12, 1, 0, 0, 1, 1),      // 1x1
      make(kFloat32, 3, 24, 36, 17, 7, 3, 3, 1, 3),      // grouped, k 7
      make(kFloat32, 2, 64, 64, 3000, 3, 1, 1, 1, 1),    // long rows: the per-sample gemm
  };
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    for (const Config& c : configs) {
      // The default chunks, then chunks of 1, 2 and 3 samples' columns (the hook caps them).
      const std::int64_t elem = c.dtype == kFloat64 ? 8 : 4;
      const std::int64_t per_sample = c.cin / c.p.groups * c.kernel * c.out_length() * elem;
      for (std::int64_t samples : {0, 1, 2, 3}) {
        cpu::set_conv1d_tile_bytes(samples * per_sample);
        CAPTURE(threads);
        CAPTURE(samples);
        run_config(c, {Conv1dAlgorithm::GemmBatched});
      }
    }
  }
  cpu::set_conv1d_tile_bytes(0);
  // Random short-row configurations of every structure and dtype.
  for (int i = 0; i < 150; ++i) {
    Config c = random_config(2);
    c.n = rand_int(1, 9);
    cpu::set_num_threads(static_cast<int>(rand_int(1, 2)));
    cpu::set_conv1d_tile_bytes(rand_int(0, 1) == 0 ? 1 : 0);
    CAPTURE(i);
    run_config(c, {Conv1dAlgorithm::GemmBatched});
  }
}

TEST_CASE("cpu conv1d: the batched gemm's forward equals the per-sample gemm's bit for bit") {
  RestoreCpuSettings restore;
  Backend& cpu_b = cpu_backend();
  auto compare = [&]<class T>(std::int64_t n, std::int64_t cin, std::int64_t cout,
                              std::int64_t l, std::int64_t k, Conv1dParams p) {
    const std::int64_t lout = (l + p.pad_left + p.pad_right - p.dilation * (k - 1) - 1) /
                                  p.stride + 1;
    Buffer<T> x({n, cin, l}, true), w({cout, cin / p.groups, k}, true), b({cout}, true);
    Buffer<T> y1({n, cout, lout}, false), y2 = y1;
    cpu::force_conv1d_algorithm(Conv1dAlgorithm::Gemm);
    cpu_b.conv1d_forward(y1.view(), x.view(), w.view(), b.view(), p);
    cpu::force_conv1d_algorithm(Conv1dAlgorithm::GemmBatched);
    cpu_b.conv1d_forward(y2.view(), x.view(), w.view(), b.view(), p);
    INFO(fmt::format("N={} Cin={} Cout={} L={} K={} groups={}", n, cin, cout, l, k, p.groups));
    CHECK(y1.data == y2.data);
  };
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    compare.operator()<float>(16, 28, 64, 28, 3, Conv1dParams{1, 1, 1, 1, 1});
    compare.operator()<float>(16, 64, 128, 14, 3, Conv1dParams{1, 1, 1, 1, 1});
    compare.operator()<float>(16, 128, 128, 7, 3, Conv1dParams{1, 1, 1, 1, 1});
    compare.operator()<float>(5, 200, 40, 20, 3, Conv1dParams{1, 2, 0, 1, 1});   // depth 600: two kc blocks
    compare.operator()<double>(6, 32, 48, 40, 5, Conv1dParams{1, 4, 0, 2, 1});  // causal, dilated
    compare.operator()<float>(4, 24, 36, 33, 3, Conv1dParams{2, 1, 1, 1, 3});   // grouped, stride 2
  }
}

// --- polyphase (issue 10, strided front end) ---
// The polyphase algorithm's edge cases, forced (float32 stride > 1 forward: phase rows and the
// implicit kernel; float64, stride 1 and the backward passes fall back to the gemm), on the
// AVX-512 micro-kernel where the CPU has it and on the portable one: K < s (fewer phases than
// the stride), K not a multiple of s (a zero tap per short phase), L < K with padding, padding
// wider than a phase, causal, dilation with stride (gcd 1, gcd > 1, dilation a multiple of the
// stride), Cin > 1, grouped and depthwise, Cout not a multiple of the panel rows, L not a
// multiple of s, the stride equal to L, batch 1, float64.
TEST_CASE("cpu conv1d: the polyphase algorithm's edge cases match the reference") {
  RestoreCpuSettings restore;
  auto make = [](DType t, std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                 std::int64_t k, std::int64_t pl, std::int64_t pr, std::int64_t d,
                 std::int64_t g, std::int64_t s) {
    Config c;
    c.dtype = t, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
    c.p = Conv1dParams{s, pl, pr, d, g};
    return c;
  };
  const std::vector<Config> configs = {
      make(kFloat32, 2, 1, 8, 100, 3, 0, 0, 1, 1, 5),      // K < s: 3 of 5 phases
      make(kFloat32, 2, 1, 12, 101, 7, 0, 0, 1, 1, 3),     // K not a multiple of s
      make(kFloat32, 1, 1, 6, 5, 9, 4, 4, 1, 1, 2),        // L < K, padded
      make(kFloat32, 2, 1, 32, 203, 80, 40, 39, 1, 1, 4),  // symmetric padding, long kernel
      make(kFloat32, 1, 2, 9, 150, 8, 7, 0, 1, 1, 2),      // causal
      make(kFloat32, 1, 1, 10, 10, 3, 20, 20, 1, 1, 3),    // padding wider than the input
      make(kFloat32, 2, 1, 16, 300, 9, 4, 4, 3, 1, 2),     // dilation 3, stride 2 (gcd 1)
      make(kFloat32, 1, 2, 8, 300, 7, 3, 3, 2, 1, 4),      // dilation 2, stride 4 (gcd 2)
      make(kFloat32, 1, 1, 8, 300, 6, 0, 5, 4, 1, 2),      // dilation 4, stride 2 (one phase)
      make(kFloat32, 1, 3, 7, 250, 11, 2, 2, 6, 1, 4),     // dilation 6, stride 4 (s' 2, d' 3)
      make(kFloat32, 2, 3, 10, 257, 11, 0, 0, 1, 1, 3),    // Cin > 1
      make(kFloat32, 2, 4, 8, 120, 5, 2, 2, 1, 2, 2),      // grouped
      make(kFloat32, 1, 4, 8, 120, 6, 1, 4, 1, 4, 3),      // depthwise x2
      make(kFloat32, 1, 1, 13, 1001, 80, 0, 0, 1, 1, 4),   // 13 rows, L not a multiple of s
      make(kFloat32, 1, 1, 5, 4, 2, 0, 0, 1, 1, 4),        // stride = L
      make(kFloat32, 1, 1, 4, 100, 2, 1, 1, 1, 1, 8),      // stride > K * dilation
      make(kFloat32, 1, 1, 32, 4000, 80, 0, 0, 1, 1, 4),   // the front end, batch 1
      make(kFloat64, 1, 1, 8, 300, 20, 0, 0, 1, 1, 4),     // float64: falls back
      make(kFloat32, 1, 2, 8, 100, 5, 2, 2, 1, 1, 1),      // stride 1: falls back
  };
  for (bool portable : {false, true}) {
    cpu::force_conv1d_implicit_portable(portable);
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      for (const Config& c : configs) {
        CAPTURE(portable);
        run_config(c, {Conv1dAlgorithm::Polyphase});
      }
    }
  }
  // Random strided float32 configurations, longer kernels and strides than random_config's.
  for (int i = 0; i < 120; ++i) {
    Config c = random_config(2);
    c.dtype = kFloat32;
    c.p.stride = rand_int(2, 9);
    if (rand_int(0, 1) == 0) c.kernel = rand_int(1, 40);
    if (!c.valid()) continue;
    cpu::set_num_threads(static_cast<int>(rand_int(1, 2)));
    cpu::force_conv1d_implicit_portable(rand_int(0, 3) == 0);
    CAPTURE(i);
    run_config(c, {Conv1dAlgorithm::Polyphase, Conv1dAlgorithm::Auto});
  }
}

// Issue 10: the first layer's input never requires grad, and then its backward must not
// compute grad_input. The pass counter proves that no backward_input kernel ran (and, with
// the input requiring grad, that it does count the call).
TEST_CASE("cpu conv1d: autograd runs no backward_input pass when the input needs no grad") {
  namespace F = reel::nn::functional;
  RestoreCpuSettings restore;
  struct RestoreBackend {
    Kind kind = cpu_backend_kind();
    ~RestoreBackend() { set_cpu_backend(kind); }
  } restore_backend;
  set_cpu_backend(Kind::Cpu);
  manual_seed(3);
  const Tensor x = randn({2, 1, 400});
  const Tensor g = randn({2, 8, 77});  // Lout = (400 - 20) / 5 + 1
  for (Conv1dAlgorithm algorithm : {Conv1dAlgorithm::Auto, Conv1dAlgorithm::Gemm,
                                    Conv1dAlgorithm::Polyphase}) {
    CAPTURE(static_cast<int>(algorithm));
    cpu::force_conv1d_algorithm(algorithm);
    for (bool x_grad : {false, true}) {
      CAPTURE(x_grad);
      const Tensor xi = x.clone().requires_grad_(x_grad);
      const Tensor w = randn({8, 1, 20}).requires_grad_(true);
      const Tensor b = randn({8}).requires_grad_(true);
      cpu::reset_conv1d_pass_counts();
      const Tensor y = F::conv1d(xi, w, b, F::Conv1dFuncOptions().stride(5));
      CHECK(cpu::conv1d_pass_count(0) == 1);
      y.backward(g);
      CHECK(cpu::conv1d_pass_count(1) == (x_grad ? 1 : 0));
      CHECK(cpu::conv1d_pass_count(2) == 1);
      CHECK(xi.grad().defined() == x_grad);
      CHECK(w.grad().defined());
    }
  }
}

// --- implicit backward_weight (issue 10, dense backward) ---
// conv1d_wgrad.cpp's own edges, forced (the edge cases above run it too): blocks of 2048
// positions crossed inside a row and across samples, rows shorter than a vector step (16),
// several slots (few row panels), taps reaching past both ends of short rows (every position an
// edge), tile shapes 4x6 / 3x7 / 3x8 with partial last tiles, on both micro-kernels and at 1 and
// 2 threads. Then: grad_W is bitwise the same at 1, 2 and 3 threads.
TEST_CASE("cpu conv1d: the implicit backward_weight's edge cases match the reference") {
  RestoreCpuSettings restore;
  const auto make = stride1_config;
  const std::vector<Config> configs = {
      make(1, 3, 5, 5000, 3, 1, 1, 1, 1),      // blocks crossed inside one row; 2 slots
      make(7, 4, 4, 700, 5, 4, 0, 1, 1),       // blocks across samples, causal
      make(40, 2, 3, 9, 3, 1, 1, 1, 1),        // rows shorter than a vector step
      make(3, 2, 2, 6, 4, 8, 9, 3, 1),         // reach past both ends: every position an edge
      make(2, 6, 9, 300, 7, 3, 3, 1, 1),       // 3x7 tiles, partial last row panel
      make(2, 16, 13, 257, 2, 1, 0, 5, 1),     // 3x8 tiles (32 columns), Cout 13
      make(2, 12, 20, 190, 7, 3, 3, 1, 4),     // grouped
      make(1, 1, 1, 100, 1, 0, 0, 1, 1),       // one product
      make(3, 9, 14, 2100, 9, 4, 4, 1, 1),     // long, k 9, 4x6 with a partial tile
  };
  for (bool portable : {false, true}) {
    cpu::force_conv1d_implicit_portable(portable);
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      for (const Config& c : configs) {
        CAPTURE(portable);
        CAPTURE(threads);
        run_config(c, {Conv1dAlgorithm::Implicit});
      }
    }
  }
  cpu::force_conv1d_implicit_portable(false);
  cpu::force_conv1d_algorithm(Conv1dAlgorithm::Implicit);
  for (const Config& c : {make(5, 64, 64, 1024, 3, 1, 1, 1, 1), make(3, 8, 6, 3000, 7, 6, 0, 2, 2)}) {
    CAPTURE(c.str());
    Buffer<float> x({c.n, c.cin, c.length}, true), gy({c.n, c.cout, c.out_length()}, true);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      cpu::set_num_threads(threads);
      Buffer<float> gw({c.cout, c.cin / c.p.groups, c.kernel}, false);
      cpu_backend().conv1d_backward_weight(gw.view(), View{}, gy.view(), x.view(), c.p);
      results.push_back(gw.data);
    }
    CHECK(results[0] == results[1]);
    CHECK(results[0] == results[2]);
  }
}

TEST_CASE("cpu conv1d: strided views and bad arguments take the reference's way") {
  Backend& cpu_b = cpu_backend();
  Backend& ref = reference_backend();
  // x stored as [L, Cin, N] and viewed as [N, Cin, L]: not contiguous, still computed right.
  const std::int64_t n = 2, cin = 3, cout = 4, length = 9, k = 3;
  std::vector<double> x(static_cast<std::size_t>(n * cin * length)), w(cout * cin * k);
  for (double& v : x) v = random_value<double>();
  for (double& v : w) v = random_value<double>();
  const Conv1dParams p{2, 1, 0, 1, 1};
  const std::int64_t lout = (length + 1 - 3) / 2 + 1;
  std::vector<double> got(static_cast<std::size_t>(n * cout * lout)), want(got.size());
  const View xv{x.data(), kFloat64, {n, cin, length}, {1, n, n * cin}};
  const View wv{w.data(), kFloat64, {cout, cin, k}, {cin * k, k, 1}};
  const Shape ys{n, cout, lout};
  cpu_b.conv1d_forward(View{got.data(), kFloat64, ys, contiguous_strides(ys)}, xv, wv, View{}, p);
  ref.conv1d_forward(View{want.data(), kFloat64, ys, contiguous_strides(ys)}, xv, wv, View{}, p);
  CHECK(got == want);

  // Errors: both backends raise reel::Error for groups that don't divide the channels, a
  // weight of the wrong shape, a wrong output length and a kernel wider than the input.
  const View yv{got.data(), kFloat64, ys, contiguous_strides(ys)};
  const View xc{x.data(), kFloat64, {n, cin, length}, contiguous_strides({n, cin, length})};
  CHECK_THROWS_AS(cpu_b.conv1d_forward(yv, xc, wv, View{}, Conv1dParams{2, 1, 0, 1, 2}), Error);
  const View w_bad{w.data(), kFloat64, {cout, cin - 1, k}, contiguous_strides({cout, cin - 1, k})};
  CHECK_THROWS_AS(cpu_b.conv1d_forward(yv, xc, w_bad, View{}, p), Error);
  CHECK_THROWS_AS(cpu_b.conv1d_forward(yv, xc, wv, View{}, Conv1dParams{1, 1, 0, 1, 1}), Error);
  CHECK_THROWS_AS(cpu_b.conv1d_backward_input(xc, yv, wv, Conv1dParams{0, 1, 0, 1, 1}), Error);
  const View w_wide{w.data(), kFloat64, {1, 1, 12}, {12, 12, 1}};
  const View x1{x.data(), kFloat64, {1, 1, 9}, {9, 9, 1}}, y1{got.data(), kFloat64, {1, 1, 1}, {1, 1, 1}};
  CHECK_THROWS_AS(cpu_b.conv1d_forward(y1, x1, w_wide, View{}, Conv1dParams{}), Error);
}

// --- FFT, overlap-save (issue 10, long kernels) ---
// The FFT algorithm forced over its edge cases: kernels of 1 to 200 taps, odd and even; rows
// shorter than one block and rows that are not a multiple of the block's step; padding none,
// 'same' and causal (left only), wider than the kernel; dilation; groups; batch 1; Cin = 1;
// with the modelled block length and with the shortest block the kernel allows (so that a
// row spans many blocks and block chunks). Tolerance: run_config's FFT allowance. And the
// results are the same bytes at 1, 2 and 3 threads.
TEST_CASE("cpu conv1d: the FFT algorithm's edge cases match the reference") {
  RestoreCpuSettings restore;
  auto make = [](std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                 std::int64_t k, std::int64_t pl, std::int64_t pr, std::int64_t d = 1,
                 std::int64_t g = 1, DType t = kFloat32, std::int64_t s = 1) {
    Config c;
    c.dtype = t, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
    c.p = Conv1dParams{s, pl, pr, d, g};
    return c;
  };
  const std::vector<Config> configs = {
      make(1, 1, 1, 1, 1, 0, 0),             // the smallest
      make(2, 3, 5, 40, 1, 0, 0),            // 1x1
      make(1, 4, 6, 30, 2, 0, 0),            // even kernel
      make(2, 5, 7, 100, 15, 7, 7),          // 'same'
      make(1, 1, 8, 333, 31, 30, 0),         // causal, Cin 1
      make(3, 8, 4, 257, 64, 0, 0),          // even, valid, several samples
      make(1, 6, 6, 50, 63, 31, 31),         // L shorter than the kernel (padded)
      make(2, 4, 4, 1000, 63, 62, 0),        // causal, long
      make(1, 3, 2, 700, 127, 70, 80),       // asymmetric, wider than half the kernel
      make(1, 2, 3, 900, 200, 100, 99),      // 'same' for an even kernel
      make(2, 8, 12, 500, 33, 16, 16, 1, 4), // grouped
      make(1, 6, 6, 400, 17, 16, 16, 3, 6),  // depthwise, dilated
      make(2, 4, 8, 600, 21, 40, 0, 2, 2),   // causal dilated grouped
      make(1, 3, 3, 200, 9, 50, 50),         // padding much wider than the kernel
      make(1, 4, 4, 300, 31, 15, 15, 1, 1, kFloat64),  // float64: falls back
      make(1, 4, 4, 300, 31, 15, 15, 1, 1, kFloat32, 2),  // stride 2: falls back
  };
  for (bool short_block : {false, true}) {
    for (const Config& c : configs) {
      CAPTURE(short_block);
      const std::int64_t dense = (c.kernel - 1) * c.p.dilation + 1;
      std::int64_t b = 2;
      while (b < dense + 1) b *= 2;
      cpu::set_conv1d_fft_block(short_block ? b : 0);
      for (int threads : {1, 2}) {
        cpu::set_num_threads(threads);
        run_config(c, {Conv1dAlgorithm::Fft});
      }
    }
  }
  cpu::set_conv1d_fft_block(0);
  // Random stride-1 float32 configurations with longer kernels.
  for (int i = 0; i < 60; ++i) {
    Config c = random_config(3);
    c.dtype = kFloat32;
    c.p.stride = 1;
    c.kernel = rand_int(1, 3) == 1 ? rand_int(1, 9) : rand_int(10, 120);
    c.length = rand_int(1, 600);
    const std::int64_t total = c.p.dilation * (c.kernel - 1);
    if (rand_int(0, 1) == 0) c.p.pad_left = total / 2, c.p.pad_right = total - total / 2;
    if (!c.valid()) continue;
    cpu::set_num_threads(static_cast<int>(rand_int(1, 2)));
    cpu::set_conv1d_fft_block(rand_int(0, 2) == 0 ? 2 * ((c.kernel - 1) * c.p.dilation + 1) : 0);
    CAPTURE(i);
    run_config(c, {Conv1dAlgorithm::Fft});
  }
}

TEST_CASE("cpu conv1d: the FFT algorithm gives the same bytes at any thread count") {
  RestoreCpuSettings restore;
  cpu::force_conv1d_algorithm(Conv1dAlgorithm::Fft);
  Backend& cpu_b = cpu_backend();
  Config c;
  c.n = 3, c.cin = 12, c.cout = 10, c.length = 2000, c.kernel = 45;
  c.p = Conv1dParams{1, 22, 22, 1, 2};
  const std::int64_t lout = c.out_length();
  Buffer<float> x({c.n, c.cin, c.length}, true), w({c.cout, c.cin / 2, c.kernel}, true);
  Buffer<float> b({c.cout}, true), gy({c.n, c.cout, lout}, true);
  std::vector<std::vector<float>> first;
  for (int threads : {1, 2, 3}) {
    cpu::set_num_threads(threads);
    for (std::int64_t block : {std::int64_t{0}, std::int64_t{128}}) {
      cpu::set_conv1d_fft_block(block);
      Buffer<float> y({c.n, c.cout, lout}, false), gx({c.n, c.cin, c.length}, false);
      Buffer<float> gw(w.shape, false), gb(b.shape, false);
      cpu_b.conv1d_forward(y.view(), x.view(), w.view(), b.view(), c.p);
      cpu_b.conv1d_backward_input(gx.view(), gy.view(), w.view(), c.p);
      cpu_b.conv1d_backward_weight(gw.view(), gb.view(), gy.view(), x.view(), c.p);
      const std::size_t slot = block == 0 ? 0 : 4;
      if (threads == 1) {
        first.resize(8);
        first[slot] = y.data, first[slot + 1] = gx.data, first[slot + 2] = gw.data,
        first[slot + 3] = gb.data;
      } else {
        CAPTURE(threads);
        CAPTURE(block);
        CHECK(y.data == first[slot]);
        CHECK(gx.data == first[slot + 1]);
        CHECK(gw.data == first[slot + 2]);
        CHECK(gb.data == first[slot + 3]);
      }
    }
  }
}

// Auto's rule (conv1d_fft_preferred): long kernels over enough channels, stride 1, at least 4
// input channels per group and k >= 8; the weight gradient from a lower modelled gain. Then
// Auto's results on such a problem are the FFT algorithm's bytes where the rule says so and
// the gemm's where it does not.
TEST_CASE("cpu conv1d: Auto picks the FFT algorithm by its rule") {
  RestoreCpuSettings restore;
  if (!cpu::conv1d_fft_available()) return;  // built without KissFFT: never picked
  auto problem = [](std::int64_t n, std::int64_t ch, std::int64_t l, std::int64_t k,
                    std::int64_t groups = 1, std::int64_t stride = 1) {
    cpu::Conv1dProblem c;
    c.batch = n, c.in_channels = c.out_channels = ch, c.length = l, c.kernel = k;
    c.groups = groups, c.in_per_group = c.out_per_group = ch / groups, c.stride = stride;
    c.pad_left = (k - 1) / 2;
    c.out_length = (l + k - 1 - k) / stride + 1;
    return c;
  };
  CHECK(cpu::conv1d_fft_preferred(problem(8, 64, 4096, 127), false));   // the sweep's wins
  CHECK(cpu::conv1d_fft_preferred(problem(1, 32, 16384, 255), false));
  CHECK(cpu::conv1d_fft_preferred(problem(8, 32, 8192, 63), true));     // longk: grad_w only
  CHECK_FALSE(cpu::conv1d_fft_preferred(problem(8, 32, 8192, 63), false));
  CHECK_FALSE(cpu::conv1d_fft_preferred(problem(8, 64, 4096, 7), true));      // short kernel
  CHECK_FALSE(cpu::conv1d_fft_preferred(problem(8, 64, 4096, 127, 1, 2), true));  // strided
  CHECK_FALSE(cpu::conv1d_fft_preferred(problem(8, 64, 4096, 127, 32), true));    // 2 per group
  CHECK_FALSE(cpu::conv1d_fft_preferred(problem(1, 8, 1024, 15), true));          // small
  CHECK_FALSE(cpu::conv1d_fft_preferred(problem(8, 512, 4096, 255), true));  // 512 MB of spectra

  // 16 -> 16, k 255, L 2048, batch 1: the weight gradient by FFT, the forward not (Gemm, or
  // Implicit where Auto takes it).
  Backend& cpu_b = cpu_backend();
  Config c;
  c.cin = c.cout = 16, c.length = 2048, c.kernel = 255;
  c.p = Conv1dParams{1, 127, 127, 1, 1};
  const std::int64_t lout = c.out_length();
  REQUIRE(cpu::conv1d_fft_preferred(problem(1, 16, 2048, 255), true));
  REQUIRE_FALSE(cpu::conv1d_fft_preferred(problem(1, 16, 2048, 255), false));
  Buffer<float> x({1, 16, c.length}, true), w({16, 16, c.kernel}, true), gy({1, 16, lout}, true);
  auto run = [&](Conv1dAlgorithm algorithm) {
    cpu::force_conv1d_algorithm(algorithm);
    Buffer<float> y({1, 16, lout}, false), gw(w.shape, false);
    cpu_b.conv1d_forward(y.view(), x.view(), w.view(), View{}, c.p);
    cpu_b.conv1d_backward_weight(gw.view(), View{}, gy.view(), x.view(), c.p);
    return std::make_pair(y.data, gw.data);
  };
  const auto automatic = run(Conv1dAlgorithm::Auto);
  const auto fft = run(Conv1dAlgorithm::Fft);
  const auto gemm = run(Conv1dAlgorithm::Gemm);
  const auto implicit = run(Conv1dAlgorithm::Implicit);  // Auto's forward on AVX-512
  CHECK((automatic.first == gemm.first || automatic.first == implicit.first));
  CHECK(automatic.first != fft.first);
  CHECK(automatic.second == fft.second);
  CHECK(automatic.second != gemm.second);  // the two algorithms do differ in the last bits
}

// use_deterministic_algorithms pins Auto to the direct-summation algorithms: where the cost
// models pick the FFT (a long kernel's weight gradient) or the polyphase forward (a strided
// front end on the AVX-512 kernel), Auto's bytes become those of a direct-summation algorithm
// (gemm or implicit), and switching the mode off brings the fast algorithm back (so the check
// can fail).
TEST_CASE("cpu conv1d: use_deterministic_algorithms keeps Auto off the FFT and polyphase paths") {
  RestoreCpuSettings restore;
  Backend& cpu_b = cpu_backend();
  auto check_config = [&](const Config& c, bool forward) {
    const std::int64_t lout = c.out_length();
    Buffer<float> x({c.n, c.cin, c.length}, true), w({c.cout, c.cin / c.p.groups, c.kernel}, true);
    Buffer<float> gy({c.n, c.cout, lout}, true);
    auto run = [&](Conv1dAlgorithm algorithm, bool deterministic) {
      use_deterministic_algorithms(deterministic);
      cpu::force_conv1d_algorithm(algorithm);
      Buffer<float> out = forward ? Buffer<float>({c.n, c.cout, lout}, false) : Buffer<float>(w.shape, false);
      if (forward) cpu_b.conv1d_forward(out.view(), x.view(), w.view(), View{}, c.p);
      else cpu_b.conv1d_backward_weight(out.view(), View{}, gy.view(), x.view(), c.p);
      return out.data;
    };
    // The direct-summation algorithms Auto may take here: the gemm, or the implicit kernels
    // (forward on AVX-512; weight gradient from Lout 64).
    const std::vector<float> gemm = run(Conv1dAlgorithm::Gemm, false);
    const std::vector<float> implicit = run(Conv1dAlgorithm::Implicit, false);
    const std::vector<float> pinned = run(Conv1dAlgorithm::Auto, true);
    CHECK((pinned == gemm || pinned == implicit));
    const std::vector<float> fast = run(Conv1dAlgorithm::Auto, false);
    CHECK(fast != gemm);
    CHECK(fast != implicit);
  };
  if (cpu::conv1d_fft_available()) {  // the weight gradient of 16 -> 16, k 255, L 2048
    Config c;
    c.n = 1, c.cin = c.cout = 16, c.length = 2048, c.kernel = 255;
    c.p = Conv1dParams{1, 127, 127, 1, 1};
    check_config(c, false);
  }
  if (cpu::conv1d_implicit_native()) {  // the raw-audio front end's forward: 1 -> 32, k 80, stride 4
    Config c;
    c.n = 2, c.cin = 1, c.cout = 32, c.length = 4000, c.kernel = 80;
    c.p = Conv1dParams{4, 0, 0, 1, 1};
    check_config(c, true);
  }
}
