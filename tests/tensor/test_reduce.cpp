// Reductions: hand-computed values, keepdim shapes, negative dims, result dtypes, ties, empty
// inputs and errors; softmax / log_softmax / logsumexp against PyTorch-documented values; any,
// all, allclose, equal. Value tests run on both CPU backends.
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;
using test::check_values;
using test::error_of;
using test::on_cpu_backends;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();


void check_ints(const Tensor& t, const std::vector<std::int64_t>& expected) {
  CHECK(t.dtype() == kInt64);
  CHECK(t.to_vector<std::int64_t>() == expected);
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// [[1, 2, 3], [4, 5, 6]]
Tensor x23(DType t = kFloat32) { return tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, t); }

}  // namespace

TEST_CASE("sum: all, dims, keepdim, negative dims") {
  on_cpu_backends([] {
    Tensor x = x23();
    Tensor all = sum(x);
    CHECK(all.dim() == 0);
    CHECK(all.dtype() == kFloat32);
    check_values(all, {21});
    check_values(sum(x, {0}), {5, 7, 9});
    check_values(sum(x, {1}), {6, 15});
    check_values(sum(x, {-1}), {6, 15});
    Tensor k = sum(x, {-1}, true);
    CHECK(k.sizes() == Shape{2, 1});
    check_values(k, {6, 15});
    CHECK(sum(x, {0}, true).sizes() == Shape{1, 3});
    Tensor both = sum(x, {1, 0});
    CHECK(both.dim() == 0);
    check_values(both, {21});
    CHECK(sum(x, {0, 1}, true).sizes() == Shape{1, 1});
    // A 3-D tensor reduced over the middle and first dims.
    Tensor y = arange(24, kFloat64).reshape({2, 3, 4});
    Tensor s = sum(y, {0, -2});
    CHECK(s.sizes() == Shape{4});
    // y[i][j][k] = 12 i + 4 j + k; summed over i and j: 36 + 24 + 6 k
    check_values(s, {60, 66, 72, 78});
    // Non-contiguous input: the transpose sums the same columns.
    check_values(sum(x.t(), {1}), {5, 7, 9});
  });
}

TEST_CASE("sum: dtypes (bool and int64 sum to int64, complex stays complex)") {
  on_cpu_backends([] {
    check_ints(sum(tensor({1, 2, 3, 4})), {10});
    check_ints(sum(tensor({true, false, true})), {2});
    Tensor ib = tensor({{true, true}, {false, true}});
    check_ints(sum(ib, {0}), {1, 2});
    Tensor d = sum(tensor({1.5, 2.5}));
    CHECK(d.dtype() == kFloat64);
    check_values(d, {4.0});
    Tensor z = tensor({complex128(1, 2), complex128(3, -1)});
    Tensor zs = sum(z);
    CHECK(zs.dtype() == kComplex128);
    CHECK(zs.item<complex128>() == complex128(4, 1));
  });
}

TEST_CASE("sum: empty inputs and errors") {
  on_cpu_backends([] {
    check_values(sum(zeros({0})), {0});
    Tensor e = sum(zeros({0, 3}), {0});
    CHECK(e.sizes() == Shape{3});
    check_values(e, {0, 0, 0});
    CHECK(sum(zeros({0, 3}), {1}).sizes() == Shape{0});
    // A 0-dim tensor reduces over dim 0 / -1 to itself.
    check_values(sum(scalar_tensor(2.5), {0}), {2.5});
  });
  Tensor x = x23();
  CHECK(contains(error_of([&] { sum(x, {0, -2}); }),
                 "dim 0 appears multiple times in the list of dims"));
  CHECK(contains(error_of([&] { sum(x, {2}); }), "dimension out of range"));
  CHECK(contains(error_of([&] { sum(x, {-3}); }), "dimension out of range"));
}

