// Optimizers and schedulers: the API (param groups and their option fallback, zero_grad,
// step with a closure, skipped parameters, version counters, state dicts) and every error.
// The numbers themselves are checked against PyTorch in test_optim_golden.cpp.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using namespace reel::optim;
using reel::test::check_error;

namespace {

Tensor param(std::vector<double> values, DType dtype = kFloat64) {
  return tensor(values, TensorOptions(dtype)).requires_grad_(true);
}

}  // namespace

TEST_CASE("optim: a quadratic loss through a closure, SGD and Adam by hand") {
  test::on_cpu_backends([] {
    // loss = sum(w^2): grad = 2w; SGD(lr=0.1): w <- w - 0.2w = 0.8w.
    Tensor w = param({1.0, -2.0, 3.0});
    SGD sgd({w}, SGDOptions(0.1));
    auto closure = [&] {
      sgd.zero_grad();
      Tensor loss = (w * w).sum();
      loss.backward();
      return loss;
    };
    Tensor loss = sgd.step(closure);
    CHECK(loss.item<double>() == doctest::Approx(14.0));
    test::check_values(w, {0.8, -1.6, 2.4}, 1e-15);
    CHECK_FALSE(sgd.step().defined());  // no closure: no loss (the old gradient is used again)
    test::check_values(w, {0.8 - 0.2, -1.6 + 0.4, 2.4 - 0.6}, 1e-15);

    // Adam's first step moves each coordinate by lr·sign(grad) (up to eps): m̂ = g, v̂ = g².
    Tensor a = param({0.5, -1.5});
    Adam adam({a}, AdamOptions(0.01));
    a.mutable_grad_set(tensor({4.0, -0.25}));
    adam.step();
    test::check_values(a, {0.49, -1.49}, 1e-7);
    CHECK(adam.state(a)->at("step").item<double>() == 1.0);
    CHECK(adam.state(a)->at("step").dtype() == kFloat32);  // PyTorch's torch.tensor(0.)
  });
}

TEST_CASE("optim: param groups fall back to the defaults field by field") {
  Tensor a = param({1.0}), b = param({2.0});
  SGD opt({OptimizerParamGroup({a}), OptimizerParamGroup({b}, SGDOptions().lr(0.5))},
          SGDOptions(0.1).momentum(0.9).weight_decay(0.01));
  const auto& g0 = static_cast<const SGDOptions&>(opt.param_groups()[0].options());
  const auto& g1 = static_cast<const SGDOptions&>(opt.param_groups()[1].options());
  CHECK(g0.lr() == 0.1);
  CHECK(g1.lr() == 0.5);
  CHECK(g1.momentum() == 0.9);  // not set by the group: the default
  CHECK(g1.weight_decay() == 0.01);
  CHECK(opt.size() == 2);
  CHECK(opt.parameters().size() == 2);

  Tensor c = param({3.0});
  opt.add_param_group(OptimizerParamGroup({c}, SGDOptions().momentum(0.0)));
  CHECK(opt.param_groups().size() == 3);
  CHECK(static_cast<const SGDOptions&>(opt.param_groups()[2].options()).momentum() == 0.0);
  CHECK(opt.param_groups()[2].options().get_lr() == 0.1);

  // Adam's betas as a tuple, stored as two keys.
  Tensor d = param({1.0});
  Adam adam({d}, AdamOptions(0.01).betas({0.5, 0.6}));
  const auto& ao = static_cast<const AdamOptions&>(adam.param_groups()[0].options());
  CHECK(std::get<0>(ao.betas()) == 0.5);
  CHECK(std::get<1>(ao.betas()) == 0.6);
  CHECK(AdamWOptions().weight_decay() == 0.01);  // AdamW's default decay
  CHECK(AdamOptions().weight_decay() == 0.0);
}

