// unit_scaling::Conv1d: nn::Conv1d's checks, N(0, 1) init, tags for the optimizers, and the
// unit-scaled functional conv1d.
#include "nn/unit_scaling/conv1d.hpp"

#include "autograd/grad_mode.hpp"
#include "nn/conv_common.hpp"
#include "nn/init.hpp"

namespace reel::nn::unit_scaling {

Conv1dImpl::Conv1dImpl(Conv1dOptions options) : options_(std::move(options)) {
  const auto& o = options_.conv_;
  // torch.nn.Conv1d's constructor checks, in its words, named after this class.
  nn::detail::check_conv_module_sizes("unit_scaling.Conv1d", o.in_channels_, o.out_channels_,
                                      o.kernel_size_);
  nn::functional::check_conv1d_options(o.func_, "unit_scaling.Conv1d");
  nn::detail::check_conv_module_groups_dtype("unit_scaling.Conv1d", o.in_channels_,
                                             o.out_channels_, o.func_.groups_, o.dtype_);
  TensorOptions t = TensorOptions(o.dtype_).device(o.device_);
  weight = register_parameter(
      "weight", empty({o.out_channels_, o.in_channels_ / o.func_.groups_, o.kernel_size_}, t));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_channels_}, t) : Tensor(), o.bias_);
  set_mup_tag("weight", {options_.weight_mup_type_, std::nullopt});
  if (o.bias_) set_mup_tag("bias", {MupType::Bias, std::nullopt});
  reset_parameters();
}

void Conv1dImpl::reset_parameters() {
  // The original's reset_parameters: nn.init.normal_(weight), bias zeroed.
  init::normal_(weight);
  if (bias.defined()) init::zeros_(bias);
}

functional::Conv1dFuncOptions Conv1dImpl::func_options() const {
  functional::Conv1dFuncOptions f;
  f.conv_ = options_.conv_.func_;
  f.constraint_ = options_.constraint_;
  return f;
}

Tensor Conv1dImpl::forward(const Tensor& input) const {
  // padding_mode is F::conv1d's: the input is padded once (the original pads in forward and
  // then again inside F.conv1d with the integer padding).
  return functional::conv1d(input, weight, bias, func_options());
}

std::string Conv1dImpl::repr() const {
  // torch.nn.modules.conv._ConvNd.extra_repr, as nn::Conv1d's.
  const auto& o = options_.conv_;
  const auto& f = o.func_;
  std::string s = fmt::format("Conv1d({}, {}, kernel_size=({},), stride=({},)", o.in_channels_,
                              o.out_channels_, o.kernel_size_, f.stride_);
  if (const auto* n = std::get_if<std::int64_t>(&f.padding_)) {
    if (*n != 0) s += fmt::format(", padding=({},)", *n);
  } else {
    s += ", padding=" + padding_name(f.padding_);
  }
  if (f.dilation_ != 1) s += fmt::format(", dilation=({},)", f.dilation_);
  if (f.groups_ != 1) s += fmt::format(", groups={}", f.groups_);
  if (!o.bias_) s += ", bias=False";
  if (f.padding_mode_ != kZeros) s += ", padding_mode=" + padding_mode_name(f.padding_mode_);
  if (options_.constraint_ != kToOutputScale) {
    s += ", constraint=" + constraint_name(options_.constraint_);
  }
  if (options_.weight_mup_type_ != MupType::Weight) {
    s += ", weight_mup_type=" + mup_type_name(options_.weight_mup_type_);
  }
  return s + ")";
}

}  // namespace reel::nn::unit_scaling
