// Joining, splitting and indexing: cat, stack, split, split_with_sizes, chunk, index_select,
// gather, scatter_add, embedding. Values are hand-computed or from PyTorch's documentation
// (torch.gather, torch.Tensor.scatter_add_); each body runs on both CPU backends.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;

namespace {

using test::on_cpu_backends;

// The message of the reel::Error `fn` throws ("<no error>" when it doesn't).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const reel::Error& e) {
    return e.what();
  }
  return "<no error>";
}

// Checks that `fn` throws a reel::Error whose message holds every fragment.
void check_error(const std::function<void()>& fn, std::initializer_list<const char*> fragments) {
  std::string msg = error_of(fn);
  for (const char* f : fragments) {
    CHECK_MESSAGE(msg.find(f) != std::string::npos, "expected \"", f, "\" in: ", msg);
  }
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// [[1, 2, 3], [4, 5, 6]] in float32.
Tensor a23() { return tensor({{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 6.0f}}); }

}  // namespace

TEST_CASE("join: cat along 0, 1 and -1") {
  on_cpu_backends([] {
    Tensor a = a23();
    Tensor r0 = cat({a, tensor({{7.0f, 8.0f, 9.0f}})}, 0);
    CHECK(r0.sizes() == Shape{3, 3});
    CHECK(r0.dtype() == kFloat32);
    CHECK(values(r0) == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9});

    Tensor c = tensor({{10.0f}, {11.0f}});
    Tensor r1 = cat({a, c}, 1);
    CHECK(r1.sizes() == Shape{2, 4});
    CHECK(values(r1) == std::vector<double>{1, 2, 3, 10, 4, 5, 6, 11});
    CHECK(values(cat({a, c}, -1)) == values(r1));
    CHECK(values(cat({c, a, c}, 1)) ==
          std::vector<double>{10, 1, 2, 3, 10, 11, 4, 5, 6, 11});

    // Non-contiguous inputs (a transpose) are read through their strides.
    Tensor t = cat({a.t(), a.t()}, 0);  // [[1,4],[2,5],[3,6]] twice
    CHECK(t.sizes() == Shape{6, 2});
    CHECK(values(t) == std::vector<double>{1, 4, 2, 5, 3, 6, 1, 4, 2, 5, 3, 6});

    // One input: a copy, not an alias.
    Tensor one = cat({a}, 0);
    CHECK(values(one) == values(a));
    CHECK(one.storage() != a.storage());

    // PyTorch's legacy rule: 1-D empty tensors are skipped whatever their shape.
    Tensor skip = cat({empty({0}), a, empty({0})}, 1);
    CHECK(skip.sizes() == Shape{2, 3});
    CHECK(values(skip) == values(a));

    // Empty along the cat dim is fine.
    CHECK(cat({zeros({2, 0}), a}, 1).sizes() == Shape{2, 3});
  });
}

TEST_CASE("join: cat promotes dtypes as torch.cat") {
  on_cpu_backends([] {
    Tensor i = tensor({1, 2});          // int64
    Tensor f = tensor({0.5f});          // float32
    Tensor r = cat({i, f});
    CHECK(r.dtype() == kFloat32);
    CHECK(values(r) == std::vector<double>{1, 2, 0.5});
    CHECK(cat({i, tensor({0.25})}).dtype() == kFloat64);
    CHECK(cat({tensor({true}), i}).dtype() == kInt64);
    Tensor z = cat({f, tensor({complex64(1, 2)})});
    CHECK(z.dtype() == kComplex64);
    CHECK(z.to_vector<complex64>() == std::vector<complex64>{{0.5f, 0}, {1, 2}});
  });
}

TEST_CASE("join: cat errors name the shapes and the offending tensor") {
  check_error([] { cat({}, 0); }, {"cat", "non-empty list"});
  check_error([] { cat({zeros({3, 2}), zeros({4, 2})}, 1); },
              {"Sizes of tensors must match except in dimension 1. Expected size 3 but got size 4 "
               "for tensor number 1 in the list.",
               "[3, 2]", "[4, 2]"});
  check_error([] { cat({zeros({2, 3}), zeros({2, 3}), zeros({2, 4})}, 0); },
              {"except in dimension 0", "Expected size 3 but got size 4 for tensor number 2",
               "[2, 4]"});
  check_error([] { cat({zeros({2, 3}), zeros({2, 3, 1})}, 0); },
              {"same number of dimensions", "got 2 and 3", "[2, 3, 1]"});
  check_error([] { cat({zeros({2}), scalar_tensor(1.0)}, 0); },
              {"zero-dimensional tensor (at position 1)"});
  check_error([] { cat({zeros({2, 3}), zeros({2, 3})}, 2); },
              {"cat", "dimension out of range", "got 2"});
  check_error([] { cat({zeros({2}), Tensor()}, 0); }, {"tensor number 1", "undefined"});
}