TEST_CASE("optim: zero_grad, skipped parameters and version counters") {
  Tensor a = param({1.0, 2.0}), b = param({3.0});
  Adam opt({a, b}, AdamOptions(0.1));
  a.mutable_grad_set(tensor({1.0, 1.0}));
  const auto va = a.version(), vb = b.version();
  opt.step();
  CHECK(a.version() > va);
  CHECK(b.version() == vb);  // no gradient: skipped, as PyTorch
  CHECK(opt.state(b) == nullptr);
  CHECK(opt.state(a) != nullptr);
  test::check_values(b, {3.0});
  opt.zero_grad(/*set_to_none=*/false);
  REQUIRE(a.grad().defined());
  test::check_values(a.grad(), {0.0, 0.0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  // A state tensor a graph saved notices the update.
  const Tensor exp_avg = opt.state(a)->at("exp_avg");
  const auto v = exp_avg.version();
  a.mutable_grad_set(tensor({1.0, 1.0}));
  opt.step();
  CHECK(exp_avg.version() > v);
}

TEST_CASE("optim: complex parameters are updated as their real views (view_as_real)") {
  // A complex parameter must move exactly as the float pair parameter holding its parts.
  test::on_cpu_backends([] {
    Tensor z = tensor(std::vector<complex128>{{1.0, -2.0}, {0.5, 0.25}}, TensorOptions(kComplex128))
                   .requires_grad_(true);
    Tensor r = param({1.0, -2.0, 0.5, 0.25});
    RMSprop oz({z}, RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.1));
    RMSprop orr({r}, RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.1));
    for (int step = 0; step < 3; ++step) {
      z.mutable_grad_set(tensor(std::vector<complex128>{{0.3, 0.1 * step}, {-1.0, 2.0}},
                                TensorOptions(kComplex128)));
      r.mutable_grad_set(tensor({0.3, 0.1 * step, -1.0, 2.0}));
      oz.step();
      orr.step();
    }
    const std::vector<complex128> got = z.to_vector<complex128>();
    const std::vector<double> want = r.to_vector<double>();
    for (int i = 0; i < 2; ++i) {
      CHECK(got[i].real() == want[2 * i]);
      CHECK(got[i].imag() == want[2 * i + 1]);
    }
    Tensor w = tensor(std::vector<complex128>{{1.0, 1.0}}, TensorOptions(kComplex128))
                   .requires_grad_(true);
    Adagrad ada({w}, AdagradOptions().initial_accumulator_value(0.5));
    const std::vector<complex128> sum = ada.state(w)->at("sum").to_vector<complex128>();
    CHECK(sum[0] == complex128(0.5, 0.5));  // complex(v, v), as PyTorch
  });
}

TEST_CASE("optim: PyTorch's option errors") {
  Tensor w = param({1.0});
  check_error([&] { SGD({w}, SGDOptions(-0.1)); }, {"SGD", "Invalid learning rate: -0.1"});
  check_error([&] { SGD({w}, SGDOptions(0.1).momentum(-1)); }, {"Invalid momentum value: -1"});
  check_error([&] { SGD({w}, SGDOptions(0.1).weight_decay(-1)); },
              {"Invalid weight_decay value: -1"});
  check_error([&] { SGD({w}, SGDOptions(0.1).nesterov(true)); },
              {"Nesterov momentum requires a momentum and zero dampening"});
  check_error([&] { SGD({w}, SGDOptions(0.1).nesterov(true).momentum(0.9).dampening(0.1)); },
              {"Nesterov momentum requires a momentum and zero dampening"});
  check_error([&] { SGD({w}, SGDOptions()); }, {"SGD", "lr"});
  check_error([&] { Adam({w}, AdamOptions(-1)); }, {"Adam", "Invalid learning rate"});
  check_error([&] { Adam({w}, AdamOptions().eps(-1)); }, {"Invalid epsilon value"});
  check_error([&] { Adam({w}, AdamOptions().betas({1.0, 0.9})); },
              {"Invalid beta parameter at index 0: 1"});
  check_error([&] { AdamW({w}, AdamWOptions().betas({0.9, -0.1})); },
              {"AdamW", "Invalid beta parameter at index 1: -0.1"});
  check_error([&] { AdamW({w}, AdamWOptions().weight_decay(-0.1)); },
              {"Invalid weight_decay value"});
  check_error([&] { RMSprop({w}, RMSpropOptions().alpha(-1)); }, {"RMSprop", "Invalid alpha value"});
  check_error([&] { RMSprop({w}, RMSpropOptions().momentum(-1)); }, {"Invalid momentum value"});
  check_error([&] { RMSprop({w}, RMSpropOptions().eps(-1)); }, {"Invalid epsilon value"});
  check_error([&] { Adagrad({w}, AdagradOptions().lr_decay(-1)); },
              {"Adagrad", "Invalid lr_decay value"});
  check_error([&] { Adagrad({w}, AdagradOptions().initial_accumulator_value(-1)); },
              {"Invalid initial_accumulator_value value"});
  check_error([&] { Adagrad({w}, AdagradOptions().eps(-1)); }, {"Invalid epsilon value"});
  // A group's own options are checked too.
  check_error([&] { SGD({OptimizerParamGroup({w}, SGDOptions().lr(-1))}, SGDOptions(0.1)); },
              {"Invalid learning rate: -1"});
}

