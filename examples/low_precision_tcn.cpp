// low_precision_tcn: issue 9's experiment. The TCN of examples/tcn_adding.cpp on the adding
// problem, trained
//   (a) plain, in float32;
//   (b) plain, with the forward in float16 or bfloat16 and NO loss scaling;
//   (c) unit-scaled (nn::unit_scaling: every Conv1d and the Linear unit-scaled, the residual
//       adds residual_split / residual_add, the loss unit_scaling's scaled MSE, the u-µP Adam),
//       in float32, float16 or bfloat16, also without loss scaling;
// and, for the 16-bit runs, where the gradients underflow (become exactly 0) or overflow
// (inf/NaN), layer by layer.
//
// Precision policy (PyTorch AMP's, without a GradScaler): the parameters and the Adam state
// stay float32 (master weights). The forward casts the input and every weight and bias to the
// run's dtype (`Tensor::to`, differentiable: the weight gradient is computed in that dtype and
// converted back to float32 by the cast's backward), so activations, the residual adds and the
// loss's input are in that dtype; the kernels accumulate in float32 and round once on store
// (reel's policy for the 16-bit types). Nothing rescales the loss or the gradients, so a
// float16 gradient below 2^-24 (6e-8) becomes 0 and one above 65504 becomes inf, as they would
// in PyTorch without a GradScaler.
//
// The diagnosis (every --diag-every steps, 16-bit runs only): the same batch goes through the
// same weights twice, once in float32 and once in the run's dtype, with tensor hooks
// (Tensor::register_hook) on every layer's output and on every cast weight. For each tensor:
// the RMS of its float32 gradient, the share of the elements whose float32 gradient is
// non-zero but whose low-precision gradient is exactly 0 (underflow), and the share that are
// inf or NaN (overflow). A non-finite training loss ends the run and is reported with its step.
//
//   build/examples/low_precision_tcn --all --steps 300          # the six runs and the table
//   build/examples/low_precision_tcn --dtype float16 --model plain --steps 300 --csv f16.csv
//   build/examples/low_precision_tcn --dtype bfloat16 --device cuda    # on the GPU
//   build/examples/low_precision_tcn --help
//
// --device cuda: the data sets (small) and the model move to the GPU once, before the optimizer
// is made; the loop, the casts and the diagnosis are the CPU's (its hooks copy the gradients
// back to the host to count them).
#include <reel/reel.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace reel;
namespace F = reel::nn::functional;
namespace us = reel::nn::unit_scaling;
namespace U = reel::nn::unit_scaling::functional;

// --- gradient probes ---------------------------------------------------------------------------

// Records the gradients of named tensors of one forward/backward (as float32 copies). tap()
// returns the tensor itself, hooked; a float32 parameter (a leaf: a hook on it would outlive
// the step) is first passed through a copy so that the hook sits on a non-leaf.
class Probe {
 public:
  Tensor tap(const std::string& name, Tensor t) {
    if (t.is_leaf()) t = t.clone();
    const std::size_t i = names_.size();
    names_.push_back(name);
    grads_.emplace_back();
    t.register_hook([this, i](const Tensor& g) { grads_[i] = g.to(kFloat32).clone(); });
    return t;
  }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<Tensor>& grads() const { return grads_; }

 private:
  std::vector<std::string> names_;
  std::vector<Tensor> grads_;
};

Tensor tap(Probe* probe, const std::string& name, const Tensor& t) {
  return probe ? probe->tap(name, t) : t;
}

// The run's dtype for a float32 parameter (a no-op in float32; undefined stays undefined).
Tensor cast(const Tensor& t, DType dtype) { return t.defined() ? t.to(dtype) : t; }

Tensor named_parameter(const nn::Module& m, const std::string& name) {
  for (auto& [n, p] : m.named_parameters(false))
    if (n == name) return p;
  throw std::runtime_error("low_precision_tcn: no parameter " + name);
}

// --- (a), (b): the plain TCN (examples/tcn_adding.cpp's, without dropout) ------------------------

