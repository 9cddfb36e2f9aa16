// Unit-scaled functions: the scale_fwd_bwd primitive and the ops built from it
// (unit_scaling.scale, unit_scaling.functional).
#include "nn/unit_scaling/functional.hpp"

#include <cmath>

#include "autograd/record.hpp"
#include "backends/checked_math.hpp"
#include "nn/functional/linear.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::unit_scaling::functional {

namespace F = nn::functional;

Tensor scale_fwd_bwd(const Tensor& x, double fwd_scale, double bwd_scale) {
  check(x.defined(), "scale_fwd_bwd: input is an undefined tensor");
  check(std::isfinite(fwd_scale) && std::isfinite(bwd_scale),
        "scale_fwd_bwd: scales must be finite, got fwd_scale={}, bwd_scale={}", fwd_scale,
        bwd_scale);
  check(is_inexact(x.dtype()),
        "scale_fwd_bwd: expected a floating point or complex input, got {} (an integer tensor "
        "has no gradient to scale)",
        x.dtype());
  Tensor out;
  {
    NoGradGuard no_grad;
    // mul by a wrapped number keeps x's dtype (float16 stays float16: computed in float32,
    // rounded once).
    out = mul(x, Scalar(fwd_scale));
  }
  if (autograd::needs_grad(x)) {
    autograd::record("ScaledGradBackward", {&x}, out,
                     [bwd_scale](std::span<const Tensor> g,
                                 autograd::GradMask need) -> std::vector<Tensor> {
                       if (!need[0]) return {Tensor()};
                       return {mul(g[0], Scalar(bwd_scale))};
                     });
  }
  return out;
}

namespace {

// Inside the layers: a gradient scale on an input that records nothing would be a copy for
// nothing, and the layer never writes its inputs, so the input itself is passed on.
Tensor bwd_only(const Tensor& x, double scale) {
  if (!x.defined() || !autograd::needs_grad(x)) return x;
  return scale_fwd_bwd(x, 1.0, scale);
}

// The output scale on a result the layer just made: in place when nothing is recorded.
Tensor fwd_only(Tensor y, double scale) {
  if (!autograd::needs_grad(y)) {
    NoGradGuard no_grad;
    y.mul_(Scalar(scale));
    return y;
  }
  return scale_fwd_bwd(y, scale, 1.0);
}

// batch_size^-1/2, with an empty batch (no weight-gradient terms at all) given scale 1.
double batch_scale(std::int64_t batch_size) {
  return batch_size > 0 ? 1.0 / std::sqrt(static_cast<double>(batch_size)) : 1.0;
}

}  // namespace

// --- conv1d ---------------------------------------------------------------------------------

Conv1dScales conv1d_scales(const Shape& input_shape, const Shape& weight_shape,
                           const Conv1dFuncOptions& options) {
  const auto& o = options.conv_;
  check(input_shape.size() == 2 || input_shape.size() == 3,
        "unit_scaling.conv1d: expected a 2-D (unbatched) or 3-D (batched) input, got input of "
        "shape {}",
        input_shape);
  check(weight_shape.size() == 3,
        "unit_scaling.conv1d: expected a 3-D weight (out_channels, in_channels/groups, "
        "kernel_size), got weight of shape {}",
        weight_shape);
  F::check_conv1d_options(o, "unit_scaling.conv1d");
  const std::int64_t fan_out = weight_shape[0], fan_in = weight_shape[1], k = weight_shape[2];
  const std::int64_t c_in = input_shape[input_shape.size() - 2];
  const std::int64_t length = input_shape[input_shape.size() - 1];
  check(c_in == fan_in * o.groups_,
        "unit_scaling.conv1d: Given groups={}, weight of size {}, expected input{} to have {} "
        "channels, but got {} channels instead",
        o.groups_, weight_shape, input_shape, fan_in * o.groups_, c_in);
  check(fan_in > 0 && fan_out > 0,
        "unit_scaling.conv1d: weight of size {} has no input or output channels, so no unit "
        "scale (fan_in * kernel_size and fan_out * kernel_size must be positive)",
        weight_shape);
  auto [left, right] = F::resolve_padding(o, k);
  backends::Conv1dParams params{o.stride_, left, right, o.dilation_, o.groups_};
  const std::int64_t l_out = params.out_length(length, k);
  const std::int64_t batch = input_shape.size() == 3 ? input_shape[0] : 1;
  const std::optional<std::int64_t> batch_size = checked_mul(l_out, batch);
  check(batch_size.has_value(), "unit_scaling.conv1d: batch_size L_out * N = {} * {} overflows",
        l_out, batch);

  const double fan_in_k = static_cast<double>(fan_in) * static_cast<double>(k);
  const double fan_out_k = static_cast<double>(fan_out) * static_cast<double>(k);
  const double output = 1.0 / std::sqrt(fan_in_k);
  const double grad_input =
      std::sqrt(static_cast<double>(o.stride_) * static_cast<double>(o.groups_) / fan_out_k);
  auto [out_s, in_s] =
      apply_constraint(options.constraint_, output, grad_input, "unit_scaling.conv1d");
  const double gw = batch_scale(*batch_size);
  return {out_s, in_s, gw, gw};
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias,
              const Conv1dFuncOptions& options) {
  check(input.defined() && weight.defined(),
        "unit_scaling.conv1d: input and weight must be defined tensors");
  const Conv1dScales s = conv1d_scales(input.sizes(), weight.sizes(), options);
  // Each operand's gradient gets its own scale, as the original's scaled conv does; the plain
  // op in between pads once (every padding mode, 'same', 'causal') and checks the rest.
  Tensor y = F::conv1d(bwd_only(input, s.grad_input), bwd_only(weight, s.grad_weight),
                       bwd_only(bias, s.grad_bias), options.conv_);
  return fwd_only(std::move(y), s.output);
}

