// The CPU backend's bfloat16 conv1d kernels (backends/cpu/conv1d.hpp, "bfloat16"), on raw
// bfloat16 buffers, against a double-precision convolution of the same bfloat16 inputs written
// here from the formulas. Every configuration runs forward, backward_input and backward_weight
// (+ bias) on the bfloat16 gemm algorithm (native AVX-512 BF16 where the CPU has it, and the
// portable path) and on the widened float32 algorithms (gemm and direct), at 1 or 2 threads,
// with the default or the smallest im2col tiles.
//
// Tolerance: products of bf16 values are exact in float32, so before the one rounding the
// result differs from the exact sum by at most (terms + 2) * 2^-24 * sum|terms| (float32
// additions, bias included); the rounding to bfloat16 adds at most 2^-8 of the value (half an
// ulp: 8 significant bits). So |got - exact| <= 2^-8 |exact| + 2 (terms + 2) 2^-24 mag.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/gemm_bf16.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace {

namespace cpu = reel::backends::cpu;
using cpu::bf16_bits_to_f32;
using cpu::f32_to_bf16_bits;
using cpu::Conv1dAlgorithm;
using cpu::Conv1dPass;
using cpu::Conv1dProblem;

std::mt19937_64& rng() {
  static std::mt19937_64 g(20261130);
  return g;
}
std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

std::vector<std::uint16_t> random_bf16(std::int64_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint16_t> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = f32_to_bf16_bits(normal(rng()));
  return v;
}

// A random valid problem: dense, grouped or depthwise; strides, dilations, paddings 0-3.
Conv1dProblem random_problem() {
  Conv1dProblem c;
  for (;;) {
    const int structure = static_cast<int>(rand_int(0, 2));
    c.groups = structure == 0 ? 1 : rand_int(2, 4);
    c.in_per_group = structure == 2 ? 1 : rand_int(1, 9);
    c.out_per_group = structure == 2 ? rand_int(1, 3) : rand_int(1, 20);
    c.in_channels = c.groups * c.in_per_group;
    c.out_channels = c.groups * c.out_per_group;
    c.batch = rand_int(1, 3);
    c.length = rand_int(1, 90);
    c.kernel = rand_int(1, 7);
    c.stride = rand_int(1, 4);
    c.dilation = rand_int(1, 3);
    c.pad_left = rand_int(0, 3);
    const std::int64_t pad_right = rand_int(0, 3);
    const std::int64_t span = c.dilation * (c.kernel - 1) + 1;
    if (span > c.length + c.pad_left + pad_right || c.stride > c.length) continue;
    c.out_length = (c.length + c.pad_left + pad_right - span) / c.stride + 1;
    return c;
  }
}

std::string describe(const Conv1dProblem& c) {
  return fmt::format("N={} Cin={} Cout={} L={} Lout={} K={} stride={} pad_left={} dilation={} "
                     "groups={}", c.batch, c.in_channels, c.out_channels, c.length, c.out_length,
                     c.kernel, c.stride, c.pad_left, c.dilation, c.groups);
}

// Exact value and magnitude (sum of |terms|) of one output element, and its number of terms.
struct Expect {
  std::vector<double> value, mag;
  std::int64_t terms = 0;
};

double f(std::uint16_t v) { return static_cast<double>(bf16_bits_to_f32(v)); }

