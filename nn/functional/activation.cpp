// The activations of nn/functional/activation.hpp. The new ones (leaky_relu, elu, softplus,
// hardtanh, gelu 'tanh', mish) compute their forward from existing ops without recording, then
// record one tape entry whose backward is PyTorch's derivative formula written with ops, so the
// gradient at the branch points is PyTorch's (a composed forward would give where()'s
// gradients, and NaNs from the branch not taken: 0 * exp(large) in elu's).
#include "nn/functional/activation.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "autograd/grad_mode.hpp"
#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void require_floating(const Tensor& x, const char* op) {
  check(x.defined(), "{}: the input is undefined", op);
  check(x.is_floating_point(), "{}: expected a floating point tensor, got dtype {}", op,
        x.dtype());
}

// out = forward(x) computed off the tape; then one entry "name" with
// grad_input = backward(grad_output, x).
template <typename Fwd, typename Bwd>
Tensor pointwise(const char* name, const Tensor& x, Fwd forward, Bwd backward) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = forward(x);
  }
  if (autograd::needs_grad(x)) {
    autograd::record(name, {&x}, out,
                     [sx = autograd::SavedTensor(x), backward](
                         std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {backward(g[0], sx.unpack())};
                     });
  }
  return out;
}

}  // namespace

Tensor log1p_nograd(const Tensor& x) {
  NoGradGuard no_grad;
  // Kahan: with u = 1 + x rounded, log(u) * x / (u - 1) is accurate to a few ulps; u == 1
  // means |x| is below half an ulp of 1, where log1p(x) rounds to x.
  Tensor u = add(x, 1);
  Tensor kahan = div(mul(log(u), x), sub(u, 1));
  return where(eq(u, 1), x, where(eq(u, kInf), u, kahan));
}

Tensor expm1_nograd(const Tensor& x) {
  NoGradGuard no_grad;
  // Kahan: with u = exp(x) rounded, (u - 1) * x / log(u); u == 1: expm1(x) rounds to x;
  // u - 1 == -1 (x very negative): -1; u infinite: infinite.
  Tensor u = exp(x);
  Tensor um1 = sub(u, 1);
  Tensor kahan = div(mul(um1, x), log(u));
  return where(eq(u, 1), x, where(logical_or(eq(um1, -1), eq(u, kInf)), um1, kahan));
}

Tensor relu(const Tensor& input) { return reel::relu(input); }

Tensor leaky_relu(const Tensor& input, const LeakyReLUFuncOptions& options) {
  require_floating(input, "leaky_relu");
  const double slope = options.negative_slope_;
  return pointwise(
      "LeakyReluBackward", input,
      [slope](const Tensor& x) { return where(gt(x, 0), x, mul(x, slope)); },
      // leaky_relu_backward: x > 0 ? g : g * negative_slope (so the slope at 0)
      [slope](const Tensor& g, const Tensor& x) { return where(gt(x, 0), g, mul(g, slope)); });
}

Tensor prelu(const Tensor& input, const Tensor& weight) {
  require_floating(input, "prelu");
  check(weight.defined(), "prelu: the weight is undefined");
  check(weight.dtype() == input.dtype(),
        "prelu: expected weight of the input's dtype {}, got {}", input.dtype(), weight.dtype());
  check(weight.dim() <= 1, "prelu: weight must be 0-dim or 1-D, got shape {}", weight.sizes());
  const std::int64_t n = weight.numel();
  // PyTorch: the channel dim is dim 1; with fewer than 2 dims there is none and the channel
  // count is 1.
  const std::int64_t channels = input.dim() >= 2 ? input.size(1) : 1;
  check(n == 1 || n == channels,
        "prelu: Mismatch of parameter numbers and input channel size. Found parameter numbers = "
        "{} and channel size = {}.",
        n, channels);
  Tensor w = weight;
  if (n == 1) {
    w = weight.reshape({});
  } else {
    Shape s;
    for (int k = 0; k < input.dim(); ++k) s.push_back(k == 1 ? n : 1);
    w = weight.reshape(s);
  }
  // Composed: where() routes the gradient as prelu_backward does (x > 0 ? g : w * g; the
  // weight gets x * g where x <= 0, summed over the broadcast).
  return where(gt(input, 0), input, mul(w, input));
}

Tensor elu(const Tensor& input, const ELUFuncOptions& options) {
  require_floating(input, "elu");
  const double alpha = options.alpha_;
  return pointwise(
      "EluBackward", input,
      [alpha](const Tensor& x) { return where(gt(x, 0), x, mul(expm1_nograd(x), alpha)); },
      // elu_backward (is_result=false): x <= 0 ? g * alpha * exp(x) : g (so alpha at 0)
      [alpha](const Tensor& g, const Tensor& x) {
        return where(le(x, 0), mul(mul(g, exp(x)), alpha), g);
      });
}

