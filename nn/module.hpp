#pragma once
// Module: the base of every layer, LibTorch style. A module owns named parameters (tensors that
// require grad), named buffers (state that is not trained: running statistics, counters), and
// named child modules, each in registration order.
//
// Names are PyTorch's, so state dicts interchange: a child's entries are prefixed with its name
// and a dot ("0.weight", "blocks.2.conv1.bias", "bn.running_mean"). A registered undefined
// tensor (an absent bias, PyTorch's `None` buffer) keeps its name but is skipped by every walk.
//
// ModuleHolder<Impl> is LibTorch's handle: `nn::Conv1d conv(opts); conv(x); conv->weight`.
#include <cstddef>
#include <deque>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::nn {

template <typename Impl>
class ModuleHolder;

// What state_dict() returns: (dotted name, tensor) pairs in PyTorch's state_dict order. A
// plain vector: the order is the contract, and a state dict is walked far more than searched.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load_state_dict returns (PyTorch's _IncompatibleKeys): the model's entries
// the state dict lacked, and the state dict's entries the model has no place for.
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

// Modules are usually held by shared_ptr (ModuleHolder, register_module); enable_shared_from_this
// lets modules(), named_modules() and children hand the module itself out as one.
class Module : public std::enable_shared_from_this<Module> {
 public:
  using ForwardPreHook = std::function<void(Module&)>;
  // A load_state_dict pre-hook sees the (copied) state dict and this module's prefix ("" or
  // "0.conv."), before this module takes its entries; it may rename or add entries (PyTorch's
  // _register_load_state_dict_pre_hook, e.g. for legacy names).
  using LoadStateDictPreHook = std::function<void(StateDict& state_dict, const std::string& prefix)>;

  virtual ~Module() = default;

  // Parameters of this module, then (recurse) of each child in turn, depth first, in
  // registration order (PyTorch's named_parameters). A tensor registered in two places is
  // listed once, under its first name, as PyTorch's remove_duplicate=True.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  // The same walk over buffers.
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  // Direct children, in registration order.
  std::vector<std::shared_ptr<Module>> children() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  // This module (include_self) and every descendant, depth first, pre-order, each once (a
  // module registered twice is listed under its first name), as PyTorch's named_modules:
  // names "" (self, or `prefix`), "0", "block.conv1". For a module not owned by a shared_ptr
  // (one on the stack), the entry for itself is a non-owning shared_ptr.
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules(
      const std::string& prefix = "", bool include_self = true) const;
  // Calls fn on every descendant and then on this module, children first (PyTorch's
  // Module.apply order; LibTorch calls self first). The named form gets named_modules' names.
  void apply(const std::function<void(Module&)>& fn);
  void apply(const std::function<void(const std::string&, Module&)>& fn,
             const std::string& prefix = "");

  // Every parameter and persistent buffer, in PyTorch's order (_save_to_state_dict): per
  // module its parameters, then its buffers, then each child's entries. The tensors are
  // detached: they share storage with the module's (writing into one writes into the module)
  // but never require grad. Shared tensors appear under each of their names, as in PyTorch.
  StateDict state_dict() const;
  // Copies state_dict's tensors into this module's parameters and persistent buffers, in
  // place (no grad; the Tensor handles stay; values are cast to each tensor's dtype and
  // device as copy_ does). Errors as PyTorch's, all listed in one reel::Error:
  //   Error(s) in loading state_dict for Sequential:
  //   \tMissing key(s) in state_dict: "0.weight", "0.bias". (strict only)
  //   \tUnexpected key(s) in state_dict: "x". (strict only)
  //   \tsize mismatch for 0.weight: copying a param with shape [3, 2] from checkpoint, the shape
  //   in current model is [4, 2]. (always)
  // Atomic: when it raises, nothing was written. Non-strict returns what didn't match.
  LoadStateDictResult load_state_dict(const StateDict& state_dict, bool strict = true);

  // Sets training mode on this module and every descendant (Dropout, BatchNorm read it).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Sets every parameter's .grad() to undefined (PyTorch's zero_grad(set_to_none=True)),
  // descendants' included.
  void zero_grad();
  // Moves every parameter and buffer to `device`, in place: the Tensor handles users hold
  // (conv->weight, an optimizer's list) stay valid and see the moved data (Tensor::set_data).
  void to(Device device);
  // Casts the floating point and complex parameters and buffers to `dtype` (itself floating
  // point or complex), in place; integer and bool buffers (a step counter) keep their dtype,
  // as PyTorch's Module.to(dtype).
  void to(DType dtype);

  // The module's own line, PyTorch's `Name(extra_repr)`: "Conv1d(16, 33, kernel_size=(3,),
  // stride=(2,))", "ReLU()". Layers override it; the default is "Name()" with name() below.
  // Children are not part of it: pretty() and operator<< print the tree.
  virtual std::string repr() const;
  // The class name, demangled, without namespace and without a trailing "Impl" (LibTorch's
  // name(): "Conv1d" for Conv1dImpl). Used by the default repr and in error messages.
  std::string name() const;
  // PyTorch's nested repr: the module's repr, and when it has children each child's
  // pretty() on its own line as "(name): ...", indented by 2 spaces per level:
  //   Sequential(
  //     (0): Conv1d(2, 4, kernel_size=(3,), stride=(1,))
  //     (1): ReLU()
  //   )
  std::string pretty() const;

