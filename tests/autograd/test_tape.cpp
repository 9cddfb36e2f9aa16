// The tape: recording, backward, accumulation, grad modes, retain_graph, the output mask, the
// version counter, and memory staying flat without backward.
#include <doctest/doctest.h>

#include "autograd/record.hpp"
#include "backends/cpu/caching_allocator.hpp"
#include "reel.hpp"

using namespace reel;

TEST_CASE("backward: gradients of a small expression, accumulated on leaves") {
  Tensor a = tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor b = tensor({4.0, 5.0, 6.0}).requires_grad_();
  Tensor loss = (a * b + a).sum();  // dloss/da = b + 1, dloss/db = a
  CHECK(!loss.is_leaf());
  CHECK(loss.grad_fn() != nullptr);
  loss.backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{5, 6, 7});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 2, 3});

  // a second forward+backward adds to .grad(), as in PyTorch
  (a * b).sum().backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{9, 11, 13});
  a.zero_grad();
  CHECK(!a.grad().defined());
}

TEST_CASE("backward with an explicit gradient, and its shape check") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 3.0;
  y.backward(tensor({1.0, 10.0}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 30});
  Tensor y2 = x * 3.0;
  CHECK_THROWS_WITH_AS(y2.backward(), doctest::Contains("only for scalar outputs"), reel::Error);
  CHECK_THROWS_WITH_AS(y2.backward(ones({3}, kFloat64)), doctest::Contains("Mismatch in shape"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(tensor({1.0}).sum().backward(), doctest::Contains("does not require grad"),
                       reel::Error);
}

TEST_CASE("a tensor used twice gets both contributions; views carry gradients back") {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0}).requires_grad_();
  Tensor m = x.view({2, 2});
  Tensor loss = (m.t() * m.select(0, 1)).sum() + x.narrow(0, 1, 2).sum();
  loss.backward();
  // m.t()[i][j] = x[2j+i]; times m[1][j] = x[2+j]; sum over i,j
  // loss = x0*x2 + x2*x3 + x1*x2 + x3*x3 + x1 + x2, so
  // d/dx0 = x2, d/dx1 = x2 + 1, d/dx2 = x0 + x3 + x1 + 1, d/dx3 = x2 + 2*x3.
  std::vector<double> expect{3.0, 3.0 + 1.0, 1.0 + 4.0 + 2.0 + 1.0, 3.0 + 2 * 4.0};
  CHECK(x.grad().to_vector<double>() == expect);
}

TEST_CASE("NoGradGuard records nothing; detach cuts the tape") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  {
    NoGradGuard guard;
    CHECK(!GradMode::is_enabled());
    Tensor y = x * 2.0;
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    {
      EnableGradGuard enable;
      CHECK((x * 2.0).requires_grad());
    }
  }
  CHECK(GradMode::is_enabled());
  Tensor d = (x * 2.0).detach();
  CHECK(!d.requires_grad());
  CHECK(d.is_leaf());
  Tensor z = (d * x).sum();
  z.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4});
}

TEST_CASE("retain_graph: a second backward without it is a clear error") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor loss = (x * x).sum();
  loss.backward({}, /*retain_graph=*/true);
  loss.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8});
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("backward through the graph a second time"),
                       reel::Error);
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor h = x * 3.0;
  h.retain_grad();
  Tensor h2 = x * 4.0;  // not retained
  (h * h + h2).sum().backward();
  CHECK(h.grad().to_vector<double>() == std::vector<double>{6, 12});
  CHECK(!h2.grad().defined());
  CHECK(x.grad().to_vector<double>() == std::vector<double>{18 + 4, 36 + 4});
}

TEST_CASE("the output mask: gradients of inputs that don't need them are never computed") {
  Tensor a = tensor({1.0, 2.0}).requires_grad_();
  Tensor frozen = tensor({3.0, 4.0});
  int calls = 0;
  bool asked_for_frozen = true;
  Tensor out = a.detach() * frozen;  // a plain tensor we attach a custom entry to
  autograd::record("ProbeBackward", {&a, &frozen}, out,
                   [&](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
                     ++calls;
                     asked_for_frozen = need[1];
                     return {need[0] ? g[0] * 3.0 : Tensor(), Tensor()};
                   });
  out.sum().backward();
  CHECK(calls == 1);
  CHECK(!asked_for_frozen);
  CHECK(a.grad().to_vector<double>() == std::vector<double>{3, 3});
}

