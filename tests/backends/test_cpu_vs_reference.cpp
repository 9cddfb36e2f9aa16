// The fast CPU backend checked against the reference backend (the oracle) on random shapes and
// layouts: contiguous, transposed, broadcast (stride 0) and sliced with gaps, at 1 and 2
// threads, and on every SIMD architecture the machine supports. Plus the caching allocator and
// the thread pool.
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

namespace {

using namespace reel;
using namespace reel::backends;

enum class Layout { Contiguous, Transposed, Sliced, Broadcast };
constexpr Layout kInputLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Sliced,
                                    Layout::Broadcast};
constexpr Layout kOutputLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Sliced};

std::mt19937_64& rng() {
  static std::mt19937_64 g(20240521);
  return g;
}
std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {  // inclusive
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

// A buffer and a strided view into it. Gaps of a sliced view hold random values too, so a
// kernel that writes outside its view shows up as a mismatch.
struct Operand {
  std::vector<std::uint64_t> storage;  // 8-byte aligned
  std::int64_t offset = 0;             // elements before the view's first element
  std::int64_t elements = 0;           // elements in storage
  View view;

  Operand clone() const {
    Operand o = *this;
    o.rebase();
    return o;
  }
  void rebase() {
    view.data = reinterpret_cast<std::byte*>(storage.data()) + offset * element_size(view.dtype);
  }
};

template <typename T>
T random_real(bool specials) {
  if (specials && rand_int(0, 19) == 0) {
    const T values[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(), T(0), -T(0)};
    return values[rand_int(0, 4)];
  }
  return std::uniform_real_distribution<T>(T(-3), T(3))(rng());
}

void fill_random(Operand& o, bool specials) {
  visit_dtype(o.view.dtype, [&]<typename T>() {
    T* p = reinterpret_cast<T*>(o.storage.data());
    for (std::int64_t i = 0; i < o.elements; ++i) {
      if constexpr (std::is_same_v<T, bool>) p[i] = rand_int(0, 1) == 1;
      else if constexpr (std::is_same_v<T, std::int64_t>) p[i] = rand_int(-100, 100);
      else if constexpr (is_complex_v<T>) {
        using R = typename T::value_type;
        p[i] = T(random_real<R>(specials), random_real<R>(specials));
      } else p[i] = random_real<T>(specials);
    }
  });
}

Operand make_operand(DType t, const Shape& shape, Layout layout, bool specials = false) {
  Operand o;
  const int nd = shape.size();
  Strides strides = contiguous_strides(shape);
  std::int64_t elements = std::max<std::int64_t>(numel_of(shape), 1);
  if (layout == Layout::Transposed && nd >= 2) {  // dims stored in reverse order
    Shape reversed;
    for (int d = nd - 1; d >= 0; --d) reversed.push_back(shape[d]);
    const Strides rs = contiguous_strides(reversed);
    for (int d = 0; d < nd; ++d) strides[d] = rs[nd - 1 - d];
  } else if (layout == Layout::Sliced && nd >= 1) {  // x[1:, 1:, ..., 1::2] of a larger buffer
    Shape big = shape;
    for (int d = 0; d < nd; ++d) big[d] = shape[d] + 2;
    big[nd - 1] = 2 * shape[nd - 1] + 2;
    const Strides bs = contiguous_strides(big);
    for (int d = 0; d < nd; ++d) o.offset += bs[d];
    strides = bs;
    strides[nd - 1] = 2;
    elements = numel_of(big);
  } else if (layout == Layout::Broadcast && nd >= 1) {  // some dims expanded from size 1
    Shape stored = shape;
    const int forced = static_cast<int>(rand_int(0, nd - 1));
    for (int d = 0; d < nd; ++d)
      if (d == forced || rand_int(0, 1) == 1) stored[d] = 1;
    strides = contiguous_strides(stored);
    for (int d = 0; d < nd; ++d)
      if (stored[d] == 1) strides[d] = 0;
    elements = std::max<std::int64_t>(numel_of(stored), 1);
  }
  o.elements = elements;
  const auto bytes = static_cast<std::size_t>(elements) * element_size(t);
  o.storage.assign(bytes / 8 + 2, 0);
  o.view = View{nullptr, t, shape, strides};
  o.rebase();
  fill_random(o, specials);
  return o;
}

template <typename T>
bool is_nan(T x) {
  if constexpr (is_complex_v<T>) return std::isnan(x.real()) || std::isnan(x.imag());
  else return std::isnan(x);
}

template <typename T>
std::string value_str(T x) {
  if constexpr (is_complex_v<T>) return fmt::format("({}, {})", x.real(), x.imag());
  else return fmt::format("{}", x);
}

// Every storage element of `got` against `want`: equal, both NaN, or
// |got - want| <= atol + rtol * max(|want|, |bound|), with `bound` the natural error scale where
// |want| is not: for sums and dot products the same computation on absolute values, for the
// activation backward helpers |grad| (their factor, e.g. 1 - t^2, may cancel).
void check_close(const Operand& got, const Operand& want, double rtol, double atol,
                 const Operand* bound = nullptr) {
  REQUIRE(got.elements == want.elements);
  std::int64_t bad = 0;
  std::string first;
  visit_dtype(want.view.dtype, [&]<typename T>() {
    const T* g = reinterpret_cast<const T*>(got.storage.data());
    const T* w = reinterpret_cast<const T*>(want.storage.data());
    const T* b = bound ? reinterpret_cast<const T*>(bound->storage.data()) : nullptr;
    for (std::int64_t i = 0; i < want.elements; ++i) {
      bool ok = g[i] == w[i];
      if constexpr (!std::is_same_v<T, bool> && !std::is_same_v<T, std::int64_t>) {
        const double scale = std::max<double>(std::abs(w[i]), b ? std::abs(b[i]) : 0.0);
        ok = ok || (is_nan(g[i]) && is_nan(w[i])) ||
             std::abs(g[i] - w[i]) <= atol + rtol * scale;
      }
      if (!ok && bad++ == 0) first = fmt::format("element {}: got {}, want {}", i, value_str(g[i]), value_str(w[i]));
    }
  });
  INFO(first);
  CHECK(bad == 0);
}

Shape random_shape(int max_rank, std::int64_t max_extent) {
  Shape s;
  const int rank = static_cast<int>(rand_int(0, max_rank));
  for (int d = 0; d < rank; ++d) s.push_back(rand_int(1, max_extent));
  return s;
}

// Shapes for elementwise tests: small random ones, odd vector-width tails, and a few large
// enough to be split over threads.
std::vector<Shape> elementwise_shapes() {
  std::vector<Shape> shapes = {{}, {1}, {7}, {17}, {33}, {3, 5}, {2, 3, 4}, {300, 257}, {5, 7, 2000}};
  for (int i = 0; i < 6; ++i) shapes.push_back(random_shape(4, 9));
  return shapes;
}

// Runs body at 1 and 2 threads, on each SIMD architecture this CPU supports.
template <class F>
void for_each_config(F&& body) {
  const int saved_threads = cpu::num_threads();
  for (const char* arch : {"avx512bw", "fma3+avx2", "sse2"}) {
    if (!cpu::force_simd_arch(arch)) continue;
    for (int threads : {1, 2}) {
      cpu::set_num_threads(threads);
      const std::string config = fmt::format("arch {} threads {}", arch, threads);
      CAPTURE(config);
      body();
    }
  }
  cpu::force_simd_arch("");
  cpu::set_num_threads(saved_threads);
}

constexpr double kRtol32 = 1e-5, kRtol64 = 1e-12;
double rtol_for(DType t) { return t == kFloat32 || t == kComplex64 ? kRtol32 : kRtol64; }

}  // namespace

