#pragma once
// Padding vocabulary shared by Conv1d and F::pad, as LibTorch spells it: reel::kSame, reel::kZeros.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "backends/backend.hpp"

namespace reel {

// How much to pad: a number on each side, or a rule resolved from the kernel geometry.
enum class PaddingRule : std::uint8_t {
  Valid,   // no padding
  Same,    // total = dilation*(k-1), left = total/2, right = total - left; stride must be 1
  Causal,  // left = dilation*(k-1), right = 0; any stride; L_out = ceil(L/stride)
};
inline constexpr PaddingRule kValid = PaddingRule::Valid;
inline constexpr PaddingRule kSame = PaddingRule::Same;
inline constexpr PaddingRule kCausal = PaddingRule::Causal;

// What the padded positions hold.
using PaddingMode = backends::PadMode;
inline constexpr PaddingMode kZeros = PaddingMode::Zeros;
inline constexpr PaddingMode kReflect = PaddingMode::Reflect;
inline constexpr PaddingMode kReplicate = PaddingMode::Replicate;
inline constexpr PaddingMode kCircular = PaddingMode::Circular;

// conv1d's `padding` argument: an int (both sides) or a rule.
using Conv1dPadding = std::variant<std::int64_t, PaddingRule>;

std::string padding_mode_name(PaddingMode mode);  // "zeros", "reflect", ...
std::string padding_name(const Conv1dPadding& p);   // "1", "same", "valid", "causal"

// The parsers behind the string setters (`.padding("same")`, `.padding_mode("reflect")`);
// an unknown name raises reel::Error in PyTorch's words.
PaddingRule padding_rule_from_string(std::string_view name);  // "valid", "same", "causal"
PaddingMode padding_mode_from_string(std::string_view name);  // "zeros", "reflect", ...

}  // namespace reel
