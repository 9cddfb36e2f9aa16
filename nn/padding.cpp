// Names of the padding vocabulary, as PyTorch prints and parses them ("same", "reflect", ...).
#include "nn/padding.hpp"

#include <fmt/format.h>

#include "backends/error.hpp"

namespace reel {

std::string padding_mode_name(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::Zeros: return "zeros";
    case PaddingMode::Reflect: return "reflect";
    case PaddingMode::Replicate: return "replicate";
    case PaddingMode::Circular: return "circular";
  }
  fail("padding_mode_name: unknown padding mode {}", static_cast<int>(mode));
}

std::string padding_name(const Conv1dPadding& p) {
  if (const auto* n = std::get_if<std::int64_t>(&p)) return fmt::format("{}", *n);
  switch (std::get<PaddingRule>(p)) {
    case PaddingRule::Valid: return "valid";
    case PaddingRule::Same: return "same";
    case PaddingRule::Causal: return "causal";
  }
  fail("padding_name: unknown padding rule {}", static_cast<int>(std::get<PaddingRule>(p)));
}

PaddingRule padding_rule_from_string(std::string_view name) {
  if (name == "valid") return PaddingRule::Valid;
  if (name == "same") return PaddingRule::Same;
  if (name == "causal") return PaddingRule::Causal;
  // PyTorch: "Invalid padding string 'foo', should be one of {'valid', 'same'}"
  fail("Invalid padding string '{}', should be one of {{'valid', 'same', 'causal'}}", name);
}

PaddingMode padding_mode_from_string(std::string_view name) {
  if (name == "zeros") return PaddingMode::Zeros;
  if (name == "reflect") return PaddingMode::Reflect;
  if (name == "replicate") return PaddingMode::Replicate;
  if (name == "circular") return PaddingMode::Circular;
  fail("padding_mode must be one of {{'zeros', 'reflect', 'replicate', 'circular'}}, but got "
       "padding_mode='{}'",
       name);
}

}  // namespace reel
