// unit_scaling::Linear: N(0, 1) init, tags for the optimizers, the unit-scaled functional linear.
#include "nn/unit_scaling/linear.hpp"

#include "nn/init.hpp"

namespace reel::nn::unit_scaling {

LinearImpl::LinearImpl(LinearOptions options) : options_(std::move(options)) {
  const auto& o = options_.linear_;
  check(o.in_features_ > 0 && o.out_features_ > 0,
        "unit_scaling.Linear: in_features and out_features must be positive (a unit scale "
        "divides by them), got in_features={}, out_features={}",
        o.in_features_, o.out_features_);
  check(is_floating(o.dtype_), "unit_scaling.Linear: dtype must be floating point, got {}",
        o.dtype_);
  TensorOptions t = TensorOptions(o.dtype_).device(o.device_);
  weight = register_parameter("weight", empty({o.out_features_, o.in_features_}, t));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_features_}, t) : Tensor(), o.bias_);
  set_mup_tag("weight", {options_.weight_mup_type_, std::nullopt});
  if (o.bias_) set_mup_tag("bias", {MupType::Bias, std::nullopt});
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  init::normal_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LinearImpl::forward(const Tensor& input) const {
  return functional::linear(input, weight, bias, options_.constraint_);
}

std::string LinearImpl::repr() const {
  const auto& o = options_.linear_;
  std::string s = fmt::format("Linear(in_features={}, out_features={}, bias={}", o.in_features_,
                              o.out_features_, o.bias_ ? "True" : "False");
  if (options_.constraint_ != kToOutputScale) {
    s += ", constraint=" + constraint_name(options_.constraint_);
  }
  if (options_.weight_mup_type_ != MupType::Weight) {
    s += ", weight_mup_type=" + mup_type_name(options_.weight_mup_type_);
  }
  return s + ")";
}

}  // namespace reel::nn::unit_scaling
