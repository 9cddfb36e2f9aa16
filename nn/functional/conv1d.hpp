#pragma once
// F.conv1d's twin: reel::nn::functional::conv1d(input, weight, bias, options).
//
//   out(N_i, C_out_j) = bias(C_out_j) + sum_k weight(C_out_j, k) * input(N_i, k)   (* = valid
//   cross-correlation), L_out = floor((L_in + pad_left + pad_right - dilation*(k-1) - 1)/stride) + 1
#include <cstdint>
#include <string_view>
#include <utility>

#include "nn/padding.hpp"
#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// Options with LibTorch's fluent setters; defaults as F.conv1d.
struct Conv1dFuncOptions {
  Conv1dFuncOptions& stride(std::int64_t v) { stride_ = v; return *this; }
  Conv1dFuncOptions& padding(std::int64_t v) { padding_ = v; return *this; }
  Conv1dFuncOptions& padding(PaddingRule v) { padding_ = v; return *this; }
  // "valid", "same" or "causal", as PyTorch's padding strings.
  Conv1dFuncOptions& padding(std::string_view v) { padding_ = padding_rule_from_string(v); return *this; }
  Conv1dFuncOptions& dilation(std::int64_t v) { dilation_ = v; return *this; }
  Conv1dFuncOptions& groups(std::int64_t v) { groups_ = v; return *this; }
  // Non-zero modes pad the input in that mode first, then convolve with zero padding (what
  // nn.Conv1d does with padding_mode); F.conv1d itself only has zeros.
  Conv1dFuncOptions& padding_mode(PaddingMode v) { padding_mode_ = v; return *this; }
  Conv1dFuncOptions& padding_mode(std::string_view v) {
    padding_mode_ = padding_mode_from_string(v);
    return *this;
  }

  std::int64_t stride_ = 1;
  Conv1dPadding padding_ = std::int64_t{0};
  std::int64_t dilation_ = 1;
  std::int64_t groups_ = 1;
  PaddingMode padding_mode_ = kZeros;
};

// input (N, C_in, L) or unbatched (C_in, L); weight (C_out, C_in/groups, K); bias (C_out) or
// an undefined Tensor. Raises reel::Error naming the parameter and values on any invalid
// configuration.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv1dFuncOptions& options = {});

// The checks of the options alone, made by F::conv1d on each call and by nn::Conv1d once at
// construction (as torch.nn.Conv1d): stride, dilation and groups positive, padding
// non-negative, 'same' only with stride 1. `op` names the caller in the message.
void check_conv1d_options(const Conv1dFuncOptions& options, std::string_view op = "conv1d");

// The left and right zero padding `options` means for kernel size k (checks the options
// first, and that k is positive).
std::pair<std::int64_t, std::int64_t> resolve_padding(const Conv1dFuncOptions& options,
                                                      std::int64_t kernel_size);

}  // namespace reel::nn::functional
