#pragma once
// nn::Linear, nn::Identity, nn::Flatten, nn::Unflatten: the basic shape-and-affine layers, as
// torch.nn's.
//
//   reel::nn::Linear fc(reel::nn::LinearOptions(128, 10).bias(false));
//   Tensor y = fc(x);   // x (*, 128) -> (*, 10)
#include <cstdint>
#include <vector>

#include "nn/functional/linear.hpp"
#include "nn/module.hpp"

namespace reel::nn {

struct LinearOptions {
  LinearOptions(std::int64_t in_features, std::int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  LinearOptions& bias(bool v) { bias_ = v; return *this; }
  LinearOptions& dtype(DType v) { dtype_ = v; return *this; }
  LinearOptions& device(Device v) { device_ = v; return *this; }
  std::int64_t in_features_, out_features_;
  bool bias_ = true;
  DType dtype_ = kFloat32;
  Device device_{};
};

class LinearImpl : public Module {
 public:
  explicit LinearImpl(LinearOptions options);
  LinearImpl(std::int64_t in_features, std::int64_t out_features)
      : LinearImpl(LinearOptions(in_features, out_features)) {}
  // (*, in_features) -> (*, out_features); 1-D input (in_features) -> (out_features).
  Tensor forward(const Tensor& input) const;
  // As PyTorch: kaiming_uniform_(weight, a=sqrt(5)), i.e. U(±1/sqrt(in_features)), and the
  // bias U(±1/sqrt(in_features)).
  void reset_parameters();
  std::string repr() const override;
  const LinearOptions& options() const { return options_; }

  Tensor weight;  // (out_features, in_features)
  Tensor bias;    // (out_features), undefined with bias(false)

 private:
  LinearOptions options_;
};

class Linear : public ModuleHolder<LinearImpl> {
 public:
  using ModuleHolder<LinearImpl>::ModuleHolder;
};

// Returns its input (the same tensor).
class IdentityImpl : public Module {
 public:
  Tensor forward(const Tensor& input) const { return input; }
  std::string repr() const override { return "Identity()"; }
};

class Identity : public ModuleHolder<IdentityImpl> {
 public:
  using ModuleHolder<IdentityImpl>::ModuleHolder;
};

struct FlattenOptions {
  FlattenOptions& start_dim(std::int64_t v) { start_dim_ = v; return *this; }
  FlattenOptions& end_dim(std::int64_t v) { end_dim_ = v; return *this; }
  std::int64_t start_dim_ = 1;
  std::int64_t end_dim_ = -1;
};

// Tensor::flatten(start_dim, end_dim) (a view when possible); defaults keep the batch dim.
class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(FlattenOptions options = {}) : options_(options) {}
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  const FlattenOptions& options() const { return options_; }

 private:
  FlattenOptions options_;
};

class Flatten : public ModuleHolder<FlattenImpl> {
 public:
  using ModuleHolder<FlattenImpl>::ModuleHolder;
};

// Splits dim `dim` into `sizes` (one of them may be -1, inferred); their product must be the
// dim's size.
struct UnflattenOptions {
  UnflattenOptions(std::int64_t dim, std::vector<std::int64_t> sizes)
      : dim_(dim), sizes_(std::move(sizes)) {}
  std::int64_t dim_;
  std::vector<std::int64_t> sizes_;
};

class UnflattenImpl : public Module {
 public:
  explicit UnflattenImpl(UnflattenOptions options);
  UnflattenImpl(std::int64_t dim, std::vector<std::int64_t> sizes)
      : UnflattenImpl(UnflattenOptions(dim, std::move(sizes))) {}
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  const UnflattenOptions& options() const { return options_; }

 private:
  UnflattenOptions options_;
};

class Unflatten : public ModuleHolder<UnflattenImpl> {
 public:
  using ModuleHolder<UnflattenImpl>::ModuleHolder;
};

}  // namespace reel::nn
