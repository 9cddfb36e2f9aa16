#pragma once
// nn::ConvTranspose1d: the module around nn::functional::conv_transpose1d, mirroring
// torch.nn.ConvTranspose1d.
//
//   reel::nn::ConvTranspose1d up(reel::nn::ConvTranspose1dOptions(16, 8, 4).stride(2).padding(1));
//   Tensor y = up(x);   // (N, 16, L) -> (N, 8, 2L)
#include <cstdint>
#include <string_view>

#include "nn/functional/conv_transpose1d.hpp"
#include "nn/module.hpp"
#include "nn/padding.hpp"

namespace reel::nn {

struct ConvTranspose1dOptions {
  ConvTranspose1dOptions(std::int64_t in_channels, std::int64_t out_channels,
                         std::int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  ConvTranspose1dOptions& stride(std::int64_t v) { func_.stride(v); return *this; }
  ConvTranspose1dOptions& padding(std::int64_t v) { func_.padding(v); return *this; }
  ConvTranspose1dOptions& output_padding(std::int64_t v) { func_.output_padding(v); return *this; }
  ConvTranspose1dOptions& groups(std::int64_t v) { func_.groups(v); return *this; }
  ConvTranspose1dOptions& dilation(std::int64_t v) { func_.dilation(v); return *this; }
  ConvTranspose1dOptions& bias(bool v) { bias_ = v; return *this; }
  // Only zeros, as PyTorch ("Only "zeros" padding mode is supported for ConvTranspose1d").
  ConvTranspose1dOptions& padding_mode(PaddingMode v) { padding_mode_ = v; return *this; }
  ConvTranspose1dOptions& padding_mode(std::string_view v) {
    padding_mode_ = padding_mode_from_string(v);
    return *this;
  }
  ConvTranspose1dOptions& dtype(DType v) { dtype_ = v; return *this; }
  ConvTranspose1dOptions& device(Device v) { device_ = v; return *this; }

  std::int64_t in_channels_, out_channels_, kernel_size_;
  functional::ConvTranspose1dFuncOptions func_;
  bool bias_ = true;
  PaddingMode padding_mode_ = kZeros;
  DType dtype_ = kFloat32;
  Device device_{};
};

class ConvTranspose1dImpl : public Module {
 public:
  explicit ConvTranspose1dImpl(ConvTranspose1dOptions options);
  // input (N, C_in, L) or (C_in, L) -> (N, C_out, L_out) or (C_out, L_out)
  Tensor forward(const Tensor& input) const;
  // PyTorch's init: kaiming_uniform(a = sqrt(5)) on the weight, whose fan_in is computed from the
  // weight's shape as for any weight: size(1) * K = (out_channels / groups) * K. The bias is
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with that fan_in.
  void reset_parameters();
  std::string repr() const override;
  const ConvTranspose1dOptions& options() const { return options_; }

  Tensor weight;  // (in_channels, out_channels / groups, kernel_size)
  Tensor bias;    // (out_channels), undefined when options.bias(false)

 private:
  ConvTranspose1dOptions options_;
};

class ConvTranspose1d : public ModuleHolder<ConvTranspose1dImpl> {
 public:
  using ModuleHolder<ConvTranspose1dImpl>::ModuleHolder;
};

}  // namespace reel::nn
