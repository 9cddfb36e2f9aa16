// In-place ops on views with autograd (PyTorch's CopySlices): gradients against PyTorch's
// (tests/autograd/golden/make_inplace_golden.py writes them; each scenario below is the same
// computation), gradcheck of functions with in-place-on-view steps, the view's regenerated
// history, the shared version counter, and the errors PyTorch raises.
#include <doctest/doctest.h>

#include <string>

#include "autograd/gradcheck.hpp"
#include "autograd/record.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;

namespace {

Tensor golden(const std::string& scenario, const std::string& name) {
  return load_npy(std::string(REEL_TEST_DATA_DIR) + "/autograd/golden/inplace/" + scenario + "_" +
                  name + ".npy");
}

// A leaf input of a scenario (float64, requires grad).
Tensor input(const std::string& scenario, const std::string& name) {
  return golden(scenario, name).requires_grad_();
}

void check_close(const Tensor& got, const Tensor& expected) {
  REQUIRE(got.defined());
  REQUIRE(got.sizes() == expected.sizes());
  std::vector<double> g = got.to_vector<double>(), e = expected.to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    CHECK(g[i] == doctest::Approx(e[i]).epsilon(1e-10).scale(1.0));
  }
}

void check_grad(const std::string& scenario, const std::string& name, const Tensor& leaf) {
  CAPTURE(scenario);
  CAPTURE(name);
  check_close(leaf.grad(), golden(scenario, name + "_grad"));
}

}  // namespace

TEST_CASE("in-place on views: narrow(...).copy_ fills a buffer that doesn't require grad") {
  test::on_cpu_backends([] {
    const std::string s = "narrow_copy";
    Tensor x = input(s, "x"), w = golden(s, "w");
    Tensor h = zeros({2, 3, 4}, kFloat64);
    h.narrow(2, 0, 1).copy_(x);
    CHECK(h.requires_grad());
    CHECK(std::string(h.grad_fn_name()) == "CopySlices");
    h.narrow(2, 2, 1).copy_(x * 2.0);
    h.narrow(2, 3, 1).copy_(x.sum());  // broadcast
    Tensor loss = (h * h * w).sum();
    check_close(loss, golden(s, "loss"));
    loss.backward();
    check_grad(s, "x", x);
  });
}

TEST_CASE("in-place on views: select(...).mul_ on a non-leaf; a view taken before sees it") {
  test::on_cpu_backends([] {
    const std::string s = "select_mul";
    Tensor a = input(s, "a"), w = golden(s, "w"), w2 = golden(s, "w2");
    Tensor y = a * 1.5;
    Tensor v = y.select(0, 1);
    y.select(0, 1).mul_(2.0);
    CHECK(std::string(v.grad_fn_name()) == "AsStridedBackward");
    Tensor loss = (y * y * w).sum() + (v * w2).sum();
    check_close(loss, golden(s, "loss"));
    loss.backward();
    check_grad(s, "a", a);
  });
}

TEST_CASE("in-place on views: a stepped slice .add_(z) reaches the base's history and z") {
  const std::string s = "slice_add";
  Tensor a = input(s, "a"), z = input(s, "z"), w = golden(s, "w");
  Tensor base = a.clone();
  base.slice(0, 1, 5, 2).add_(z * z);
  Tensor loss = (base * base * w).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
  check_grad(s, "z", z);
}

TEST_CASE("in-place on views: fill_ and zero_ send nothing to the overwritten region") {
  const std::string s = "fill_zero";
  Tensor a = input(s, "a"), w = golden(s, "w");
  Tensor y = a * 2.0;
  y.narrow(1, 1, 2).zero_();
  y.select(0, 2).fill_(3.0);
  CHECK(y.requires_grad());
  Tensor loss = (y * y * w).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
}

