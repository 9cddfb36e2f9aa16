#pragma once
// Adagrad: PyTorch 1.13's torch.optim.Adagrad (single-tensor form, dense gradients). Per
// parameter, at step t (a float32 counter), with g = ±grad (+ weight_decay·param):
//   clr = lr / (1 + (t − 1)·lr_decay);   sum += g²;   param −= clr·g / (sqrt(sum) + eps).
// State, created when the parameter joins (as PyTorch): "step", "sum" (filled with
// initial_accumulator_value; both parts of a complex sum).
#include "nn/optim/optimizer.hpp"

namespace reel::optim {

class AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
 public:
  AdagradOptions();
  explicit AdagradOptions(double lr) : AdagradOptions() { set("lr", lr); }
  const char* optimizer_name() const override { return "Adagrad"; }

  double lr() const { return get("lr"); }
  AdagradOptions& lr(double v) { set("lr", v); return *this; }
  double lr_decay() const { return get("lr_decay"); }
  AdagradOptions& lr_decay(double v) { set("lr_decay", v); return *this; }
  double weight_decay() const { return get("weight_decay"); }
  AdagradOptions& weight_decay(double v) { set("weight_decay", v); return *this; }
  double initial_accumulator_value() const { return get("initial_accumulator_value"); }
  AdagradOptions& initial_accumulator_value(double v) {
    set("initial_accumulator_value", v);
    return *this;
  }
  double eps() const { return get("eps"); }
  AdagradOptions& eps(double v) { set("eps", v); return *this; }
  bool maximize() const { return get("maximize") != 0.0; }
  AdagradOptions& maximize(bool v) { set("maximize", v ? 1.0 : 0.0); return *this; }
};

class Adagrad : public Optimizer {
 public:
  Adagrad(const std::vector<OptimizerParamGroup>& param_groups,
          const AdagradOptions& defaults = AdagradOptions());
  Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults = AdagradOptions());

 protected:
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"step", "sum"}; }
  void init_state(const Tensor& param, const OptimizerOptions& options,
                  OptimizerParamState& state) override;
  void update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
              OptimizerParamState& state) override;
};

}  // namespace reel::optim
