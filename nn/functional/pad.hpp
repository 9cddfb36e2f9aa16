#pragma once
// F.pad for the last dim of a 2-D (C, L) or 3-D (N, C, L) tensor: zeros, reflect, replicate,
// circular — differentiable.
#include <cstdint>

#include "nn/padding.hpp"
#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// Pads `left` and `right` elements onto the last dim. reflect needs each pad < L; circular
// needs each pad <= L; replicate has no bound; zeros pads with `value`.
Tensor pad1d(const Tensor& input, std::int64_t left, std::int64_t right, PaddingMode mode,
             double value = 0.0);

}  // namespace reel::nn::functional
