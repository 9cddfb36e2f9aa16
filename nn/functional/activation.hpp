#pragma once
// The activation functions of torch.nn.functional, and the options their modules share
// (nn/activation.hpp), LibTorch style: F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.2)).
//
// Each takes a float32 or float64 tensor (complex and integer input raise reel::Error, as
// PyTorch has no kernels for them) of any shape, 0-dim included, and records one tape entry
// whose backward is PyTorch's own derivative formula, branch points included:
//   leaky_relu  x > 0 ? g : g * negative_slope                 (slope at 0)
//   elu         x > 0 ? g : g * alpha * exp(x)                 (alpha at 0)
//   softplus    x * beta > threshold ? g : g * z / (z + 1), z = exp(x * beta)
//   hardtanh    min_val < x < max_val ? g : 0                  (0 at both bounds)
//   gelu(tanh), mish: PyTorch's closed forms.
// relu, gelu('none'), silu, tanh, sigmoid, softmax and log_softmax are reel's ops (tensor/ops.hpp);
// prelu and glu are compositions of ops, so their gradients are the ops' own.
#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel::nn {

struct LeakyReLUOptions {
  LeakyReLUOptions& negative_slope(double v) { negative_slope_ = v; return *this; }
  double negative_slope_ = 0.01;
};

struct ELUOptions {
  ELUOptions& alpha(double v) { alpha_ = v; return *this; }
  double alpha_ = 1.0;
};

// approximate: "none" (the exact erf form) or "tanh".
struct GELUOptions {
  GELUOptions& approximate(std::string v) { approximate_ = std::move(v); return *this; }
  std::string approximate_ = "none";
};

// x * beta > threshold: the identity (the softplus rounds to x there).
struct SoftplusOptions {
  SoftplusOptions& beta(double v) { beta_ = v; return *this; }
  SoftplusOptions& threshold(double v) { threshold_ = v; return *this; }
  double beta_ = 1.0;
  double threshold_ = 20.0;
};

struct HardtanhOptions {
  HardtanhOptions& min_val(double v) { min_val_ = v; return *this; }
  HardtanhOptions& max_val(double v) { max_val_ = v; return *this; }
  double min_val_ = -1.0;
  double max_val_ = 1.0;
};

// The dim is required (LibTorch's SoftmaxOptions(dim)); PyTorch's legacy dim=None guess is
// not offered.
struct SoftmaxOptions {
  SoftmaxOptions(std::int64_t dim) : dim_(dim) {}  // NOLINT: implicit as LibTorch's
  SoftmaxOptions& dim(std::int64_t v) { dim_ = v; return *this; }
  std::int64_t dim_;
};

struct LogSoftmaxOptions {
  LogSoftmaxOptions(std::int64_t dim) : dim_(dim) {}  // NOLINT: implicit as LibTorch's
  LogSoftmaxOptions& dim(std::int64_t v) { dim_ = v; return *this; }
  std::int64_t dim_;
};

struct GLUOptions {
  GLUOptions(std::int64_t dim = -1) : dim_(dim) {}  // NOLINT: implicit as LibTorch's
  GLUOptions& dim(std::int64_t v) { dim_ = v; return *this; }
  std::int64_t dim_ = -1;
};

// num_parameters: 1 (one slope for all channels) or the channel count (input dim 1);
// init: the slopes' initial value.
struct PReLUOptions {
  PReLUOptions& num_parameters(std::int64_t v) { num_parameters_ = v; return *this; }
  PReLUOptions& init(double v) { init_ = v; return *this; }
  PReLUOptions& dtype(DType v) { dtype_ = v; return *this; }
  PReLUOptions& device(Device v) { device_ = v; return *this; }
  std::int64_t num_parameters_ = 1;
  double init_ = 0.25;
  DType dtype_ = kFloat32;
  Device device_{};
};

namespace functional {

using LeakyReLUFuncOptions = LeakyReLUOptions;
using ELUFuncOptions = ELUOptions;
using GELUFuncOptions = GELUOptions;
using SoftplusFuncOptions = SoftplusOptions;
using HardtanhFuncOptions = HardtanhOptions;
using GLUFuncOptions = GLUOptions;

// dim is required, as LibTorch's SoftmaxFuncOptions(dim).
struct SoftmaxFuncOptions {
  SoftmaxFuncOptions(std::int64_t dim) : dim_(dim) {}  // NOLINT: implicit as LibTorch's
  std::int64_t dim_;
};
struct LogSoftmaxFuncOptions {
  LogSoftmaxFuncOptions(std::int64_t dim) : dim_(dim) {}  // NOLINT: implicit as LibTorch's
  std::int64_t dim_;
};

Tensor relu(const Tensor& input);
Tensor leaky_relu(const Tensor& input, const LeakyReLUFuncOptions& options = {});
// weight: 1 element, or input.size(1) elements (input of 2 or more dims; for 0-dim and 1-D
// input there is no channel dim, so weight must have 1 element, as PyTorch).
Tensor prelu(const Tensor& input, const Tensor& weight);
Tensor elu(const Tensor& input, const ELUFuncOptions& options = {});
Tensor gelu(const Tensor& input, const GELUFuncOptions& options = {});
Tensor silu(const Tensor& input);
Tensor mish(const Tensor& input);
Tensor tanh(const Tensor& input);
Tensor sigmoid(const Tensor& input);
Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options = {});
Tensor hardtanh(const Tensor& input, const HardtanhFuncOptions& options = {});
Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options);
Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options);
// a * sigmoid(b) with (a, b) the two halves of input along dim; that dim's size must be even.
Tensor glu(const Tensor& input, const GLUFuncOptions& options = {});

// log(1 + x) and exp(x) - 1 without the cancellation of the naive forms near 0 (Kahan's
// compensated formulas over log and exp), as PyTorch's log1p/expm1 give. Not differentiable
// (no tape entry): the activations above use them in their forwards only.
Tensor log1p_nograd(const Tensor& x);
Tensor expm1_nograd(const Tensor& x);

}  // namespace functional
}  // namespace reel::nn