TEST_CASE("in-place on views: masked_fill_") {
  const std::string s = "masked_fill";
  Tensor a = input(s, "a"), w = golden(s, "w"), mask = golden(s, "mask");
  Tensor y = a.sin();
  y.narrow(0, 1, 2).masked_fill_(mask, 0.5);
  Tensor loss = (y * w).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
}

TEST_CASE("in-place on views: a view of a view, and another view overlapping the region") {
  const std::string s = "view_of_view";
  Tensor a = input(s, "a"), z = input(s, "z"), w = golden(s, "w"), w2 = golden(s, "w2");
  Tensor y = a.clone();
  Tensor other = y.select(2, 1);
  Tensor vv = y.select(0, 1).narrow(1, 1, 2);
  CHECK(vv.impl().view_base == y.impl_ptr());  // the base of a view of a view is the first base
  vv.mul_(z);
  Tensor loss = (y * w).sum() + (other * other * w2).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
  check_grad(s, "z", z);
}

TEST_CASE("in-place on views: an in-place op on the base regenerates its views' history") {
  const std::string s = "base_inplace";
  Tensor a = input(s, "a"), b = input(s, "b"), w = golden(s, "w");
  Tensor y = a * 1.0;
  Tensor v = y.narrow(0, 1, 2);
  y.mul_(b);
  Tensor loss = (v * w).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
  check_grad(s, "b", b);
}

TEST_CASE("in-place on views: a recurrence writing each step into a preallocated buffer") {
  test::on_cpu_backends([] {
    const std::string s = "rnn_fill";
    Tensor x = input(s, "x"), W = input(s, "W"), w = golden(s, "w");
    const std::int64_t T = 4, B = 2, H = 3;
    Tensor h = zeros({T, B, H}, kFloat64);
    Tensor prev = zeros({B, H}, kFloat64);
    for (std::int64_t t = 0; t < T; ++t) {
      prev = tanh(prev.matmul(W) + x.select(0, t));
      h.select(0, t).copy_(prev);
    }
    Tensor loss = (h * w).sum();
    check_close(loss, golden(s, "loss"));
    loss.backward();
    check_grad(s, "x", x);
    check_grad(s, "W", W);
  });
}

TEST_CASE("in-place on views: clamp_, div_ and sub_ with alpha repeated on one view") {
  const std::string s = "mixed_ops";
  Tensor a = input(s, "a"), d = input(s, "d"), sv = input(s, "s"), w = golden(s, "w");
  Tensor y = a * 1.0;
  Tensor v = y.narrow(0, 2, 2);
  v.clamp_(-0.5, 0.7);
  v.div_(d * d + 1.0);
  v.sub_(sv, 0.5);
  Tensor loss = (y * y * w).sum() + (v * w[0]).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
  check_grad(s, "d", d);
  check_grad(s, "s", sv);
}

TEST_CASE("in-place on views: copy_ through a transposed view") {
  const std::string s = "transpose_copy";
  Tensor a = input(s, "a"), x = input(s, "x"), w = golden(s, "w");
  Tensor y = (a * 1.0).t();
  y.narrow(0, 1, 2).copy_(x);
  Tensor loss = (y * y * w).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
  check_grad(s, "x", x);
}

TEST_CASE("in-place on views: an expanded view regenerated after its base is written") {
  const std::string s = "expand_regen";
  Tensor a = input(s, "a"), b = input(s, "b"), w = golden(s, "w");
  Tensor y = a * 1.0;
  Tensor v = y.narrow(0, 1, 1).expand({2, 3, 4});
  y.add_(b * b);
  Tensor loss = (v * v * w).sum();
  check_close(loss, golden(s, "loss"));
  loss.backward();
  check_grad(s, "a", a);
  check_grad(s, "b", b);
}

