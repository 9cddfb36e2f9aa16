#pragma once
// Module: the base of every layer, LibTorch style. A module owns named parameters (tensors that
// require grad), buffers, and named child modules; parameters() walks them all.
//
// ModuleHolder<Impl> is LibTorch's handle: `nn::Conv1d conv(opts); conv(x); conv->weight`.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::nn {

class Module {
 public:
  virtual ~Module() = default;

  // Parameters of this module and (recurse) its children, in registration order.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Sets every parameter's .grad() to undefined.
  void zero_grad();
  // Moves/casts every parameter in place (the Tensor handles stay valid).
  void to(Device device);
  void to(DType dtype);

  // One line like PyTorch's repr: "Conv1d(16, 33, kernel_size=(3,), stride=(2,))".
  virtual std::string repr() const = 0;

 protected:
  Tensor& register_parameter(std::string name, Tensor tensor, bool requires_grad = true);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  std::vector<std::pair<std::string, Tensor>> parameters_;
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
