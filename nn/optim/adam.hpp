#pragma once
// Adam and AdamW: PyTorch 1.13's torch.optim.Adam / AdamW (single-tensor form). Per
// parameter, at step t (a float32 counter, as PyTorch's state['step'] tensor):
//   g = ±grad;  Adam: g += weight_decay·param;  AdamW: param *= 1 − lr·weight_decay
//   m = β1·m + (1 − β1)·g;   v = β2·v + (1 − β2)·g²;   amsgrad: v̂ = max(v̂, v)
//   param −= lr/(1 − β1^t) · m / (sqrt(v or v̂)/sqrt(1 − β2^t) + eps)
// State: "step", "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" with amsgrad.
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "nn/optim/optimizer.hpp"

namespace reel::optim {

namespace detail {
// The options Adam and AdamW share (they differ in the default weight_decay).
template <typename Derived>
class AdamOptionsBase : public OptimizerCloneableOptions<Derived> {
 public:
  double lr() const { return this->get("lr"); }
  Derived& lr(double v) { this->set("lr", v); return self(); }
  std::tuple<double, double> betas() const { return {this->get("betas.0"), this->get("betas.1")}; }
  Derived& betas(std::tuple<double, double> v) {
    this->set("betas.0", std::get<0>(v));
    this->set("betas.1", std::get<1>(v));
    return self();
  }
  double eps() const { return this->get("eps"); }
  Derived& eps(double v) { this->set("eps", v); return self(); }
  double weight_decay() const { return this->get("weight_decay"); }
  Derived& weight_decay(double v) { this->set("weight_decay", v); return self(); }
  bool amsgrad() const { return this->get("amsgrad") != 0.0; }
  Derived& amsgrad(bool v) { this->set("amsgrad", v ? 1.0 : 0.0); return self(); }
  bool maximize() const { return this->get("maximize") != 0.0; }
  Derived& maximize(bool v) { this->set("maximize", v ? 1.0 : 0.0); return self(); }

 protected:
  AdamOptionsBase(double weight_decay) {
    this->define("lr", 1e-3);
    this->define("betas.0", 0.9);
    this->define("betas.1", 0.999);
    this->define("eps", 1e-8);
    this->define("weight_decay", weight_decay);
    this->define("amsgrad", 0.0);
    this->define("maximize", 0.0);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

// The shared checks and update; `decoupled` selects AdamW's weight decay.
void check_adam_options(const char* name, double lr, double eps, double beta1, double beta2,
                        double weight_decay);
void adam_update(const char* name, const Tensor& param, const Tensor& grad,
                 OptimizerParamState& state, double lr, double beta1, double beta2,
                 double eps, double weight_decay, bool amsgrad, bool maximize, bool decoupled);
}  // namespace detail

namespace detail {
// Adam and AdamW are one optimizer, told apart by their options (named after the optimizer,
// with its default weight_decay) and by `Decoupled`, AdamW's weight decay.
template <typename Options, bool Decoupled>
class AdamFamily : public Optimizer {
 public:
  AdamFamily(const std::vector<OptimizerParamGroup>& param_groups,
             const Options& defaults = Options())
      : Optimizer(defaults.optimizer_name(), defaults.clone()) {
    add_param_groups(param_groups);
  }
  AdamFamily(std::vector<Tensor> params, const Options& defaults = Options())
      : AdamFamily(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))},
                   defaults) {}

 protected:
  void check_options(const OptimizerOptions& options) const override {
    const auto& o = static_cast<const Options&>(options);
    check_adam_options(o.optimizer_name(), o.lr(), o.eps(), std::get<0>(o.betas()),
                       std::get<1>(o.betas()), o.weight_decay());
  }
  std::vector<std::string> state_names() const override {
    return {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }
  void update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
              OptimizerParamState& state) override {
    const auto& o = static_cast<const Options&>(options);
    adam_update(name().c_str(), param, grad, state, o.lr(), std::get<0>(o.betas()),
                std::get<1>(o.betas()), o.eps(), o.weight_decay(), o.amsgrad(), o.maximize(),
                Decoupled);
  }
};
}  // namespace detail

class AdamOptions : public detail::AdamOptionsBase<AdamOptions> {
 public:
  AdamOptions() : AdamOptionsBase(0.0) {}
  explicit AdamOptions(double lr) : AdamOptions() { set("lr", lr); }
  const char* optimizer_name() const override { return "Adam"; }
};

class Adam : public detail::AdamFamily<AdamOptions, /*Decoupled=*/false> {
 public:
  using AdamFamily::AdamFamily;
};

}  // namespace reel::optim
