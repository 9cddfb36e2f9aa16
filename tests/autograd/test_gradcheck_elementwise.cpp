// gradcheck for every differentiable elementwise op: arithmetic (add/sub/mul/div, scalar and
// broadcasting forms), unary math, pow, maximum/minimum, where/masked_fill, complex/angle/conj,
// and the in-place forms; in float64 and, where the op supports complex, complex128. Inputs
// avoid the points where an op is not differentiable (0 for abs/relu/sqrt/log, ties for
// maximum/minimum, clamp bounds). Plus hand-computed gradients at those special points, where
// PyTorch's conventions are the point.
#include <doctest/doctest.h>

#include <algorithm>
#include <complex>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "autograd/node.hpp"
#include "reel.hpp"

using namespace reel;

namespace {

using In = const std::vector<Tensor>&;

void expect_ok(const char* what, const std::function<Tensor(In)>& f, const std::vector<Tensor>& in) {
  INFO(what);
  auto r = autograd::gradcheck(f, in);
  CHECK_MESSAGE(r.ok, r.message);
}

Tensor leaf(const Shape& shape) { return randn(shape, kFloat64).requires_grad_(true); }

// Values in [0.5, 1.5): away from 0 (log, sqrt, reciprocal, division).
Tensor positive(const Shape& shape) {
  return (rand(shape, kFloat64) + 0.5).detach().requires_grad_(true);
}

// Values at least 0.2 away from 0, with both signs (abs, relu, sign).
Tensor nonzero(const Shape& shape) {
  Tensor x = randn(shape, kFloat64);
  return where(lt(x, 0), x - 0.2, x + 0.2).detach().requires_grad_(true);
}

Tensor values(const std::vector<double>& v) { return tensor(v).requires_grad_(true); }

Tensor frozen(const Shape& shape) { return randn(shape, kFloat64); }

// complex128 with a real part in [0.5, 1.5) (right half-plane: away from 0 and from the branch
// cut of log/sqrt/angle on the negative real axis) and a small imaginary part.
Tensor complex_leaf(const Shape& shape) {
  Tensor re = rand(shape, kFloat64) + 0.5;
  Tensor im = randn(shape, kFloat64) * 0.5;
  return complex(re, im).detach().requires_grad_(true);
}

std::vector<double> grad_of(const Tensor& t) { return t.grad().to_vector<double>(); }

}  // namespace

TEST_CASE("gradcheck elementwise: add, sub, mul, div") {
  manual_seed(101);
  expect_ok("add", [](In x) { return add(x[0], x[1]); }, {leaf({2, 3}), leaf({2, 3})});
  expect_ok("add alpha", [](In x) { return add(x[0], x[1], 2.5); }, {leaf({2, 3}), leaf({2, 3})});
  expect_ok("add [3,1]+[4]", [](In x) { return x[0] + x[1]; }, {leaf({3, 1}), leaf({4})});
  expect_ok("add 0-dim", [](In x) { return x[0] + x[1]; }, {leaf({3}), leaf({})});
  expect_ok("sub alpha", [](In x) { return sub(x[0], x[1], -1.5); }, {leaf({2, 3}), leaf({2, 3})});
  expect_ok("sub [3,1]-[4]", [](In x) { return x[0] - x[1]; }, {leaf({3, 1}), leaf({4})});
  expect_ok("mul [3,1]*[4]", [](In x) { return x[0] * x[1]; }, {leaf({3, 1}), leaf({4})});
  expect_ok("mul frozen", [](In x) { return x[0] * x[1]; }, {leaf({2, 3}), frozen({3})});
  expect_ok("mul self", [](In x) { return x[0] * x[0]; }, {leaf({4})});
  expect_ok("div [3,1]/[4]", [](In x) { return x[0] / x[1]; }, {leaf({3, 1}), nonzero({4})});
  expect_ok("div [4]/[3,1]", [](In x) { return div(x[0], x[1]); }, {leaf({4}), positive({3, 1})});
}