// A weight-normed causal Conv1d run in `dtype`: weight = g v / ||v|| in float32 (the master
// parameters), then cast.
Tensor plain_conv(const nn::Conv1d& conv, bool weight_normed, const Tensor& x, DType dtype,
                  Probe* probe, const std::string& name) {
  Tensor w = weight_normed ? nn::utils::detail::weight_norm_compute(
                                 named_parameter(*conv, "weight_g"),
                                 named_parameter(*conv, "weight_v"), 0)
                           : conv->weight;
  w = tap(probe, name + ".weight", cast(w, dtype));
  return tap(probe, name + ".out",
             F::conv1d(x, w, cast(conv->bias, dtype), conv->options().func_));
}

class PlainBlockImpl : public nn::Module {
 public:
  PlainBlockImpl(std::int64_t n_in, std::int64_t n_out, std::int64_t k, std::int64_t dilation)
      : conv1(nn::utils::weight_norm(nn::Conv1d(
            nn::Conv1dOptions(n_in, n_out, k).dilation(dilation).padding(kCausal)))),
        conv2(nn::utils::weight_norm(nn::Conv1d(
            nn::Conv1dOptions(n_out, n_out, k).dilation(dilation).padding(kCausal)))) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    if (n_in != n_out) {
      downsample = nn::Conv1d(nn::Conv1dOptions(n_in, n_out, 1));
      register_module("downsample", downsample);
      nn::init::normal_(downsample->weight, 0.0, 0.01);
    }
  }

  // relu(relu(conv2(relu(conv1(x)))) + downsample(x)), every tensor in x's dtype.
  Tensor forward(const Tensor& x, Probe* probe, const std::string& name) const {
    const DType dt = x.dtype();
    Tensor h = relu(plain_conv(conv1, true, x, dt, probe, name + ".conv1"));
    h = relu(plain_conv(conv2, true, h, dt, probe, name + ".conv2"));
    Tensor skip = downsample.is_empty()
                      ? x
                      : plain_conv(downsample, false, x, dt, probe, name + ".downsample");
    return tap(probe, name + ".out", relu(h + skip));
  }

  nn::Conv1d conv1, conv2;
  nn::Conv1d downsample{nullptr};
};

// --- (c): the unit-scaled TCN -------------------------------------------------------------------

Tensor us_conv(const us::Conv1d& conv, const Tensor& x, DType dtype, Probe* probe,
               const std::string& name) {
  Tensor w = tap(probe, name + ".weight", cast(conv->weight, dtype));
  return tap(probe, name + ".out",
             U::conv1d(x, w, cast(conv->bias, dtype), conv->func_options()));
}

// The same block with every convolution unit-scaled (N(0, 1) weights, no weight norm: the
// scales do its job) and the residual add unit-scaled: residual_split scales the branch's and
// the skip's gradients by tau/√(1+tau²) and 1/√(1+tau²), residual_add weights their sum so.
class USBlockImpl : public nn::Module {
 public:
  USBlockImpl(std::int64_t n_in, std::int64_t n_out, std::int64_t k, std::int64_t dilation,
              double tau)
      : conv1(us::Conv1dOptions(n_in, n_out, k).dilation(dilation).padding(kCausal).bias(true)),
        conv2(us::Conv1dOptions(n_out, n_out, k).dilation(dilation).padding(kCausal).bias(true)),
        tau(tau) {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    if (n_in != n_out) {
      downsample = us::Conv1d(us::Conv1dOptions(n_in, n_out, 1).bias(true));
      register_module("downsample", downsample);
    }
  }

  Tensor forward(const Tensor& x, Probe* probe, const std::string& name) const {
    const DType dt = x.dtype();
    auto [residual, skip] = U::residual_split(x, tau);
    Tensor h = relu(us_conv(conv1, residual, dt, probe, name + ".conv1"));
    h = relu(us_conv(conv2, h, dt, probe, name + ".conv2"));
    if (!downsample.is_empty()) skip = us_conv(downsample, skip, dt, probe, name + ".downsample");
    return tap(probe, name + ".out", relu(U::residual_add(h, skip, tau)));
  }

  us::Conv1d conv1, conv2;
  us::Conv1d downsample{nullptr};
  double tau;
};

