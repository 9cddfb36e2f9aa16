// The 1-D padding modules: each forward is nn::functional::pad1d; repr as PyTorch's.
#include "nn/padding1d.hpp"

#include <cmath>

#include <fmt/format.h>

#include "nn/functional/pad.hpp"

namespace reel::nn {

namespace {
// A Python float's repr for the values a padding constant takes (3.5, 0.0, -1.0, inf, nan,
// 1e-05): the shortest round-trip digits, with ".0" added to whole numbers.
std::string python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}
}  // namespace

Pad1dImpl::Pad1dImpl(PaddingMode mode, Pad1dSize padding, double value, const char* name)
    : mode_(mode), padding_(padding), value_(value), name_(name) {}

Tensor Pad1dImpl::forward(const Tensor& input) const {
  return functional::pad1d(input, padding_.left, padding_.right, mode_, value_);
}

std::string Pad1dImpl::repr() const {
  // torch.nn.ConstantPad1d prints "padding=(l, r), value=v"; the others "(l, r)".
  if (std::string_view(name_) == "ConstantPad1d") {
    return fmt::format("ConstantPad1d(padding=({}, {}), value={})", padding_.left,
                       padding_.right, python_float(value_));
  }
  return fmt::format("{}(({}, {}))", name_, padding_.left, padding_.right);
}

}  // namespace reel::nn
