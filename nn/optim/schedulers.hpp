#pragma once
// Learning-rate schedulers with PyTorch 1.13's semantics (torch.optim.lr_scheduler), named as
// LibTorch names them: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
// OneCycleLR, SequentialLR (an LRScheduler each) and ReduceLROnPlateau.
//
//   optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
//   optim::CosineAnnealingLR sched(opt, /*T_max=*/100);
//   for (...) { ...; opt.step(); sched.step(); }
//
// As in PyTorch, constructing a scheduler performs its first step (last_epoch becomes 0) and
// may change the groups' lr at once (LinearLR multiplies it by start_factor); each group gets
// an "initial_lr" option on first contact, kept by later schedulers; get_lr() is PyTorch's
// chainable (recursive) form — CosineAnnealingLR's recursion included, whose numbers differ
// from the closed form in the last bits — and the closed form is used only where PyTorch uses
// it (SequentialLR's `step(0)` at a milestone). Constructing with a last_epoch other than -1
// (resuming) is not supported: load a state dict instead.
//
// state_dict() is a list of named scalars ("last_epoch", "_step_count", "base_lrs.0",
// "_last_lr.0", the hyperparameters, and "_schedulers.<k>.<key>" for SequentialLR's);
// load_state_dict() requires exactly the keys this scheduler saves, and restores them.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/optim/optimizer.hpp"

namespace reel::optim {

using SchedulerStateDict = std::vector<std::pair<std::string, double>>;

namespace detail {
// Walks a scheduler's saved fields by name; the visitor may read or overwrite each value.
using StateVisitor = std::function<void(const std::string& key, double& value)>;
void visit_int(const StateVisitor& visit, const std::string& key, std::int64_t& value);
void visit_list(const StateVisitor& visit, const std::string& key, std::vector<double>& values);
}  // namespace detail

class LRScheduler {
 public:
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;
  virtual ~LRScheduler() = default;

  // last_epoch += 1 and every group's lr = get_lr().
  virtual void step();
  // The lr of each group as this scheduler last set it.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *optimizer_; }

  SchedulerStateDict state_dict();
  void load_state_dict(const SchedulerStateDict& state_dict);

 protected:
  explicit LRScheduler(Optimizer& optimizer) : optimizer_(&optimizer) {}
  // PyTorch's _LRScheduler.__init__ (last_epoch = -1): each group's initial_lr defaults to its
  // lr, base_lrs are the initial_lrs, and the first step. Derived constructors call it last.
  void init();
  // PyTorch's _initial_step: the step counter restarts and one step runs.
  void initial_step();
  // PyTorch's deprecated step(epoch): last_epoch = epoch, then the closed form where the
  // scheduler has one (SequentialLR uses it at each milestone).
  void step_to(std::int64_t epoch);
  // The chainable form, read after last_epoch moved (PyTorch's get_lr).
  virtual std::vector<double> get_lr() = 0;
  virtual bool has_closed_form() const { return false; }
  virtual std::vector<double> closed_form_lr() const { return {}; }

  // Every saved field, by name.
  using Visitor = detail::StateVisitor;
  virtual void visit_state(const Visitor& visit);

  std::vector<double> group_lrs() const;
  void set_lrs(const std::vector<double>& lrs);

  Optimizer* optimizer_;
  std::vector<double> base_lrs_;
  std::int64_t last_epoch_ = -1;
  std::int64_t step_count_ = 0;
  std::vector<double> last_lr_;

  friend class SequentialLR;
};

// lr *= gamma every step_size steps.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  bool has_closed_form() const override { return true; }
  std::vector<double> closed_form_lr() const override;
  void visit_state(const Visitor& visit) override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

// lr *= gamma^(count) at each milestone (a milestone given twice counts twice).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  bool has_closed_form() const override { return true; }
  std::vector<double> closed_form_lr() const override;
  void visit_state(const Visitor& visit) override;  // milestones are not saved

 private:
  std::vector<std::int64_t> milestones_;  // sorted, with repeats
  double gamma_;
};

