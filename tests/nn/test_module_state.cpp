// nn::Module state: buffers, PyTorch's dotted names, state_dict order and sharing, to() over
// parameters and buffers, train/eval through a tree, and the registration name checks.
// The expected names and orders are written out by hand from PyTorch's rules
// (Module.named_parameters / named_buffers / _save_to_state_dict), not read back from reel.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using nn::Conv1dOptions;
using reel::test::check_error;

namespace {

// BatchNorm1d's state, as PyTorch registers it: weight, bias, then the buffers running_mean,
// running_var and the int64 num_batches_tracked. Plus a `None` buffer and a non-persistent one.
struct Norm : nn::Module {
  explicit Norm(std::int64_t c) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros(Shape{}, kInt64));
    register_buffer("absent", Tensor());
    scratch = register_buffer("scratch", zeros({c}), /*persistent=*/false);
  }
  std::string repr() const override { return "Norm"; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked, scratch;
};

// torch.nn.Sequential's naming: children "0", "1", ...
struct Seq : nn::Module {
  void push_back(std::shared_ptr<nn::Module> m) {
    register_module(std::to_string(children().size()), std::move(m));
  }
  std::string repr() const override { return "Seq"; }
};

struct Block : nn::Module {
  explicit Block(std::int64_t c) {
    conv1 = register_module(
        "conv1", std::make_shared<nn::Conv1dImpl>(Conv1dOptions(c, c, 3).padding(1)));
    conv2 = register_module(
        "conv2", std::make_shared<nn::Conv1dImpl>(Conv1dOptions(c, c, 1).bias(false)));
  }
  std::string repr() const override { return "Block"; }
  std::shared_ptr<nn::Conv1dImpl> conv1, conv2;
};

// Own state registered buffer first, to check state_dict still lists parameters first.
struct Net : nn::Module {
  Net() : first(Conv1dOptions(2, 4, 3)) {
    step = register_buffer("step", zeros({1}, kInt64));
    scale = register_parameter("scale", ones({1}));
    register_module("0", first);  // LibTorch's holder form
    blocks = register_module("blocks", std::make_shared<Seq>());
    for (int i = 0; i < 3; ++i) {
      block.push_back(std::make_shared<Block>(4));
      blocks->push_back(block.back());
    }
    bn = register_module("bn", std::make_shared<Norm>(4));
  }
  std::string repr() const override { return "Net"; }
  nn::Conv1d first;
  Tensor step, scale;
  std::shared_ptr<Seq> blocks;
  std::vector<std::shared_ptr<Block>> block;
  std::shared_ptr<Norm> bn;
};

// A module the test registers into from outside (registration is public, as in LibTorch).
struct Open : nn::Module {
  std::string repr() const override { return "Open"; }
};

template <typename Named>
std::vector<std::string> names_of(const Named& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

Tensor entry(const nn::StateDict& sd, const std::string& name) {
  for (const auto& [n, t] : sd) {
    if (n == name) return t;
  }
  FAIL("no state_dict entry " << name);
  return Tensor();
}

}  // namespace

