// nn::init: uniform_ and kaiming_uniform_, as torch.nn.init (same bounds, same fan rule).
#include "nn/init.hpp"

#include <cmath>

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::init {

namespace {

// part <- U(a, b), for a real tensor (or the real/imag view of a complex one).
void fill_uniform(Tensor part, double a, double b) {
  Tensor u = rand(part.sizes(), TensorOptions(part.dtype()).device(part.device()));
  part.copy_(add(mul(u, b - a), a));  // copy_ bumps the version counter
}

}  // namespace

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  check(t.dim() >= 2,
        "init: Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
        "(got a tensor of size {})",
        t.sizes());
  std::int64_t receptive_field = 1;
  for (int d = 2; d < t.dim(); ++d) receptive_field *= t.size(d);
  return {t.size(1) * receptive_field, t.size(0) * receptive_field};
}

Tensor uniform_(const Tensor& t, double a, double b) {
  check(t.defined(), "uniform_: the tensor is undefined");
  check(is_inexact(t.dtype()), "uniform_: expected a floating or complex tensor, got {}",
        t.dtype());
  check(a <= b, "uniform_: expects to return a [from, to) range, but found from={} > to={}", a, b);
  NoGradGuard no_grad;
  if (t.numel() == 0) return t;
  if (t.is_complex()) {
    // Independent draws for the two parts: each lands in [a, b), as PyTorch's uniform_.
    fill_uniform(real(t), a, b);
    fill_uniform(imag(t), a, b);
  } else {
    fill_uniform(t, a, b);
  }
  return t;
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode) {
  check(t.defined(), "kaiming_uniform_: the tensor is undefined");
  if (t.numel() == 0) return t;  // PyTorch: "Initializing zero-element tensors is a no-op"
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double fan = static_cast<double>(mode == kFanIn ? fan_in : fan_out);
  double gain = std::sqrt(2.0 / (1.0 + a * a));  // calculate_gain('leaky_relu', a)
  double bound = gain * std::sqrt(3.0 / fan);
  return uniform_(t, -bound, bound);
}

}  // namespace reel::nn::init
