// The normalization layers: option checks, parameters and buffers with PyTorch's names and
// initial values, train/eval behaviour (torch.nn.modules.batchnorm._BatchNorm.forward,
// instancenorm._InstanceNorm.forward), and PyTorch's repr. The maths is nn::functional's.
#include "nn/normalization.hpp"

#include <string>

#include "autograd/grad_mode.hpp"
#include "nn/functional/internal.hpp"

namespace reel::nn {

namespace {

// A Python float's repr, as PyTorch's extra_repr prints eps and momentum: fmt's shortest
// round-trip form ("1e-05", "0.1"), with ".0" added where Python has it ("1.0").
std::string py_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

const char* py_bool(bool v) { return v ? "True" : "False"; }

// weight = 1, bias = 0 (PyTorch's init.ones_ / init.zeros_), off the tape.
void reset_affine(const Tensor& weight, const Tensor& bias) {
  if (!weight.defined()) return;
  NoGradGuard no_grad;
  Tensor(weight).fill_(1);
  Tensor(bias).zero_();
}

void check_eps(const char* layer, double eps) {
  check(eps >= 0.0, "{}: eps must be non-negative, but got eps={}", layer, eps);
}

void check_num_features(const char* layer, const char* what, std::int64_t n) {
  check(n > 0, "{}: {} must be positive, but got {}={}", layer, what, what, n);
}

// PyTorch's _NormBase.__init__, shared by BatchNorm1d and InstanceNorm1d: the checks, then
// weight, bias, running_mean, running_var, num_batches_tracked in that order (absent ones are
// registered as None, kept out of state_dict). The caller then runs its reset_parameters().
template <typename Impl, typename Options>
void register_norm_state(Impl& m, const char* layer, const Options& o) {
  check_num_features(layer, "num_features", o.num_features_);
  check_eps(layer, o.eps_);
  const std::int64_t c = o.num_features_;
  m.weight = m.register_parameter("weight", o.affine_ ? empty({c}) : Tensor(), o.affine_);
  m.bias = m.register_parameter("bias", o.affine_ ? empty({c}) : Tensor(), o.affine_);
  const bool track = o.track_running_stats_;
  m.running_mean = m.register_buffer("running_mean", track ? zeros({c}) : Tensor());
  m.running_var = m.register_buffer("running_var", track ? ones({c}) : Tensor());
  m.num_batches_tracked = m.register_buffer(
      "num_batches_tracked", track ? zeros({}, TensorOptions(kInt64)) : Tensor());
}

// _NormBase.reset_running_stats: running_mean = 0, running_var = 1, num_batches_tracked = 0,
// when the statistics are tracked.
template <typename Impl>
void reset_norm_running_stats(Impl& m, bool track_running_stats) {
  if (!track_running_stats) return;
  NoGradGuard no_grad;
  m.running_mean.zero_();
  m.running_var.fill_(1);
  m.num_batches_tracked.zero_();
}

}  // namespace

// --- BatchNorm1d ---------------------------------------------------------------------------------

BatchNorm1dImpl::BatchNorm1dImpl(BatchNormOptions options) : options_(std::move(options)) {
  register_norm_state(*this, "BatchNorm1d", options_);
  reset_parameters();
}

void BatchNorm1dImpl::reset_running_stats() {
  reset_norm_running_stats(*this, options_.track_running_stats_);
}

void BatchNorm1dImpl::reset_parameters() {
  reset_running_stats();
  reset_affine(weight, bias);
}

Tensor BatchNorm1dImpl::forward(const Tensor& input) {
  const auto& o = options_;
  check(input.defined(), "BatchNorm1d: the input tensor is undefined");
  check(input.dim() == 2 || input.dim() == 3, "BatchNorm1d: expected 2D or 3D input (got {}D input)",
        input.dim());
  check(input.size(1) == o.num_features_,
        "BatchNorm1d: expected input with {} channels (num_features={}), got {} in input of "
        "shape {}",
        o.num_features_, o.num_features_, input.size(1), input.sizes());
  const std::int64_t values = input.size(0) * (input.dim() == 3 ? input.size(2) : 1);
  check(!is_training() || values != 1,
        "BatchNorm1d: Expected more than 1 value per channel when training, got input size {}",
        input.sizes());
  // _BatchNorm.forward: count the batch, and with momentum=None average cumulatively.
  double factor = o.momentum_.value_or(0.0);
  if (is_training() && o.track_running_stats_) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    if (!o.momentum_) {
      factor = 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
    }
  }
  // Batch statistics in training, and in eval when there are no running statistics.
  const bool use_batch_stats = is_training() || !o.track_running_stats_;
  return functional::batch_norm(input, running_mean, running_var,
                                functional::BatchNormFuncOptions()
                                    .weight(weight)
                                    .bias(bias)
                                    .training(use_batch_stats)
                                    .momentum(factor)
                                    .eps(o.eps_));
}

std::string BatchNorm1dImpl::repr() const {
  const auto& o = options_;
  return fmt::format("BatchNorm1d({}, eps={}, momentum={}, affine={}, track_running_stats={})",
                     o.num_features_, py_float(o.eps_),
                     o.momentum_ ? py_float(*o.momentum_) : std::string("None"),
                     py_bool(o.affine_), py_bool(o.track_running_stats_));
}

// --- InstanceNorm1d ------------------------------------------------------------------------------

InstanceNorm1dImpl::InstanceNorm1dImpl(InstanceNormOptions options)
    : options_(std::move(options)) {
  register_norm_state(*this, "InstanceNorm1d", options_);
  reset_parameters();
}

