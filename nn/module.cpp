// Module: registration (with PyTorch's name checks) and the walks over a module tree
// (parameters, buffers, state_dict, train/eval, zero_grad, to).
#include "nn/module.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <ostream>
#include <typeinfo>
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

// --- the module tree -----------------------------------------------------------------------

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules(
    const std::string& prefix, bool include_self) const {
  // Const as LibTorch's: the walk doesn't change the tree, the caller gets handles to it.
  auto* mutable_this = const_cast<Module*>(this);
  // A module on the stack has no owner to share: hand it out without one (aliasing an empty
  // shared_ptr), valid as long as the module itself.
  std::shared_ptr<Module> self = mutable_this->weak_from_this().lock();
  if (!self) self = std::shared_ptr<Module>(std::shared_ptr<Module>(), mutable_this);
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::vector<const Module*> seen;
  append_modules(prefix, self, out, seen);
  if (!include_self) out.erase(out.begin());
  return out;
}

void Module::append_modules(const std::string& prefix, const std::shared_ptr<Module>& self,
                            std::vector<std::pair<std::string, std::shared_ptr<Module>>>& out,
                            std::vector<const Module*>& seen) const {
  // PyTorch's named_modules: the memo drops a module met before, with its subtree.
  if (std::find(seen.begin(), seen.end(), this) != seen.end()) return;
  seen.push_back(this);
  out.emplace_back(prefix, self);
  for (const auto& [child_name, child] : children_) {
    child->append_modules(join(prefix, child_name), child, out, seen);
  }
}

std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) const {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& [name, m] : named_modules("", include_self)) out.push_back(std::move(m));
  return out;
}

namespace {
// PyTorch's children(): each distinct child once (a module registered under two names of the
// same parent is visited once, under its first).
template <typename Children, typename Visit>
void for_distinct_children(const Children& children, Visit visit) {
  std::vector<const Module*> seen;
  for (const auto& [name, child] : children) {
    if (std::find(seen.begin(), seen.end(), child.get()) != seen.end()) continue;
    seen.push_back(child.get());
    visit(name, *child);
  }
}
}  // namespace

void Module::apply(const std::function<void(Module&)>& fn) {
  // torch.nn.Module.apply: `for module in self.children(): module.apply(fn)`, then fn(self).
  for_distinct_children(children_, [&](const std::string&, Module& child) { child.apply(fn); });
  fn(*this);
}

void Module::apply(const std::function<void(const std::string&, Module&)>& fn,
                   const std::string& prefix) {
  for_distinct_children(children_, [&](const std::string& name, Module& child) {
    child.apply(fn, join(prefix, name));
  });
  fn(prefix, *this);
}

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // drop namespaces (and any template arguments' qualification stays as it is)
  auto angle = full.find('<');
  auto colon = full.rfind("::", angle);
  if (colon != std::string::npos) full = full.substr(colon + 2);
  if (full.size() > 4 && full.compare(full.size() - 4, 4, "Impl") == 0) full.resize(full.size() - 4);
  return full;
}

std::string Module::repr() const { return name() + "()"; }

namespace {
// PyTorch's _addindent: every line but the first indented by `spaces`.
std::string add_indent(const std::string& s, int spaces) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out.append(spaces, ' ');
  }
  return out;
}
}  // namespace

std::string Module::pretty() const {
  std::string own = repr();
  if (children_.empty()) return own;
  // torch.nn.Module.__repr__: Name( + extra_repr lines + "(child): child repr" lines + ).
  // repr() is "Name(extra)"; split it back into the name and the extra_repr.
  std::string name_part = own, extra;
  auto open = own.find('(');
  if (open != std::string::npos && !own.empty() && own.back() == ')') {
    name_part = own.substr(0, open);
    extra = own.substr(open + 1, own.size() - open - 2);
  }
  std::string s = name_part + "(";
  if (!extra.empty()) s += "\n  " + add_indent(extra, 2);
  for (const auto& [child_name, child] : children_) {
    s += "\n  (" + child_name + "): " + add_indent(child->pretty(), 2);
  }
  return s + "\n)";
}

