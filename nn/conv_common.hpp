#pragma once
// Internal to nn (not part of the API, not in reel.hpp): what nn::Conv1d and
// nn::ConvTranspose1d share — their constructor checks and PyTorch's _ConvNd initialisation.
#include <cstdint>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel::nn::detail {

// torch.nn's _ConvNd checks on the sizes only the module has: in_channels, out_channels and
// kernel_size positive. `name` is the module's ("Conv1d").
void check_conv_module_sizes(std::string_view name, std::int64_t in_channels,
                             std::int64_t out_channels, std::int64_t kernel_size);

// The checks after the options' own (they divide by groups, so groups > 0 must hold): both
// channel counts divisible by groups, and an inexact dtype.
void check_conv_module_groups_dtype(std::string_view name, std::int64_t in_channels,
                                    std::int64_t out_channels, std::int64_t groups, DType dtype);

// PyTorch's _ConvNd.reset_parameters: kaiming_uniform_(weight, a=sqrt(5)), which gives
// bound = 1/sqrt(fan_in) with fan_in read off the weight's shape, and the bias (when defined)
// U(-bound, bound) with the same bound.
void reset_conv_parameters(const Tensor& weight, const Tensor& bias);

}  // namespace reel::nn::detail
