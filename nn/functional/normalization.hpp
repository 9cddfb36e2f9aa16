#pragma once
// The normalization functions, twins of F.batch_norm, F.instance_norm, F.layer_norm and
// F.group_norm, with LibTorch's option names:
//
//   F::batch_norm(x, running_mean, running_var,
//                 F::BatchNormFuncOptions().weight(w).bias(b).training(true).momentum(0.1));
//   F::layer_norm(x, F::LayerNormFuncOptions({64}).weight(w).bias(b));
//   F::group_norm(x, F::GroupNormFuncOptions(8).weight(w).bias(b));
//   F::instance_norm(x, F::InstanceNormFuncOptions().weight(w).bias(b));
//
// Each normalizes with y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance),
// runs on the backend's norm primitives (norm_stats, norm_forward, norm_backward) and records
// one tape entry whose backward asks for just the gradients that are needed.
#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// F.batch_norm's arguments. running_mean / running_var may be undefined tensors (None); in
// training with running stats they are updated in place:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)   (unbiased)
// momentum is optional as in LibTorch, but a value is needed to update running statistics
// (nn::BatchNorm1d turns momentum=None into the cumulative factor 1/num_batches_tracked).
struct BatchNormFuncOptions {
  BatchNormFuncOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  BatchNormFuncOptions& bias(const Tensor& v) { bias_ = v; return *this; }
  BatchNormFuncOptions& training(bool v) { training_ = v; return *this; }
  BatchNormFuncOptions& momentum(std::optional<double> v) { momentum_ = v; return *this; }
  BatchNormFuncOptions& eps(double v) { eps_ = v; return *this; }
  Tensor weight_, bias_;
  bool training_ = false;
  std::optional<double> momentum_ = 0.1;
  double eps_ = 1e-5;
};

// input (N, C) or (N, C, L); running_mean/var (C) or undefined; weight/bias (C) or undefined.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormFuncOptions& options = {});

// F.instance_norm's arguments: statistics per sample and channel over L (use_input_stats), or
// the running statistics (use_input_stats=false). With running statistics and input stats,
// they are updated with the batch mean of the per-instance statistics (PyTorch's rule).
struct InstanceNormFuncOptions {
  InstanceNormFuncOptions& running_mean(const Tensor& v) { running_mean_ = v; return *this; }
  InstanceNormFuncOptions& running_var(const Tensor& v) { running_var_ = v; return *this; }
  InstanceNormFuncOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  InstanceNormFuncOptions& bias(const Tensor& v) { bias_ = v; return *this; }
  InstanceNormFuncOptions& use_input_stats(bool v) { use_input_stats_ = v; return *this; }
  InstanceNormFuncOptions& momentum(double v) { momentum_ = v; return *this; }
  InstanceNormFuncOptions& eps(double v) { eps_ = v; return *this; }
  Tensor running_mean_, running_var_, weight_, bias_;
  bool use_input_stats_ = true;
  double momentum_ = 0.1;
  double eps_ = 1e-5;
};

// input (N, C, L) (any rank >= 3 works as (N, C, *)); F.instance_norm takes no unbatched
// input, nn::InstanceNorm1d does.
Tensor instance_norm(const Tensor& input, const InstanceNormFuncOptions& options = {});

// F.layer_norm's arguments: statistics over the last len(normalized_shape) dims, whose sizes
// must be normalized_shape; weight and bias have shape normalized_shape (elementwise affine).
struct LayerNormFuncOptions {
  LayerNormFuncOptions(std::vector<std::int64_t> normalized_shape)
      : normalized_shape_(std::move(normalized_shape)) {}
  LayerNormFuncOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  LayerNormFuncOptions& bias(const Tensor& v) { bias_ = v; return *this; }
  LayerNormFuncOptions& eps(double v) { eps_ = v; return *this; }
  std::vector<std::int64_t> normalized_shape_;
  Tensor weight_, bias_;
  double eps_ = 1e-5;
};

Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options);

// F.group_norm's arguments: input (N, C, *), statistics per sample over each group of
// C / num_groups channels; weight and bias (C) per channel.
struct GroupNormFuncOptions {
  GroupNormFuncOptions(std::int64_t num_groups) : num_groups_(num_groups) {}
  GroupNormFuncOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  GroupNormFuncOptions& bias(const Tensor& v) { bias_ = v; return *this; }
  GroupNormFuncOptions& eps(double v) { eps_ = v; return *this; }
  std::int64_t num_groups_;
  Tensor weight_, bias_;
  double eps_ = 1e-5;
};

Tensor group_norm(const Tensor& input, const GroupNormFuncOptions& options);

}  // namespace reel::nn::functional
