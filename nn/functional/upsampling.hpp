#pragma once
// F.interpolate for 1-D signals (input (N, C, L)), modes "nearest" and "linear", and the
// vocabulary nn::Upsample shares with it. Differentiable (built from index_select, mul, add).
#include <cstdint>
#include <optional>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel {

enum class InterpolateMode : std::uint8_t { Nearest, Linear };
inline constexpr InterpolateMode kNearest = InterpolateMode::Nearest;
inline constexpr InterpolateMode kLinear = InterpolateMode::Linear;

std::string interpolate_mode_name(InterpolateMode mode);       // "nearest", "linear"
InterpolateMode interpolate_mode_from_string(std::string_view name);

}  // namespace reel

namespace reel::nn::functional {

// LibTorch's InterpolateFuncOptions, for one spatial dim: exactly one of size and scale_factor.
struct InterpolateFuncOptions {
  InterpolateFuncOptions& size(std::int64_t v) { size_ = v; return *this; }
  InterpolateFuncOptions& scale_factor(double v) { scale_factor_ = v; return *this; }
  InterpolateFuncOptions& mode(InterpolateMode v) { mode_ = v; return *this; }
  InterpolateFuncOptions& mode(std::string_view v) { mode_ = interpolate_mode_from_string(v); return *this; }
  InterpolateFuncOptions& align_corners(bool v) { align_corners_ = v; return *this; }
  InterpolateFuncOptions& recompute_scale_factor(bool v) { recompute_scale_factor_ = v; return *this; }

  std::optional<std::int64_t> size_;
  std::optional<double> scale_factor_;
  InterpolateMode mode_ = kNearest;
  std::optional<bool> align_corners_;  // linear only; unset means false (as PyTorch)
  std::optional<bool> recompute_scale_factor_;
};

// The checks of the options alone (one of size / scale_factor, align_corners only with
// linear), as F.interpolate makes them; `op` names the caller.
void check_interpolate_options(const InterpolateFuncOptions& options,
                               std::string_view op = "interpolate");

// input (N, C, L) -> (N, C, L_out), L_out = size or floor(L * scale_factor).
//   nearest: out[i] = in[min(floor(i * scale), L - 1)], scale = 1/scale_factor when a
//            scale_factor is given (and recompute_scale_factor is not true), else L / L_out,
//            in the input's precision and rounded down in float32, as PyTorch 1.13's kernel.
//   linear:  align_corners: source i * (L-1)/(L_out-1); otherwise (i + 0.5) * scale - 0.5,
//            clamped at 0; the two neighbours weighted by the fractional part.
Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& options);

}  // namespace reel::nn::functional
