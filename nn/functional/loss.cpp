// The losses of torch.nn.functional (PyTorch 1.13's formulas, aten/src/ATen/native/Loss.cpp,
// LossNLL.cpp, torch/nn/functional.py).
//
// Pointwise losses are composed from the tensor ops, whose tape entries give PyTorch's
// gradients (MSE, L1, smooth L1, Huber, KL divergence). Where PyTorch's backward is not the
// derivative of its forward as composed — BCE's clamped logs, BCE-with-logits' stable form —
// the per-element loss is computed without a tape and one entry records PyTorch's own backward
// formula. Class-index cross-entropy and NLL run on the fused kernels of the op table
// (cross_entropy / nll_loss rows): per-element losses, then the reduction as ordinary ops.
#include "nn/functional/loss.hpp"

#include <array>

#include "autograd/record.hpp"
#include "nn/functional/internal.hpp"
#include "tensor/ops.hpp"

namespace reel::nn {

std::string reduction_name(Reduction r) {
  switch (r) {
    case Reduction::None: return "none";
    case Reduction::Mean: return "mean";
    case Reduction::Sum: return "sum";
    case Reduction::BatchMean: return "batchmean";
  }
  return "";
}

Reduction reduction_from_string(std::string_view name) {
  if (name == "none") return kNone;
  if (name == "mean") return kMean;
  if (name == "sum") return kSum;
  if (name == "batchmean") return kBatchMean;
  fail("{} is not a valid value for reduction", name);
}

}  // namespace reel::nn

namespace reel::nn::functional {

namespace {

// none / mean / sum of per-element losses (batchmean is kl_div's own), masked when a mask is
// given.
Tensor reduce(const Tensor& loss, Reduction r, const char* op, const Tensor& mask = Tensor()) {
  if (mask.defined()) return detail::masked_loss_reduce(op, loss, mask, r);
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Mean: return mean(loss);
    case Reduction::Sum: return sum(loss);
    case Reduction::BatchMean: break;
  }
  fail("{}: reduction 'batchmean' is only valid for kl_div (KLDivLoss); expected 'none', "
       "'mean' or 'sum'", op);
}

void check_floating(const char* op, const char* what, const Tensor& t) {
  check(t.defined(), "{}: {} is an undefined tensor", op, what);
  check(t.is_floating_point(), "{}: expected a floating point {}, got dtype {}", op, what,
        t.dtype());
}

void check_same_device(const char* op, const Tensor& input, const char* what, const Tensor& t) {
  check(t.device() == input.device(),
        "{}: expected {} on the input's device {}, got {}", op, what, input.device(), t.device());
}

// Input and target of a pointwise loss: floating, on one device, broadcastable (PyTorch warns
// on a size mismatch and broadcasts).
void check_pointwise(const char* op, const Tensor& input, const Tensor& target) {
  check_floating(op, "input", input);
  check_floating(op, "target", target);
  check_same_device(op, input, "target", target);
  broadcast_shapes(input.sizes(), target.sizes(), op);
}

// log1p(y) without a log1p primitive: log(u) * y / (u - 1) with u = 1 + y is accurate to a
// few ulps (Goldberg, What Every Computer Scientist Should Know About Floating-Point
// Arithmetic, Theorem 4); where u rounds to 1, log1p(y) = y. No tape entry.
Tensor log1p_no_grad(const Tensor& y) {
  NoGradGuard no_grad;
  Tensor u = add(y, Scalar(1.0));
  Tensor um1 = sub(u, Scalar(1.0));
  Tensor safe = where(eq(um1, Scalar(0.0)), Scalar(1.0), um1);
  return where(eq(um1, Scalar(0.0)), y, div(mul(log(u), y), safe));
}

// A weight that must broadcast to the input's shape without enlarging it.
void check_broadcasts_to(const char* op, const char* what, const Tensor& w, const Tensor& input) {
  check_floating(op, what, w);
  check_same_device(op, input, what, w);
  check(broadcast_shapes(w.sizes(), input.sizes(), op) == input.sizes(),
        "{}: {} of shape {} does not broadcast to the input's shape {}", op, what, w.sizes(),
        input.sizes());
}

}  // namespace

