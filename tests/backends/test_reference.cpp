// The reference backend on small hand-computed cases. It is the oracle the fast backends are
// checked against, so its own expectations come from arithmetic done by hand (or, for
// transcendental functions, from Python's math module, digits pasted in).
#include <cmath>
#include <complex>
#include <limits>
#include <memory>
#include <numbers>
#include <vector>

#include "doctest/doctest.h"

#include "backends/backend.hpp"
#include "backends/philox.hpp"
#include "support.hpp"

namespace {

using namespace reel;
using namespace reel::backends;
using c64 = std::complex<float>;
using c128 = std::complex<double>;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = std::numbers::pi;

Backend& ref() { return reference_backend(); }

using reel::test::view;

// Equal, both NaN, or within a relative tolerance (absolute near 0); complex part by part.
template <typename T>
bool near(T got, T want, double tol) {
  if constexpr (is_complex_v<T>) {
    return near(got.real(), want.real(), tol) && near(got.imag(), want.imag(), tol);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(want)) return std::isnan(got);
    return std::abs(double(got) - double(want)) <= tol * std::max(1.0, std::abs(double(want)));
  } else {
    return got == want;
  }
}
template <typename T>
void check_all(const std::vector<T>& got, const std::vector<T>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK_MESSAGE(near<T>(got[i], want[i], tol), "element ", i, ": got ", got[i], ", want ",
                  want[i]);
  }
}

// Runs an op over 1-d contiguous inputs and returns the result. Buffers are unique_ptr arrays
// because std::vector<bool> has no data().
template <typename T>
std::unique_ptr<T[]> buffer(const std::vector<T>& v) {
  std::unique_ptr<T[]> p(new T[v.size()]());
  std::copy(v.begin(), v.end(), p.get());
  return p;
}
template <typename Out, typename In>
std::vector<Out> unary(UnaryOp op, const std::vector<In>& in) {
  const Shape s{std::int64_t(in.size())};
  std::unique_ptr<Out[]> out(new Out[in.size()]());
  ref().unary(op, view(out.get(), s), view(buffer(in).get(), s));
  return std::vector<Out>(out.get(), out.get() + in.size());
}
template <typename Out, typename In>
std::vector<Out> binary(BinaryOp op, const std::vector<In>& a, const std::vector<In>& b) {
  const Shape s{std::int64_t(a.size())};
  std::unique_ptr<Out[]> out(new Out[a.size()]());
  ref().binary(op, view(out.get(), s), view(buffer(a).get(), s), view(buffer(b).get(), s));
  return std::vector<Out>(out.get(), out.get() + a.size());
}
template <typename Out, typename In>
std::vector<Out> cast(const std::vector<In>& in) {
  const Shape s{std::int64_t(in.size())};
  std::unique_ptr<Out[]> out(new Out[in.size()]());
  ref().copy(view(out.get(), s), view(buffer(in).get(), s));
  return std::vector<Out>(out.get(), out.get() + in.size());
}
using B = std::vector<bool>;

}  // namespace

TEST_CASE("reference: name, aligned memory and host copies") {
  CHECK(ref().name() == "reference");
  void* p = ref().allocate(100);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
  const std::vector<float> host{1.f, 2.f, 3.f};
  std::vector<float> back(3);
  ref().copy_from_host(p, host.data(), 12);
  ref().copy_to_host(back.data(), p, 12);
  CHECK(back == host);
  ref().deallocate(p, 100);
}

TEST_CASE("reference: copy casts like PyTorch") {
  CHECK(cast<std::int64_t>(std::vector<double>{-2.7, -0.5, 0.0, 2.7, 3.0}) ==
        std::vector<std::int64_t>{-2, 0, 0, 2, 3});  // truncation toward zero
  CHECK(cast<std::int64_t>(std::vector<double>{kNaN})[0] == std::numeric_limits<std::int64_t>::min());
  CHECK(cast<bool>(std::vector<double>{-0.5, 0.0, 2.0}) == B{true, false, true});
  CHECK(cast<bool>(std::vector<c128>{{0, -1}, {0, 0}}) == B{true, false});
  CHECK(cast<double>(std::vector<c128>{{1.5, 2}, {0, -1}}) == std::vector<double>{1.5, 0});
  CHECK(cast<c64>(std::vector<double>{1.5, -2}) == std::vector<c64>{{1.5f, 0.f}, {-2.f, 0.f}});
  CHECK(cast<float>(std::vector<std::int64_t>{5, -3}) == std::vector<float>{5.f, -3.f});
  const bool flags[2] = {true, false};
  std::vector<double> out(2);
  ref().copy(view(out.data(), {2}), view(flags, {2}));
  CHECK(out == std::vector<double>{1.0, 0.0});

  // A transposed view: the 2x3 matrix [[0,1,2],[3,4,5]] read as its 3x2 transpose.
  const std::vector<double> m{0, 1, 2, 3, 4, 5};
  std::vector<double> t(6);
  ref().copy(view(t.data(), {3, 2}), view(m.data(), {3, 2}, {1, 3}));
  CHECK(t == std::vector<double>{0, 3, 1, 4, 2, 5});
  // A broadcast: one element, strides 0.
  ref().copy(view(t.data(), {2, 3}), view(m.data() + 4, {2, 3}, {0, 0}));
  CHECK(t == std::vector<double>(6, 4.0));
}

