// Optimizers and learning-rate schedulers against PyTorch 1.13's own numbers:
// tests/nn/golden/optim/ (tests/nn/golden/make_optim_golden.py made them; its docstring gives
// the file formats). Each optimizer configuration starts two parameters from the same values as
// PyTorch, applies the same 10 gradients (p1 has none at step 3), and must end with the same
// parameters and state (exp_avg, momentum_buffer, step, ...), in float32, float64 and, where
// PyTorch supports it, complex64/complex128 (today bit for bit). Each scheduler configuration
// must give the same lr (and momentum / beta1 for OneCycleLR) at each of 100 steps.
#include <complex>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "golden.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using namespace reel::optim;

namespace {

const std::string kDir = test::golden::dir("optim");

using KeyValues = std::vector<std::pair<std::string, double>>;

struct OptConfig {
  std::string line;
  std::string name;
  std::string optimizer;
  DType dtype = kFloat32;
  KeyValues defaults;
  bool has_group1 = false;
  KeyValues group1;
  std::vector<std::string> states[2];  // of p0 and of p1
};

KeyValues parse_key_values(const std::string& text) {
  KeyValues out;
  if (text == "-") return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto colon = item.find(':');
    REQUIRE(colon != std::string::npos);
    out.emplace_back(item.substr(0, colon), std::stod(item.substr(colon + 1)));
  }
  return out;
}

std::string field(const std::string& token, const std::string& key) {
  REQUIRE(token.rfind(key + "=", 0) == 0);
  return token.substr(key.size() + 1);
}

std::vector<OptConfig> read_opt_index() {
  std::vector<OptConfig> out;
  for (const std::string& line : test::golden::index_lines(kDir + "/opt_index.txt")) {
    std::stringstream ss(line);
    OptConfig c;
    c.line = line;
    std::string dtype, defaults, group1, states;
    ss >> c.name >> c.optimizer >> dtype >> defaults >> group1 >> states;
    c.dtype = test::golden::parse_dtype(dtype);
    c.defaults = parse_key_values(field(defaults, "defaults"));
    const std::string g1 = field(group1, "group1");
    c.has_group1 = g1 != "-";
    c.group1 = parse_key_values(g1);
    const std::string both = field(states, "states");
    const auto slash = both.find('/');
    REQUIRE(slash != std::string::npos);
    for (int i = 0; i < 2; ++i) {
      std::stringstream st(i == 0 ? both.substr(0, slash) : both.substr(slash + 1));
      std::string s;
      while (std::getline(st, s, ',')) c.states[i].push_back(s);
    }
    out.push_back(c);
  }
  return out;
}

// A fresh options object of the configuration's optimizer, with `values` set by key.
std::unique_ptr<OptimizerOptions> make_options(const std::string& optimizer,
                                               const KeyValues& values) {
  std::unique_ptr<OptimizerOptions> o;
  if (optimizer == "SGD") o = std::make_unique<SGDOptions>();
  else if (optimizer == "Adam") o = std::make_unique<AdamOptions>();
  else if (optimizer == "AdamW") o = std::make_unique<AdamWOptions>();
  else if (optimizer == "RMSprop") o = std::make_unique<RMSpropOptions>();
  else if (optimizer == "Adagrad") o = std::make_unique<AdagradOptions>();
  else FAIL("unknown optimizer " << optimizer);
  for (const auto& [key, value] : values) {
    CAPTURE(key);
    REQUIRE(o->has(key));  // the golden keys are reel's option names
    o->set(key, value);
  }
  return o;
}

std::unique_ptr<Optimizer> make_optimizer(const OptConfig& c, const std::vector<Tensor>& ps) {
  std::vector<OptimizerParamGroup> groups;
  if (c.has_group1) {
    groups.emplace_back(std::vector<Tensor>{ps[0]});
    groups.emplace_back(std::vector<Tensor>{ps[1]}, make_options(c.optimizer, c.group1));
  } else {
    groups.emplace_back(ps);
  }
  auto d = make_options(c.optimizer, c.defaults);
  if (c.optimizer == "SGD") return std::make_unique<SGD>(groups, static_cast<SGDOptions&>(*d));
  if (c.optimizer == "Adam") return std::make_unique<Adam>(groups, static_cast<AdamOptions&>(*d));
  if (c.optimizer == "AdamW") return std::make_unique<AdamW>(groups, static_cast<AdamWOptions&>(*d));
  if (c.optimizer == "RMSprop")
    return std::make_unique<RMSprop>(groups, static_cast<RMSpropOptions&>(*d));
  return std::make_unique<Adagrad>(groups, static_cast<AdagradOptions&>(*d));
}