// The three passes in double, straight from the definitions.
struct Oracle {
  const Conv1dProblem& c;
  const std::vector<std::uint16_t>& x;
  const std::vector<std::uint16_t>& w;
  const std::vector<std::uint16_t>& b;
  const std::vector<std::uint16_t>& gy;
  std::int64_t xi(std::int64_t n, std::int64_t ci, std::int64_t i) const {
    return (n * c.in_channels + ci) * c.length + i;
  }
  std::int64_t yi(std::int64_t n, std::int64_t co, std::int64_t t) const {
    return (n * c.out_channels + co) * c.out_length + t;
  }
  std::int64_t wi(std::int64_t co, std::int64_t j, std::int64_t k) const {
    return (co * c.in_per_group + j) * c.kernel + k;
  }
  template <class Fn>  // fn(n, co, t, ci, j, k, i) for every term that reads a real input
  void each_term(Fn fn) const {
    for (std::int64_t n = 0; n < c.batch; ++n)
      for (std::int64_t co = 0; co < c.out_channels; ++co) {
        const std::int64_t g = co / c.out_per_group;
        for (std::int64_t t = 0; t < c.out_length; ++t)
          for (std::int64_t j = 0; j < c.in_per_group; ++j)
            for (std::int64_t k = 0; k < c.kernel; ++k) {
              const std::int64_t i = t * c.stride + c.offset(k);
              if (i >= 0 && i < c.length) fn(n, co, t, g * c.in_per_group + j, j, k, i);
            }
      }
  }
  Expect forward(bool bias) const {
    Expect e;
    const auto size = static_cast<std::size_t>(c.batch * c.out_channels * c.out_length);
    e.value.assign(size, 0.0);
    e.mag.assign(size, 0.0);
    e.terms = c.in_per_group * c.kernel + 1;
    each_term([&](auto n, auto co, auto t, auto ci, auto j, auto k, auto i) {
      const double p = f(w[wi(co, j, k)]) * f(x[xi(n, ci, i)]);
      e.value[yi(n, co, t)] += p;
      e.mag[yi(n, co, t)] += std::fabs(p);
    });
    if (bias)
      for (std::int64_t n = 0; n < c.batch; ++n)
        for (std::int64_t co = 0; co < c.out_channels; ++co)
          for (std::int64_t t = 0; t < c.out_length; ++t) {
            e.value[yi(n, co, t)] += f(b[co]);
            e.mag[yi(n, co, t)] += std::fabs(f(b[co]));
          }
    return e;
  }
  Expect backward_input() const {
    Expect e;
    const auto size = static_cast<std::size_t>(c.batch * c.in_channels * c.length);
    e.value.assign(size, 0.0);
    e.mag.assign(size, 0.0);
    e.terms = c.out_per_group * c.kernel + c.kernel;  // the gemm's depth plus col2im's adds
    each_term([&](auto n, auto co, auto t, auto ci, auto j, auto k, auto i) {
      const double p = f(w[wi(co, j, k)]) * f(gy[yi(n, co, t)]);
      e.value[xi(n, ci, i)] += p;
      e.mag[xi(n, ci, i)] += std::fabs(p);
    });
    return e;
  }
  Expect backward_weight() const {
    Expect e;
    const auto size = static_cast<std::size_t>(c.out_channels * c.in_per_group * c.kernel);
    e.value.assign(size, 0.0);
    e.mag.assign(size, 0.0);
    e.terms = c.batch * c.out_length;
    each_term([&](auto n, auto co, auto t, auto ci, auto j, auto k, auto i) {
      const double p = f(gy[yi(n, co, t)]) * f(x[xi(n, ci, i)]);
      e.value[wi(co, j, k)] += p;
      e.mag[wi(co, j, k)] += std::fabs(p);
    });
    return e;
  }
  Expect bias_grad() const {
    Expect e;
    e.value.assign(static_cast<std::size_t>(c.out_channels), 0.0);
    e.mag.assign(e.value.size(), 0.0);
    e.terms = c.batch * c.out_length;
    for (std::int64_t n = 0; n < c.batch; ++n)
      for (std::int64_t co = 0; co < c.out_channels; ++co)
        for (std::int64_t t = 0; t < c.out_length; ++t) {
          e.value[co] += f(gy[yi(n, co, t)]);
          e.mag[co] += std::fabs(f(gy[yi(n, co, t)]));
        }
    return e;
  }
};

// The number of elements outside the bound (and a description of the first).
std::int64_t count_bad(const char* what, const std::vector<std::uint16_t>& got, const Expect& e,
                       std::string& first) {
  const double u = std::ldexp(1.0, -24);
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = f(got[i]);
    const double bound = std::ldexp(std::fabs(e.value[i]), -8) +
                         2.0 * static_cast<double>(e.terms + 2) * u * e.mag[i];
    if (!(std::fabs(g - e.value[i]) <= bound) && bad++ == 0)
      first = fmt::format("{}[{}] = {} vs exact {} (bound {})", what, i, g, e.value[i], bound);
  }
  return bad;
}

