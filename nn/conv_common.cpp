// What nn::Conv1d and nn::ConvTranspose1d share (see conv_common.hpp).
#include "nn/conv_common.hpp"

#include <cmath>

#include "nn/init.hpp"

namespace reel::nn::detail {

void check_conv_module_sizes(std::string_view name, std::int64_t in_channels,
                             std::int64_t out_channels, std::int64_t kernel_size) {
  check(in_channels > 0, "{}: in_channels must be positive, but got in_channels={}", name,
        in_channels);
  check(out_channels > 0, "{}: out_channels must be positive, but got out_channels={}", name,
        out_channels);
  check(kernel_size > 0, "{}: kernel_size must be positive, but got kernel_size={}", name,
        kernel_size);
}

void check_conv_module_groups_dtype(std::string_view name, std::int64_t in_channels,
                                    std::int64_t out_channels, std::int64_t groups, DType dtype) {
  check(in_channels % groups == 0,
        "{}: in_channels must be divisible by groups (in_channels={}, groups={})", name,
        in_channels, groups);
  check(out_channels % groups == 0,
        "{}: out_channels must be divisible by groups (out_channels={}, groups={})", name,
        out_channels, groups);
  check(is_inexact(dtype),
        "{}: dtype must be float32, float64, complex64 or complex128, but got {}", name, dtype);
}

void reset_conv_parameters(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    if (fan_in != 0) {
      double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
      init::uniform_(bias, -bound, bound);
    }
  }
}

}  // namespace reel::nn::detail
