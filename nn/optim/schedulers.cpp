// The learning-rate schedulers: PyTorch 1.13's torch/optim/lr_scheduler.py, line by line where
// the order of floating point operations matters (every expression below is evaluated in the
// order Python evaluates the original).
#include "nn/optim/schedulers.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <set>
#include <utility>

namespace reel::optim {

namespace {
constexpr double kPi = std::numbers::pi;  // math.pi

// Every lr times `factor`: the multiplicative schedulers' recursive step (on the groups' lrs)
// and their closed forms (on base_lrs).
std::vector<double> scaled(std::vector<double> lrs, double factor) {
  for (double& lr : lrs) lr = lr * factor;
  return lrs;
}
}  // namespace

// --- LRScheduler --------------------------------------------------------------------------------
void LRScheduler::init() {
  for (OptimizerParamGroup& group : optimizer_->param_groups()) {
    OptimizerOptions& o = group.options();
    if (!o.has("initial_lr")) o.set("initial_lr", o.get_lr());  // group.setdefault
  }
  base_lrs_.clear();
  for (const OptimizerParamGroup& group : optimizer_->param_groups()) {
    base_lrs_.push_back(group.options().get("initial_lr"));
  }
  last_epoch_ = -1;
  initial_step();
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const OptimizerParamGroup& group : optimizer_->param_groups()) {
    lrs.push_back(group.options().get_lr());
  }
  return lrs;
}

void LRScheduler::set_lrs(const std::vector<double>& lrs) {
  auto& groups = optimizer_->param_groups();
  check(lrs.size() == groups.size(), "LRScheduler: {} learning rates for {} param groups",
        lrs.size(), groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lrs[i]);
  last_lr_ = group_lrs();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  set_lrs(get_lr());
}

void LRScheduler::step_to(std::int64_t epoch) {
  ++step_count_;
  last_epoch_ = epoch;
  set_lrs(has_closed_form() ? closed_form_lr() : get_lr());
}

namespace detail {

void visit_int(const StateVisitor& visit, const std::string& key, std::int64_t& value) {
  double v = static_cast<double>(value);
  visit(key, v);
  check(v == std::floor(v) && std::abs(v) < 9.0e15,
        "load_state_dict: '{}' must be an integer, got {}", key, v);
  value = static_cast<std::int64_t>(v);
}

void visit_list(const StateVisitor& visit, const std::string& key, std::vector<double>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) visit(fmt::format("{}.{}", key, i), values[i]);
}

}  // namespace detail

using detail::visit_int;
using detail::visit_list;

void LRScheduler::visit_state(const Visitor& visit) {
  visit_int(visit, "last_epoch", last_epoch_);
  visit_int(visit, "_step_count", step_count_);
  visit_list(visit, "base_lrs", base_lrs_);
  visit_list(visit, "_last_lr", last_lr_);
}

namespace {

SchedulerStateDict save_state(const std::function<void(const detail::StateVisitor&)>& walk) {
  SchedulerStateDict out;
  walk([&](const std::string& key, double& value) { out.emplace_back(key, value); });
  return out;
}

// Exactly the keys the scheduler saves, each once; then the values are written.
void load_state(const char* who, const SchedulerStateDict& sd,
                const std::function<void(const std::function<void(const std::string&, double&)>&)>&
                    walk) {
  std::map<std::string, double> values;
  for (const auto& [key, value] : sd) {
    check(values.emplace(key, value).second, "{}: load_state_dict: the key '{}' appears twice",
          who, key);
  }
  std::size_t expected = 0;
  walk([&](const std::string& key, double&) {
    ++expected;
    check(values.count(key) == 1, "{}: load_state_dict: the state dict lacks '{}'", who, key);
  });
  if (values.size() != expected) {
    std::set<std::string> known;
    walk([&](const std::string& key, double&) { known.insert(key); });
    for (const auto& [key, _] : values) {
      check(known.count(key) == 1, "{}: load_state_dict: unexpected key '{}'", who, key);
    }
  }
  walk([&](const std::string& key, double& value) { value = values.at(key); });
}

}  // namespace