void check_close(const char* what, const std::vector<std::uint16_t>& got, const Expect& e) {
  std::string first;
  CHECK_MESSAGE(count_bad(what, got, e, first) == 0, first);
}

enum class Route { Bf16Gemm, WidenedGemm, WidenedDirect, Depthwise };

void run(const Conv1dProblem& c, Route route) {
  const auto x = random_bf16(c.batch * c.in_channels * c.length);
  const auto w = random_bf16(c.out_channels * c.in_per_group * c.kernel);
  const auto b = random_bf16(c.out_channels);
  const auto gy = random_bf16(c.batch * c.out_channels * c.out_length);
  const Oracle o{c, x, w, b, gy};
  std::vector<std::uint16_t> y(gy.size(), 0xffff), gx(x.size(), 0xffff), gw(w.size(), 0xffff),
      gb(b.size(), 0xffff);  // NaN poison: every element must be written
  const bool bias = rand_int(0, 1) == 1;
  if (route == Route::Depthwise) {  // native (vdpbf16ps) unless the portable path is forced
    cpu::conv1d_depthwise_forward_bf16(c, y.data(), x.data(), w.data(), bias ? b.data() : nullptr);
    cpu::conv1d_depthwise_backward_input_bf16(c, gx.data(), gy.data(), w.data());
    cpu::conv1d_depthwise_backward_weight_bf16(c, gw.data(), gb.data(), gy.data(), x.data());
  } else if (route == Route::Bf16Gemm) {
    cpu::conv1d_gemm_forward_bf16(c, y.data(), x.data(), w.data(), bias ? b.data() : nullptr);
    cpu::conv1d_gemm_backward_input_bf16(c, gx.data(), gy.data(), w.data());
    cpu::conv1d_gemm_backward_weight_bf16(c, gw.data(), gb.data(), gy.data(), x.data());
  } else {
    const auto alg = route == Route::WidenedGemm ? Conv1dAlgorithm::Gemm : Conv1dAlgorithm::Direct;
    cpu::conv1d_bf16_widened(Conv1dPass::Forward, alg, c, y.data(), nullptr, x.data(), w.data(),
                             bias ? b.data() : nullptr);
    cpu::conv1d_bf16_widened(Conv1dPass::BackwardInput, alg, c, gx.data(), nullptr, gy.data(),
                             w.data(), nullptr);
    cpu::conv1d_bf16_widened(Conv1dPass::BackwardWeight, alg, c, gw.data(), gb.data(), gy.data(),
                             x.data(), nullptr);
  }
  check_close("y", y, o.forward(bias));
  check_close("grad_x", gx, o.backward_input());
  check_close("grad_w", gw, o.backward_weight());
  check_close("grad_b", gb, o.bias_grad());
}

struct Restore {
  int threads = cpu::num_threads();
  ~Restore() {
    cpu::set_num_threads(threads);
    cpu::force_gemm_bf16_portable(false);
    cpu::set_conv1d_tile_bytes(0);
  }
};

}  // namespace

TEST_CASE("conv1d bf16 (CPU): every mode against a double oracle, on each path") {
  Restore restore;
  for (int i = 0; i < 120; ++i) {
    const Conv1dProblem c = random_problem();
    const auto route = static_cast<Route>(i % 3);
    const bool portable = !cpu::gemm_bf16_native_supported() || (i / 3) % 2 == 1;
    cpu::force_gemm_bf16_portable(portable);
    cpu::set_num_threads(1 + static_cast<int>(rand_int(0, 1)));
    cpu::set_conv1d_tile_bytes(rand_int(0, 1) ? 0 : 64);
    CAPTURE(describe(c));
    CAPTURE(static_cast<int>(route));
    CAPTURE(portable);
    run(c, route);
  }
}