TEST_CASE("mean") {
  on_cpu_backends([] {
    Tensor x = x23();
    check_values(mean(x), {3.5});
    check_values(mean(x, {0}), {2.5, 3.5, 4.5});
    Tensor m = mean(x, {1}, true);
    CHECK(m.sizes() == Shape{2, 1});
    check_values(m, {2, 5});
    CHECK(mean(x).dtype() == kFloat32);
    Tensor z = tensor({complex128(1, 2), complex128(3, 4)});
    CHECK(mean(z).item<complex128>() == complex128(2, 3));
    // Nothing to average: 0 / 0.
    check_values(mean(zeros({0})), {kNaN});
  });
  CHECK(error_of([] { mean(tensor({1, 2, 3})); }) ==
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: Long");
  CHECK(contains(error_of([] { mean(tensor({true})); }), "Got: Bool"));
}

TEST_CASE("var and std: correction, dims, complex") {
  on_cpu_backends([] {
    Tensor x = tensor({1.0, 2.0, 3.0, 4.0});
    check_values(var(x), {5.0 / 3.0});  // 1.6666667, unbiased
    check_values(var(x, {}, 0), {1.25});
    check_values(reel::std(x), {1.2909944487358056});
    check_values(reel::std(x, {}, 0), {1.118033988749895});
    check_values(var(x, {0}, 2), {2.5});  // 5 / (4 - 2)
    Tensor y = x23();
    check_values(var(y, {1}), {1, 1});
    Tensor v0 = var(y, {0}, 1, true);
    CHECK(v0.sizes() == Shape{1, 3});
    check_values(v0, {4.5, 4.5, 4.5});
    CHECK(var(y, {-1}).dtype() == kFloat32);
    // One sample with the unbiased estimator divides by 0.
    check_values(var(tensor({3.0})), {kNaN});
    // Complex: mean |x - mean|^2, a real result. z = [1+i, 3+3i]: mean 2+2i, |dev|^2 = 2 each.
    Tensor z = tensor({complex128(1, 1), complex128(3, 3)});
    Tensor vz = var(z);
    CHECK(vz.dtype() == kFloat64);
    check_values(vz, {4.0});
    check_values(var(z, {}, 0), {2.0});
    check_values(reel::std(z, {}, 0), {std::sqrt(2.0)});
  });
  CHECK(contains(error_of([] { var(tensor({1, 2})); }),
                 "std and var only support floating point and complex dtypes"));
  CHECK(contains(error_of([] { reel::std(tensor({1, 2})); }), "std:"));
}

TEST_CASE("prod") {
  on_cpu_backends([] {
    Tensor x = x23();
    check_values(prod(x, 1), {6, 120});
    check_values(prod(x, 0), {4, 10, 18});
    Tensor k = prod(x, -1, true);
    CHECK(k.sizes() == Shape{2, 1});
    check_ints(prod(tensor({{2, 3}, {4, 5}}), 0), {8, 15});
    check_ints(prod(tensor({true, true, false}), 0), {0});
    check_values(prod(zeros({2, 0}), 1), {1, 1});  // an empty product is 1
  });
}

TEST_CASE("max and min over all elements, amax") {
  on_cpu_backends([] {
    Tensor x = x23();
    Tensor mx = max(x);
    CHECK(mx.dim() == 0);
    check_values(mx, {6});
    check_values(min(x), {1});
    check_values(x.max(), {6});
    check_ints(max(tensor({3, -7, 5})), {5});
    check_values(amax(x, {0}), {4, 5, 6});
    check_values(amax(x, {0, 1}), {6});
    check_values(amax(x, {}), {6});
    Tensor k = amax(x, {-1}, true);
    CHECK(k.sizes() == Shape{2, 1});
    check_values(k, {3, 6});
    // NaN propagates, as in PyTorch.
    check_values(max(tensor({1.0, kNaN, 3.0})), {kNaN});
    check_values(min(tensor({-kInf, 0.0})), {-kInf});
  });
  CHECK(contains(error_of([] { max(zeros({0})); }),
                 "max(): Expected reduction dim to be specified for input.numel() == 0"));
  CHECK(contains(error_of([] { min(zeros({2, 0})); }), "min()"));
  CHECK(contains(error_of([] { amax(zeros({0, 3}), {0}); }),
                 "amax(): Expected reduction dim 0 to have non-zero size."));
  CHECK(amax(zeros({0, 3}), {1}).sizes() == Shape{0});  // nothing to fill: fine
  CHECK(contains(error_of([] { max(tensor({complex128(1, 1)})); }), "complex"));
}

TEST_CASE("max and min along a dim: values, indices, ties, keepdim") {
  on_cpu_backends([] {
    Tensor x = x23();
    auto [v, i] = max(x, 1);
    check_values(v, {3, 6});
    check_ints(i, {2, 2});
    CHECK(v.sizes() == Shape{2});
    auto [v0, i0] = min(x, 0);
    check_values(v0, {1, 2, 3});
    check_ints(i0, {0, 0, 0});
    // Ties: the first index wins.
    Tensor t = tensor({{1.0, 3.0, 3.0}, {2.0, 2.0, 1.0}});
    auto [tv, ti] = max(t, -1);
    check_values(tv, {3, 2});
    check_ints(ti, {1, 0});
    auto [nv, ni] = min(t, 1, true);
    CHECK(nv.sizes() == Shape{2, 1});
    CHECK(ni.sizes() == Shape{2, 1});
    check_values(nv, {1, 1});
    check_ints(ni, {0, 2});
    // A 0-dim input: itself and index 0.
    auto [sv, si] = max(scalar_tensor(4.0), 0);
    CHECK(sv.dim() == 0);
    check_values(sv, {4});
    check_ints(si, {0});
  });
  CHECK(contains(error_of([] { max(zeros({2, 0}), 1); }),
                 "max(): Expected reduction dim 1 to have non-zero size."));
  CHECK(contains(error_of([] { max(x23(), 2); }), "dimension out of range"));
}

TEST_CASE("argmax and argmin") {
  on_cpu_backends([] {
    Tensor x = x23();
    check_ints(argmax(x), {5});
    check_ints(argmin(x), {0});
    CHECK(argmax(x).dim() == 0);
    check_ints(argmax(x, 0), {1, 1, 1});
    check_ints(argmin(x, -1), {0, 0});
    check_ints(argmax(tensor({1.0, 3.0, 3.0})), {1});  // first of the ties
    CHECK(argmax(x, std::nullopt, true).sizes() == Shape{1, 1});
    CHECK(argmax(x, 1, true).sizes() == Shape{2, 1});
    check_ints(x.t().argmax(), {5});  // flattened in the view's row-major order: [1,4,2,5,3,6]
  });
  CHECK(contains(error_of([] { argmax(zeros({0})); }), "argmax()"));
}

TEST_CASE("logsumexp") {
  on_cpu_backends([] {
    // log(e + e^2 + e^3) = 3.40760596...
    check_values(logsumexp(tensor({1.0, 2.0, 3.0}), {0}), {3.4076059644443806});
    // Large values stay finite: 1000 + log(2).
    check_values(logsumexp(tensor({1000.0, 1000.0}), {0}), {1000.6931471805599});
    check_values(logsumexp(tensor({-1000.0, -1000.0}), {0}), {-999.3068528194401});
    check_values(logsumexp(tensor({-kInf, -kInf}), {0}), {-kInf});
    check_values(logsumexp(tensor({kInf, 1.0}), {0}), {kInf});
    Tensor x = x23(kFloat64);
    Tensor k = logsumexp(x, {1}, true);
    CHECK(k.sizes() == Shape{2, 1});
    check_values(k, {3.4076059644443806, 6.4076059644443806});
    check_values(logsumexp(x, {0, 1}), {6.456193316018123});
    check_values(logsumexp(zeros({0}), {0}), {-kInf});
  });
}

TEST_CASE("softmax and log_softmax") {
  on_cpu_backends([] {
    // PyTorch: torch.softmax(torch.tensor([1., 2., 3.]), 0)
    const std::vector<double> sm{0.09003057, 0.24472847, 0.66524096};
    check_values(softmax(tensor({1.0f, 2.0f, 3.0f}), 0), sm);
    // Shift-invariant and stable for large inputs.
    check_values(softmax(tensor({1001.0, 1002.0, 1003.0}), 0), sm);
    check_values(log_softmax(tensor({1.0, 2.0, 3.0}), 0),
                 {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806});
    check_values(log_softmax(tensor({1001.0, 1002.0, 1003.0}), -1),
                 {-2.4076059644443806, -1.4076059644443806, -0.4076059644443806});
    // Rows (dim 1) and columns (dim 0) sum to 1.
    manual_seed(3);
    Tensor r = randn({4, 5}, kFloat64);
    check_values(sum(softmax(r, 1), {1}), {1, 1, 1, 1});
    check_values(sum(softmax(r, 0), {0}), {1, 1, 1, 1, 1});
    check_values(sum(exp(log_softmax(r, -1)), {-1}), {1, 1, 1, 1});
    Tensor s = softmax(x23(), 1);
    CHECK(s.sizes() == Shape{2, 3});
    check_values(s, {sm[0], sm[1], sm[2], sm[0], sm[1], sm[2]});
    // A -inf entry gets probability 0.
    check_values(softmax(tensor({-kInf, 0.0}), 0), {0, 1});
  });
  CHECK(contains(error_of([] { softmax(tensor({1, 2}), 0); }), "softmax"));
  CHECK(contains(error_of([] { softmax(x23(), 2); }), "dimension out of range"));
}

TEST_CASE("any and all") {
  on_cpu_backends([] {
    Tensor b = tensor({false, true});
    CHECK(any(b).dtype() == kBool);
    CHECK(any(b).item<bool>());
    CHECK_FALSE(all(b).item<bool>());
    CHECK(all(tensor({true, true})).item<bool>());
    CHECK_FALSE(any(zeros({3})).item<bool>());
    CHECK(all(tensor({1.0, -2.0})).item<bool>());
    CHECK_FALSE(any(zeros({0})).item<bool>());
    CHECK(all(zeros({0})).item<bool>());
  });
}

TEST_CASE("allclose and equal") {
  Tensor a = tensor({1.0, 2.0, 3.0});
  CHECK(allclose(a, tensor({1.0, 2.0, 3.0 + 1e-9})));
  CHECK_FALSE(allclose(a, tensor({1.0, 2.0, 3.1})));
  CHECK(allclose(a, tensor({1.0, 2.0, 3.1}), 0.0, 0.2));
  CHECK(allclose(a, tensor({1.0, 2.0, 3.3}), 0.1, 0.0));  // |d| <= rtol * |b|
  CHECK_FALSE(allclose(a, tensor({1.0, 2.0})));            // shapes differ
  Tensor n = tensor({kNaN, kInf});
  CHECK_FALSE(allclose(n, n));
  CHECK(allclose(n, n, 1e-5, 1e-8, true));
  CHECK_FALSE(allclose(tensor({kInf}), tensor({-kInf})));
  CHECK(allclose(tensor({complex128(1, 1)}), tensor({complex128(1, 1 + 1e-10)})));
  CHECK(equal(a, a.clone()));
  CHECK_FALSE(equal(a, tensor({1.0, 2.0, 3.0 + 1e-9})));
  CHECK(equal(tensor({1, 2}), tensor({1, 2})));
  CHECK_FALSE(equal(tensor({1, 2}), tensor({1, 3})));
  // int64 beyond 2^53 compares exactly.
  std::int64_t big = (std::int64_t{1} << 60) + 1;
  CHECK_FALSE(equal(tensor({big}), tensor({big - 1})));
  CHECK_FALSE(equal(n, n));
  CHECK_FALSE(equal(tensor({1.0}), tensor({1.0, 1.0})));
}

TEST_CASE("reductions: the fast backend agrees with the reference on larger strided inputs") {
  struct Restore {
    ~Restore() { backends::set_cpu_backend(backends::Kind::Cpu); }
  } restore;
  manual_seed(21);
  // Sizes past any SIMD width, a permuted (non-contiguous) view, every dims combination.
  Tensor x = randn({17, 33, 5}, kFloat64).permute({2, 0, 1});
  const std::vector<Shape> dim_sets{{}, {0}, {1}, {2}, {0, 1}, {0, 2}, {-1, -2}};
  for (const Shape& dims : dim_sets) {
    CAPTURE(dims);
    std::vector<Tensor> results[2];
    int slot = 0;
    for (auto kind : {backends::Kind::Reference, backends::Kind::Cpu}) {
      backends::set_cpu_backend(kind);
      results[slot++] = {sum(x, dims), amax(x, dims), mean(x.to(kFloat32), dims),
                         logsumexp(x, dims), var(x, dims)};
    }
    for (std::size_t i = 0; i < results[0].size(); ++i) {
      CAPTURE(i);
      CHECK(allclose(results[0][i], results[1][i], 1e-5, 1e-6));
    }
  }
  for (std::int64_t d : {0, 1, 2}) {
    backends::set_cpu_backend(backends::Kind::Reference);
    auto [rv, ri] = max(x, d);
    Tensor rs = softmax(x, d);
    backends::set_cpu_backend(backends::Kind::Cpu);
    auto [cv, ci] = max(x, d);
    CHECK(equal(rv, cv));
    CHECK(equal(ri, ci));
    CHECK(allclose(rs, softmax(x, d), 1e-6, 1e-9));
  }
}
