// Optimizer's shared half: options tables, param groups, per-parameter state, step/zero_grad,
// and the state dict (PyTorch's Optimizer.state_dict / load_state_dict, flattened to named
// tensors and scalars).
#include "nn/optim/optimizer.hpp"

#include <charconv>
#include <map>
#include <set>

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::optim {

// --- options ------------------------------------------------------------------------------------
namespace {
template <typename Entries>
auto find_entry(Entries& entries, std::string_view key) {
  auto it = entries.begin();
  for (; it != entries.end(); ++it)
    if (it->key == key) break;
  return it;
}
}  // namespace

double OptimizerOptions::get(std::string_view key) const {
  auto it = find_entry(entries_, key);
  check(it != entries_.end(), "{}: the options have no key '{}'", optimizer_name(), key);
  return it->value;
}

bool OptimizerOptions::has(std::string_view key) const {
  return find_entry(entries_, key) != entries_.end();
}

bool OptimizerOptions::is_set(std::string_view key) const {
  auto it = find_entry(entries_, key);
  return it != entries_.end() && it->set;
}

void OptimizerOptions::set(std::string_view key, double value) {
  auto it = find_entry(entries_, key);
  if (it == entries_.end()) {
    entries_.push_back({std::string(key), value, true});
  } else {
    it->value = value;
    it->set = true;
  }
}

void OptimizerOptions::define(std::string key, double value) {
  entries_.push_back({std::move(key), value, false});
}

// --- param groups and state ----------------------------------------------------------------------
OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}
OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params,
                                         const OptimizerOptions& options)
    : params_(std::move(params)), options_(options.clone()) {}
OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params,
                                         std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}
OptimizerParamGroup::OptimizerParamGroup(const OptimizerParamGroup& other)
    : params_(other.params_), options_(other.options_ ? other.options_->clone() : nullptr) {}
OptimizerParamGroup& OptimizerParamGroup::operator=(const OptimizerParamGroup& other) {
  if (this != &other) {
    params_ = other.params_;
    options_ = other.options_ ? other.options_->clone() : nullptr;
  }
  return *this;
}

OptimizerOptions& OptimizerParamGroup::options() {
  check(options_ != nullptr, "param group: the group has no options");
  return *options_;
}
const OptimizerOptions& OptimizerParamGroup::options() const {
  check(options_ != nullptr, "param group: the group has no options");
  return *options_;
}

bool OptimizerParamState::has(std::string_view name) const {
  for (const auto& [n, t] : entries_)
    if (n == name) return true;
  return false;
}

Tensor& OptimizerParamState::at(std::string_view name) {
  for (auto& [n, t] : entries_)
    if (n == name) return t;
  fail("optimizer state: the parameter has no state entry '{}'", name);
}

const Tensor& OptimizerParamState::at(std::string_view name) const {
  return const_cast<OptimizerParamState*>(this)->at(name);
}

