#pragma once
// nn::Upsample for 1-D signals: the module around F::interpolate (nn/functional/upsampling.hpp).
//
//   reel::nn::Upsample up(reel::nn::UpsampleOptions().scale_factor(2.0).mode(reel::kLinear));
#include <cstdint>
#include <optional>

#include "nn/functional/upsampling.hpp"
#include "nn/module.hpp"

namespace reel::nn {

struct UpsampleOptions {
  UpsampleOptions& size(std::int64_t v) { size_ = v; return *this; }
  UpsampleOptions& scale_factor(double v) { scale_factor_ = v; return *this; }
  UpsampleOptions& mode(InterpolateMode v) { mode_ = v; return *this; }
  UpsampleOptions& mode(std::string_view v) { mode_ = interpolate_mode_from_string(v); return *this; }
  UpsampleOptions& align_corners(bool v) { align_corners_ = v; return *this; }
  std::optional<std::int64_t> size_;
  std::optional<double> scale_factor_;
  InterpolateMode mode_ = kNearest;
  std::optional<bool> align_corners_;
};

class UpsampleImpl : public Module {
 public:
  explicit UpsampleImpl(UpsampleOptions options = {});
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  UpsampleOptions options;
};

class Upsample : public ModuleHolder<UpsampleImpl> {
 public:
  using ModuleHolder<UpsampleImpl>::ModuleHolder;
};

}  // namespace reel::nn
