#pragma once
// nn::init: in-place parameter initialisers, as torch.nn.init. Each runs without recording on
// the tape (NoGradGuard), writes into the tensor's own storage (handles stay valid), bumps its
// version counter and returns the tensor. Complex tensors draw their real and imaginary parts
// independently (uniform: each part in the range; normal: each part with std / sqrt(2), as
// PyTorch's complex normal_). orthogonal_ and eye_ take real tensors only.
//
// Every initialiser that draws takes a trailing `Generator* generator` (PyTorch 2.x's
// generator= argument): nullptr (the default) draws from default_generator(), a generator
// draws from it and leaves the default's state alone.
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "tensor/tensor.hpp"

namespace reel::nn::init {

enum class FanMode : std::uint8_t { FanIn, FanOut };
inline constexpr FanMode kFanIn = FanMode::FanIn;
inline constexpr FanMode kFanOut = FanMode::FanOut;

// PyTorch's calculate_gain: the recommended gain for a nonlinearity. linear, conv1d/2d/3d,
// conv_transpose1d/2d/3d, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu:
// sqrt(2 / (1 + slope^2)), slope = param or 0.01; selu: 3/4. Anything else raises.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = std::nullopt);

// PyTorch's _calculate_fan_in_and_fan_out: for a weight (out, in, *kernel),
// fan_in = in * prod(kernel), fan_out = out * prod(kernel). Needs at least 2 dims.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

// t ~ U(a, b) in place.
Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0, Generator* generator = nullptr);
// t ~ N(mean, std^2) in place.
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0,
               Generator* generator = nullptr);
// t ~ N(mean, std^2) restricted to [a, b] (PyTorch's trunc_normal_ distribution; drawn by
// redrawing the values outside, so the numbers differ from PyTorch's inverse-CDF method).
// Real tensors only.
Tensor trunc_normal_(const Tensor& t, double mean = 0.0, double std = 1.0, double a = -2.0,
                     double b = 2.0, Generator* generator = nullptr);
// Fills with a value; zeros_ and ones_ with 0 and 1.
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);
// The identity for a 2-D tensor (ones on the diagonal, rectangular allowed).
Tensor eye_(const Tensor& t);

// Glorot & Bengio (2010): std = gain * sqrt(2 / (fan_in + fan_out)); uniform draws from
// U(-sqrt(3) * std, sqrt(3) * std), normal from N(0, std^2).
Tensor xavier_uniform_(const Tensor& t, double gain = 1.0, Generator* generator = nullptr);
Tensor xavier_normal_(const Tensor& t, double gain = 1.0, Generator* generator = nullptr);

// He et al. (2015): std = calculate_gain(nonlinearity, a) / sqrt(fan), fan = fan_in or
// fan_out by `mode`; uniform draws from U(-sqrt(3) * std, sqrt(3) * std), normal from
// N(0, std^2). `a` is the leaky ReLU's negative slope (used by "leaky_relu" only). With
// a = sqrt(5) (what nn.Conv1d uses) the uniform bound is 1 / sqrt(fan_in).
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = kFanIn,
                        std::string_view nonlinearity = "leaky_relu",
                        Generator* generator = nullptr);
Tensor kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = kFanIn,
                       std::string_view nonlinearity = "leaky_relu",
                       Generator* generator = nullptr);

// Saxe et al. (2013), PyTorch's algorithm: a (rows, numel / rows) matrix of N(0, 1) draws
// (transposed when rows < cols), its QR decomposition, Q with each column's sign set by
// diag(R), transposed back, times gain. So rows of the result are orthonormal (rows <= cols)
// or columns are (rows > cols). The QR runs on the host in float64 (Householder). Needs at
// least 2 dims; real tensors.
Tensor orthogonal_(const Tensor& t, double gain = 1.0, Generator* generator = nullptr);

}  // namespace reel::nn::init