TEST_CASE("join: stack inserts a new dim") {
  on_cpu_backends([] {
    Tensor a = a23();
    Tensor b = a * 10.0f;
    Tensor s0 = stack({a, b});
    CHECK(s0.sizes() == Shape{2, 2, 3});
    CHECK(values(s0) == std::vector<double>{1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60});
    Tensor s1 = stack({a, b}, 1);
    CHECK(s1.sizes() == Shape{2, 2, 3});
    CHECK(values(s1) == std::vector<double>{1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60});
    Tensor s2 = stack({a, b}, -1);
    CHECK(s2.sizes() == Shape{2, 3, 2});
    CHECK(values(s2) == std::vector<double>{1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60});
    CHECK(values(stack({a, b}, 2)) == values(s2));
    // 0-dim inputs stack into a vector.
    Tensor v = stack({scalar_tensor(1.0), scalar_tensor(2.0)});
    CHECK(v.sizes() == Shape{2});
    CHECK(values(v) == std::vector<double>{1, 2});
  });
}

TEST_CASE("join: stack errors") {
  check_error([] { stack({zeros({2, 3}), zeros({2, 4})}); },
              {"stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [2, 4] "
               "at entry 1"});
  check_error([] { stack({zeros({2, 3}), zeros({2, 3}), zeros({3, 2})}); },
              {"[3, 2] at entry 2"});
  check_error([] { stack({}); }, {"stack expects a non-empty TensorList"});
  check_error([] { stack({zeros({2, 3})}, 3); }, {"dimension out of range", "got 3"});
}

TEST_CASE("join: split gives views with a smaller last piece") {
  on_cpu_backends([] {
    Tensor x = arange(5, TensorOptions(kFloat32));
    auto p = split(x, 2);
    REQUIRE(p.size() == 3);
    CHECK(p[0].sizes() == Shape{2});
    CHECK(p[1].sizes() == Shape{2});
    CHECK(p[2].sizes() == Shape{1});
    CHECK(values(p[1]) == std::vector<double>{2, 3});
    CHECK(values(p[2]) == std::vector<double>{4});
    for (const auto& piece : p) CHECK(piece.storage() == x.storage());
    // Writing through a piece writes the input.
    p[1].fill_(100);
    CHECK(values(x) == std::vector<double>{0, 1, 100, 100, 4});

    CHECK(split(x, 5).size() == 1);
    CHECK(split(x, 7).size() == 1);
    CHECK(split(x, 7)[0].sizes() == Shape{5});
    CHECK(split(x, 1).size() == 5);

    // Along dim 1 of a matrix.
    Tensor m = a23();
    auto q = split(m, 2, 1);
    REQUIRE(q.size() == 2);
    CHECK(q[0].sizes() == Shape{2, 2});
    CHECK(q[1].sizes() == Shape{2, 1});
    CHECK(values(q[0]) == std::vector<double>{1, 2, 4, 5});
    CHECK(values(q[1]) == std::vector<double>{3, 6});
    CHECK(values(split(m, 2, -1)[1]) == std::vector<double>{3, 6});

    // An empty dim gives one empty piece; split_size 0 is allowed only there.
    auto e = split(zeros({0, 2}), 0);
    REQUIRE(e.size() == 1);
    CHECK(e[0].sizes() == Shape{0, 2});
  });
}

TEST_CASE("join: split_with_sizes") {
  Tensor x = arange(5, TensorOptions(kFloat64));
  auto p = split_with_sizes(x, {1, 3, 1});
  REQUIRE(p.size() == 3);
  CHECK(values(p[0]) == std::vector<double>{0});
  CHECK(values(p[1]) == std::vector<double>{1, 2, 3});
  CHECK(values(p[2]) == std::vector<double>{4});
  auto z = split_with_sizes(x, {0, 5, 0});
  CHECK(z[0].numel() == 0);
  CHECK(z[1].sizes() == Shape{5});
  p[2].fill_(-1.0);
  CHECK(x[4].item<double>() == -1.0);
  Tensor m = a23();
  auto q = split_with_sizes(m, {1, 2}, 1);
  CHECK(values(q[1]) == std::vector<double>{2, 3, 5, 6});
}