Tensor gelu(const Tensor& input, const GELUFuncOptions& options) {
  const std::string& a = options.approximate_;
  check(a == "none" || a == "tanh", "gelu: approximate argument must be either none or tanh, got '{}'",
        a);
  if (a == "none") return reel::gelu(input);
  require_floating(input, "gelu");
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), and PyTorch's GeluBackward for 'tanh'.
  const double beta = std::numbers::sqrt2 * (2.0 * std::numbers::inv_sqrtpi) * 0.5;  // sqrt(2/pi)
  constexpr double kappa = 0.044715;
  return pointwise(
      "GeluBackward", input,
      [beta](const Tensor& x) {
        Tensor inner = mul(add(x, mul(mul(mul(x, x), x), kappa)), beta);
        return mul(mul(x, 0.5), add(reel::tanh(inner), 1));
      },
      [beta](const Tensor& g, const Tensor& x) {
        Tensor x_sq = mul(x, x);
        Tensor inner = mul(add(x, mul(mul(x_sq, x), kappa)), beta);
        Tensor t = reel::tanh(inner);
        Tensor left_derivative = mul(add(t, 1), 0.5);
        Tensor right_derivative = mul(mul(mul(x, 0.5), 1.0 - mul(t, t)),
                                      mul(add(mul(x_sq, 3 * kappa), 1), beta));
        return mul(g, add(left_derivative, right_derivative));
      });
}

Tensor silu(const Tensor& input) { return reel::silu(input); }

Tensor mish(const Tensor& input) {
  require_floating(input, "mish");
  return pointwise(
      "MishBackward", input,
      // x * tanh(softplus(x)), softplus without a threshold (PyTorch's mish kernel)
      [](const Tensor& x) { return mul(x, reel::tanh(log1p_nograd(exp(x)))); },
      // mish_backward: g * (tanh(sp) + x * sigmoid(x) * (1 - tanh(sp)^2))
      [](const Tensor& g, const Tensor& x) {
        Tensor t = reel::tanh(log1p_nograd(exp(x)));
        Tensor s = reel::sigmoid(x);
        return mul(g, add(t, mul(mul(x, s), 1.0 - mul(t, t))));
      });
}

Tensor tanh(const Tensor& input) { return reel::tanh(input); }
Tensor sigmoid(const Tensor& input) { return reel::sigmoid(input); }

Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options) {
  require_floating(input, "softplus");
  const double beta = options.beta_;
  const double threshold = options.threshold_;
  return pointwise(
      "SoftplusBackward", input,
      // x * beta > threshold ? x : log1p(exp(x * beta)) / beta
      [beta, threshold](const Tensor& x) {
        Tensor xb = mul(x, beta);
        return where(gt(xb, threshold), x, div(log1p_nograd(exp(xb)), beta));
      },
      // softplus_backward: x * beta > threshold ? g : g * z / (z + 1), z = exp(x * beta)
      [beta, threshold](const Tensor& g, const Tensor& x) {
        Tensor xb = mul(x, beta);
        Tensor z = exp(xb);
        return where(gt(xb, threshold), g, div(mul(g, z), add(z, 1)));
      });
}

Tensor hardtanh(const Tensor& input, const HardtanhFuncOptions& options) {
  require_floating(input, "hardtanh");
  const double lo = options.min_val_;
  const double hi = options.max_val_;
  check(hi >= lo, "hardtanh: max_val must be greater than or equal to min_val, got min_val={}, "
        "max_val={}", lo, hi);
  return pointwise(
      "HardtanhBackward", input, [lo, hi](const Tensor& x) { return clamp(x, lo, hi); },
      // hardtanh_backward: x <= min_val || x >= max_val ? 0 : g (strictly inside passes)
      [lo, hi](const Tensor& g, const Tensor& x) {
        return where(logical_or(le(x, lo), ge(x, hi)), 0.0, g);
      });
}

Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options) {
  return reel::softmax(input, options.dim_);
}

Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options) {
  return reel::log_softmax(input, options.dim_);
}

Tensor glu(const Tensor& input, const GLUFuncOptions& options) {
  check(input.defined(), "glu: the input is undefined");
  check(input.dim() > 0, "glu: glu does not support scalars because halving size must be even");
  const std::int64_t n = input.dim();
  std::int64_t d = options.dim_;
  check(d >= -n && d < n, "glu: Dimension out of range (expected to be in range of [{}, {}], but "
        "got {})", -n, n - 1, d);
  if (d < 0) d += n;
  const std::int64_t size = input.size(d);
  check(size % 2 == 0, "glu: Halving dimension must be even, but dimension {} is size {}", d, size);
  require_floating(input, "glu");
  Tensor a = input.narrow(d, 0, size / 2);
  Tensor b = input.narrow(d, size / 2, size / 2);
  return mul(a, reel::sigmoid(b));
}

}  // namespace reel::nn::functional
