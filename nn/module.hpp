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
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::nn {

template <typename Impl>
class ModuleHolder;

// What state_dict() returns: (dotted name, tensor) pairs in PyTorch's state_dict order. A
// plain vector: the order is the contract, and a state dict is walked far more than searched.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
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

  // Every parameter and persistent buffer, in PyTorch's order (_save_to_state_dict): per
  // module its parameters, then its buffers, then each child's entries. The tensors are
  // detached: they share storage with the module's (writing into one writes into the module)
  // but never require grad. Shared tensors appear under each of their names, as in PyTorch.
  StateDict state_dict() const;

  // Sets training mode on this module and every descendant (Dropout, BatchNorm read it).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Sets every parameter's .grad() to undefined.
  void zero_grad();
  // Moves every parameter and buffer to `device`, in place: the Tensor handles users hold
  // (conv->weight, an optimizer's list) stay valid and see the moved data (Tensor::set_data).
  void to(Device device);
  // Casts the floating point and complex parameters and buffers to `dtype` (itself floating
  // point or complex), in place; integer and bool buffers (a step counter) keep their dtype,
  // as PyTorch's Module.to(dtype).
  void to(DType dtype);

  // One line like PyTorch's repr: "Conv1d(16, 33, kernel_size=(3,), stride=(2,))".
  virtual std::string repr() const = 0;

 protected:
  // The registrations check names as PyTorch does: not empty, no '.', not already the name of
  // a parameter, buffer or child of this module. The returned reference stays valid for the
  // module's lifetime (the lists are deques: registering more never moves an entry).
  Tensor& register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  // A non-persistent buffer is moved and cast with the module but left out of state_dict().
  Tensor& register_buffer(std::string name, Tensor tensor, bool persistent = true);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  template <typename Impl>
  ModuleHolder<Impl> register_module(std::string name, ModuleHolder<Impl> holder) {
    add_child(std::move(name), holder.ptr());
    return holder;
  }

 private:
  struct Buffer {
    Tensor tensor;
    bool persistent = true;
  };
  void add_child(std::string name, std::shared_ptr<Module> module);
  // Raises PyTorch's error when `name` can't be a new attribute of this module; `kind` is
  // "parameter", "buffer" or "module".
  void check_new_name(const char* op, const char* kind, const std::string& name) const;
  void append_state(const std::string& prefix, StateDict& out) const;

  std::deque<std::pair<std::string, Tensor>> parameters_;
  std::deque<std::pair<std::string, Buffer>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

template <typename Impl>
class ModuleHolder {
 public:
  template <typename... Args>
  explicit ModuleHolder(Args&&... args) : impl_(std::make_shared<Impl>(std::forward<Args>(args)...)) {}
  Impl* operator->() const { return impl_.get(); }
  Impl& operator*() const { return *impl_; }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  template <typename... Args>
  decltype(auto) operator()(Args&&... args) const {
    return impl_->forward(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<Impl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace reel::nn
