#include <cmath>

#include "nn/optim/adam.hpp"
#include "nn/optim/adamw.hpp"

namespace reel::optim {

namespace detail {

void check_adam_options(const char* name, double lr, double eps, double beta1, double beta2,
                        double weight_decay) {
  check(lr >= 0.0, "{}: Invalid learning rate: {}", name, lr);
  check(eps >= 0.0, "{}: Invalid epsilon value: {}", name, eps);
  check(beta1 >= 0.0 && beta1 < 1.0, "{}: Invalid beta parameter at index 0: {}", name, beta1);
  check(beta2 >= 0.0 && beta2 < 1.0, "{}: Invalid beta parameter at index 1: {}", name, beta2);
  check(weight_decay >= 0.0, "{}: Invalid weight_decay value: {}", name, weight_decay);
}

void adam_update(const char* name, const Tensor& param, const Tensor& grad,
                 OptimizerParamState& state, double lr, double beta1, double beta2,
                 double eps, double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
  check(!(amsgrad && param.is_complex()),
        "{}: maximum not implemented for complex tensors (amsgrad with a complex parameter, "
        "as PyTorch 1.13)",
        name);
  if (!state.has("step")) {
    state.set("step", step_counter(kFloat32));  // torch.tensor(0.)
    state.set("exp_avg", zeros_like(param));
    state.set("exp_avg_sq", zeros_like(param));
    if (amsgrad) state.set("max_exp_avg_sq", zeros_like(param));
  }
  if (amsgrad && !state.has("max_exp_avg_sq")) {
    state.set("max_exp_avg_sq", zeros_like(param));  // amsgrad switched on later
  }
  Tensor& step_t = state.at("step");
  // step_t += 1 in the counter's own dtype (float32: exact up to 2^24), then .item().
  step_t.add_(1);
  const double step = step_t.item<double>();

  backends::AdamStepParams p;
  p.beta1 = beta1;
  p.beta2 = beta2;
  p.eps = eps;
  p.weight_decay = weight_decay;
  p.lr = lr;
  p.amsgrad = amsgrad;
  p.maximize = maximize;
  p.decoupled_weight_decay = decoupled;
  p.complex_param = param.is_complex();
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  p.step_size = lr / bias_correction1;
  p.bias_correction2_sqrt = std::sqrt(bias_correction2);

  const Tensor& exp_avg = state.at("exp_avg");
  const Tensor& exp_avg_sq = state.at("exp_avg_sq");
  const Tensor max_sq = amsgrad ? state.at("max_exp_avg_sq") : Tensor();
  for (const Tensor* t : {&exp_avg, &exp_avg_sq}) {
    check(t->sizes() == param.sizes() && t->dtype() == param.dtype(),
          "{}: the state has shape {} and dtype {} but the parameter has shape {} and dtype {}",
          name, t->sizes(), t->dtype(), param.sizes(), param.dtype());
  }
  if (param.numel() > 0) {
    backend_for(param.device())
        .adam_step(optim_view(param), optim_view(grad), optim_view(exp_avg),
                   optim_view(exp_avg_sq), max_sq.defined() ? optim_view(max_sq) : backends::View{},
                   p);
  }
  param.bump_version();
  exp_avg.bump_version();
  exp_avg_sq.bump_version();
  if (max_sq.defined()) max_sq.bump_version();
}

}  // namespace detail

}  // namespace reel::optim