TEST_CASE("join: split errors") {
  Tensor x = arange(5, TensorOptions(kFloat32));
  check_error([&] { split(x, -1); }, {"split_size be non-negative", "split_size=-1"});
  check_error([&] { split(x, 0); },
              {"split_size can only be 0 if dimension size is 0", "dimension size of 5"});
  check_error([] { split(scalar_tensor(1.0), 1); }, {"at least a 1-dimensional tensor"});
  check_error([&] { split(x, 2, 1); }, {"dimension out of range"});
  check_error([&] { split_with_sizes(x, {2, 2}); },
              {"split_sizes to sum exactly to 5", "split_sizes=[2, 2]"});
  check_error([&] { split_with_sizes(x, {6, -1}); },
              {"non-negative entries", "split_sizes=[6, -1]"});
  // More sizes than a Shape holds still gives the sum error, not a dims-limit error.
  check_error([&] { split_with_sizes(x, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}); },
              {"sum exactly to 5", "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"});
}

TEST_CASE("join: chunk follows torch.chunk's sizes") {
  on_cpu_backends([] {
    auto sizes_of = [](const std::vector<Tensor>& pieces) {
      std::vector<std::int64_t> s;
      for (const auto& p : pieces) s.push_back(p.size(0));
      return s;
    };
    Tensor x5 = arange(5, TensorOptions(kFloat32));
    CHECK(sizes_of(chunk(x5, 3)) == std::vector<std::int64_t>{2, 2, 1});
    CHECK(sizes_of(chunk(x5, 2)) == std::vector<std::int64_t>{3, 2});
    CHECK(sizes_of(chunk(x5, 5)) == std::vector<std::int64_t>{1, 1, 1, 1, 1});
    CHECK(sizes_of(chunk(x5, 8)) == std::vector<std::int64_t>{1, 1, 1, 1, 1});
    // 6 in 4: ceil(6/4) = 2, so only three chunks come back.
    CHECK(sizes_of(chunk(arange(6), 4)) == std::vector<std::int64_t>{2, 2, 2});
    // An empty dim: `chunks` empty pieces.
    auto e = chunk(zeros({0, 2}), 3);
    REQUIRE(e.size() == 3);
    for (const auto& p : e) CHECK(p.sizes() == Shape{0, 2});

    // Views: writing through a chunk writes the input.
    Tensor m = a23();
    auto c = chunk(m, 2, 1);
    REQUIRE(c.size() == 2);
    CHECK(values(c[0]) == std::vector<double>{1, 2, 4, 5});
    CHECK(values(c[1]) == std::vector<double>{3, 6});
    CHECK(c[1].storage() == m.storage());
    c[1].fill_(0);
    CHECK(values(m) == std::vector<double>{1, 2, 0, 4, 5, 0});
  });
}

TEST_CASE("join: chunk errors") {
  check_error([] { chunk(zeros({4}), 0); }, {"chunk expects `chunks` to be greater than 0, got: 0"});
  check_error([] { chunk(zeros({4}), -2); }, {"got: -2"});
  check_error([] { chunk(scalar_tensor(1.0), 2); }, {"at least a 1-dimensional tensor"});
}