SchedulerStateDict LRScheduler::state_dict() {
  return save_state([this](const Visitor& v) { visit_state(v); });
}

void LRScheduler::load_state_dict(const SchedulerStateDict& sd) {
  // base_lrs / _last_lr have one entry per group: a dict of another optimizer lacks or adds keys.
  // A value refused half-way (a non-integer counter) restores what was there.
  const SchedulerStateDict backup = state_dict();
  try {
    load_state("LRScheduler", sd, [this](const Visitor& v) { visit_state(v); });
  } catch (const Error&) {
    load_state("LRScheduler", backup, [this](const Visitor& v) { visit_state(v); });
    throw;
  }
}

// --- StepLR --------------------------------------------------------------------------------------
StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  check(step_size > 0, "StepLR: step_size must be positive, got {}", step_size);
  init();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  return scaled(std::move(lrs), gamma_);
}

std::vector<double> StepLR::closed_form_lr() const {
  const auto n = static_cast<double>(last_epoch_ / step_size_);
  return scaled(base_lrs_, std::pow(gamma_, n));
}

void StepLR::visit_state(const Visitor& visit) {
  LRScheduler::visit_state(visit);
  visit_int(visit, "step_size", step_size_);
  visit("gamma", gamma_);
}

// --- MultiStepLR ---------------------------------------------------------------------------------
MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  init();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  return scaled(std::move(lrs), std::pow(gamma_, static_cast<double>(count)));
}

std::vector<double> MultiStepLR::closed_form_lr() const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                      milestones_.begin();  // bisect_right
  return scaled(base_lrs_, std::pow(gamma_, static_cast<double>(passed)));
}

void MultiStepLR::visit_state(const Visitor& visit) {
  LRScheduler::visit_state(visit);
  visit("gamma", gamma_);
}

// --- ExponentialLR -------------------------------------------------------------------------------
ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  init();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  return scaled(std::move(lrs), gamma_);
}

std::vector<double> ExponentialLR::closed_form_lr() const {
  return scaled(base_lrs_, std::pow(gamma_, static_cast<double>(last_epoch_)));
}

void ExponentialLR::visit_state(const Visitor& visit) {
  LRScheduler::visit_state(visit);
  visit("gamma", gamma_);
}

// --- CosineAnnealingLR ---------------------------------------------------------------------------
CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  check(T_max > 0, "CosineAnnealingLR: T_max must be positive, got {}", T_max);
  init();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const double e = static_cast<double>(last_epoch_);
  const double T = static_cast<double>(T_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {
    for (std::size_t i = 0; i < lrs.size(); ++i) {
      lrs[i] = eta_min_ + (base_lrs_[i] - eta_min_) * (1 + std::cos(e * kPi / T)) / 2;
    }
    return lrs;
  }
  if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    for (std::size_t i = 0; i < lrs.size(); ++i) {
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
    }
    return lrs;
  }
  for (double& lr : lrs) {
    lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) +
         eta_min_;
  }
  return lrs;
}

std::vector<double> CosineAnnealingLR::closed_form_lr() const {
  std::vector<double> lrs;
  const double e = static_cast<double>(last_epoch_);
  const double T = static_cast<double>(T_max_);
  for (double base : base_lrs_) {
    lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * e / T)) / 2);
  }
  return lrs;
}

void CosineAnnealingLR::visit_state(const Visitor& visit) {
  LRScheduler::visit_state(visit);
  visit_int(visit, "T_max", T_max_);
  visit("eta_min", eta_min_);
}