// --- pointwise: L1, MSE, smooth L1, Huber -------------------------------------------------------

Tensor l1_loss(const Tensor& input_arg, const Tensor& target_arg, const L1LossFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  check_pointwise("l1_loss", input, target);
  return reduce(abs(sub(input, target)), o.reduction_, "l1_loss", o.mask_);
}

Tensor mse_loss(const Tensor& input_arg, const Tensor& target_arg, const MSELossFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  check_pointwise("mse_loss", input, target);
  Tensor d = sub(input, target);
  return reduce(mul(d, d), o.reduction_, "mse_loss", o.mask_);
}

Tensor smooth_l1_loss(const Tensor& input_arg, const Tensor& target_arg,
                      const SmoothL1LossFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "smooth_l1_loss";
  check(o.beta_ >= 0.0, "{}: smooth_l1_loss does not support negative values for beta (got {})",
        op, o.beta_);
  check_pointwise(op, input, target);
  const double beta = o.beta_;
  // z = |d|: 0.5 * z^2 / beta where z < beta, else z - 0.5 * beta (beta = 0: |d|, no division).
  Tensor d, loss;
  {
    NoGradGuard no_grad;
    d = sub(input.detach(), target.detach());
    Tensor z = abs(d);
    loss = beta == 0.0 ? z
                       : where(lt(z, Scalar(beta)), div(mul(mul(z, z), Scalar(0.5)), Scalar(beta)),
                               sub(z, Scalar(0.5 * beta)));
  }
  if (autograd::needs_grad(input, target)) {
    // ATen's smooth_l1_backward: -1 where d <= -beta, 1 where d >= beta, d / beta between. With
    // beta = 0 a zero difference takes the first branch (-1), where the L1 loss's sign(0) is 0:
    // PyTorch's numbers, kept.
    const Shape in_shape = input.sizes(), t_shape = target.sizes();
    autograd::record(
        "SmoothL1LossBackward", {&input, &target}, loss,
        [d, beta, in_shape, t_shape](std::span<const Tensor> g,
                                     autograd::GradMask need) -> std::vector<Tensor> {
          auto slope = [beta](const Tensor& v) {
            return where(le(v, Scalar(-beta)), Scalar(-1.0),
                         where(ge(v, Scalar(beta)), Scalar(1.0),
                               beta == 0.0 ? zeros_like(v) : div(v, Scalar(beta))));
          };
          // The target's gradient is the same kernel with input and target swapped (-d).
          return {need[0] ? sum_to(mul(g[0], slope(d)), in_shape) : Tensor(),
                  need[1] ? sum_to(mul(g[0], slope(neg(d))), t_shape) : Tensor()};
        });
  }
  return reduce(loss, o.reduction_, op, o.mask_);
}

Tensor huber_loss(const Tensor& input_arg, const Tensor& target_arg, const HuberLossFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "huber_loss";
  check(o.delta_ > 0.0, "{}: huber_loss does not support non-positive values for delta (got {})",
        op, o.delta_);
  check_pointwise(op, input, target);
  Tensor z = abs(sub(input, target));
  Tensor loss = where(lt(z, Scalar(o.delta_)), mul(mul(z, z), Scalar(0.5)),
                      mul(sub(z, Scalar(0.5 * o.delta_)), Scalar(o.delta_)));
  return reduce(loss, o.reduction_, op, o.mask_);
}

// --- KL divergence -----------------------------------------------------------------------------

Tensor kl_div(const Tensor& input_arg, const Tensor& target_arg, const KLDivFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "kl_div";
  check_pointwise(op, input, target);
  Tensor loss;
  if (o.log_target_) {
    loss = mul(exp(target), sub(target, input));
  } else {
    // xlogy(t, t) - t * x: 0 where t == 0 (the limit of t log t), NaN for t < 0 as log's.
    Tensor zero = eq(target, Scalar(0.0));
    Tensor t_log_t = where(zero, Scalar(0.0), mul(target, log(where(zero, Scalar(1.0), target))));
    loss = sub(t_log_t, mul(target, input));
  }
  if (o.reduction_ == kBatchMean) {
    // The sum over the batch's size (the true KL divergence per sample); 0-d: the sum.
    Tensor s = sum(loss);
    return input.dim() == 0 ? s : div(s, Scalar(static_cast<double>(input.size(0))));
  }
  return reduce(loss, o.reduction_, op);
}

