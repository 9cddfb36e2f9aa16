#pragma once
// The loss modules of torch.nn, each around its nn::functional twin (nn/functional/loss.hpp):
//
//   reel::nn::CrossEntropyLoss criterion(
//       reel::nn::CrossEntropyLossOptions().ignore_index(0).label_smoothing(0.1));
//   Tensor loss = criterion(logits, target);
//
// Class weights are registered as buffers named as PyTorch's (`weight`, `pos_weight`), so
// they move and cast with the module and appear in its state dict when defined. repr() is
// PyTorch's: the class name and "()".
#include <string>

#include "nn/functional/loss.hpp"
#include "nn/module.hpp"

namespace reel::nn {

// torch.nn.L1Loss: mean absolute error |input - target|.
class L1LossImpl : public Module {
 public:
  explicit L1LossImpl(L1LossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "L1Loss()"; }
  const L1LossOptions& options() const { return options_; }

 private:
  L1LossOptions options_;
};

class L1Loss : public ModuleHolder<L1LossImpl> {
 public:
  using ModuleHolder<L1LossImpl>::ModuleHolder;
};

// torch.nn.MSELoss: mean squared error (input - target)^2.
class MSELossImpl : public Module {
 public:
  explicit MSELossImpl(MSELossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "MSELoss()"; }
  const MSELossOptions& options() const { return options_; }

 private:
  MSELossOptions options_;
};

class MSELoss : public ModuleHolder<MSELossImpl> {
 public:
  using ModuleHolder<MSELossImpl>::ModuleHolder;
};

// torch.nn.SmoothL1Loss: quadratic below beta, linear above (beta = 0: L1).
class SmoothL1LossImpl : public Module {
 public:
  explicit SmoothL1LossImpl(SmoothL1LossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "SmoothL1Loss()"; }
  const SmoothL1LossOptions& options() const { return options_; }

 private:
  SmoothL1LossOptions options_;
};

class SmoothL1Loss : public ModuleHolder<SmoothL1LossImpl> {
 public:
  using ModuleHolder<SmoothL1LossImpl>::ModuleHolder;
};

// torch.nn.HuberLoss: quadratic below delta, delta-scaled linear above.
class HuberLossImpl : public Module {
 public:
  explicit HuberLossImpl(HuberLossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "HuberLoss()"; }
  const HuberLossOptions& options() const { return options_; }

 private:
  HuberLossOptions options_;
};

class HuberLoss : public ModuleHolder<HuberLossImpl> {
 public:
  using ModuleHolder<HuberLossImpl>::ModuleHolder;
};

// torch.nn.CrossEntropyLoss: log_softmax + NLL over class indices, or against class probabilities.
class CrossEntropyLossImpl : public Module {
 public:
  explicit CrossEntropyLossImpl(CrossEntropyLossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "CrossEntropyLoss()"; }
  const CrossEntropyLossOptions& options() const { return options_; }
  Tensor weight;  // buffer "weight" (undefined when not given)

 private:
  CrossEntropyLossOptions options_;
};

class CrossEntropyLoss : public ModuleHolder<CrossEntropyLossImpl> {
 public:
  using ModuleHolder<CrossEntropyLossImpl>::ModuleHolder;
};

// torch.nn.NLLLoss: negative log-likelihood of log-probabilities.
class NLLLossImpl : public Module {
 public:
  explicit NLLLossImpl(NLLLossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "NLLLoss()"; }
  const NLLLossOptions& options() const { return options_; }
  Tensor weight;  // buffer "weight" (undefined when not given)

 private:
  NLLLossOptions options_;
};

class NLLLoss : public ModuleHolder<NLLLossImpl> {
 public:
  using ModuleHolder<NLLLossImpl>::ModuleHolder;
};

// torch.nn.BCELoss: binary cross-entropy of probabilities.
class BCELossImpl : public Module {
 public:
  explicit BCELossImpl(BCELossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "BCELoss()"; }
  const BCELossOptions& options() const { return options_; }
  Tensor weight;  // buffer "weight" (undefined when not given)

 private:
  BCELossOptions options_;
};

class BCELoss : public ModuleHolder<BCELossImpl> {
 public:
  using ModuleHolder<BCELossImpl>::ModuleHolder;
};

// torch.nn.BCEWithLogitsLoss: sigmoid + binary cross-entropy, in one stable formula.
class BCEWithLogitsLossImpl : public Module {
 public:
  explicit BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options = {});
  // mask (issue 8): bool, broadcastable to the unreduced loss; it replaces the options' mask
  // for this call (see "Masks" in nn/functional/loss.hpp). Undefined: the options' mask.
  Tensor forward(const Tensor& input, const Tensor& target, const Tensor& mask = Tensor()) const;
  std::string repr() const override { return "BCEWithLogitsLoss()"; }
  const BCEWithLogitsLossOptions& options() const { return options_; }
  Tensor weight;  // buffer "weight" (undefined when not given)
  Tensor pos_weight;  // buffer "pos_weight" (undefined when not given)

 private:
  BCEWithLogitsLossOptions options_;
};

class BCEWithLogitsLoss : public ModuleHolder<BCEWithLogitsLossImpl> {
 public:
  using ModuleHolder<BCEWithLogitsLossImpl>::ModuleHolder;
};

// torch.nn.KLDivLoss: Kullback-Leibler divergence of log-probabilities from a target.
class KLDivLossImpl : public Module {
 public:
  explicit KLDivLossImpl(KLDivLossOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& target) const;
  std::string repr() const override { return "KLDivLoss()"; }
  const KLDivLossOptions& options() const { return options_; }

 private:
  KLDivLossOptions options_;
};

class KLDivLoss : public ModuleHolder<KLDivLossImpl> {
 public:
  using ModuleHolder<KLDivLossImpl>::ModuleHolder;
};

}  // namespace reel::nn