TEST_CASE("gradcheck through in-place ops on views") {
  Tensor a = randn({3, 4}, kFloat64).requires_grad_();
  Tensor z = randn({2, 4}, kFloat64).requires_grad_();
  Tensor x = randn({3, 1}, kFloat64).requires_grad_();
  auto f = [](const std::vector<Tensor>& in) {
    Tensor y = in[0] * 1.0;
    y.narrow(0, 1, 2).mul_(in[1]);
    y.select(1, 0).add_(in[2].squeeze(1).sin());
    Tensor t = y.t();
    t.narrow(0, 3, 1).copy_(in[2].t() * 3.0);  // a view of the base's transpose
    y.select(0, 0).narrow(0, 1, 2).zero_();
    return y.sin() * y;
  };
  CHECK(autograd::gradcheck(f, {a, z, x}));

  auto buffer = [](const std::vector<Tensor>& in) {
    Tensor h = zeros({3, 2, 4}, kFloat64);
    Tensor prev = zeros({2, 4}, kFloat64);
    for (std::int64_t t = 0; t < 3; ++t) {
      prev = tanh(prev * in[0].narrow(0, 0, 2) + in[1].narrow(0, t, 1));
      h.select(0, t).copy_(prev);
    }
    h.select(2, 3).mul_(2.0);
    return h;
  };
  CHECK(autograd::gradcheck(buffer, {a, randn({3, 4}, kFloat64).requires_grad_()}));
}

TEST_CASE("in-place on views: base and view share the version counter") {
  Tensor y = randn({3, 4}, kFloat64).requires_grad_() * 1.0;
  Tensor v = y.narrow(1, 0, 2);
  CHECK(v.storage() == y.storage());
  std::uint32_t before = y.version();
  v.mul_(2.0);
  CHECK(y.version() == before + 1);
  CHECK(v.version() == y.version());
  y.add_(1.0);
  CHECK(v.version() == before + 2);
}

TEST_CASE("in-place on views: PyTorch's errors stay") {
  Tensor leaf = randn({3, 4}, kFloat64).requires_grad_();
  // a view of a leaf that requires grad
  CHECK_THROWS_WITH_AS(leaf.narrow(0, 0, 1).mul_(2.0),
                       doctest::Contains("a view of a leaf Variable that requires grad is being "
                                         "used in an in-place operation."),
                       reel::Error);
  CHECK_THROWS_WITH_AS(leaf.select(0, 1).copy_(ones({4}, kFloat64)),
                       doctest::Contains("copy_: a view of a leaf Variable"), reel::Error);
  CHECK_THROWS_WITH_AS(leaf.select(0, 1).zero_(), doctest::Contains("fill_: a view of a leaf"),
                       reel::Error);
  // ... a leaf that requires grad
  CHECK_THROWS_WITH_AS(leaf.mul_(2.0), doctest::Contains("a leaf Variable that requires grad"),
                       reel::Error);
  // ... but under no_grad both are allowed (initialization, optimizers)
  {
    NoGradGuard guard;
    leaf.narrow(0, 0, 1).fill_(1.0);
    leaf.select(0, 2).mul_(2.0);
  }
  CHECK(leaf.is_leaf());

  // a saved tensor modified in place through a view
  Tensor y = leaf * 1.0;
  Tensor e = y.exp();  // exp saves its output
  e.narrow(0, 0, 1).zero_();
  CHECK_THROWS_WITH_AS(e.sum().backward(),
                       doctest::Contains("one of the variables needed for gradient computation "
                                         "has been modified by an inplace operation"),
                       reel::Error);
  Tensor p = y * y;  // saves y
  y.select(0, 0).add_(1.0);
  CHECK_THROWS_WITH_AS(p.sum().backward(), doctest::Contains("modified by an inplace operation"),
                       reel::Error);

  // reading a buffer slot that a later step overwrites (matmul saved it): PyTorch fails too
  Tensor W = randn({3, 3}, kFloat64).requires_grad_();
  Tensor h = zeros({2, 3}, kFloat64);
  h.select(0, 0).copy_(W.select(0, 0));
  h.select(0, 1).copy_(h.select(0, 0).unsqueeze(0).matmul(W).squeeze(0));
  h.select(0, 0).mul_(2.0);
  CHECK_THROWS_WITH_AS(h.sum().backward(), doctest::Contains("modified by an inplace operation"),
                       reel::Error);

  // an expanded view: several elements share one location
  Tensor base = randn({1, 3}, kFloat64).requires_grad_() * 1.0;
  CHECK_THROWS_WITH_AS(base.expand({4, 3}).mul_(2.0),
                       doctest::Contains("more than one element of the written-to tensor"),
                       reel::Error);

  // a view made in no_grad mode, written with grad mode on
  Tensor nb = randn({3}, kFloat64).requires_grad_() * 1.0;
  Tensor nv;
  {
    NoGradGuard guard;
    nv = nb.narrow(0, 0, 2);
  }
  CHECK_THROWS_WITH_AS(nv.mul_(randn({2}, kFloat64).requires_grad_()),
                       doctest::Contains("created in no_grad mode"), reel::Error);
  Tensor buffer = zeros({3}, kFloat64);
  Tensor bv;
  {
    NoGradGuard guard;
    bv = buffer.narrow(0, 0, 2);
  }
  CHECK_THROWS_WITH_AS(bv.copy_(randn({2}, kFloat64).requires_grad_()),
                       doctest::Contains("created in no_grad mode"), reel::Error);
}

