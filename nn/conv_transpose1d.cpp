// nn::ConvTranspose1d: checks its options once, owns weight and bias, initialises them as
// PyTorch does, and hands every call to nn::functional::conv_transpose1d.
#include "nn/conv_transpose1d.hpp"

#include <cmath>

#include "nn/init.hpp"

namespace reel::nn {

namespace {

// torch.nn.ConvTranspose1d's constructor checks.
void validate(const ConvTranspose1dOptions& o) {
  check(o.in_channels_ > 0,
        "ConvTranspose1d: in_channels must be positive, but got in_channels={}", o.in_channels_);
  check(o.out_channels_ > 0,
        "ConvTranspose1d: out_channels must be positive, but got out_channels={}",
        o.out_channels_);
  check(o.kernel_size_ > 0,
        "ConvTranspose1d: kernel_size must be positive, but got kernel_size={}", o.kernel_size_);
  check(o.padding_mode_ == kZeros,
        "ConvTranspose1d: Only \"zeros\" padding mode is supported for ConvTranspose1d (got "
        "padding_mode={})",
        padding_mode_name(o.padding_mode_));
  functional::check_conv_transpose1d_options(o.func_, "ConvTranspose1d");
  const std::int64_t groups = o.func_.groups_;
  check(o.in_channels_ % groups == 0,
        "ConvTranspose1d: in_channels must be divisible by groups (in_channels={}, groups={})",
        o.in_channels_, groups);
  check(o.out_channels_ % groups == 0,
        "ConvTranspose1d: out_channels must be divisible by groups (out_channels={}, groups={})",
        o.out_channels_, groups);
  check(is_inexact(o.dtype_),
        "ConvTranspose1d: dtype must be float32, float64, complex64 or complex128, but got {}",
        o.dtype_);
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
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    if (fan_in != 0) {
      double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      init::uniform_(bias, -bound, bound);
    }
  }
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