const Shape kShapes[] = {{3, 4}, {5}};
constexpr std::int64_t kNumel[] = {12, 5};
constexpr int kSteps = 10;

// p0 and p1 of `flat` (the layout of params.npy: p0 then p1, flattened), as new leaves.
std::vector<Tensor> split(const Tensor& flat, DType dtype, bool requires_grad) {
  std::vector<Tensor> out;
  std::int64_t at = 0;
  for (int i = 0; i < 2; ++i) {
    Tensor t = flat.narrow(0, at, kNumel[i]).reshape(kShapes[i]).to(dtype).clone();
    if (requires_grad) t.requires_grad_(true);
    out.push_back(t);
    at += kNumel[i];
  }
  return out;
}

// Runs the 10 steps of `c` on fresh parameters; returns the parameters and the optimizer.
std::pair<std::vector<Tensor>, std::unique_ptr<Optimizer>> run_config(const OptConfig& c,
                                                                      int steps = kSteps) {
  const bool cplx = is_complex(c.dtype);
  const Tensor start = load_npy(kDir + (cplx ? "/cparams.npy" : "/params.npy"));
  const Tensor grads = load_npy(kDir + (cplx ? "/cgrads.npy" : "/grads.npy"));
  std::vector<Tensor> ps = split(start, c.dtype, true);
  auto opt = make_optimizer(c, ps);
  for (int step = 0; step < steps; ++step) {
    std::vector<Tensor> gs = split(grads[step], c.dtype, false);
    for (int i = 0; i < 2; ++i) {
      if (i == 1 && step == 3) ps[i].zero_grad();  // no gradient: skipped
      else ps[i].mutable_grad_set(gs[i]);
    }
    opt->step();
  }
  return {ps, std::move(opt)};
}

void check_close(const std::vector<complex128>& got, const std::vector<complex128>& want,
                 DType dtype, const std::string& what) {
  CAPTURE(what);
  REQUIRE(got.size() == want.size());
  const bool single = dtype == kFloat32 || dtype == kComplex64;
  // The kernels round as ATen's CPU kernels do (fused multiply-adds included), so on x86-64 the
  // results are PyTorch's bit for bit; the tolerance leaves a few ulps for a compiler that
  // contracts differently.
  const double rtol = single ? 1e-6 : 1e-14, atol = single ? 1e-7 : 1e-16;
  std::int64_t bad = 0;
  std::string first;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > atol + rtol * std::abs(want[i])) {
      if (bad++ == 0) {
        first = fmt::format("element {}: got ({}, {}), want ({}, {})", i, got[i].real(),
                            got[i].imag(), want[i].real(), want[i].imag());
      }
    }
  }
  INFO(first);
  CHECK(bad == 0);
}

// --- schedulers -------------------------------------------------------------------------------
struct SchedRun {
  std::vector<std::vector<double>> lrs;
  std::vector<std::vector<double>> momentum;
};

// The two-group optimizer of the golden script: lr 0.1 and 0.05, one parameter each.
std::unique_ptr<Optimizer> two_groups(const std::string& kind, std::vector<Tensor>& keep) {
  keep = {zeros({2}).requires_grad_(true), zeros({3}).requires_grad_(true)};
  if (kind == "SGD") {
    return std::make_unique<SGD>(
        std::vector<OptimizerParamGroup>{OptimizerParamGroup({keep[0]}),
                                         OptimizerParamGroup({keep[1]}, SGDOptions().lr(0.05))},
        SGDOptions(0.1).momentum(0.9));
  }
  if (kind == "Adam") {
    return std::make_unique<Adam>(
        std::vector<OptimizerParamGroup>{OptimizerParamGroup({keep[0]}),
                                         OptimizerParamGroup({keep[1]}, AdamOptions().lr(0.05))},
        AdamOptions(0.1));
  }
  return std::make_unique<Adagrad>(
      std::vector<OptimizerParamGroup>{OptimizerParamGroup({keep[0]}),
                                       OptimizerParamGroup({keep[1]}, AdagradOptions().lr(0.05))},
      AdagradOptions(0.1));
}

std::vector<double> momenta(const Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) {
    const OptimizerOptions& o = g.options();
    out.push_back(o.has("betas.0") ? o.get("betas.0") : o.has("momentum") ? o.get("momentum") : 0.0);
  }
  return out;
}