TEST_CASE("version counter: modifying a saved tensor in place is caught") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor z = y * y;  // saves y
  CHECK(y.version() == 0);
  y.add_(1.0);  // an in-place op on a non-leaf: allowed, but y's saved value is gone
  CHECK(y.version() == 1);
  CHECK_THROWS_WITH_AS(z.sum().backward(), doctest::Contains("modified by an inplace operation"),
                       reel::Error);

  // an in-place op on a leaf that requires grad is refused
  CHECK_THROWS_WITH_AS(x.mul_(2.0), doctest::Contains("leaf Variable that requires grad"), reel::Error);

  // in place on a non-leaf stays differentiable: y = x*2 then y *= x -> dy/dx = 4x
  Tensor w = x * 2.0;
  w.mul_(x);
  w.sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8});
}

TEST_CASE("tape memory stays flat over 10,000 forwards with grad on and no backward") {
  Tensor w = randn({16}, kFloat32).requires_grad_();
  Tensor x = randn({16});
  auto step = [&] { return ((x * w).sum() + w.mean()).exp(); };
  step();
  std::int64_t nodes_before = autograd::live_nodes();
  auto before = backends::cpu::allocator_stats();
  for (int i = 0; i < 10000; ++i) {
    Tensor loss = step();
    CHECK_FALSE(loss.grad_fn() == nullptr);
  }
  auto after = backends::cpu::allocator_stats();
  CHECK(autograd::live_nodes() == nodes_before);
  CHECK(after.in_use_bytes == before.in_use_bytes);
  CHECK(after.os_allocations == before.os_allocations);  // the cache served every buffer
}

TEST_CASE("requires_grad only on floating and complex leaves") {
  CHECK_THROWS_WITH_AS(tensor({1, 2}).requires_grad_(), doctest::Contains("int64"), reel::Error);
  Tensor x = tensor({1.0}).requires_grad_();
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.requires_grad_(false), doctest::Contains("leaf variables"), reel::Error);
}

TEST_CASE("gradcheck itself notices a wrong gradient") {
  // An op whose recorded backward is deliberately wrong (2x instead of 3x).
  auto wrong = [](const std::vector<Tensor>& in) {
    Tensor out = in[0].detach() * 3.0;
    autograd::record("WrongBackward", {&in[0]}, out,
                     [](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {g[0] * 2.0};
                     });
    return out;
  };
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  auto r = autograd::gradcheck(wrong, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("analytical") != std::string::npos);
  auto right = autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0] * 3.0; }, {x});
  CHECK_MESSAGE(right.ok, right.message);
}

TEST_CASE("gradients through dtype and device conversions") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  auto r = autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return in[0].to(kComplex128) * complex128(1.0, 2.0); },
      {x});
  CHECK_MESSAGE(r.ok, r.message);
  auto r2 = autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return in[0].permute({1, 0}).reshape({6}).narrow(0, 1, 4) * 2.0; },
      {randn({2, 3}, kFloat64).requires_grad_()});
  CHECK_MESSAGE(r2.ok, r2.message);
  auto r3 = autograd::gradcheck(
      [](const std::vector<Tensor>& in) {
        return in[0].unsqueeze(1).expand({3, 4}).select(1, 2) * in[0].clone().slice(0, 0, 3, 2).sum();
      },
      {randn({3}, kFloat64).requires_grad_()});
  CHECK_MESSAGE(r3.ok, r3.message);
  auto r4 = autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return real(in[0]) * imag(in[0]) + real(in[0]); },
      {randn({3}, kComplex128).requires_grad_()});
  CHECK_MESSAGE(r4.ok, r4.message);
}