TEST_CASE("indexing: index_select") {
  on_cpu_backends([] {
    Tensor x = tensor({{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 6.0f}, {7.0f, 8.0f, 9.0f}});
    Tensor r = index_select(x, 0, tensor({2, 0, 2}));
    CHECK(r.sizes() == Shape{3, 3});
    CHECK(values(r) == std::vector<double>{7, 8, 9, 1, 2, 3, 7, 8, 9});
    Tensor c = x.index_select(1, tensor({1}));
    CHECK(c.sizes() == Shape{3, 1});
    CHECK(values(c) == std::vector<double>{2, 5, 8});
    CHECK(values(index_select(x, -1, tensor({2, 0}))) == std::vector<double>{3, 1, 6, 4, 9, 7});
    // Through a transposed (non-contiguous) input.
    CHECK(values(index_select(x.t(), 0, tensor({0}))) == std::vector<double>{1, 4, 7});
    // A 0-dim index picks one slab and keeps the dim.
    Tensor s = index_select(x, 0, scalar_tensor(1, kInt64));
    CHECK(s.sizes() == Shape{1, 3});
    CHECK(values(s) == std::vector<double>{4, 5, 6});
    // An empty index.
    CHECK(index_select(x, 0, empty({0}, kInt64)).sizes() == Shape{0, 3});
    // Other dtypes.
    CHECK(index_select(tensor({5, 6, 7}), 0, tensor({2, 2})).to_vector<std::int64_t>() ==
          std::vector<std::int64_t>{7, 7});
    Tensor z = index_select(tensor({complex128(1, 2), complex128(3, 4)}), 0, tensor({1, 0}));
    CHECK(z.to_vector<complex128>() == std::vector<complex128>{{3, 4}, {1, 2}});
    // A 0-dim input.
    Tensor sc = index_select(scalar_tensor(2.5), 0, tensor({0}));
    CHECK(sc.dim() == 0);
    CHECK(sc.item<double>() == 2.5);
  });
}

TEST_CASE("indexing: index_select errors") {
  Tensor x = arange(5, TensorOptions(kFloat32));
  check_error([&] { index_select(x, 0, tensor({1, 7})); },
              {"index_select(): index 7 is out of bounds for dimension 0 with size 5"});
  check_error([&] { index_select(x, 0, tensor({-1})); }, {"index -1 is out of bounds"});
  check_error([&] { index_select(x, 0, tensor({1.0f})); },
              {"index_select()", "int64", "float32"});
  check_error([&] { index_select(x, 0, zeros({2, 2}, kInt64)); },
              {"Index is supposed to be a vector", "[2, 2]"});
  check_error([&] { index_select(x, 1, tensor({0})); }, {"dimension out of range"});
  check_error([] { index_select(zeros({2, 3}), 1, tensor({3})); },
              {"index 3 is out of bounds for dimension 1 with size 3"});
}

TEST_CASE("indexing: gather (torch.gather's documented example)") {
  on_cpu_backends([] {
    Tensor t = tensor({{1.0f, 2.0f}, {3.0f, 4.0f}});
    Tensor g1 = gather(t, 1, tensor({{0, 0}, {1, 0}}));
    CHECK(g1.sizes() == Shape{2, 2});
    CHECK(values(g1) == std::vector<double>{1, 1, 4, 3});
    CHECK(values(t.gather(0, tensor({{1, 0}, {0, 0}}))) == std::vector<double>{3, 2, 1, 2});
    // An index smaller than the input outside dim; the output takes the index's shape.
    Tensor x = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}, {7.0, 8.0, 9.0}});
    Tensor g2 = gather(x, 1, tensor({{0}, {2}}));
    CHECK(g2.sizes() == Shape{2, 1});
    CHECK(values(g2) == std::vector<double>{1, 6});
    // Larger than the input along dim (repeats).
    Tensor big = gather(x, 0, tensor({{2, 2, 2}, {0, 0, 0}, {1, 1, 1}, {2, 0, 1}}));
    CHECK(big.sizes() == Shape{4, 3});
    CHECK(values(big) == std::vector<double>{7, 8, 9, 1, 2, 3, 4, 5, 6, 7, 2, 6});
    Tensor g3 = gather(tensor({10.0, 20.0, 30.0}), 0, tensor({2, 2, 0, 1}));
    CHECK(values(g3) == std::vector<double>{30, 30, 10, 20});
    CHECK(values(gather(x, -1, tensor({{2}, {1}, {0}}))) == std::vector<double>{3, 5, 7});
  });
}

TEST_CASE("indexing: gather errors") {
  Tensor t = tensor({{1.0f, 2.0f}, {3.0f, 4.0f}});
  check_error([&] { gather(t, 0, tensor({{0.0f}})); }, {"gather()", "int64", "float32"});
  check_error([&] { gather(t, 0, tensor({0, 1})); },
              {"same number of dimensions", "[2]", "[2, 2]"});
  check_error([&] { gather(t, 0, zeros({2, 3}, kInt64)); },
              {"Size does not match at dimension 1 expected index [2, 3] to be smaller than self "
               "[2, 2] apart from dimension 0"});
  check_error([&] { gather(t, 1, tensor({{0, 5}})); },
              {"gather(): index 5 is out of bounds for dimension 1 with size 2"});
  check_error([&] { gather(t, 0, tensor({{-2, 0}})); }, {"index -2 is out of bounds"});
}

