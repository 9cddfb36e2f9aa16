#pragma once
// RMSprop: PyTorch 1.13's torch.optim.RMSprop (single-tensor form). Per parameter, with
// g = ±grad (+ weight_decay·param):
//   s = α·s + (1 − α)·g²;   centered: a = α·a + (1 − α)·g, d = sqrt(s − a²) + eps,
//   else d = sqrt(s) + eps;   momentum > 0: buf = momentum·buf + g/d, param −= lr·buf,
//   else param −= lr·g/d.
// State: "step" (an int64 counter, PyTorch's int), "square_avg", "momentum_buffer" (momentum
// > 0), "grad_avg" (centered).
#include "nn/optim/optimizer.hpp"

namespace reel::optim {

class RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
 public:
  RMSpropOptions();
  explicit RMSpropOptions(double lr) : RMSpropOptions() { set("lr", lr); }
  const char* optimizer_name() const override { return "RMSprop"; }

  double lr() const { return get("lr"); }
  RMSpropOptions& lr(double v) { set("lr", v); return *this; }
  double alpha() const { return get("alpha"); }
  RMSpropOptions& alpha(double v) { set("alpha", v); return *this; }
  double eps() const { return get("eps"); }
  RMSpropOptions& eps(double v) { set("eps", v); return *this; }
  double weight_decay() const { return get("weight_decay"); }
  RMSpropOptions& weight_decay(double v) { set("weight_decay", v); return *this; }
  double momentum() const { return get("momentum"); }
  RMSpropOptions& momentum(double v) { set("momentum", v); return *this; }
  bool centered() const { return get("centered") != 0.0; }
  RMSpropOptions& centered(bool v) { set("centered", v ? 1.0 : 0.0); return *this; }
  bool maximize() const { return get("maximize") != 0.0; }
  RMSpropOptions& maximize(bool v) { set("maximize", v ? 1.0 : 0.0); return *this; }
};

class RMSprop : public Optimizer {
 public:
  RMSprop(const std::vector<OptimizerParamGroup>& param_groups,
          const RMSpropOptions& defaults = RMSpropOptions());
  RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults = RMSpropOptions());

 protected:
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override {
    return {"step", "square_avg", "momentum_buffer", "grad_avg"};
  }
  void update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
              OptimizerParamState& state) override;
};

}  // namespace reel::optim
