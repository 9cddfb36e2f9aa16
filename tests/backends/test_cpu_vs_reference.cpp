// The CPU backend's own machinery: NaN semantics of its SIMD kernels, its errors, the caching
// allocator and the thread pool. Its results against the reference backend, op by op, at each
// SIMD level and thread count, are the parity harness's (test_parity.cpp).
#include <doctest/doctest.h>

#include <algorithm>
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
