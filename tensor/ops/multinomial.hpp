#pragma once
// torch.multinomial (tensor/ops/multinomial.cpp; issue 8, generators). Included by reel.hpp.
//
// num_samples indices from each row of probs (1-D: one distribution; 2-D: one per row), int64
// of shape [num_samples] or [rows, num_samples] on probs' device. Weights are non-negative and
// finite and need not sum to 1. Without replacement the indices of a row are distinct
// (num_samples <= its non-zero weights). Not differentiable. See docs/training.md.
#include <cstdint>

#include "tensor/tensor.hpp"

namespace reel {

Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement = false);
Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement,
                   Generator& generator);

}  // namespace reel