void OptimizerParamState::set(std::string_view name, Tensor value) {
  for (auto& [n, t] : entries_) {
    if (n == name) {
      t = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::string(name), std::move(value));
}

// --- the optimizer -------------------------------------------------------------------------------
Optimizer::Optimizer(std::string name, std::unique_ptr<OptimizerOptions> defaults)
    : name_(std::move(name)), defaults_(std::move(defaults)) {}

void Optimizer::add_param_groups(const std::vector<OptimizerParamGroup>& groups) {
  std::size_t count = 0;
  for (const OptimizerParamGroup& g : groups) count += g.params().size();
  check(count > 0, "{}: optimizer got an empty parameter list", name_);
  check_options(*defaults_);
  for (const OptimizerParamGroup& g : groups) add_param_group(g);
}

void Optimizer::init_state(const Tensor&, const OptimizerOptions&, OptimizerParamState&) {}

void Optimizer::add_param_group(const OptimizerParamGroup& group) {
  // Resolve the options: the defaults, overridden by what the group set explicitly.
  std::unique_ptr<OptimizerOptions> options = defaults_->clone();
  if (group.has_options()) {
    const OptimizerOptions& own = group.options();
    check(std::string_view(own.optimizer_name()) == defaults_->optimizer_name(),
          "{}: a param group's options are {}Options, expected {}Options", name_,
          own.optimizer_name(), defaults_->optimizer_name());
    for (const auto& e : own.entries())
      if (e.set) options->set(e.key, e.value);
  }
  check_options(*options);

  std::set<const TensorImpl*> seen;
  for (const OptimizerParamGroup& g : param_groups_)
    for (const Tensor& p : g.params()) seen.insert(p.impl_ptr().get());
  std::set<const TensorImpl*> mine;
  for (const Tensor& p : group.params()) {
    check(p.defined(), "{}: a parameter of the group is an undefined tensor", name_);
    check(p.is_leaf(), "{}: can't optimize a non-leaf Tensor", name_);
    check(p.is_floating_point() || p.is_complex(),
          "{}: can only optimize floating point or complex tensors, got dtype {}", name_,
          p.dtype());
    check(!seen.count(p.impl_ptr().get()),
          "{}: some parameters appear in more than one parameter group", name_);
    check(mine.insert(p.impl_ptr().get()).second,
          "{}: the parameter group contains the same parameter twice", name_);
  }
  OptimizerParamGroup resolved(group.params(), std::move(options));
  param_groups_.push_back(std::move(resolved));
  NoGradGuard no_grad;
  for (const Tensor& p : param_groups_.back().params()) {
    init_state(p, param_groups_.back().options(), state_for(p));
  }
}

std::vector<Tensor> Optimizer::parameters() const {
  std::vector<Tensor> out;
  for (const OptimizerParamGroup& g : param_groups_)
    out.insert(out.end(), g.params().begin(), g.params().end());
  return out;
}

std::size_t Optimizer::size() const {
  std::size_t n = 0;
  for (const OptimizerParamGroup& g : param_groups_) n += g.params().size();
  return n;
}

OptimizerParamState& Optimizer::state_for(const Tensor& param) {
  return state_[param.impl_ptr().get()];
}

OptimizerParamState* Optimizer::state(const Tensor& param) {
  auto it = state_.find(param.impl_ptr().get());
  return it == state_.end() || it->second.empty() ? nullptr : &it->second;
}

const OptimizerParamState* Optimizer::state(const Tensor& param) const {
  return const_cast<Optimizer*>(this)->state(param);
}

Tensor Optimizer::step(const LossClosure& closure) {
  Tensor loss;
  if (closure) {
    EnableGradGuard grad_on;
    loss = closure();
  }
  NoGradGuard no_grad;
  for (OptimizerParamGroup& group : param_groups_) {
    for (const Tensor& p : group.params()) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;  // PyTorch skips a parameter without a gradient
      check(grad.device() == p.device(),
            "{}: the gradient is on {} but the parameter is on {}", name_, grad.device(),
            p.device());
      check(grad.dtype() == p.dtype(),
            "{}: the gradient has dtype {} but the parameter has dtype {}", name_, grad.dtype(),
            p.dtype());
      check(grad.sizes() == p.sizes(),
            "{}: the gradient has shape {} but the parameter has shape {}", name_, grad.sizes(),
            p.sizes());
      update(p, grad, group.options(), state_for(p));
    }
  }
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (OptimizerParamGroup& group : param_groups_) {
    for (Tensor& p : group.params()) {
      if (set_to_none) {
        p.zero_grad();
      } else if (Tensor g = p.grad(); g.defined()) {
        g.zero_();
      }
    }
  }
}

// --- state dict ---------------------------------------------------------------------------------
namespace {

// "12" -> 12; anything else (empty, sign, trailing text) -> -1.
std::int64_t parse_index(std::string_view s) {
  std::int64_t v = -1;
  if (s.empty()) return -1;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0) return -1;
  return v;
}

// Splits "a.b.rest" at the first two dots into ("a", "b", "rest"); rest may contain dots.
bool split3(std::string_view s, std::string_view& a, std::string_view& b, std::string_view& rest) {
  const auto d1 = s.find('.');
  if (d1 == std::string_view::npos) return false;
  const auto d2 = s.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  a = s.substr(0, d1);
  b = s.substr(d1 + 1, d2 - d1 - 1);
  rest = s.substr(d2 + 1);
  return !rest.empty();
}

}  // namespace

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict out;
  NoGradGuard no_grad;
  std::int64_t id = 0;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const OptimizerParamGroup& group = param_groups_[g];
    for (const auto& e : group.options().entries()) {
      out.scalars.emplace_back(fmt::format("param_groups.{}.{}", g, e.key), e.value);
    }
    for (std::size_t k = 0; k < group.params().size(); ++k, ++id) {
      out.scalars.emplace_back(fmt::format("param_groups.{}.params.{}", g, k),
                               static_cast<double>(id));
      const OptimizerParamState* s = state(group.params()[k]);
      if (s == nullptr) continue;
      for (const auto& [name, t] : s->entries()) {
        out.tensors.emplace_back(fmt::format("state.{}.{}", id, name), t.detach().clone());
      }
    }
  }
  return out;
}