TEST_CASE("indexing: scatter_add (torch.Tensor.scatter_add_'s documented example)") {
  on_cpu_backends([] {
    Tensor src = ones({2, 5});
    // Index [1, 5] against src [2, 5]: only src's first row is used.
    Tensor index = tensor({{0, 1, 2, 0, 0}});
    Tensor x = zeros({3, 5});
    Tensor r = scatter_add(x, 0, index, src);
    CHECK(r.sizes() == Shape{3, 5});
    CHECK(values(r) == std::vector<double>{1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0});
    CHECK(values(x) == std::vector<double>(15, 0.0));  // out of place

    Tensor index2 = tensor({{0, 1, 2, 0, 0}, {0, 1, 2, 2, 2}});
    Tensor r2 = scatter_add(x, 0, index2, src);
    CHECK(values(r2) == std::vector<double>{2, 0, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 2, 1, 1});

    // Added onto x's values, along dim 1, repeated targets accumulate.
    Tensor base = tensor({{1.0, 1.0, 1.0}, {2.0, 2.0, 2.0}});
    Tensor s = tensor({{10.0, 20.0}, {30.0, 40.0}});
    Tensor r3 = scatter_add(base, 1, tensor({{2, 2}, {0, 1}}), s);
    CHECK(values(r3) == std::vector<double>{1, 1, 31, 32, 42, 2});
    CHECK(values(scatter_add(base, -1, tensor({{2, 2}, {0, 1}}), s)) == values(r3));
  });
}

TEST_CASE("indexing: scatter_add errors") {
  Tensor x = zeros({3, 5});
  check_error([&] { scatter_add(x, 0, tensor({{0, 1}}), ones({1, 2}, kFloat64)); },
              {"scatter_add()", "self.dtype to be equal to src.dtype", "float32", "float64"});
  check_error([&] { scatter_add(x, 0, tensor({{0.0f}}), ones({1, 1})); }, {"int64", "float32"});
  check_error([&] { scatter_add(x, 0, tensor({{0, 3}}), ones({1, 2})); },
              {"scatter_add(): index 3 is out of bounds for dimension 0 with size 3"});
  check_error([&] { scatter_add(x, 0, tensor({{0, 1, 2}}), ones({1, 2})); },
              {"smaller size than src [1, 2]", "[1, 3]"});
  check_error([&] { scatter_add(x, 1, zeros({4, 1}, kInt64), ones({4, 1})); },
              {"smaller than self [3, 5] apart from dimension 1"});
  check_error([&] { scatter_add(x, 0, tensor({0}), ones({1})); }, {"same number of dimensions"});
}

TEST_CASE("indexing: embedding picks rows, any index shape") {
  on_cpu_backends([] {
    Tensor w = tensor({{0.0f, 1.0f}, {2.0f, 3.0f}, {4.0f, 5.0f}, {6.0f, 7.0f}});
    Tensor e = embedding(w, tensor({{1, 3}, {0, 1}}));
    CHECK(e.sizes() == Shape{2, 2, 2});
    CHECK(values(e) == std::vector<double>{2, 3, 6, 7, 0, 1, 2, 3});
    Tensor v = embedding(w, tensor({2}));
    CHECK(v.sizes() == Shape{1, 2});
    Tensor s = embedding(w, scalar_tensor(3, kInt64));
    CHECK(s.sizes() == Shape{2});
    CHECK(values(s) == std::vector<double>{6, 7});
    CHECK(embedding(w, empty({0}, kInt64)).sizes() == Shape{0, 2});
  });
}

TEST_CASE("indexing: embedding errors") {
  Tensor w = zeros({4, 2});
  check_error([&] { embedding(w, tensor({1, 10})); },
              {"embedding", "index 10", "num_embeddings 4"});
  check_error([&] { embedding(w, tensor({-1})); }, {"index -1", "num_embeddings 4"});
  check_error([&] { embedding(zeros({4}), tensor({1})); }, {"'weight' must be 2-D", "[4]"});
  check_error([&] { embedding(w, tensor({1.0f})); }, {"indices", "int64", "float32"});
}
