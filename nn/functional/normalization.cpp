// F.batch_norm, F.instance_norm, F.layer_norm, F.group_norm: validation (PyTorch's words), the
// view of the input each norm means, and one op under all four — norm_op — that runs the
// backend's norm primitives and records one tape entry.
//
// Every norm is the same computation on a 4-d view [N, G, D, L] of its input (backend.hpp,
// NormParams): statistics per (n, g) over (d, l), or per g over (n, d, l) for batch norm, and
// an affine transform per channel (g, d):
//
//   batch_norm     (N, C, *)   -> [N, C, 1, prod(*)], statistics [1, C], weight [C, 1]
//   instance_norm  (N, C, *)   -> [N, C, 1, prod(*)], statistics [N, C], weight [C, 1]
//   group_norm     (N, C, *)   -> [N, G, C/G, prod(*)], statistics [N, G], weight [G, C/G]
//   layer_norm     (*, S...)   -> [prod(*), 1, prod(S), 1], statistics [prod(*), 1], weight [1, prod(S)]
//
// Eval-mode batch norm (and instance norm with running statistics) is the same kernel fed the
// running statistics instead of the batch's; its backward treats them as constants.
#include "nn/functional/normalization.hpp"

#include <array>
#include <string>

#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

// The product of s[first], ..., s[last - 1].
std::int64_t prod_of(const Shape& s, int first, int last) {
  std::int64_t p = 1;
  for (int i = first; i < last; ++i) p *= s[i];
  return p;
}
std::int64_t prod_from(const Shape& s, int first) { return prod_of(s, first, s.size()); }

std::string shape_str(const Tensor& t) {
  return t.defined() ? fmt::format("{}", t.sizes()) : std::string("None");
}

// The input checks every norm shares: defined, floating point, and each optional tensor
// (weight, bias, running statistics) of the input's dtype and device with `numel` elements.
void check_input(const char* op, const Tensor& input) {
  check(input.defined(), "{}: the input tensor is undefined", op);
  check(is_floating(input.dtype()),
        "{}: expected a float32 or float64 input, but got input of dtype {}", op, input.dtype());
}

void check_companion(const char* op, const char* what, const Tensor& t, const Tensor& input) {
  if (!t.defined()) return;
  check(t.dtype() == input.dtype(), "{}: expected {} of dtype {} (the input's), but got {}", op,
        what, input.dtype(), t.dtype());
  check(t.device() == input.device(),
        "{}: expected {} on the input's device {}, but got it on {}", op, what, input.device(),
        t.device());
}

void check_vector(const char* op, const char* what, const Tensor& t, const Tensor& input,
                  std::int64_t channels) {
  if (!t.defined()) return;
  check(t.dim() == 1 && t.size(0) == channels,
        "{}: expected {} of shape [{}] (one per channel of input {}), but got {}", op, what,
        channels, input.sizes(), t.sizes());
  check_companion(op, what, t, input);
}

// One norm call's geometry.
struct Geometry {
  const char* node;  // the tape entry's name
  Shape shape4;      // [N, G, D, L]
  bool shared;       // statistics per group for the whole batch ([1, G]) rather than per sample
};

struct NormResult {
  Tensor out;
  Tensor mean, var;  // [N or 1, G]: the statistics used (batch statistics when computed)
};

