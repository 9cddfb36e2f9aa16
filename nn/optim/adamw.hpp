#pragma once
// AdamW: Adam with decoupled weight decay (param *= 1 − lr·weight_decay before the moments),
// default weight_decay 0.01; PyTorch 1.13's torch.optim.AdamW. See adam.hpp.
#include "nn/optim/adam.hpp"

namespace reel::optim {

class AdamWOptions : public detail::AdamOptionsBase<AdamWOptions> {
 public:
  AdamWOptions() : AdamOptionsBase(1e-2) {}
  explicit AdamWOptions(double lr) : AdamWOptions() { set("lr", lr); }
  const char* optimizer_name() const override { return "AdamW"; }
};

class AdamW : public detail::AdamFamily<AdamWOptions, /*Decoupled=*/true> {
 public:
  using AdamFamily::AdamFamily;
};

}  // namespace reel::optim
