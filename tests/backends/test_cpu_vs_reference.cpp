// The CPU backend's own machinery: NaN semantics of its SIMD kernels, its errors, the caching
// allocator and the thread pool. Its results against the reference backend, op by op, at each
// SIMD level and thread count, are the parity harness's (test_parity.cpp).
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "operands.hpp"

namespace {

using namespace reel;
using namespace reel::backends;

using namespace reel::test::operands;

}  // namespace

TEST_CASE("cpu backend: NaN semantics of relu, maximum, minimum and relu_backward") {
  Backend& cpu = cpu_backend();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a = {nan, 1.f, nan, -2.f, 3.f, -1.f, 0.f, nan, 5.f, nan, 2.f, 7.f, 1.f, nan, -4.f, 0.5f, nan};
  std::vector<float> b = {1.f, nan, nan, 2.f, -3.f, -1.f, -0.f, 4.f, nan, -1.f, 2.f, 1.f, 9.f, nan, -5.f, 0.5f, 1.f};
  const Shape shape{static_cast<std::int64_t>(a.size())};
  std::vector<float> out(a.size());
  View va{a.data(), kFloat32, shape, {1}}, vb{b.data(), kFloat32, shape, {1}};
  View vo{out.data(), kFloat32, shape, {1}};
  cpu.unary(UnaryOp::Relu, vo, va);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK((std::isnan(a[i]) ? std::isnan(out[i]) : out[i] == std::max(a[i], 0.f)));
  for (BinaryOp op : {BinaryOp::Maximum, BinaryOp::Minimum}) {
    cpu.binary(op, vo, va, vb);
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i]) || std::isnan(b[i])) CHECK(std::isnan(out[i]));
      else CHECK(out[i] == (op == BinaryOp::Maximum ? std::max(a[i], b[i]) : std::min(a[i], b[i])));
    }
  }
  cpu.binary(BinaryOp::ReluBackward, vo, va, vb);  // b > 0 ? a : 0
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (b[i] > 0) CHECK((std::isnan(a[i]) ? std::isnan(out[i]) : out[i] == a[i]));
    else CHECK(out[i] == 0.f);
  }
}

TEST_CASE("cpu backend: invalid arguments raise the reference's errors") {
  const Operand a = make_operand(kFloat32, {2, 3}, Layout::Contiguous);
  const Operand b = make_operand(kFloat32, {3, 2}, Layout::Contiguous);
  Operand out = make_operand(kFloat32, {2, 3}, Layout::Contiguous);
  CHECK_THROWS_AS(cpu_backend().binary(BinaryOp::Add, out.view, a.view, b.view), reel::Error);
  CHECK_THROWS_AS(cpu_backend().copy(out.view, b.view), reel::Error);
  CHECK_THROWS_AS(cpu_backend().matmul(out.view, a.view, b.view), reel::Error);
}

TEST_CASE("cpu caching allocator: steady state allocates nothing from the OS") {
  Backend& cpu = cpu_backend();
  const std::size_t sizes[] = {0, 1, 63, 64, 65, 1000, 4096, 4097, 100000, 1 << 20, 3000001};
  auto step = [&] {
    std::vector<void*> ptrs;
    for (std::size_t s : sizes) {
      void* p = cpu.allocate(s);
      CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
      if (s) std::memset(p, 0xab, s);
      ptrs.push_back(p);
    }
    CHECK(std::set<void*>(ptrs.begin(), ptrs.end()).size() == ptrs.size());
    for (std::size_t i = 0; i < ptrs.size(); ++i) cpu.deallocate(ptrs[i], sizes[i]);
  };
  step();  // warm-up
  const cpu::AllocatorStats before = cpu::allocator_stats();
  for (int i = 0; i < 20; ++i) step();
  const cpu::AllocatorStats after = cpu::allocator_stats();
  CHECK(after.os_allocations == before.os_allocations);
  CHECK(after.os_bytes == before.os_bytes);
  CHECK(after.in_use_bytes == before.in_use_bytes);
  CHECK(after.cached_bytes >= 3000001);
  cpu::empty_cache();
  CHECK(cpu::allocator_stats().cached_bytes == 0);
}

TEST_CASE("cpu thread pool: set_num_threads validates, parallel_for covers the range once") {
  const int saved_threads = cpu::num_threads();
  // The registry's entry points (what reel::set_num_threads calls) set the same pool.
  backends::set_num_threads(1);
  CHECK(cpu::num_threads() == 1);
  CHECK(backends::get_num_threads() == 1);
  CHECK_THROWS_WITH_AS(backends::set_num_threads(0), doctest::Contains("got 0"), reel::Error);
  backends::set_num_threads(saved_threads);
  CHECK(saved_threads >= 1);
  CHECK_THROWS_WITH_AS(cpu::set_num_threads(0), doctest::Contains("got 0"), reel::Error);
  CHECK_THROWS_WITH_AS(cpu::set_num_threads(-3), doctest::Contains("got -3"), reel::Error);
  for (int threads : {1, 2, 3}) {
    cpu::set_num_threads(threads);
    CHECK(cpu::num_threads() == threads);
    std::vector<int> hits(100000, 0);
    cpu::parallel_for(0, 100000, 1000, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
      // Nested loops run inline instead of deadlocking.
      cpu::parallel_for(0, 10, 1, [](std::int64_t, std::int64_t) {});
    });
    CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
    CHECK_THROWS_AS(cpu::parallel_for(0, 100000, 10, [](std::int64_t, std::int64_t) {
                      throw reel::Error("boom");
                    }),
                    reel::Error);
    if (threads > 1) {  // resizing the pool from one of its own tasks would wait on itself
      CHECK_THROWS_AS(cpu::parallel_for(0, 100, 1, [](std::int64_t, std::int64_t) {
                        cpu::set_num_threads(1);
                      }),
                      reel::Error);
    }
  }
  cpu::set_num_threads(saved_threads);
}

// --- issue 10: the training-step ops' CPU paths --------------------------------------------------
// The parity harness covers them over its layouts; these add what it does not reach: NaN at
// every position of SIMD bodies and tails, runs long enough to be cut into parts and threads,
// and bitwise agreement of the optimizer updates with the reference where the SIMD level has FMA.
namespace {

// Runs body() at each SIMD level this CPU has and at 1, 2 and 3 threads, restoring the defaults.
template <class F>
void on_each_cpu_config(F&& body) {
  const int saved = cpu::num_threads();
  for (const char* arch : {"avx512bw", "fma3+avx2", "sse2"}) {
    if (!cpu::force_simd_arch(arch)) continue;
    for (int threads : {1, 2, 3}) {
      cpu::set_num_threads(threads);
      const std::string name = arch;
      CAPTURE(name);
      CAPTURE(threads);
      body(name);
    }
  }
  cpu::force_simd_arch("");
  cpu::set_num_threads(saved);
}

template <class T>
bool same_value(T x, T y) {  // bitwise, NaN == NaN
  return (std::isnan(x) && std::isnan(y)) || x == y;
}

}  // namespace

