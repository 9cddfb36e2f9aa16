// nn::Upsample: F::interpolate with the module's options (checked once at construction).
#include "nn/upsampling.hpp"

#include <cmath>

#include <fmt/format.h>

namespace reel::nn {

namespace {
functional::InterpolateFuncOptions func(const UpsampleOptions& o) {
  functional::InterpolateFuncOptions f;
  if (o.size_) f.size(*o.size_);
  if (o.scale_factor_) f.scale_factor(*o.scale_factor_);
  f.mode(o.mode_);
  if (o.align_corners_) f.align_corners(*o.align_corners_);
  return f;
}
}  // namespace

UpsampleImpl::UpsampleImpl(UpsampleOptions o) : options(o) {
  functional::check_interpolate_options(func(options), "Upsample");
}

Tensor UpsampleImpl::forward(const Tensor& input) const {
  return functional::interpolate(input, func(options));
}

std::string UpsampleImpl::repr() const {
  // torch.nn.Upsample.extra_repr: the scale factor as a Python float, or the size; the mode.
  std::string info;
  if (options.scale_factor_) {
    std::string s = fmt::format("{}", *options.scale_factor_);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    info = "scale_factor=" + s;
  } else {
    info = fmt::format("size={}", *options.size_);
  }
  return fmt::format("Upsample({}, mode={})", info, interpolate_mode_name(options.mode_));
}

}  // namespace reel::nn
