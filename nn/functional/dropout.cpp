// F::dropout, F::dropout1d: a Bernoulli(1 - p) mask divided by 1 - p (PyTorch's
// noise.bernoulli_(1 - p).div_(1 - p)), multiplied in with reel's differentiable mul, so the
// gradient is grad * mask / (1 - p).
#include "nn/functional/dropout.hpp"

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

// input * noise, noise of `noise_shape` (broadcasting against input's).
Tensor apply_noise(const Tensor& input, const Shape& noise_shape, const DropoutFuncOptions& o) {
  const double p = o.p_;
  Tensor noise;
  {
    NoGradGuard no_grad;
    TensorOptions t = TensorOptions(input.dtype()).device(input.device());
    if (p == 1.0) {
      noise = zeros({}, t);
    } else {
      // u ~ U[0, 1): P(u < 1 - p) = 1 - p
      Generator gen = o.generator_ ? *o.generator_ : default_generator();  // a handle
      Tensor keep = lt(rand(noise_shape, gen, t), 1.0 - p);
      noise = div(keep.to(input.dtype()), 1.0 - p);
    }
  }
  if (o.inplace_) {
    Tensor self = input;  // same tensor: mul_ writes into its storage
    mul_(self, noise);
    return self;
  }
  return mul(input, noise);
}

void check_input(const Tensor& input, const char* op) {
  check(input.defined(), "{}: the input is undefined", op);
  check(input.is_floating_point(), "{}: expected a floating point input, got dtype {}", op,
        input.dtype());
}

}  // namespace

void check_dropout_p(double p, const char* op) {
  check(p >= 0.0 && p <= 1.0, "{}: dropout probability has to be between 0 and 1, but got {}", op,
        p);
}

Tensor dropout(const Tensor& input, const DropoutFuncOptions& options) {
  check_dropout_p(options.p_, "dropout");
  check_input(input, "dropout");
  if (!options.training_ || options.p_ == 0.0 || input.numel() == 0) return input;
  return apply_noise(input, input.sizes(), options);
}

Tensor dropout1d(const Tensor& input, const Dropout1dFuncOptions& options) {
  check_dropout_p(options.p_, "dropout1d");
  check(input.defined(), "dropout1d: the input is undefined");
  check(input.dim() == 2 || input.dim() == 3,
        "dropout1d: Expected 2D or 3D input, but received a {}D input. Note that dropout1d "
        "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
        "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).",
        input.dim());
  check_input(input, "dropout1d");
  if (!options.training_ || options.p_ == 0.0 || input.numel() == 0) return input;
  // (N, C, 1) or (C, 1): one draw per channel, broadcast along L.
  Shape noise_shape = input.sizes();
  noise_shape[input.dim() - 1] = 1;
  return apply_noise(input, noise_shape, options);
}

}  // namespace reel::nn::functional