TEST_CASE("reference: fill") {
  std::vector<float> f(6, 0.f);
  ref().fill(view(f.data(), {3}, {2}), Scalar(2.5));  // every other element
  CHECK(f == std::vector<float>{2.5f, 0, 2.5f, 0, 2.5f, 0});
  std::vector<std::int64_t> i(2);
  ref().fill(view(i.data(), {2}), Scalar(7));
  CHECK(i == std::vector<std::int64_t>{7, 7});
  std::vector<c128> c(1);
  ref().fill(view(c.data(), {}), Scalar(c128(1, -2)));  // 0-dim: one element
  CHECK(c[0] == c128(1, -2));
  bool b[2] = {true, true};
  ref().fill(view(b, {2}), Scalar(0.0));
  CHECK((!b[0] && !b[1]));
}

TEST_CASE("reference: unary ops on real values") {
  using V = std::vector<double>;
  auto u = [](UnaryOp op, V in) { return unary<double>(op, in); };
  check_all(u(UnaryOp::Neg, {-1, 0, 2}), {1, 0, -2});
  check_all(u(UnaryOp::Exp, {-1, 0, 2}), {0.36787944117144233, 1, 7.38905609893065});
  check_all(u(UnaryOp::Log, {0.5, 1, std::numbers::e}), {-0.6931471805599453, 0, 1});
  check_all(u(UnaryOp::Sqrt, {4, 0, 2.25}), {2, 0, 1.5});
  check_all(u(UnaryOp::Sin, {0, kPi / 2}), {0, 1});
  check_all(u(UnaryOp::Cos, {0, kPi}), {1, -1});
  check_all(u(UnaryOp::Tanh, {0, 1}), {0, 0.7615941559557649});
  check_all(u(UnaryOp::Sigmoid, {0, 2}), {0.5, 0.8807970779778823});
  check_all(u(UnaryOp::Relu, {-1, 0, 2, kNaN}), {0, 0, 2, kNaN});  // NaN propagates
  check_all(u(UnaryOp::Gelu, {-1, 0, 1}), {-0.15865525393145707, 0, 0.8413447460685429});
  check_all(u(UnaryOp::Silu, {0, 1}), {0, 0.7310585786300049});
  check_all(u(UnaryOp::Erf, {0, 1}), {0, 0.8427007929497149});
  check_all(u(UnaryOp::Sign, {-3, 0, 2, kNaN}), {-1, 0, 1, kNaN});
  check_all(u(UnaryOp::Reciprocal, {4, -0.5}), {0.25, -2});
  check_all(u(UnaryOp::Conj, {1.5, -2}), {1.5, -2});
  check_all(u(UnaryOp::Abs, {-3, 2}), {3, 2});
  check_all(u(UnaryOp::Real, {1.5}), {1.5});
  check_all(u(UnaryOp::Imag, {1.5}), {0});
  CHECK(unary<bool>(UnaryOp::LogicalNot, V{0, 2, kNaN}) == B{true, false, false});
  CHECK(unary<bool>(UnaryOp::IsNan, V{0, kNaN, INFINITY}) == B{false, true, false});
  // float32 computes in float.
  check_all(unary<float>(UnaryOp::Sigmoid, std::vector<float>{0.f, 2.f}), {0.5f, 0.880797f}, 1e-6);
  check_all(unary<float>(UnaryOp::Exp, std::vector<float>{1.f}), {2.7182817f}, 1e-7);
}

