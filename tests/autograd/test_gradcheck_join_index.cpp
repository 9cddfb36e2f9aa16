// gradcheck for joining, splitting and indexing: cat, stack, split, chunk, index_select, gather,
// scatter_add, embedding (float64), and cat / index_select in complex128. Plus hand-computed
// gradients where accumulation over repeated indices is the point.
#include <doctest/doctest.h>

#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::complex_leaf;
using test::leaf;

namespace {



}  // namespace

TEST_CASE("gradcheck: cat with one input not requiring grad") {
  manual_seed(11);
  Tensor a = leaf({2, 3}), b = leaf({2, 1});
  Tensor c = randn({2, 2}, TensorOptions(kFloat64));  // frozen
  auto f = [](const std::vector<Tensor>& in) { return cat({in[0], in[1], in[2]}, 1); };
  auto r = autograd::gradcheck(f, {a, b, c});
  CHECK_MESSAGE(r.ok, r.message);
  // Along dim 0, with a non-contiguous input and a negative dim.
  auto g = [](const std::vector<Tensor>& in) { return cat({in[0].t(), in[1], in[0].t()}, -2); };
  r = autograd::gradcheck(g, {leaf({2, 3}), leaf({1, 2})});
  CHECK_MESSAGE(r.ok, r.message);

  // The frozen input gets no gradient; the others get their slices.
  Tensor y = cat({a, b, c}, 1);
  sum(y).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK(b.grad().to_vector<double>() == std::vector<double>(2, 1.0));
  CHECK_FALSE(c.grad().defined());
  CHECK(y.grad_fn() != nullptr);
}

