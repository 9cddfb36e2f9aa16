// nn::Conv1d: checks its options once, owns weight and bias, initialises them as PyTorch does,
// and hands every call to nn::functional::conv1d.
#include "nn/conv1d.hpp"

#include <cmath>

#include "autograd/grad_mode.hpp"
#include "nn/init.hpp"

namespace reel::nn {

namespace {

void validate(const Conv1dOptions& o) {
  check(o.in_channels_ > 0, "Conv1d: in_channels must be positive, but got in_channels={}",
        o.in_channels_);
  check(o.out_channels_ > 0, "Conv1d: out_channels must be positive, but got out_channels={}",
        o.out_channels_);
  check(o.kernel_size_ > 0, "Conv1d: kernel_size must be positive, but got kernel_size={}",
        o.kernel_size_);
  check(o.stride_ > 0, "Conv1d: stride must be positive, but got stride={}", o.stride_);
  check(o.dilation_ > 0, "Conv1d: dilation must be positive, but got dilation={}", o.dilation_);
  check(o.groups_ > 0, "Conv1d: groups must be a positive integer, but got groups={}", o.groups_);
  check(o.in_channels_ % o.groups_ == 0,
        "Conv1d: in_channels must be divisible by groups (in_channels={}, groups={})",
        o.in_channels_, o.groups_);
  check(o.out_channels_ % o.groups_ == 0,
        "Conv1d: out_channels must be divisible by groups (out_channels={}, groups={})",
        o.out_channels_, o.groups_);
  if (const auto* n = std::get_if<std::int64_t>(&o.padding_)) {
    check(*n >= 0, "Conv1d: padding must be non-negative, but got padding={}", *n);
  } else {
    check(std::get<PaddingRule>(o.padding_) != kSame || o.stride_ == 1,
          "Conv1d: padding='same' is not supported for strided convolutions (stride={})",
          o.stride_);
  }
  check(is_inexact(o.dtype_),
        "Conv1d: dtype must be float32, float64, complex64 or complex128, but got {}", o.dtype_);
}

}  // namespace

Conv1dImpl::Conv1dImpl(Conv1dOptions options) : options_(std::move(options)) {
  validate(options_);
  const auto& o = options_;
  TensorOptions t = TensorOptions(o.dtype_).device(o.device_);
  weight = register_parameter(
      "weight", empty({o.out_channels_, o.in_channels_ / o.groups_, o.kernel_size_}, t));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_channels_}, t) : Tensor(), o.bias_);
  reset_parameters();
}

void Conv1dImpl::reset_parameters() {
  // PyTorch's _ConvNd.reset_parameters: kaiming_uniform_(weight, a=sqrt(5)) gives
  // bound = 1/sqrt(fan_in), fan_in = (in_channels/groups) * kernel_size; the bias uses the same
  // bound. So both are U(-sqrt(k), sqrt(k)) with k = groups / (in_channels * kernel_size).
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    if (fan_in != 0) {
      double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      init::uniform_(bias, -bound, bound);
    }
  }
}

Tensor Conv1dImpl::forward(const Tensor& input) const {
  const auto& o = options_;
  functional::Conv1dFuncOptions f;
  f.stride_ = o.stride_;
  f.padding_ = o.padding_;
  f.dilation_ = o.dilation_;
  f.groups_ = o.groups_;
  f.padding_mode_ = o.padding_mode_;
  return functional::conv1d(input, weight, bias, f);
}

std::string Conv1dImpl::repr() const {
  // torch.nn.modules.conv._ConvNd.extra_repr: stride always, the rest only when not default.
  const auto& o = options_;
  std::string s = fmt::format("Conv1d({}, {}, kernel_size=({},), stride=({},)", o.in_channels_,
                              o.out_channels_, o.kernel_size_, o.stride_);
  if (const auto* n = std::get_if<std::int64_t>(&o.padding_)) {
    if (*n != 0) s += fmt::format(", padding=({},)", *n);
  } else {
    s += ", padding=" + padding_name(o.padding_);  // same, valid, causal
  }
  if (o.dilation_ != 1) s += fmt::format(", dilation=({},)", o.dilation_);
  if (o.groups_ != 1) s += fmt::format(", groups={}", o.groups_);
  if (!o.bias_) s += ", bias=False";
  if (o.padding_mode_ != kZeros) s += ", padding_mode=" + padding_mode_name(o.padding_mode_);
  return s + ")";
}

}  // namespace reel::nn
