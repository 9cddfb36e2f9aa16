#pragma once
// F.linear's twin: y = input · weightᵀ + bias, over any leading dims.
#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// input (*, in_features) — 1-D (in_features) included, giving (out_features); weight
// (out_features, in_features); bias (out_features) or undefined.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace reel::nn::functional
