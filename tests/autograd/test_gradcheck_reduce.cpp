// gradcheck for the reductions and the matrix products: sum (all, dims, keepdim), mean, var,
// std, prod (with and without zeros), max/min (all and along a dim), amax, logsumexp, softmax,
// log_softmax, matmul in every rank combination and with batch broadcasting, mm, bmm
// (float64), and sum, mean, var, prod, matmul in complex128. Plus hand-computed gradients where
// the rule is the point: ties split the gradient of max(), max(dim) sends it to one index, a
// single zero in prod.
#include <doctest/doctest.h>

#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::complex_leaf;
using test::leaf;

namespace {



using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

void expect_gradcheck(const Fn& f, const std::vector<Tensor>& inputs) {
  auto r = autograd::gradcheck(f, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

void check_grad(const Tensor& g, const std::vector<double>& expected) {
  REQUIRE(g.defined());
  std::vector<double> got = g.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]));
  }
}

}  // namespace

TEST_CASE("gradcheck: sum") {
  manual_seed(1);
  expect_gradcheck([](const auto& in) { return sum(in[0]); }, {leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return sum(in[0], {1}); }, {leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return sum(in[0], {0, -1}, true); }, {leaf({2, 3, 4})});
  expect_gradcheck([](const auto& in) { return sum(in[0].t(), {0}); }, {leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return sum(in[0], {1}, true); }, {complex_leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return sum(in[0]); }, {complex_leaf({3})});
}

TEST_CASE("gradcheck: mean, var, std") {
  manual_seed(2);
  expect_gradcheck([](const auto& in) { return mean(in[0]); }, {leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return mean(in[0], {-1}, true); }, {leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return mean(in[0], {0}); }, {complex_leaf({2, 3})});
  expect_gradcheck([](const auto& in) { return var(in[0]); }, {leaf({5})});
  expect_gradcheck([](const auto& in) { return var(in[0], {1}, 0, true); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return reel::std(in[0], {0}); }, {leaf({4, 2})});
  expect_gradcheck([](const auto& in) { return reel::std(in[0]); }, {leaf({2, 3})});
  // Complex input, real output.
  expect_gradcheck([](const auto& in) { return var(in[0]); }, {complex_leaf({4})});
  expect_gradcheck([](const auto& in) { return var(in[0], {1}); }, {complex_leaf({2, 3})});
}

TEST_CASE("gradcheck: prod, with zeros") {
  manual_seed(3);
  expect_gradcheck([](const auto& in) { return prod(in[0], 1); }, {leaf({2, 4})});
  expect_gradcheck([](const auto& in) { return prod(in[0], 0, true); }, {leaf({3, 2})});
  // One zero in a slice, then two: prod is linear in each element, so central differences are
  // exact there too.
  Tensor one_zero = tensor({{2.0, 0.0, 3.0}, {1.5, -2.0, 0.5}}).requires_grad_(true);
  expect_gradcheck([](const auto& in) { return prod(in[0], -1); }, {one_zero});
  Tensor two_zeros = tensor({0.0, 0.0, 3.0}).requires_grad_(true);
  expect_gradcheck([](const auto& in) { return prod(in[0], 0); }, {two_zeros});
  expect_gradcheck([](const auto& in) { return prod(in[0], 1); }, {complex_leaf({2, 3})});
}

TEST_CASE("prod: gradient at zeros, by hand") {
  Tensor x = tensor({2.0, 0.0, 3.0}).requires_grad_(true);
  prod(x, 0).backward();
  check_grad(x.grad(), {0, 6, 0});
  Tensor y = tensor({0.0, 0.0, 3.0}).requires_grad_(true);
  prod(y, 0).backward();
  check_grad(y.grad(), {0, 0, 0});
  Tensor z = tensor({2.0, 4.0, 3.0}).requires_grad_(true);
  prod(z, 0).backward();
  check_grad(z.grad(), {12, 6, 8});
}

TEST_CASE("gradcheck: max, min, amax (no ties)") {
  manual_seed(4);
  expect_gradcheck([](const auto& in) { return max(in[0]); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return min(in[0]); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return std::get<0>(max(in[0], 1)); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return std::get<0>(min(in[0], 0, true)); },
                   {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return std::get<0>(max(in[0], -1)); }, {leaf({2, 3, 4})});
  expect_gradcheck([](const auto& in) { return amax(in[0], {0, 2}); }, {leaf({2, 3, 4})});
  expect_gradcheck([](const auto& in) { return amax(in[0], {-1}, true); }, {leaf({3, 4})});
}

