// cross_entropy and nll_loss (torch.nn.functional's), over class indices on the fused kernels
// of the op table (backends/reference/loss.cpp), and cross_entropy over class probabilities
// composed from log_softmax.
//
// Shapes, as PyTorch: input (N, C), (N, C, d1, ..., dk) or unbatched (C); class-index target
// (N), (N, d1, ..., dk) or (); class-probability target: the input's shape. The kernels see
// input as [N, C, L] (L = d1 * ... * dk, a view when the input is contiguous) and target as
// [N, L]; they write the per-element losses, which are reduced here:
//
//   none: the losses in the target's shape;  sum: their sum;
//   mean: their sum / the sum of w[target] over the targets that are not ignore_index
//         (the count when there is no weight; NaN when every target is ignored, as PyTorch).
#include <array>

#include "autograd/record.hpp"
#include "nn/functional/internal.hpp"
#include "nn/functional/loss.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

// The input as [N, C, L] and the target as [N, L], after PyTorch's checks of the pair.
struct ClassGeometry {
  Tensor input;   // [N, C, L], reshaped with autograd (a view when contiguous)
  Tensor target;  // [N, L] int64
};

ClassGeometry class_geometry(const char* op, const Tensor& input, const Tensor& target) {
  check(target.dtype() == kInt64, "{}: expected scalar type Long but found {} (class indices "
        "must be int64)", op, target.dtype());
  check(target.device() == input.device(), "{}: expected the target on the input's device {}, "
        "got {}", op, input.device(), target.device());
  const std::int64_t dim = input.dim();
  check(dim >= 1, "{}: Expected 1 or more dimensions (got {})", op, dim);
  if (dim == 1) {
    check(target.dim() == 0, "{}: size mismatch (got input: {}, target: {})", op, input.sizes(),
          target.sizes());
    return {input.reshape({1, input.size(0), 1}), target.reshape({1, 1})};
  }
  check(target.dim() >= 1 && input.size(0) == target.size(0),
        "{}: Expected input batch_size ({}) to match target batch_size ({}).", op, input.size(0),
        target.dim() >= 1 ? target.size(0) : 0);
  if (dim == 2) {
    check(target.dim() == 1, "{}: 0D or 1D target tensor expected, multi-target not supported",
          op);
  } else {
    Shape expected{input.size(0)};
    for (std::int64_t d = 2; d < dim; ++d) expected.push_back(input.size(d));
    check(target.sizes() == expected, "{}: Expected target size {}, got {}", op, expected,
          target.sizes());
  }
  const std::int64_t n = input.size(0), c = input.size(1);
  std::int64_t l = 1;
  for (std::int64_t d = 2; d < dim; ++d) l *= input.size(d);
  return {input.reshape({n, c, l}), target.reshape({n, l})};
}

// weight: undefined or a (C) floating tensor of the input's dtype and device.
Tensor checked_weight(const char* op, const Tensor& weight, const Tensor& input,
                      std::int64_t classes) {
  if (!weight.defined()) return weight;
  check(weight.dim() == 1 && weight.numel() == classes,
        "{}: weight tensor should be defined either for all {} classes or no classes but got "
        "weight tensor of shape: {}", op, classes, weight.sizes());
  check(weight.dtype() == input.dtype(), "{}: expected a weight of the input's dtype {}, got {}",
        op, input.dtype(), weight.dtype());
  check(weight.device() == input.device(), "{}: expected the weight on the input's device {}, "
        "got {}", op, input.device(), weight.device());
  NoGradGuard no_grad;  // class weights are constants (PyTorch does not differentiate them)
  return weight.detach().contiguous();
}

backends::View view_or_null(const Tensor& t) { return t.defined() ? view_of(t) : backends::View{}; }

