// The containers: Sequential's chain, and the bookkeeping of ModuleList and ModuleDict (their
// modules are their children; the lists here only keep them in order for indexing).
#include "nn/containers.hpp"

#include <algorithm>

namespace reel::nn {

std::size_t detail::wrap_index(std::int64_t i, std::size_t size, const char* op) {
  const auto n = static_cast<std::int64_t>(size);
  check(i >= -n && i < n, "{}: index {} is out of range for a container of size {}", op, i, n);
  return static_cast<std::size_t>(i < 0 ? i + n : i);
}

Tensor SequentialImpl::forward(const Tensor& input) {
  Tensor x = input;
  for (auto& f : forwards_) x = f(x);
  return x;
}

std::shared_ptr<Module> SequentialImpl::operator[](std::int64_t i) const {
  return named_children()[detail::wrap_index(i, size(), "Sequential")].second;
}

void ModuleListImpl::push_back(std::shared_ptr<Module> module) {
  check(module != nullptr, "ModuleList: push_back got a null module");
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

void ModuleListImpl::extend(const ModuleListImpl& other) {
  // a copy first: extending a list by itself must not walk a growing list
  std::vector<std::shared_ptr<Module>> modules(other.begin(), other.end());
  extend(modules);
}

void ModuleListImpl::extend(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) push_back(m);
}

std::shared_ptr<Module> ModuleListImpl::operator[](std::int64_t i) const {
  return modules_[detail::wrap_index(i, modules_.size(), "ModuleList")];
}

void ModuleDictImpl::insert(const std::string& key, std::shared_ptr<Module> module) {
  check(module != nullptr, "ModuleDict: the module for key '{}' is null", key);
  if (contains(key)) {
    replace_module(key, std::move(module));
  } else {
    register_module(key, std::move(module));
  }
}

void ModuleDictImpl::update(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& items) {
  for (const auto& [key, module] : items) insert(key, module);
}

bool ModuleDictImpl::contains(const std::string& key) const {
  const auto& c = named_children();
  return std::any_of(c.begin(), c.end(), [&](const auto& entry) { return entry.first == key; });
}

std::shared_ptr<Module> ModuleDictImpl::operator[](const std::string& key) const {
  for (const auto& [k, m] : named_children()) {
    if (k == key) return m;
  }
  fail("ModuleDict: no module with key '{}'", key);
}

std::shared_ptr<Module> ModuleDictImpl::pop(const std::string& key) {
  std::shared_ptr<Module> m = (*this)[key];
  unregister_module(key);
  return m;
}

void ModuleDictImpl::clear() {
  for (const auto& key : keys()) unregister_module(key);
}

std::vector<std::string> ModuleDictImpl::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, m] : named_children()) out.push_back(k);
  return out;
}

}  // namespace reel::nn
