// nn::Conv1d: checks its options once, owns weight and bias, initialises them as PyTorch does,
// and hands every call to nn::functional::conv1d.
#include "nn/conv1d.hpp"

#include "nn/conv_common.hpp"

namespace reel::nn {

namespace {

// torch.nn.Conv1d's constructor checks. The options F::conv1d also takes are checked by
// F's own function, so the two can't drift apart; the rest are arguments only the module has
// (F reads channels and kernel size off the tensors, and words its errors about them).
void validate(const Conv1dOptions& o) {
  detail::check_conv_module_sizes("Conv1d", o.in_channels_, o.out_channels_, o.kernel_size_);
  // before the divisibility checks below: they divide by groups
  functional::check_conv1d_options(o.func_, "Conv1d");
  detail::check_conv_module_groups_dtype("Conv1d", o.in_channels_, o.out_channels_,
                                         o.func_.groups_, o.dtype_);
}

}  // namespace

Conv1dImpl::Conv1dImpl(Conv1dOptions options) : options_(std::move(options)) {
  validate(options_);
  const auto& o = options_;
  TensorOptions t = TensorOptions(o.dtype_).device(o.device_);
  weight = register_parameter(
      "weight", empty({o.out_channels_, o.in_channels_ / o.func_.groups_, o.kernel_size_}, t));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_channels_}, t) : Tensor(), o.bias_);
  reset_parameters();
}

void Conv1dImpl::reset_parameters() {
  // PyTorch's _ConvNd.reset_parameters: kaiming_uniform_(weight, a=sqrt(5)) gives
  // bound = 1/sqrt(fan_in), fan_in = (in_channels/groups) * kernel_size; the bias uses the same
  // bound. So both are U(-sqrt(k), sqrt(k)) with k = groups / (in_channels * kernel_size).
  detail::reset_conv_parameters(weight, bias);
}

Tensor Conv1dImpl::forward(const Tensor& input) const {
  return functional::conv1d(input, weight, bias, options_.func_);
}

std::string Conv1dImpl::repr() const {
  // torch.nn.modules.conv._ConvNd.extra_repr: stride always, the rest only when not default.
  const auto& o = options_;
  const auto& f = o.func_;
  std::string s = fmt::format("Conv1d({}, {}, kernel_size=({},), stride=({},)", o.in_channels_,
                              o.out_channels_, o.kernel_size_, f.stride_);
  if (const auto* n = std::get_if<std::int64_t>(&f.padding_)) {
    if (*n != 0) s += fmt::format(", padding=({},)", *n);
  } else {
    s += ", padding=" + padding_name(f.padding_);  // same, valid, causal
  }
  if (f.dilation_ != 1) s += fmt::format(", dilation=({},)", f.dilation_);
  if (f.groups_ != 1) s += fmt::format(", groups={}", f.groups_);
  if (!o.bias_) s += ", bias=False";
  if (f.padding_mode_ != kZeros) s += ", padding_mode=" + padding_mode_name(f.padding_mode_);
  return s + ")";
}

}  // namespace reel::nn