TEST_CASE("cpu backend (issue 10): max/min reductions match the reference, NaN included") {
  std::mt19937 rng(10);
  std::uniform_real_distribution<double> dist(-100.0, 100.0);
  // Lengths across the SIMD widths and tails (1..17, 33), a row cut into threaded parts
  // (> 2 * 131072), and shapes for the row, column and all-reduce paths.
  struct Case { Shape in, out; };
  std::vector<Case> cases;
  for (std::int64_t n : {1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 300001}) cases.push_back({{n}, {1}});
  cases.push_back({{37, 65}, {37, 1}});    // rows
  cases.push_back({{37, 65}, {1, 65}});    // columns
  cases.push_back({{5, 3, 17}, {5, 1, 1}});
  cases.push_back({{4, 3000, 33}, {1, 3000, 33}});  // columns, threaded
  cases.push_back({{3000, 70}, {3000, 1}});          // rows, threaded
  for (const Case& c : cases) {
    const std::int64_t n = numel_of(c.in);
    for (int nan_at : {-1, 0, 1, 5, 16, static_cast<int>(n - 1), static_cast<int>(n / 2)}) {
      if (nan_at >= n) continue;
      std::vector<double> x(static_cast<std::size_t>(n));
      for (double& v : x) v = dist(rng);
      if (nan_at >= 0) x[static_cast<std::size_t>(nan_at)] = std::nan("");
      if (n > 20) x[3] = std::numeric_limits<double>::infinity(), x[4] = -x[3];
      for (DType t : {kFloat32, kFloat64}) {
        std::vector<float> xf(x.begin(), x.end());
        void* data = t == kFloat32 ? static_cast<void*>(xf.data()) : static_cast<void*>(x.data());
        const View in{data, t, c.in, contiguous_strides(c.in)};
        for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min}) {
          const std::string ctx = fmt::format("{} {} {} -> {} NaN at {}", op_name(op), t, c.in,
                                              c.out, nan_at);
          CAPTURE(ctx);
          const std::int64_t m = numel_of(c.out);
          std::vector<double> want(static_cast<std::size_t>(m)), got(want.size());
          std::vector<float> wantf(want.size()), gotf(want.size());
          auto out_view = [&](std::vector<double>& d, std::vector<float>& f) {
            void* p = t == kFloat32 ? static_cast<void*>(f.data()) : static_cast<void*>(d.data());
            return View{p, t, c.out, contiguous_strides(c.out)};
          };
          reference_backend().reduce(op, out_view(want, wantf), in);
          on_each_cpu_config([&](const std::string&) {
            cpu_backend().reduce(op, out_view(got, gotf), in);
            for (std::int64_t i = 0; i < m; ++i) {
              const auto k = static_cast<std::size_t>(i);
              if (t == kFloat32) CHECK(same_value(gotf[k], wantf[k]));
              else CHECK(same_value(got[k], want[k]));
            }
          });
        }
      }
    }
  }
}

TEST_CASE("cpu backend (issue 10): argmax/argmin rows equal the reference, ties and NaN included") {
  std::mt19937 rng(11);
  // Few distinct values, so rows have ties (the first index must win); -0 beside +0.
  std::uniform_int_distribution<int> pick(-6, 6);
  std::vector<Shape> shapes;
  for (std::int64_t n : {1, 2, 7, 15, 16, 17, 33, 1000}) shapes.push_back({n});
  shapes.push_back({37, 65});
  shapes.push_back({2, 3, 17});
  shapes.push_back({3000, 70});  // threaded rows
  for (const Shape& shape : shapes) {
    const std::int64_t n = numel_of(shape);
    const std::int64_t row = shape[shape.size() - 1];
    const int dim = static_cast<int>(shape.size()) - 1;
    const Shape out_shape = [&] { Shape o = shape; o[dim] = 1; return o; }();
    const std::int64_t m = n / row;
    for (int nan_at : {-1, 0, 5, static_cast<int>(n - 1), static_cast<int>(n / 2)}) {
      if (nan_at >= n) continue;
      std::vector<double> x(static_cast<std::size_t>(n));
      for (double& v : x) {
        const int k = pick(rng);
        v = k == 0 ? (rng() % 2 ? 0.0 : -0.0) : k * 0.25;
      }
      if (nan_at >= 0) x[static_cast<std::size_t>(nan_at)] = std::nan("");
      if (n > 20) x[3] = std::numeric_limits<double>::infinity(), x[4] = -x[3];
      for (DType t : {kFloat32, kFloat64}) {
        std::vector<float> xf(x.begin(), x.end());
        void* data = t == kFloat32 ? static_cast<void*>(xf.data()) : static_cast<void*>(x.data());
        const View in{data, t, shape, contiguous_strides(shape)};
        for (ArgReduceOp op : {ArgReduceOp::Max, ArgReduceOp::Min}) {
          for (bool with_values : {true, false}) {
            const std::string ctx = fmt::format("{} {} {} NaN at {} values {}", op_name(op), t,
                                                shape, nan_at, with_values);
            CAPTURE(ctx);
            std::vector<std::int64_t> want_i(static_cast<std::size_t>(m)), got_i(want_i.size());
            std::vector<double> want(want_i.size()), got(want_i.size());
            std::vector<float> wantf(want_i.size()), gotf(want_i.size());
            auto values = [&](std::vector<double>& d, std::vector<float>& f) {
              if (!with_values) return View{nullptr, t, out_shape, contiguous_strides(out_shape)};
              void* p = t == kFloat32 ? static_cast<void*>(f.data()) : static_cast<void*>(d.data());
              return View{p, t, out_shape, contiguous_strides(out_shape)};
            };
            auto indices = [&](std::vector<std::int64_t>& v) {
              return View{v.data(), kInt64, out_shape, contiguous_strides(out_shape)};
            };
            reference_backend().arg_reduce(op, values(want, wantf), indices(want_i), in, dim);
            on_each_cpu_config([&](const std::string&) {
              std::fill(got_i.begin(), got_i.end(), -1);
              cpu_backend().arg_reduce(op, values(got, gotf), indices(got_i), in, dim);
              CHECK(got_i == want_i);
              for (std::size_t k = 0; with_values && k < want_i.size(); ++k) {
                if (t == kFloat32) CHECK(std::memcmp(&gotf[k], &wantf[k], sizeof(float)) == 0);
                else CHECK(std::memcmp(&got[k], &want[k], sizeof(double)) == 0);
              }
            });
          }
        }
      }
    }
  }
}

TEST_CASE("cpu backend (issue 10): pow with the exponents PyTorch special-cases, and sign, match the reference") {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> x = {0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e-3, 3e5, -7.0, inf, -inf, std::nan(""),
                           0.1, 123.456, -1e-30, 1e30, 4.0, 9.0, -0.5, 0.75, 2.0, 1e-300};
  const Shape shape{static_cast<std::int64_t>(x.size())};
  for (DType t : {kFloat32, kFloat64}) {
    std::vector<float> xf(x.begin(), x.end());
    void* data = t == kFloat32 ? static_cast<void*>(xf.data()) : static_cast<void*>(x.data());
    const View in{data, t, shape, {1}};
    // 2 and -1 are correctly rounded either way (bitwise); 3 is two products (within 2 ulps);
    // 0.5 is a square root with std::pow's answers at -0 and -inf (bitwise); 1.7 is std::pow.
    for (double e : {2.0, 3.0, -1.0, 0.5, 1.7}) {
      double ed = e;
      float ef = static_cast<float>(e);
      const View ev{t == kFloat32 ? static_cast<void*>(&ef) : static_cast<void*>(&ed), t, shape,
                    {0}};
      const std::string ctx = fmt::format("pow {} exponent {}", t, e);
      CAPTURE(ctx);
      std::vector<double> want(x.size()), got(x.size());
      std::vector<float> wantf(x.size()), gotf(x.size());
      auto out = [&](std::vector<double>& d, std::vector<float>& f) {
        return View{t == kFloat32 ? static_cast<void*>(f.data()) : static_cast<void*>(d.data()), t,
                    shape, {1}};
      };
      reference_backend().binary(BinaryOp::Pow, out(want, wantf), in, ev);
      on_each_cpu_config([&](const std::string&) {
        cpu_backend().binary(BinaryOp::Pow, out(got, gotf), in, ev);
        for (std::size_t k = 0; k < x.size(); ++k) {
          CAPTURE(x[k]);
          if (e == 3.0) {
            if (t == kFloat32) CHECK((same_value(gotf[k], wantf[k]) || std::abs(gotf[k] - wantf[k]) <= 2 * 1.2e-7 * std::abs(wantf[k])));
            else CHECK((same_value(got[k], want[k]) || std::abs(got[k] - want[k]) <= 2 * 2.3e-16 * std::abs(want[k])));
          } else if (t == kFloat32) {
            CHECK(((std::isnan(gotf[k]) && std::isnan(wantf[k])) || std::memcmp(&gotf[k], &wantf[k], 4) == 0));
          } else {
            CHECK(((std::isnan(got[k]) && std::isnan(want[k])) || std::memcmp(&got[k], &want[k], 8) == 0));
          }
        }
      });
    }
    std::vector<double> want(x.size()), got(x.size());
    std::vector<float> wantf(x.size()), gotf(x.size());
    auto out = [&](std::vector<double>& d, std::vector<float>& f) {
      return View{t == kFloat32 ? static_cast<void*>(f.data()) : static_cast<void*>(d.data()), t,
                  shape, {1}};
    };
    reference_backend().unary(UnaryOp::Sign, out(want, wantf), in);
    on_each_cpu_config([&](const std::string&) {
      cpu_backend().unary(UnaryOp::Sign, out(got, gotf), in);
      for (std::size_t k = 0; k < x.size(); ++k) {
        CAPTURE(x[k]);
        if (t == kFloat32) CHECK(((std::isnan(gotf[k]) && std::isnan(wantf[k])) || std::memcmp(&gotf[k], &wantf[k], 4) == 0));
        else CHECK(((std::isnan(got[k]) && std::isnan(want[k])) || std::memcmp(&got[k], &want[k], 8) == 0));
      }
    });
  }
}