// The op. `given_mean` / `given_var` ([1, G]) are running statistics to normalize with, or
// undefined to compute them from the input. weight and bias are the caller's tensors (any
// shape with G*D elements), or undefined.
NormResult norm_op(const Geometry& geo, const Tensor& input, const Tensor& weight,
                   const Tensor& bias, const Tensor& given_mean, const Tensor& given_var,
                   double eps) {
  const std::int64_t n = geo.shape4[0], g = geo.shape4[1], d = geo.shape4[2];
  const bool input_stats = !given_mean.defined();
  Tensor x4, w2, b2, out, out4;
  NormResult r;
  {
    // The views the kernels read, made without tape entries: the one entry below is recorded
    // against the caller's tensors.
    NoGradGuard no_grad;
    x4 = input.reshape(geo.shape4);
    if (weight.defined()) w2 = weight.reshape({g, d});
    if (bias.defined()) b2 = bias.reshape({g, d});
    r.out = empty(input.sizes(), input.options());
    out4 = r.out.view(geo.shape4);
  }
  backends::Backend& backend = backend_for(input.device());
  if (input_stats) {
    r.mean = empty({geo.shared ? 1 : n, g}, input.options());
    r.var = empty({geo.shared ? 1 : n, g}, input.options());
    backend.norm_stats(view_of(r.mean), view_of(r.var), view_of(x4));
  } else {
    r.mean = given_mean;
    r.var = given_var;
  }
  const backends::NormParams params{eps, input_stats};
  backend.norm_forward(view_of(out4), view_of(x4), view_of(r.mean), view_of(r.var),
                       w2.defined() ? view_of(w2) : backends::View{},
                       b2.defined() ? view_of(b2) : backends::View{}, params);

  const std::array<Tensor, 3> inputs{input, weight, bias};
  if (!autograd::needs_grad_any(inputs)) return r;

  // Saved: the input (its 4-d view), the statistics (running statistics are checked for
  // in-place updates before backward reads them, as PyTorch does) and the weight.
  autograd::SavedTensor saved_x(x4), saved_mean(r.mean), saved_var(r.var), saved_w;
  if (w2.defined()) saved_w = autograd::SavedTensor(w2);
  const Shape shape4 = geo.shape4, in_shape = input.sizes();
  const Shape w_shape = weight.defined() ? weight.sizes() : Shape{};
  const Shape b_shape = bias.defined() ? bias.sizes() : Shape{};
  autograd::record(
      geo.node, {&input, &weight, &bias}, r.out,
      [saved_x, saved_mean, saved_var, saved_w, shape4, in_shape, w_shape, b_shape, g, d,
       params](std::span<const Tensor> grads, autograd::GradMask need) -> std::vector<Tensor> {
        const Tensor go = grads[0].contiguous().view(shape4);
        const Tensor x = saved_x.unpack(), mean = saved_mean.unpack(), var = saved_var.unpack();
        const Tensor w = saved_w.defined() ? saved_w.unpack() : Tensor();
        Tensor gx, gw, gb;
        backends::View gx_v, gw_v, gb_v;
        if (need[0]) {
          gx = empty(in_shape, go.options());
          gx_v = view_of(gx.view(shape4));
        }
        if (need[1] && !w_shape.empty()) {
          gw = empty(w_shape, go.options());
          gw_v = view_of(gw.view({g, d}));
        }
        if (need[2] && !b_shape.empty()) {
          gb = empty(b_shape, go.options());
          gb_v = view_of(gb.view({g, d}));
        }
        backend_for(go.device())
            .norm_backward(gx_v, gw_v, gb_v, view_of(go), view_of(x), view_of(mean),
                           view_of(var), w.defined() ? view_of(w) : backends::View{}, params);
        return {gx, gw, gb};
      });
  return r;
}

// running = (1 - momentum) * running + momentum * batch, in place and off the tape.
void update_running(Tensor running, const Tensor& batch, double momentum) {
  NoGradGuard no_grad;
  running.mul_(1.0 - momentum);
  running.add_(batch, momentum);
}

}  // namespace

Tensor batch_norm(const Tensor& input_arg, const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const char* op = "batch_norm";
  check_input(op, input);
  check(input.dim() >= 2,
        "{}: expected input of shape (N, C) or (N, C, *) with at least 2 dims, but got input of "
        "size {}",
        op, input.sizes());
  const std::int64_t n = input.size(0), c = input.size(1), l = prod_from(input.sizes(), 2);
  check_vector(op, "weight", o.weight_, input, c);
  check_vector(op, "bias", o.bias_, input, c);
  check_vector(op, "running_mean", running_mean, input, c);
  check_vector(op, "running_var", running_var, input, c);
  check(running_mean.defined() == running_var.defined(),
        "{}: running_mean and running_var must both be defined or both be undefined, got "
        "running_mean {} and running_var {}",
        op, shape_str(running_mean), shape_str(running_var));
  if (o.training_) {
    check(n * l != 1,
          "{}: Expected more than 1 value per channel when training, got input size {}", op,
          input.sizes());
  } else {
    check(running_mean.defined(), "{}: running_mean must be defined in evaluation mode", op);
  }
  const bool update = o.training_ && running_mean.defined() && input.numel() > 0;
  check(!update || o.momentum_.has_value(),
        "{}: momentum must be a number to update the running statistics (momentum=None is "
        "the module's cumulative average: nn::BatchNorm1d passes 1/num_batches_tracked)",
        op);

  const Geometry geo{"NativeBatchNormBackward", {n, c, 1, l}, true};
  NormResult r;
  if (o.training_) {
    r = norm_op(geo, input, o.weight_, o.bias_, Tensor(), Tensor(), o.eps_);
  } else {
    Tensor mean, var;
    {
      NoGradGuard no_grad;  // only the views: norm_op records its own entry
      mean = running_mean.view({1, c});
      var = running_var.view({1, c});
    }
    r = norm_op(geo, input, o.weight_, o.bias_, mean, var, o.eps_);
  }
  if (update) {
    const double count = static_cast<double>(n * l);
    NoGradGuard no_grad;
    update_running(running_mean, r.mean.view({c}), *o.momentum_);
    update_running(running_var, r.var.view({c}) * (count / (count - 1.0)), *o.momentum_);
  }
  return r.out;
}