std::shared_ptr<LRScheduler> make_scheduler(const std::string& name, Optimizer& o) {
  if (name == "step") return std::make_shared<StepLR>(o, 7, 0.5);
  if (name == "multistep") {
    return std::make_shared<MultiStepLR>(o, std::vector<std::int64_t>{10, 30, 30, 75}, 0.3);
  }
  if (name == "exponential") return std::make_shared<ExponentialLR>(o, 0.97);
  if (name == "cosine") return std::make_shared<CosineAnnealingLR>(o, 30, 0.001);
  if (name == "cosine_long") return std::make_shared<CosineAnnealingLR>(o, 100);
  if (name == "linear_warmup") return std::make_shared<LinearLR>(o, 0.25, 1.0, 20);
  if (name == "linear_decay") return std::make_shared<LinearLR>(o, 1.0, 0.1, 50);
  if (name == "onecycle_cos") {
    return std::make_shared<OneCycleLR>(o, OneCycleLROptions(std::vector<double>{1.0, 0.5}, 100));
  }
  if (name == "onecycle_linear_three_phase") {
    return std::make_shared<OneCycleLR>(o, OneCycleLROptions(0.8, 100)
                                               .pct_start(0.25)
                                               .anneal_strategy(AnnealStrategy::Linear)
                                               .div_factor(10)
                                               .final_div_factor(100)
                                               .three_phase(true));
  }
  if (name == "onecycle_adam") {
    return std::make_shared<OneCycleLR>(
        o, OneCycleLROptions::from_epochs(0.01, 10, 10).base_momentum(0.8).max_momentum(0.9));
  }
  if (name == "onecycle_no_momentum") {
    return std::make_shared<OneCycleLR>(o, OneCycleLROptions(0.3, 100).cycle_momentum(false));
  }
  if (name == "sequential_warmup_cosine") {
    auto warm = std::make_shared<LinearLR>(o, 0.1, 1.0, 10);
    auto cosine = std::make_shared<CosineAnnealingLR>(o, 90);
    return std::make_shared<SequentialLR>(
        o, std::vector<std::shared_ptr<LRScheduler>>{warm, cosine}, std::vector<std::int64_t>{10});
  }
  if (name == "sequential_three") {
    auto a = std::make_shared<LinearLR>(o, 0.5, 1.0, 5);
    auto b = std::make_shared<ExponentialLR>(o, 0.95);
    auto c = std::make_shared<StepLR>(o, 10, 0.5);
    return std::make_shared<SequentialLR>(o, std::vector<std::shared_ptr<LRScheduler>>{a, b, c},
                                          std::vector<std::int64_t>{5, 40});
  }
  FAIL("unknown scheduler " << name);
  return nullptr;
}

const char* kSchedulers[] = {"step",
                             "multistep",
                             "exponential",
                             "cosine",
                             "cosine_long",
                             "linear_warmup",
                             "linear_decay",
                             "onecycle_cos",
                             "onecycle_linear_three_phase",
                             "onecycle_adam",
                             "onecycle_no_momentum",
                             "sequential_warmup_cosine",
                             "sequential_three"};

std::string scheduler_kind(const std::string& name) {
  if (name == "onecycle_adam") return "Adam";
  if (name == "onecycle_no_momentum") return "Adagrad";
  return "SGD";
}

std::vector<std::vector<double>> rows(const Tensor& t) {
  std::vector<std::vector<double>> out;
  const std::vector<double> v = t.to_vector<double>();
  const std::int64_t cols = t.size(1);
  for (std::int64_t r = 0; r < t.size(0); ++r) {
    out.emplace_back(v.begin() + r * cols, v.begin() + (r + 1) * cols);
  }
  return out;
}

// Schedulers compute in double exactly as PyTorch does: the same expressions in the same order.
// Allow a few ulps for libm differences (cos) and nothing more.
void check_rows(const std::vector<std::vector<double>>& got,
                const std::vector<std::vector<double>>& want, const std::string& what) {
  CAPTURE(what);
  REQUIRE(got.size() == want.size());
  for (std::size_t r = 0; r < got.size(); ++r) {
    REQUIRE(got[r].size() == want[r].size());
    for (std::size_t c = 0; c < got[r].size(); ++c) {
      CAPTURE(r);
      CAPTURE(c);
      CHECK(std::abs(got[r][c] - want[r][c]) <= 1e-15 * std::abs(want[r][c]) + 1e-300);
    }
  }
}

}  // namespace