TEST_CASE("cpu backend: unary ops match the reference") {
  Backend& cpu = cpu_backend();
  Backend& ref = reference_backend();
  const UnaryOp ops[] = {UnaryOp::Neg, UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt,
                         UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Relu, UnaryOp::Silu,
                         UnaryOp::Abs, UnaryOp::Reciprocal, UnaryOp::Conj, UnaryOp::Real,
                         UnaryOp::Sin, UnaryOp::Gelu, UnaryOp::Sign};  // the last three delegate
  for_each_config([&] {
    for (DType t : {kFloat32, kFloat64}) {
      for (const Shape& shape : elementwise_shapes()) {
        for (UnaryOp op : ops) {
          const std::string ctx = fmt::format("unary op {} {} {}", static_cast<int>(op), t, shape);
          CAPTURE(ctx);
          const Operand in = make_operand(t, shape, kInputLayouts[rand_int(0, 3)], true);
          const Operand out = make_operand(t, shape, kOutputLayouts[rand_int(0, 2)]);
          Operand got = out.clone(), want = out.clone();
          cpu.unary(op, got.view, in.view);
          ref.unary(op, want.view, in.view);
          check_close(got, want, rtol_for(t), 1e-30);
          // In place: out is exactly the input view.
          Operand inplace = in.clone(), inplace_want = in.clone();
          if (in.view.strides == contiguous_strides(shape)) {
            cpu.unary(op, inplace.view, inplace.view);
            ref.unary(op, inplace_want.view, inplace_want.view);
            check_close(inplace, inplace_want, rtol_for(t), 1e-30);
          }
        }
      }
    }
  });
}

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