TEST_CASE("gradcheck elementwise: scalar forms of arithmetic") {
  manual_seed(102);
  expect_ok("x + 2", [](In x) { return x[0] + 2; }, {leaf({3})});
  expect_ok("add(x, 1, 2)", [](In x) { return add(x[0], 1, 2); }, {leaf({3})});
  expect_ok("x - 3.0", [](In x) { return x[0] - 3.0; }, {leaf({3})});
  expect_ok("sub(x, 1, 0.5)", [](In x) { return sub(x[0], 1, 0.5); }, {leaf({3})});
  expect_ok("x * 2.5", [](In x) { return x[0] * 2.5; }, {leaf({3})});
  expect_ok("2.5 * x", [](In x) { return 2.5 * x[0]; }, {leaf({3})});
  expect_ok("x / 4.0", [](In x) { return x[0] / 4.0; }, {leaf({3})});
  expect_ok("2.0 - x", [](In x) { return 2.0 - x[0]; }, {leaf({3})});
  expect_ok("3.0 / x", [](In x) { return 3.0 / x[0]; }, {nonzero({3})});
  expect_ok("-x", [](In x) { return -x[0]; }, {leaf({3})});
}

// The differentiable unary primitives of the op table, one row each: the tensor function, the
// float64 input it is checked on (away from non-differentiable points; nullptr: complex only)
// and whether it is checked in complex128 too. The next test checks that this list covers
// every arithmetic unary row of backends/op_table.hpp, so a new row needs an entry here.
namespace {
struct UnaryGrad {
  backends::UnaryOp op;
  Tensor (*fn)(const Tensor&);
  Tensor (*real_input)(const Shape&);
  bool complex128;
};
const UnaryGrad kUnaryGrads[] = {
    {backends::UnaryOp::Neg, [](const Tensor& x) { return neg(x); }, leaf, true},
    {backends::UnaryOp::Exp, [](const Tensor& x) { return exp(x); }, leaf, true},
    {backends::UnaryOp::Log, [](const Tensor& x) { return log(x); }, positive, true},
    {backends::UnaryOp::Sqrt, [](const Tensor& x) { return sqrt(x); }, positive, true},
    {backends::UnaryOp::Sin, [](const Tensor& x) { return sin(x); }, leaf, true},
    {backends::UnaryOp::Cos, [](const Tensor& x) { return cos(x); }, leaf, true},
    {backends::UnaryOp::Tanh, [](const Tensor& x) { return tanh(x); }, leaf, true},
    {backends::UnaryOp::Sigmoid, [](const Tensor& x) { return sigmoid(x); }, leaf, true},
    {backends::UnaryOp::Relu, [](const Tensor& x) { return relu(x); }, nonzero, false},
    {backends::UnaryOp::Gelu, [](const Tensor& x) { return gelu(x); }, leaf, false},
    {backends::UnaryOp::Silu, [](const Tensor& x) { return silu(x); }, leaf, false},
    {backends::UnaryOp::Erf, [](const Tensor& x) { return erf(x); }, leaf, false},
    {backends::UnaryOp::Sign, [](const Tensor& x) { return sign(x); }, nonzero, false},
    {backends::UnaryOp::Conj, [](const Tensor& x) { return conj(x); }, leaf, true},
    {backends::UnaryOp::Reciprocal, [](const Tensor& x) { return reciprocal(x); }, nonzero, true},
    {backends::UnaryOp::Abs, [](const Tensor& x) { return abs(x); }, nonzero, true},
    {backends::UnaryOp::Real, [](const Tensor& x) { return real(x); }, nullptr, true},
    {backends::UnaryOp::Imag, [](const Tensor& x) { return imag(x); }, nullptr, true},
};
}  // namespace

TEST_CASE("gradcheck elementwise: every differentiable unary primitive, from one list") {
  manual_seed(103);
  for (const UnaryGrad& g : kUnaryGrads) {
    const std::string name = backends::op_name(g.op);
    auto f = [fn = g.fn](In x) { return fn(x[0]); };
    if (g.real_input) expect_ok(name.c_str(), f, {g.real_input({2, 3})});
    if (g.complex128) expect_ok((name + " complex128").c_str(), f, {complex_leaf({2, 3})});
  }
}

TEST_CASE("gradcheck elementwise: the list covers every arithmetic unary row of the op table") {
  for (backends::UnaryOp op : backends::op_table::kUnaryOps) {
    if (backends::op_info(op).kind != backends::OpKind::Arithmetic) continue;  // bool results
    CAPTURE(backends::op_name(op));
    const bool listed = std::any_of(std::begin(kUnaryGrads), std::end(kUnaryGrads),
                                    [op](const UnaryGrad& g) { return g.op == op; });
    CHECK(listed);
  }
}

