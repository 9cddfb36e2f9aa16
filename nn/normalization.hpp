#pragma once
// The normalization layers: nn::BatchNorm1d, nn::InstanceNorm1d, nn::LayerNorm and
// nn::GroupNorm, mirroring torch.nn's (defaults, parameter and buffer names, state_dict order,
// repr). Each hands its call to its nn::functional twin (nn/functional/normalization.hpp).
//
//   reel::nn::BatchNorm1d bn(reel::nn::BatchNorm1dOptions(64).momentum(std::nullopt));
//   Tensor y = bn(x);                 // training: batch statistics, running stats updated
//   bn->eval(); y = bn(x);            // running statistics
//   reel::nn::LayerNorm ln(reel::nn::LayerNormOptions({64}).eps(1e-6));
//   reel::nn::GroupNorm gn(reel::nn::GroupNormOptions(8, 64));
#include <cstdint>
#include <optional>
#include <vector>

#include "nn/functional/normalization.hpp"
#include "nn/module.hpp"

namespace reel::nn {

// torch.nn.BatchNorm1d's arguments (LibTorch's BatchNormOptions). momentum = std::nullopt is
// PyTorch's momentum=None: a cumulative moving average (factor 1/num_batches_tracked).
struct BatchNormOptions {
  BatchNormOptions(std::int64_t num_features) : num_features_(num_features) {}
  BatchNormOptions& eps(double v) { eps_ = v; return *this; }
  BatchNormOptions& momentum(std::optional<double> v) { momentum_ = v; return *this; }
  BatchNormOptions& affine(bool v) { affine_ = v; return *this; }
  BatchNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }
  std::int64_t num_features_;
  double eps_ = 1e-5;
  std::optional<double> momentum_ = 0.1;
  bool affine_ = true;
  bool track_running_stats_ = true;
};
using BatchNorm1dOptions = BatchNormOptions;

class BatchNorm1dImpl : public Module {
 public:
  explicit BatchNorm1dImpl(BatchNormOptions options);
  // input (N, C) or (N, C, L). Training: batch statistics, and (track_running_stats) the
  // running statistics and num_batches_tracked are updated; eval: the running statistics
  // (batch statistics when track_running_stats is false).
  Tensor forward(const Tensor& input);
  // running_mean = 0, running_var = 1, num_batches_tracked = 0.
  void reset_running_stats();
  // reset_running_stats(), weight = 1, bias = 0 (as PyTorch).
  void reset_parameters();
  std::string repr() const override;
  const BatchNormOptions& options() const { return options_; }

  Tensor weight, bias;                                    // (C), undefined when !affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined when !track_running_stats

 private:
  BatchNormOptions options_;
};

class BatchNorm1d : public ModuleHolder<BatchNorm1dImpl> {
 public:
  using ModuleHolder<BatchNorm1dImpl>::ModuleHolder;
};

// torch.nn.InstanceNorm1d's arguments (LibTorch's InstanceNormOptions): note the defaults,
// affine=false and track_running_stats=false.
struct InstanceNormOptions {
  InstanceNormOptions(std::int64_t num_features) : num_features_(num_features) {}
  InstanceNormOptions& eps(double v) { eps_ = v; return *this; }
  InstanceNormOptions& momentum(double v) { momentum_ = v; return *this; }
  InstanceNormOptions& affine(bool v) { affine_ = v; return *this; }
  InstanceNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }
  std::int64_t num_features_;
  double eps_ = 1e-5;
  double momentum_ = 0.1;
  bool affine_ = false;
  bool track_running_stats_ = false;
};
using InstanceNorm1dOptions = InstanceNormOptions;

class InstanceNorm1dImpl : public Module {
 public:
  explicit InstanceNorm1dImpl(InstanceNormOptions options);
  // input (N, C, L) or unbatched (C, L): statistics per sample and channel over L (in eval
  // with track_running_stats, the running statistics).
  Tensor forward(const Tensor& input);
  void reset_running_stats();
  void reset_parameters();
  std::string repr() const override;
  const InstanceNormOptions& options() const { return options_; }

  Tensor weight, bias;
  // As PyTorch, num_batches_tracked is registered (and saved) but InstanceNorm never counts.
  Tensor running_mean, running_var, num_batches_tracked;

 private:
  InstanceNormOptions options_;
};

class InstanceNorm1d : public ModuleHolder<InstanceNorm1dImpl> {
 public:
  using ModuleHolder<InstanceNorm1dImpl>::ModuleHolder;
};

// torch.nn.LayerNorm's arguments.
struct LayerNormOptions {
  LayerNormOptions(std::vector<std::int64_t> normalized_shape)
      : normalized_shape_(std::move(normalized_shape)) {}
  LayerNormOptions& eps(double v) { eps_ = v; return *this; }
  LayerNormOptions& elementwise_affine(bool v) { elementwise_affine_ = v; return *this; }
  std::vector<std::int64_t> normalized_shape_;
  double eps_ = 1e-5;
  bool elementwise_affine_ = true;
};

class LayerNormImpl : public Module {
 public:
  explicit LayerNormImpl(LayerNormOptions options);
  // input (*, normalized_shape...): statistics over the trailing normalized_shape dims.
  Tensor forward(const Tensor& input);
  void reset_parameters();
  std::string repr() const override;
  const LayerNormOptions& options() const { return options_; }

  Tensor weight, bias;  // normalized_shape, undefined when !elementwise_affine

 private:
  LayerNormOptions options_;
};

class LayerNorm : public ModuleHolder<LayerNormImpl> {
 public:
  using ModuleHolder<LayerNormImpl>::ModuleHolder;
};

// torch.nn.GroupNorm's arguments.
struct GroupNormOptions {
  GroupNormOptions(std::int64_t num_groups, std::int64_t num_channels)
      : num_groups_(num_groups), num_channels_(num_channels) {}
  GroupNormOptions& eps(double v) { eps_ = v; return *this; }
  GroupNormOptions& affine(bool v) { affine_ = v; return *this; }
  std::int64_t num_groups_, num_channels_;
  double eps_ = 1e-5;
  bool affine_ = true;
};

class GroupNormImpl : public Module {
 public:
  explicit GroupNormImpl(GroupNormOptions options);
  // input (N, C, *): statistics per sample over each group of C / num_groups channels.
  Tensor forward(const Tensor& input);
  void reset_parameters();
  std::string repr() const override;
  const GroupNormOptions& options() const { return options_; }

  Tensor weight, bias;  // (C), undefined when !affine

 private:
  GroupNormOptions options_;
};

class GroupNorm : public ModuleHolder<GroupNormImpl> {
 public:
  using ModuleHolder<GroupNormImpl>::ModuleHolder;
};

}  // namespace reel::nn