TEST_CASE("optim: parameter and group errors") {
  Tensor w = param({1.0}), v = param({2.0});
  check_error([&] { SGD(std::vector<Tensor>{}, SGDOptions(0.1)); }, {"empty parameter list"});
  check_error([&] { SGD({OptimizerParamGroup({w}), OptimizerParamGroup({w})}, SGDOptions(0.1)); },
              {"more than one parameter group"});
  check_error([&] { SGD({w, w}, SGDOptions(0.1)); }, {"same parameter twice"});
  check_error([&] { SGD({w * 2.0}, SGDOptions(0.1)); }, {"non-leaf"});
  check_error([&] { SGD({tensor({1, 2})}, SGDOptions(0.1)); },
              {"floating point or complex", "int64"});
  check_error([&] { SGD({Tensor()}, SGDOptions(0.1)); }, {"undefined"});
  check_error([&] { SGD({OptimizerParamGroup({w}, AdamOptions())}, SGDOptions(0.1)); },
              {"AdamOptions", "expected SGDOptions"});
  SGD opt({w}, SGDOptions(0.1));
  check_error([&] { opt.add_param_group(OptimizerParamGroup({w})); },
              {"more than one parameter group"});
  // amsgrad with a complex parameter: PyTorch 1.13's error.
  Tensor z = tensor(std::vector<complex64>{{1.0f, 1.0f}}, TensorOptions(kComplex64))
                 .requires_grad_(true);
  Adam adam({z}, AdamOptions().amsgrad(true));
  z.mutable_grad_set(tensor(std::vector<complex64>{{1.0f, 1.0f}}, TensorOptions(kComplex64)));
  check_error([&] { adam.step(); }, {"Adam", "maximum not implemented for complex tensors"});
  (void)v;
}