TEST_CASE("Module: dotted names of parameters, buffers and state_dict, in PyTorch's order") {
  manual_seed(1);
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "0.weight", "0.bias", "blocks.0.conv1.weight",
                                 "blocks.0.conv1.bias", "blocks.0.conv2.weight",
                                 "blocks.1.conv1.weight", "blocks.1.conv1.bias",
                                 "blocks.1.conv2.weight", "blocks.2.conv1.weight",
                                 "blocks.2.conv1.bias", "blocks.2.conv2.weight", "bn.weight",
                                 "bn.bias"});
  // the undefined "absent" buffer is skipped; the non-persistent one is still a buffer
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"step", "bn.running_mean", "bn.running_var",
                                 "bn.num_batches_tracked", "bn.scratch"});
  // per module: parameters, then persistent buffers, then the children's entries
  CHECK(names_of(net.state_dict()) ==
        std::vector<std::string>{"scale", "step", "0.weight", "0.bias", "blocks.0.conv1.weight",
                                 "blocks.0.conv1.bias", "blocks.0.conv2.weight",
                                 "blocks.1.conv1.weight", "blocks.1.conv1.bias",
                                 "blocks.1.conv2.weight", "blocks.2.conv1.weight",
                                 "blocks.2.conv1.bias", "blocks.2.conv2.weight", "bn.weight",
                                 "bn.bias", "bn.running_mean", "bn.running_var",
                                 "bn.num_batches_tracked"});

  // recurse=false: this module's own only
  CHECK(names_of(net.named_parameters(false)) == std::vector<std::string>{"scale"});
  CHECK(names_of(net.named_buffers(false)) == std::vector<std::string>{"step"});
  REQUIRE(net.buffers(false).size() == 1);
  CHECK(net.buffers(false)[0].is_same(net.step));
  REQUIRE(net.bn->buffers().size() == 4);
  CHECK(net.bn->buffers()[2].is_same(net.bn->num_batches_tracked));
  CHECK(net.parameters().size() == 14);

  // the walks hand out the module's own tensors, not copies
  auto named = net.named_parameters();
  CHECK(named[10].first == "blocks.2.conv1.bias");
  CHECK(named[10].second.is_same(net.block[2]->conv1->bias));

  // children, in registration order
  CHECK(names_of(net.named_children()) == std::vector<std::string>{"0", "blocks", "bn"});
  REQUIRE(net.children().size() == 3);
  CHECK(net.children()[0] == net.first.ptr());
  CHECK(net.blocks->children().size() == 3);
}

TEST_CASE("Module: a tensor registered twice is one parameter, but two state_dict entries") {
  Open outer;
  auto inner = std::make_shared<Open>();
  Tensor shared = ones({2});
  inner->register_parameter("w", shared);
  outer.register_parameter("tied", shared);
  outer.register_module("inner", inner);
  CHECK(names_of(outer.named_parameters()) == std::vector<std::string>{"tied"});
  CHECK(names_of(outer.state_dict()) == std::vector<std::string>{"tied", "inner.w"});
}

TEST_CASE("Module: state_dict tensors share storage with the module and don't require grad") {
  manual_seed(2);
  Net net;
  nn::StateDict sd = net.state_dict();
  Tensor w = entry(sd, "0.weight");
  CHECK(net.first->weight.requires_grad());
  CHECK(!w.requires_grad());
  CHECK(w.is_leaf());
  CHECK(!w.is_same(net.first->weight));
  CHECK(w.storage() == net.first->weight.storage());
  CHECK(w.sizes() == Shape{4, 2, 3});

  // writing through the state dict writes the module's tensors (what load_state_dict relies on)
  w.fill_(0.25);
  test::check_values(net.first->weight, std::vector<double>(24, 0.25));
  entry(sd, "bn.running_mean").fill_(-3.0);
  test::check_values(net.bn->running_mean, {-3.0, -3.0, -3.0, -3.0});
  entry(sd, "bn.num_batches_tracked").fill_(7);
  CHECK(net.bn->num_batches_tracked.item<std::int64_t>() == 7);
}

TEST_CASE("Module: to(dtype) casts floating parameters and buffers, not integer buffers") {
  manual_seed(3);
  Net net;
  Tensor held_weight = net.block[1]->conv1->weight;
  Tensor held_mean = net.bn->running_mean;
  Tensor held_count = net.bn->num_batches_tracked;
  std::vector<double> weight_before = held_weight.to_vector<double>();
  held_mean.fill_(1.5);
  held_count.fill_(5);

  net.to(kFloat64);
  for (const auto& [name, p] : net.named_parameters()) {
    CAPTURE(name);
    CHECK(p.dtype() == kFloat64);
    CHECK(p.requires_grad());
  }
  CHECK(net.bn->running_mean.dtype() == kFloat64);
  CHECK(net.bn->running_var.dtype() == kFloat64);
  CHECK(net.bn->scratch.dtype() == kFloat64);
  CHECK(net.bn->num_batches_tracked.dtype() == kInt64);
  CHECK(net.step.dtype() == kInt64);
  CHECK(entry(net.state_dict(), "bn.running_var").dtype() == kFloat64);
  CHECK(entry(net.state_dict(), "bn.num_batches_tracked").dtype() == kInt64);

  // the handles held before see the cast values
  CHECK(held_weight.dtype() == kFloat64);
  CHECK(held_weight.to_vector<double>() == weight_before);
  CHECK(held_mean.dtype() == kFloat64);
  test::check_values(held_mean, {1.5, 1.5, 1.5, 1.5});
  CHECK(held_count.is_same(net.bn->num_batches_tracked));
  CHECK(held_count.item<std::int64_t>() == 5);

  // the module computes in float64 afterwards
  CHECK(net.first(randn({1, 2, 5}, kFloat64)).dtype() == kFloat64);
  // an integer target is refused, as PyTorch
  check_error([&] { net.to(kInt64); }, {"floating point or complex", "int64"});
  // to(device) moves integer buffers too, and keeps them where they are when already there
  net.to(Device(kCPU));
  CHECK(net.bn->num_batches_tracked.is_same(held_count));
  CHECK(held_count.device() == Device(kCPU));
}

