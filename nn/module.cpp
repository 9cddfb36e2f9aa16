// Module: registration (with PyTorch's name checks) and the walks over a module tree
// (parameters, buffers, state_dict, train/eval, zero_grad, to).
#include "nn/module.hpp"

#include <ostream>
#include <unordered_set>

#include "autograd/grad_mode.hpp"

namespace reel::nn {

namespace {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Moves/casts `t` in place with `convert` (and its grad with it). set_data keeps the handle,
// so every Tensor already pointing at it follows.
template <typename Convert>
void convert_in_place(Tensor t, Convert convert) {
  Tensor moved = convert(t);
  if (moved.is_same(t)) return;  // already there
  Tensor grad = t.grad();
  t.set_data(moved.contiguous());
  if (grad.defined()) t.mutable_grad_set(convert(grad).contiguous());
}

// The walks. PyTorch visits modules depth first (named_modules) and lists each module's own
// tensors; its memo drops a tensor seen before, so a shared weight is listed (and stepped by
// an optimizer) once.
template <typename Own>
void walk(const Module& m, const std::string& prefix, bool recurse, Own own,
          std::unordered_set<const TensorImpl*>& seen, NamedTensors& out) {
  own(m, [&](const std::string& name, const Tensor& t) {
    if (t.defined() && seen.insert(&t.impl()).second) out.emplace_back(join(prefix, name), t);
  });
  if (!recurse) return;
  for (const auto& [child_name, child] : m.named_children()) {
    walk(*child, join(prefix, child_name), true, own, seen, out);
  }
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  walk(*this, "", recurse,
       [](const Module& m, auto emit) {
         for (const auto& [name, p] : m.parameters_) emit(name, p);
       },
       seen, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  NamedTensors out;
  std::unordered_set<const TensorImpl*> seen;
  walk(*this, "", recurse,
       [](const Module& m, auto emit) {
         for (const auto& [name, b] : m.buffers_) emit(name, b.tensor);
       },
       seen, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_parameters(recurse)) out.push_back(p);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, b] : named_buffers(recurse)) out.push_back(b);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [name, child] : children_) out.push_back(child);
  return out;
}

StateDict Module::state_dict() const {
  StateDict out;
  append_state("", out);
  return out;
}

void Module::append_state(const std::string& prefix, StateDict& out) const {
  // torch.nn.Module._save_to_state_dict: own parameters, then own persistent buffers (None
  // skipped), detached; then state_dict recurses into each child with "name." as prefix.
  for (const auto& [name, p] : parameters_) {
    if (p.defined()) out.emplace_back(join(prefix, name), p.detach());
  }
  for (const auto& [name, b] : buffers_) {
    if (b.tensor.defined() && b.persistent) out.emplace_back(join(prefix, name), b.tensor.detach());
  }
  for (const auto& [child_name, child] : children_) child->append_state(join(prefix, child_name), out);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

void Module::to(Device device) {
  NoGradGuard no_grad;
  auto move = [device](const Tensor& t) { return t.to(device); };
  for (auto& p : parameters()) convert_in_place(p, move);
  for (auto& b : buffers()) convert_in_place(b, move);
}

void Module::to(DType dtype) {
  check(is_inexact(dtype),
        "Module.to: nn.Module.to only accepts floating point or complex dtypes, but got desired "
        "dtype={}",
        dtype);
  NoGradGuard no_grad;
  // PyTorch's convert: `t.to(dtype if t.is_floating_point() or t.is_complex() else None)`.
  auto cast = [dtype](const Tensor& t) { return is_inexact(t.dtype()) ? t.to(dtype) : t; };
  for (auto& p : parameters()) convert_in_place(p, cast);
  for (auto& b : buffers()) convert_in_place(b, cast);
}

void Module::check_new_name(const char* op, const char* kind, const std::string& name) const {
  // torch.nn.Module.register_parameter / register_buffer / add_module, in their words.
  check(!name.empty(), "{}: {} name can't be empty string \"\"", op, kind);
  check(name.find('.') == std::string::npos, "{}: {} name can't contain \".\", got: {}", op, kind,
        name);
  auto taken = [&name](const auto& list) {
    for (const auto& entry : list) {
      if (entry.first == name) return true;
    }
    return false;
  };
  check(!taken(parameters_) && !taken(buffers_) && !taken(children_),
        "{}: attribute '{}' already exists", op, name);
}

Tensor& Module::register_parameter(std::string name, Tensor tensor, bool requires_grad) {
  check_new_name("register_parameter", "parameter", name);
  if (tensor.defined()) tensor.requires_grad_(requires_grad);
  return parameters_.emplace_back(std::move(name), std::move(tensor)).second;
}

Tensor& Module::register_buffer(std::string name, Tensor tensor, bool persistent) {
  check_new_name("register_buffer", "buffer", name);
  return buffers_.emplace_back(std::move(name), Buffer{std::move(tensor), persistent}).second.tensor;
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name("register_module", "module", name);
  check(module != nullptr, "register_module: module '{}' is null", name);
  children_.emplace_back(std::move(name), std::move(module));
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

}  // namespace reel::nn
