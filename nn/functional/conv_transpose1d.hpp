#pragma once
// F.conv_transpose1d's twin: reel::nn::functional::conv_transpose1d(input, weight, bias, options).
//
// The adjoint of conv1d (its input gradient as a layer of its own): input (N, C_in, L),
// weight (C_in, C_out/groups, K), output (N, C_out, L_out) with
//   L_out = (L - 1)*stride - 2*padding + dilation*(K - 1) + output_padding + 1.
#include <cstdint>

#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// Options with LibTorch's fluent setters; defaults as F.conv_transpose1d.
struct ConvTranspose1dFuncOptions {
  ConvTranspose1dFuncOptions& stride(std::int64_t v) { stride_ = v; return *this; }
  ConvTranspose1dFuncOptions& padding(std::int64_t v) { padding_ = v; return *this; }
  ConvTranspose1dFuncOptions& output_padding(std::int64_t v) { output_padding_ = v; return *this; }
  ConvTranspose1dFuncOptions& groups(std::int64_t v) { groups_ = v; return *this; }
  ConvTranspose1dFuncOptions& dilation(std::int64_t v) { dilation_ = v; return *this; }

  std::int64_t stride_ = 1;
  std::int64_t padding_ = 0;
  std::int64_t output_padding_ = 0;
  std::int64_t groups_ = 1;
  std::int64_t dilation_ = 1;
};

// input (N, C_in, L) or unbatched (C_in, L); weight (C_in, C_out/groups, K); bias (C_out) or an
// undefined Tensor. Raises reel::Error naming the parameter and values on any invalid
// configuration (PyTorch's checks, including output_padding < stride or < dilation).
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const ConvTranspose1dFuncOptions& options = {});

// The checks of the options alone (positive stride, dilation, groups; non-negative padding and
// output_padding; output_padding below stride or dilation), made by F::conv_transpose1d on each
// call and by nn::ConvTranspose1d once at construction. `op` names the caller in the message.
void check_conv_transpose1d_options(const ConvTranspose1dFuncOptions& options,
                                    std::string_view op = "conv_transpose1d");

}  // namespace reel::nn::functional