// lr *= gamma every step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  std::vector<double> get_lr() override;
  bool has_closed_form() const override { return true; }
  std::vector<double> closed_form_lr() const override;
  void visit_state(const Visitor& visit) override;

 private:
  double gamma_;
};

// Cosine annealing from base_lr to eta_min over T_max steps (PyTorch's recursive form).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;
  bool has_closed_form() const override { return true; }
  std::vector<double> closed_form_lr() const override;
  void visit_state(const Visitor& visit) override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

// The lr factor moves linearly from start_factor to end_factor over total_iters steps.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           std::int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;
  bool has_closed_form() const override { return true; }
  std::vector<double> closed_form_lr() const override;
  void visit_state(const Visitor& visit) override;

 private:
  double start_factor_;
  double end_factor_;
  std::int64_t total_iters_;
};

enum class AnnealStrategy { Cos, Linear };

class OneCycleLROptions {
 public:
  // One max_lr for every group, or one per group; total_steps, or epochs × steps_per_epoch.
  OneCycleLROptions(double max_lr, std::int64_t total_steps)
      : max_lr_{max_lr}, total_steps_(total_steps) {}
  OneCycleLROptions(std::vector<double> max_lr, std::int64_t total_steps)
      : max_lr_(std::move(max_lr)), total_steps_(total_steps) {}
  static OneCycleLROptions from_epochs(double max_lr, std::int64_t epochs,
                                       std::int64_t steps_per_epoch);

  const std::vector<double>& max_lr() const { return max_lr_; }
  std::int64_t total_steps() const { return total_steps_; }
  std::int64_t epochs() const { return epochs_; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  double pct_start() const { return pct_start_; }
  OneCycleLROptions& pct_start(double v) { pct_start_ = v; return *this; }
  AnnealStrategy anneal_strategy() const { return anneal_strategy_; }
  OneCycleLROptions& anneal_strategy(AnnealStrategy v) { anneal_strategy_ = v; return *this; }
  bool cycle_momentum() const { return cycle_momentum_; }
  OneCycleLROptions& cycle_momentum(bool v) { cycle_momentum_ = v; return *this; }
  double base_momentum() const { return base_momentum_; }
  OneCycleLROptions& base_momentum(double v) { base_momentum_ = v; return *this; }
  double max_momentum() const { return max_momentum_; }
  OneCycleLROptions& max_momentum(double v) { max_momentum_ = v; return *this; }
  double div_factor() const { return div_factor_; }
  OneCycleLROptions& div_factor(double v) { div_factor_ = v; return *this; }
  double final_div_factor() const { return final_div_factor_; }
  OneCycleLROptions& final_div_factor(double v) { final_div_factor_ = v; return *this; }
  bool three_phase() const { return three_phase_; }
  OneCycleLROptions& three_phase(bool v) { three_phase_ = v; return *this; }

 private:
  std::vector<double> max_lr_;
  std::int64_t total_steps_ = 0;   // 0: epochs × steps_per_epoch
  std::int64_t epochs_ = 0;
  std::int64_t steps_per_epoch_ = 0;
  double pct_start_ = 0.3;
  AnnealStrategy anneal_strategy_ = AnnealStrategy::Cos;
  bool cycle_momentum_ = true;
  double base_momentum_ = 0.85;
  double max_momentum_ = 0.95;
  double div_factor_ = 25.0;
  double final_div_factor_ = 1e4;
  bool three_phase_ = false;
};

// The 1cycle policy: lr from max_lr/div_factor up to max_lr and down to
// max_lr/(div_factor·final_div_factor) (three_phase: back to the initial lr first), and, with
// cycle_momentum, momentum (SGD, RMSprop) or beta1 (Adam, AdamW) the other way between
// max_momentum and base_momentum. Sets the group keys initial_lr, max_lr, min_lr,
// max_momentum and base_momentum, as PyTorch.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);

 protected:
  std::vector<double> get_lr() override;
  void visit_state(const Visitor& visit) override;

