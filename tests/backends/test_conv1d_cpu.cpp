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
#include <vector>

#include "backends/backend.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

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

// |got - want| <= rtol * bound elementwise (NaN in got, an element never written, fails).
template <class T>
void check_close(const char* what, const Config& c, const Buffer<T>& got, const Buffer<T>& want,
                 const Buffer<T>& bound) {
  const double rtol = std::is_same_v<T, float> || std::is_same_v<T, complex64> ? 1e-4 : 1e-12;
  std::int64_t bad = 0;
  std::string first;
  for (std::size_t i = 0; i < want.data.size(); ++i) {
    const double err = std::abs(got.data[i] - want.data[i]);
    if (err <= rtol * std::abs(bound.data[i]) + 1e-30) continue;
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

  for (Conv1dAlgorithm algorithm : algorithms) {
    cpu::force_conv1d_algorithm(algorithm);
    const std::string where = fmt::format("algorithm {} threads {} arch {}",
                                          static_cast<int>(algorithm), cpu::num_threads(),
                                          cpu::simd_kernels().arch_name);
    CAPTURE(where);
    Buffer<T> y({c.n, c.cout, lout}, false), gx({c.n, c.cin, c.length}, false);
    Buffer<T> gw(w.shape, false), gb(b.shape, false);
    cpu_b.conv1d_forward(y.view(), x.view(), w.view(), with_bias ? b.view() : no_bias, c.p);
    check_close("forward", c, y, y_ref, y_bound);
    cpu_b.conv1d_backward_input(gx.view(), gy.view(), w.view(), c.p);
    check_close("backward_input", c, gx, gx_ref, gx_bound);
    // Sometimes only one of the two gradients is requested.
    const std::int64_t want = rand_int(0, 5);  // 0: weight only, 1: bias only, else both
    cpu_b.conv1d_backward_weight(want == 1 ? View{} : gw.view(), want == 0 ? View{} : gb.view(),
                                 gy.view(), x.view(), c.p);
    if (want != 1) check_close("backward_weight", c, gw, gw_ref, gw_bound);
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
  }
};

const std::vector<Conv1dAlgorithm> kAllAlgorithms = {Conv1dAlgorithm::Auto, Conv1dAlgorithm::Gemm,
                                                     Conv1dAlgorithm::Direct,
                                                     Conv1dAlgorithm::Implicit};

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

// --- implicit backward_weight (issue 10, dense backward) ---
// conv1d_wgrad.cpp's own edges, forced (the edge cases above run it too): blocks of 2048
// positions crossed inside a row and across samples, rows shorter than a vector step (16),
// several slots (few row panels), taps reaching past both ends of short rows (every position an
// edge), tile shapes 4x6 / 3x7 / 3x8 with partial last tiles, on both micro-kernels and at 1 and
// 2 threads. Then: grad_W is bitwise the same at 1, 2 and 3 threads.
TEST_CASE("cpu conv1d: the implicit backward_weight's edge cases match the reference") {
  RestoreCpuSettings restore;
  auto make = [](std::int64_t n, std::int64_t cin, std::int64_t cout, std::int64_t l,
                 std::int64_t k, std::int64_t pl, std::int64_t pr, std::int64_t d,
                 std::int64_t g) {
    Config c;
    c.dtype = kFloat32, c.n = n, c.cin = cin, c.cout = cout, c.length = l, c.kernel = k;
    c.p = Conv1dParams{1, pl, pr, d, g};
    return c;
  };
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