TEST_CASE("max: ties split the gradient over all elements; max(dim) picks the first index") {
  Tensor x = tensor({1.0, 3.0, 3.0, 2.0}).requires_grad_(true);
  max(x).backward();
  check_grad(x.grad(), {0, 0.5, 0.5, 0});
  Tensor a = tensor({{1.0, 3.0, 3.0}, {5.0, 5.0, 5.0}}).requires_grad_(true);
  sum(amax(a, {1})).backward();
  check_grad(a.grad(), {0, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  Tensor b = tensor({{1.0, 3.0, 3.0}, {2.0, 0.0, 2.0}}).requires_grad_(true);
  sum(std::get<0>(max(b, 1))).backward();
  check_grad(b.grad(), {0, 1, 0, 1, 0, 0});
  Tensor c = tensor({{1.0, 3.0}, {0.0, -1.0}}).requires_grad_(true);
  auto [v, i] = min(c, 0);
  CHECK_FALSE(i.requires_grad());
  (v * tensor({10.0, 20.0})).sum().backward();
  check_grad(c.grad(), {0, 0, 10, 20});
}

TEST_CASE("gradcheck: logsumexp, softmax, log_softmax") {
  manual_seed(5);
  expect_gradcheck([](const auto& in) { return logsumexp(in[0], {1}); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return logsumexp(in[0], {0, 1}, true); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return softmax(in[0], 1); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return softmax(in[0], 0); }, {leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return log_softmax(in[0], -1); }, {leaf({2, 3, 4})});
  expect_gradcheck([](const auto& in) { return log_softmax(in[0], 1); }, {leaf({2, 3, 4})});
  // Large inputs (the stable path) still give exact gradients.
  Tensor big = (randn({2, 3}, kFloat64) + 1000.0).requires_grad_(true);
  expect_gradcheck([](const auto& in) { return logsumexp(in[0], {1}); }, {big});
  expect_gradcheck([](const auto& in) { return log_softmax(in[0], 1); }, {big});
}

TEST_CASE("gradcheck: matmul in every rank combination") {
  manual_seed(6);
  Fn mm_fn = [](const auto& in) { return matmul(in[0], in[1]); };
  expect_gradcheck(mm_fn, {leaf({3}), leaf({3})});           // dot
  expect_gradcheck(mm_fn, {leaf({3}), leaf({3, 2})});        // vector @ matrix
  expect_gradcheck(mm_fn, {leaf({2, 3}), leaf({3})});        // matrix @ vector
  expect_gradcheck(mm_fn, {leaf({2, 3}), leaf({3, 4})});     // matrix @ matrix
  expect_gradcheck(mm_fn, {leaf({2, 2, 3}), leaf({3})});     // batch @ vector
  expect_gradcheck(mm_fn, {leaf({3}), leaf({2, 3, 2})});     // vector @ batch
  expect_gradcheck(mm_fn, {leaf({2, 2, 3}), leaf({3, 2})});  // batch @ matrix
  expect_gradcheck(mm_fn, {leaf({2, 3}), leaf({2, 3, 2})});  // matrix @ batch
  expect_gradcheck(mm_fn, {leaf({2, 2, 3}), leaf({2, 3, 2})});
  // Batch broadcasting: [2, 1, 3, 4] @ [5, 4, 2] -> [2, 5, 3, 2].
  expect_gradcheck(mm_fn, {leaf({2, 1, 3, 4}), leaf({5, 4, 2})});
  // Transposed operands and one input frozen.
  expect_gradcheck([](const auto& in) { return matmul(in[0].t(), in[1].mT()); },
                   {leaf({3, 2}), leaf({2, 4, 3})});
  expect_gradcheck(mm_fn, {leaf({2, 3}), randn({3, 2}, kFloat64)});
  expect_gradcheck(mm_fn, {randn({2, 3}, kFloat64), leaf({3, 2})});
}

TEST_CASE("gradcheck: mm, bmm") {
  manual_seed(7);
  expect_gradcheck([](const auto& in) { return mm(in[0], in[1]); }, {leaf({2, 3}), leaf({3, 4})});
  expect_gradcheck([](const auto& in) { return bmm(in[0], in[1]); },
                   {leaf({2, 2, 3}), leaf({2, 3, 4})});
}

TEST_CASE("gradcheck: complex matmul, and real @ complex") {
  manual_seed(8);
  Fn mm_fn = [](const auto& in) { return matmul(in[0], in[1]); };
  expect_gradcheck(mm_fn, {complex_leaf({2, 3}), complex_leaf({3, 2})});
  expect_gradcheck(mm_fn, {complex_leaf({3}), complex_leaf({3})});
  expect_gradcheck(mm_fn, {complex_leaf({2, 1, 2, 3}), complex_leaf({3, 3, 2})});
  expect_gradcheck(mm_fn, {complex_leaf({2, 3}), complex_leaf({3})});
  // A real input that meets a complex one gets the real part of its gradient.
  expect_gradcheck(mm_fn, {leaf({2, 3}), complex_leaf({3, 2})});
}