// --- binary cross-entropy ----------------------------------------------------------------------

Tensor binary_cross_entropy(const Tensor& input_arg, const Tensor& target_arg,
                            const BinaryCrossEntropyFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "binary_cross_entropy";
  check_floating(op, "input", input);
  check_floating(op, "target", target);
  check_same_device(op, input, "target", target);
  check(input.sizes() == target.sizes(),
        "{}: Using a target size ({}) that is different to the input size ({}) is deprecated. "
        "Please ensure they have the same size.", op, target.sizes(), input.sizes());
  check(input.dtype() == target.dtype(),
        "{}: expected input and target of one dtype, got {} and {}", op, input.dtype(),
        target.dtype());
  const Tensor& w = o.weight_;
  if (w.defined()) check_broadcasts_to(op, "weight", w, input);

  Tensor loss, log_x, log_1mx;
  {
    NoGradGuard no_grad;
    const Tensor x = input.detach(), t = target.detach();
    // PyTorch checks every element (a NaN fails too).
    check(!any(logical_not(logical_and(ge(x, Scalar(0.0)), le(x, Scalar(1.0))))).item<bool>(),
          "{}: all elements of input should be between 0 and 1", op);
    // Logs clamped at -100 so that x = 0 or 1 gives a finite loss (PyTorch's choice):
    //   loss = (t - 1) * max(log(1 - x), -100) - t * max(log(x), -100)
    log_x = maximum(log(x), Scalar(-100.0));
    log_1mx = maximum(log1p_no_grad(neg(x)), Scalar(-100.0));
    loss = sub(mul(sub(t, Scalar(1.0)), log_1mx), mul(t, log_x));
    if (w.defined()) loss = mul(loss, w.detach());
  }
  if (autograd::needs_grad(input, target)) {
    autograd::SavedTensor sx(input), st(target);
    Tensor wd = w.defined() ? w.detach() : Tensor();
    autograd::record(
        "BinaryCrossEntropyBackward", {&input, &target}, loss,
        [sx, st, wd, log_x, log_1mx](std::span<const Tensor> g,
                                     autograd::GradMask need) -> std::vector<Tensor> {
          const Tensor x = sx.unpack(), t = st.unpack();
          Tensor gw = wd.defined() ? mul(g[0], wd) : g[0];
          Tensor gx, gt;
          // PyTorch's: grad * (x - t) / max((1 - x) * x, EPSILON), finite at x = 0 and 1.
          // EPSILON is ATen's `static const float EPSILON = 1e-12`, so float64 divides by
          // float(1e-12) = 9.99999996e-13 too.
          if (need[0]) {
            const double eps = static_cast<double>(1e-12f);
            gx = mul(gw, div(sub(x, t), maximum(mul(neg(sub(x, Scalar(1.0))), x), Scalar(eps))));
          }
          // d/dt = max(log(1 - x), -100) - max(log(x), -100).
          if (need[1]) gt = mul(gw, sub(log_1mx, log_x));
          return {gx, gt};
        });
  }
  return reduce(loss, o.reduction_, op, o.mask_);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input_arg, const Tensor& target_arg,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "binary_cross_entropy_with_logits";
  check_floating(op, "input", input);
  check_floating(op, "target", target);
  check_same_device(op, input, "target", target);
  check(input.sizes() == target.sizes(), "{}: Target size ({}) must be the same as input size ({})",
        op, target.sizes(), input.sizes());
  const Tensor& w = o.weight_;
  const Tensor& pw = o.pos_weight_;
  if (w.defined()) check_broadcasts_to(op, "weight", w, input);
  if (pw.defined()) check_broadcasts_to(op, "pos_weight", pw, input);

  Tensor loss, softplus_neg;
  {
    NoGradGuard no_grad;
    const Tensor x = input.detach(), t = target.detach();
    // softplus(-x) = log(1 + exp(-x)) = log1p(exp(-|x|)) + max(-x, 0): exp never overflows.
    softplus_neg = add(log1p_no_grad(exp(neg(abs(x)))), maximum(neg(x), Scalar(0.0)));
    // (1 - t) * x + (1 + (pw - 1) * t) * softplus(-x)
    Tensor lw = pw.defined() ? add(mul(sub(pw.detach(), Scalar(1.0)), t), Scalar(1.0)) : Tensor();
    loss = add(mul(neg(sub(t, Scalar(1.0))), x),
               lw.defined() ? mul(lw, softplus_neg) : softplus_neg);
    if (w.defined()) loss = mul(loss, w.detach());
  }
  if (autograd::needs_grad(input, target)) {
    autograd::SavedTensor sx(input), st(target);
    Tensor wd = w.defined() ? w.detach() : Tensor();
    Tensor pwd = pw.defined() ? pw.detach() : Tensor();
    autograd::record(
        "BinaryCrossEntropyWithLogitsBackward", {&input, &target}, loss,
        [sx, st, wd, pwd, softplus_neg](std::span<const Tensor> g,
                                        autograd::GradMask need) -> std::vector<Tensor> {
          const Tensor x = sx.unpack(), t = st.unpack();
          Tensor gw = wd.defined() ? mul(g[0], wd) : g[0];
          Tensor gx, gt;
          if (need[0]) {
            // PyTorch's: (pw * t + 1 - t) * sigmoid(x) - pw * t; without pw: sigmoid(x) - t.
            if (pwd.defined()) {
              Tensor pt = mul(pwd, t);
              gx = mul(gw, sub(mul(sub(add(pt, Scalar(1.0)), t), sigmoid(x)), pt));
            } else {
              gx = mul(gw, sub(sigmoid(x), t));
            }
          }
          if (need[1]) {
            // d/dt = -x + (pw - 1) * softplus(-x)
            gt = pwd.defined() ? mul(gw, sub(mul(sub(pwd, Scalar(1.0)), softplus_neg), x))
                               : mul(gw, neg(x));
          }
          return {gx, gt};
        });
  }
  return reduce(loss, o.reduction_, op, o.mask_);
}

