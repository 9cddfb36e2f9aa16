// The CPU backend's bfloat16 gemm (backends/cpu/gemm_bf16.hpp), both paths (AVX-512 BF16 where
// the CPU has it, the widening float32 path everywhere), against a double-precision product of
// the same bfloat16 inputs. Products of two bf16 values are exact in float32, so the only error
// of a float32-accumulated result is the k (+1 with accumulate) float32 additions:
//   |C - exact| <= (k + 1) * 2^-24 * (sum_q |a_iq| |b_qj| + |C0_ij|)
// (Higham's gamma_k bound, with u = 2^-24); the bound is computed here in double, never by the
// code under test.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "backends/cpu/gemm_bf16.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace {

using reel::backends::cpu::bf16_bits_to_f32;
using reel::backends::cpu::f32_to_bf16_bits;
using reel::backends::cpu::MatrixRef;
namespace cpu = reel::backends::cpu;

std::mt19937_64& rng() {
  static std::mt19937_64 g(20261130);
  return g;
}

// Restores the automatic path on scope exit, whatever a failing check did.
struct PathGuard {
  explicit PathGuard(bool portable) { cpu::force_gemm_bf16_portable(portable); }
  ~PathGuard() { cpu::force_gemm_bf16_portable(false); }
};

// The paths this machine can run: portable always, native where the CPU has avx512_bf16.
std::vector<bool> paths() {
  std::vector<bool> p{true};
  if (cpu::gemm_bf16_native_supported()) p.push_back(false);
  return p;
}

struct Case {
  std::int64_t m, n, k;
  bool a_trans = false, b_trans = false, c_trans = false, accumulate = false;
};

// Runs one case on the current path: random bf16 A, B (values of mixed sign and magnitude,
// exactly representable), checks each element of C against the bound.
void run_case(const Case& t) {
  CAPTURE(t.m);
  CAPTURE(t.n);
  CAPTURE(t.k);
  CAPTURE(t.a_trans);
  CAPTURE(t.b_trans);
  CAPTURE(t.c_trans);
  CAPTURE(t.accumulate);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> expo(-6, 6);
  auto random_bf16 = [&] { return f32_to_bf16_bits(std::ldexp(normal(rng()), expo(rng()))); };
  std::vector<std::uint16_t> a(static_cast<std::size_t>(t.m * t.k));
  std::vector<std::uint16_t> b(static_cast<std::size_t>(t.k * t.n));
  for (auto& v : a) v = random_bf16();
  for (auto& v : b) v = random_bf16();
  // Logical A[i, q]: row-major [m, k] storage, or [k, m] storage read transposed.
  const MatrixRef<const std::uint16_t> ar =
      t.a_trans ? MatrixRef<const std::uint16_t>{a.data(), 1, t.m}
                : MatrixRef<const std::uint16_t>{a.data(), t.k, 1};
  const MatrixRef<const std::uint16_t> br =
      t.b_trans ? MatrixRef<const std::uint16_t>{b.data(), 1, t.k}
                : MatrixRef<const std::uint16_t>{b.data(), t.n, 1};
  // C has a padded leading dimension (ld = n + 3 or m + 5), so strides are really used.
  const std::int64_t ld = t.c_trans ? t.m + 5 : t.n + 3;
  const std::int64_t c_size = t.c_trans ? t.n * ld : t.m * ld;
  std::vector<float> c(static_cast<std::size_t>(c_size), 1e30f);  // poison outside C
  const MatrixRef<float> cr = t.c_trans ? MatrixRef<float>{c.data(), 1, ld}
                                        : MatrixRef<float>{c.data(), ld, 1};
  auto at = [&](const auto& m, std::int64_t i, std::int64_t j) -> auto& {
    return m.data[i * m.row_stride + j * m.col_stride];
  };
  std::vector<double> c0(static_cast<std::size_t>(t.m * t.n), 0.0);
  if (t.accumulate) {
    for (std::int64_t i = 0; i < t.m; ++i)
      for (std::int64_t j = 0; j < t.n; ++j) {
        const float v = normal(rng());
        at(cr, i, j) = v;
        c0[static_cast<std::size_t>(i * t.n + j)] = v;
      }
  }
  cpu::gemm_bf16(t.m, t.n, t.k, ar, br, cr, t.accumulate);
  const double u = std::ldexp(1.0, -24);
  std::int64_t bad = 0;
  std::string first_bad;
  for (std::int64_t i = 0; i < t.m; ++i) {
    for (std::int64_t j = 0; j < t.n; ++j) {
      double exact = c0[static_cast<std::size_t>(i * t.n + j)];
      double mag = std::fabs(exact);
      for (std::int64_t q = 0; q < t.k; ++q) {
        const double p = static_cast<double>(bf16_bits_to_f32(at(ar, i, q))) *
                         static_cast<double>(bf16_bits_to_f32(at(br, q, j)));
        exact += p;
        mag += std::fabs(p);
      }
      const double got = at(cr, i, j);
      const double bound = static_cast<double>(t.k + 1) * u * mag;
      if (!(std::fabs(got - exact) <= bound)) {
        if (bad++ == 0)
          first_bad = fmt::format("C[{}, {}] = {} vs exact {} (bound {})", i, j, got, exact, bound);
      }
    }
  }
  CHECK_MESSAGE(bad == 0, first_bad);
  // Nothing outside C was written (the padding of the leading dimension keeps its poison).
  std::int64_t touched = 0;
  for (std::int64_t r = 0; r < (t.c_trans ? t.n : t.m); ++r)
    for (std::int64_t q = (t.c_trans ? t.m : t.n); q < ld; ++q)
      touched += c[static_cast<std::size_t>(r * ld + q)] != 1e30f;
  CHECK(touched == 0);
}

}  // namespace