TEST_CASE("cpu backend (issue 10): where and comparisons match the reference, NaN included") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, 5);
  for (std::int64_t n : {1, 7, 17, 33, 200001}) {
    std::vector<double> a(static_cast<std::size_t>(n)), b(a.size());
    std::vector<unsigned char> cond(a.size());
    const double specials[] = {std::nan(""), std::numeric_limits<double>::infinity(), -0.0, 0.0, 1.0, -2.5};
    for (std::size_t i = 0; i < a.size(); ++i) {
      a[i] = specials[pick(rng)];
      b[i] = specials[pick(rng)];
      cond[i] = pick(rng) % 2;
    }
    const Shape shape{n};
    const View va{a.data(), kFloat64, shape, {1}}, vb{b.data(), kFloat64, shape, {1}};
    const View vscalar{b.data(), kFloat64, shape, {0}};  // b[0] broadcast
    const View vc{cond.data(), kBool, shape, {1}};
    for (BinaryOp op : {BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge}) {
      for (const View* rhs : {&vb, &vscalar}) {
        CAPTURE(op_name(op));
        std::vector<unsigned char> want(a.size()), got(a.size());
        reference_backend().binary(op, View{want.data(), kBool, shape, {1}}, va, *rhs);
        on_each_cpu_config([&](const std::string&) {
          std::fill(got.begin(), got.end(), 7);
          cpu_backend().binary(op, View{got.data(), kBool, shape, {1}}, va, *rhs);
          CHECK(got == want);
        });
      }
    }
    for (const View* rhs : {&vb, &vscalar}) {
      std::vector<double> want(a.size()), got(a.size());
      reference_backend().where(View{want.data(), kFloat64, shape, {1}}, vc, va, *rhs);
      on_each_cpu_config([&](const std::string&) {
        std::fill(got.begin(), got.end(), 3.0);
        cpu_backend().where(View{got.data(), kFloat64, shape, {1}}, vc, va, *rhs);
        for (std::size_t i = 0; i < a.size(); ++i) {
          CHECK(same_value(got[i], want[i]));
          CHECK(std::signbit(got[i]) == std::signbit(want[i]));
        }
      });
    }
  }
}

TEST_CASE("cpu backend (issue 10): Adam and SGD updates equal the reference bit for bit with FMA") {
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (std::int64_t n : {1, 5, 16, 17, 31, 70001}) {
    std::vector<float> p0(static_cast<std::size_t>(n)), g(p0.size()), m0(p0.size()),
        v0(p0.size()), x0(p0.size());
    for (std::size_t i = 0; i < p0.size(); ++i) {
      p0[i] = dist(rng), g[i] = dist(rng), m0[i] = dist(rng) * 0.1f;
      v0[i] = std::abs(dist(rng)) * 0.01f, x0[i] = std::abs(dist(rng)) * 0.01f;
    }
    if (n > 3) g[2] = std::nanf("");  // a NaN gradient poisons its own element only
    const Shape shape{n};
    auto view = [&](std::vector<float>& d) { return View{d.data(), kFloat32, shape, {1}}; };
    for (int k = 0; k < 4; ++k) {
      AdamStepParams ap;
      ap.weight_decay = k == 0 ? 0.0 : 0.05;
      ap.amsgrad = k == 1 || k == 3;
      ap.maximize = k == 2;
      ap.decoupled_weight_decay = k >= 2;
      ap.step_size = ap.lr / (1 - std::pow(ap.beta1, 3.0));
      ap.bias_correction2_sqrt = std::sqrt(1 - std::pow(ap.beta2, 3.0));
      std::vector<float> pw = p0, mw = m0, vw = v0, xw = x0;
      const View none{};
      reference_backend().adam_step(view(pw), view(g), view(mw), view(vw),
                                    ap.amsgrad ? view(xw) : none, ap);
      on_each_cpu_config([&](const std::string& arch) {
        std::vector<float> p = p0, m = m0, v = v0, x = x0;
        cpu_backend().adam_step(view(p), view(g), view(m), view(v), ap.amsgrad ? view(x) : none, ap);
        CAPTURE(k);
        for (std::size_t i = 0; i < p.size(); ++i) {
          if (arch == "sse2") {  // no FMA: a product rounded before its add, an ulp or so apart
            if (std::isnan(pw[i])) CHECK(std::isnan(p[i]));
            else CHECK(std::abs(p[i] - pw[i]) <= 1e-5f * (1 + std::abs(pw[i])));
          } else {
            CHECK(same_value(p[i], pw[i]));
            CHECK(same_value(m[i], mw[i]));
            CHECK(same_value(v[i], vw[i]));
            CHECK(same_value(x[i], xw[i]));
          }
        }
      });
    }
    for (int k = 0; k < 4; ++k) {
      SgdStepParams sp;
      sp.lr = 0.1;
      sp.momentum = k == 0 ? 0.0 : 0.9;
      sp.dampening = k == 2 ? 0.25 : 0.0;
      sp.weight_decay = k >= 2 ? 0.01 : 0.0;
      sp.nesterov = k == 3;
      sp.maximize = k == 1 || k == 3;
      sp.first_step = k == 2;
      std::vector<float> pw = p0, bw = m0;
      const View none{};
      reference_backend().sgd_step(view(pw), view(g), k == 0 ? none : view(bw), sp);
      on_each_cpu_config([&](const std::string& arch) {
        if (arch == "sse2") return;  // the parity harness compares it within rounding
        std::vector<float> p = p0, b = m0;
        cpu_backend().sgd_step(view(p), view(g), k == 0 ? none : view(b), sp);
        CAPTURE(k);
        for (std::size_t i = 0; i < p.size(); ++i) {
          CHECK(same_value(p[i], pw[i]));
          CHECK(same_value(b[i], bw[i]));
        }
      });
    }
  }
}