 private:
  struct Phase {
    double end_step;
    const char* start_lr;
    const char* end_lr;
    const char* start_momentum;
    const char* end_momentum;
  };
  double anneal(double start, double end, double pct) const;

  std::int64_t total_steps_;
  std::vector<Phase> phases_;
  AnnealStrategy anneal_strategy_;
  bool cycle_momentum_;
  bool use_beta1_ = false;
};

// Runs schedulers one after another: schedulers[i] from milestones[i-1] on (a warm-up
// LinearLR, then CosineAnnealingLR, say). Every scheduler must drive `optimizer`.
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  void step() override;

 protected:
  std::vector<double> get_lr() override { return group_lrs(); }
  void visit_state(const Visitor& visit) override;

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

// --- ReduceLROnPlateau ---------------------------------------------------------------------------
class ReduceLROnPlateauOptions {
 public:
  enum class Mode { Min, Max };
  enum class ThresholdMode { Rel, Abs };
  Mode mode() const { return mode_; }
  ReduceLROnPlateauOptions& mode(Mode v) { mode_ = v; return *this; }
  double factor() const { return factor_; }
  ReduceLROnPlateauOptions& factor(double v) { factor_ = v; return *this; }
  std::int64_t patience() const { return patience_; }
  ReduceLROnPlateauOptions& patience(std::int64_t v) { patience_ = v; return *this; }
  double threshold() const { return threshold_; }
  ReduceLROnPlateauOptions& threshold(double v) { threshold_ = v; return *this; }
  ThresholdMode threshold_mode() const { return threshold_mode_; }
  ReduceLROnPlateauOptions& threshold_mode(ThresholdMode v) { threshold_mode_ = v; return *this; }
  std::int64_t cooldown() const { return cooldown_; }
  ReduceLROnPlateauOptions& cooldown(std::int64_t v) { cooldown_ = v; return *this; }
  // One value for every group, or one per group.
  const std::vector<double>& min_lr() const { return min_lr_; }
  ReduceLROnPlateauOptions& min_lr(double v) { min_lr_ = {v}; return *this; }
  ReduceLROnPlateauOptions& min_lr(std::vector<double> v) { min_lr_ = std::move(v); return *this; }
  double eps() const { return eps_; }
  ReduceLROnPlateauOptions& eps(double v) { eps_ = v; return *this; }

 private:
  Mode mode_ = Mode::Min;
  double factor_ = 0.1;
  std::int64_t patience_ = 10;
  double threshold_ = 1e-4;
  ThresholdMode threshold_mode_ = ThresholdMode::Rel;
  std::int64_t cooldown_ = 0;
  std::vector<double> min_lr_{0.0};
  double eps_ = 1e-8;
};

// Multiplies each group's lr by factor when the metric has not improved for more than
// `patience` steps (then waits `cooldown` steps), never below min_lr, ignoring changes
// smaller than eps. PyTorch 1.13's ReduceLROnPlateau (not an LRScheduler there either).
class ReduceLROnPlateau {
 public:
  using Mode = ReduceLROnPlateauOptions::Mode;
  using ThresholdMode = ReduceLROnPlateauOptions::ThresholdMode;

  explicit ReduceLROnPlateau(Optimizer& optimizer,
                             const ReduceLROnPlateauOptions& options = ReduceLROnPlateauOptions());
  void step(double metrics);
  // The groups' lrs after the last step (before any: their current lrs).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  std::int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }

  SchedulerStateDict state_dict();
  void load_state_dict(const SchedulerStateDict& state_dict);

 private:
  bool is_better(double a, double best) const;
  void visit_state(const detail::StateVisitor& visit);

  Optimizer* optimizer_;
  Mode mode_;
  ThresholdMode threshold_mode_;
  double factor_;
  std::int64_t patience_;
  double threshold_;
  std::int64_t cooldown_;
  std::vector<double> min_lrs_;
  double eps_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

using ReduceLROnPlateauScheduler = ReduceLROnPlateau;  // LibTorch's name

}  // namespace reel::optim