TEST_CASE("reference: unary ops on complex values") {
  using V = std::vector<c128>;
  auto u = [](UnaryOp op, V in) { return unary<c128>(op, in); };
  check_all(u(UnaryOp::Neg, {{1, 2}}), {{-1, -2}});
  check_all(u(UnaryOp::Exp, {{0, kPi}}), {{-1, 0}}, 1e-15);  // Euler
  check_all(u(UnaryOp::Log, {{-1, 0}, {0, 1}}), {{0, kPi}, {0, kPi / 2}});
  check_all(u(UnaryOp::Sqrt, {{-4, 0}, {3, 4}}), {{0, 2}, {2, 1}});
  check_all(u(UnaryOp::Sin, {{0, 1}}), {{0, 1.1752011936438014}});  // i sinh 1
  check_all(u(UnaryOp::Cos, {{0, 1}}), {{1.5430806348152437, 0}});  // cosh 1
  check_all(u(UnaryOp::Tanh, {{0, kPi / 4}}), {{0, 1}});             // i tan(pi/4)
  check_all(u(UnaryOp::Sigmoid, {{0, 0}}), {{0.5, 0}});
  check_all(u(UnaryOp::Reciprocal, {{1, 1}}), {{0.5, -0.5}});
  check_all(u(UnaryOp::Conj, {{1, 2}}), {{1, -2}});
  check_all(u(UnaryOp::Sign, {{3, 4}, {0, 0}}), {{0.6, 0.8}, {0, 0}});  // x / |x|
  check_all(unary<double>(UnaryOp::Abs, V{{3, 4}}), {5});
  check_all(unary<double>(UnaryOp::Real, V{{3, 4}}), {3});
  check_all(unary<double>(UnaryOp::Imag, V{{3, 4}}), {4});
  check_all(unary<float>(UnaryOp::Abs, std::vector<c64>{{3, 4}}), {5.f});  // complex64 -> float32
  CHECK(unary<bool>(UnaryOp::LogicalNot, V{{0, 0}, {0, 1}}) == B{true, false});
  CHECK(unary<bool>(UnaryOp::IsNan, V{{kNaN, 0}, {1, 1}}) == B{true, false});
  for (UnaryOp op : {UnaryOp::Relu, UnaryOp::Gelu, UnaryOp::Silu, UnaryOp::Erf}) {
    CHECK_THROWS_WITH_AS(u(op, {{1, 1}}), doctest::Contains("not supported for complex dtype"),
                         Error);
  }
  // The output dtype of abs on a complex input is real: a complex output is an error.
  CHECK_THROWS_AS(u(UnaryOp::Abs, {{3, 4}}), Error);
}

TEST_CASE("reference: unary ops on int64 and bool") {
  using V = std::vector<std::int64_t>;
  auto u = [](UnaryOp op, V in) { return unary<std::int64_t>(op, in); };
  CHECK(u(UnaryOp::Neg, {3, -4, 0}) == V{-3, 4, 0});
  CHECK(u(UnaryOp::Abs, {-5, 5}) == V{5, 5});
  CHECK(u(UnaryOp::Sign, {-7, 0, 9}) == V{-1, 0, 1});
  CHECK(u(UnaryOp::Relu, {-2, 3}) == V{0, 3});
  CHECK(unary<bool>(UnaryOp::LogicalNot, V{0, 5}) == B{true, false});
  CHECK_THROWS_WITH_AS(u(UnaryOp::Exp, {1}), doctest::Contains("promoted"), Error);
  CHECK_THROWS_AS(unary<bool>(UnaryOp::Neg, B{true}), Error);
}

TEST_CASE("reference: binary ops on real values") {
  using V = std::vector<double>;
  auto bin = [](BinaryOp op, V a, V b) { return binary<double>(op, a, b); };
  const V a{6, -3, 2}, b{4, 2, 3};
  check_all(bin(BinaryOp::Add, a, b), {10, -1, 5});
  check_all(bin(BinaryOp::Sub, a, b), {2, -5, -1});
  check_all(bin(BinaryOp::Mul, a, b), {24, -6, 6});
  check_all(bin(BinaryOp::Div, a, b), {1.5, -1.5, 2.0 / 3.0});
  check_all(bin(BinaryOp::Pow, a, b), {1296, 9, 8});
  check_all(bin(BinaryOp::Maximum, {6, kNaN, 1}, {4, 1, kNaN}), {6, kNaN, kNaN});
  check_all(bin(BinaryOp::Minimum, {6, kNaN, 1}, {4, 1, kNaN}), {4, kNaN, kNaN});
  // Backward helpers: (a, b) = (grad_output, saved).
  check_all(bin(BinaryOp::ReluBackward, {5, 5, 5}, {-1, 0, 2}), {0, 0, 5});
  check_all(bin(BinaryOp::GeluBackward, {1, 1, 2}, {0, 1, 0}), {0.5, 1.0833154705876864, 1});
  check_all(bin(BinaryOp::SiluBackward, {1, 1}, {0, 1}), {0.5, 0.9276705118714869});
  check_all(bin(BinaryOp::SigmoidBackward, {2}, {0.25}), {0.375});  // 2 * 0.25 * 0.75
  check_all(bin(BinaryOp::TanhBackward, {2}, {0.5}), {1.5});         // 2 * (1 - 0.25)

  const V x{1, 2, 3}, y{2, 2, 2};
  CHECK(binary<bool>(BinaryOp::Eq, x, y) == B{false, true, false});
  CHECK(binary<bool>(BinaryOp::Ne, x, y) == B{true, false, true});
  CHECK(binary<bool>(BinaryOp::Lt, x, y) == B{true, false, false});
  CHECK(binary<bool>(BinaryOp::Le, x, y) == B{true, true, false});
  CHECK(binary<bool>(BinaryOp::Gt, x, y) == B{false, false, true});
  CHECK(binary<bool>(BinaryOp::Ge, x, y) == B{false, true, true});
  CHECK(binary<bool>(BinaryOp::LogicalAnd, V{0, 1, 2, 0}, V{3, 0, 4, 0}) == B{false, false, true, false});
  CHECK(binary<bool>(BinaryOp::LogicalOr, V{0, 1, 2, 0}, V{3, 0, 4, 0}) == B{true, true, true, false});
  CHECK(binary<bool>(BinaryOp::Ne, V{kNaN}, V{kNaN}) == B{true});
}

