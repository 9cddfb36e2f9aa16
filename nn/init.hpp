#pragma once
// nn::init: in-place parameter initialisers, as torch.nn.init. Each runs without recording on
// the tape (NoGradGuard), writes into the tensor's own storage (handles stay valid) and bumps
// its version counter. Complex tensors draw their real and imaginary parts independently from
// the same range.
#include <cstdint>
#include <utility>

#include "tensor/tensor.hpp"

namespace reel::nn::init {

enum class FanMode : std::uint8_t { FanIn, FanOut };
inline constexpr FanMode kFanIn = FanMode::FanIn;
inline constexpr FanMode kFanOut = FanMode::FanOut;

// PyTorch's _calculate_fan_in_and_fan_out: for a weight (out, in, *kernel),
// fan_in = in * prod(kernel), fan_out = out * prod(kernel). Needs at least 2 dims.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

// t ~ U(a, b) in place.
Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0);

// He et al. (2015) uniform init for a leaky-ReLU of negative slope `a`:
// bound = gain * sqrt(3 / fan), gain = sqrt(2 / (1 + a^2)), t ~ U(-bound, bound).
// With a = sqrt(5) (what nn.Conv1d uses) bound = 1 / sqrt(fan_in).
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = kFanIn);

}  // namespace reel::nn::init