// --- masks (issue 8, variable-length sequences) --------------------------------------------

namespace detail {

Tensor checked_loss_mask(const char* op, const Tensor& mask, const Shape& loss_shape,
                         Device device) {
  check(mask.defined(), "{}: mask is an undefined tensor", op);
  check(mask.dtype() == kBool, "{}: expected a bool mask, got dtype {}", op, mask.dtype());
  check(mask.device() == device, "{}: expected the mask on the input's device {}, got {}", op,
        device, mask.device());
  const int rank = loss_shape.size();
  bool fits = mask.dim() <= rank;
  for (int i = 1; fits && i <= mask.dim(); ++i) {
    const std::int64_t m = mask.size(mask.dim() - i);
    fits = m == 1 || m == loss_shape[rank - i];
  }
  check(fits, "{}: mask of shape {} does not broadcast to the unreduced loss's shape {}", op,
        mask.sizes(), loss_shape);
  return mask.sizes() == loss_shape ? mask : mask.expand(loss_shape);
}

Tensor masked_loss_reduce(const char* op, const Tensor& loss, const Tensor& mask,
                          Reduction reduction) {
  const Tensor m = checked_loss_mask(op, mask, loss.sizes(), loss.device());
  // where, not a product: a masked element's inf or NaN loss gives 0, and where's backward
  // sends it a zero gradient.
  Tensor masked = where(m, loss, Scalar(0.0));
  switch (reduction) {
    case Reduction::None: return masked;
    case Reduction::Sum: return sum(masked);
    case Reduction::Mean: {
      Tensor count;
      {
        NoGradGuard no_grad;
        count = sum(m.to(loss.dtype()));
      }
      return div(sum(masked), count);  // 0 / 0 = NaN for a fully masked batch
    }
    case Reduction::BatchMean: break;
  }
  fail("{}: reduction 'batchmean' is only valid for kl_div (KLDivLoss); expected 'none', "
       "'mean' or 'sum'", op);
}

}  // namespace detail

}  // namespace reel::nn::functional
