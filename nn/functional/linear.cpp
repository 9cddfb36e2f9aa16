// F::linear: matmul with the transposed weight (a view), then the bias, both differentiable ops.
#include "nn/functional/linear.hpp"

#include "tensor/ops.hpp"

namespace reel::nn::functional {

Tensor linear(const Tensor& input_arg, const Tensor& weight_arg, const Tensor& bias_arg) {
  const Tensor input = reel::detail::autocast_lower(input_arg);  // autocast's lower-precision list
  const Tensor weight = reel::detail::autocast_lower(weight_arg);
  const Tensor bias = reel::detail::autocast_lower(bias_arg);
  check(input.defined() && weight.defined(), "linear: input and weight must be defined");
  check(weight.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got shape {}",
        weight.sizes());
  check(input.dim() >= 1, "linear: input must have at least 1 dim (*, in_features), got shape {}",
        input.sizes());
  check(input.size(-1) == weight.size(1),
        "linear: input's last dim must be in_features={} (weight shape {}), got input shape {}",
        weight.size(1), weight.sizes(), input.sizes());
  if (bias.defined()) {
    check(bias.dim() == 1 && bias.size(0) == weight.size(0),
          "linear: bias must have shape ({}), got {}", weight.size(0), bias.sizes());
  }
  check(input.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == weight.dtype()),
        "linear: expected input, weight and bias of one dtype, got {}, {} and {}", input.dtype(),
        weight.dtype(), bias.defined() ? fmt::format("{}", bias.dtype()) : "none");
  if (bias.defined() && is_reduced_float(input.dtype())) {
    // PyTorch's addmm adds the bias inside the float32 accumulation: one rounding per output
    // element (and per gradient element), where matmul-then-add would round twice.
    const DType t = input.dtype();
    return add(matmul(input.to(kFloat32), weight.to(kFloat32).t()), bias.to(kFloat32)).to(t);
  }
  Tensor out = matmul(input, weight.t());
  return bias.defined() ? add(out, bias) : out;
}

}  // namespace reel::nn::functional
