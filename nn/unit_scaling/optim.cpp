// The u-µP optimizers: lr scaling rules per tag and the per-parameter groups they make
// (unit_scaling.optim).
#include "nn/unit_scaling/optim.hpp"

#include <cmath>

#include "backends/checked_math.hpp"

namespace reel::nn::unit_scaling {

std::int64_t mup_fan_in(const Shape& shape) {
  // Note (the original's): the "fan_in" of an embedding is its hidden (output) dimension.
  if (shape.size() == 1) return shape[0];
  if (shape.size() == 2) return shape[1];
  if (shape.size() == 3) {
    const std::optional<std::int64_t> f = checked_mul(shape[1], shape[2]);
    check(f.has_value(), "unit_scaling: fan_in of a parameter of shape {} overflows", shape);
    return *f;
  }
  fail("unit_scaling: cannot get the fan_in of a {}-D parameter (shape {}): 1-, 2- and 3-D "
       "parameters only",
       shape.size(), shape);
}

double lr_scale_for_depth(const MupTag& tag) {
  if (!tag.scaling_depth) return 1.0;
  check(*tag.scaling_depth >= 1, "unit_scaling: mup_scaling_depth must be positive, got {}",
        *tag.scaling_depth);
  return 1.0 / std::sqrt(static_cast<double>(*tag.scaling_depth));
}

namespace {
double positive_fan_in(const Shape& shape) {
  const std::int64_t f = mup_fan_in(shape);
  check(f > 0, "unit_scaling: a weight of shape {} has fan_in 0, which has no lr scale", shape);
  return static_cast<double>(f);
}
}  // namespace

double lr_scale_adam(const Shape& shape, const MupTag& tag) {
  const double scale = lr_scale_for_depth(tag);
  switch (tag.type) {
    case MupType::Bias:
    case MupType::Norm:
    case MupType::Output: return scale;
    case MupType::Weight: return scale / std::sqrt(positive_fan_in(shape));
  }
  fail("unit_scaling: unknown mup_type {}", static_cast<int>(tag.type));
}

double lr_scale_sgd_to_output_scale(const Shape& shape, const MupTag& tag) {
  const double scale = lr_scale_for_depth(tag);
  switch (tag.type) {
    case MupType::Bias:
    case MupType::Norm:
      check(!shape.empty(), "unit_scaling: a {} parameter must have a dim (lr · shape[0]), got a "
            "0-D one", mup_type_name(tag.type));
      return scale * static_cast<double>(shape[0]);
    case MupType::Weight: return scale * std::sqrt(positive_fan_in(shape));
    case MupType::Output: return scale;
  }
  fail("unit_scaling: unknown mup_type {}", static_cast<int>(tag.type));
}

std::vector<optim::OptimizerParamGroup> scaled_parameters(
    const std::vector<TaggedParameter>& params, const LrScaleFn& lr_scale,
    const optim::OptimizerOptions& defaults, const UnitScalingOptions& options, const char* op) {
  const double lr = defaults.get("lr");
  const double weight_decay = defaults.get("weight_decay");
  std::vector<optim::OptimizerParamGroup> groups;
  groups.reserve(params.size());
  for (const TaggedParameter& p : params) {
    check(p.tensor.defined(), "{}: parameter {} is an undefined tensor", op, p.name);
    double param_lr = lr;
    if (p.tag) {
      param_lr *= lr_scale(p.tensor.sizes(), *p.tag);
    } else {
      check(options.allow_non_unit_scaling_params_,
            "{}: parameter {} (shape {}) is not a unit-scaling parameter (no mup_type: is it "
            "from a regular module?); tag it, or pass "
            "UnitScalingOptions().allow_non_unit_scaling_params(true)",
            op, p.name, p.tensor.sizes());
    }
    double param_weight_decay = weight_decay;
    if (options.independent_weight_decay_ && weight_decay != 0.0) {
      // Only independent of the peak lr, not of a schedule (as the original).
      check(param_lr != 0.0,
            "{}: independent_weight_decay divides weight_decay={} by the lr of parameter {}, "
            "which is 0",
            op, weight_decay, p.name);
      param_weight_decay = weight_decay / param_lr;
    }
    std::unique_ptr<optim::OptimizerOptions> group_options = defaults.clone();
    group_options->set("lr", param_lr);
    group_options->set("weight_decay", param_weight_decay);
    groups.emplace_back(std::vector<Tensor>{p.tensor}, std::move(group_options));
  }
  return groups;
}

namespace {

void refuse_readout(const UnitScalingOptions& o, const char* op) {
  check(!o.readout_constraint_.has_value(),
        "{}: readout_constraint is an option of unit_scaling::SGD only, got {}", op,
        o.readout_constraint_ ? constraint_name(*o.readout_constraint_) : "");
}

std::vector<optim::OptimizerParamGroup> sgd_groups(const std::vector<TaggedParameter>& params,
                                                   const optim::SGDOptions& defaults,
                                                   const UnitScalingOptions& o);

LrScaleFn sgd_rule(const UnitScalingOptions& o) {
  if (!o.readout_constraint_ || *o.readout_constraint_ == kNoConstraint) return lr_scale_adam;
  check(*o.readout_constraint_ == kToOutputScale,
        "unit_scaling::SGD: unhandled readout_constraint {} (none or to_output_scale)",
        constraint_name(*o.readout_constraint_));
  return lr_scale_sgd_to_output_scale;
}

std::vector<optim::OptimizerParamGroup> adam_groups(const std::vector<TaggedParameter>& params,
                                                    const optim::OptimizerOptions& defaults,
                                                    const UnitScalingOptions& o, const char* op) {
  refuse_readout(o, op);
  return scaled_parameters(params, lr_scale_adam, defaults, o, op);
}

std::vector<optim::OptimizerParamGroup> sgd_groups(const std::vector<TaggedParameter>& params,
                                                   const optim::SGDOptions& defaults,
                                                   const UnitScalingOptions& o) {
  check(defaults.is_set("lr"),
        "unit_scaling::SGD: the default options must give an lr (it has no default)");
  return scaled_parameters(params, sgd_rule(o), defaults, o, "unit_scaling::SGD");
}

optim::AdamWOptions adamw_defaults(const optim::AdamWOptions& d) {
  optim::AdamWOptions out = d;
  if (!out.is_set("weight_decay")) out.weight_decay(0.0);
  return out;
}

}  // namespace

Adam::Adam(const Module& model, const optim::AdamOptions& defaults,
           const UnitScalingOptions& options)
    : Adam(tagged_parameters(model), defaults, options) {}
Adam::Adam(const std::vector<TaggedParameter>& params, const optim::AdamOptions& defaults,
           const UnitScalingOptions& options)
    : optim::Adam(adam_groups(params, defaults, options, "unit_scaling::Adam"), defaults) {}

AdamW::AdamW(const Module& model, const optim::AdamWOptions& defaults,
             const UnitScalingOptions& options)
    : AdamW(tagged_parameters(model), defaults, options) {}
AdamW::AdamW(const std::vector<TaggedParameter>& params, const optim::AdamWOptions& defaults,
             const UnitScalingOptions& options)
    : optim::AdamW(adam_groups(params, adamw_defaults(defaults), options, "unit_scaling::AdamW"),
                   adamw_defaults(defaults)) {}

SGD::SGD(const Module& model, const optim::SGDOptions& defaults,
         const UnitScalingOptions& options)
    : SGD(tagged_parameters(model), defaults, options) {}
SGD::SGD(const std::vector<TaggedParameter>& params, const optim::SGDOptions& defaults,
         const UnitScalingOptions& options)
    : optim::SGD(sgd_groups(params, defaults, options), defaults) {}

}  // namespace reel::nn::unit_scaling