TEST_CASE("cpu backend (issue 10): RMSprop and Adagrad updates equal the reference bit for bit with FMA") {
  std::mt19937 rng(13);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (DType t : {kFloat32, kFloat64}) {
    for (std::int64_t n : {1, 5, 16, 17, 31, 70001}) {
      const auto size = static_cast<std::size_t>(n);
      std::vector<double> p0(size), g(size), s0(size), a0(size), b0(size);
      for (std::size_t i = 0; i < size; ++i) {
        p0[i] = dist(rng), g[i] = dist(rng), s0[i] = std::abs(dist(rng)) * 0.01;
        a0[i] = dist(rng) * 0.01, b0[i] = dist(rng) * 0.1;
      }
      if (n > 3) g[2] = std::nan("");  // a NaN gradient poisons its own element only
      const Shape shape{n};
      // One array of the test's dtype: float32 copies of the double values, or the doubles.
      struct Arr {
        std::vector<double> d;
        std::vector<float> f;
      };
      auto arr = [&](const std::vector<double>& v) { return Arr{v, std::vector<float>(v.begin(), v.end())}; };
      auto view = [&](Arr& a) {
        return View{t == kFloat32 ? static_cast<void*>(a.f.data()) : static_cast<void*>(a.d.data()), t, shape, {1}};
      };
      // Counts the elements that differ (one CHECK per array: 70001 elements each).
      auto same = [&](Arr& got, Arr& want, const std::string& arch) {
        std::int64_t bad = 0;
        for (std::size_t i = 0; i < size; ++i) {
          const double gv = t == kFloat32 ? got.f[i] : got.d[i];
          const double wv = t == kFloat32 ? want.f[i] : want.d[i];
          bool ok;
          if (arch == "sse2") {  // no FMA: a product rounded before its add
            ok = std::isnan(wv) ? std::isnan(gv)
                                : std::abs(gv - wv) <= (t == kFloat32 ? 1e-5 : 1e-13) * (1 + std::abs(wv));
          } else if (t == kFloat32) {
            ok = same_value(got.f[i], want.f[i]);
          } else {
            ok = same_value(got.d[i], want.d[i]);
          }
          bad += ok ? 0 : 1;
        }
        CHECK(bad == 0);
      };
      Arr grad = arr(g);
      const View none{};
      for (int k = 0; k < 6; ++k) {
        RmspropStepParams rp;
        rp.weight_decay = k % 2 == 1 ? 0.05 : 0.0;
        rp.centered = k >= 2 && k != 4;
        rp.momentum = k >= 3 ? 0.9 : 0.0;
        rp.maximize = k == 5;
        rp.complex_param = k == 5;  // the weight decay's product rounded first
        Arr pw = arr(p0), sw = arr(s0), aw = arr(a0), bw = arr(b0);
        reference_backend().rmsprop_step(view(pw), view(grad), view(sw), rp.centered ? view(aw) : none,
                                         rp.momentum > 0 ? view(bw) : none, rp);
        on_each_cpu_config([&](const std::string& arch) {
          Arr pc = arr(p0), sc = arr(s0), ac = arr(a0), bc = arr(b0);
          cpu_backend().rmsprop_step(view(pc), view(grad), view(sc), rp.centered ? view(ac) : none,
                                     rp.momentum > 0 ? view(bc) : none, rp);
          const std::string ctx = fmt::format("rmsprop {} n={} case {}", t, n, k);
          CAPTURE(ctx);
          same(pc, pw, arch), same(sc, sw, arch), same(ac, aw, arch), same(bc, bw, arch);
        });
      }
      for (int k = 0; k < 4; ++k) {
        AdagradStepParams ap;
        ap.clr = 0.01 / (1 + 2 * 0.001);
        ap.weight_decay = k >= 1 ? 0.05 : 0.0;
        ap.maximize = k == 2;
        ap.complex_param = k == 3;
        Arr pw = arr(p0), sw = arr(s0);
        reference_backend().adagrad_step(view(pw), view(grad), view(sw), ap);
        on_each_cpu_config([&](const std::string& arch) {
          Arr pc = arr(p0), sc = arr(s0);
          cpu_backend().adagrad_step(view(pc), view(grad), view(sc), ap);
          const std::string ctx = fmt::format("adagrad {} n={} case {}", t, n, k);
          CAPTURE(ctx);
          same(pc, pw, arch), same(sc, sw, arch);
        });
      }
    }
  }
}

// The norms, poolings and cross-entropy run the reference loops on slices, one per thread
// (backends/cpu/threaded.cpp): sizes above the split threshold, every result bitwise the
// reference's at 1, 2 and 3 threads, strided inputs included; a shape error still raises.
TEST_CASE("cpu backend (issue 10): threaded norms, poolings and cross-entropy equal the reference") {
  for (DType t : {kFloat32, kFloat64}) {
    // run(outputs...) on the reference, then on the CPU backend at each configuration.
    auto same = [&](std::vector<Operand> inputs, std::vector<Operand> outputs, auto call) {
      for (Operand& o : inputs) o.rebase();
      std::vector<Operand> want;
      for (const Operand& o : outputs) want.push_back(o.clone());
      std::vector<View> views;
      for (Operand& o : inputs) views.push_back(o.view);
      for (Operand& o : want) views.push_back(o.view);
      call(reference_backend(), views);
      on_each_cpu_config([&](const std::string&) {
        std::vector<Operand> got;
        for (const Operand& o : outputs) got.push_back(o.clone());
        std::vector<View> v;
        for (Operand& o : inputs) v.push_back(o.view);
        for (Operand& o : got) v.push_back(o.view);
        call(cpu_backend(), v);
        for (std::size_t i = 0; i < got.size(); ++i) check_close(got[i], want[i], 0.0, 0.0);
      });
    };
    for (const Shape& shape : {Shape{6, 64, 1, 257}, Shape{300, 1, 260, 1}}) {
      const bool shared = shape[1] > 1;  // BatchNorm: batch statistics; LayerNorm: per sample
      CAPTURE(shape);
      const Shape stats{shared ? 1 : shape[0], shape[1]};
      Operand x = make_operand(t, shape, Layout::Transposed);
      Operand mean = make_operand(t, stats, Layout::Contiguous);
      Operand var = make_operand(t, stats, Layout::Contiguous);
      same({x}, {mean, var}, [](Backend& b, const std::vector<View>& v) { b.norm_stats(v[1], v[2], v[0]); });
      x.rebase(), mean.rebase(), var.rebase();
      reference_backend().norm_stats(mean.view, var.view, x.view);
      Operand w = make_operand(t, {shape[1], shape[2]}, Layout::Contiguous);
      Operand bias = make_operand(t, {shape[1], shape[2]}, Layout::Contiguous);
      NormParams p;
      same({x, mean, var, w, bias}, {make_operand(t, shape, Layout::Contiguous)},
           [p](Backend& b, const std::vector<View>& v) { b.norm_forward(v[5], v[0], v[1], v[2], v[3], v[4], p); });
      Operand gy = make_operand(t, shape, Layout::Contiguous);
      same({gy, x, mean, var, w},
           {make_operand(t, shape, Layout::Contiguous), make_operand(t, {shape[1], shape[2]}, Layout::Contiguous),
            make_operand(t, {shape[1], shape[2]}, Layout::Contiguous)},
           [p](Backend& b, const std::vector<View>& v) {
             b.norm_backward(v[5], v[6], v[7], v[0], v[1], v[2], v[3], v[4], p);
           });
    }
    for (const Shape& shape : {Shape{16, 40, 301}, Shape{3, 200, 150}}) {
      CAPTURE(shape);
      Pool1dParams p;
      p.kernel_size = 3, p.stride = 2, p.padding = 1;
      const std::int64_t lout = p.out_length(shape[2], "max_pool1d");
      Operand x = make_operand(t, shape, Layout::Sliced, /*specials=*/true);
      same({x}, {make_operand(t, {shape[0], shape[1], lout}, Layout::Contiguous),
                 make_operand(kInt64, {shape[0], shape[1], lout}, Layout::Contiguous)},
           [p](Backend& b, const std::vector<View>& v) { b.max_pool1d(v[1], v[2], v[0], p); });
      same({x}, {make_operand(t, {shape[0], shape[1], lout}, Layout::Contiguous)},
           [p](Backend& b, const std::vector<View>& v) { b.avg_pool1d(v[1], v[0], p); });
      same({make_operand(t, {shape[0], shape[1], lout}, Layout::Contiguous)},
           {make_operand(t, shape, Layout::Contiguous)},
           [p](Backend& b, const std::vector<View>& v) { b.avg_pool1d_backward(v[1], v[0], p); });
      same({x}, {make_operand(t, {shape[0], shape[1], 7}, Layout::Contiguous),
                 make_operand(kInt64, {shape[0], shape[1], 7}, Layout::Contiguous)},
           [](Backend& b, const std::vector<View>& v) { b.adaptive_max_pool1d(v[1], v[2], v[0]); });
      same({x}, {make_operand(t, {shape[0], shape[1], 7}, Layout::Contiguous)},
           [](Backend& b, const std::vector<View>& v) { b.adaptive_avg_pool1d(v[1], v[0]); });
      same({make_operand(t, {shape[0], shape[1], 7}, Layout::Contiguous)},
           {make_operand(t, shape, Layout::Contiguous)},
           [](Backend& b, const std::vector<View>& v) { b.adaptive_avg_pool1d_backward(v[1], v[0]); });
      // A shape error (N differs) is the reference's, not hidden by the cut.
      Operand bad = make_operand(t, {shape[0] + 1, shape[1], lout}, Layout::Contiguous);
      CHECK_THROWS_AS(cpu_backend().max_pool1d(bad.view, View{}, x.view, p), reel::Error);
    }
    {
      const std::int64_t n = 64, c = 10, l = 200;
      CrossEntropyParams p;
      p.ignore_index = 3;
      p.label_smoothing = 0.1;
      Operand x = make_operand(t, {n, c, l}, Layout::Transposed);
      Operand target = make_operand(kInt64, {n, l}, Layout::Contiguous);
      auto* tp = reinterpret_cast<std::int64_t*>(target.storage.data());
      for (std::int64_t i = 0; i < target.elements; ++i) tp[i] = (i * 7) % c;
      Operand w = make_operand(t, {c}, Layout::Contiguous);
      auto ce_out = [&] { return make_operand(t, {n, l}, Layout::Contiguous); };
      same({x, target, w}, {ce_out(), ce_out(), ce_out()}, [p](Backend& b, const std::vector<View>& v) {
        b.cross_entropy(v[3], v[4], v[5], v[0], v[1], v[2], p);
      });
      Operand lse = ce_out(), scratch = ce_out();
      x.rebase();
      reference_backend().cross_entropy(scratch.view, lse.view, View{}, x.view, target.view, w.view, p);
      same({ce_out(), x, lse, target, w}, {make_operand(t, {n, c, l}, Layout::Contiguous)},
           [p](Backend& b, const std::vector<View>& v) {
             b.cross_entropy_backward(v[5], v[0], v[1], v[2], v[3], v[4], p);
           });
      tp[n * l - 5] = c + 4;  // out of range: raises on every configuration
      on_each_cpu_config([&](const std::string&) {
        Operand o1 = ce_out(), o2 = ce_out();
        CHECK_THROWS_WITH_AS(cpu_backend().cross_entropy(o1.view, o2.view, View{}, x.view, target.view, w.view, p),
                             doctest::Contains("Target 14 is out of bounds"), reel::Error);
      });
    }
  }
}

