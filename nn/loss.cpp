// The loss modules: each forwards to its functional twin with the module's options (and its
// weight buffers, which Module::to may have moved or cast).
#include "nn/loss.hpp"

#include <utility>

namespace reel::nn {

L1LossImpl::L1LossImpl(L1LossOptions options) : options_(std::move(options)) {}

Tensor L1LossImpl::forward(const Tensor& input, const Tensor& target) const {
  return functional::l1_loss(input, target, options_);
}

MSELossImpl::MSELossImpl(MSELossOptions options) : options_(std::move(options)) {}

Tensor MSELossImpl::forward(const Tensor& input, const Tensor& target) const {
  return functional::mse_loss(input, target, options_);
}

SmoothL1LossImpl::SmoothL1LossImpl(SmoothL1LossOptions options) : options_(std::move(options)) {}

Tensor SmoothL1LossImpl::forward(const Tensor& input, const Tensor& target) const {
  return functional::smooth_l1_loss(input, target, options_);
}

HuberLossImpl::HuberLossImpl(HuberLossOptions options) : options_(std::move(options)) {}

Tensor HuberLossImpl::forward(const Tensor& input, const Tensor& target) const {
  return functional::huber_loss(input, target, options_);
}

CrossEntropyLossImpl::CrossEntropyLossImpl(CrossEntropyLossOptions options)
    : options_(std::move(options)) {
  if (options_.weight_.defined()) weight = register_buffer("weight", options_.weight_);
}

Tensor CrossEntropyLossImpl::forward(const Tensor& input, const Tensor& target) const {
  CrossEntropyLossOptions o = options_;
  o.weight_ = weight;
  return functional::cross_entropy(input, target, o);
}

NLLLossImpl::NLLLossImpl(NLLLossOptions options) : options_(std::move(options)) {
  if (options_.weight_.defined()) weight = register_buffer("weight", options_.weight_);
}

Tensor NLLLossImpl::forward(const Tensor& input, const Tensor& target) const {
  NLLLossOptions o = options_;
  o.weight_ = weight;
  return functional::nll_loss(input, target, o);
}

BCELossImpl::BCELossImpl(BCELossOptions options) : options_(std::move(options)) {
  if (options_.weight_.defined()) weight = register_buffer("weight", options_.weight_);
}

Tensor BCELossImpl::forward(const Tensor& input, const Tensor& target) const {
  BCELossOptions o = options_;
  o.weight_ = weight;
  return functional::binary_cross_entropy(input, target, o);
}

BCEWithLogitsLossImpl::BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options)
    : options_(std::move(options)) {
  if (options_.weight_.defined()) weight = register_buffer("weight", options_.weight_);
  if (options_.pos_weight_.defined()) {
    pos_weight = register_buffer("pos_weight", options_.pos_weight_);
  }
}

Tensor BCEWithLogitsLossImpl::forward(const Tensor& input, const Tensor& target) const {
  BCEWithLogitsLossOptions o = options_;
  o.weight_ = weight;
  o.pos_weight_ = pos_weight;
  return functional::binary_cross_entropy_with_logits(input, target, o);
}

KLDivLossImpl::KLDivLossImpl(KLDivLossOptions options) : options_(std::move(options)) {}

Tensor KLDivLossImpl::forward(const Tensor& input, const Tensor& target) const {
  return functional::kl_div(input, target, options_);
}

}  // namespace reel::nn
