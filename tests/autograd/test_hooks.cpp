// Tensor hooks (register_hook, remove_hook, register_post_accumulate_grad_hook), as PyTorch's:
// replacement, order, leaves vs non-leaves, removal, retain_grad, once per backward, the errors,
// and no reference cycles left behind.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "autograd/record.hpp"
#include "reel.hpp"

using namespace reel;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("register_hook on a non-leaf: the returned gradient replaces it downstream") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 3.0;
  std::vector<double> seen;
  y.register_hook([&](const Tensor& g) {
    seen = values(g);
    return g * 10.0;
  });
  (y * y).sum().backward();
  CHECK(seen == std::vector<double>{6, 12});           // d(sum y^2)/dy = 2y
  CHECK(values(x.grad()) == std::vector<double>{180, 360});  // 3 * 10 * 2y
}

TEST_CASE("register_hook: a void hook or an undefined result keeps the gradient") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 2.0;
  int calls = 0;
  y.register_hook([&](const Tensor&) { ++calls; });
  y.register_hook([&](const Tensor&) -> Tensor {
    ++calls;
    return Tensor();
  });
  y.sum().backward();
  CHECK(calls == 2);
  CHECK(values(x.grad()) == std::vector<double>{2, 2});
}

TEST_CASE("register_hook: hooks run in registration order, each seeing the last one's result") {
  Tensor x = tensor({1.0}).requires_grad_();
  Tensor y = x * 1.0;
  std::vector<std::string> order;
  std::vector<double> inputs;
  y.register_hook([&](const Tensor& g) {
    order.push_back("first");
    inputs.push_back(g.item<double>());
    return g + 1.0;
  });
  y.register_hook([&](const Tensor& g) {
    order.push_back("second");
    inputs.push_back(g.item<double>());
    return g * 2.0;
  });
  x.register_hook([&](const Tensor& g) {
    order.push_back("leaf");
    inputs.push_back(g.item<double>());
  });
  y.sum().backward();
  CHECK(order == std::vector<std::string>{"first", "second", "leaf"});
  CHECK(inputs == std::vector<double>{1, 2, 4});
  CHECK(x.grad().item<double>() == 4);
}

TEST_CASE("register_hook on a leaf: runs once on the summed gradient, before accumulation") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  x.mutable_grad_set(tensor({100.0, 100.0}));  // an existing .grad: the hook doesn't see it
  int calls = 0;
  std::vector<double> seen;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    seen = values(g);
    return g * 2.0;
  });
  // x reaches the loss three ways: the hook must see the sum, once.
  (x * 2.0 + x * x + x).sum().backward();
  CHECK(calls == 1);
  CHECK(seen == std::vector<double>{5, 7});  // 2 + 2x + 1
  CHECK(values(x.grad()) == std::vector<double>{110, 114});
}

TEST_CASE("register_hook: a root leaf, and a root non-leaf") {
  Tensor x = tensor({3.0}).requires_grad_();
  x.register_hook([](const Tensor& g) { return g * 5.0; });
  x.backward();
  CHECK(x.grad().item<double>() == 5);
  Tensor y = x * 2.0;
  y.register_hook([](const Tensor& g) { return g * 7.0; });
  y.backward();
  CHECK(x.grad().item<double>() == 5 + 7 * 2 * 5);  // x's own hook scales its gradient too
}

