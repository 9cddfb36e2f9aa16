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

class AdamW : public Optimizer {
 public:
  AdamW(const std::vector<OptimizerParamGroup>& param_groups,
        const AdamWOptions& defaults = AdamWOptions());
  AdamW(std::vector<Tensor> params, const AdamWOptions& defaults = AdamWOptions());

 protected:
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override {
    return {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }
  void update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
              OptimizerParamState& state) override;
};

}  // namespace reel::optim