TEST_CASE("Module: train()/eval() reach every descendant") {
  Net net;
  auto all_training = [&](bool expected) {
    CHECK(net.is_training() == expected);
    CHECK(net.first->is_training() == expected);
    CHECK(net.blocks->is_training() == expected);
    for (auto& b : net.block) {
      CHECK(b->is_training() == expected);
      CHECK(b->conv1->is_training() == expected);
      CHECK(b->conv2->is_training() == expected);
    }
    CHECK(net.bn->is_training() == expected);
  };
  all_training(true);
  net.eval();
  all_training(false);
  net.train();
  all_training(true);
  net.train(false);
  all_training(false);
  // a subtree switches alone
  net.train();
  net.blocks->eval();
  CHECK(net.is_training());
  CHECK(net.first->is_training());
  CHECK(!net.block[2]->conv2->is_training());
  CHECK(net.bn->is_training());
}

TEST_CASE("Module: registration names are checked in PyTorch's words") {
  Open m;
  m.register_parameter("w", ones({1}));
  m.register_buffer("b", zeros({1}));
  m.register_module("child", std::make_shared<Open>());

  check_error([&] { m.register_module("a.b", std::make_shared<Open>()); },
              {"register_module", "module name can't contain \".\", got: a.b"});
  check_error([&] { m.register_module("", std::make_shared<Open>()); },
              {"module name can't be empty string \"\""});
  check_error([&] { m.register_parameter("x.y", ones({1})); },
              {"parameter name can't contain \".\", got: x.y"});
  check_error([&] { m.register_parameter("", ones({1})); },
              {"parameter name can't be empty string \"\""});
  check_error([&] { m.register_buffer("r.s", ones({1})); },
              {"buffer name can't contain \".\", got: r.s"});
  check_error([&] { m.register_buffer("", ones({1})); }, {"buffer name can't be empty string"});

  // a name already taken by a parameter, a buffer or a child, whatever registers it
  for (const char* taken : {"w", "b", "child"}) {
    CAPTURE(taken);
    const std::string msg = std::string("attribute '") + taken + "' already exists";
    check_error([&] { m.register_parameter(taken, ones({1})); }, {"register_parameter", msg});
    check_error([&] { m.register_buffer(taken, ones({1})); }, {"register_buffer", msg});
    check_error([&] { m.register_module(taken, std::make_shared<Open>()); },
                {"register_module", msg});
  }
  // the failed registrations added nothing
  CHECK(names_of(m.state_dict()) == std::vector<std::string>{"w", "b"});
  CHECK(m.children().size() == 1);
}

TEST_CASE("Module: register_parameter's reference stays valid as more are registered") {
  Open m;
  Tensor& first = m.register_parameter("p0", ones({1}));
  for (int i = 1; i < 100; ++i) m.register_parameter(fmt::format("p{}", i), zeros({1}));
  CHECK(first.is_same(m.parameters()[0]));
  Tensor& buf = m.register_buffer("b0", ones({1}));
  for (int i = 1; i < 100; ++i) m.register_buffer(fmt::format("b{}", i), zeros({1}));
  CHECK(buf.is_same(m.buffers()[0]));
}