TEST_CASE("cpu backend: binary ops match the reference, with broadcasting") {
  Backend& cpu = cpu_backend();
  Backend& ref = reference_backend();
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                          BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::ReluBackward,
                          BinaryOp::SiluBackward, BinaryOp::SigmoidBackward,
                          BinaryOp::TanhBackward, BinaryOp::Pow, BinaryOp::Lt};  // last two delegate
  for_each_config([&] {
    for (DType t : {kFloat32, kFloat64}) {
      for (const Shape& shape : elementwise_shapes()) {
        for (BinaryOp op : ops) {
          const std::string ctx = fmt::format("binary op {} {} {}", static_cast<int>(op), t, shape);
          CAPTURE(ctx);
          const Operand a = make_operand(t, shape, kInputLayouts[rand_int(0, 3)], true);
          Operand b = make_operand(t, shape, kInputLayouts[rand_int(0, 3)], true);
          if (rand_int(0, 4) == 0) {  // a scalar broadcast over everything
            b.view.strides = Strides::filled(shape.size(), 0);
          }
          const DType out_dtype = op == BinaryOp::Lt ? kBool : t;
          const Operand out = make_operand(out_dtype, shape, kOutputLayouts[rand_int(0, 2)]);
          Operand got = out.clone(), want = out.clone(), bound = out.clone();
          cpu.binary(op, got.view, a.view, b.view);
          ref.binary(op, want.view, a.view, b.view);
          if (out_dtype == t) {
            ref.copy(bound.view, a.view);
            ref.unary(UnaryOp::Abs, bound.view, bound.view);
          }
          const bool backward = op == BinaryOp::SiluBackward || op == BinaryOp::TanhBackward ||
                                op == BinaryOp::SigmoidBackward;
          check_close(got, want, rtol_for(t), 1e-30, backward ? &bound : nullptr);
        }
      }
    }
  });
}

TEST_CASE("cpu backend: copy with casts and fill match the reference") {
  Backend& cpu = cpu_backend();
  Backend& ref = reference_backend();
  const DType dtypes[] = {kBool, kInt64, kFloat32, kFloat64, kComplex64, kComplex128};
  const int saved_threads = cpu::num_threads();
  for (int threads : {1, 2}) {
    cpu::set_num_threads(threads);
    for (const Shape& shape : elementwise_shapes()) {
      for (DType from : dtypes) {
        for (DType to : dtypes) {
          const std::string ctx = fmt::format("copy {} -> {} {}", from, to, shape);
          CAPTURE(ctx);
          const Operand in = make_operand(from, shape, kInputLayouts[rand_int(0, 3)], true);
          const Operand out = make_operand(to, shape, kOutputLayouts[rand_int(0, 2)]);
          Operand got = out.clone(), want = out.clone();
          cpu.copy(got.view, in.view);
          ref.copy(want.view, in.view);
          check_close(got, want, 0.0, 0.0);
        }
        const Operand out = make_operand(from, shape, kOutputLayouts[rand_int(0, 2)]);
        Operand got = out.clone(), want = out.clone();
        cpu.fill(got.view, Scalar(2.5));
        ref.fill(want.view, Scalar(2.5));
        check_close(got, want, 0.0, 0.0);
      }
    }
  }
  cpu::set_num_threads(saved_threads);
}