  // Registration is public, as in LibTorch. The registrations check names as PyTorch does:
  // not empty, no '.', not already the name of a parameter, buffer or child of this module.
  // The returned reference stays valid while nothing is removed from this module's list (the
  // lists are deques: registering more never moves an entry; unregister_parameter may).
  Tensor& register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  // A non-persistent buffer is moved and cast with the module but left out of state_dict().
  Tensor& register_buffer(std::string name, Tensor tensor, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  // Returns the module as a shared_ptr, as LibTorch (a holder member takes it: `conv =
  // register_module("conv", Conv1d(...));`).
  template <typename Impl>
  std::shared_ptr<Impl> register_module(std::string name, const ModuleHolder<Impl>& holder) {
    add_child(std::move(name), holder.ptr());
    return holder.ptr();
  }
  // Replaces the child `name` (which must exist) in its place, as LibTorch's replace_module.
  void replace_module(const std::string& name, std::shared_ptr<Module> module);
  // Removes the child `name` (which must exist), as LibTorch's unregister_module.
  void unregister_module(const std::string& name);
  // Removes the parameter `name` (PyTorch's `del module._parameters[name]`) and returns it.
  Tensor unregister_parameter(const std::string& name);
  bool has_parameter(const std::string& name) const;

  // Forward pre-hooks: run, in registration order, by ModuleHolder::operator() (and the
  // containers' forward) before the module's forward, as PyTorch's register_forward_pre_hook.
  // A direct impl->forward(x) skips them, as PyTorch's module.forward(x) does. A hook sees the
  // module only (PyTorch's may also rewrite the input). `tag` names the hook for
  // has_forward_pre_hook (weight_norm tags its own). The returned id removes it.
  std::size_t register_forward_pre_hook(ForwardPreHook hook, std::string tag = "");
  void remove_forward_pre_hook(std::size_t id);
  void remove_forward_pre_hook(const std::string& tag);  // every hook with that tag
  bool has_forward_pre_hook(const std::string& tag) const;
  void run_forward_pre_hooks();
  std::size_t register_load_state_dict_pre_hook(LoadStateDictPreHook hook, std::string tag = "");
  void remove_load_state_dict_pre_hook(std::size_t id);
  void remove_load_state_dict_pre_hook(const std::string& tag);

 private:
  struct Buffer {
    Tensor tensor;
    bool persistent = true;
  };
  template <typename Fn>
  struct Hook {
    std::size_t id;
    std::string tag;
    Fn fn;
  };
  struct PendingCopy;
  void add_child(std::string name, std::shared_ptr<Module> module);
  // Raises PyTorch's error when `name` can't be a new attribute of this module; `kind` is
  // "parameter", "buffer" or "module".
  void check_new_name(const char* op, const char* kind, const std::string& name) const;
  void append_state(const std::string& prefix, StateDict& out) const;
  void append_modules(const std::string& prefix, const std::shared_ptr<Module>& self,
                      std::vector<std::pair<std::string, std::shared_ptr<Module>>>& out,
                      std::vector<const Module*>& seen) const;
  void load_into(StateDict state_dict, const std::string& prefix, LoadStateDictResult& keys,
                 std::vector<std::string>& errors, std::vector<PendingCopy>& copies);

  std::deque<std::pair<std::string, Tensor>> parameters_;
  std::deque<std::pair<std::string, Buffer>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<Hook<ForwardPreHook>> forward_pre_hooks_;
  std::vector<Hook<LoadStateDictPreHook>> load_state_dict_pre_hooks_;
  std::size_t next_hook_id_ = 0;
  bool training_ = true;
};

template <typename Impl>
class ModuleHolder {
 public:
  // ModuleHolder(args...) makes a new Impl(args...); the constraint keeps copies of a holder
  // (and a shared_ptr<Impl>) out of it.
  template <typename... Args>
    requires(!(sizeof...(Args) == 1 &&
               (std::is_base_of_v<ModuleHolder, std::remove_cvref_t<Args>> && ...)) &&
             !(sizeof...(Args) == 1 &&
               (std::is_convertible_v<std::remove_cvref_t<Args>, std::shared_ptr<Impl>> && ...)))
  explicit ModuleHolder(Args&&... args) : impl_(std::make_shared<Impl>(std::forward<Args>(args)...)) {}
  // Wraps an existing module (LibTorch's ModuleHolder(std::shared_ptr<Contained>)); nullptr
  // gives an empty holder, to be assigned later.
  ModuleHolder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}  // NOLINT: implicit
  ModuleHolder(std::nullptr_t) : impl_(nullptr) {}                      // NOLINT: implicit
  Impl* operator->() const { return impl_.get(); }
  Impl& operator*() const { return *impl_; }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  Impl* get() const { return impl_.get(); }
  bool is_empty() const { return impl_ == nullptr; }
  // Runs the module's forward pre-hooks, then its forward (PyTorch's __call__).
  template <typename... Args>
  decltype(auto) operator()(Args&&... args) const {
    impl_->run_forward_pre_hooks();
    return impl_->forward(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<Impl> impl_;
};

// Prints m.pretty(): PyTorch's nested repr (also for a holder: `std::cout << conv`).
std::ostream& operator<<(std::ostream& os, const Module& m);
template <typename Impl>
std::ostream& operator<<(std::ostream& os, const ModuleHolder<Impl>& holder) {
  return os << static_cast<const Module&>(*holder);
}

}  // namespace reel::nn