TEST_CASE("reference: binary ops on complex, int64 and bool values") {
  using C = std::vector<c128>;
  auto bin = [](BinaryOp op, C a, C b) { return binary<c128>(op, a, b); };
  check_all(bin(BinaryOp::Add, {{1, 2}}, {{3, 4}}), {{4, 6}});
  check_all(bin(BinaryOp::Sub, {{1, 2}}, {{3, 4}}), {{-2, -2}});
  check_all(bin(BinaryOp::Mul, {{1, 2}}, {{3, 4}}), {{-5, 10}});
  check_all(bin(BinaryOp::Div, {{-5, 10}}, {{3, 4}}), {{1, 2}});
  check_all(bin(BinaryOp::Pow, {{0, 1}}, {{2, 0}}), {{-1, 0}}, 1e-15);  // i^2
  // a * conj(b (1 - b)): b = i gives b (1 - b) = 1 + i.
  check_all(bin(BinaryOp::SigmoidBackward, {{1, 0}}, {{0, 1}}), {{1, -1}});
  // a * conj(1 - b^2): b = 1 + i gives 1 - 2i, conj 1 + 2i, times i = -2 + i.
  check_all(bin(BinaryOp::TanhBackward, {{0, 1}}, {{1, 1}}), {{-2, 1}});
  CHECK(binary<bool>(BinaryOp::Eq, C{{1, 2}, {1, 2}}, C{{1, 2}, {1, -2}}) == B{true, false});
  CHECK_THROWS_WITH_AS(binary<bool>(BinaryOp::Lt, C{{1, 0}}, C{{2, 0}}),
                       doctest::Contains("not supported for complex"), Error);
  CHECK_THROWS_AS(bin(BinaryOp::Maximum, {{1, 0}}, {{2, 0}}), Error);
  CHECK_THROWS_AS(bin(BinaryOp::ReluBackward, {{1, 0}}, {{2, 0}}), Error);

  using I = std::vector<std::int64_t>;
  auto ibin = [](BinaryOp op, I a, I b) { return binary<std::int64_t>(op, a, b); };
  CHECK(ibin(BinaryOp::Add, {1, -2}, {3, 5}) == I{4, 3});
  CHECK(ibin(BinaryOp::Sub, {1, -2}, {3, 5}) == I{-2, -7});
  CHECK(ibin(BinaryOp::Mul, {4, -2}, {3, 5}) == I{12, -10});
  CHECK(ibin(BinaryOp::Pow, {2, -3, 5}, {10, 3, 0}) == I{1024, -27, 1});
  CHECK(ibin(BinaryOp::Maximum, {2, -3}, {1, 4}) == I{2, 4});
  CHECK(ibin(BinaryOp::ReluBackward, {7, 7}, {-1, 1}) == I{0, 7});
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  CHECK(ibin(BinaryOp::Add, {big}, {1}) == I{std::numeric_limits<std::int64_t>::min()});  // wraps
  // A negative tensor exponent gives what the real power truncates to, as PyTorch's powi
  // (torch.tensor([2, 1, -1, -1]) ** torch.tensor([-1, -5, -3, -2]) == [0, 1, -1, 1]); the
  // error is for a *scalar* exponent and comes from pow(Tensor, Scalar) above the backend.
  CHECK(ibin(BinaryOp::Pow, {2, 1, -1, -1}, {-1, -5, -3, -2}) == I{0, 1, -1, 1});
  CHECK_THROWS_WITH_AS(ibin(BinaryOp::Div, {2}, {1}), doctest::Contains("must be promoted"), Error);

  CHECK(binary<bool>(BinaryOp::Add, B{true, false, false}, B{true, true, false}) == B{true, true, false});
  CHECK(binary<bool>(BinaryOp::Mul, B{true, false, true}, B{true, true, false}) == B{true, false, false});
  CHECK_THROWS_AS(binary<bool>(BinaryOp::Sub, B{true}, B{true}), Error);
}