void Optimizer::load_state_dict(const OptimizerStateDict& sd) {
  const char* op = "load_state_dict";
  // Groups: options and parameter ids.
  std::map<std::int64_t, std::vector<std::pair<std::string, double>>> group_options;
  std::map<std::int64_t, std::map<std::int64_t, std::int64_t>> group_params;  // g -> k -> id
  for (const auto& [key, value] : sd.scalars) {
    std::string_view a, b, rest;
    check(split3(key, a, b, rest) && a == "param_groups" && parse_index(b) >= 0,
          "{}: {}: unexpected scalar entry '{}' (expected param_groups.<g>.<key>)", name_, op,
          key);
    const std::int64_t g = parse_index(b);
    if (rest.starts_with("params.")) {
      const std::int64_t k = parse_index(rest.substr(7));
      check(k >= 0 && value >= 0 && value == static_cast<double>(static_cast<std::int64_t>(value)),
            "{}: {}: bad parameter entry '{}' = {}", name_, op, key, value);
      group_params[g][k] = static_cast<std::int64_t>(value);
    } else {
      group_options[g].emplace_back(std::string(rest), value);
    }
  }
  std::set<std::int64_t> groups;
  for (const auto& [g, _] : group_options) groups.insert(g);
  for (const auto& [g, _] : group_params) groups.insert(g);
  check(groups.size() == param_groups_.size() &&
            (groups.empty() || *groups.rbegin() == static_cast<std::int64_t>(groups.size()) - 1),
        "{}: {}: loaded state dict has a different number of parameter groups ({} groups, the "
        "optimizer has {})",
        name_, op, groups.size(), param_groups_.size());

  // Saved id -> this optimizer's parameter, group by group (PyTorch zips the saved groups'
  // ids with the current groups' parameters).
  std::map<std::int64_t, Tensor> by_id;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const auto& saved = group_params[static_cast<std::int64_t>(g)];
    const auto& params = param_groups_[g].params();
    check(saved.size() == params.size(),
          "{}: {}: loaded state dict contains a parameter group that doesn't match the size of "
          "optimizer's group (group {}: {} parameters saved, {} in the optimizer)",
          name_, op, g, saved.size(), params.size());
    std::int64_t k = 0;
    for (const auto& [index, id] : saved) {
      check(index == k, "{}: {}: group {} lacks the entry params.{}", name_, op, g, k);
      check(by_id.emplace(id, params[k]).second, "{}: {}: parameter id {} appears twice", name_,
            op, id);
      ++k;
    }
    // Every option this optimizer knows must be there.
    for (const auto& e : defaults_->entries()) {
      bool found = false;
      for (const auto& [key, v] : group_options[static_cast<std::int64_t>(g)]) {
        found |= key == e.key;
      }
      check(found, "{}: {}: param group {} lacks the option '{}'", name_, op, g, e.key);
    }
  }

  // State: validate every entry, building the new state aside.
  const std::vector<std::string> names = state_names();
  std::map<std::int64_t, OptimizerParamState> new_state;
  NoGradGuard no_grad;
  for (const auto& [key, t] : sd.tensors) {
    std::string_view a, b, name;
    check(split3(key, a, b, name) && a == "state" && parse_index(b) >= 0,
          "{}: {}: unexpected tensor entry '{}' (expected state.<id>.<name>)", name_, op, key);
    const std::int64_t id = parse_index(b);
    auto it = by_id.find(id);
    check(it != by_id.end(), "{}: {}: '{}' is the state of parameter {}, which no group holds",
          name_, op, key, id);
    bool known = false;
    for (const std::string& n : names) known |= n == name;
    check(known, "{}: {}: '{}': {} keeps no state named '{}'", name_, op, key, name_, name);
    check(t.defined(), "{}: {}: '{}' is an undefined tensor", name_, op, key);
    const Tensor& param = it->second;
    Tensor value;
    if (name == "step") {
      check(t.numel() == 1, "{}: {}: '{}' must hold one number, got shape {}", name_, op, key,
            t.sizes());
      value = t.detach().reshape(Shape{}).to(Device(kCPU)).clone();
    } else {
      check(t.sizes() == param.sizes(),
            "{}: {}: '{}' has shape {} but its parameter has shape {}", name_, op, key,
            t.sizes(), param.sizes());
      check(t.is_floating_point() || t.is_complex(),
            "{}: {}: '{}' has dtype {}, expected a floating point or complex tensor", name_, op,
            key, t.dtype());
      check(t.is_complex() == param.is_complex(),
            "{}: {}: '{}' has dtype {} but its parameter has dtype {}", name_, op, key, t.dtype(),
            param.dtype());
      value = t.detach().to(param.device(), param.dtype()).clone();
    }
    new_state[id].set(name, value);
  }

  // The groups' new options, validated as the constructor validates them.
  std::vector<std::unique_ptr<OptimizerOptions>> new_options;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    new_options.push_back(param_groups_[g].options().clone());
    for (const auto& [key, v] : group_options[static_cast<std::int64_t>(g)]) {
      new_options.back()->set(key, v);
    }
    check_options(*new_options.back());
  }

  // Apply.
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    param_groups_[g].set_options(std::move(new_options[g]));
  }
  for (const auto& [id, param] : by_id) {
    auto it = new_state.find(id);
    state_[param.impl_ptr().get()] = it == new_state.end() ? OptimizerParamState() : it->second;
  }
}

// --- helpers -------------------------------------------------------------------------------------
namespace detail {

backends::View optim_view(const Tensor& t) {
  backends::View v = view_of(t);
  if (is_complex(v.dtype)) {
    v.dtype = to_real(v.dtype);
    for (int d = 0; d < v.strides.size(); ++d) v.strides[d] *= 2;
    v.shape.push_back(2);
    v.strides.push_back(1);
  }
  return v;
}

Tensor step_counter(DType dtype) { return zeros({}, TensorOptions(dtype)); }

}  // namespace detail

}  // namespace reel::optim