// cross_entropy without weights or label smoothing on packed logits (backends/cpu/loss.cpp:
// SIMD exp in double): the reference's losses, log-sum-exps, target weights and gradients to a
// few ulp of double, for classes along a row (L 1) and for positions along it (L > 1), with
// SIMD tails (C or L not a multiple of 8), one class, ignored targets, logits spread over
// +-80 (exp would overflow unshifted), NaN and infinite logits, at each SIMD level and thread
// count; an out-of-range target still raises the reference's error.
TEST_CASE("cpu backend (issue 10): cross_entropy's SIMD path equals the reference") {
  const std::vector<Shape> shapes = {{128, 10, 1}, {3, 95, 256}, {5, 37, 13}, {2, 1, 17},
                                     {4, 1000, 1}, {1, 9, 3}};
  for (DType t : {kFloat32, kFloat64}) {
    const double rtol = t == kFloat32 ? 1e-6 : 1e-13;
    for (const Shape& shape : shapes) {
      const std::string ctx = fmt::format("{} {}", t, shape);
      CAPTURE(ctx);
      const std::int64_t n = shape[0], c = shape[1], l = shape[2];
      CrossEntropyParams p;  // ignore_index -100, no smoothing
      Operand x = make_operand(t, shape, Layout::Contiguous);
      visit_dtype(t, [&]<typename T>() {
        if constexpr (std::is_floating_point_v<T>) {
          auto* xp = reinterpret_cast<T*>(x.storage.data());
          for (std::int64_t i = 0; i < x.elements; ++i) xp[i] = static_cast<T>(xp[i] * 80);
          if (c > 1) {  // a NaN logit, +inf and -inf ones: NaN or inf where the reference has them
            xp[0] = std::numeric_limits<T>::quiet_NaN();
            xp[x.elements - 1] = std::numeric_limits<T>::infinity();
            xp[x.elements / 2] = -std::numeric_limits<T>::infinity();
          }
        }
      });
      x.rebase();
      Operand target = make_operand(kInt64, {n, l}, Layout::Contiguous);
      auto* tp = reinterpret_cast<std::int64_t*>(target.storage.data());
      for (std::int64_t i = 0; i < target.elements; ++i)
        tp[i] = i % 5 == 3 ? p.ignore_index : (i * 7 + 3) % c;
      target.rebase();
      auto positions = [&] {
        Operand o = make_operand(t, {n, l}, Layout::Contiguous);
        o.rebase();
        return o;
      };
      Operand losses = positions(), lse = positions(), tw = positions();
      reference_backend().cross_entropy(losses.view, lse.view, tw.view, x.view, target.view, View{}, p);
      Operand g = positions();
      Operand gx = make_operand(t, shape, Layout::Contiguous);
      gx.rebase();
      reference_backend().cross_entropy_backward(gx.view, g.view, x.view, lse.view, target.view, View{}, p);
      on_each_cpu_config([&](const std::string&) {
        Operand got_losses = positions(), got_lse = positions(), got_tw = positions();
        cpu_backend().cross_entropy(got_losses.view, got_lse.view, got_tw.view, x.view, target.view,
                                    View{}, p);
        check_close(got_losses, losses, rtol, 0.0, &lse);
        check_close(got_lse, lse, rtol, 0.0);
        check_close(got_tw, tw, 0.0, 0.0);
        Operand got_gx = gx.clone();
        cpu_backend().cross_entropy_backward(got_gx.view, g.view, x.view, lse.view, target.view,
                                             View{}, p);
        check_close(got_gx, gx, rtol, 4 * rtol);  // |grad| <= |g| (random in [-1, 1))
      });
      tp[0] = c;  // out of range
      Operand o1 = positions(), o2 = positions();
      CHECK_THROWS_WITH_AS(cpu_backend().cross_entropy(o1.view, o2.view, View{}, x.view, target.view,
                                                       View{}, p),
                           doctest::Contains("is out of bounds"), reel::Error);
    }
  }
}

