// The loss modules: each forwards to its functional twin with the module's options (and its
// weight buffers, which Module::to may have moved or cast).
#include "nn/loss.hpp"

#include <utility>

namespace reel::nn {

namespace {

// A buffer `name` holding t, registered only when t is given (PyTorch's weight=None registers
// none); undefined otherwise.
Tensor optional_buffer(Module& m, const char* name, const Tensor& t) {
  return t.defined() ? m.register_buffer(name, t) : Tensor();
}

// The module's options with its own weight buffer, which Module::to may have moved or cast.
template <typename Options>
Options with_weight(Options o, const Tensor& weight) {
  o.weight_ = weight;
  return o;
}

// The options with the mask forward was given, when one was (issue 8).
template <typename Options>
Options with_mask(Options o, const Tensor& mask) {
  if (mask.defined()) o.mask_ = mask;
  return o;
}

}  // namespace

L1LossImpl::L1LossImpl(L1LossOptions options) : options_(std::move(options)) {}

Tensor L1LossImpl::forward(const Tensor& input, const Tensor& target,
                           const Tensor& mask) const {
  return functional::l1_loss(input, target, with_mask(options_, mask));
}

MSELossImpl::MSELossImpl(MSELossOptions options) : options_(std::move(options)) {}

Tensor MSELossImpl::forward(const Tensor& input, const Tensor& target,
                            const Tensor& mask) const {
  return functional::mse_loss(input, target, with_mask(options_, mask));
}

SmoothL1LossImpl::SmoothL1LossImpl(SmoothL1LossOptions options) : options_(std::move(options)) {}

Tensor SmoothL1LossImpl::forward(const Tensor& input, const Tensor& target,
                                 const Tensor& mask) const {
  return functional::smooth_l1_loss(input, target, with_mask(options_, mask));
}

HuberLossImpl::HuberLossImpl(HuberLossOptions options) : options_(std::move(options)) {}

Tensor HuberLossImpl::forward(const Tensor& input, const Tensor& target,
                              const Tensor& mask) const {
  return functional::huber_loss(input, target, with_mask(options_, mask));
}

CrossEntropyLossImpl::CrossEntropyLossImpl(CrossEntropyLossOptions options)
    : options_(std::move(options)) {
  weight = optional_buffer(*this, "weight", options_.weight_);
}

Tensor CrossEntropyLossImpl::forward(const Tensor& input, const Tensor& target,
                                     const Tensor& mask) const {
  return functional::cross_entropy(input, target, with_mask(with_weight(options_, weight), mask));
}

NLLLossImpl::NLLLossImpl(NLLLossOptions options) : options_(std::move(options)) {
  weight = optional_buffer(*this, "weight", options_.weight_);
}

Tensor NLLLossImpl::forward(const Tensor& input, const Tensor& target,
                            const Tensor& mask) const {
  return functional::nll_loss(input, target, with_mask(with_weight(options_, weight), mask));
}

BCELossImpl::BCELossImpl(BCELossOptions options) : options_(std::move(options)) {
  weight = optional_buffer(*this, "weight", options_.weight_);
}

Tensor BCELossImpl::forward(const Tensor& input, const Tensor& target,
                            const Tensor& mask) const {
  return functional::binary_cross_entropy(input, target,
                                          with_mask(with_weight(options_, weight), mask));
}

BCEWithLogitsLossImpl::BCEWithLogitsLossImpl(BCEWithLogitsLossOptions options)
    : options_(std::move(options)) {
  weight = optional_buffer(*this, "weight", options_.weight_);
  pos_weight = optional_buffer(*this, "pos_weight", options_.pos_weight_);
}

Tensor BCEWithLogitsLossImpl::forward(const Tensor& input, const Tensor& target,
                                      const Tensor& mask) const {
  BCEWithLogitsLossOptions o = with_mask(with_weight(options_, weight), mask);
  o.pos_weight_ = pos_weight;
  return functional::binary_cross_entropy_with_logits(input, target, o);
}

KLDivLossImpl::KLDivLossImpl(KLDivLossOptions options) : options_(std::move(options)) {}

Tensor KLDivLossImpl::forward(const Tensor& input, const Tensor& target) const {
  return functional::kl_div(input, target, options_);
}

}  // namespace reel::nn