TEST_CASE("optim golden: every optimizer configuration matches PyTorch 1.13 after 10 steps") {
  const std::vector<OptConfig> configs = read_opt_index();
  REQUIRE(configs.size() >= 40);
  test::on_cpu_backends([&] {
    for (const OptConfig& c : configs) {
      CAPTURE(c.line);
      auto [ps, opt] = run_config(c);
      const std::vector<complex128> want =
          load_npy(kDir + "/opt_" + c.name + ".npy").to_vector<complex128>();
      std::size_t at = 0;
      for (int i = 0; i < 2; ++i) {
        auto take = [&](std::int64_t n) {
          REQUIRE(at + n <= want.size());
          std::vector<complex128> part(want.begin() + at, want.begin() + at + n);
          at += n;
          return part;
        };
        check_close(ps[i].to_vector<complex128>(), take(kNumel[i]), c.dtype,
                    fmt::format("p{}", i));
        const OptimizerParamState* state = opt->state(ps[i]);
        if (c.states[i].empty()) {
          CHECK(state == nullptr);  // plain SGD keeps no state
          continue;
        }
        REQUIRE(state != nullptr);
        CHECK(state->entries().size() == c.states[i].size());
        for (const std::string& name : c.states[i]) {
          const Tensor& t = state->at(name);
          check_close(t.to_vector<complex128>(), take(t.numel()), c.dtype,
                      fmt::format("p{} state {}", i, name));
        }
      }
      CHECK(at == want.size());
    }
  });
}

TEST_CASE("optim golden: schedulers give PyTorch 1.13's learning rates over 100 steps") {
  for (const char* name : kSchedulers) {
    CAPTURE(name);
    std::vector<Tensor> keep;
    auto opt = two_groups(scheduler_kind(name), keep);
    auto sched = make_scheduler(name, *opt);
    SchedRun run;
    run.lrs.push_back(sched->get_last_lr());
    run.momentum.push_back(momenta(*opt));
    for (int i = 0; i < 100; ++i) {
      opt->step();
      sched->step();
      run.lrs.push_back(sched->get_last_lr());
      run.momentum.push_back(momenta(*opt));
    }
    const std::string base = kDir + "/sched_" + name;
    check_rows(run.lrs, rows(load_npy(base + "_lr.npy")), "lr");
    std::ifstream momentum_file(base + "_momentum.npy");
    if (momentum_file.good()) {
      check_rows(run.momentum, rows(load_npy(base + "_momentum.npy")), "momentum");
    }
  }
}

TEST_CASE("optim golden: ReduceLROnPlateau follows PyTorch 1.13 over a metric sequence") {
  using Options = ReduceLROnPlateauOptions;
  const std::vector<double> metrics = load_npy(kDir + "/plateau_metrics.npy").to_vector<double>();
  REQUIRE(metrics.size() == 100);
  const std::pair<const char*, Options> configs[] = {
      {"default", Options()},
      {"min_rel", Options().mode(Options::Mode::Min).factor(0.5).patience(3).threshold(0.01)
                      .cooldown(2).min_lr(std::vector<double>{0.001, 0.02})},
      {"max_abs", Options().mode(Options::Mode::Max).factor(0.3).patience(2).threshold(0.05)
                      .threshold_mode(Options::ThresholdMode::Abs).min_lr(0.0005)},
      {"min_abs_eps", Options().factor(0.9).patience(0).threshold(0.001)
                          .threshold_mode(Options::ThresholdMode::Abs).eps(0.004)},
  };
  for (const auto& [name, options] : configs) {
    CAPTURE(name);
    std::vector<Tensor> keep;
    auto opt = two_groups("SGD", keep);
    ReduceLROnPlateau sched(*opt, options);
    std::vector<std::vector<double>> lrs;
    for (double m : metrics) {
      sched.step(options.mode() == Options::Mode::Max ? -m : m);
      lrs.push_back(sched.get_last_lr());
    }
    check_rows(lrs, rows(load_npy(kDir + "/plateau_" + name + "_lr.npy")), "lr");
  }
}