TEST_CASE("optim: state_dict names, and load_state_dict validates before changing anything") {
  Tensor a = param({1.0, 2.0}), b = param({3.0, 4.0, 5.0});
  Adam opt({OptimizerParamGroup({a}), OptimizerParamGroup({b}, AdamOptions().lr(0.5))},
           AdamOptions(0.1).amsgrad(true));
  a.mutable_grad_set(tensor({1.0, -1.0}));
  b.mutable_grad_set(tensor({1.0, 2.0, 3.0}));
  opt.step();
  const OptimizerStateDict sd = opt.state_dict();
  std::vector<std::string> names;
  for (const auto& [n, t] : sd.tensors) names.push_back(n);
  CHECK(names == std::vector<std::string>{"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                                          "state.0.max_exp_avg_sq", "state.1.step",
                                          "state.1.exp_avg", "state.1.exp_avg_sq",
                                          "state.1.max_exp_avg_sq"});
  auto scalar = [&](const std::string& key) {
    for (const auto& [k, v] : sd.scalars)
      if (k == key) return v;
    FAIL("no scalar " << key);
    return 0.0;
  };
  CHECK(scalar("param_groups.0.lr") == 0.1);
  CHECK(scalar("param_groups.1.lr") == 0.5);
  CHECK(scalar("param_groups.1.betas.0") == 0.9);
  CHECK(scalar("param_groups.1.amsgrad") == 1.0);
  CHECK(scalar("param_groups.1.params.0") == 1.0);

  auto fresh = [] {
    static std::vector<Tensor> keep;
    keep = {param({0.0, 0.0}), param({0.0, 0.0, 0.0})};
    return std::make_unique<Adam>(
        std::vector<OptimizerParamGroup>{OptimizerParamGroup({keep[0]}),
                                         OptimizerParamGroup({keep[1]})},
        AdamOptions(0.1).amsgrad(true));
  };
  {
    auto o = fresh();
    o->load_state_dict(sd);
    CHECK(o->param_groups()[1].options().get_lr() == 0.5);
    CHECK(o->state(o->param_groups()[1].params()[0])->at("step").item<double>() == 1.0);
  }
  auto expect_refused = [&](OptimizerStateDict bad, std::initializer_list<std::string> parts) {
    auto o = fresh();
    check_error([&] { o->load_state_dict(bad); }, parts);
    CHECK(o->param_groups()[1].options().get_lr() == 0.1);  // nothing changed
    CHECK(o->state(o->param_groups()[0].params()[0]) == nullptr);
  };
  {
    OptimizerStateDict bad = sd;  // one group too few
    std::erase_if(bad.scalars, [](const auto& kv) { return kv.first.starts_with("param_groups.1"); });
    expect_refused(bad, {"different number of parameter groups"});
  }
  {
    OptimizerStateDict bad = sd;  // the second group holds two parameters
    bad.scalars.emplace_back("param_groups.1.params.1", 2.0);
    expect_refused(bad, {"doesn't match the size of optimizer's group"});
  }
  {
    OptimizerStateDict bad = sd;
    bad.tensors[1].second = zeros({5}, kFloat64);
    expect_refused(bad, {"state.0.exp_avg", "shape [5]", "[2]"});
  }
  {
    OptimizerStateDict bad = sd;
    bad.tensors.emplace_back("state.0.momentum_buffer", zeros({2}, kFloat64));
    expect_refused(bad, {"no state named 'momentum_buffer'"});
  }
  {
    OptimizerStateDict bad = sd;
    bad.tensors.emplace_back("state.7.exp_avg", zeros({2}, kFloat64));
    expect_refused(bad, {"parameter 7"});
  }
  {
    OptimizerStateDict bad = sd;
    bad.tensors.emplace_back("exp_avg", zeros({2}, kFloat64));
    expect_refused(bad, {"unexpected tensor entry 'exp_avg'"});
  }
  {
    OptimizerStateDict bad = sd;
    std::erase_if(bad.scalars, [](const auto& kv) { return kv.first == "param_groups.0.eps"; });
    expect_refused(bad, {"lacks the option 'eps'"});
  }
  {
    OptimizerStateDict bad = sd;
    for (auto& [k, v] : bad.scalars)
      if (k == "param_groups.1.lr") v = -1.0;
    expect_refused(bad, {"Invalid learning rate: -1"});
  }
}