// Either TCN: levels of blocks (dilation 2^i), a Linear on the last time step.
class TCNImpl : public nn::Module {
 public:
  TCNImpl(bool unit_scaled, std::int64_t levels, std::int64_t nhid, std::int64_t k)
      : unit_scaled(unit_scaled) {
    for (std::int64_t i = 0; i < levels; ++i) {
      const std::int64_t n_in = i == 0 ? 2 : nhid, dilation = std::int64_t{1} << i;
      if (unit_scaled)
        tcn->push_back(std::make_shared<USBlockImpl>(n_in, nhid, k, dilation, 1.0));
      else
        tcn->push_back(std::make_shared<PlainBlockImpl>(n_in, nhid, k, dilation));
    }
    register_module("tcn", tcn);
    if (unit_scaled) {
      // The u-µP readout: its weight tagged "output" (Adam's base lr), no constraint, so the
      // gradient sent back into the network keeps its own (unit) scale.
      us_linear = us::Linear(us::LinearOptions(nhid, 1)
                                 .bias(true)
                                 .constraint(us::kNoConstraint)
                                 .weight_mup_type(us::MupType::Output));
      register_module("linear", us_linear);
    } else {
      linear = nn::Linear(nhid, 1);
      register_module("linear", linear);
      nn::init::normal_(linear->weight, 0.0, 0.01);
    }
  }

  // x [N, 2, T] float32 -> [N, 1] in `dtype`.
  Tensor forward(const Tensor& x, DType dtype, Probe* probe = nullptr) const {
    Tensor y = x.to(dtype);
    for (std::size_t i = 0; i < tcn->size(); ++i) {
      const std::string name = "tcn." + std::to_string(i);
      y = unit_scaled ? tcn->ptr<USBlockImpl>(i)->forward(y, probe, name)
                      : tcn->ptr<PlainBlockImpl>(i)->forward(y, probe, name);
    }
    Tensor last = y.select(2, y.size(2) - 1);
    Tensor out;
    if (unit_scaled) {
      Tensor w = tap(probe, "linear.weight", cast(us_linear->weight, dtype));
      out = U::linear(last, w, cast(us_linear->bias, dtype), us_linear->options().constraint_);
    } else {
      Tensor w = tap(probe, "linear.weight", cast(linear->weight, dtype));
      out = F::linear(last, w, cast(linear->bias, dtype));
    }
    return tap(probe, "linear.out", out);
  }

  // The loss of the run: F::mse_loss (mean) for the plain model, unit_scaling's scaled MSE for
  // the unit-scaled one (the same forward value; its gradient is not divided by the batch).
  Tensor loss(const Tensor& out, const Tensor& target) const {
    Tensor t = target.to(out.dtype());
    return unit_scaled ? U::mse_loss(out, t) : F::mse_loss(out, t);
  }

  bool unit_scaled;
  nn::ModuleList tcn;
  nn::Linear linear{nullptr};
  us::Linear us_linear{nullptr};
};

class TCN : public nn::ModuleHolder<TCNImpl> {
 public:
  using nn::ModuleHolder<TCNImpl>::ModuleHolder;
};

// --- the run ------------------------------------------------------------------------------------

struct Args {
  std::string dtype = "float32", model = "plain";
  std::int64_t steps = 300, T = 200, batch = 32, n_train = 10000, n_test = 1000;
  std::int64_t levels = 6, nhid = 30, k = 7;
  double lr = 4e-3, us_lr = 0.1;
  std::uint64_t seed = 1111;
  int threads = 0;
  std::int64_t eval_every = 100, diag_every = 100;
  std::string csv;
  bool all = false, quiet = false;
  std::string device = "cpu";
  bool skip_without_gpu = false, check_loss_falls = false;
};

DType parse_dtype(const std::string& s) {
  if (s == "float32") return kFloat32;
  if (s == "float16") return kFloat16;
  if (s == "bfloat16") return kBFloat16;
  throw std::runtime_error("low_precision_tcn: --dtype must be float32, float16 or bfloat16, not " + s);
}

// One tensor's gradient in the low-precision run against the float32 one.
struct GradStat {
  std::string name;
  double rms32 = 0;       // RMS of the float32 gradient
  double underflow = 0;   // share of the float32-non-zero elements that are exactly 0 here
  double nonfinite = 0;   // share of the elements that are inf or NaN here
  // Range alone, from the float32 gradient: the share of its non-zero elements that the dtype
  // rounds to 0 (below half its smallest subnormal) and that are subnormal in it (below its
  // smallest normal). Unlike `underflow`, these do not count ReLU masks that flip between the
  // two forwards.
  double below_subnormal = 0, subnormal = 0;
  std::int64_t n = 0, n_nonzero32 = 0;
};

