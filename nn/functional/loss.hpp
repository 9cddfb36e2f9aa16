#pragma once
// The losses of torch.nn.functional, with LibTorch's options:
//
//   namespace F = reel::nn::functional;
//   Tensor l = F::cross_entropy(logits, target,
//                               F::CrossEntropyFuncOptions().label_smoothing(0.1)
//                                   .reduction(reel::nn::kSum));
//
// Every loss takes `reduction`: kNone (per-element losses), kMean (the default) or kSum;
// KLDiv also kBatchMean. LibTorch spells them torch::kMean, ...; reel keeps them in reel::nn
// (reel::nn::kMean) so they cannot clash with the other kNone-style tags of namespace reel.
// The string setters take PyTorch's names ("none", "mean", "sum", "batchmean").
//
// The options structs are the modules' (nn::MSELossOptions, ...); the functional names
// (F::MSELossFuncOptions, ...) are aliases of them, as in LibTorch.
//
// Masks (reel's extension, for padded variable-length sequences; PyTorch has no mask
// argument): every loss but kl_div takes `.mask(m)`, a bool tensor of the unreduced loss's
// shape (the input's for the pointwise losses and BCE; the target's for class-index
// cross_entropy / nll_loss; the input's without the class dim for class probabilities) or
// broadcastable to it without enlarging it. Where m is false the element's loss is 0 (even
// where it is inf or NaN) and its gradient is 0; kNone returns those zeros, kSum sums the rest,
// kMean divides by the number of true elements (the mask broadcast to the loss's shape):
//   F::mse_loss(x, y, F::MSELossFuncOptions().mask(m))  ==  (loss * m).sum() / m.sum().
// Class-index cross_entropy / nll_loss set the masked targets to ignore_index, so they equal
// PyTorch's ignore_index exactly (kMean divides by the summed class weights of the targets
// neither masked nor ignored), and a masked target need not be a valid class. A masked step's
// gradient is 0 * the loss's local derivative: finite padding keeps it 0, a NaN or inf input
// at a padded step makes it NaN (as (loss * m) in PyTorch; cross_entropy's kernels excepted).
// A fully masked batch: kMean divides 0 by 0 and returns NaN (as PyTorch's cross_entropy with
// every target ignored), with zero gradients; kSum returns 0.
// The loss modules take the mask as forward's optional third argument.
#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel::nn {

enum class Reduction : std::uint8_t { None, Mean, Sum, BatchMean };
inline constexpr Reduction kNone = Reduction::None;
inline constexpr Reduction kMean = Reduction::Mean;
inline constexpr Reduction kSum = Reduction::Sum;
inline constexpr Reduction kBatchMean = Reduction::BatchMean;  // KLDivLoss only

// "none", "mean", "sum", "batchmean"; and back (an unknown name: PyTorch's error,
// "<name> is not a valid value for reduction").
std::string reduction_name(Reduction r);
Reduction reduction_from_string(std::string_view name);