TEST_CASE("gradcheck: cat of more inputs than one tape node holds") {
  manual_seed(12);
  std::vector<Tensor> parts;
  for (int i = 0; i < 40; ++i) parts.push_back(leaf({1}));
  auto f = [](const std::vector<Tensor>& in) { return cat(in, 0); };
  auto r = autograd::gradcheck(f, parts);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: stack") {
  manual_seed(13);
  auto f = [](const std::vector<Tensor>& in) { return stack({in[0], in[1], in[0]}, 1); };
  auto r = autograd::gradcheck(f, {leaf({2, 3}), leaf({2, 3})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: split and split_with_sizes") {
  manual_seed(14);
  Tensor w = randn({2, 2}, TensorOptions(kFloat64));
  // The sum of a weighted chunk: only the elements of piece 1 get a gradient.
  auto f = [w](const std::vector<Tensor>& in) {
    auto p = split(in[0], 2, 1);
    return sum(p[1] * w);
  };
  auto r = autograd::gradcheck(f, {leaf({2, 5})});
  CHECK_MESSAGE(r.ok, r.message);
  // Several pieces used, in another order, the smaller last one included.
  auto g = [](const std::vector<Tensor>& in) {
    auto p = split(in[0], 2, 1);
    return cat({p[2], p[0] * p[0]}, 1);
  };
  r = autograd::gradcheck(g, {leaf({2, 5})});
  CHECK_MESSAGE(r.ok, r.message);
  auto h = [](const std::vector<Tensor>& in) {
    auto p = split_with_sizes(in[0], {1, 3, 1}, 0);
    return p[1] * 2.0 + p[0];
  };
  r = autograd::gradcheck(h, {leaf({5, 2})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: chunk") {
  manual_seed(15);
  auto f = [](const std::vector<Tensor>& in) {
    auto c = chunk(in[0], 3, 0);  // 7 rows -> 3, 3, 1
    return c[0] * c[1] + sum(c[2]);
  };
  auto r = autograd::gradcheck(f, {leaf({7, 2})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: index_select with repeated indices") {
  manual_seed(16);
  Tensor index = tensor({0, 2, 0, 0});
  auto f = [index](const std::vector<Tensor>& in) { return index_select(in[0], 1, index); };
  auto r = autograd::gradcheck(f, {leaf({2, 3})});
  CHECK_MESSAGE(r.ok, r.message);
  auto g = [index](const std::vector<Tensor>& in) { return index_select(in[0], 0, index); };
  r = autograd::gradcheck(g, {leaf({3, 2})});
  CHECK_MESSAGE(r.ok, r.message);

  // By hand: row 0 picked three times gets 3, row 1 never picked gets 0.
  Tensor x = ones({3, 2}, kFloat64).requires_grad_(true);
  sum(index_select(x, 0, index)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3, 0, 0, 1, 1});
}

TEST_CASE("gradcheck: gather") {
  manual_seed(17);
  Tensor index = tensor({{0, 0, 2}, {1, 1, 1}});
  auto f = [index](const std::vector<Tensor>& in) { return gather(in[0], 1, index); };
  auto r = autograd::gradcheck(f, {leaf({3, 4})});
  CHECK_MESSAGE(r.ok, r.message);
  Tensor index0 = tensor({{2, 0}, {2, 2}, {1, 0}});
  auto g = [index0](const std::vector<Tensor>& in) { return gather(in[0], 0, index0); };
  r = autograd::gradcheck(g, {leaf({3, 2})});
  CHECK_MESSAGE(r.ok, r.message);

  Tensor x = zeros({2, 3}, kFloat64).requires_grad_(true);
  sum(gather(x, 1, tensor({{0, 0}, {2, 1}}))).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 0, 0, 0, 1, 1});
}

TEST_CASE("gradcheck: scatter_add in x and src") {
  manual_seed(18);
  Tensor index = tensor({{0, 1, 2, 0}, {2, 2, 0, 0}});
  auto f = [index](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, index, in[1]); };
  auto r = autograd::gradcheck(f, {leaf({3, 4}), leaf({2, 4})});
  CHECK_MESSAGE(r.ok, r.message);
  // src larger than index: the unused part of src gets a zero gradient.
  Tensor small = tensor({{1, 0}, {0, 2}});
  auto g = [small](const std::vector<Tensor>& in) { return scatter_add(in[0], 1, small, in[1]); };
  r = autograd::gradcheck(g, {leaf({2, 3}), leaf({3, 3})});
  CHECK_MESSAGE(r.ok, r.message);
  // Only src requires grad.
  Tensor x = randn({3, 4}, TensorOptions(kFloat64));
  r = autograd::gradcheck(f, {x, leaf({2, 4})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradcheck: embedding with repeated indices") {
  manual_seed(19);
  Tensor indices = tensor({{1, 3, 1}, {0, 1, 3}});
  auto f = [indices](const std::vector<Tensor>& in) { return embedding(in[0], indices); };
  auto r = autograd::gradcheck(f, {leaf({4, 3})});
  CHECK_MESSAGE(r.ok, r.message);

  Tensor w = zeros({4, 2}, kFloat64).requires_grad_(true);
  sum(embedding(w, indices)).backward();
  // Row 1 picked three times, row 3 twice, row 0 once, row 2 never.
  CHECK(w.grad().to_vector<double>() == std::vector<double>{1, 1, 3, 3, 0, 0, 2, 2});
}

TEST_CASE("gradcheck: complex128 cat and index_select") {
  manual_seed(20);
  auto f = [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0) * in[1].sum(); };
  auto r = autograd::gradcheck(f, {complex_leaf({2, 2}), complex_leaf({1, 2})});
  CHECK_MESSAGE(r.ok, r.message);
  // A real input joined with a complex one gets the real part of its gradient.
  auto g = [](const std::vector<Tensor>& in) { return cat({in[0], in[1]}, 0); };
  r = autograd::gradcheck(g, {complex_leaf({2}), leaf({3})});
  CHECK_MESSAGE(r.ok, r.message);

  Tensor index = tensor({1, 1, 0});
  auto h = [index](const std::vector<Tensor>& in) { return index_select(in[0], 0, index) * in[0][0]; };
  r = autograd::gradcheck(h, {complex_leaf({2, 2})});
  CHECK_MESSAGE(r.ok, r.message);
}
