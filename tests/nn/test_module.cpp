// nn::Module: parameters, named_parameters, train/eval, zero_grad, to(dtype).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "reel.hpp"

using namespace reel;
using nn::Conv1d;
using nn::Conv1dOptions;

namespace {
// A module with a child, to check the recursive walks.
struct TwoLayers : nn::Module {
  TwoLayers() {
    first = register_module("first", std::make_shared<nn::Conv1dImpl>(Conv1dOptions(2, 4, 3)));
    second = register_module(
        "second", std::make_shared<nn::Conv1dImpl>(Conv1dOptions(4, 1, 1).bias(false)));
    scale = register_parameter("scale", ones({1}));
  }
  Tensor forward(const Tensor& x) const { return (*second).forward(relu((*first).forward(x))) * scale; }
  std::string repr() const override { return "TwoLayers"; }
  std::shared_ptr<nn::Conv1dImpl> first, second;
  Tensor scale;
};
}  // namespace

TEST_CASE("Module: parameters, named_parameters, train/eval, zero_grad, to(dtype)") {
  manual_seed(9);
  Conv1d conv(Conv1dOptions(3, 4, 2));
  auto params = conv->parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].is_same(conv->weight));
  CHECK(params[1].is_same(conv->bias));
  CHECK(conv->weight.requires_grad());
  CHECK(conv->bias.requires_grad());
  CHECK(Conv1d(Conv1dOptions(3, 4, 2).bias(false))->parameters().size() == 1);

  TwoLayers net;
  auto named = net.named_parameters();
  std::vector<std::string> names;
  for (auto& [n, p] : named) names.push_back(n);
  CHECK(names == std::vector<std::string>{"scale", "first.weight", "first.bias", "second.weight"});
  CHECK(net.parameters(false).size() == 1);
  CHECK(net.is_training());
  net.eval();
  CHECK(!net.is_training());
  CHECK(!net.first->is_training());
  net.train();
  CHECK(net.second->is_training());

  Tensor y = net.forward(randn({2, 2, 5}));
  y.sum().backward();
  for (auto& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (auto& p : net.parameters()) CHECK(!p.grad().defined());

  // to(kFloat64): the handles held before stay valid and see the cast values
  Tensor held = net.first->weight;
  std::vector<double> before = held.to_vector<double>();
  y = net.forward(randn({2, 2, 5}));
  y.sum().backward();
  net.to(kFloat64);
  CHECK(held.dtype() == kFloat64);
  CHECK(held.requires_grad());
  CHECK(held.is_leaf());
  CHECK(held.to_vector<double>() == before);
  CHECK(held.grad().dtype() == kFloat64);
  for (auto& p : net.parameters()) CHECK(p.dtype() == kFloat64);
  Tensor y64 = net.forward(randn({2, 2, 5}, TensorOptions(kFloat64)));
  CHECK(y64.dtype() == kFloat64);
  y64.sum().backward();
  CHECK(held.grad().dtype() == kFloat64);
  // a module cast to complex computes in complex
  conv->to(kComplex128);
  CHECK(conv(randn({1, 3, 4}, TensorOptions(kComplex128))).dtype() == kComplex128);
  try {
    conv->to(kInt64);
    FAIL("expected reel::Error");
  } catch (const reel::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("floating point or complex") != std::string::npos);
    CHECK(msg.find("int64") != std::string::npos);
  }
  // to(device) on the device it is already on keeps everything
  conv->to(Device(kCPU));
  CHECK(conv->weight.dtype() == kComplex128);
}