// Uniform float32/float64 fills of contiguous rows draw 16 Philox blocks at a time
// (uniform_kernel): the same bits as the reference for every length, offset and seed (high
// words included), at each SIMD level and thread count, degenerate intervals included.
TEST_CASE("cpu backend (issue 10): uniform random fills equal the reference bit for bit") {
  const std::vector<RandomSpec> specs = {
      {RandomSpec::Kind::Uniform, 0.0, 1.0, 0, 0},
      {RandomSpec::Kind::Uniform, -3.0, 5.5, 0x123456789abcdefULL, (1ULL << 32) - 7},
      {RandomSpec::Kind::Uniform, 1.0, 1.0 + 1e-9, 99, 5},  // one float wide in float32
      {RandomSpec::Kind::Uniform, 2.0, 2.0, 3, 0}};
  for (std::int64_t n : {1, 15, 16, 17, 100003}) {
    for (const RandomSpec& spec : specs) {
      for (DType t : {kFloat32, kFloat64}) {
        const std::string ctx = fmt::format("n {} [{}, {}) seed {} offset {} {}", n, spec.a, spec.b,
                                            spec.seed, spec.offset, t);
        CAPTURE(ctx);
        const std::size_t bytes = static_cast<std::size_t>(n) * element_size(t);
        std::vector<unsigned char> want(bytes), got(bytes);
        reference_backend().random(View{want.data(), t, {n}, {1}}, spec);
        on_each_cpu_config([&](const std::string&) {
          std::fill(got.begin(), got.end(), 0xAB);
          cpu_backend().random(View{got.data(), t, {n}, {1}}, spec);
          CHECK(std::memcmp(got.data(), want.data(), bytes) == 0);
        });
      }
    }
  }
}

// --- issue 10: the SIMD norm paths (backends/cpu/norm.cpp) -----------------------------------
// Packed samples (contiguous, or with a padded sample stride) take the row kernels: BatchNorm's
// shared statistics at short and long L, instance/group norm's per-sample ones, LayerNorm's
// [N, 1, S, 1], at every SIMD level and thread count. Given the same statistics the output is
// the reference's bit for bit (the same double arithmetic); the statistics and the gradients
// sum in another order: within a few ulps of the reference.
TEST_CASE("cpu backend (issue 10): SIMD norms match the reference") {
  struct Case {
    Shape shape;  // [N, G, D, L]
    bool shared;
    std::int64_t pad;  // extra elements between samples
  };
  const std::vector<Case> cases = {
      {{128, 64, 1, 28}, true, 0},  {{128, 128, 1, 7}, true, 0}, {{5, 3, 1, 1}, true, 0},
      {{2, 17, 1, 33}, true, 3},    {{1, 5, 1, 19}, true, 0},    {{3, 4, 2, 13}, false, 0},
      {{4, 6, 1, 9}, false, 5},     {{7, 1, 37, 1}, false, 0},   {{300, 1, 260, 1}, false, 0},
      {{9, 70, 1, 40}, true, 1},    {{6, 2, 3, 5}, true, 0},
      // runs over norm.cpp's block of 4096 elements: several blocks of groups per task
      {{3, 40, 1, 300}, true, 2},   {{2, 20, 3, 100}, false, 0}};
  std::mt19937 rng(13);
  std::normal_distribution<double> dist(0.0, 1.0);
  for (DType t : {kFloat32, kFloat64}) {
    for (const Case& c : cases) {
      for (int variant = 0; variant < 3; ++variant) {  // 0: affine, batch stats; 1: no affine; 2: given stats
        const std::int64_t n = c.shape[0], g = c.shape[1], d = c.shape[2], l = c.shape[3];
        const std::int64_t sample = g * d * l + c.pad, rows = c.shared ? 1 : n;
        const std::string ctx = fmt::format("{} {} shared={} pad={} variant={}", t, c.shape,
                                            c.shared, c.pad, variant);
        CAPTURE(ctx);
        // Data as double, stored in T; views over a buffer with the padded sample stride.
        auto fill = [&](std::int64_t count, double offset) {
          std::vector<double> v(static_cast<std::size_t>(count));
          for (double& e : v) e = offset + dist(rng);
          return v;
        };
        struct Buf {
          std::vector<double> d;
          std::vector<float> f;
        };
        auto buf = [&](std::vector<double> v) {
          Buf b{std::move(v), {}};
          b.f.assign(b.d.begin(), b.d.end());
          if (t == kFloat32) b.d.assign(b.f.begin(), b.f.end());  // the same values in both
          return b;
        };
        auto view = [&](Buf& b, Shape shape, Strides strides) {
          void* p = t == kFloat32 ? static_cast<void*>(b.f.data()) : static_cast<void*>(b.d.data());
          return View{p, t, std::move(shape), std::move(strides)};
        };
        const Strides data_strides{sample, d * l, l, 1};
        const std::int64_t total = n * sample;
        Buf x = buf(fill(total, 3.0)), gy = buf(fill(total, 0.0)), w = buf(fill(g * d, 1.0)),
            b = buf(fill(g * d, 0.5));
        auto zeros = [&](std::int64_t count) { return buf(std::vector<double>(static_cast<std::size_t>(count), 0.0)); };
        Buf mean_ref = zeros(rows * g), var_ref = zeros(rows * g), mean_cpu = zeros(rows * g),
            var_cpu = zeros(rows * g);
        const Shape stats_shape{rows, g};
        const Strides stats_strides{g, 1};
        reference_backend().norm_stats(view(mean_ref, stats_shape, stats_strides),
                                       view(var_ref, stats_shape, stats_strides),
                                       view(x, c.shape, data_strides));
        if (variant == 2) {  // given statistics: running-like values, not the batch's
          for (std::size_t i = 0; i < mean_ref.d.size(); ++i) {
            mean_ref.d[i] = 2.5 + 0.1 * static_cast<double>(i % 7);
            var_ref.d[i] = 0.7 + 0.05 * static_cast<double>(i % 5);
          }
          mean_ref.f.assign(mean_ref.d.begin(), mean_ref.d.end());
          var_ref.f.assign(var_ref.d.begin(), var_ref.d.end());
        }
        NormParams p;
        p.eps = 1e-5;
        p.input_stats = variant != 2;
        const bool affine = variant != 1;
        Buf y_ref = zeros(total), gx_ref = zeros(total), gw_ref = zeros(g * d), gb_ref = zeros(g * d);
        const Shape gd{g, d};
        const Strides gd_strides{d, 1};
        auto wv = [&](Buf& bb) { return affine ? view(bb, gd, gd_strides) : View{}; };
        reference_backend().norm_forward(view(y_ref, c.shape, data_strides), view(x, c.shape, data_strides),
                                         view(mean_ref, stats_shape, stats_strides),
                                         view(var_ref, stats_shape, stats_strides), wv(w), wv(b), p);
        reference_backend().norm_backward(
            view(gx_ref, c.shape, data_strides), view(gw_ref, gd, gd_strides), view(gb_ref, gd, gd_strides),
            view(gy, c.shape, data_strides), view(x, c.shape, data_strides),
            view(mean_ref, stats_shape, stats_strides), view(var_ref, stats_shape, stats_strides), wv(w), p);
        // Within `ulps` units of T's precision of the largest |want| of the array (sums
        // cancel: relative to the array's scale, not each element's). float64 sums of
        // thousands of terms in two orders differ by more ulps than their float32 roundings.
        auto near = [&](Buf& got, Buf& want, double ulps, const char* what) {
          const double eps = t == kFloat32 ? 0x1p-23 : 0x1p-52 * 1024;
          double scale = 0.0;
          for (double v : want.d) scale = std::max(scale, std::abs(v));
          std::int64_t bad = 0;
          for (std::size_t i = 0; i < want.d.size(); ++i) {
            const double gv = t == kFloat32 ? got.f[i] : got.d[i];
            const double wv2 = t == kFloat32 ? want.f[i] : want.d[i];
            if (!(std::abs(gv - wv2) <= ulps * eps * scale)) ++bad;
          }
          const std::string which = what;
          CAPTURE(which);
          CHECK(bad == 0);
        };
        auto exact = [&](Buf& got, Buf& want, const char* what) {
          std::int64_t bad = 0;
          for (std::size_t i = 0; i < want.d.size(); ++i) {
            if (t == kFloat32 ? got.f[i] != want.f[i] : got.d[i] != want.d[i]) ++bad;
          }
          const std::string which = what;
          CAPTURE(which);
          CHECK(bad == 0);
        };
        {  // every case is packed: the SIMD path takes it (else this compares the reference to itself)
          Buf y = zeros(total);
          CHECK(cpu::norm_forward_fast(view(y, c.shape, data_strides), view(x, c.shape, data_strides),
                                       view(mean_ref, stats_shape, stats_strides),
                                       view(var_ref, stats_shape, stats_strides), wv(w), wv(b), p));
        }
        on_each_cpu_config([&](const std::string&) {
          if (variant != 2) {
            cpu_backend().norm_stats(view(mean_cpu, stats_shape, stats_strides),
                                     view(var_cpu, stats_shape, stats_strides),
                                     view(x, c.shape, data_strides));
            near(mean_cpu, mean_ref, 2, "mean");
            near(var_cpu, var_ref, 2, "var");
          }
          Buf y = zeros(total), gx = zeros(total), gw = zeros(g * d), gb = zeros(g * d);
          cpu_backend().norm_forward(view(y, c.shape, data_strides), view(x, c.shape, data_strides),
                                     view(mean_ref, stats_shape, stats_strides),
                                     view(var_ref, stats_shape, stats_strides), wv(w), wv(b), p);
          exact(y, y_ref, "y");
          cpu_backend().norm_backward(
              view(gx, c.shape, data_strides), view(gw, gd, gd_strides), view(gb, gd, gd_strides),
              view(gy, c.shape, data_strides), view(x, c.shape, data_strides),
              view(mean_ref, stats_shape, stats_strides), view(var_ref, stats_shape, stats_strides), wv(w), p);
          if (p.input_stats) near(gx, gx_ref, 64, "grad_input");
          else exact(gx, gx_ref, "grad_input");
          near(gw, gw_ref, 8, "grad_weight");
          near(gb, gb_ref, 8, "grad_bias");
        });
      }
    }
  }
}