// --- LinearLR ------------------------------------------------------------------------------------
LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor,
                   std::int64_t total_iters)
    : LRScheduler(optimizer),
      start_factor_(start_factor),
      end_factor_(end_factor),
      total_iters_(total_iters) {
  check(start_factor <= 1.0 && start_factor > 0.0,
        "LinearLR: Starting multiplicative factor expected to be greater than 0 and less or "
        "equal to 1, got {}",
        start_factor);
  check(end_factor <= 1.0 && end_factor >= 0.0,
        "LinearLR: Ending multiplicative factor expected to be between 0 and 1, got {}",
        end_factor);
  check(total_iters > 0, "LinearLR: total_iters must be positive, got {}", total_iters);
  init();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return scaled(std::move(lrs), start_factor_);
  if (last_epoch_ > total_iters_) return lrs;
  const double t = static_cast<double>(total_iters_);
  const double e = static_cast<double>(last_epoch_);
  return scaled(std::move(lrs), 1. + (end_factor_ - start_factor_) /
                                        (t * start_factor_ + (e - 1) * (end_factor_ - start_factor_)));
}

std::vector<double> LinearLR::closed_form_lr() const {
  const double t = static_cast<double>(total_iters_);
  const double m = static_cast<double>(std::min(total_iters_, last_epoch_));
  return scaled(base_lrs_, start_factor_ + (end_factor_ - start_factor_) * m / t);
}

void LinearLR::visit_state(const Visitor& visit) {
  LRScheduler::visit_state(visit);
  visit("start_factor", start_factor_);
  visit("end_factor", end_factor_);
  visit_int(visit, "total_iters", total_iters_);
}