TEST_CASE("cpu backend: reductions over random dim subsets match the reference") {
  Backend& cpu = cpu_backend();
  Backend& ref = reference_backend();
  std::vector<Shape> shapes = {{1}, {37}, {100000}, {70, 600}, {3, 40, 1000}, {2, 3, 4}};
  for (int i = 0; i < 12; ++i) shapes.push_back(random_shape(4, 9));
  for_each_config([&] {
    for (DType t : {kFloat32, kFloat64}) {
      for (const Shape& shape : shapes) {
        for (int trial = 0; trial < 3; ++trial) {
          Shape out_shape = shape;
          for (int d = 0; d < shape.size(); ++d)
            if (rand_int(0, 1) == 1) out_shape[d] = 1;
          for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max}) {  // Max delegates
            const std::string ctx = fmt::format("reduce {} {} {} -> {}", static_cast<int>(op), t, shape, out_shape);
            CAPTURE(ctx);
            const Operand in = make_operand(t, shape, kInputLayouts[rand_int(0, 3)]);
            const Operand out = make_operand(t, out_shape, kOutputLayouts[rand_int(0, 2)]);
            Operand got = out.clone(), want = out.clone(), bound = out.clone();
            cpu.reduce(op, got.view, in.view);
            ref.reduce(op, want.view, in.view);
            // Error scale: the sum of |x| over each output's inputs.
            Operand abs_in = in.clone();
            ref.unary(UnaryOp::Abs, abs_in.view, abs_in.view);
            ref.reduce(ReduceOp::Sum, bound.view, abs_in.view);
            check_close(got, want, t == kFloat32 ? 1e-5 : 1e-12, 0.0, &bound);
          }
        }
      }
    }
  });
}

TEST_CASE("cpu backend: matmul matches the reference on random (B, M, K, N) and layouts") {
  Backend& cpu = cpu_backend();
  Backend& ref = reference_backend();
  struct Case { std::int64_t b, m, k, n; };
  std::vector<Case> cases = {{1, 1, 1, 1},   {1, 5, 3, 7},    {2, 13, 17, 31}, {3, 33, 65, 47},
                             {1, 130, 257, 65}, {4, 64, 64, 64}, {1, 1, 300, 200}, {1, 200, 300, 1},
                             {2, 7, 0, 5},   {2, 0, 3, 4},    {1, 37, 600, 29},
                             {1, 3000, 40, 1}, {2, 1, 40, 2500}};  // matrix-vector paths
  for (int i = 0; i < 6; ++i) cases.push_back({rand_int(1, 3), rand_int(1, 40), rand_int(1, 40), rand_int(1, 40)});
  for_each_config([&] {
    for (DType t : {kFloat32, kFloat64}) {
      for (const Case& c : cases) {
        for (int trial = 0; trial < 2; ++trial) {
          const std::string ctx = fmt::format("matmul {} B={} M={} K={} N={}", t, c.b, c.m, c.k, c.n);
          CAPTURE(ctx);
          const Operand a = make_operand(t, {c.b, c.m, c.k}, kInputLayouts[rand_int(0, 3)]);
          const Operand b = make_operand(t, {c.b, c.k, c.n}, kInputLayouts[rand_int(0, 3)]);
          const Operand out = make_operand(t, {c.b, c.m, c.n}, kOutputLayouts[rand_int(0, 2)]);
          Operand got = out.clone(), want = out.clone(), bound = out.clone();
          cpu.matmul(got.view, a.view, b.view);
          ref.matmul(want.view, a.view, b.view);
          Operand abs_a = a.clone(), abs_b = b.clone();
          ref.unary(UnaryOp::Abs, abs_a.view, abs_a.view);
          ref.unary(UnaryOp::Abs, abs_b.view, abs_b.view);
          ref.matmul(bound.view, abs_a.view, abs_b.view);  // sum_k |a_ik| |b_kj|
          check_close(got, want, t == kFloat32 ? 1e-4 : 1e-12, 0.0, &bound);
        }
      }
    }
  });
  // Other dtypes go to the reference loops: exact.
  for (DType t : {kInt64, kComplex64}) {
    const Operand a = make_operand(t, {2, 5, 6}, Layout::Transposed);
    const Operand b = make_operand(t, {2, 6, 3}, Layout::Contiguous);
    const Operand out = make_operand(t, {2, 5, 3}, Layout::Contiguous);
    Operand got = out.clone(), want = out.clone();
    cpu.matmul(got.view, a.view, b.view);
    ref.matmul(want.view, a.view, b.view);
    check_close(got, want, 0.0, 0.0);
  }
}

TEST_CASE("cpu backend: random fill is bit-identical to the reference") {
  for (DType t : {kFloat32, kFloat64, kComplex64}) {
    for (Layout layout : kOutputLayouts) {
      const Operand out = make_operand(t, {3, 70, 500}, layout);
      Operand got = out.clone(), want = out.clone();
      const RandomSpec spec{RandomSpec::Kind::Normal, 0.5, 2.0, 42, 1000};
      cpu_backend().random(got.view, spec);
      reference_backend().random(want.view, spec);
      check_close(got, want, 0.0, 0.0);
    }
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