TEST_CASE("reference: binary broadcasting (stride 0) and strided views") {
  // [3, 1] column + [1, 4] row, both expanded to [3, 4] with stride 0 on the broadcast dim.
  const std::vector<double> col{1, 2, 3}, row{10, 20, 30, 40};
  std::vector<double> out(12);
  ref().binary(BinaryOp::Add, view(out.data(), {3, 4}), view(col.data(), {3, 4}, {1, 0}),
               view(row.data(), {3, 4}, {0, 1}));
  CHECK(out == std::vector<double>{11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43});
  // The same into a transposed output: the buffer holds the [4, 3] transpose.
  ref().binary(BinaryOp::Add, view(out.data(), {3, 4}, {1, 3}), view(col.data(), {3, 4}, {1, 0}),
               view(row.data(), {3, 4}, {0, 1}));
  CHECK(out == std::vector<double>{11, 12, 13, 21, 22, 23, 31, 32, 33, 41, 42, 43});
  // A non-contiguous input (every other element), and in place: out is a itself.
  std::vector<double> a{1, -1, 2, -1, 3, -1};
  ref().binary(BinaryOp::Mul, view(a.data(), {3}, {2}), view(a.data(), {3}, {2}),
               view(row.data(), {3}));
  CHECK(a == std::vector<double>{10, -1, 40, -1, 90, -1});
}

TEST_CASE("reference: where") {
  const bool cond[2] = {true, false};
  const std::vector<double> a{1, 2, 3, 4, 5, 6};
  const double b = -1;
  std::vector<double> out(6);
  ref().where(view(out.data(), {2, 3}), view(cond, {2, 3}, {1, 0}), view(a.data(), {2, 3}),
              view(&b, {2, 3}, {0, 0}));
  CHECK(out == std::vector<double>{1, 2, 3, -1, -1, -1});
}

