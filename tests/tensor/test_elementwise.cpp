// Elementwise ops: values on small known cases (exact math or PyTorch-documented values),
// broadcasting, type promotion, comparisons, where/masked_fill, in-place forms and errors.
// Value tests run on both CPU backends (reference loops and the fast one).
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
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

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = std::numbers::pi;


void check_complex(const Tensor& t, const std::vector<complex128>& expected, double eps = 1e-6) {
  std::vector<complex128> got = t.to_vector<complex128>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].real() == doctest::Approx(expected[i].real()).epsilon(eps));
    CHECK(got[i].imag() == doctest::Approx(expected[i].imag()).epsilon(eps));
  }
}

void check_bools(const Tensor& t, const std::vector<bool>& expected) {
  CHECK(t.dtype() == kBool);
  CHECK(t.to_vector<bool>() == expected);
}

Tensor f32(std::vector<float> v) { return tensor(v); }
Tensor f64(std::vector<double> v) { return tensor(v); }
Tensor i64(std::vector<std::int64_t> v) { return tensor(v); }

}  // namespace

TEST_CASE("elementwise: unary values") {
  on_cpu_backends([] {
    check_values(exp(f32({0, 1, -1})), {1, std::numbers::e, 1 / std::numbers::e});
    check_values(log(f32({1, float(std::numbers::e), 0, -1})), {0, 1, -kInf, kNaN});
    check_values(sqrt(f32({4, 2, -1})), {2, std::numbers::sqrt2, kNaN});
    check_values(sin(f64({0, kPi / 2})), {0, 1}, 1e-12);
    check_values(cos(f64({0, kPi})), {1, -1}, 1e-12);
    check_values(tanh(f32({0, 1})), {0, 0.7615941559557649});
    check_values(sigmoid(f32({0, 2})), {0.5, 0.8807970779778823});
    check_values(relu(f32({-1, 0, 2, float(kNaN)})), {0, 0, 2, kNaN});  // relu(NaN) = NaN
    check_values(gelu(f64({1, 0, -1})), {0.8413447460685429, 0, -0.15865525393145707}, 1e-12);
    check_values(silu(f64({1, 0})), {0.7310585786300049, 0}, 1e-12);
    check_values(erf(f64({0, 1, -1})), {0, 0.8427007929497149, -0.8427007929497149}, 1e-12);
    check_values(sign(f32({-2, 0, 3, float(kNaN)})), {-1, 0, 1, kNaN});
    check_values(reciprocal(f32({2, -4})), {0.5, -0.25});
    check_values(square(f32({3, -2})), {9, 4});
    check_values(neg(f32({1, -2})), {-1, 2});
    check_values(abs(f32({-2, 3})), {2, 3});
    check_values(-f64({5}), {-5});
    check_bools(isnan(f32({1, float(kNaN)})), {false, true});
    check_bools(logical_not(tensor({true, false})), {false, true});
  });
}

TEST_CASE("elementwise: unary dtypes") {
  // Float math on integers computes in float32; sign/abs/neg/square/relu keep int64.
  Tensor n = i64({-3, 0, 4});
  for (Tensor t : {exp(n), log(n), sqrt(n), sin(n), cos(n), tanh(n), sigmoid(n), erf(n),
                   reciprocal(n)}) {
    CHECK(t.dtype() == kFloat32);
  }
  check_values(exp(i64({0})), {1});
  check_values(reciprocal(i64({2})), {0.5});
  for (Tensor t : {abs(n), sign(n), neg(n), square(n), relu(n)}) CHECK(t.dtype() == kInt64);
  CHECK(abs(n).to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, 4});
  CHECK(sign(n).to_vector<std::int64_t>() == std::vector<std::int64_t>{-1, 0, 1});
  CHECK(relu(n).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 4});
  Tensor sq = square(tensor({true, false}));  // square is pow(x, 2): bool -> int64
  CHECK(sq.dtype() == kInt64);
  CHECK(sq.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0});
  CHECK(exp(f64({1})).dtype() == kFloat64);
  CHECK(isnan(n).dtype() == kBool);
}