// --- load_state_dict ------------------------------------------------------------------------

struct Module::PendingCopy {
  Tensor target;
  Tensor source;  // already cast and moved to target's dtype and device
};

namespace {
std::string quoted_list(const std::vector<std::string>& keys) {
  std::string s;
  for (const auto& k : keys) s += (s.empty() ? "\"" : ", \"") + k + "\"";
  return s;
}
}  // namespace

void Module::load_into(StateDict state_dict, const std::string& prefix, LoadStateDictResult& keys,
                       std::vector<std::string>& errors, std::vector<PendingCopy>& copies) {
  // torch.nn.Module._load_from_state_dict (1.13), with strict=True as load_state_dict passes
  // it: pre-hooks, then this module's parameters and persistent buffers, then the keys under
  // this prefix naming nothing here.
  for (auto& hook : load_state_dict_pre_hooks_) hook.fn(state_dict, prefix);
  auto find = [&state_dict](const std::string& key) -> const Tensor* {
    for (const auto& [k, t] : state_dict) {
      if (k == key) return &t;
    }
    return nullptr;
  };
  std::vector<std::pair<std::string, Tensor>> local;
  for (const auto& [n, p] : parameters_) {
    if (p.defined()) local.emplace_back(n, p);
  }
  for (const auto& [n, b] : buffers_) {
    if (b.tensor.defined() && b.persistent) local.emplace_back(n, b.tensor);
  }
  for (const auto& [n, param] : local) {
    std::string key = prefix + n;
    const Tensor* input = find(key);
    if (input == nullptr) {
      keys.missing_keys.push_back(key);
      continue;
    }
    if (!input->defined()) {
      errors.push_back(fmt::format(
          "While copying the parameter named \"{}\", expected a defined tensor from checkpoint "
          "but received an undefined one",
          key));
      continue;
    }
    Tensor source = *input;
    // Backward compatibility (PyTorch's): a 1-element 1-D entry loads into a 0-dim tensor.
    if (param.dim() == 0 && source.dim() == 1) source = source.select(0, 0);
    if (source.sizes() != param.sizes()) {
      errors.push_back(fmt::format(
          "size mismatch for {}: copying a param with shape {} from checkpoint, the shape in "
          "current model is {}.",
          key, source.sizes(), param.sizes()));
      continue;
    }
    try {
      // Cast now, write later: every conversion that can fail happens before any write.
      copies.push_back({param, source.detach().to(param.device(), param.dtype())});
    } catch (const Error& e) {
      errors.push_back(fmt::format(
          "While copying the parameter named \"{}\", whose dimensions in the model are {} and "
          "whose dimensions in the checkpoint are {}, an exception occurred : {}.",
          key, param.sizes(), source.sizes(), e.what()));
    }
  }
  for (const auto& [key, t] : state_dict) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    std::string input_name = key.substr(prefix.size());
    input_name = input_name.substr(0, input_name.find('.'));
    bool is_child = std::any_of(children_.begin(), children_.end(),
                                [&](const auto& c) { return c.first == input_name; });
    bool is_local = std::any_of(local.begin(), local.end(),
                                [&](const auto& l) { return l.first == input_name; });
    if (!is_child && !is_local) keys.unexpected_keys.push_back(key);
  }
  for (const auto& [child_name, child] : children_) {
    std::string child_prefix = prefix + child_name + ".";
    StateDict child_dict;
    for (const auto& entry : state_dict) {
      if (entry.first.compare(0, child_prefix.size(), child_prefix) == 0) child_dict.push_back(entry);
    }
    child->load_into(std::move(child_dict), child_prefix, keys, errors, copies);
  }
}

