// Module: parameter registration and the walks over a module tree (parameters, train/eval,
// zero_grad, to).
#include "nn/module.hpp"

#include <ostream>

#include "autograd/grad_mode.hpp"

namespace reel::nn {

namespace {

// Points `param`'s TensorImpl at `replacement`'s data (storage, geometry, dtype). Swapping the
// fields rather than the handle keeps every Tensor a user already holds (conv->weight, an
// optimizer's list) pointing at the moved/cast parameter, as PyTorch's `param.data = ...`.
void rebind(const Tensor& param, const Tensor& replacement) {
  TensorImpl& p = param.impl();
  const TensorImpl& r = replacement.impl();
  std::uint32_t old_version = p.storage->version();
  p.storage = r.storage;
  p.shape = r.shape;
  p.strides = r.strides;
  p.offset = r.offset;
  p.dtype = r.dtype;
  // A graph that saved this parameter before the move must not silently read the new buffer:
  // push the new storage's version past the old one, so unpacking it reports the change.
  while (p.storage->version() <= old_version) p.storage->bump_version();
}

template <typename Convert>
void convert_parameters(const Module& m, Convert convert) {
  NoGradGuard no_grad;
  for (auto& [name, p] : m.named_parameters()) {
    Tensor moved = convert(p);
    if (moved.is_same(p)) continue;  // already there
    Tensor grad = p.grad();
    rebind(p, moved.contiguous());
    if (grad.defined()) p.mutable_grad_set(convert(grad).contiguous());
  }
}

}  // namespace

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters(recurse)) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, p] : parameters_) {
    if (p.defined()) out.emplace_back(name, p);  // an absent bias is registered undefined
  }
  if (recurse) {
    for (const auto& [child_name, child] : children_) {
      for (auto& [name, p] : child->named_parameters(true)) {
        out.emplace_back(child_name + "." + name, p);
      }
    }
  }
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

void Module::to(Device device) {
  convert_parameters(*this, [device](const Tensor& t) { return t.to(device); });
}

void Module::to(DType dtype) {
  check(is_inexact(dtype),
        "Module.to: nn.Module.to only accepts floating point or complex dtypes, but got desired "
        "dtype={}",
        dtype);
  convert_parameters(*this, [dtype](const Tensor& t) { return t.to(dtype); });
}

Tensor& Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  check(!name.empty(), "register_parameter: parameter name can't be empty string \"\"");
  check(name.find('.') == std::string::npos,
        "register_parameter: parameter name can't contain \".\" (got \"{}\")", name);
  for (const auto& [existing, p] : parameters_) {
    check(existing != name, "register_parameter: attribute '{}' already exists", name);
  }
  if (tensor.defined()) tensor.requires_grad_(requires_grad);
  parameters_.emplace_back(std::move(name), std::move(tensor));
  return parameters_.back().second;
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

}  // namespace reel::nn