// The fused kernels and their tape entry; `logits` picks cross_entropy over nll_loss. Returns
// the reduced loss.
Tensor class_index_loss(const char* op, const Tensor& input, const Tensor& target,
                        const Tensor& weight_in, std::int64_t ignore_index,
                        double label_smoothing, Reduction reduction, bool logits,
                        const Tensor& mask) {
  const std::int64_t classes = input.dim() == 1 ? input.size(0) : input.size(1);
  const Tensor weight = checked_weight(op, weight_in, input, classes);
  // A mask (issue 8), of the target's shape (the unreduced loss's) or broadcastable to it, sets
  // the masked targets to ignore_index: their loss is 0, their gradient 0, and kMean divides by
  // the sum of the weights of the other targets, exactly as PyTorch's ignore_index. A masked
  // target need not be a valid class (a padded step may hold anything).
  Tensor masked_target;
  if (mask.defined()) {
    NoGradGuard no_grad;
    check(target.device() == input.device(), "{}: expected the target on the input's device {}, "
          "got {}", op, input.device(), target.device());
    check(target.dtype() == kInt64, "{}: expected scalar type Long but found {} (class indices "
          "must be int64)", op, target.dtype());
    const Tensor m = detail::checked_loss_mask(op, mask, target.sizes(), input.device());
    masked_target = where(m, target, full_like(target, Scalar(ignore_index)));
  }
  const ClassGeometry g = class_geometry(op, input, mask.defined() ? masked_target : target);
  const Tensor& x = g.input;
  const Shape per_element{x.size(0), x.size(2)};
  Tensor losses = empty(per_element, x.options());
  Tensor lse = logits ? empty(per_element, x.options()) : Tensor();
  Tensor target_weight = reduction == kMean ? empty(per_element, x.options()) : Tensor();
  const backends::CrossEntropyParams p{ignore_index, label_smoothing};
  backends::Backend& backend = backend_for(x.device());
  if (losses.numel() > 0) {
    if (logits) {
      backend.cross_entropy(view_of(losses), view_of(lse), view_or_null(target_weight),
                            view_of(x.detach()), view_of(g.target), view_or_null(weight), p);
    } else {
      backend.nll_loss(view_of(losses), view_or_null(target_weight), view_of(x.detach()),
                       view_of(g.target), view_or_null(weight), p);
    }
  }
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx = logits ? autograd::SavedTensor(x) : autograd::SavedTensor();
    autograd::SavedTensor st(g.target);
    const Shape x_shape = x.sizes();
    autograd::record(
        logits ? "CrossEntropyLossBackward" : "NllLossBackward", {&x}, losses,
        [sx, st, lse, weight, p, x_shape, logits](std::span<const Tensor> grads,
                                                  autograd::GradMask) -> std::vector<Tensor> {
          const Tensor& go = grads[0];
          Tensor gx = empty(x_shape, go.options());
          if (gx.numel() == 0) return {gx};
          if (go.numel() == 0) {
            gx.zero_();
            return {gx};
          }
          backends::Backend& be = backend_for(go.device());
          if (logits) {
            be.cross_entropy_backward(view_of(gx), view_of(go), view_of(sx.unpack()),
                                      view_of(lse), view_of(st.unpack()), view_or_null(weight),
                                      p);
          } else {
            be.nll_loss_backward(view_of(gx), view_of(go), view_of(st.unpack()),
                                 view_or_null(weight), p);
          }
          return {gx};
        });
  }
  switch (reduction) {
    case Reduction::None: return losses.reshape(target.sizes());
    case Reduction::Sum: return sum(losses);
    case Reduction::Mean: return div(sum(losses), sum(target_weight));
    case Reduction::BatchMean: break;
  }
  fail("{}: reduction 'batchmean' is only valid for kl_div (KLDivLoss); expected 'none', "
       "'mean' or 'sum'", op);
}

void check_label_smoothing(double s) {
  check(s >= 0.0 && s <= 1.0, "cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: {}",
        s);
}

}  // namespace

Tensor cross_entropy(const Tensor& input_arg, const Tensor& target_arg,
                     const CrossEntropyFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "cross_entropy";
  check(input.defined() && target.defined(), "{}: input and target must be defined", op);
  check(input.is_floating_point(), "{}: expected a floating point input, got dtype {}", op,
        input.dtype());
  check_label_smoothing(o.label_smoothing_);
  check(input.dim() >= 1, "{}: Expected 1 or more dimensions (got {})", op, input.dim());
  if (input.sizes() != target.sizes()) {
    return class_index_loss(op, input, target, o.weight_, o.ignore_index_, o.label_smoothing_,
                            o.reduction_, /*logits=*/true, o.mask_);
  }
  // Class probabilities (PyTorch assumes them when the shapes agree). As PyTorch, rows are not
  // checked to sum to 1 (nor to be non-negative): the formula is applied as it stands.
  check(target.is_floating_point(),
        "{}: Expected floating point type for target with class probabilities, got {}", op,
        target.dtype());
  check(o.ignore_index_ < 0, "{}: ignore_index is not supported for floating point target", op);
  check(target.device() == input.device(), "{}: expected the target on the input's device {}, "
        "got {}", op, input.device(), target.device());
  const std::int64_t class_dim = input.dim() == 1 ? 0 : 1;
  const std::int64_t classes = input.size(class_dim);
  const Tensor weight = checked_weight(op, o.weight_, input, classes);
  // loss = -sum_c w_c * t_c * log_softmax(x)_c, with t smoothed to t * (1 - s) + s / C.
  Tensor t = target;
  if (o.label_smoothing_ > 0.0) {
    t = add(mul(target, Scalar(1.0 - o.label_smoothing_)),
            Scalar(o.label_smoothing_ / static_cast<double>(classes)));
  }
  Tensor prod = mul(log_softmax(input, class_dim), t);
  if (weight.defined()) {
    Shape wshape;
    for (std::int64_t d = 0; d < input.dim(); ++d) wshape.push_back(d == class_dim ? classes : 1);
    prod = mul(prod, weight.view(wshape));
  }
  Tensor per = neg(sum(prod, {class_dim}));
  // Masked (issue 8): kMean divides by the number of unmasked positions.
  if (o.mask_.defined()) return detail::masked_loss_reduce(op, per, o.mask_, o.reduction_);
  switch (o.reduction_) {
    case Reduction::None: return per;
    case Reduction::Sum: return sum(per);
    // PyTorch divides by the number of positions (N * d1 * ... * dk), weights or not.
    case Reduction::Mean:
      return div(sum(per), Scalar(static_cast<double>(per.numel())));
    case Reduction::BatchMean: break;
  }
  fail("{}: reduction 'batchmean' is only valid for kl_div (KLDivLoss); expected 'none', "
       "'mean' or 'sum'", op);
}

Tensor nll_loss(const Tensor& input_arg, const Tensor& target_arg, const NLLLossFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const Tensor target = reel::detail::autocast_float32(target_arg);
  const char* op = "nll_loss";
  check(input.defined() && target.defined(), "{}: input and target must be defined", op);
  check(input.is_floating_point(), "{}: expected a floating point input, got dtype {}", op,
        input.dtype());
  return class_index_loss(op, input, target, o.weight_, o.ignore_index_, 0.0, o.reduction_,
                          /*logits=*/false, o.mask_);
}

}  // namespace reel::nn::functional
