#pragma once
// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize: PyTorch 1.13's
// torch.optim.SGD (single-tensor form). Per parameter, with d = ±grad (+ weight_decay·param):
//   buf = d at the first step, momentum·buf + (1 − dampening)·d after;
//   d = d + momentum·buf (nesterov) or buf;   param −= lr·d.
// State: "momentum_buffer" (only when momentum != 0).
#include "nn/optim/optimizer.hpp"

namespace reel::optim {

class SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
 public:
  // lr has no default (PyTorch's `required`): SGDOptions() is for param groups that take the
  // optimizer's lr.
  SGDOptions();
  explicit SGDOptions(double lr);
  const char* optimizer_name() const override { return "SGD"; }

  double lr() const { return get("lr"); }
  SGDOptions& lr(double v) { set("lr", v); return *this; }
  double momentum() const { return get("momentum"); }
  SGDOptions& momentum(double v) { set("momentum", v); return *this; }
  double dampening() const { return get("dampening"); }
  SGDOptions& dampening(double v) { set("dampening", v); return *this; }
  double weight_decay() const { return get("weight_decay"); }
  SGDOptions& weight_decay(double v) { set("weight_decay", v); return *this; }
  bool nesterov() const { return get("nesterov") != 0.0; }
  SGDOptions& nesterov(bool v) { set("nesterov", v ? 1.0 : 0.0); return *this; }
  bool maximize() const { return get("maximize") != 0.0; }
  SGDOptions& maximize(bool v) { set("maximize", v ? 1.0 : 0.0); return *this; }
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<OptimizerParamGroup>& param_groups, const SGDOptions& defaults);
  SGD(std::vector<Tensor> params, const SGDOptions& defaults);

 protected:
  void check_options(const OptimizerOptions& options) const override;
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
  void update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
              OptimizerParamState& state) override;
};

}  // namespace reel::optim