namespace {
// The differentiable binary primitives of the op table, likewise (inputs: distinct values, so
// maximum/minimum have no ties; a positive base for pow).
struct BinaryGrad {
  backends::BinaryOp op;
  Tensor (*fn)(const Tensor&, const Tensor&);
  Tensor (*a)(const Shape&);
  Tensor (*b)(const Shape&);
  bool complex128;
};
const BinaryGrad kBinaryGrads[] = {
    {backends::BinaryOp::Add, [](const Tensor& a, const Tensor& b) { return add(a, b); }, leaf, leaf, true},
    {backends::BinaryOp::Sub, [](const Tensor& a, const Tensor& b) { return sub(a, b); }, leaf, leaf, true},
    {backends::BinaryOp::Mul, [](const Tensor& a, const Tensor& b) { return mul(a, b); }, leaf, leaf, true},
    {backends::BinaryOp::Div, [](const Tensor& a, const Tensor& b) { return div(a, b); }, leaf, nonzero, true},
    {backends::BinaryOp::Pow, [](const Tensor& a, const Tensor& b) { return pow(a, b); }, positive, leaf, true},
    {backends::BinaryOp::Maximum, [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, leaf, leaf, false},
    {backends::BinaryOp::Minimum, [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, leaf, leaf, false},
};
}  // namespace

TEST_CASE("gradcheck elementwise: every differentiable binary primitive, from one list") {
  manual_seed(123);
  for (const BinaryGrad& g : kBinaryGrads) {
    const std::string name = backends::op_name(g.op);
    auto f = [fn = g.fn](In x) { return fn(x[0], x[1]); };
    // [3, 1] with [4]: the broadcast gradients are summed back.
    expect_ok(name.c_str(), f, {g.a({3, 1}), g.b({4})});
    if (g.complex128) expect_ok((name + " complex128").c_str(), f, {complex_leaf({3, 1}), complex_leaf({4})});
  }
}

TEST_CASE("gradcheck elementwise: the list covers every arithmetic binary row of the op table") {
  for (backends::BinaryOp op : backends::op_table::kBinaryOps) {
    // Comparisons and logical ops have bool results; backward helpers are gradients themselves
    // (checked through the activations' gradchecks above).
    if (backends::op_info(op).kind != backends::OpKind::Arithmetic) continue;
    CAPTURE(backends::op_name(op));
    const bool listed = std::any_of(std::begin(kBinaryGrads), std::end(kBinaryGrads),
                                    [op](const BinaryGrad& g) { return g.op == op; });
    CHECK(listed);
  }
}

TEST_CASE("gradcheck elementwise: composite unary math") {
  manual_seed(113);
  expect_ok("square", [](In x) { return square(x[0]); }, {leaf({2, 3})});
  expect_ok("exp(sin(x)) * x", [](In x) { return exp(sin(x[0])) * x[0]; }, {leaf({4})});
  // Inputs away from the bounds -0.5 and 0.5.
  Tensor c = values({-1.3, -0.2, 0.1, 0.9, 2.0});
  expect_ok("clamp", [](In x) { return clamp(x[0], -0.5, 0.5); }, {c});
  expect_ok("clamp min", [](In x) { return clamp(x[0], -0.5, std::nullopt); }, {c});
  expect_ok("clamp max", [](In x) { return clamp(x[0], std::nullopt, 0.5); }, {c});
  expect_ok("member forms", [](In x) { return x[0].exp().sigmoid().tanh().relu(); }, {leaf({5})});
}

TEST_CASE("gradcheck elementwise: pow, maximum, minimum") {
  manual_seed(104);
  expect_ok("pow(a, b)", [](In x) { return pow(x[0], x[1]); }, {positive({2, 3}), leaf({2, 3})});
  expect_ok("pow [3,1]^[4]", [](In x) { return pow(x[0], x[1]); }, {positive({3, 1}), leaf({4})});
  expect_ok("pow frozen exponent", [](In x) { return pow(x[0], x[1]); },
            {positive({3}), frozen({3})});
  expect_ok("pow frozen base", [](In x) { return pow(x[0], x[1]); }, {positive({3}).detach(), leaf({3})});
  expect_ok("pow(x, 2)", [](In x) { return pow(x[0], 2); }, {leaf({4})});
  expect_ok("pow(x, 3) negative base", [](In x) { return pow(x[0], 3); }, {values({-1.5, -0.3, 0.7})});
  expect_ok("pow(x, 0.5)", [](In x) { return x[0].pow(0.5); }, {positive({4})});
  expect_ok("pow(x, -1.5)", [](In x) { return pow(x[0], -1.5); }, {positive({4})});
  expect_ok("pow(x, 0)", [](In x) { return pow(x[0], 0); }, {leaf({4})});

  // Distinct values: no ties.
  Tensor a = values({1.0, -2.0, 3.0, 0.5}), b = values({2.0, -3.0, 1.0, 0.7});
  expect_ok("maximum", [](In x) { return maximum(x[0], x[1]); }, {a, b});
  expect_ok("minimum", [](In x) { return minimum(x[0], x[1]); }, {a, b});
  expect_ok("maximum [3,1],[4]", [](In x) { return maximum(x[0], x[1]); },
            {tensor(std::vector<double>{0.15, -1.05, 2.25}, {3, 1}, kFloat64).requires_grad_(),
             values({-0.5, 0.5, 1.5, 2.5})});
  expect_ok("maximum scalar", [](In x) { return maximum(x[0], 0.25); }, {a});
  expect_ok("minimum scalar", [](In x) { return minimum(x[0], 0.25); }, {a});
}

TEST_CASE("gradcheck elementwise: where, masked_fill") {
  manual_seed(105);
  Tensor cond = tensor(std::vector<bool>{true, false, true}, {3, 1}, kBool);
  expect_ok("where broadcast", [cond](In x) { return where(cond, x[0], x[1]); },
            {leaf({1, 4}), leaf({4})});
  expect_ok("where same shape", [](In x) { return where(gt(x[0], x[1]), x[0], x[1]); },
            {leaf({5}), leaf({5})});
  expect_ok("where scalar b", [cond](In x) { return where(cond, x[0], 2.0); }, {leaf({3, 2})});
  expect_ok("where scalar a", [cond](In x) { return where(cond, 2.0, x[0]); }, {leaf({2})});
  Tensor mask = tensor(std::vector<bool>{true, false, false, true}, {1, 4}, kBool);
  expect_ok("masked_fill", [mask](In x) { return masked_fill(x[0], mask, -1.0); }, {leaf({3, 4})});
  expect_ok("masked_fill broadcast", [mask](In x) { return x[0].masked_fill(mask, 0.0); },
            {leaf({4})});
}

TEST_CASE("gradcheck elementwise: complex, angle and conj of real tensors") {
  manual_seed(106);
  expect_ok("complex", [](In x) { return complex(x[0], x[1]); }, {leaf({2, 3}), leaf({2, 3})});
  expect_ok("complex broadcast", [](In x) { return complex(x[0], x[1]); }, {leaf({3, 1}), leaf({2})});
  expect_ok("complex frozen imag", [](In x) { return complex(x[0], x[1]); }, {leaf({3}), frozen({3})});
  expect_ok("angle real", [](In x) { return angle(x[0]); }, {nonzero({4})});
  expect_ok("conj real", [](In x) { return conj(x[0]) * 2.0; }, {leaf({4})});
  expect_ok("real(complex(...)) * imag(...)",
            [](In x) { Tensor z = complex(x[0], x[1]); return real(z) * imag(z); },
            {leaf({3}), leaf({3})});
}

TEST_CASE("gradcheck elementwise: in-place forms") {
  manual_seed(107);
  auto inplace = [](auto op) {
    return [op](In x) {
      Tensor y = x[0].clone();
      op(y, x);
      return y;
    };
  };
  expect_ok("mul_", inplace([](Tensor& y, In x) { y.mul_(x[1]); }), {leaf({2, 3}), leaf({3})});
  expect_ok("add_ alpha", inplace([](Tensor& y, In x) { y.add_(x[1], 2.5); }), {leaf({2, 3}), leaf({2, 3})});
  expect_ok("sub_", inplace([](Tensor& y, In x) { y.sub_(x[1]); }), {leaf({2, 3}), leaf({2, 1})});
  expect_ok("div_", inplace([](Tensor& y, In x) { y.div_(x[1]); }), {leaf({2, 3}), positive({3})});
  expect_ok("+= and *=", inplace([](Tensor& y, In x) { y += x[1]; y *= x[1]; }), {leaf({3}), leaf({3})});
  expect_ok("add_ scalar", inplace([](Tensor& y, In) { y.add_(2.0); }), {leaf({3})});
  expect_ok("mul_ scalar", inplace([](Tensor& y, In) { y.mul_(-3.0); }), {leaf({3})});
  expect_ok("clamp_", inplace([](Tensor& y, In) { y.clamp_(-0.5, 0.5); }),
            {values({-1.3, -0.2, 0.1, 0.9})});
  Tensor mask = tensor({true, false, true});
  expect_ok("masked_fill_", inplace([mask](Tensor& y, In) { y.masked_fill_(mask, 1.0); }), {leaf({2, 3})});
  expect_ok("in-place then more ops", [](In x) {
    Tensor y = x[0] * 2.0;
    y.add_(x[1]);
    return exp(y) * x[0];
  }, {leaf({3}), leaf({3})});
  expect_ok("in-place on a frozen tensor with a grad operand", [](In x) {
    Tensor y = zeros({3}, kFloat64);
    y.add_(x[0]);
    return y * y;
  }, {leaf({3})});
}

TEST_CASE("gradcheck elementwise: complex128") {
  manual_seed(108);
  auto z = [] { return complex_leaf({2, 3}); };
  expect_ok("add", [](In x) { return add(x[0], x[1]); }, {z(), z()});
  expect_ok("add complex alpha", [](In x) { return add(x[0], x[1], complex128(0.5, -2)); }, {z(), z()});
  expect_ok("sub", [](In x) { return sub(x[0], x[1]); }, {z(), z()});
  expect_ok("mul", [](In x) { return mul(x[0], x[1]); }, {z(), z()});
  expect_ok("div", [](In x) { return div(x[0], x[1]); }, {z(), z()});
  expect_ok("mul by complex scalar", [](In x) { return x[0] * complex128(1, 2); }, {z()});
  expect_ok("real * complex", [](In x) { return mul(x[0], x[1]); }, {leaf({2, 3}), z()});
  expect_ok("real / complex broadcast", [](In x) { return div(x[0], x[1]); }, {leaf({2, 1}), z()});
  expect_ok("real * complex scalar", [](In x) { return x[0] * complex128(1, -1); }, {leaf({3})});
  expect_ok("neg", [](In x) { return neg(x[0]); }, {z()});
  expect_ok("exp", [](In x) { return exp(x[0]); }, {z()});
  expect_ok("log", [](In x) { return log(x[0]); }, {z()});
  expect_ok("sqrt", [](In x) { return sqrt(x[0]); }, {z()});
  expect_ok("sin", [](In x) { return sin(x[0]); }, {z()});
  expect_ok("cos", [](In x) { return cos(x[0]); }, {z()});
  expect_ok("tanh", [](In x) { return tanh(x[0]); }, {z()});
  expect_ok("sigmoid", [](In x) { return sigmoid(x[0]); }, {z()});
  expect_ok("reciprocal", [](In x) { return reciprocal(x[0]); }, {z()});
  expect_ok("square", [](In x) { return square(x[0]); }, {z()});
  expect_ok("abs", [](In x) { return abs(x[0]); }, {z()});
  expect_ok("abs * complex", [](In x) { return abs(x[0]) * x[0]; }, {z()});
  expect_ok("conj", [](In x) { return conj(x[0]); }, {z()});
  expect_ok("conj * z", [](In x) { return conj(x[0]) * x[0]; }, {z()});
  expect_ok("pow(z, w)", [](In x) { return pow(x[0], x[1]); }, {z(), z()});
  expect_ok("pow(z, 2)", [](In x) { return pow(x[0], 2); }, {z()});
  expect_ok("pow(z, 0.5 - 1i)", [](In x) { return pow(x[0], complex128(0.5, -1)); }, {z()});
  expect_ok("pow(real, complex)", [](In x) { return pow(x[0], x[1]); }, {positive({2, 3}), z()});
  expect_ok("complex(re, im) * z", [](In x) { return complex(x[0], x[1]) * x[2]; },
            {leaf({2, 3}), leaf({2, 3}), z()});
  expect_ok("angle", [](In x) { return angle(x[0]); }, {z()});
  expect_ok("where", [](In x) { return where(tensor({true, false, true}), x[0], x[1]); },
            {z(), z()});
  expect_ok("in-place mul_", [](In x) {
    Tensor y = x[0].clone();
    y.mul_(x[1]);
    return y;
  }, {z(), z()});
}

TEST_CASE("elementwise gradients at special points follow PyTorch") {
  SUBCASE("maximum/minimum split ties half/half") {
    Tensor x = values({1, 2}), y = values({1, 3});
    maximum(x, y).backward(ones_like(x));
    CHECK(grad_of(x) == std::vector<double>{0.5, 0});
    CHECK(grad_of(y) == std::vector<double>{0.5, 1});
    Tensor p = values({1, 2}), q = values({1, 3});
    minimum(p, q).backward(ones_like(p));
    CHECK(grad_of(p) == std::vector<double>{0.5, 1});
    CHECK(grad_of(q) == std::vector<double>{0.5, 0});
  }
  SUBCASE("relu and abs have gradient 0 at 0") {
    Tensor x = values({0, 1, -1});
    relu(x).backward(ones_like(x));
    CHECK(grad_of(x) == std::vector<double>{0, 1, 0});
    Tensor a = values({0, 2, -2});
    abs(a).backward(ones_like(a));
    CHECK(grad_of(a) == std::vector<double>{0, 1, -1});
    // Complex: abs' gradient is sgn(z) = z / |z|, and 0 at 0; angle's is 0 at 0 as well.
    Tensor z = tensor(std::vector<complex128>{{0, 0}, {3, 4}}).requires_grad_(true);
    abs(z).backward(ones({2}, kFloat64));
    CHECK(z.grad().to_vector<complex128>() == std::vector<complex128>{{0, 0}, {0.6, 0.8}});
    Tensor w = tensor(std::vector<complex128>{{0, 0}}).requires_grad_(true);
    angle(w).backward(ones({1}, kFloat64));
    CHECK(w.grad().to_vector<complex128>() == std::vector<complex128>{{0, 0}});
  }
  SUBCASE("clamp passes the gradient on the bounds, not outside or at NaN") {
    Tensor x = values({-2, -1, 0, 1, 2, std::numeric_limits<double>::quiet_NaN()});
    clamp(x, -1, 1).backward(ones_like(x));
    CHECK(grad_of(x) == std::vector<double>{0, 1, 1, 1, 0, 0});
  }
  SUBCASE("pow at 0: x^0 has gradient 0; d/db of 0^b (b >= 0) is 0, not NaN") {
    Tensor x = values({0, 2});
    pow(x, 0).backward(ones_like(x));
    CHECK(grad_of(x) == std::vector<double>{0, 0});
    Tensor a = values({0, 0}), b = values({2, 0});
    pow(a, b).backward(ones_like(a));
    CHECK(grad_of(a) == std::vector<double>{0, 0});
    CHECK(grad_of(b) == std::vector<double>{0, 0});
  }
  SUBCASE("sign is differentiable with a zero gradient") {
    Tensor x = values({-1, 2});
    Tensor y = sign(x);
    CHECK(y.requires_grad());
    y.backward(ones_like(y));
    CHECK(grad_of(x) == std::vector<double>{0, 0});
  }
  SUBCASE("a frozen operand gets no gradient; grad_fn names the op") {
    Tensor x = values({1, 2});
    Tensor w = tensor({3.0, 4.0});
    Tensor y = pow(x, w);
    CHECK(std::string(y.grad_fn()->name) == "PowBackward");
    y.backward(ones_like(y));
    CHECK(grad_of(x) == std::vector<double>{3, 32});  // w x^(w-1)
    CHECK_FALSE(w.grad().defined());
    CHECK(std::string(exp(x).grad_fn()->name) == "ExpBackward");
    CHECK_FALSE(exp(w).requires_grad());
  }
}