Tensor instance_norm(const Tensor& input_arg, const InstanceNormFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const char* op = "instance_norm";
  check_input(op, input);
  check(input.dim() >= 2,
        "{}: expected input of shape (N, C, *) with at least 2 dims, but got input of size {}",
        op, input.sizes());
  const std::int64_t n = input.size(0), c = input.size(1), l = prod_from(input.sizes(), 2);
  check_vector(op, "weight", o.weight_, input, c);
  check_vector(op, "bias", o.bias_, input, c);
  check_vector(op, "running_mean", o.running_mean_, input, c);
  check_vector(op, "running_var", o.running_var_, input, c);
  check(o.running_mean_.defined() == o.running_var_.defined(),
        "{}: running_mean and running_var must both be defined or both be undefined, got "
        "running_mean {} and running_var {}",
        op, shape_str(o.running_mean_), shape_str(o.running_var_));
  if (!o.use_input_stats_) {
    check(o.running_mean_.defined(),
          "{}: Expected running_mean and running_var to be defined when use_input_stats is "
          "false",
          op);
    Tensor mean, var;
    {
      NoGradGuard no_grad;
      mean = o.running_mean_.view({1, c});
      var = o.running_var_.view({1, c});
    }
    return norm_op({"NativeBatchNormBackward", {n, c, 1, l}, true}, input, o.weight_, o.bias_,
                   mean, var, o.eps_)
        .out;
  }
  check(l != 1, "{}: Expected more than 1 spatial element when training, got input size {}", op,
        input.sizes());
  NormResult r = norm_op({"NativeBatchNormBackward", {n, c, 1, l}, false}, input, o.weight_,
                         o.bias_, Tensor(), Tensor(), o.eps_);
  if (o.running_mean_.defined() && input.numel() > 0) {
    // PyTorch runs batch norm on the input viewed as (1, N*C, L) with the running statistics
    // repeated N times, then averages the N updated copies: the update uses the batch mean of
    // the per-instance means and unbiased variances.
    NoGradGuard no_grad;
    const double count = static_cast<double>(l);
    update_running(o.running_mean_, mean(r.mean, {0}), o.momentum_);
    update_running(o.running_var_, mean(r.var, {0}) * (count / (count - 1.0)), o.momentum_);
  }
  return r.out;
}

Tensor layer_norm(const Tensor& input_arg, const LayerNormFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const char* op = "layer_norm";
  check_input(op, input);
  check(o.normalized_shape_.size() <= static_cast<std::size_t>(kMaxDims),
        "{}: normalized_shape has {} dims, more than any input can have", op,
        o.normalized_shape_.size());
  const Shape ns(o.normalized_shape_);
  check(!ns.empty(), "{}: Expected normalized_shape to be at least 1-dimensional, i.e., "
        "containing at least one element, but got normalized_shape = {}", op, ns);
  const int k = ns.size();
  bool matches = input.dim() >= k;
  for (int i = 0; matches && i < k; ++i) matches = input.size(input.dim() - k + i) == ns[i];
  check(matches,
        "{}: Given normalized_shape={}, expected input with shape [*, {}], but got input of "
        "size{}",
        op, ns, fmt::join(ns, ", "), input.sizes());
  for (const auto& [what, t] : {std::pair{"weight", &o.weight_}, std::pair{"bias", &o.bias_}}) {
    check(!t->defined() || t->sizes() == ns,
          "{}: Expected {} to be of same shape as normalized_shape, but got {} of shape {} and "
          "normalized_shape = {}",
          op, what, what, shape_str(*t), ns);
    check_companion(op, what, *t, input);
  }
  const std::int64_t d = prod_from(input.sizes(), input.dim() - k);
  const std::int64_t m = prod_of(input.sizes(), 0, input.dim() - k);
  return norm_op({"NativeLayerNormBackward", {m, 1, d, 1}, false}, input, o.weight_, o.bias_,
                 Tensor(), Tensor(), o.eps_)
      .out;
}

Tensor group_norm(const Tensor& input_arg, const GroupNormFuncOptions& o) {
  const Tensor input = reel::detail::autocast_float32(input_arg);  // autocast's float32 list
  const char* op = "group_norm";
  check_input(op, input);
  check(input.dim() >= 2,
        "{}: Expected at least 2 dimensions for input tensor but received {}", op, input.dim());
  const std::int64_t groups = o.num_groups_;
  check(groups > 0, "{}: num_groups must be positive, but got num_groups={}", op, groups);
  const std::int64_t n = input.size(0), c = input.size(1), l = prod_from(input.sizes(), 2);
  check(c % groups == 0,
        "{}: Expected number of channels in input to be divisible by num_groups, but got input "
        "of shape {} and num_groups={}",
        op, input.sizes(), groups);
  for (const auto& [what, t] : {std::pair{"weight", &o.weight_}, std::pair{"bias", &o.bias_}}) {
    check(!t->defined() || (t->dim() == 1 && t->size(0) == c),
          "{}: Expected {} to be a vector of size equal to the number of channels in input, but "
          "got {} of shape {} and input of shape {}",
          op, what, what, shape_str(*t), input.sizes());
    check_companion(op, what, *t, input);
  }
  return norm_op({"NativeGroupNormBackward", {n, groups, c / groups, l}, false}, input,
                 o.weight_, o.bias_, Tensor(), Tensor(), o.eps_)
      .out;
}

}  // namespace reel::nn::functional