// MaxPool1d over unit-stride rows and the scatter_add of its backward (backends/cpu/pool.cpp):
// bit for bit the reference, NaN and -inf included, padded and dilated windows, strided rows;
// an index out of range raises the reference's error.
TEST_CASE("cpu backend (issue 10): max_pool1d rows and scatter_add along the last dim equal the reference") {
  std::mt19937 rng(14);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  struct Case {
    std::int64_t n, c, l, k, s, pad, dil, row_pad;
  };
  const std::vector<Case> cases = {{128, 64, 28, 2, 2, 0, 1, 0}, {3, 5, 29, 2, 2, 0, 1, 0},
                                   {2, 3, 17, 3, 2, 1, 1, 4},   {4, 2, 20, 3, 1, 1, 2, 0},
                                   {1, 1, 1, 1, 1, 0, 1, 0},    {40, 700, 9, 2, 2, 0, 1, 3}};
  for (DType t : {kFloat32, kFloat64}) {
    for (const Case& c : cases) {
      Pool1dParams p;
      p.kernel_size = c.k, p.stride = c.s, p.padding = c.pad, p.dilation = c.dil;
      const std::int64_t lout = p.out_length(c.l, "max_pool1d");
      const std::int64_t row = c.l + c.row_pad;  // rows padded: a sliced [N, C, L] view
      const std::string ctx = fmt::format("{} n={} c={} l={} k={} s={} pad={} dil={}", t, c.n, c.c, c.l, c.k, c.s, c.pad, c.dil);
      CAPTURE(ctx);
      std::vector<double> xd(static_cast<std::size_t>(c.n * c.c * row));
      for (std::size_t i = 0; i < xd.size(); ++i) {
        const int r = static_cast<int>(i % 11);
        xd[i] = r == 3 ? std::nan("") : r == 5 ? -std::numeric_limits<double>::infinity() : dist(rng);
      }
      std::vector<float> xf(xd.begin(), xd.end());
      void* xp = t == kFloat32 ? static_cast<void*>(xf.data()) : static_cast<void*>(xd.data());
      const View in{xp, t, {c.n, c.c, c.l}, {c.c * row, row, 1}};
      const Shape os{c.n, c.c, lout};
      auto run = [&](Backend& be, std::vector<double>& yd, std::vector<float>& yf,
                     std::vector<std::int64_t>& ix) {
        yd.assign(static_cast<std::size_t>(c.n * c.c * lout), 0.0);
        yf.assign(yd.size(), 0.f);
        ix.assign(yd.size(), -1);
        void* yp = t == kFloat32 ? static_cast<void*>(yf.data()) : static_cast<void*>(yd.data());
        be.max_pool1d(View{yp, t, os, contiguous_strides(os)},
                      View{ix.data(), kInt64, os, contiguous_strides(os)}, in, p);
      };
      std::vector<double> yd_ref, yd;
      std::vector<float> yf_ref, yf;
      std::vector<std::int64_t> ix_ref, ix;
      run(reference_backend(), yd_ref, yf_ref, ix_ref);
      {  // the row path takes these views (else this compares the reference to itself)
        std::vector<double> td(yd_ref.size());
        std::vector<float> tf(yd_ref.size());
        std::vector<std::int64_t> ti(yd_ref.size());
        void* tp = t == kFloat32 ? static_cast<void*>(tf.data()) : static_cast<void*>(td.data());
        CHECK(cpu::max_pool1d_fast(View{tp, t, os, contiguous_strides(os)},
                                   View{ti.data(), kInt64, os, contiguous_strides(os)}, in, p));
      }
      // scatter_add of a gradient into zeros along dim 2, through those indices.
      std::vector<double> gd(yd_ref.size());
      for (double& v : gd) v = dist(rng);
      std::vector<float> gf(gd.begin(), gd.end());
      void* gp = t == kFloat32 ? static_cast<void*>(gf.data()) : static_cast<void*>(gd.data());
      const Shape is{c.n, c.c, c.l};
      auto scatter = [&](Backend& be, std::vector<double>& od, std::vector<float>& of,
                         const std::vector<std::int64_t>& index) {
        od.assign(static_cast<std::size_t>(c.n * c.c * c.l), 0.0);
        of.assign(od.size(), 0.f);
        void* op = t == kFloat32 ? static_cast<void*>(of.data()) : static_cast<void*>(od.data());
        be.scatter_add(View{op, t, is, contiguous_strides(is)}, 2,
                       View{const_cast<std::int64_t*>(index.data()), kInt64, os, contiguous_strides(os)},
                       View{gp, t, os, contiguous_strides(os)});
      };
      std::vector<double> sd_ref, sd;
      std::vector<float> sf_ref, sf;
      scatter(reference_backend(), sd_ref, sf_ref, ix_ref);
      on_each_cpu_config([&](const std::string&) {
        run(cpu_backend(), yd, yf, ix);
        CHECK(ix == ix_ref);
        for (std::size_t i = 0; i < yd.size(); ++i) {
          if (t == kFloat32) CHECK(same_value(yf[i], yf_ref[i]));
          else CHECK(same_value(yd[i], yd_ref[i]));
        }
        scatter(cpu_backend(), sd, sf, ix_ref);
        CHECK(sd == sd_ref);
        if (t == kFloat32) CHECK(sf == sf_ref);
      });
      if (!ix_ref.empty()) {
        std::vector<std::int64_t> bad = ix_ref;
        bad.back() = c.l;  // out of range
        CHECK_THROWS_WITH_AS(scatter(cpu_backend(), sd, sf, bad),
                             doctest::Contains("is out of bounds for dimension 2"), reel::Error);
      }
    }
  }
}

