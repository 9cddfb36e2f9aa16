// u-µP tags: stored by the owning module, collected by a walk over the module tree.
#include "nn/unit_scaling/parameter.hpp"

#include <unordered_map>

namespace reel::nn::unit_scaling {

std::string mup_type_name(MupType t) {
  switch (t) {
    case MupType::Weight: return "weight";
    case MupType::Bias: return "bias";
    case MupType::Norm: return "norm";
    case MupType::Output: return "output";
  }
  fail("unit_scaling: unknown mup_type {}", static_cast<int>(t));
}

MupType mup_type_from_string(std::string_view name) {
  for (MupType t : {MupType::Weight, MupType::Bias, MupType::Norm, MupType::Output}) {
    if (name == mup_type_name(t)) return t;
  }
  fail("unit_scaling: '{}' is not a valid mup_type (expected one of weight, bias, norm, output)",
       name);
}

const MupTag* MupTagged::mup_tag(std::string_view name) const {
  for (const auto& [n, tag] : tags_) {
    if (n == name) return &tag;
  }
  return nullptr;
}

MupTag* MupTagged::mup_tag(std::string_view name) {
  for (auto& [n, tag] : tags_) {
    if (n == name) return &tag;
  }
  return nullptr;
}

void MupTagged::set_mup_tag(std::string name, MupTag tag) {
  if (MupTag* t = mup_tag(name)) {
    *t = tag;
    return;
  }
  tags_.emplace_back(std::move(name), tag);
}

namespace {

// For each tagged parameter tensor of the tree, its tag (the module's stored tag, so that
// set_mup_scaling_depth can write through the pointer).
std::unordered_map<const TensorImpl*, MupTag*> tag_map(const Module& module) {
  std::unordered_map<const TensorImpl*, MupTag*> tags;
  for (const auto& [prefix, m] : module.named_modules()) {
    auto* tagged = dynamic_cast<MupTagged*>(m.get());
    if (tagged == nullptr) continue;
    for (const auto& [name, p] : m->named_parameters(/*recurse=*/false)) {
      if (MupTag* tag = tagged->mup_tag(name)) tags.emplace(p.impl_ptr().get(), tag);
    }
  }
  return tags;
}

}  // namespace

std::vector<TaggedParameter> tagged_parameters(const Module& module) {
  const auto tags = tag_map(module);
  std::vector<TaggedParameter> out;
  for (auto& [name, p] : module.named_parameters()) {
    auto it = tags.find(p.impl_ptr().get());
    std::optional<MupTag> tag;
    if (it != tags.end()) tag = *it->second;
    out.push_back({name, p, tag});
  }
  return out;
}

void set_mup_scaling_depth(Module& module, std::int64_t depth) {
  check(depth >= 1, "set_mup_scaling_depth: depth must be positive, got {}", depth);
  const auto tags = tag_map(module);
  const auto params = module.named_parameters();
  // Check every parameter first, so that a failure changes nothing.
  for (const auto& [name, p] : params) {
    auto it = tags.find(p.impl_ptr().get());
    check(it != tags.end(),
          "set_mup_scaling_depth: parameter {} (shape {}) is not a unit-scaling parameter (no "
          "mup_type); is it from a regular module?",
          name, p.sizes());
    check(!it->second->scaling_depth.has_value(),
          "set_mup_scaling_depth: parameter {} already has mup_scaling_depth={}", name,
          *it->second->scaling_depth);
  }
  for (const auto& [name, p] : params) tags.at(p.impl_ptr().get())->scaling_depth = depth;
}

}  // namespace reel::nn::unit_scaling
