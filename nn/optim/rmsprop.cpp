#include "nn/optim/rmsprop.hpp"

namespace reel::optim {

RMSpropOptions::RMSpropOptions() {
  define("lr", 1e-2);
  define("alpha", 0.99);
  define("eps", 1e-8);
  define("weight_decay", 0.0);
  define("momentum", 0.0);
  define("centered", 0.0);
  define("maximize", 0.0);
}

RMSprop::RMSprop(const std::vector<OptimizerParamGroup>& param_groups,
                 const RMSpropOptions& defaults)
    : Optimizer("RMSprop", defaults.clone()) {
  add_param_groups(param_groups);
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& defaults)
    : RMSprop(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))},
              defaults) {}

void RMSprop::check_options(const OptimizerOptions& options) const {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  check(o.lr() >= 0.0, "RMSprop: Invalid learning rate: {}", o.lr());
  check(o.eps() >= 0.0, "RMSprop: Invalid epsilon value: {}", o.eps());
  check(o.momentum() >= 0.0, "RMSprop: Invalid momentum value: {}", o.momentum());
  check(o.weight_decay() >= 0.0, "RMSprop: Invalid weight_decay value: {}", o.weight_decay());
  check(o.alpha() >= 0.0, "RMSprop: Invalid alpha value: {}", o.alpha());
}

void RMSprop::update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
                     OptimizerParamState& state) {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  backends::RmspropStepParams p;
  p.lr = o.lr();
  p.alpha = o.alpha();
  p.eps = o.eps();
  p.weight_decay = o.weight_decay();
  p.momentum = o.momentum();
  p.centered = o.centered();
  p.maximize = o.maximize();
  p.complex_param = param.is_complex();
  if (!state.has("step")) {
    state.set("step", detail::step_counter(kInt64));  // PyTorch: state['step'] = 0 (an int)
    state.set("square_avg", zeros_like(param));
    if (p.momentum > 0.0) state.set("momentum_buffer", zeros_like(param));
    if (p.centered) state.set("grad_avg", zeros_like(param));
  }
  // Options changed after the first step (PyTorch would raise a KeyError): start from zeros.
  if (p.momentum > 0.0 && !state.has("momentum_buffer")) {
    state.set("momentum_buffer", zeros_like(param));
  }
  if (p.centered && !state.has("grad_avg")) state.set("grad_avg", zeros_like(param));
  state.at("step").add_(1);

  const Tensor& square_avg = state.at("square_avg");
  const Tensor grad_avg = p.centered ? state.at("grad_avg") : Tensor();
  const Tensor buf = p.momentum > 0.0 ? state.at("momentum_buffer") : Tensor();
  if (param.numel() > 0) {
    backend_for(param.device())
        .rmsprop_step(detail::optim_view(param), detail::optim_view(grad),
                      detail::optim_view(square_avg),
                      grad_avg.defined() ? detail::optim_view(grad_avg) : backends::View{},
                      buf.defined() ? detail::optim_view(buf) : backends::View{}, p);
  }
  param.bump_version();
  square_avg.bump_version();
  if (grad_avg.defined()) grad_avg.bump_version();
  if (buf.defined()) buf.bump_version();
}

}  // namespace reel::optim