// AdaptiveAvgPool1d on unit-stride rows (backends/cpu/pool.cpp): the reference's sums in the
// same order, so bit for bit, forward and backward, for global (Lout 1) and windowed pools.
TEST_CASE("cpu backend (issue 10): adaptive_avg_pool1d rows equal the reference") {
  std::mt19937 rng(15);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  for (DType t : {kFloat32, kFloat64}) {
    for (const std::array<std::int64_t, 4>& c : std::vector<std::array<std::int64_t, 4>>{
             {128, 128, 7, 1}, {3, 5, 29, 4}, {2, 700, 9, 9}, {1, 1, 1, 1}, {4, 3, 10, 7}}) {
      const std::int64_t n = c[0], ch = c[1], l = c[2], lout = c[3];
      const std::string ctx = fmt::format("{} {}x{}x{} -> {}", t, n, ch, l, lout);
      CAPTURE(ctx);
      const Shape is{n, ch, l}, os{n, ch, lout};
      auto make = [&](std::int64_t count) {
        std::vector<double> v(static_cast<std::size_t>(count));
        for (double& e : v) e = dist(rng);
        return v;
      };
      std::vector<double> xd = make(n * ch * l), gd = make(n * ch * lout);
      std::vector<float> xf(xd.begin(), xd.end()), gf(gd.begin(), gd.end());
      auto ptr = [&](std::vector<double>& d, std::vector<float>& f) {
        return t == kFloat32 ? static_cast<void*>(f.data()) : static_cast<void*>(d.data());
      };
      auto run = [&](Backend& be, std::vector<double>& yd, std::vector<float>& yf,
                     std::vector<double>& gxd, std::vector<float>& gxf) {
        yd.assign(static_cast<std::size_t>(n * ch * lout), 7.0), yf.assign(yd.size(), 7.f);
        gxd.assign(xd.size(), 7.0), gxf.assign(xd.size(), 7.f);
        be.adaptive_avg_pool1d(View{ptr(yd, yf), t, os, contiguous_strides(os)},
                               View{ptr(xd, xf), t, is, contiguous_strides(is)});
        be.adaptive_avg_pool1d_backward(View{ptr(gxd, gxf), t, is, contiguous_strides(is)},
                                        View{ptr(gd, gf), t, os, contiguous_strides(os)});
      };
      std::vector<double> yd_ref, gxd_ref, yd, gxd;
      std::vector<float> yf_ref, gxf_ref, yf, gxf;
      run(reference_backend(), yd_ref, yf_ref, gxd_ref, gxf_ref);
      // The fast path takes these views (else the test would compare the reference to itself).
      yd = yd_ref, yf = yf_ref, gxd = gxd_ref, gxf = gxf_ref;
      CHECK(cpu::adaptive_avg_pool1d_fast(View{ptr(yd, yf), t, os, contiguous_strides(os)},
                                          View{ptr(xd, xf), t, is, contiguous_strides(is)}));
      CHECK(cpu::adaptive_avg_pool1d_backward_fast(View{ptr(gxd, gxf), t, is, contiguous_strides(is)},
                                                   View{ptr(gd, gf), t, os, contiguous_strides(os)}));
      on_each_cpu_config([&](const std::string&) {
        run(cpu_backend(), yd, yf, gxd, gxf);
        if (t == kFloat32) {
          CHECK(yf == yf_ref);
          CHECK(gxf == gxf_ref);
        } else {
          CHECK(yd == yd_ref);
          CHECK(gxd == gxd_ref);
        }
      });
    }
  }
}

// index_add along dim 0 of contiguous float32/float64 views (backends/cpu/indexing.cpp:
// Embedding's backward): bitwise the reference, repeated indices added in index order, rows
// wider than one column block (300), empty rows and indices, a 0-d index, at every thread count;
// an index out of range raises the reference's error.
TEST_CASE("cpu backend (issue 10): index_add along dim 0 equals the reference") {
  std::mt19937 rng(17);
  for (DType t : {kFloat32, kFloat64}) {
    for (const Shape& shape : {Shape{50, 7, 3}, Shape{9}, Shape{20, 300}, Shape{4, 0}}) {
      for (std::int64_t count : {0, 1, 5, 300}) {
        const std::string ctx = fmt::format("{} {} count {}", t, shape, count);
        CAPTURE(ctx);
        std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
        for (std::int64_t& v : idx) v = std::uniform_int_distribution<std::int64_t>(0, shape[0] - 1)(rng);
        const View iv{idx.data(), kInt64, {count}, {1}};
        Shape ss = shape;
        ss[0] = count;
        Operand src = make_operand(t, ss, Layout::Contiguous);
        src.rebase();
        Operand target = make_operand(t, shape, Layout::Contiguous);
        target.rebase();
        Operand want = target.clone();
        reference_backend().index_add(want.view, 0, iv, src.view);
        on_each_cpu_config([&](const std::string&) {
          Operand got = target.clone();
          cpu_backend().index_add(got.view, 0, iv, src.view);
          check_close(got, want, 0.0, 0.0);
        });
        if (count > 0) {
          idx[static_cast<std::size_t>(count - 1)] = -1;  // out of range
          Operand got = target.clone();
          CHECK_THROWS_WITH_AS(cpu_backend().index_add(got.view, 0, iv, src.view),
                               doctest::Contains("out of bounds"), reel::Error);
        }
      }
      std::int64_t one = shape[0] - 1;  // a 0-d index
      Shape ss = shape;
      ss[0] = 1;
      Operand src = make_operand(t, ss, Layout::Contiguous);
      src.rebase();
      Operand want = make_operand(t, shape, Layout::Contiguous);
      want.rebase();
      Operand got = want.clone();
      reference_backend().index_add(want.view, 0, View{&one, kInt64, {}, {}}, src.view);
      cpu_backend().index_add(got.view, 0, View{&one, kInt64, {}, {}}, src.view);
      check_close(got, want, 0.0, 0.0);
    }
  }
}

// index_select along dim 0 of contiguous views (backends/cpu/indexing.cpp: the DataLoader's
// batches, Embedding): slab copies, bitwise the reference, repeated and empty indices, a 0-d
// index; an index out of range raises the reference's error; other dims take the reference.
TEST_CASE("cpu backend (issue 10): index_select along dim 0 equals the reference") {
  std::mt19937 rng(16);
  for (DType t : {kFloat32, kFloat64, kInt64, kBool}) {
    for (const Shape& shape : {Shape{50, 7, 3}, Shape{9}, Shape{1000, 28, 28}, Shape{4, 0}}) {
      const std::string ctx = fmt::format("{} {}", t, shape);
      CAPTURE(ctx);
      Operand x = make_operand(t, shape, Layout::Contiguous);
      x.rebase();
      for (std::int64_t count : {0, 1, 5, 300}) {
        std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
        for (std::int64_t& v : idx) v = std::uniform_int_distribution<std::int64_t>(0, shape[0] - 1)(rng);
        const View iv{idx.data(), kInt64, {count}, {1}};
        Shape os = shape;
        os[0] = count;
        Operand want = make_operand(t, os, Layout::Contiguous);
        want.rebase();
        Operand got = want.clone();  // the same bytes outside what the op writes
        reference_backend().index_select(want.view, x.view, 0, iv);
        on_each_cpu_config([&](const std::string&) {
          cpu_backend().index_select(got.view, x.view, 0, iv);
          check_close(got, want, 0.0, 0.0);
        });
        if (count > 0) {
          idx[static_cast<std::size_t>(count - 1)] = shape[0];  // out of range
          CHECK_THROWS_WITH_AS(cpu_backend().index_select(got.view, x.view, 0, iv),
                               doctest::Contains("out of bounds"), reel::Error);
        }
      }
      std::int64_t one = shape[0] - 1;  // a 0-d index
      Shape os = shape;
      os[0] = 1;
      Operand want = make_operand(t, os, Layout::Contiguous);
      want.rebase();
      Operand got = want.clone();
      reference_backend().index_select(want.view, x.view, 0, View{&one, kInt64, {}, {}});
      cpu_backend().index_select(got.view, x.view, 0, View{&one, kInt64, {}, {}});
      check_close(got, want, 0.0, 0.0);
    }
  }
}