// --- OneCycleLR ----------------------------------------------------------------------------------
OneCycleLROptions OneCycleLROptions::from_epochs(double max_lr, std::int64_t epochs,
                                                 std::int64_t steps_per_epoch) {
  OneCycleLROptions o(max_lr, 0);
  o.epochs_ = epochs;
  o.steps_per_epoch_ = steps_per_epoch;
  return o;
}

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& o)
    : LRScheduler(optimizer),
      anneal_strategy_(o.anneal_strategy()),
      cycle_momentum_(o.cycle_momentum()) {
  if (o.total_steps() != 0) {
    check(o.total_steps() > 0, "OneCycleLR: Expected positive integer total_steps, but got {}",
          o.total_steps());
    total_steps_ = o.total_steps();
  } else {
    check(o.epochs() > 0, "OneCycleLR: Expected positive integer epochs, but got {}", o.epochs());
    check(o.steps_per_epoch() > 0,
          "OneCycleLR: Expected positive integer steps_per_epoch, but got {}",
          o.steps_per_epoch());
    total_steps_ = o.epochs() * o.steps_per_epoch();
  }
  const double total = static_cast<double>(total_steps_);
  const double pct = o.pct_start();
  if (o.three_phase()) {
    phases_ = {{pct * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {2 * pct * total - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"},
               {total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{pct * total - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }
  check(pct >= 0.0 && pct <= 1.0,
        "OneCycleLR: Expected float between 0 and 1 pct_start, but got {}", pct);

  auto& groups = optimizer.param_groups();
  auto per_group = [&](const char* name, std::vector<double> values) {
    if (values.size() == 1) values.assign(groups.size(), values[0]);
    check(values.size() == groups.size(), "OneCycleLR: expected {} values for {}, got {}",
          groups.size(), name, values.size());
    return values;
  };
  const std::vector<double> max_lrs = per_group("max_lr", o.max_lr());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    OptimizerOptions& g = groups[i].options();
    g.set("initial_lr", max_lrs[i] / o.div_factor());
    g.set("max_lr", max_lrs[i]);
    g.set("min_lr", g.get("initial_lr") / o.final_div_factor());
  }
  if (cycle_momentum_) {
    const OptimizerOptions& d = optimizer.defaults();
    check(d.has("momentum") || d.has("betas.0"),
          "OneCycleLR: optimizer must support momentum with `cycle_momentum` option enabled "
          "({} has neither momentum nor betas)",
          optimizer.name());
    use_beta1_ = d.has("betas.0");
    for (OptimizerParamGroup& group : groups) {
      OptimizerOptions& g = group.options();
      g.set(use_beta1_ ? "betas.0" : "momentum", o.max_momentum());
      g.set("max_momentum", o.max_momentum());
      g.set("base_momentum", o.base_momentum());
    }
  }
  init();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (anneal_strategy_ == AnnealStrategy::Cos) {
    const double cos_out = std::cos(kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
  const std::int64_t step_num = last_epoch_;
  check(step_num <= total_steps_,
        "OneCycleLR: Tried to step {} times. The specified number of total steps is {}",
        step_num + 1, total_steps_);
  std::vector<double> lrs;
  for (OptimizerParamGroup& group : optimizer_->param_groups()) {
    OptimizerOptions& g = group.options();
    double start_step = 0;
    double computed_lr = 0, computed_momentum = 0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      const double end_step = phase.end_step;
      if (static_cast<double>(step_num) <= end_step || i == phases_.size() - 1) {
        const double pct = (static_cast<double>(step_num) - start_step) / (end_step - start_step);
        computed_lr = anneal(g.get(phase.start_lr), g.get(phase.end_lr), pct);
        if (cycle_momentum_) {
          computed_momentum = anneal(g.get(phase.start_momentum), g.get(phase.end_momentum), pct);
        }
        break;
      }
      start_step = phase.end_step;
    }
    lrs.push_back(computed_lr);
    if (cycle_momentum_) g.set(use_beta1_ ? "betas.0" : "momentum", computed_momentum);
  }
  return lrs;
}

void OneCycleLR::visit_state(const Visitor& visit) {
  LRScheduler::visit_state(visit);
  visit_int(visit, "total_steps", total_steps_);
}

// --- SequentialLR --------------------------------------------------------------------------------
SequentialLR::SequentialLR(Optimizer& optimizer,
                           std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  check(!schedulers_.empty(), "SequentialLR: expects at least one scheduler");
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    check(schedulers_[i] != nullptr, "SequentialLR: scheduler {} is null", i);
    check(&schedulers_[i]->optimizer() == &optimizer,
          "SequentialLR: Sequential Schedulers expects all schedulers to belong to the same "
          "optimizer, but got schedulers at index {} to be different than the optimizer passed "
          "in.",
          i);
  }
  check(milestones_.size() == schedulers_.size() - 1,
        "SequentialLR: Sequential Schedulers expects number of schedulers provided to be one "
        "more than the number of milestone points, but got number of schedulers {} and the "
        "number of milestones to be equal to {}",
        schedulers_.size(), milestones_.size());
  last_epoch_ = 0;  // last_epoch + 1
  for (OptimizerParamGroup& group : optimizer.param_groups()) {
    OptimizerOptions& g = group.options();
    g.set_lr(g.get("initial_lr"));
  }
  for (auto& s : schedulers_) s->last_epoch_ -= 1;
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const auto idx = static_cast<std::size_t>(
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin());
  LRScheduler& scheduler = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_) {
    scheduler.step_to(0);
  } else {
    scheduler.step();
  }
  last_lr_ = scheduler.get_last_lr();
}

void SequentialLR::visit_state(const Visitor& visit) {
  visit_int(visit, "last_epoch", last_epoch_);
  visit_list(visit, "_last_lr", last_lr_);
  for (std::size_t k = 0; k < schedulers_.size(); ++k) {
    const std::string prefix = fmt::format("_schedulers.{}.", k);
    schedulers_[k]->visit_state(
        [&](const std::string& key, double& value) { visit(prefix + key, value); });
  }
}

// --- ReduceLROnPlateau ---------------------------------------------------------------------------
ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& o)
    : optimizer_(&optimizer),
      mode_(o.mode()),
      threshold_mode_(o.threshold_mode()),
      factor_(o.factor()),
      patience_(o.patience()),
      threshold_(o.threshold()),
      cooldown_(o.cooldown()),
      eps_(o.eps()) {
  check(factor_ < 1.0, "ReduceLROnPlateau: Factor should be < 1.0. (got {})", factor_);
  const std::size_t groups = optimizer.param_groups().size();
  if (o.min_lr().size() == 1) {
    min_lrs_.assign(groups, o.min_lr()[0]);
  } else {
    check(o.min_lr().size() == groups, "ReduceLROnPlateau: expected {} min_lrs, got {}", groups,
          o.min_lr().size());
    min_lrs_ = o.min_lr();
  }
  best_ = mode_ == Mode::Min ? INFINITY : -INFINITY;  // _reset(): mode_worse
  for (const OptimizerParamGroup& g : optimizer.param_groups()) {
    last_lr_.push_back(g.options().get_lr());
  }
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  if (mode_ == Mode::Min && threshold_mode_ == ThresholdMode::Rel) {
    const double rel_epsilon = 1. - threshold_;
    return a < best * rel_epsilon;
  }
  if (mode_ == Mode::Min) return a < best - threshold_;
  if (threshold_mode_ == ThresholdMode::Rel) {
    const double rel_epsilon = threshold_ + 1.;
    return a > best * rel_epsilon;
  }
  return a > best + threshold_;
}

void ReduceLROnPlateau::step(double current) {
  last_epoch_ = last_epoch_ + 1;
  if (is_better(current, best_)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // ignore any bad epochs in cooldown
  }
  auto& groups = optimizer_->param_groups();
  if (num_bad_epochs_ > patience_) {
    for (std::size_t i = 0; i < groups.size(); ++i) {
      OptimizerOptions& g = groups[i].options();
      const double old_lr = g.get_lr();
      const double new_lr = std::max(old_lr * factor_, min_lrs_[i]);
      if (old_lr - new_lr > eps_) g.set_lr(new_lr);
    }
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const OptimizerParamGroup& g : groups) last_lr_.push_back(g.options().get_lr());
}

void ReduceLROnPlateau::visit_state(const detail::StateVisitor& visit) {
  const detail::StateVisitor& v = visit;
  double mode = mode_ == Mode::Min ? 0.0 : 1.0;
  double threshold_mode = threshold_mode_ == ThresholdMode::Rel ? 0.0 : 1.0;
  visit("factor", factor_);
  visit_int(v, "patience", patience_);
  visit_int(v, "cooldown", cooldown_);
  visit_int(v, "cooldown_counter", cooldown_counter_);
  visit("mode", mode);
  visit("threshold", threshold_);
  visit("threshold_mode", threshold_mode);
  visit("best", best_);
  visit_int(v, "num_bad_epochs", num_bad_epochs_);
  visit("eps", eps_);
  visit_int(v, "last_epoch", last_epoch_);
  visit_list(v, "min_lrs", min_lrs_);
  visit_list(v, "_last_lr", last_lr_);
  check(mode == 0.0 || mode == 1.0, "ReduceLROnPlateau: load_state_dict: mode must be 0 (min) "
        "or 1 (max), got {}", mode);
  check(threshold_mode == 0.0 || threshold_mode == 1.0,
        "ReduceLROnPlateau: load_state_dict: threshold_mode must be 0 (rel) or 1 (abs), got {}",
        threshold_mode);
  mode_ = mode == 0.0 ? Mode::Min : Mode::Max;
  threshold_mode_ = threshold_mode == 0.0 ? ThresholdMode::Rel : ThresholdMode::Abs;
}

SchedulerStateDict ReduceLROnPlateau::state_dict() {
  return save_state([this](const detail::StateVisitor& v) { visit_state(v); });
}

void ReduceLROnPlateau::load_state_dict(const SchedulerStateDict& sd) {
  const SchedulerStateDict backup = state_dict();
  try {
    load_state("ReduceLROnPlateau", sd, [this](const detail::StateVisitor& v) { visit_state(v); });
  } catch (const Error&) {
    load_state("ReduceLROnPlateau", backup,
               [this](const detail::StateVisitor& v) { visit_state(v); });
    throw;
  }
}

}  // namespace reel::optim
