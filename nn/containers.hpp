#pragma once
// The containers, as torch.nn's: Sequential, ModuleList, ModuleDict. Each is a Module whose
// children are the modules it holds, so their names, state_dict keys ("0.weight",
// "blocks.1.bias", "key.weight") and printouts are PyTorch's:
//
//   nn::Sequential net(nn::Conv1d(nn::Conv1dOptions(2, 4, 3)), nn::Conv1d(...));
//   Tensor y = net(x);                  // each module's forward, in order
//   net->ptr<nn::Conv1dImpl>(0)->weight;
//
// Sequential chains modules whose Impl has `Tensor forward(const Tensor&)` (found at compile
// time); it may hold others (a ModuleList), as PyTorch's, and raises if forward reaches one.
// ModuleList and ModuleDict take any module.
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace reel::nn {

namespace detail {
// A module Sequential can chain: its forward takes one tensor and gives one.
template <typename Impl>
concept TensorToTensor = std::derived_from<Impl, Module> && requires(Impl& m, const Tensor& x) {
  { m.forward(x) } -> std::convertible_to<Tensor>;
};
// i in [-size, size), negative counting from the end (Python's indexing); the wrapped index.
std::size_t wrap_index(std::int64_t i, std::size_t size, const char* op);
// The typed access both lists offer: a checked dynamic_pointer_cast.
template <typename T>
std::shared_ptr<T> cast_module(const std::shared_ptr<Module>& m, const char* op,
                               const std::string& where) {
  auto typed = std::dynamic_pointer_cast<T>(m);
  check(typed != nullptr, "{}: the module at {} is a {}, not the requested type", op, where,
        m->name());
  return typed;
}
}  // namespace detail

// torch.nn.Sequential: forward(x) runs each module on the previous one's output, in order
// (an empty Sequential returns x). Children are named "0", "1", ... unless named at push_back.
class SequentialImpl : public Module {
 public:
  SequentialImpl() = default;
  template <typename... Modules>
    requires(sizeof...(Modules) > 0)
  explicit SequentialImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  template <typename Impl>
  void push_back(const ModuleHolder<Impl>& module) {
    push_back(std::to_string(size()), module.ptr());
  }
  template <typename Impl>
  void push_back(std::shared_ptr<Impl> module) {
    push_back(std::to_string(size()), std::move(module));
  }
  template <typename Impl>
  void push_back(std::string name, const ModuleHolder<Impl>& module) {
    push_back(std::move(name), module.ptr());
  }
  template <typename Impl>
  void push_back(std::string name, std::shared_ptr<Impl> module) {
    static_assert(std::derived_from<Impl, Module>, "Sequential: expected a module");
    register_module(name, module);
    if constexpr (detail::TensorToTensor<Impl>) {
      // The hooks run as on a call through the holder (PyTorch's Sequential calls module(x)).
      forwards_.push_back([m = std::move(module)](const Tensor& x) -> Tensor {
        m->run_forward_pre_hooks();
        return m->forward(x);
      });
    } else {
      // Holding it is fine (PyTorch's Sequential can hold a ModuleList); running it is not.
      forwards_.push_back([name, kind = module->name()](const Tensor&) -> Tensor {
        fail("Sequential: the module '{}' ({}) has no forward(const Tensor&) to chain", name, kind);
      });
    }
  }

  Tensor forward(const Tensor& input);
  std::size_t size() const { return forwards_.size(); }
  bool is_empty() const { return forwards_.empty(); }
  // The i-th module (negative i counts from the end); ptr<T> casts it to T (an Impl type),
  // raising reel::Error when it is something else.
  std::shared_ptr<Module> operator[](std::int64_t i) const;
  std::shared_ptr<Module> ptr(std::int64_t i) const { return (*this)[i]; }
  template <typename T>
  std::shared_ptr<T> ptr(std::int64_t i) const {
    return detail::cast_module<T>((*this)[i], "Sequential", "index " + std::to_string(i));
  }

 private:
  std::vector<std::function<Tensor(const Tensor&)>> forwards_;
};

class Sequential : public ModuleHolder<SequentialImpl> {
 public:
  using ModuleHolder<SequentialImpl>::ModuleHolder;
};

// torch.nn.ModuleList: an indexable list of modules, registered as children "0", "1", ...
// It has no forward (PyTorch's raises); iterate over it.
class ModuleListImpl : public Module {
 public:
  ModuleListImpl() = default;
  template <typename... Modules>
    requires(sizeof...(Modules) > 0)
  explicit ModuleListImpl(Modules&&... modules) {
    (push_back(std::forward<Modules>(modules)), ...);
  }

  template <typename Impl>
  void push_back(const ModuleHolder<Impl>& module) {
    push_back(std::shared_ptr<Module>(module.ptr()));
  }
  void push_back(std::shared_ptr<Module> module);
  // Appends every module of `other`, as PyTorch's extend (the modules are shared, not copied).
  void extend(const ModuleListImpl& other);
  void extend(const std::vector<std::shared_ptr<Module>>& modules);

  std::size_t size() const { return modules_.size(); }
  bool is_empty() const { return modules_.empty(); }
  std::shared_ptr<Module> operator[](std::int64_t i) const;
  std::shared_ptr<Module> ptr(std::int64_t i) const { return (*this)[i]; }
  template <typename T>
  std::shared_ptr<T> ptr(std::int64_t i) const {
    return detail::cast_module<T>((*this)[i], "ModuleList", "index " + std::to_string(i));
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

class ModuleList : public ModuleHolder<ModuleListImpl> {
 public:
  using ModuleHolder<ModuleListImpl>::ModuleHolder;
};

// torch.nn.ModuleDict: modules by key, in insertion order; each key is the child's name (so it
// follows the module name rules: not empty, no '.'). Setting an existing key replaces the
// module in its place, as Python's dict.
class ModuleDictImpl : public Module {
 public:
  ModuleDictImpl() = default;
  explicit ModuleDictImpl(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& items) {
    update(items);
  }

  template <typename Impl>
  void insert(const std::string& key, const ModuleHolder<Impl>& module) {
    insert(key, std::shared_ptr<Module>(module.ptr()));
  }
  void insert(const std::string& key, std::shared_ptr<Module> module);
  void update(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& items);
  // Removes `key` and returns its module (PyTorch's pop); raises when absent.
  std::shared_ptr<Module> pop(const std::string& key);
  void clear();

  std::size_t size() const { return named_children().size(); }
  bool is_empty() const { return named_children().empty(); }
  bool contains(const std::string& key) const;
  // Raises reel::Error naming the key when it is absent (Python's KeyError).
  std::shared_ptr<Module> operator[](const std::string& key) const;
  template <typename T>
  std::shared_ptr<T> ptr(const std::string& key) const {
    return detail::cast_module<T>((*this)[key], "ModuleDict", "key '" + key + "'");
  }
  std::vector<std::string> keys() const;
  std::vector<std::shared_ptr<Module>> values() const { return children(); }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& items() const {
    return named_children();
  }
};

class ModuleDict : public ModuleHolder<ModuleDictImpl> {
 public:
  using ModuleHolder<ModuleDictImpl>::ModuleHolder;
};

}  // namespace reel::nn