TEST_CASE("reference: reduce over one, several and all dims") {
  std::vector<double> x(24);
  for (int i = 0; i < 24; ++i) x[i] = i;  // x[i][j][k] = 12 i + 4 j + k, shape [2, 3, 4]
  const View in = view(x.data(), {2, 3, 4});
  std::vector<double> out(12);
  ref().reduce(ReduceOp::Sum, view(out.data(), {1, 3, 4}), in);  // 12 + 8 j + 2 k
  CHECK(out == std::vector<double>{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
  ref().reduce(ReduceOp::Sum, view(out.data(), {1, 3, 1}), in);  // 60 + 32 j
  CHECK(std::vector<double>(out.begin(), out.begin() + 3) == std::vector<double>{60, 92, 124});
  ref().reduce(ReduceOp::Sum, view(out.data(), {1, 1, 1}), in);
  CHECK(out[0] == 276);

  // A transposed view: [[1, 4], [2, 5], [3, 6]].
  const std::vector<double> m{1, 2, 3, 4, 5, 6};
  const View t = view(m.data(), {3, 2}, {1, 3});
  ref().reduce(ReduceOp::Sum, view(out.data(), {3, 1}), t);
  CHECK(std::vector<double>(out.begin(), out.begin() + 3) == std::vector<double>{5, 7, 9});
  ref().reduce(ReduceOp::Prod, view(out.data(), {1, 2}), t);
  CHECK(std::vector<double>(out.begin(), out.begin() + 2) == std::vector<double>{6, 120});

  // Max/min: NaN wins wherever it is.
  const std::vector<double> n{3, 1, 2, 1, kNaN, 4, 1, 2, kNaN};
  ref().reduce(ReduceOp::Max, view(out.data(), {3, 1}), view(n.data(), {3, 3}));
  check_all(std::vector<double>(out.begin(), out.begin() + 3), {3, kNaN, kNaN});
  ref().reduce(ReduceOp::Min, view(out.data(), {1, 3}), view(n.data(), {3, 3}));
  check_all(std::vector<double>(out.begin(), out.begin() + 3), {1, kNaN, kNaN});

  bool flags[2];
  const std::vector<double> z{0, 0, 1, 2, 3, 4};
  ref().reduce(ReduceOp::Any, view(flags, {2, 1}), view(z.data(), {2, 3}));
  CHECK((flags[0] && flags[1]));
  ref().reduce(ReduceOp::All, view(flags, {2, 1}), view(z.data(), {2, 3}));
  CHECK((!flags[0] && flags[1]));

  // float32 sums accumulate in double: in float, 1e8 + 1 would round back to 1e8.
  const std::vector<float> f{1e8f, 1.f, -1e8f};
  float fs = 0;
  ref().reduce(ReduceOp::Sum, view(&fs, {1}), view(f.data(), {3}));
  CHECK(fs == 1.f);
  const std::vector<c128> c{{1, 2}, {3, -1}};
  c128 cs;
  ref().reduce(ReduceOp::Sum, view(&cs, {1}), view(c.data(), {2}));
  CHECK(cs == c128(4, 1));
  CHECK_THROWS_AS(ref().reduce(ReduceOp::Max, view(&cs, {1}), view(c.data(), {2})), Error);
}

TEST_CASE("reference: empty reductions") {
  double dummy = 0, out[2] = {-1, -1};
  ref().reduce(ReduceOp::Sum, view(out, {1}), view(&dummy, {0}));
  CHECK(out[0] == 0);
  ref().reduce(ReduceOp::Prod, view(out, {1}), view(&dummy, {0}));
  CHECK(out[0] == 1);
  ref().reduce(ReduceOp::Sum, view(out, {2, 1}), view(&dummy, {2, 0}));
  CHECK((out[0] == 0 && out[1] == 0));
  bool flag = false;
  ref().reduce(ReduceOp::All, view(&flag, {1}), view(&dummy, {0}));
  CHECK(flag);
  CHECK_THROWS_WITH_AS(ref().reduce(ReduceOp::Max, view(out, {1}), view(&dummy, {0})),
                       doctest::Contains("max(): Expected reduction dim to be specified for "
                                         "input.numel() == 0"), Error);
  CHECK_THROWS_WITH_AS(ref().reduce(ReduceOp::Min, view(out, {2, 1}), view(&dummy, {2, 0})),
                       doctest::Contains("min(): Expected reduction dim 1 to have non-zero size"),
                       Error);
}

TEST_CASE("reference: arg_reduce picks the first extreme, and NaN") {
  const std::vector<double> x{1, 3, 3, 2, 5, kNaN, 7, kNaN};  // [2, 4]
  double values[2];
  std::int64_t idx[2];
  ref().arg_reduce(ArgReduceOp::Max, view(values, {2, 1}), view(idx, {2, 1}), view(x.data(), {2, 4}), 1);
  CHECK((idx[0] == 1 && idx[1] == 1));  // a tie keeps the first; the first NaN wins
  CHECK((values[0] == 3 && std::isnan(values[1])));
  ref().arg_reduce(ArgReduceOp::Min, view(values, {2, 1}), view(idx, {2, 1}), view(x.data(), {2, 4}), 1);
  CHECK((idx[0] == 0 && idx[1] == 1));
  // Along dim 0 of a transposed view [[1, 4], [2, 5], [3, 6]] (the max is the last row),
  // with a null values view (indices only).
  const std::vector<std::int64_t> m{1, 2, 3, 4, 5, 6};
  ref().arg_reduce(ArgReduceOp::Max, View{}, view(idx, {1, 2}), view(m.data(), {3, 2}, {1, 3}), 0);
  CHECK((idx[0] == 2 && idx[1] == 2));
  const std::vector<double> tie{2, 1, 1};
  ref().arg_reduce(ArgReduceOp::Min, view(values, {1}), view(idx, {1}), view(tie.data(), {3}), 0);
  CHECK(idx[0] == 1);
  const std::vector<c128> c{{1, 0}};
  CHECK_THROWS_AS(ref().arg_reduce(ArgReduceOp::Max, View{}, view(idx, {1}), view(c.data(), {1}), 0),
                  Error);
  CHECK_THROWS_AS(ref().arg_reduce(ArgReduceOp::Max, View{}, view(idx, {1}), view(values, {0}), 0),
                  Error);
}

TEST_CASE("reference: matmul") {
  // [[1,2,3],[4,5,6]] @ [[7,8],[9,10],[11,12]] = [[58,64],[139,154]].
  const std::vector<double> a{1, 2, 3, 4, 5, 6}, b{7, 8, 9, 10, 11, 12};
  std::vector<double> out(8);
  ref().matmul(view(out.data(), {1, 2, 2}), view(a.data(), {1, 2, 3}), view(b.data(), {1, 3, 2}));
  CHECK(std::vector<double>(out.begin(), out.begin() + 4) == std::vector<double>{58, 64, 139, 154});
  // a stored transposed (the buffer holds a^T, [3, 2]); out written transposed.
  const std::vector<double> at{1, 4, 2, 5, 3, 6};
  ref().matmul(view(out.data(), {1, 2, 2}, {4, 1, 2}), view(at.data(), {1, 2, 3}, {6, 1, 2}),
               view(b.data(), {1, 3, 2}));
  CHECK(std::vector<double>(out.begin(), out.begin() + 4) == std::vector<double>{58, 139, 64, 154});
  // Batch of 2 against one b broadcast with batch stride 0; the second a picks rows 0, 1 of b.
  const std::vector<double> a2{1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0};
  ref().matmul(view(out.data(), {2, 2, 2}), view(a2.data(), {2, 2, 3}),
               view(b.data(), {2, 3, 2}, {0, 2, 1}));
  CHECK(out == std::vector<double>{58, 64, 139, 154, 7, 8, 9, 10});

  const std::vector<std::int64_t> ia{1, 2, 3, 4, 5, 6}, ib{7, 8, 9, 10, 11, 12};
  std::vector<std::int64_t> iout(4);
  ref().matmul(view(iout.data(), {1, 2, 2}), view(ia.data(), {1, 2, 3}), view(ib.data(), {1, 3, 2}));
  CHECK(iout == std::vector<std::int64_t>{58, 64, 139, 154});
  const std::vector<c64> ca{{1, 1}}, cb{{2, -1}};
  c64 cout;
  ref().matmul(view(&cout, {1, 1, 1}), view(ca.data(), {1, 1, 1}), view(cb.data(), {1, 1, 1}));
  CHECK(cout == c64(3, 1));  // (1 + i)(2 - i) = 3 + i
  float f = -1, dummy = 0;  // K = 0: an empty sum
  ref().matmul(view(&f, {1, 1, 1}), view(&dummy, {1, 1, 0}), view(&dummy, {1, 0, 1}));
  CHECK(f == 0.f);
  CHECK_THROWS_AS(ref().matmul(view(out.data(), {1, 2, 2}), view(a.data(), {1, 2, 3}),
                               view(b.data(), {1, 2, 3})), Error);
}

TEST_CASE("reference: index_select, index_add, gather, scatter_add") {
  const std::vector<double> in{1, 2, 3, 4, 5, 6};  // [3, 2] for the first two, [2, 3] after
  const std::vector<std::int64_t> rows{2, 0, 2};
  std::vector<double> out(6);
  ref().index_select(view(out.data(), {3, 2}), view(in.data(), {3, 2}), 0, view(rows.data(), {3}));
  CHECK(out == std::vector<double>{5, 6, 1, 2, 5, 6});
  const std::int64_t one = 1;
  ref().index_select(view(out.data(), {3, 1}), view(in.data(), {3, 2}), 1, view(&one, {1}));
  CHECK(std::vector<double>(out.begin(), out.begin() + 3) == std::vector<double>{2, 4, 6});

  std::vector<double> acc(6, 0.0);
  const std::vector<std::int64_t> targets{0, 2, 0};
  const std::vector<double> src{1, 1, 2, 2, 3, 3};
  ref().index_add(view(acc.data(), {3, 2}), 0, view(targets.data(), {3}), view(src.data(), {3, 2}));
  CHECK(acc == std::vector<double>{4, 4, 0, 0, 2, 2});

  // gather along dim 1: out[i][j] = in[i][index[i][j]].
  const std::vector<std::int64_t> g{2, 0, 1, 1};
  ref().gather(view(out.data(), {2, 2}), view(in.data(), {2, 3}), 1, view(g.data(), {2, 2}));
  CHECK(std::vector<double>(out.begin(), out.begin() + 4) == std::vector<double>{3, 1, 5, 5});
  const std::vector<std::int64_t> g0{1, 0, 1};  // along dim 0: out[0][j] = in[index[0][j]][j]
  ref().gather(view(out.data(), {1, 3}), view(in.data(), {2, 3}), 0, view(g0.data(), {1, 3}));
  CHECK(std::vector<double>(out.begin(), out.begin() + 3) == std::vector<double>{4, 2, 6});

  // scatter_add along dim 1: out[i][index[i][j]] += src[i][j].
  std::fill(acc.begin(), acc.end(), 0.0);
  const std::vector<std::int64_t> s{0, 0, 2, 1};
  const std::vector<double> sv{1, 2, 3, 4};
  ref().scatter_add(view(acc.data(), {2, 3}), 1, view(s.data(), {2, 2}), view(sv.data(), {2, 2}));
  CHECK(acc == std::vector<double>{3, 0, 0, 0, 4, 3});

  const std::int64_t bad = 3;
  CHECK_THROWS_WITH_AS(ref().index_select(view(out.data(), {1, 2}), view(in.data(), {3, 2}), 0,
                                          view(&bad, {1})),
                       doctest::Contains("out of bounds"), Error);
  CHECK_THROWS_AS(ref().gather(view(out.data(), {1, 1}), view(in.data(), {2, 3}), 1,
                               view(&bad, {1, 1})), Error);
}

TEST_CASE("reference: philox4x32-10 known answers (Random123 kat_vectors)") {
  using philox::Block;
  auto same = [](Block got, Block want) {
    return std::equal(std::begin(got.x), std::end(got.x), std::begin(want.x));
  };
  CHECK(same(philox::philox4x32_10(Block{{0, 0, 0, 0}}, 0, 0),
             Block{{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}));
  CHECK(same(philox::philox4x32_10(Block{{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u),
             Block{{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}));
  CHECK(same(philox::philox4x32_10(Block{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
                                   0xa4093822, 0x299f31d0),
             Block{{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}));
}

namespace {
template <typename T>
std::vector<T> draw(RandomSpec spec, std::int64_t n) {
  std::vector<T> v(static_cast<std::size_t>(n));
  ref().random(view(v.data(), {n}), spec);
  return v;
}
// Mean and variance of a sample.
std::pair<double, double> moments(const std::vector<double>& v) {
  double mean = 0, var = 0;
  for (double x : v) mean += x;
  mean /= double(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  return {mean, var / double(v.size())};
}
}  // namespace

TEST_CASE("reference: random draws are reproducible and follow the counter rule") {
  RandomSpec spec{RandomSpec::Kind::Uniform, 0.0, 1.0, /*seed=*/42, /*offset=*/0};
  const auto a = draw<double>(spec, 10);
  CHECK(a == draw<double>(spec, 10));
  RandomSpec other = spec;
  other.seed = 43;
  CHECK(a != draw<double>(other, 10));
  // Element i uses counter offset + i: a draw at offset 4 is the tail of the first one.
  RandomSpec shifted = spec;
  shifted.offset = 4;
  CHECK(draw<double>(shifted, 6) == std::vector<double>(a.begin() + 4, a.end()));
  // Complex element i uses counters offset + 2i (real) and offset + 2i + 1 (imaginary).
  const auto c = draw<c128>(spec, 5);
  for (int i = 0; i < 5; ++i) CHECK(c[i] == c128(a[2 * i], a[2 * i + 1]));
  // i is the row-major position, whatever the strides: a transposed output holds the transpose.
  std::vector<double> t(6);
  ref().random(view(t.data(), {2, 3}, {1, 2}), spec);
  CHECK(t == std::vector<double>{a[0], a[3], a[1], a[4], a[2], a[5]});
  CHECK(random_value<double>(spec, 7) == a[7]);
}

TEST_CASE("reference: random distributions") {
  constexpr std::int64_t n = 100000;
  RandomSpec uniform{RandomSpec::Kind::Uniform, -1.0, 2.0, 7, 0};
  const auto u = draw<float>(uniform, n);
  std::vector<double> ud(u.begin(), u.end());
  for (float x : u) REQUIRE((x >= -1.f && x < 2.f));
  auto [umean, uvar] = moments(ud);
  CHECK(umean == doctest::Approx(0.5).epsilon(0.02));
  CHECK(uvar == doctest::Approx(0.75).epsilon(0.02));  // (b - a)^2 / 12

  RandomSpec normal{RandomSpec::Kind::Normal, 0.0, 1.0, 11, 0};
  auto [mean, var] = moments(draw<double>(normal, n));
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::abs(var - 1.0) < 0.03);
  RandomSpec shifted{RandomSpec::Kind::Normal, 3.0, 2.0, 12, 0};
  const auto f = draw<float>(shifted, n);
  auto [fmean, fvar] = moments(std::vector<double>(f.begin(), f.end()));
  CHECK(std::abs(fmean - 3.0) < 0.05);
  CHECK(std::abs(fvar - 4.0) < 0.12);

  // Complex normal (torch.randn): re, im ~ N(0, 1/2) independently.
  const auto c = draw<c64>(normal, n);
  std::vector<double> re, im;
  double cross = 0;
  for (auto z : c) {
    re.push_back(z.real());
    im.push_back(z.imag());
    cross += double(z.real()) * z.imag();
  }
  CHECK(std::abs(moments(re).second - 0.5) < 0.02);
  CHECK(std::abs(moments(im).second - 0.5) < 0.02);
  CHECK(std::abs(moments(re).first) < 0.02);
  CHECK(std::abs(cross / n) < 0.02);

  // Integers in [-3, 4): every value appears, none outside; into float32 they stay integers.
  RandomSpec integer{RandomSpec::Kind::Integer, -3.0, 4.0, 5, 0};
  const auto k = draw<std::int64_t>(integer, 1000);
  std::vector<int> seen(7, 0);
  for (auto x : k) {
    REQUIRE((x >= -3 && x < 4));
    ++seen[static_cast<std::size_t>(x + 3)];
  }
  for (int count : seen) CHECK(count > 0);
  const auto kf = draw<float>(integer, 1000);
  for (std::size_t i = 0; i < kf.size(); ++i) CHECK(kf[i] == float(k[i]));

  CHECK_THROWS_AS(draw<c64>(integer, 2), Error);
  CHECK_THROWS_AS(draw<std::int64_t>(uniform, 2), Error);
  RandomSpec empty{RandomSpec::Kind::Integer, 2.0, 2.0, 0, 0};
  CHECK_THROWS_WITH_AS(draw<std::int64_t>(empty, 2), doctest::Contains("low < high"), Error);
}
