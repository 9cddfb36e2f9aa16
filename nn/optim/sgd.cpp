#include "nn/optim/sgd.hpp"

namespace reel::optim {

SGDOptions::SGDOptions() {
  define("lr", 0.0);  // not set: an optimizer's defaults must set it
  define("momentum", 0.0);
  define("dampening", 0.0);
  define("weight_decay", 0.0);
  define("nesterov", 0.0);
  define("maximize", 0.0);
}

SGDOptions::SGDOptions(double lr) : SGDOptions() { set("lr", lr); }

SGD::SGD(const std::vector<OptimizerParamGroup>& param_groups, const SGDOptions& defaults)
    : Optimizer("SGD", defaults.clone()) {
  check(defaults.is_set("lr"), "SGD: the default options must give an lr (it has no default)");
  add_param_groups(param_groups);
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& defaults)
    : SGD(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, defaults) {}

void SGD::check_options(const OptimizerOptions& options) const {
  const auto& o = static_cast<const SGDOptions&>(options);
  check(o.lr() >= 0.0, "SGD: Invalid learning rate: {}", o.lr());
  check(o.momentum() >= 0.0, "SGD: Invalid momentum value: {}", o.momentum());
  check(o.weight_decay() >= 0.0, "SGD: Invalid weight_decay value: {}", o.weight_decay());
  check(!o.nesterov() || (o.momentum() > 0.0 && o.dampening() == 0.0),
        "SGD: Nesterov momentum requires a momentum and zero dampening (momentum={}, "
        "dampening={})",
        o.momentum(), o.dampening());
}

void SGD::update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
                 OptimizerParamState& state) {
  const auto& o = static_cast<const SGDOptions&>(options);
  backends::SgdStepParams p;
  p.lr = o.lr();
  p.momentum = o.momentum();
  p.dampening = o.dampening();
  p.weight_decay = o.weight_decay();
  p.nesterov = o.nesterov();
  p.maximize = o.maximize();
  p.complex_param = param.is_complex();
  Tensor buf;
  if (p.momentum != 0.0) {
    if (!state.has("momentum_buffer")) {
      state.set("momentum_buffer", empty_like(param));
      p.first_step = true;  // torch.clone(d_p): the kernel writes d into the new buffer
    }
    buf = state.at("momentum_buffer");
  }
  if (param.numel() > 0) {
    backend_for(param.device())
        .sgd_step(detail::optim_view(param), detail::optim_view(grad),
                  buf.defined() ? detail::optim_view(buf) : backends::View{}, p);
  }
  param.bump_version();
  if (buf.defined()) buf.bump_version();
}

}  // namespace reel::optim