TEST_CASE("elementwise: complex unary values") {
  on_cpu_backends([] {
    Tensor z = tensor(std::vector<complex128>{{3, 4}});
    Tensor a = abs(z);
    CHECK(a.dtype() == kFloat64);
    check_values(a, {5});
    CHECK(abs(tensor(std::vector<complex64>{{3, 4}})).dtype() == kFloat32);
    check_complex(exp(tensor(std::vector<complex128>{{0, kPi}})), {{-1, 0}}, 1e-12);
    check_complex(log(tensor(std::vector<complex128>{{-1, 0}})), {{0, kPi}}, 1e-12);
    check_complex(sqrt(tensor(std::vector<complex128>{{-4, 0}})), {{0, 2}}, 1e-12);
    check_complex(neg(z), {{-3, -4}});
    check_complex(square(z), {{-7, 24}});
    check_complex(reciprocal(z), {{0.12, -0.16}});
    check_complex(sigmoid(tensor(std::vector<complex128>{{0, 0}})), {{0.5, 0}});
    // sin(i) = i sinh(1), cos(i) = cosh(1), tanh(i) = i tan(1)
    Tensor i = tensor(std::vector<complex128>{{0, 1}});
    check_complex(sin(i), {{0, std::sinh(1.0)}}, 1e-12);
    check_complex(cos(i), {{std::cosh(1.0), 0}}, 1e-12);
    check_complex(tanh(i), {{0, std::tan(1.0)}}, 1e-12);
  });
}

TEST_CASE("elementwise: real-only ops reject complex input, naming the op") {
  Tensor z = tensor(std::vector<complex64>{{1, 1}});
  CHECK_THROWS_WITH_AS(relu(z), doctest::Contains("relu"), Error);
  CHECK_THROWS_WITH_AS(gelu(z), doctest::Contains("gelu"), Error);
  CHECK_THROWS_WITH_AS(silu(z), doctest::Contains("silu"), Error);
  CHECK_THROWS_WITH_AS(erf(z), doctest::Contains("erf"), Error);
  CHECK_THROWS_WITH_AS(sign(z), doctest::Contains("sgn"), Error);
  CHECK_THROWS_WITH_AS(clamp(z, 0, 1), doctest::Contains("clamp"), Error);
  CHECK_THROWS_WITH_AS(lt(z, z), doctest::Contains("lt"), Error);
  CHECK_THROWS_WITH_AS(maximum(z, z), doctest::Contains("maximum"), Error);
  CHECK_THROWS_WITH_AS(neg(tensor({true})), doctest::Contains("logical_not"), Error);
  CHECK_THROWS_WITH_AS(gelu(i64({1})), doctest::Contains("gelu"), Error);
}

TEST_CASE("elementwise: clamp") {
  on_cpu_backends([] {
    Tensor x = f32({-2, 0.5, 3, float(kNaN)});
    check_values(clamp(x, -1, 1), {-1, 0.5, 1, kNaN});
    check_values(clamp(x, 0, std::nullopt), {0, 0.5, 3, kNaN});
    check_values(clamp(x, std::nullopt, 0), {-2, 0, 0, kNaN});
    check_values(clamp(f32({0, 5}), 3, 1), {1, 1});  // min > max: everything is max
    Tensor n = clamp(i64({1, 5}), 2, 4);
    CHECK(n.dtype() == kInt64);
    CHECK(n.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 4});
    Tensor p = clamp(i64({0, 3}), 0.5, std::nullopt);  // a float bound promotes
    CHECK(p.dtype() == kFloat32);
    check_values(p, {0.5, 3});
  });
  CHECK_THROWS_WITH_AS(clamp(f32({1}), std::nullopt, std::nullopt),
                       doctest::Contains("At least one of 'min' or 'max'"), Error);

  Tensor y = f32({-5, 0, 5});
  auto v = y.version();
  y.clamp_(-1, 1);
  CHECK(y.version() > v);
  check_values(y, {-1, 0, 1});
  Tensor k = i64({1});
  CHECK_THROWS_WITH_AS(k.clamp_(0.5, std::nullopt), doctest::Contains("can't be cast"), Error);
  Tensor leaf = f64({1, 2}).requires_grad_();
  CHECK_THROWS_WITH_AS(leaf.clamp_(0, 1), doctest::Contains("leaf Variable"), Error);
}