TEST_CASE("gemm_bf16: bfloat16 bit helpers round to nearest even") {
  CHECK(f32_to_bf16_bits(1.0f) == 0x3f80);
  CHECK(bf16_bits_to_f32(0x3f80) == 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1.0.
  CHECK(f32_to_bf16_bits(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
  CHECK(f32_to_bf16_bits(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(f32_to_bf16_bits(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3f81);
  CHECK(f32_to_bf16_bits(-2.0f) == 0xc000);
  CHECK(f32_to_bf16_bits(INFINITY) == 0x7f80);
  CHECK(f32_to_bf16_bits(3.4e38f) == 0x7f80);  // rounds past the largest finite bf16
  CHECK(std::isnan(bf16_bits_to_f32(f32_to_bf16_bits(NAN))));
}

TEST_CASE("gemm_bf16: the machine's paths") {
  // This project's machine has avx512_bf16 (/proc/cpuinfo); elsewhere only the portable path
  // runs, which is the point of the dispatch.
  MESSAGE("native bf16 gemm supported: ", cpu::gemm_bf16_native_supported());
  {
    PathGuard g(true);
    CHECK_FALSE(cpu::gemm_bf16_native_active());
  }
  CHECK(cpu::gemm_bf16_native_active() == cpu::gemm_bf16_native_supported());
}

TEST_CASE("gemm_bf16: shapes, strides and accumulate on both paths") {
  const int saved_threads = cpu::num_threads();
  for (const bool portable : paths()) {
    CAPTURE(portable);
    PathGuard guard(portable);
    // Edge shapes: k = 1, odd k, tiles 12 x 32 and their neighbours, gemv shapes, skinny C,
    // k blocks (k > 512 pairs cut), and one product past the threading threshold.
    const std::vector<Case> fixed = {
        {1, 1, 1},       {12, 32, 1},      {12, 32, 2},     {12, 32, 3},     {13, 33, 7},
        {11, 31, 16},    {24, 64, 64},     {25, 65, 65},    {1, 100, 37},    {100, 1, 37},
        {100, 5, 41},    {5, 100, 41},     {37, 41, 1025},  {64, 64, 513},   {3, 200, 2},
        {200, 300, 129}, {48, 4100, 9},    {250, 97, 300},
    };
    for (Case t : fixed) {
      for (int variant = 0; variant < 3; ++variant) {
        t.a_trans = variant == 1;
        t.b_trans = variant >= 1;
        t.c_trans = variant == 2;
        t.accumulate = variant == 2;
        run_case(t);
      }
    }
    // Random shapes and stride patterns, at 1 and 2 threads.
    std::uniform_int_distribution<int> dim(1, 80), bit(0, 1);
    for (int i = 0; i < 60; ++i) {
      cpu::set_num_threads(1 + i % 2);
      Case t{dim(rng()), dim(rng()), dim(rng()) * (bit(rng()) ? 1 : 7)};
      t.a_trans = bit(rng());
      t.b_trans = bit(rng());
      t.c_trans = bit(rng());
      t.accumulate = bit(rng());
      run_case(t);
    }
    cpu::set_num_threads(saved_threads);
  }
}

TEST_CASE("gemm_bf16: k == 0 and empty products") {
  for (const bool portable : paths()) {
    PathGuard guard(portable);
    std::vector<float> c(6, 5.0f);
    cpu::gemm_bf16(2, 3, 0, {nullptr, 0, 1}, {nullptr, 3, 1}, {c.data(), 3, 1}, true);
    CHECK(c == std::vector<float>(6, 5.0f));  // accumulate of nothing leaves C
    cpu::gemm_bf16(2, 3, 0, {nullptr, 0, 1}, {nullptr, 3, 1}, {c.data(), 3, 1}, false);
    CHECK(c == std::vector<float>(6, 0.0f));
    cpu::gemm_bf16(0, 3, 4, {nullptr, 4, 1}, {nullptr, 3, 1}, {c.data(), 3, 1});  // no-op
  }
}

TEST_CASE("gemm_bf16: both paths agree on integers exactly") {
  // Small integers are exact in bf16 and their sums (below 2^24) in float32: any order of
  // accumulation gives the same result, so the two paths must agree bit for bit.
  if (!cpu::gemm_bf16_native_supported()) return;
  const std::int64_t m = 50, n = 70, k = 301;
  std::uniform_int_distribution<int> small(-8, 8);
  std::vector<std::uint16_t> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n));
  for (auto& v : a) v = f32_to_bf16_bits(static_cast<float>(small(rng())));
  for (auto& v : b) v = f32_to_bf16_bits(static_cast<float>(small(rng())));
  std::vector<float> c_native(static_cast<std::size_t>(m * n)), c_portable(c_native.size());
  cpu::gemm_bf16(m, n, k, {a.data(), k, 1}, {b.data(), n, 1}, {c_native.data(), n, 1});
  {
    PathGuard guard(true);
    cpu::gemm_bf16(m, n, k, {a.data(), k, 1}, {b.data(), n, 1}, {c_portable.data(), n, 1});
  }
  CHECK(c_native == c_portable);
  double expect00 = 0;
  for (std::int64_t q = 0; q < k; ++q)
    expect00 += bf16_bits_to_f32(a[static_cast<std::size_t>(q)]) *
                bf16_bits_to_f32(b[static_cast<std::size_t>(q * n)]);
  CHECK(c_native[0] == expect00);
}

TEST_CASE("batched_gemm_bf16: bfloat16 out, rounded once, broadcast batches") {
  // Bound: the float32 sum's (k + 1) 2^-24 mag, then one rounding to bf16 (2^-8 relative).
  const int saved_threads = cpu::num_threads();
  for (const bool portable : paths()) {
    PathGuard guard(portable);
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      struct B { std::int64_t batch, m, n, k; bool broadcast_a; };
      for (const B t : {B{3, 20, 40, 33, true}, B{4, 64, 64, 64, false}, B{2, 1, 50, 9, false},
                        B{5, 7, 3, 100, true}}) {
        CAPTURE(t.batch);
        CAPTURE(t.m);
        CAPTURE(t.n);
        CAPTURE(t.k);
        CAPTURE(threads);
        std::normal_distribution<float> normal;
        const std::int64_t a_bs = t.broadcast_a ? 0 : t.m * t.k;
        std::vector<std::uint16_t> a(static_cast<std::size_t>(t.broadcast_a ? t.m * t.k : t.batch * t.m * t.k));
        std::vector<std::uint16_t> b(static_cast<std::size_t>(t.batch * t.k * t.n));
        std::vector<std::uint16_t> c(static_cast<std::size_t>(t.batch * t.m * t.n), 0xffff);
        for (auto& v : a) v = f32_to_bf16_bits(normal(rng()));
        for (auto& v : b) v = f32_to_bf16_bits(normal(rng()));
        // B stored transposed ([n, k] per batch) to exercise strides.
        cpu::batched_gemm_bf16(t.batch, t.m, t.n, t.k, {a.data(), t.k, 1}, a_bs,
                               {b.data(), 1, t.k}, t.k * t.n, {c.data(), t.n, 1}, t.m * t.n);
        std::int64_t bad = 0;
        for (std::int64_t p = 0; p < t.batch; ++p)
          for (std::int64_t i = 0; i < t.m; ++i)
            for (std::int64_t j = 0; j < t.n; ++j) {
              double exact = 0, mag = 0;
              for (std::int64_t q = 0; q < t.k; ++q) {
                const double v =
                    static_cast<double>(bf16_bits_to_f32(a[static_cast<std::size_t>(p * a_bs + i * t.k + q)])) *
                    bf16_bits_to_f32(b[static_cast<std::size_t>(p * t.k * t.n + j * t.k + q)]);
                exact += v;
                mag += std::fabs(v);
              }
              const double got = bf16_bits_to_f32(c[static_cast<std::size_t>((p * t.m + i) * t.n + j)]);
              const double bound = std::ldexp(std::fabs(exact), -8) +
                                   2.0 * static_cast<double>(t.k + 1) * std::ldexp(mag, -24);
              bad += !(std::fabs(got - exact) <= bound);
            }
        CHECK(bad == 0);
      }
    }
  }
  cpu::set_num_threads(saved_threads);
}