std::vector<GradStat> compare_grads(const Probe& low, const Probe& ref, DType dtype) {
  // float16: smallest subnormal 2^-24, smallest normal 2^-14; bfloat16: 2^-133, 2^-126.
  const double min_sub = dtype == kFloat16 ? std::ldexp(1.0, -24) : std::ldexp(1.0, -133);
  const double min_normal = dtype == kFloat16 ? std::ldexp(1.0, -14) : std::ldexp(1.0, -126);
  std::vector<GradStat> out;
  for (std::size_t i = 0; i < low.names().size(); ++i) {
    GradStat s;
    s.name = low.names()[i];
    const Tensor& gl = low.grads()[i];
    const Tensor& gr = ref.grads()[i];
    if (!gl.defined() || !gr.defined()) continue;  // no gradient reached it
    const std::vector<float> a = gl.contiguous().to_vector<float>();
    const std::vector<float> b = gr.contiguous().to_vector<float>();
    std::int64_t under = 0, bad = 0, below_sub = 0, sub = 0;
    double sq = 0;
    for (std::size_t j = 0; j < a.size(); ++j) {
      sq += static_cast<double>(b[j]) * b[j];
      if (!std::isfinite(a[j])) ++bad;
      if (b[j] != 0) {
        ++s.n_nonzero32;
        if (a[j] == 0) ++under;
        const double m = std::fabs(static_cast<double>(b[j]));
        if (m < min_sub / 2) ++below_sub;
        if (m < min_normal) ++sub;
      }
    }
    s.n = static_cast<std::int64_t>(a.size());
    s.rms32 = s.n ? std::sqrt(sq / static_cast<double>(s.n)) : 0.0;
    s.underflow = s.n_nonzero32 ? static_cast<double>(under) / static_cast<double>(s.n_nonzero32) : 0.0;
    if (s.n_nonzero32) {
      s.below_subnormal = static_cast<double>(below_sub) / static_cast<double>(s.n_nonzero32);
      s.subnormal = static_cast<double>(sub) / static_cast<double>(s.n_nonzero32);
    }
    s.nonfinite = s.n ? static_cast<double>(bad) / static_cast<double>(s.n) : 0.0;
    out.push_back(s);
  }
  return out;
}

struct Result {
  std::string dtype, model;
  double final_train = NAN;  // mean training loss of the last 50 steps (or fewer)
  double final_test = NAN;   // test MSE at the end (in the run's dtype)
  double initial_test = NAN; // test MSE before training (--check-loss-falls only)
  std::optional<std::int64_t> first_below;    // first evaluated step with test MSE < 0.01
  std::optional<std::int64_t> nonfinite_step;  // the step whose loss was inf/NaN
  std::int64_t steps = 0;
  double samples_per_s = 0;
  // The diagnosis: the worst underflow over the run (its tensor and step), the worst overflow.
  double worst_underflow = 0, worst_nonfinite = 0;
  std::string worst_underflow_at, worst_nonfinite_at;
};

double test_mse(TCN& model, const Tensor& x, const Tensor& y, DType dtype) {
  NoGradGuard no_grad;
  const std::int64_t n = x.size(0), chunk = 250;
  double sum = 0;
  for (std::int64_t i = 0; i < n; i += chunk) {
    const std::int64_t b = std::min(chunk, n - i);
    Tensor out = model->forward(x.narrow(0, i, b), dtype);
    Tensor loss = F::mse_loss(out.to(kFloat32), y.narrow(0, i, b));
    sum += loss.item<float>() * static_cast<double>(b);
  }
  return sum / static_cast<double>(n);
}

std::string with_suffix(const std::string& path, const std::string& suffix) {
  std::filesystem::path p(path);
  std::filesystem::path out = p.parent_path() / (p.stem().string() + suffix + p.extension().string());
  return out.string();
}