LoadStateDictResult Module::load_state_dict(const StateDict& state_dict, bool strict) {
  LoadStateDictResult keys;
  std::vector<std::string> errors;
  std::vector<PendingCopy> copies;
  {
    NoGradGuard no_grad;
    load_into(state_dict, "", keys, errors, copies);
  }
  if (strict) {
    if (!keys.unexpected_keys.empty()) {
      errors.insert(errors.begin(), fmt::format("Unexpected key(s) in state_dict: {}. ",
                                                quoted_list(keys.unexpected_keys)));
    }
    if (!keys.missing_keys.empty()) {
      errors.insert(errors.begin(), fmt::format("Missing key(s) in state_dict: {}. ",
                                                quoted_list(keys.missing_keys)));
    }
  }
  if (!errors.empty()) {
    std::string msg = "Error(s) in loading state_dict for " + name() + ":";
    for (const auto& e : errors) msg += "\n\t" + e;
    fail("{}", msg);
  }
  NoGradGuard no_grad;
  for (auto& c : copies) c.target.copy_(c.source);
  return keys;
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

void Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
  check(module != nullptr, "replace_module: module '{}' is null", name);
  for (auto& [n, child] : children_) {
    if (n == name) {
      child = std::move(module);
      return;
    }
  }
  fail("replace_module: no child module named '{}'", name);
}

void Module::unregister_module(const std::string& name) {
  auto it = std::find_if(children_.begin(), children_.end(),
                         [&](const auto& c) { return c.first == name; });
  check(it != children_.end(), "unregister_module: no child module named '{}'", name);
  children_.erase(it);
}

Tensor Module::unregister_parameter(const std::string& name) {
  for (auto it = parameters_.begin(); it != parameters_.end(); ++it) {
    if (it->first == name) {
      Tensor t = std::move(it->second);
      parameters_.erase(it);
      return t;
    }
  }
  fail("unregister_parameter: no parameter named '{}'", name);
}

bool Module::has_parameter(const std::string& name) const {
  return std::any_of(parameters_.begin(), parameters_.end(),
                     [&](const auto& p) { return p.first == name; });
}

std::size_t Module::register_forward_pre_hook(ForwardPreHook hook, std::string tag) {
  check(static_cast<bool>(hook), "register_forward_pre_hook: the hook is empty");
  forward_pre_hooks_.push_back({next_hook_id_, std::move(tag), std::move(hook)});
  return next_hook_id_++;
}

void Module::remove_forward_pre_hook(std::size_t id) {
  std::erase_if(forward_pre_hooks_, [id](const auto& h) { return h.id == id; });
}

void Module::remove_forward_pre_hook(const std::string& tag) {
  std::erase_if(forward_pre_hooks_, [&tag](const auto& h) { return h.tag == tag; });
}

bool Module::has_forward_pre_hook(const std::string& tag) const {
  return std::any_of(forward_pre_hooks_.begin(), forward_pre_hooks_.end(),
                     [&](const auto& h) { return h.tag == tag; });
}

void Module::run_forward_pre_hooks() {
  for (auto& h : forward_pre_hooks_) h.fn(*this);
}

std::size_t Module::register_load_state_dict_pre_hook(LoadStateDictPreHook hook, std::string tag) {
  check(static_cast<bool>(hook), "register_load_state_dict_pre_hook: the hook is empty");
  load_state_dict_pre_hooks_.push_back({next_hook_id_, std::move(tag), std::move(hook)});
  return next_hook_id_++;
}

void Module::remove_load_state_dict_pre_hook(std::size_t id) {
  std::erase_if(load_state_dict_pre_hooks_, [id](const auto& h) { return h.id == id; });
}

void Module::remove_load_state_dict_pre_hook(const std::string& tag) {
  std::erase_if(load_state_dict_pre_hooks_, [&tag](const auto& h) { return h.tag == tag; });
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name("register_module", "module", name);
  check(module != nullptr, "register_module: module '{}' is null", name);
  children_.emplace_back(std::move(name), std::move(module));
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.pretty(); }

}  // namespace reel::nn
