#include "nn/optim/adagrad.hpp"

namespace reel::optim {

AdagradOptions::AdagradOptions() {
  define("lr", 1e-2);
  define("lr_decay", 0.0);
  define("weight_decay", 0.0);
  define("initial_accumulator_value", 0.0);
  define("eps", 1e-10);
  define("maximize", 0.0);
}

Adagrad::Adagrad(const std::vector<OptimizerParamGroup>& param_groups,
                 const AdagradOptions& defaults)
    : Optimizer("Adagrad", defaults.clone()) {
  add_param_groups(param_groups);
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& defaults)
    : Adagrad(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))},
              defaults) {}

void Adagrad::check_options(const OptimizerOptions& options) const {
  const auto& o = static_cast<const AdagradOptions&>(options);
  check(o.lr() >= 0.0, "Adagrad: Invalid learning rate: {}", o.lr());
  check(o.lr_decay() >= 0.0, "Adagrad: Invalid lr_decay value: {}", o.lr_decay());
  check(o.weight_decay() >= 0.0, "Adagrad: Invalid weight_decay value: {}", o.weight_decay());
  check(o.initial_accumulator_value() >= 0.0,
        "Adagrad: Invalid initial_accumulator_value value: {}", o.initial_accumulator_value());
  check(o.eps() >= 0.0, "Adagrad: Invalid epsilon value: {}", o.eps());
}

void Adagrad::init_state(const Tensor& param, const OptimizerOptions& options,
                         OptimizerParamState& state) {
  const auto& o = static_cast<const AdagradOptions&>(options);
  state.set("step", detail::step_counter(kFloat32));  // torch.tensor(0.0)
  Tensor sum = empty_like(param);
  // full_like(p, v), or complex(v, v) for a complex parameter: every real component is v.
  if (sum.numel() > 0) {
    backend_for(sum.device()).fill(detail::optim_view(sum), o.initial_accumulator_value());
  }
  state.set("sum", sum);
}

void Adagrad::update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
                     OptimizerParamState& state) {
  const auto& o = static_cast<const AdagradOptions&>(options);
  if (!state.has("step")) init_state(param, options, state);  // after a load of no state
  Tensor& step_t = state.at("step");
  step_t.add_(1);
  const double step = step_t.item<double>();
  backends::AdagradStepParams p;
  p.clr = o.lr() / (1 + (step - 1) * o.lr_decay());
  p.eps = o.eps();
  p.weight_decay = o.weight_decay();
  p.maximize = o.maximize();
  p.complex_param = param.is_complex();
  const Tensor& sum = state.at("sum");
  if (param.numel() > 0) {
    backend_for(param.device())
        .adagrad_step(detail::optim_view(param), detail::optim_view(grad),
                      detail::optim_view(sum), p);
  }
  param.bump_version();
  sum.bump_version();
}

}  // namespace reel::optim