TEST_CASE("optim: the fused kernels check their views") {
  using backends::View;
  std::vector<float> p(4, 1.0f), g(4, 0.5f), m(4, 0.0f), small(2, 0.0f);
  std::vector<double> pd(4, 1.0);
  std::vector<std::int64_t> pi(4, 1);
  auto& b = backends::reference_backend();
  backends::SgdStepParams sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  check_error([&] { b.sgd_step(test::view(p.data(), {4}), test::view(g.data(), {4}), View{}, sgd); },
              {"sgd_step", "momentum buffer is required"});
  check_error([&] {
    b.sgd_step(test::view(p.data(), {4}), test::view(small.data(), {2}), test::view(m.data(), {4}), sgd);
  }, {"sgd_step", "gradient has shape [2]"});
  check_error([&] {
    b.sgd_step(test::view(p.data(), {4}), test::view(pd.data(), {4}), test::view(m.data(), {4}), sgd);
  }, {"sgd_step", "gradient has dtype float64"});
  check_error([&] {
    b.sgd_step(test::view(p.data(), {4}), test::view(g.data(), {4}), test::view(m.data(), {4}, {0}), sgd);
  }, {"sgd_step", "broadcast"});
  check_error([&] {
    b.sgd_step(test::view(pi.data(), {4}), test::view(pi.data(), {4}), test::view(pi.data(), {4}), sgd);
  }, {"sgd_step: not supported for integer dtype int64"});
  backends::AdamStepParams adam;
  adam.amsgrad = true;
  check_error([&] {
    b.adam_step(test::view(p.data(), {4}), test::view(g.data(), {4}), test::view(m.data(), {4}),
                test::view(m.data(), {4}), View{}, adam);
  }, {"adam_step", "max_exp_avg_sq is required"});
  backends::RmspropStepParams rms;
  rms.centered = true;
  check_error([&] {
    b.rmsprop_step(test::view(p.data(), {4}), test::view(g.data(), {4}), test::view(m.data(), {4}),
                   View{}, View{}, rms);
  }, {"rmsprop_step", "grad_avg is required"});
  check_error([&] {
    b.adagrad_step(test::view(p.data(), {4}), test::view(g.data(), {4}), View{}, {});
  }, {"adagrad_step", "sum is required"});

  // SGD's first momentum step clones d into the buffer; later ones decay it.
  backends::SgdStepParams first = sgd;
  first.first_step = true;
  b.sgd_step(test::view(p.data(), {4}), test::view(g.data(), {4}), test::view(m.data(), {4}), first);
  CHECK(m[0] == 0.5f);
  CHECK(p[0] == 1.0f - 0.1f * 0.5f);
  b.sgd_step(test::view(p.data(), {4}), test::view(g.data(), {4}), test::view(m.data(), {4}), sgd);
  CHECK(m[0] == 0.5f * 0.9f + 1.0f * 0.5f);
}

