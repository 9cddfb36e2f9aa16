#pragma once
// Optimizer: the base of reel's optimizers (SGD, Adam, AdamW, RMSprop, Adagrad), LibTorch's
// torch::optim API with PyTorch 1.13's semantics (torch.optim, single-tensor implementations).
//
//   auto opt = optim::Adam(model->parameters(), optim::AdamOptions(1e-3).weight_decay(0.01));
//   loss.backward(); opt.step(); opt.zero_grad();
//
// Options are named numbers. Each optimizer's options class (SGDOptions, AdamOptions, ...) has
// LibTorch's typed accessors (`o.momentum()`, `o.momentum(0.9)`), and underneath is an ordered
// table of (key, value) — PyTorch's param-group dict — so that:
// - a param group's options override the optimizer's defaults field by field: a field a group
//   never set falls back to the default, as PyTorch's `{'params': ..., 'lr': 0.1}` groups;
// - schedulers add their own keys to a group (`initial_lr`, `max_lr`, ...), as PyTorch does;
// - the state dict stores every group's options as scalars ("param_groups.0.lr").
// Booleans are stored as 0/1; Adam's betas as the keys "betas.0" and "betas.1".
//
// Each parameter's state (exp_avg, step, ...) is a list of named tensors, created at its first
// update (Adagrad: at construction, as PyTorch). A parameter whose .grad() is undefined is
// skipped. The update of one parameter is one fused backend primitive (Backend::adam_step, ...)
// run under no-grad; it writes the parameter and its state in place and bumps their version
// counters.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/backend.hpp"
#include "tensor/tensor.hpp"

namespace reel::optim {

// --- options --------------------------------------------------------------------------------
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  // The optimizer these options belong to ("SGD", "Adam", ...), for errors.
  virtual const char* optimizer_name() const = 0;

  double get_lr() const { return get("lr"); }
  void set_lr(double lr) { set("lr", lr); }

  // The table. get() raises naming the key when it is absent; set() adds a key it doesn't
  // know (schedulers' keys) and marks the key as set explicitly.
  double get(std::string_view key) const;
  bool has(std::string_view key) const;
  bool is_set(std::string_view key) const;
  void set(std::string_view key, double value);
  struct Entry {
    std::string key;
    double value;
    bool set;  // given explicitly (else a default, which a group takes from the optimizer)
  };
  const std::vector<Entry>& entries() const { return entries_; }

 protected:
  // Declares a key with its default value, not marked as set.
  void define(std::string key, double value);

 private:
  std::vector<Entry> entries_;
};

template <typename Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// --- param groups and state -------------------------------------------------------------------
class OptimizerParamGroup {
 public:
  // Without options the group takes every option from the optimizer's defaults.
  OptimizerParamGroup(std::vector<Tensor> params);  // NOLINT: implicit, as LibTorch's
  OptimizerParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
  OptimizerParamGroup(const OptimizerParamGroup& other);
  OptimizerParamGroup& operator=(const OptimizerParamGroup& other);
  OptimizerParamGroup(OptimizerParamGroup&&) = default;
  OptimizerParamGroup& operator=(OptimizerParamGroup&&) = default;

  bool has_options() const { return options_ != nullptr; }
  // The group's options; once the group is in an optimizer, every field is resolved (its own
  // where set, the defaults' otherwise). Raises when the group has none.
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }

 private:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
};

// One parameter's state: named tensors in creation order ("step", "exp_avg", ...).
class OptimizerParamState {
 public:
  bool has(std::string_view name) const;
  // Raises naming the entry when it is absent.
  Tensor& at(std::string_view name);
  const Tensor& at(std::string_view name) const;
  void set(std::string_view name, Tensor value);
  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<std::string, Tensor>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Tensor>> entries_;
};