TEST_CASE("conv1d bf16 (CPU): larger layers take the native gemm and threads") {
  Restore restore;
  const Conv1dProblem shapes[] = {
      // N, Cin, Cout, L, Lout, K, in/g, out/g, stride, pad_left, dilation, groups
      {2, 64, 64, 300, 300, 3, 64, 64, 1, 1, 1, 1},
      {3, 32, 48, 257, 128, 4, 16, 24, 2, 0, 1, 2},
      {2, 40, 40, 200, 200, 1, 40, 40, 1, 0, 1, 1},  // pointwise: no im2col
      {1, 16, 64, 500, 496, 3, 16, 64, 1, 0, 2, 1},
  };
  for (const Conv1dProblem& c : shapes) {
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      CAPTURE(describe(c));
      CAPTURE(threads);
      run(c, Route::Bf16Gemm);
    }
  }
}

// --- The depthwise bfloat16 kernel (conv1d_depthwise_bf16.cpp: vdpbf16ps) -------------------

namespace {

// A random depthwise problem (one input channel per group, multiplier 1-4): strides 1-4,
// dilations 1-4, kernels 1-9 (odd ones leave a tap without a partner), paddings 0-9 or causal
// (dilation * (kernel - 1) on the left only), lengths 1-200 (tiny rows, and rows that are not
// multiples of the kernel's 16/32 positions).
Conv1dProblem random_depthwise() {
  Conv1dProblem c;
  for (;;) {
    c.in_per_group = 1;
    c.groups = rand_int(1, 6);
    c.out_per_group = rand_int(1, 4);
    c.in_channels = c.groups;
    c.out_channels = c.groups * c.out_per_group;
    c.batch = rand_int(1, 3);
    c.length = rand_int(0, 3) == 0 ? rand_int(1, 8) : rand_int(1, 200);
    c.kernel = rand_int(1, 9);
    c.stride = rand_int(0, 1) ? 1 : rand_int(2, 4);
    c.dilation = rand_int(0, 1) ? 1 : rand_int(2, 4);
    std::int64_t pad_right = 0;
    if (rand_int(0, 3) == 0) {
      c.pad_left = c.dilation * (c.kernel - 1);  // causal
    } else {
      c.pad_left = rand_int(0, 9);
      pad_right = rand_int(0, 9);
    }
    const std::int64_t span = c.dilation * (c.kernel - 1) + 1;
    if (span > c.length + c.pad_left + pad_right || c.stride > c.length) continue;
    c.out_length = (c.length + c.pad_left + pad_right - span) / c.stride + 1;
    return c;
  }
}

// Small integers: every product and every float32 sum is exact, so the one rounding of each
// output is the only error and the kernel must give round-to-nearest-even of the exact sum,
// bit for bit.
std::vector<std::uint16_t> random_small_ints(std::int64_t n) {
  std::vector<std::uint16_t> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = f32_to_bf16_bits(static_cast<float>(rand_int(-4, 4)));
  return v;
}

void check_exact(const char* what, const std::vector<std::uint16_t>& got, const Expect& e) {
  std::int64_t bad = 0;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const std::uint16_t want = f32_to_bf16_bits(static_cast<float>(e.value[i]));
    if (got[i] != want && bad++ == 0)
      first = fmt::format("{}[{}] = {} vs round(exact {}) = {}", what, i, f(got[i]), e.value[i], f(want));
  }
  CHECK_MESSAGE(bad == 0, first);
}

void run_depthwise_exact(const Conv1dProblem& c) {
  const auto x = random_small_ints(c.batch * c.in_channels * c.length);
  const auto w = random_small_ints(c.out_channels * c.kernel);
  const auto b = random_small_ints(c.out_channels);
  const auto gy = random_small_ints(c.batch * c.out_channels * c.out_length);
  const Oracle o{c, x, w, b, gy};
  std::vector<std::uint16_t> y(gy.size(), 0xffff), gx(x.size(), 0xffff), gw(w.size(), 0xffff),
      gb(b.size(), 0xffff);
  cpu::conv1d_depthwise_forward_bf16(c, y.data(), x.data(), w.data(), b.data());
  cpu::conv1d_depthwise_backward_input_bf16(c, gx.data(), gy.data(), w.data());
  cpu::conv1d_depthwise_backward_weight_bf16(c, gw.data(), gb.data(), gy.data(), x.data());
  check_exact("y", y, o.forward(true));
  check_exact("grad_x", gx, o.backward_input());
  check_exact("grad_w", gw, o.backward_weight());
  check_exact("grad_b", gb, o.bias_grad());
}