TEST_CASE("optim: scheduler errors") {
  Tensor w = param({1.0});
  SGD sgd({w}, SGDOptions(0.1).momentum(0.9));
  check_error([&] { StepLR(sgd, 0); }, {"StepLR", "step_size"});
  check_error([&] { LinearLR(sgd, 1.5); }, {"LinearLR", "Starting multiplicative factor"});
  check_error([&] { LinearLR(sgd, 0.5, -0.5); }, {"LinearLR", "Ending multiplicative factor"});
  check_error([&] { CosineAnnealingLR(sgd, 0); }, {"CosineAnnealingLR", "T_max"});
  check_error([&] { OneCycleLR(sgd, OneCycleLROptions(0.1, 0).pct_start(0.3)); },
              {"OneCycleLR", "epochs"});
  check_error([&] { OneCycleLR(sgd, OneCycleLROptions(0.1, -5)); }, {"total_steps, but got -5"});
  check_error([&] { OneCycleLR(sgd, OneCycleLROptions(0.1, 10).pct_start(1.5)); },
              {"pct_start, but got 1.5"});
  check_error([&] { OneCycleLR(sgd, OneCycleLROptions(std::vector<double>{0.1, 0.2}, 10)); },
              {"expected 1 values for max_lr, got 2"});
  Adagrad ada({param({1.0})}, AdagradOptions());
  check_error([&] { OneCycleLR(ada, OneCycleLROptions(0.1, 10)); },
              {"optimizer must support momentum with `cycle_momentum` option enabled"});
  {
    Tensor u = param({1.0});
    SGD s({u}, SGDOptions(0.1));
    OneCycleLR one(s, OneCycleLROptions(0.1, 3).cycle_momentum(false));
    for (int i = 0; i < 3; ++i) one.step();
    check_error([&] { one.step(); }, {"Tried to step 5 times. The specified number of total steps is 3"});
  }
  {
    Tensor u = param({1.0});
    SGD s({u}, SGDOptions(0.1)), other({param({1.0})}, SGDOptions(0.1));
    auto a = std::make_shared<StepLR>(s, 3);
    auto b = std::make_shared<StepLR>(other, 3);
    check_error([&] { SequentialLR(s, {a, b}, {5}); }, {"SequentialLR", "same optimizer"});
    auto c = std::make_shared<ExponentialLR>(s, 0.9);
    check_error([&] { SequentialLR(s, {a, c}, {}); }, {"number of milestones to be equal to 0"});
    StepLR step(s, 3);
    SchedulerStateDict sd = step.state_dict();
    sd.pop_back();
    check_error([&] { step.load_state_dict(sd); }, {"load_state_dict", "lacks"});
    sd = step.state_dict();
    sd.emplace_back("surprise", 1.0);
    check_error([&] { step.load_state_dict(sd); }, {"unexpected key 'surprise'"});
    sd = step.state_dict();
    for (auto& [k, v] : sd) {
      if (k == "last_epoch") v = 7;
      if (k == "_step_count") v = 2.5;
    }
    check_error([&] { step.load_state_dict(sd); }, {"'_step_count' must be an integer, got 2.5"});
    CHECK(step.last_epoch() == 0);  // nothing changed
  }
  check_error([&] { ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().factor(1.0)); },
              {"Factor should be < 1.0"});
  check_error([&] {
    ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().min_lr(std::vector<double>{0.1, 0.2}));
  }, {"expected 1 min_lrs, got 2"});
}

TEST_CASE("optim: schedulers set initial_lr once and a constructed scheduler has stepped once") {
  Tensor w = param({1.0});
  SGD sgd({w}, SGDOptions(0.1));
  LinearLR warm(sgd, 0.5, 1.0, 4);
  CHECK(warm.last_epoch() == 0);
  CHECK(sgd.param_groups()[0].options().get_lr() == 0.05);  // PyTorch's initial step
  CHECK(sgd.param_groups()[0].options().get("initial_lr") == 0.1);
  ExponentialLR exp(sgd, 0.5);  // initial_lr kept (setdefault)
  CHECK(exp.base_lrs() == std::vector<double>{0.1});
}

TEST_CASE("optim: training a Conv1d module lowers its loss; a moved module's state is refused") {
  manual_seed(7);
  nn::Conv1d conv(nn::Conv1dOptions(2, 3, 3));
  const Tensor x = randn({4, 2, 10});
  const Tensor target = randn({4, 3, 8});
  AdamW opt(conv->parameters(), AdamWOptions(0.05));
  auto loss_fn = [&] {
    opt.zero_grad();
    Tensor d = conv(x) - target;
    Tensor loss = (d * d).mean();
    loss.backward();
    return loss;
  };
  const double first = opt.step(loss_fn).item<double>();
  double last = first;
  for (int i = 0; i < 30; ++i) last = opt.step(loss_fn).item<double>();
  CHECK(last < 0.8 * first);
  // Module::to(kFloat64) keeps the handles the optimizer holds (set_data) but its state stays
  // float32: the next step refuses it clearly instead of mixing dtypes.
  conv->to(kFloat64);
  const Tensor x64 = x.to(kFloat64), t64 = target.to(kFloat64);
  opt.zero_grad();
  Tensor d = conv(x64) - t64;
  (d * d).mean().backward();
  check_error([&] { opt.step(); }, {"AdamW", "dtype float32", "float64"});
}