TEST_CASE("elementwise: broadcasting and type promotion of arithmetic") {
  on_cpu_backends([] {
    Tensor a = tensor(std::vector<float>{0, 10, 20}, {3, 1}, kFloat32);
    Tensor b = tensor(std::vector<float>{1, 2, 3, 4}, {1, 4}, kFloat32);
    Tensor c = a + b;
    CHECK(c.sizes() == Shape{3, 4});
    check_values(c, {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24});
    check_values(a * f32({1, 2}), {0, 0, 10, 20, 20, 40});
  });
  CHECK((i64({1, 2}) + f32({0.5, 0.5})).dtype() == kFloat32);
  Tensor s = f32({1, 2}) * 2.5;
  CHECK(s.dtype() == kFloat32);
  check_values(s, {2.5, 5});
  Tensor t = i64({1, 2}) * 2.5;
  CHECK(t.dtype() == kFloat32);
  check_values(t, {2.5, 5});
  CHECK((i64({1}) * 2).dtype() == kInt64);
  CHECK((f32({1}) + scalar_tensor(1.0, kFloat64)).dtype() == kFloat32);
  CHECK((f32({1}) + scalar_tensor(complex128(0, 1), kComplex128)).dtype() == kComplex64);
  CHECK((i64({1}) + scalar_tensor(1.5, kFloat64)).dtype() == kFloat64);
  Tensor q = i64({7, -7}) / i64({2, 2});
  CHECK(q.dtype() == kFloat32);
  check_values(q, {3.5, -3.5});
  Tensor bb = tensor({true, false}) + tensor({true, false});
  CHECK(bb.dtype() == kBool);
  CHECK(bb.to_vector<bool>() == std::vector<bool>{true, false});
  check_complex(f64({2}) * complex128(0, 1), {{0, 2}});
}