TEST_CASE("remove_hook: a removed hook no longer runs; an unknown handle is an error") {
  Tensor x = tensor({1.0}).requires_grad_();
  Tensor y = x * 1.0;
  int a = 0, b = 0, leaf = 0;
  unsigned ha = y.register_hook([&](const Tensor&) { ++a; });
  unsigned hb = y.register_hook([&](const Tensor&) { ++b; });
  unsigned hl = x.register_hook([&](const Tensor&) { ++leaf; });
  CHECK(ha != hb);
  y.remove_hook(ha);
  x.remove_hook(hl);
  y.sum().backward();
  CHECK(a == 0);
  CHECK(b == 1);
  CHECK(leaf == 0);
  CHECK_THROWS_WITH_AS(y.remove_hook(ha), doctest::Contains("remove_hook: no hook with handle"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(x.remove_hook(hb), doctest::Contains("remove_hook"), reel::Error);
  // removing after the backward freed the graph is fine
  y.remove_hook(hb);
}

TEST_CASE("register_hook and retain_grad: .grad() holds what the hooks returned") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 2.0;
  y.retain_grad();
  y.register_hook([](const Tensor& g) { return g * 3.0; });
  Tensor z = x * 2.0;
  z.register_hook([](const Tensor& g) { return g * 3.0; });
  z.retain_grad();  // registered after: same result (retain_grad runs last, as PyTorch 2's)
  (y + z).sum().backward();
  CHECK(values(y.grad()) == std::vector<double>{3, 3});
  CHECK(values(z.grad()) == std::vector<double>{3, 3});
  CHECK(values(x.grad()) == std::vector<double>{12, 12});
}

TEST_CASE("register_hook: once per backward, every backward") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * x;
  int calls = 0, leaf_calls = 0;
  y.register_hook([&](const Tensor&) { ++calls; });
  x.register_hook([&](const Tensor&) { ++leaf_calls; });
  Tensor loss = (y + y * 2.0).sum();  // y feeds two entries: one complete gradient, one call
  loss.backward({}, /*retain_graph=*/true);
  CHECK(calls == 1);
  CHECK(leaf_calls == 1);
  loss.backward();
  CHECK(calls == 2);
  CHECK(leaf_calls == 2);
}

TEST_CASE("register_hook: hooks run with grad mode off, and may not change the shape") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 2.0;
  bool grad_mode_in_hook = true;
  unsigned bad = y.register_hook([&](const Tensor& g) {
    grad_mode_in_hook = GradMode::is_enabled();
    return g.sum();  // wrong shape
  });
  Tensor loss = (y * y).sum();
  CHECK_THROWS_WITH_AS(loss.backward({}, /*retain_graph=*/true),
                       doctest::Contains("hook returned a gradient of shape"),
                       reel::Error);
  CHECK(!grad_mode_in_hook);
  CHECK(GradMode::is_enabled());
  // the failed pass left nothing behind: without the hook, the same graph gives the gradient
  y.remove_hook(bad);
  loss.backward();
  CHECK(values(x.grad()) == std::vector<double>{8, 16});
}

