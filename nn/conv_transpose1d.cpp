// nn::ConvTranspose1d: checks its options once, owns weight and bias, initialises them as
// PyTorch does, and hands every call to nn::functional::conv_transpose1d.
#include "nn/conv_transpose1d.hpp"

#include "nn/conv_common.hpp"

namespace reel::nn {

namespace {

// torch.nn.ConvTranspose1d's constructor checks.
void validate(const ConvTranspose1dOptions& o) {
  detail::check_conv_module_sizes("ConvTranspose1d", o.in_channels_, o.out_channels_,
                                  o.kernel_size_);
  check(o.padding_mode_ == kZeros,
        "ConvTranspose1d: Only \"zeros\" padding mode is supported for ConvTranspose1d (got "
        "padding_mode={})",
        padding_mode_name(o.padding_mode_));
  functional::check_conv_transpose1d_options(o.func_, "ConvTranspose1d");
  detail::check_conv_module_groups_dtype("ConvTranspose1d", o.in_channels_, o.out_channels_,
                                         o.func_.groups_, o.dtype_);
}

}  // namespace

ConvTranspose1dImpl::ConvTranspose1dImpl(ConvTranspose1dOptions options)
    : options_(std::move(options)) {
  validate(options_);
  const auto& o = options_;
  TensorOptions t = TensorOptions(o.dtype_).device(o.device_);
  weight = register_parameter(
      "weight", empty({o.in_channels_, o.out_channels_ / o.func_.groups_, o.kernel_size_}, t));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_channels_}, t) : Tensor(), o.bias_);
  reset_parameters();
}

void ConvTranspose1dImpl::reset_parameters() {
  // _ConvNd.reset_parameters, shared by the transposed convs: the fan_in is read off the
  // weight (in, out/groups, K) as for any weight, so it is (out_channels/groups) * K here.
  detail::reset_conv_parameters(weight, bias);
}

Tensor ConvTranspose1dImpl::forward(const Tensor& input) const {
  return functional::conv_transpose1d(input, weight, bias, options_.func_);
}

std::string ConvTranspose1dImpl::repr() const {
  // torch.nn.modules.conv._ConvNd.extra_repr.
  const auto& o = options_;
  const auto& f = o.func_;
  std::string s = fmt::format("ConvTranspose1d({}, {}, kernel_size=({},), stride=({},)",
                              o.in_channels_, o.out_channels_, o.kernel_size_, f.stride_);
  if (f.padding_ != 0) s += fmt::format(", padding=({},)", f.padding_);
  if (f.dilation_ != 1) s += fmt::format(", dilation=({},)", f.dilation_);
  if (f.output_padding_ != 0) s += fmt::format(", output_padding=({},)", f.output_padding_);
  if (f.groups_ != 1) s += fmt::format(", groups={}", f.groups_);
  if (!o.bias_) s += ", bias=False";
  return s + ")";
}

}  // namespace reel::nn