TEST_CASE("in-place on views: detach() is an alias outside autograd") {
  Tensor a = randn({4}, kFloat64).requires_grad_();
  Tensor y = a * 2.0;
  Tensor d = y.detach();
  Tensor b = randn({4}, kFloat64).requires_grad_();
  d.mul_(b);  // PyTorch allows this: d's history starts here, y's is untouched
  CHECK(d.requires_grad());
  CHECK(std::string(y.grad_fn_name()) == "MulBackward");
  d.sum().backward();
  CHECK(!a.grad().defined());
  CHECK(b.grad().defined());
}

TEST_CASE("in-place on views: retain_grad moves to the base's new history") {
  Tensor a = tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = a * 2.0;
  y.retain_grad();
  y.narrow(0, 0, 2).mul_(3.0);
  (y * y).sum().backward();
  // y = [6, 12, 6] after the write: d(sum y^2)/dy = 2y, and dy/da = [6, 6, 2]
  CHECK(y.grad().to_vector<double>() == std::vector<double>{12, 24, 12});
  CHECK(a.grad().to_vector<double>() == std::vector<double>{72, 144, 24});
}

TEST_CASE("in-place on views: without grad nothing is recorded") {
  Tensor h = zeros({2, 3}, kFloat64);
  h.narrow(1, 0, 2).copy_(ones({2, 2}, kFloat64));
  h.select(0, 1).mul_(3.0);
  CHECK(!h.requires_grad());
  CHECK(h.is_leaf());
  CHECK(h.to_vector<double>() == std::vector<double>{1, 1, 0, 3, 3, 0});
}

TEST_CASE("in-place on views: tape memory is released") {
  std::int64_t before = autograd::live_nodes();
  {
    // A saved view of a buffer whose history later leads back to the entry that saved it
    // (buffer -> CopySlices -> MulBackward -> saved view -> buffer): no backward at all.
    Tensor x = randn({3}, kFloat64).requires_grad_();
    Tensor h = zeros({2, 3}, kFloat64);
    h.select(0, 0).copy_(x);
    Tensor y = h.select(0, 0) * x;  // saves the view
    h.select(0, 1).copy_(y);
  }
  CHECK(autograd::live_nodes() == before);
  {
    Tensor x = randn({4, 3}, kFloat64).requires_grad_();
    Tensor h = zeros({4, 4, 3}, kFloat64);
    for (int t = 0; t < 4; ++t) h.select(0, t).copy_(x * static_cast<double>(t));
    Tensor v = h.select(0, 1);
    v.add_(x);
    (v * h.select(0, 2)).sum().backward();
  }
  CHECK(autograd::live_nodes() == before);
}
