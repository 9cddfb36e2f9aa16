#pragma once
// u-µP parameter tags (Graphcore's unit_scaling.Parameter): which rule an optimizer applies to a
// parameter's learning rate. PyTorch's original stores the tag on the Parameter object itself
// (`param.mup_type`); a reel Tensor is a plain handle, so the tag lives with the module that
// owns the parameter instead:
//
// - a unit-scaled module derives from MupTagged (besides Module) and tags its own parameters by
//   name in its constructor ("weight" → its weight_mup_type, "bias" → bias);
// - tagged_parameters(model) walks a module tree and returns every parameter with its dotted
//   name and its tag — none for a parameter of a plain module (nn::Linear, nn::Conv1d...);
// - the unit-scaling optimizers (nn/unit_scaling/optim.hpp) read those triples.
//
// Your own module can tag its parameters the same way: derive from MupTagged too and call
// set_mup_tag("name", {MupType::Weight}).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace reel::nn::unit_scaling {

// weight: a hidden weight (lr ∝ fan_in^-1/2 under Adam); bias and norm: vectors added or
// multiplied elementwise; output: the readout weight (the last layer).
enum class MupType { Weight, Bias, Norm, Output };

// "weight", "bias", "norm", "output"; and back (reel::Error naming the valid ones).
std::string mup_type_name(MupType t);
MupType mup_type_from_string(std::string_view name);

struct MupTag {
  MupType type = MupType::Weight;
  // The depth of the residual stack the parameter belongs to (the original's
  // mup_scaling_depth, set by DepthSequential): learning rates are multiplied by depth^-1/2.
  std::optional<std::int64_t> scaling_depth;
};

// The mixin a module derives from (with Module) to tag its own parameters.
class MupTagged {
 public:
  virtual ~MupTagged() = default;
  // The tag of this module's own parameter `name`, or nullptr when it has none.
  const MupTag* mup_tag(std::string_view name) const;
  MupTag* mup_tag(std::string_view name);
  // Tags (or re-tags) this module's own parameter `name`.
  void set_mup_tag(std::string name, MupTag tag);
  const std::vector<std::pair<std::string, MupTag>>& mup_tags() const { return tags_; }

 private:
  std::vector<std::pair<std::string, MupTag>> tags_;
};

struct TaggedParameter {
  std::string name;           // dotted, as named_parameters ("0.weight")
  Tensor tensor;
  std::optional<MupTag> tag;  // none: a plain module's parameter
};

// Every parameter of `module` and its descendants, in named_parameters() order (each tensor
// once), with the tag its owning module gave it. A tensor shared between a tagged and an
// untagged owner takes the tag.
std::vector<TaggedParameter> tagged_parameters(const Module& module);

// The original's DepthSequential / DepthModuleList: sets scaling_depth = depth on every
// parameter of `module`'s tree. Raises reel::Error (naming the parameter) when one is untagged
// ("is it from a regular module?") or already has a depth, or when depth < 1.
void set_mup_scaling_depth(Module& module, std::int64_t depth);

}  // namespace reel::nn::unit_scaling