struct L1LossOptions {
  L1LossOptions(Reduction r = kMean) : reduction_(r) {}
  L1LossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  L1LossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  Reduction reduction_;
  // Variable-length sequences (issue 8): see "Masks" above.
  L1LossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

struct MSELossOptions {
  MSELossOptions(Reduction r = kMean) : reduction_(r) {}
  MSELossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  MSELossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  Reduction reduction_;
  // Variable-length sequences (issue 8): see "Masks" above.
  MSELossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

// 0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta; beta = 0 is the L1 loss.
struct SmoothL1LossOptions {
  SmoothL1LossOptions(Reduction r = kMean) : reduction_(r) {}
  SmoothL1LossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  SmoothL1LossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  SmoothL1LossOptions& beta(double v) { beta_ = v; return *this; }
  Reduction reduction_;
  double beta_ = 1.0;
  // Variable-length sequences (issue 8): see "Masks" above.
  SmoothL1LossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

// 0.5 * d^2 where |d| < delta, else delta * (|d| - 0.5 * delta).
struct HuberLossOptions {
  HuberLossOptions(Reduction r = kMean) : reduction_(r) {}
  HuberLossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  HuberLossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  HuberLossOptions& delta(double v) { delta_ = v; return *this; }
  Reduction reduction_;
  double delta_ = 1.0;
  // Variable-length sequences (issue 8): see "Masks" above.
  HuberLossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

struct CrossEntropyLossOptions {
  CrossEntropyLossOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  CrossEntropyLossOptions& ignore_index(std::int64_t v) { ignore_index_ = v; return *this; }
  CrossEntropyLossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  CrossEntropyLossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  CrossEntropyLossOptions& label_smoothing(double v) { label_smoothing_ = v; return *this; }
  Tensor weight_;  // (C) or undefined
  std::int64_t ignore_index_ = -100;
  Reduction reduction_ = kMean;
  double label_smoothing_ = 0.0;
  // Variable-length sequences (issue 8): see "Masks" above.
  CrossEntropyLossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

struct NLLLossOptions {
  NLLLossOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  NLLLossOptions& ignore_index(std::int64_t v) { ignore_index_ = v; return *this; }
  NLLLossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  NLLLossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  Tensor weight_;
  std::int64_t ignore_index_ = -100;
  Reduction reduction_ = kMean;
  // Variable-length sequences (issue 8): see "Masks" above.
  NLLLossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

struct BCELossOptions {
  BCELossOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  BCELossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  BCELossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  Tensor weight_;  // broadcast to the input's shape
  Reduction reduction_ = kMean;
  // Variable-length sequences (issue 8): see "Masks" above.
  BCELossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

struct BCEWithLogitsLossOptions {
  BCEWithLogitsLossOptions& weight(const Tensor& v) { weight_ = v; return *this; }
  BCEWithLogitsLossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  BCEWithLogitsLossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  BCEWithLogitsLossOptions& pos_weight(const Tensor& v) { pos_weight_ = v; return *this; }
  Tensor weight_;      // broadcast to the input's shape
  Reduction reduction_ = kMean;
  Tensor pos_weight_;  // broadcast with the target: (C) weighs the classes of the last dim
  // Variable-length sequences (issue 8): see "Masks" above.
  BCEWithLogitsLossOptions& mask(const Tensor& v) { mask_ = v; return *this; }
  Tensor mask_;  // bool, broadcastable to the unreduced loss; undefined: no mask
};

struct KLDivLossOptions {
  KLDivLossOptions(Reduction r = kMean) : reduction_(r) {}
  KLDivLossOptions& reduction(Reduction v) { reduction_ = v; return *this; }
  KLDivLossOptions& reduction(std::string_view v) {
    reduction_ = reduction_from_string(v);
    return *this;
  }
  KLDivLossOptions& log_target(bool v) { log_target_ = v; return *this; }
  Reduction reduction_;
  bool log_target_ = false;
};

}  // namespace reel::nn

namespace reel::nn::functional {

using L1LossFuncOptions = L1LossOptions;
using MSELossFuncOptions = MSELossOptions;
using SmoothL1LossFuncOptions = SmoothL1LossOptions;
using HuberLossFuncOptions = HuberLossOptions;
using CrossEntropyFuncOptions = CrossEntropyLossOptions;
using NLLLossFuncOptions = NLLLossOptions;
using BinaryCrossEntropyFuncOptions = BCELossOptions;
using BinaryCrossEntropyWithLogitsFuncOptions = BCEWithLogitsLossOptions;
using KLDivFuncOptions = KLDivLossOptions;

// Pointwise losses of input and target (broadcast together, as PyTorch does after its
// size-mismatch warning); gradients flow to both.
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target,
                const MSELossFuncOptions& options = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      const SmoothL1LossFuncOptions& options = {});
Tensor huber_loss(const Tensor& input, const Tensor& target,
                  const HuberLossFuncOptions& options = {});

// input: logits (N, C), (N, C, d1, ...) or unbatched (C). target: class indices (int64) of
// shape (N), (N, d1, ...) or () — or class probabilities (floating, input's shape).
Tensor cross_entropy(const Tensor& input, const Tensor& target,
                     const CrossEntropyFuncOptions& options = {});
// input: log-probabilities, shapes as cross_entropy's with class-index targets.
Tensor nll_loss(const Tensor& input, const Tensor& target,
                const NLLLossFuncOptions& options = {});
// input: probabilities in [0, 1]; target: input's shape.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const BinaryCrossEntropyFuncOptions& options = {});
Tensor binary_cross_entropy_with_logits(
    const Tensor& input, const Tensor& target,
    const BinaryCrossEntropyWithLogitsFuncOptions& options = {});
// input: log-probabilities; target: probabilities (log-probabilities with log_target).
Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivFuncOptions& options = {});

}  // namespace reel::nn::functional