void InstanceNorm1dImpl::reset_running_stats() {
  reset_norm_running_stats(*this, options_.track_running_stats_);
}

void InstanceNorm1dImpl::reset_parameters() {
  reset_running_stats();
  reset_affine(weight, bias);
}

Tensor InstanceNorm1dImpl::forward(const Tensor& input) {
  const auto& o = options_;
  check(input.defined(), "InstanceNorm1d: the input tensor is undefined");
  check(input.dim() == 2 || input.dim() == 3,
        "InstanceNorm1d: expected 2D or 3D input (got {}D input)", input.dim());
  const std::int64_t feature_dim = input.dim() - 2;
  // PyTorch raises only when the channels meet parameters or running statistics; otherwise
  // (affine=False, track_running_stats=False) it warns and normalizes whatever it was given.
  check(input.size(feature_dim) == o.num_features_ || !(o.affine_ || o.track_running_stats_),
        "InstanceNorm1d: expected input's size at dim={} to match num_features ({}), but got: {}.",
        feature_dim, o.num_features_, input.size(feature_dim));
  return functional::detail::on_batched(input, [&](const Tensor& x) {
    return functional::instance_norm(
        x, functional::InstanceNormFuncOptions()
               .running_mean(running_mean)
               .running_var(running_var)
               .weight(weight)
               .bias(bias)
               .use_input_stats(is_training() || !o.track_running_stats_)
               .momentum(o.momentum_)
               .eps(o.eps_));
  });
}

std::string InstanceNorm1dImpl::repr() const {
  const auto& o = options_;
  return fmt::format("InstanceNorm1d({}, eps={}, momentum={}, affine={}, track_running_stats={})",
                     o.num_features_, py_float(o.eps_), py_float(o.momentum_), py_bool(o.affine_),
                     py_bool(o.track_running_stats_));
}

// --- LayerNorm -----------------------------------------------------------------------------------

LayerNormImpl::LayerNormImpl(LayerNormOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  check(!o.normalized_shape_.empty(),
        "LayerNorm: Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
        "least one element, but got normalized_shape = []");
  for (std::int64_t s : o.normalized_shape_) {
    check(s >= 0, "LayerNorm: normalized_shape must be non-negative, but got [{}]",
          fmt::join(o.normalized_shape_, ", "));
  }
  check_eps("LayerNorm", o.eps_);
  check(o.normalized_shape_.size() <= static_cast<std::size_t>(kMaxDims),
        "LayerNorm: normalized_shape has {} dims, more than reel's {}", o.normalized_shape_.size(),
        kMaxDims);
  const Shape shape(o.normalized_shape_);
  const bool affine = o.elementwise_affine_;
  weight = register_parameter("weight", affine ? empty(shape) : Tensor(), affine);
  bias = register_parameter("bias", affine ? empty(shape) : Tensor(), affine);
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  reset_affine(weight, bias);
}

Tensor LayerNormImpl::forward(const Tensor& input) {
  return functional::layer_norm(input, functional::LayerNormFuncOptions(options_.normalized_shape_)
                                           .weight(weight)
                                           .bias(bias)
                                           .eps(options_.eps_));
}

std::string LayerNormImpl::repr() const {
  const auto& o = options_;
  // A Python tuple: (4,) or (3, 4).
  std::string shape = fmt::format("({}{})", fmt::join(o.normalized_shape_, ", "),
                                  o.normalized_shape_.size() == 1 ? "," : "");
  return fmt::format("LayerNorm({}, eps={}, elementwise_affine={})", shape, py_float(o.eps_),
                     py_bool(o.elementwise_affine_));
}

// --- GroupNorm -----------------------------------------------------------------------------------

GroupNormImpl::GroupNormImpl(GroupNormOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  check_num_features("GroupNorm", "num_groups", o.num_groups_);
  check_num_features("GroupNorm", "num_channels", o.num_channels_);
  check(o.num_channels_ % o.num_groups_ == 0,
        "GroupNorm: num_channels must be divisible by num_groups (num_channels={}, "
        "num_groups={})",
        o.num_channels_, o.num_groups_);
  check_eps("GroupNorm", o.eps_);
  const std::int64_t c = o.num_channels_;
  weight = register_parameter("weight", o.affine_ ? empty({c}) : Tensor(), o.affine_);
  bias = register_parameter("bias", o.affine_ ? empty({c}) : Tensor(), o.affine_);
  reset_parameters();
}

void GroupNormImpl::reset_parameters() {
  reset_affine(weight, bias);
}

Tensor GroupNormImpl::forward(const Tensor& input) {
  const auto& o = options_;
  check(input.defined(), "GroupNorm: the input tensor is undefined");
  check(input.dim() >= 2,
        "GroupNorm: Expected at least 2 dimensions for input tensor but received {}",
        input.dim());
  check(input.size(1) == o.num_channels_,
        "GroupNorm: expected input with {} channels (num_channels={}), got {} in input of shape "
        "{}",
        o.num_channels_, o.num_channels_, input.size(1), input.sizes());
  return functional::group_norm(
      input, functional::GroupNormFuncOptions(o.num_groups_).weight(weight).bias(bias).eps(o.eps_));
}

std::string GroupNormImpl::repr() const {
  const auto& o = options_;
  return fmt::format("GroupNorm({}, {}, eps={}, affine={})", o.num_groups_, o.num_channels_,
                     py_float(o.eps_), py_bool(o.affine_));
}

}  // namespace reel::nn