TEST_CASE("register_hook on a tensor that doesn't require grad: PyTorch's error") {
  Tensor plain = tensor({1.0, 2.0});
  CHECK_THROWS_WITH_AS(plain.register_hook([](const Tensor& g) { return g; }),
                       doctest::Contains("cannot register a hook on a tensor that doesn't "
                                         "require gradient"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(plain.register_post_accumulate_grad_hook([](Tensor&) {}),
                       doctest::Contains("cannot register a hook on a tensor that doesn't "
                                         "require gradient"),
                       reel::Error);
  Tensor x = tensor({1.0}).requires_grad_();
  CHECK_THROWS_WITH_AS((x * 2.0).register_post_accumulate_grad_hook([](Tensor&) {}),
                       doctest::Contains("cannot be registered on non-leaf tensors"), reel::Error);
}

TEST_CASE("register_hook before an in-place op sees the gradient of the old value") {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor y = x * 1.0;
  std::vector<double> seen;
  y.register_hook([&](const Tensor& g) { seen = values(g); });
  y.mul_(3.0);
  (y * 2.0).sum().backward();
  CHECK(seen == std::vector<double>{6, 6});  // d(loss)/d(old y) = 2 * 3
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
}

TEST_CASE("register_post_accumulate_grad_hook: runs after .grad() is updated, once") {
  Tensor w = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({0.5}).requires_grad_();
  std::vector<std::string> events;
  std::vector<double> grad_in_hook;
  w.register_hook([&](const Tensor& g) {
    events.push_back("pre");
    return g;
  });
  w.register_post_accumulate_grad_hook([&](Tensor& p) {
    events.push_back("post w");
    CHECK(p.is_same(w));
    grad_in_hook = values(p.grad());
  });
  unsigned hb = b.register_post_accumulate_grad_hook([&](Tensor&) { events.push_back("post b"); });
  Tensor x = tensor({3.0, 4.0});
  Tensor loss = ((w * x).sum() + b * 2.0 + (w * w).sum()).sum();
  loss.backward();
  CHECK(grad_in_hook == std::vector<double>{5, 8});  // x + 2w
  CHECK(std::count(events.begin(), events.end(), "post w") == 1);
  CHECK(std::count(events.begin(), events.end(), "post b") == 1);
  auto pre = std::find(events.begin(), events.end(), "pre");
  auto post = std::find(events.begin(), events.end(), "post w");
  CHECK(pre < post);
  // a second backward: .grad() accumulates, the hook sees the sum
  b.remove_hook(hb);
  events.clear();
  ((w * x).sum() + b * 2.0 + (w * w).sum()).sum().backward();
  CHECK(grad_in_hook == std::vector<double>{10, 16});
  CHECK(events == std::vector<std::string>{"pre", "post w"});
}

TEST_CASE("register_post_accumulate_grad_hook: a leaf is ready before the pass ends") {
  // w2 is fed only by the last layer's entry: its hook must fire while w1's gradient is still
  // pending (the gradient-ready signal data-parallel training overlaps communication with).
  Tensor w1 = tensor({1.0, 2.0}).requires_grad_();
  Tensor w2 = tensor({3.0, 4.0}).requires_grad_();
  bool w1_ready_when_w2_fired = true;
  w2.register_post_accumulate_grad_hook([&](Tensor&) { w1_ready_when_w2_fired = w1.grad().defined(); });
  Tensor h = (w1 * 2.0).sin();
  Tensor loss = (h * w2).sum();
  loss.backward();
  CHECK(!w1_ready_when_w2_fired);
  CHECK(w1.grad().defined());
}

TEST_CASE("hooks leave no reference cycles behind") {
  std::int64_t before = autograd::live_nodes();
  std::weak_ptr<TensorImpl> watched;
  {
    Tensor x = tensor({1.0, 2.0}).requires_grad_();
    Tensor y = x * 2.0;
    watched = y.impl_ptr();
    // A hook that captures its own tensor: the node holds the hook, the hook holds y, y holds
    // the node. The backward frees the node's hooks with its closure, so the cycle goes.
    y.register_hook([y](const Tensor& g) { return g * y.detach(); });
    x.register_hook([](const Tensor& g) { return g; });
    x.register_post_accumulate_grad_hook([](Tensor& p) { CHECK(p.grad().defined()); });
    (y * 1.0).sum().backward();
    CHECK(values(x.grad()) == std::vector<double>{4, 8});
  }
  CHECK(watched.expired());
  CHECK(autograd::live_nodes() == before);
  {
    // Without backward: hooks that capture nothing of their tensor free everything.
    Tensor x = tensor({1.0}).requires_grad_();
    Tensor y = x * 2.0;
    y.register_hook([](const Tensor& g) { return g; });
  }
  CHECK(autograd::live_nodes() == before);
}

TEST_CASE("autograd::queue_callback: runs after every leaf's gradient is in, once, in order") {
  Tensor a = tensor({1.0, 2.0}).requires_grad_();
  Tensor b = tensor({3.0}).requires_grad_();
  std::vector<std::string> log;
  // Queued by a's gradient-ready hook, the callbacks must still see b's gradient (accumulated
  // later in the same pass), and run before backward() returns.
  a.register_post_accumulate_grad_hook([&](Tensor&) {
    log.push_back("a ready");
    autograd::queue_callback([&] {
      log.push_back(fmt::format("first b.grad={}", b.grad().defined() ? values(b.grad())[0] : -1.0));
      autograd::queue_callback([&] { log.push_back("queued by a callback"); });
    });
    autograd::queue_callback([&] { log.push_back("second"); });
  });
  b.register_post_accumulate_grad_hook([&](Tensor&) { log.push_back("b ready"); });
  ((a * 2.0).sum() + b * 5.0).sum().backward();
  REQUIRE(log.size() == 5);
  CHECK(log[3] == "second");
  CHECK(log[2] == "first b.grad=5");
  CHECK(log[4] == "queued by a callback");
  // The next pass starts with an empty queue.
  log.clear();
  (b * 1.0).sum().backward();
  CHECK(log == std::vector<std::string>{"b ready"});

  CHECK_THROWS_WITH_AS(autograd::queue_callback([] {}),
                       doctest::Contains("queue_callback: no backward pass is running"),
                       reel::Error);
  // An exception from a callback leaves backward(), and the next pass is unaffected.
  a.register_post_accumulate_grad_hook([&](Tensor&) {
    autograd::queue_callback([] { fail("callback failed on purpose"); });
  });
  CHECK_THROWS_WITH_AS((a * 1.0).sum().backward(), doctest::Contains("on purpose"), reel::Error);
  log.clear();
  (b * 1.0).sum().backward();
  CHECK(log == std::vector<std::string>{"b ready"});
}
