#pragma once
// reel::nn::unit_scaling::Linear: Graphcore's unit_scaling.Linear. Options as nn::LinearOptions
// plus constraint and weight_mup_type; defaults bias=false, constraint=to_output_scale,
// weight_mup_type=weight; weight ~ N(0, 1), bias 0. The forward is
// unit_scaling::functional::linear (the formulas are there).
#include <cstdint>
#include <string>
#include <string_view>

#include "nn/linear.hpp"
#include "nn/module.hpp"
#include "nn/unit_scaling/functional.hpp"
#include "nn/unit_scaling/parameter.hpp"

namespace reel::nn::unit_scaling {

struct LinearOptions {
  LinearOptions(std::int64_t in_features, std::int64_t out_features)
      : linear_(in_features, out_features) {
    linear_.bias(false);
  }
  LinearOptions& bias(bool v) { linear_.bias(v); return *this; }
  LinearOptions& dtype(DType v) { linear_.dtype(v); return *this; }
  LinearOptions& device(Device v) { linear_.device(v); return *this; }
  LinearOptions& constraint(Constraint v) { constraint_ = v; return *this; }
  LinearOptions& constraint(std::string_view v) {
    constraint_ = constraint_from_string(v);
    return *this;
  }
  LinearOptions& weight_mup_type(MupType v) { weight_mup_type_ = v; return *this; }
  LinearOptions& weight_mup_type(std::string_view v) {
    weight_mup_type_ = mup_type_from_string(v);
    return *this;
  }

  nn::LinearOptions linear_;
  Constraint constraint_ = kToOutputScale;
  MupType weight_mup_type_ = MupType::Weight;
};

class LinearImpl : public Module, public MupTagged {
 public:
  explicit LinearImpl(LinearOptions options);
  LinearImpl(std::int64_t in_features, std::int64_t out_features)
      : LinearImpl(LinearOptions(in_features, out_features)) {}
  // (*, in_features) -> (*, out_features)
  Tensor forward(const Tensor& input) const;
  void reset_parameters();  // weight ~ N(0, 1), bias = 0
  // The original's (nn.Linear's): "Linear(in_features=16, out_features=25, bias=False)", plus
  // constraint / weight_mup_type when they are not the defaults (as Conv1d's).
  std::string repr() const override;
  const LinearOptions& options() const { return options_; }

  Tensor weight;  // (out_features, in_features), tagged weight_mup_type
  Tensor bias;    // (out_features), tagged bias; undefined unless options.bias(true)

 private:
  LinearOptions options_;
};

class Linear : public ModuleHolder<LinearImpl> {
 public:
  using ModuleHolder<LinearImpl>::ModuleHolder;
};

}  // namespace reel::nn::unit_scaling
