// The helpers nn::functional shares internally (see internal.hpp).
#include "nn/functional/internal.hpp"

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"

namespace reel::nn::functional::detail {

Tensor contiguous_no_grad(const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t;
  NoGradGuard no_grad;
  return t.contiguous();
}

void check_conv_ranks(std::string_view op, const Tensor& input, const Tensor& weight,
                      std::string_view weight_layout) {
  check(input.defined(), "{}: the input tensor is undefined", op);
  check(weight.defined(), "{}: the weight tensor is undefined", op);
  check(input.dim() == 2 || input.dim() == 3,
        "{}: Expected 2D (unbatched) or 3D (batched) input to {}, but got input of size: {}", op,
        op, input.sizes());
  check(weight.dim() == 3,
        "{}: expected weight to be 3-dimensional {}, but got weight of size {}", op,
        weight_layout, weight.sizes());
}

void check_conv_stride_dilation_groups(std::string_view op, std::int64_t stride,
                                       std::int64_t dilation, std::int64_t groups) {
  check(stride > 0, "{}: non-positive stride is not supported (stride={})", op, stride);
  check(dilation > 0, "{}: non-positive dilation is not supported (dilation={})", op, dilation);
  check(groups > 0,
        "{}: non-positive groups is not supported (groups must be a positive integer, but got "
        "groups={})",
        op, groups);
}

void check_conv_dtypes_devices(std::string_view op, const Tensor& input, const Tensor& weight,
                               const Tensor& bias) {
  check(is_inexact(input.dtype()),
        "{}: expected a float32, float64, complex64 or complex128 input, but got input of "
        "dtype {}",
        op, input.dtype());
  check(weight.dtype() == input.dtype() && (!bias.defined() || bias.dtype() == input.dtype()),
        "{}: expected input, weight and bias to have the same dtype, but got input {}, "
        "weight {} and bias {}",
        op, input.dtype(), weight.dtype(),
        bias.defined() ? fmt::format("{}", bias.dtype()) : "none");
  check(weight.device() == input.device() && (!bias.defined() || bias.device() == input.device()),
        "{}: expected input, weight and bias to be on the same device, but got input on {}, "
        "weight on {} and bias on {}",
        op, input.device(), weight.device(), bias.defined() ? bias.device().str() : "none");
}

}  // namespace reel::nn::functional::detail