// The paths this machine can run: native where the CPU has avx512_bf16, always the portable.
std::vector<bool> depthwise_paths() {
  if (cpu::gemm_bf16_native_supported()) return {false, true};
  MESSAGE("this CPU lacks avx512_bf16: the depthwise bf16 kernel's native path is not run here, "
          "only its portable path (float32 direct on widened copies)");
  return {true};
}

}  // namespace

TEST_CASE("conv1d bf16 (CPU): depthwise kernel, every mode against a double oracle") {
  Restore restore;
  for (const bool portable : depthwise_paths()) {
    cpu::force_gemm_bf16_portable(portable);
    for (int i = 0; i < 300; ++i) {
      const Conv1dProblem c = random_depthwise();
      cpu::set_num_threads(1 + static_cast<int>(rand_int(0, 1)));
      CAPTURE(describe(c));
      CAPTURE(portable);
      run(c, Route::Depthwise);
      run_depthwise_exact(c);
    }
  }
}

TEST_CASE("conv1d bf16 (CPU): depthwise kernel on larger layers and threads") {
  Restore restore;
  const Conv1dProblem shapes[] = {
      // N, Cin, Cout, L, Lout, K, in/g, out/g, stride, pad_left, dilation, groups
      {2, 16, 16, 1024, 1024, 3, 1, 1, 1, 1, 1, 16},  // bench/conv1d's depthwise, smaller
      {3, 8, 24, 777, 777, 7, 1, 3, 1, 6, 1, 8},      // multiplier 3, 'same'
      {2, 12, 12, 1001, 491, 9, 1, 1, 2, 0, 2, 12},   // stride 2, dilation 2, odd K
      {1, 4, 8, 129, 33, 5, 1, 2, 4, 4, 1, 4},        // stride 4, causal
      {2, 6, 6, 300, 300, 2, 1, 1, 1, 1, 1, 6},       // even K, padding 1 + 0
  };
  for (const bool portable : depthwise_paths()) {
    cpu::force_gemm_bf16_portable(portable);
    for (const Conv1dProblem& c : shapes) {
      for (int threads : {1, 2}) {
        cpu::set_num_threads(threads);
        CAPTURE(describe(c));
        CAPTURE(threads);
        CAPTURE(portable);
        run(c, Route::Depthwise);
        run_depthwise_exact(c);
      }
    }
  }
}

TEST_CASE("conv1d bf16 (CPU): the depthwise checks detect a wrong element") {
  // The bound and the exact comparison above would catch one wrong output: perturb one element
  // of a correct result by two bfloat16 ulps (a relative 2^-7 > the bound's 2^-8).
  Restore restore;
  Conv1dProblem c{2, 3, 6, 50, 50, 3, 1, 2, 1, 1, 1, 3};
  const auto x = random_bf16(c.batch * c.in_channels * c.length);
  const auto w = random_bf16(c.out_channels * c.kernel);
  const auto gy = random_bf16(c.batch * c.out_channels * c.out_length);
  const std::vector<std::uint16_t> no_bias;
  const Oracle o{c, x, w, no_bias, gy};
  std::vector<std::uint16_t> y(gy.size());
  cpu::conv1d_depthwise_forward_bf16(c, y.data(), x.data(), w.data(), nullptr);
  const Expect e = o.forward(false);
  std::string first;
  CHECK(count_bad("y", y, e, first) == 0);
  std::size_t i = 0;  // an element whose value is not tiny (the bound's absolute part)
  while (std::fabs(e.value[i]) < 1.0) ++i;
  y[i] = static_cast<std::uint16_t>(y[i] + 2);
  CHECK(count_bad("y", y, e, first) == 1);
}