// --- state dict round trips --------------------------------------------------------------------
namespace {

// Bitwise equality of two tensors' values.
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  const std::vector<complex128> x = a.to_vector<complex128>(), y = b.to_vector<complex128>();
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] == y[i])) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("optim: save after 5 steps, load into a fresh optimizer, 5 more = 10 steps, bitwise") {
  for (const OptConfig& c : read_opt_index()) {
    CAPTURE(c.line);
    auto [ps_full, opt_full] = run_config(c, kSteps);
    auto [ps_half, opt_half] = run_config(c, 5);
    const OptimizerStateDict saved = opt_half->state_dict();

    // A fresh optimizer over fresh parameters holding the 5-step values.
    std::vector<Tensor> ps;
    for (const Tensor& p : ps_half) ps.push_back(p.detach().clone().requires_grad_(true));
    auto opt = make_optimizer(c, ps);
    opt->load_state_dict(saved);
    const bool cplx = is_complex(c.dtype);
    const Tensor grads = load_npy(kDir + (cplx ? "/cgrads.npy" : "/grads.npy"));
    for (int step = 5; step < kSteps; ++step) {
      std::vector<Tensor> gs = split(grads[step], c.dtype, false);
      for (int i = 0; i < 2; ++i) ps[i].mutable_grad_set(gs[i]);
      opt->step();
    }
    for (int i = 0; i < 2; ++i) {
      CHECK(same_bits(ps[i], ps_full[i]));
      const OptimizerParamState* a = opt->state(ps[i]);
      const OptimizerParamState* b = opt_full->state(ps_full[i]);
      REQUIRE((a == nullptr) == (b == nullptr));
      if (a == nullptr) continue;
      REQUIRE(a->entries().size() == b->entries().size());
      for (const auto& [name, t] : b->entries()) {
        CAPTURE(name);
        CHECK(same_bits(a->at(name), t));
      }
    }
    // The saved state is a snapshot: continuing the first optimizer doesn't change it.
    const OptimizerStateDict again = opt_half->state_dict();
    REQUIRE(again.tensors.size() == saved.tensors.size());
    for (std::size_t k = 0; k < saved.tensors.size(); ++k) {
      CHECK(saved.tensors[k].first == again.tensors[k].first);
      CHECK(same_bits(saved.tensors[k].second, again.tensors[k].second));
    }
  }
}

TEST_CASE("optim: scheduler state dicts round trip: 5 steps, save, load, 5 steps = 10 steps") {
  for (const char* name : kSchedulers) {
    CAPTURE(name);
    std::vector<Tensor> keep_full, keep_half, keep_fresh;
    auto opt_full = two_groups(scheduler_kind(name), keep_full);
    auto sched_full = make_scheduler(name, *opt_full);
    auto opt_half = two_groups(scheduler_kind(name), keep_half);
    auto sched_half = make_scheduler(name, *opt_half);
    for (int i = 0; i < 10; ++i) {
      opt_full->step();
      sched_full->step();
    }
    for (int i = 0; i < 5; ++i) {
      opt_half->step();
      sched_half->step();
    }
    const OptimizerStateDict opt_state = opt_half->state_dict();
    const SchedulerStateDict sched_state = sched_half->state_dict();

    auto opt = two_groups(scheduler_kind(name), keep_fresh);
    auto sched = make_scheduler(name, *opt);
    opt->load_state_dict(opt_state);
    sched->load_state_dict(sched_state);
    for (int i = 0; i < 5; ++i) {
      opt->step();
      sched->step();
    }
    CHECK(sched->get_last_lr() == sched_full->get_last_lr());
    CHECK(sched->last_epoch() == sched_full->last_epoch());
    CHECK(momenta(*opt) == momenta(*opt_full));
    for (std::size_t g = 0; g < 2; ++g) {
      CHECK(opt->param_groups()[g].options().get_lr() ==
            opt_full->param_groups()[g].options().get_lr());
    }
  }
  // ReduceLROnPlateau
  const std::vector<double> metrics = load_npy(kDir + "/plateau_metrics.npy").to_vector<double>();
  const auto options = ReduceLROnPlateauOptions().factor(0.5).patience(3).threshold(0.01).cooldown(2);
  std::vector<Tensor> k1, k2, k3;
  auto opt_full = two_groups("SGD", k1);
  auto opt_half = two_groups("SGD", k2);
  ReduceLROnPlateau full(*opt_full, options), half(*opt_half, options);
  for (int i = 0; i < 60; ++i) full.step(metrics[i]);
  for (int i = 0; i < 30; ++i) half.step(metrics[i]);
  auto opt = two_groups("SGD", k3);
  ReduceLROnPlateau fresh(*opt, ReduceLROnPlateauOptions());  // hyperparameters come from the dict
  opt->load_state_dict(opt_half->state_dict());
  fresh.load_state_dict(half.state_dict());
  for (int i = 30; i < 60; ++i) fresh.step(metrics[i]);
  CHECK(fresh.get_last_lr() == full.get_last_lr());
  CHECK(fresh.best() == full.best());
  CHECK(fresh.num_bad_epochs() == full.num_bad_epochs());
  CHECK(fresh.get_last_lr() != std::vector<double>{0.1, 0.05});  // the run did reduce
}