Result run(const Args& a, const std::string& dtype_name, const std::string& model_name,
           const std::string& csv_path, const Device& device) {
  const DType dtype = parse_dtype(dtype_name);
  if (model_name != "plain" && model_name != "unit_scaled")
    throw std::runtime_error("low_precision_tcn: --model must be plain or unit_scaled, not " + model_name);
  const bool unit_scaled = model_name == "unit_scaled";
  manual_seed(a.seed);
  data::SequenceTask train = data::adding_problem(a.n_train, a.T, a.seed);
  data::SequenceTask test = data::adding_problem(a.n_test, a.T, a.seed + 1);
  // Both sets on the device once (a few MB at the defaults); the batches are views of them.
  for (Tensor* t : {&train.inputs, &train.targets, &test.inputs, &test.targets}) *t = t->to(device);

  TCN model(unit_scaled, a.levels, a.nhid, a.k);
  model->to(device);  // in place, before the optimizer is made
  std::unique_ptr<optim::Optimizer> optimizer;
  if (unit_scaled)
    optimizer = std::make_unique<us::Adam>(*model, optim::AdamOptions(a.us_lr));
  else
    optimizer = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions(a.lr));

  Result r;
  r.dtype = dtype_name;
  r.model = model_name;
  std::optional<examples::MetricsCsv> csv, grad_csv;
  if (!csv_path.empty()) {
    const auto parent = std::filesystem::path(csv_path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
    csv.emplace(csv_path, std::vector<std::string>{"step", "train_loss", "test_mse", "samples_per_s"});
    if (dtype != kFloat32)
      grad_csv.emplace(with_suffix(csv_path, "_grads"),
                       std::vector<std::string>{"step", "tensor", "rms32", "underflow", "nonfinite",
                                                "below_min_subnormal", "subnormal"});
  }
  fmt::print("== {} {} (T {}, batch {}, {} levels x {} channels, k {}; lr {}; on {}) ==\n", dtype_name,
             model_name, a.T, a.batch, a.levels, a.nhid, a.k, unit_scaled ? a.us_lr : a.lr, device);
  if (a.check_loss_falls) r.initial_test = test_mse(model, test.inputs, test.targets, dtype);

  std::vector<double> losses;
  examples::StepTimer timer;
  std::int64_t seen = 0;
  const std::int64_t batches = std::max<std::int64_t>(a.n_train / a.batch, 1);
  auto rate = [&] {
    const double busy = timer.compute_seconds();
    return busy > 0 ? static_cast<double>(seen) / busy : 0.0;
  };
  for (std::int64_t step = 1; step <= a.steps; ++step) {
    const std::int64_t b0 = ((step - 1) % batches) * a.batch;
    const std::int64_t bn = std::min(a.batch, a.n_train - b0);
    Tensor x = train.inputs.narrow(0, b0, bn), y = train.targets.narrow(0, b0, bn);

    // The diagnosis before the step: the same weights and batch in float32 and in dtype.
    if (dtype != kFloat32 && a.diag_every > 0 && (step == 1 || step % a.diag_every == 0)) {
      Probe low, ref;
      optimizer->zero_grad();
      model->loss(model->forward(x, kFloat32, &ref), y).backward();
      optimizer->zero_grad();
      Tensor l = model->loss(model->forward(x, dtype, &low), y);
      l.backward();
      optimizer->zero_grad();
      std::vector<GradStat> stats = compare_grads(low, ref, dtype);
      std::string flagged;
      for (std::size_t i = 0; i < stats.size(); ++i) {
        const GradStat& s = stats[i];
        if (grad_csv)
          grad_csv->row({static_cast<double>(step), static_cast<double>(i), s.rms32, s.underflow,
                         s.nonfinite, s.below_subnormal, s.subnormal});
        if (s.underflow > r.worst_underflow) {
          r.worst_underflow = s.underflow;
          r.worst_underflow_at = fmt::format("{} at step {}", s.name, step);
        }
        if (s.nonfinite > r.worst_nonfinite) {
          r.worst_nonfinite = s.nonfinite;
          r.worst_nonfinite_at = fmt::format("{} at step {}", s.name, step);
        }
        if (s.underflow >= 0.01 || s.below_subnormal >= 0.01 || s.nonfinite > 0)
          flagged += fmt::format("  {} (rms {:.1e}: {:.1f}% -> 0, {:.1f}% below range, {:.1f}% "
                                 "subnormal{})",
                                 s.name, s.rms32, 100 * s.underflow, 100 * s.below_subnormal,
                                 100 * s.subnormal,
                                 s.nonfinite > 0 ? fmt::format(", {:.1f}% inf/nan", 100 * s.nonfinite)
                                                 : std::string());
      }
      if (!a.quiet)
        fmt::print("step {} gradients: {}\n", step,
                   flagged.empty() ? std::string("no tensor with >= 1% underflow or any inf/NaN")
                                   : "underflow/overflow in" + flagged);
      // The CSV's tensor column is its index in this list (names go to a side file once).
      if (grad_csv && step == 1) {
        std::ofstream names(with_suffix(csv_path, "_grads_names"));
        for (std::size_t i = 0; i < stats.size(); ++i) names << i << ',' << stats[i].name << '\n';
      }
    }

    timer.start();
    timer.begin_step();
    optimizer->zero_grad();
    Tensor loss = model->loss(model->forward(x, dtype), y);
    loss.backward();
    optimizer->step();
    const double v = loss.to(kFloat32).item<float>();
    timer.end_step();
    seen += bn;
    r.steps = step;
    losses.push_back(v);
    if (!std::isfinite(v)) {
      r.nonfinite_step = step;
      fmt::print("step {}: the training loss is {}: stopping this run\n", step, v);
      break;
    }
    if (step % a.eval_every == 0 || step == a.steps) {
      const double mse = test_mse(model, test.inputs, test.targets, dtype);
      if (!r.first_below && mse < 0.01) r.first_below = step;
      r.final_test = mse;
      if (csv) csv->row({static_cast<double>(step), v, mse, rate()});
      if (!a.quiet)
        fmt::print("step {} train {:.6f} test {:.6f} {:.0f} samples/s\n", step, v, mse, rate());
      std::fflush(stdout);
    }
  }
  const std::size_t tail = std::min<std::size_t>(50, losses.size());
  double sum = 0;
  for (std::size_t i = losses.size() - tail; i < losses.size(); ++i) sum += losses[i];
  r.final_train = tail ? sum / static_cast<double>(tail) : NAN;
  r.samples_per_s = rate();
  return r;
}