// What state_dict() returns, laid out for a safetensors checkpoint:
// - tensors: "state.<i>.<name>" — the state of the i-th parameter over all groups in order
//   (PyTorch's integer ids), e.g. "state.0.exp_avg", "state.0.step" (a 0-d float32 tensor for
//   Adam, AdamW and Adagrad, int64 for RMSprop, as PyTorch's float tensor / int);
// - scalars: "param_groups.<g>.<key>" for every option of group g (lr, momentum, betas.0, ...,
//   and keys schedulers added, such as initial_lr), and "param_groups.<g>.params.<k>" = i, the
//   id of the group's k-th parameter.
// The tensors are copies (a snapshot), where PyTorch returns references.
struct OptimizerStateDict {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<std::pair<std::string, double>> scalars;
};

using LossClosure = std::function<Tensor()>;

// --- the optimizer ------------------------------------------------------------------------------
class Optimizer {
 public:
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  // One update of every parameter that has a gradient. With a closure, calls it first (grad
  // mode on) and returns its loss; otherwise returns an undefined tensor.
  Tensor step(const LossClosure& closure = nullptr);
  // Sets every parameter's gradient to undefined (set_to_none, LibTorch's default), or fills
  // it with zeros in place.
  void zero_grad(bool set_to_none = true);

  // Adds a group: its parameters must be leaves of a floating point or complex dtype that no
  // group holds yet; options it doesn't set come from the defaults, and are validated.
  void add_param_group(const OptimizerParamGroup& group);
  std::vector<OptimizerParamGroup>& param_groups() { return param_groups_; }
  const std::vector<OptimizerParamGroup>& param_groups() const { return param_groups_; }
  const OptimizerOptions& defaults() const { return *defaults_; }
  // Every parameter, group by group.
  std::vector<Tensor> parameters() const;
  std::size_t size() const;  // the number of parameters

  // The state of `param`, or nullptr before its first update (and for a tensor this
  // optimizer doesn't hold).
  OptimizerParamState* state(const Tensor& param);
  const OptimizerParamState* state(const Tensor& param) const;

  OptimizerStateDict state_dict() const;
  // Validates everything before changing anything: the number of groups and of parameters
  // per group, each state entry's name and shape, every option key. State tensors are copied
  // and cast to their parameter's device and dtype (the step counter keeps its own), as
  // PyTorch's load_state_dict.
  void load_state_dict(const OptimizerStateDict& state_dict);

  const std::string& name() const { return name_; }

 protected:
  Optimizer(std::string name, std::unique_ptr<OptimizerOptions> defaults);
  // Derived constructors call this after validating their defaults (virtual calls don't
  // dispatch from the base constructor).
  void add_param_groups(const std::vector<OptimizerParamGroup>& groups);

  // PyTorch's option errors ("Invalid learning rate: -1"), for the defaults and each group.
  virtual void check_options(const OptimizerOptions& options) const = 0;
  // The state entries this optimizer keeps (what load_state_dict accepts).
  virtual std::vector<std::string> state_names() const = 0;
  // Creates state when a parameter joins (Adagrad); the others create it at the first update.
  virtual void init_state(const Tensor& param, const OptimizerOptions& options,
                          OptimizerParamState& state);
  // The update of one parameter whose gradient is defined (under no-grad).
  virtual void update(const Tensor& param, const Tensor& grad, const OptimizerOptions& options,
                      OptimizerParamState& state) = 0;

  OptimizerParamState& state_for(const Tensor& param);

 private:
  std::string name_;
  std::unique_ptr<OptimizerOptions> defaults_;
  std::vector<OptimizerParamGroup> param_groups_;
  std::unordered_map<const TensorImpl*, OptimizerParamState> state_;
};

namespace detail {
// The backend view of a parameter, gradient or state tensor as the fused kernels take it: a
// complex tensor becomes its view_as_real view (a trailing dim of 2, real dtype), as PyTorch's
// optimizers update complex parameters.
backends::View optim_view(const Tensor& t);
// A new 0-d CPU tensor for a step counter.
Tensor step_counter(DType dtype);
}  // namespace detail

}  // namespace reel::optim