// --- linear ---------------------------------------------------------------------------------

LinearScales linear_scales(const Shape& input_shape, const Shape& weight_shape,
                           Constraint constraint) {
  check(weight_shape.size() == 2,
        "unit_scaling.linear: expected a 2-D weight (out_features, in_features), got weight of "
        "shape {}",
        weight_shape);
  check(!input_shape.empty() && input_shape[input_shape.size() - 1] == weight_shape[1],
        "unit_scaling.linear: input of shape {} and weight of shape {} cannot be multiplied "
        "(expected the input's last dim to be in_features={})",
        input_shape, weight_shape, weight_shape[1]);
  const std::int64_t fan_out = weight_shape[0], fan_in = weight_shape[1];
  check(fan_in > 0 && fan_out > 0,
        "unit_scaling.linear: weight of shape {} has no input or output features, so no unit "
        "scale",
        weight_shape);
  const std::int64_t batch_size = numel_of(input_shape) / fan_in;
  auto [out_s, in_s] = apply_constraint(constraint, 1.0 / std::sqrt(static_cast<double>(fan_in)),
                                        1.0 / std::sqrt(static_cast<double>(fan_out)),
                                        "unit_scaling.linear");
  const double gw = batch_scale(batch_size);
  return {out_s, in_s, gw, gw};
}

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias,
              Constraint constraint) {
  check(input.defined() && weight.defined(),
        "unit_scaling.linear: input and weight must be defined tensors");
  const LinearScales s = linear_scales(input.sizes(), weight.sizes(), constraint);
  Tensor y = F::linear(bwd_only(input, s.grad_input), bwd_only(weight, s.grad_weight),
                       bwd_only(bias, s.grad_bias));
  return fwd_only(std::move(y), s.output);
}

// --- residual connections -----------------------------------------------------------------------

namespace {
void check_tau(double tau, const char* op) {
  check(std::isfinite(tau) && tau >= 0, "{}: tau must be finite and non-negative, got {}", op,
        tau);
}
}  // namespace

std::pair<Tensor, Tensor> residual_split(const Tensor& input, double tau) {
  check_tau(tau, "residual_split");
  const double denom = std::sqrt(1.0 + tau * tau);
  return {scale_bwd(input, tau / denom), scale_bwd(input, 1.0 / denom)};
}

Tensor residual_add(const Tensor& residual, const Tensor& skip, double tau) {
  check_tau(tau, "residual_add");
  const double denom = std::sqrt(1.0 + tau * tau);
  return add(scale_fwd(residual, tau / denom), scale_fwd(skip, 1.0 / denom));
}

Tensor residual_apply(const std::function<Tensor(const Tensor&)>& branch, const Tensor& input,
                      double tau) {
  check(static_cast<bool>(branch), "residual_apply: branch is an empty function");
  auto [residual, skip] = residual_split(input, tau);
  return residual_add(branch(residual), skip, tau);
}

// --- loss ---------------------------------------------------------------------------------------

Tensor mse_loss(const Tensor& input, const Tensor& target,
                const F::MSELossFuncOptions& options) {
  check(input.defined() && target.defined(),
        "unit_scaling.mse_loss: input and target must be defined tensors");
  check(input.sizes() == target.sizes(),
        "unit_scaling.mse_loss: requires input.shape == target.shape, got input of shape {} and "
        "target of shape {}",
        input.sizes(), target.sizes());
  check(options.reduction_ == kMean || options.reduction_ == kSum,
        "unit_scaling.mse_loss: reduction must be 'mean' or 'sum', got '{}'",
        reduction_name(options.reduction_));
  check(!options.mask_.defined(), "unit_scaling.mse_loss: a mask is not supported");
  const double grad_scale = 1.0 / std::sqrt(8.0);
  const Tensor x = bwd_only(input, grad_scale), t = bwd_only(target, grad_scale);
  if (input.numel() == 0) {
    // Nothing to scale: the plain loss (NaN for the mean of nothing, as PyTorch's).
    return F::mse_loss(x, t, F::MSELossFuncOptions(options.reduction_));
  }
  Tensor loss = F::mse_loss(x, t, F::MSELossFuncOptions(kSum));
  if (options.reduction_ == kSum) return loss;
  return fwd_only(std::move(loss), 1.0 / static_cast<double>(input.numel()));
}

}  // namespace reel::nn::unit_scaling::functional
