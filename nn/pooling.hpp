#pragma once
// --- pooling (issue 7) ---
// nn::MaxPool1d, nn::AvgPool1d, nn::AdaptiveAvgPool1d, nn::AdaptiveMaxPool1d: the modules
// around nn/functional/pooling.hpp, as LibTorch's (the options are the functional ones, and
// the max pools' return_indices is LibTorch's forward_with_indices()).
//
//   reel::nn::MaxPool1d pool(reel::nn::MaxPool1dOptions(3).stride(2).ceil_mode(true));
//   Tensor y = pool(x);                         // (N, C, L) -> (N, C, L_out)
//   auto [values, indices] = pool->forward_with_indices(x);
#include <tuple>

#include "nn/functional/pooling.hpp"
#include "nn/module.hpp"

namespace reel::nn {

using MaxPool1dOptions = functional::MaxPool1dFuncOptions;
using AvgPool1dOptions = functional::AvgPool1dFuncOptions;
using AdaptiveAvgPool1dOptions = functional::AdaptiveAvgPool1dFuncOptions;
using AdaptiveMaxPool1dOptions = functional::AdaptiveMaxPool1dFuncOptions;

class MaxPool1dImpl : public Module {
 public:
  explicit MaxPool1dImpl(MaxPool1dOptions options);
  Tensor forward(const Tensor& input) const;
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input) const;
  std::string repr() const override;
  MaxPool1dOptions options;
};
class MaxPool1d : public ModuleHolder<MaxPool1dImpl> {
 public:
  using ModuleHolder<MaxPool1dImpl>::ModuleHolder;
};

class AvgPool1dImpl : public Module {
 public:
  explicit AvgPool1dImpl(AvgPool1dOptions options);
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  AvgPool1dOptions options;
};
class AvgPool1d : public ModuleHolder<AvgPool1dImpl> {
 public:
  using ModuleHolder<AvgPool1dImpl>::ModuleHolder;
};

class AdaptiveAvgPool1dImpl : public Module {
 public:
  explicit AdaptiveAvgPool1dImpl(AdaptiveAvgPool1dOptions options);
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  AdaptiveAvgPool1dOptions options;
};
class AdaptiveAvgPool1d : public ModuleHolder<AdaptiveAvgPool1dImpl> {
 public:
  using ModuleHolder<AdaptiveAvgPool1dImpl>::ModuleHolder;
};

class AdaptiveMaxPool1dImpl : public Module {
 public:
  explicit AdaptiveMaxPool1dImpl(AdaptiveMaxPool1dOptions options);
  Tensor forward(const Tensor& input) const;
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input) const;
  std::string repr() const override;
  AdaptiveMaxPool1dOptions options;
};
class AdaptiveMaxPool1d : public ModuleHolder<AdaptiveMaxPool1dImpl> {
 public:
  using ModuleHolder<AdaptiveMaxPool1dImpl>::ModuleHolder;
};

}  // namespace reel::nn