TEST_CASE("elementwise: a broadcast mismatch names both shapes") {
  Tensor a = zeros({2, 3}), b = zeros({4});
  std::string msg = error_of([&] { (void)(a + b); });
  CHECK(msg.find("[2, 3]") != std::string::npos);
  CHECK(msg.find("[4]") != std::string::npos);
  CHECK_THROWS_WITH_AS(where(zeros({3}, kBool), a, b), doctest::Contains("[4]"), Error);
  CHECK_THROWS_WITH_AS(pow(a, b), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(maximum(a, b), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(eq(a, b), doctest::Contains("[2, 3]"), Error);
}

TEST_CASE("elementwise: pow") {
  on_cpu_backends([] {
    check_values(pow(f32({2, 3}), f32({3, 2})), {8, 9});
    check_values(pow(f32({4, 0}), 0.5), {2, 0});
    check_values(pow(f32({0, 2}), 0), {1, 1});  // 0^0 = 1
    check_values(pow(f64({2}), -1.5), {std::pow(2.0, -1.5)}, 1e-12);
    Tensor n = pow(i64({2, 3}), 2);
    CHECK(n.dtype() == kInt64);
    CHECK(n.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 9});
    Tensor h = pow(i64({2}), 0.5);
    CHECK(h.dtype() == kFloat32);
    check_values(h, {std::numbers::sqrt2});
    Tensor bc = pow(tensor(std::vector<double>{1, 2, 3}, {3, 1}, kFloat64), f64({1, 2}));
    CHECK(bc.sizes() == Shape{3, 2});
    check_values(bc, {1, 1, 2, 4, 3, 9});
    check_complex(pow(tensor(std::vector<complex128>{{0, 1}}), 2), {{-1, 0}}, 1e-12);
  });
  CHECK_THROWS_WITH_AS(pow(i64({2}), -1), doctest::Contains("negative integer powers"), Error);
  CHECK_THROWS_WITH_AS(pow(tensor({true}), tensor({true})), doctest::Contains("pow"), Error);
}

TEST_CASE("elementwise: maximum and minimum") {
  on_cpu_backends([] {
    Tensor a = f32({1, 5, float(kNaN), 2}), b = f32({3, 2, 1, float(kNaN)});
    check_values(maximum(a, b), {3, 5, kNaN, kNaN});  // NaN propagates from either side
    check_values(minimum(a, b), {1, 2, kNaN, kNaN});
    check_values(maximum(f32({-1, 2}), 0), {0, 2});
    check_values(minimum(f32({-1, 2}), 0), {-1, 0});
    Tensor m = maximum(i64({1, 4}), f32({2.5, 3}));
    CHECK(m.dtype() == kFloat32);
    check_values(m, {2.5, 4});
  });
}

TEST_CASE("elementwise: comparisons and logical ops") {
  on_cpu_backends([] {
    Tensor a = f32({1, 2, 3}), b = f32({2, 2, 2});
    check_bools(eq(a, b), {false, true, false});
    check_bools(ne(a, b), {true, false, true});
    check_bools(lt(a, b), {true, false, false});
    check_bools(le(a, b), {true, true, false});
    check_bools(gt(a, b), {false, false, true});
    check_bools(ge(a, b), {false, true, true});
    check_bools(a == 2, {false, true, false});
    check_bools(a != 2, {true, false, true});
    check_bools(a < 2, {true, false, false});
    check_bools(a <= 2, {true, true, false});
    check_bools(a > 2, {false, false, true});
    check_bools(a >= 2, {false, true, true});
    check_bools(i64({2, 3}) < 2.5, {true, false});  // compared in float, not truncated
    check_bools(eq(f32({float(kNaN)}), f32({float(kNaN)})), {false});
    check_bools(ne(f32({float(kNaN)}), f32({float(kNaN)})), {true});
    Tensor z = tensor(std::vector<complex64>{{1, 2}, {1, 0}});
    check_bools(eq(z, tensor(std::vector<complex64>{{1, 2}, {1, 1}})), {true, false});
    check_bools(eq(z, 1), {false, true});
    Tensor bc = lt(tensor(std::vector<float>{1, 3}, {2, 1}, kFloat32), f32({0, 2, 4}));
    CHECK(bc.sizes() == Shape{2, 3});
    check_bools(bc, {false, true, true, false, false, true});
    Tensor p = tensor({true, true, false, false}), q = tensor({true, false, true, false});
    check_bools(logical_and(p, q), {true, false, false, false});
    check_bools(logical_or(p, q), {true, true, true, false});
    check_bools(logical_and(f32({0, 2}), f32({1, 1})), {false, true});
    check_bools(logical_not(f32({0, 2})), {true, false});
  });
}

TEST_CASE("elementwise: where and masked_fill") {
  on_cpu_backends([] {
    Tensor cond = tensor({true, false, true});
    check_values(where(cond, f32({1, 2, 3}), f32({10, 20, 30})), {1, 20, 3});
    Tensor w = where(tensor(std::vector<bool>{true, false}, {2, 1}, kBool), f32({1, 2}),
                     tensor(std::vector<float>{7}, {1, 1}, kFloat32));
    CHECK(w.sizes() == Shape{2, 2});
    check_values(w, {1, 2, 7, 7});
    check_values(where(cond, f32({1, 2, 3}), 0), {1, 0, 3});
    check_values(where(cond, -1, f32({1, 2, 3})), {-1, 2, -1});
    Tensor mixed = where(cond, i64({1, 2, 3}), f32({0.5, 0.5, 0.5}));
    CHECK(mixed.dtype() == kFloat32);
    check_values(mixed, {1, 0.5, 3});

    Tensor x = tensor(std::vector<float>{1, 2, 3, 4}, {2, 2}, kFloat32);
    Tensor row_mask = tensor(std::vector<bool>{true, false}, {1, 2}, kBool);
    check_values(masked_fill(x, row_mask, -1), {-1, 2, -1, 4});
    Tensor n = masked_fill(i64({1, 2}), tensor({false, true}), 9);
    CHECK(n.dtype() == kInt64);
    CHECK(n.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 9});

    auto v = x.version();
    x.masked_fill_(row_mask, 0);
    CHECK(x.version() > v);
    check_values(x, {0, 2, 0, 4});
  });
  CHECK_THROWS_WITH_AS(where(f32({1}), f32({1}), f32({2})), doctest::Contains("boolean"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(f32({1}), f32({1}), 0), doctest::Contains("boolean"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(f32({1}), tensor({true}), complex128(0, 1)),
                       doctest::Contains("complex"), Error);
  Tensor self = f32({1, 2});
  std::string msg = error_of([&] { self.masked_fill_(zeros({3, 2}, kBool), 0); });
  CHECK(msg.find("[3, 2]") != std::string::npos);
  CHECK(msg.find("[2]") != std::string::npos);
}

TEST_CASE("elementwise: in-place arithmetic") {
  on_cpu_backends([] {
    Tensor a = tensor(std::vector<float>{1, 2, 3, 4}, {2, 2}, kFloat32);
    auto v = a.version();
    a.add_(f32({10, 20}));
    CHECK(a.version() > v);
    check_values(a, {11, 22, 13, 24});
    a.mul_(2.0);
    check_values(a, {22, 44, 26, 48});
    a.sub_(f32({1, 1}), 2);
    check_values(a, {20, 42, 24, 46});
    a /= f32({2, 2});
    check_values(a, {10, 21, 12, 23});
  });
  Tensor small = f32({1, 2, 3});
  std::string msg = error_of([&] { small += zeros({2, 3}); });
  CHECK(msg.find("[3]") != std::string::npos);
  CHECK(msg.find("[2, 3]") != std::string::npos);
  Tensor n = i64({1, 2});
  CHECK_THROWS_WITH_AS(n.add_(f32({0.5, 0.5})), doctest::Contains("can't be cast"), Error);
  CHECK_THROWS_AS(n.div_(i64({2, 2})), Error);
  Tensor leaf = f64({1, 2}).requires_grad_();
  CHECK_THROWS_WITH_AS(leaf.mul_(f64({2, 2})), doctest::Contains("leaf Variable"), Error);
  CHECK_THROWS_WITH_AS(leaf.masked_fill_(tensor({true, false}), 0),
                       doctest::Contains("leaf Variable"), Error);
  {
    NoGradGuard guard;  // an optimizer step: in place on a leaf is fine without grad mode
    leaf.mul_(f64({2, 2}));
  }
  check_values(leaf, {2, 4});
}

TEST_CASE("elementwise: an in-place change to a saved output is caught") {
  Tensor x = f64({0.5, 1}).requires_grad_();
  Tensor y = exp(x);  // saves its output
  y.mul_(f64({2, 2}));
  CHECK_THROWS_WITH_AS(y.backward(ones_like(y)), doctest::Contains("inplace"), Error);
}

TEST_CASE("elementwise: complex helpers") {
  on_cpu_backends([] {
    Tensor r = f32({1, 2});
    CHECK(conj(r).is_same(r));  // identity for real tensors
    check_complex(conj(tensor(std::vector<complex64>{{1, 2}})), {{1, -2}});
    Tensor z = complex(f32({1, 2}), f32({3, 4}));
    CHECK(z.dtype() == kComplex64);
    check_complex(z, {{1, 3}, {2, 4}});
    CHECK(complex(f64({1}), f64({1})).dtype() == kComplex128);
    Tensor zb = complex(tensor(std::vector<double>{1, 2}, {2, 1}, kFloat64), f64({5, 6, 7}));
    CHECK(zb.sizes() == Shape{2, 3});
    check_complex(zb, {{1, 5}, {1, 6}, {1, 7}, {2, 5}, {2, 6}, {2, 7}});
    check_values(angle(f32({-1, 0, 2, float(kNaN)})), {kPi, 0, 0, kNaN});
    Tensor ang = angle(tensor(std::vector<complex128>{{0, 1}, {-1, 0}, {1, -1}}));
    CHECK(ang.dtype() == kFloat64);
    check_values(ang, {kPi / 2, kPi, -kPi / 4}, 1e-12);
    CHECK(angle(i64({-1})).dtype() == kFloat32);
  });
  CHECK_THROWS_WITH_AS(complex(f32({1}), f64({1})), doctest::Contains("imag"), Error);
  CHECK_THROWS_WITH_AS(complex(i64({1}), i64({1})), doctest::Contains("int64"), Error);
}