std::string fmt_opt(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("—");
}

void print_table(const std::vector<Result>& results) {
  fmt::print(
      "\n| run | dtype | model | final train loss (mean of last 50 steps) | final test MSE | first "
      "step test MSE < 0.01 | non-finite loss at step | worst gradient underflow (share -> 0) | "
      "worst inf/NaN share | train samples/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Result& r : results) {
    const char* label = r.model == "unit_scaled" ? "(c)" : r.dtype == "float32" ? "(a)" : "(b)";
    fmt::print("| {} | {} | {} | {:.5f} | {:.5f} | {} | {} | {} | {} | {:.0f} |\n", label,
               r.dtype, r.model, r.final_train, r.final_test, fmt_opt(r.first_below),
               fmt_opt(r.nonfinite_step),
               r.dtype == "float32" ? std::string("—")
                                    : fmt::format("{:.1f}% ({})", 100 * r.worst_underflow,
                                                  r.worst_underflow_at.empty() ? "none"
                                                                               : r.worst_underflow_at),
               r.dtype == "float32" ? std::string("—")
                                    : fmt::format("{:.1f}%{}", 100 * r.worst_nonfinite,
                                                  r.worst_nonfinite_at.empty()
                                                      ? std::string()
                                                      : " (" + r.worst_nonfinite_at + ")"),
               r.samples_per_s);
  }
  // The criterion, per dtype: (c) reaches test MSE < 0.01 as (a) does, or its final
  // test MSE is within 20% of (a)'s.
  const Result* a = nullptr;
  for (const Result& r : results)
    if (r.dtype == "float32" && r.model == "plain") a = &r;
  if (!a) return;
  fmt::print("\n(a) float32 plain: final test MSE {:.5f}{}\n", a->final_test,
             a->first_below ? fmt::format(", < 0.01 from step {}", *a->first_below) : "");
  for (const Result& r : results) {
    if (r.model != "unit_scaled" || r.dtype == "float32") continue;
    const bool both_below = a->first_below && r.first_below && r.final_test < 0.01;
    const bool within = std::isfinite(r.final_test) && r.final_test <= 1.2 * a->final_test;
    fmt::print("criterion for (c) {}: {} (reaches < 0.01 like (a): {}; final test MSE {:.5f} "
               "within 20% of (a)'s: {})\n",
               r.dtype, both_below || within ? "MET" : "NOT MET", both_below ? "yes" : "no",
               r.final_test, within ? "yes" : "no");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"Issue 9's experiment: the TCN adding problem trained in float32, float16 and "
               "bfloat16, plain and unit-scaled, without loss scaling"};
  app.add_option("--dtype", a.dtype, "float32, float16 or bfloat16: the forward's dtype")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}));
  app.add_option("--model", a.model, "plain or unit_scaled")
      ->check(CLI::IsMember({"plain", "unit_scaled"}));
  app.add_option("--steps", a.steps, "training steps")->check(CLI::PositiveNumber);
  app.add_option("--T", a.T, "sequence length")->check(CLI::Range(2, 1 << 20));
  app.add_option("--batch", a.batch, "batch size")->check(CLI::PositiveNumber);
  app.add_option("--n-train", a.n_train, "training sequences (cycled in order)")
      ->check(CLI::PositiveNumber);
  app.add_option("--n-test", a.n_test, "test sequences")->check(CLI::PositiveNumber);
  app.add_option("--levels", a.levels, "residual blocks (dilation 2^i)")->check(CLI::Range(1, 30));
  app.add_option("--nhid", a.nhid, "channels per level")->check(CLI::PositiveNumber);
  app.add_option("--k", a.k, "kernel size")->check(CLI::Range(1, 1 << 20));
  app.add_option("--lr", a.lr, "Adam learning rate of the plain model")->check(CLI::PositiveNumber);
  app.add_option("--us-lr", a.us_lr, "base learning rate of the unit-scaled model's u-µP Adam")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", a.seed, "seed of the data and the initialisation");
  app.add_option("--threads", a.threads, "CPU threads (0: reel's default, the core count)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--eval-every", a.eval_every, "steps between test evaluations")
      ->check(CLI::PositiveNumber);
  app.add_option("--diag-every", a.diag_every,
                 "steps between gradient under/overflow diagnoses (16-bit runs; 0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--csv", a.csv,
                 "metrics CSV (with --all: one per run, _<dtype>_<model> added to the name); "
                 "16-bit runs also write <name>_grads.csv");
  app.add_flag("--all", a.all, "run (a), (b), (c) in float32, float16 and bfloat16, print the table");
  app.add_flag("--quiet", a.quiet, "only the runs' headers and the table");
  app.add_option("--device", a.device, "where the model and the data live: cpu or cuda")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--skip-without-gpu", a.skip_without_gpu,
               "with --device cuda and no GPU: exit with code 77 (a skipped test) instead of 1");
  app.add_flag("--check-loss-falls", a.check_loss_falls,
               "fail (exit 1) unless each run's test MSE after training is below the one before "
               "(smoke tests)");
  CLI11_PARSE(app, argc, argv);
  const Device device = examples::parse_device(a.device);
  if (!examples::device_available(device, "low_precision_tcn", a.skip_without_gpu))
    return examples::device_exit_code(a.skip_without_gpu);
  try {
    if (a.threads > 0) set_num_threads(a.threads);
    fmt::print("low_precision_tcn: {} threads\n", get_num_threads());
    std::vector<Result> results;
    if (a.all) {
      // (a) float32 plain first: the reference of the criterion; then (b) and (c) per dtype.
      const std::vector<std::pair<std::string, std::string>> runs = {
          {"float32", "plain"},    {"float32", "unit_scaled"}, {"float16", "plain"},
          {"float16", "unit_scaled"}, {"bfloat16", "plain"},   {"bfloat16", "unit_scaled"}};
      for (const auto& [dt, m] : runs)
        results.push_back(run(a, dt, m, a.csv.empty() ? "" : with_suffix(a.csv, "_" + dt + "_" + m), device));
    } else {
      results.push_back(run(a, a.dtype, a.model, a.csv, device));
    }
    print_table(results);
    // A failure of the program is an error, not a non-finite loss: that is a result, except
    // under --check-loss-falls (the smoke tests), where every run's test MSE must fall.
    int code = 0;
    if (a.check_loss_falls)
      for (const Result& r : results)
        code = std::max(code, examples::check_loss_falls(
                                  "low_precision_tcn", "test MSE (" + r.dtype + " " + r.model + ")",
                                  r.initial_test, r.final_test));
    return code;
  } catch (const std::exception& e) {
    fmt::print(stderr, "low_precision_tcn: {}\n", e.what());
    return 1;
  }
}
