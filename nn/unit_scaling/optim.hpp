#pragma once
// Optimizers with u-µP learning-rate scaling (Graphcore's unit_scaling.optim; u-µP, arXiv
// 2407.17465): reel's Adam, AdamW and SGD with one param group per parameter, whose lr (and
// weight decay) are scaled by the parameter's tag (nn/unit_scaling/parameter.hpp):
//
//   fan_in: shape[0] (1-D), shape[1] (2-D), shape[1]·shape[2] (3-D: a Conv1d weight)
//   Adam, AdamW:            weight → lr·fan_in^-1/2;  bias, norm, output → lr
//   SGD, readout_constraint=to_output_scale:
//                           weight → lr·fan_in^1/2;   bias, norm → lr·shape[0];  output → lr
//   SGD, no readout_constraint (the default): Adam's rule (unit-scaled gradients give
//                           unit-scaled updates, as Adam's)
//   all × depth^-1/2 for a parameter with a scaling depth (set_mup_scaling_depth)
//   independent_weight_decay (default true, as the original): weight_decay / lr_param, so the
//                           decay per step does not depend on the (peak) lr
//
//   namespace us = reel::nn::unit_scaling;
//   us::Adam opt(*model, reel::optim::AdamOptions(1e-2));
//
// A parameter without a tag (a plain module's) is a reel::Error naming it, unless
// allow_non_unit_scaling_params(true): then it keeps the optimizer's lr. Each optimizer is a
// reel::optim one (step, zero_grad, state_dict, schedulers work as usual).
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "nn/module.hpp"
#include "nn/optim/adam.hpp"
#include "nn/optim/adamw.hpp"
#include "nn/optim/sgd.hpp"
#include "nn/unit_scaling/constraints.hpp"
#include "nn/unit_scaling/parameter.hpp"

namespace reel::nn::unit_scaling {

// The original's _get_fan_in (reel::Error for 0-D and 4-D or more, naming the shape).
std::int64_t mup_fan_in(const Shape& shape);
// depth^-1/2, or 1 without a depth.
double lr_scale_for_depth(const MupTag& tag);
// The lr factor of a parameter of `shape` with `tag`, for Adam / AdamW ...
double lr_scale_adam(const Shape& shape, const MupTag& tag);
// ... and for SGD with readout_constraint = to_output_scale (SGD without one uses Adam's).
double lr_scale_sgd_to_output_scale(const Shape& shape, const MupTag& tag);

struct UnitScalingOptions {
  UnitScalingOptions& independent_weight_decay(bool v) { independent_weight_decay_ = v; return *this; }
  UnitScalingOptions& allow_non_unit_scaling_params(bool v) {
    allow_non_unit_scaling_params_ = v;
    return *this;
  }
  // SGD only: the constraint of the readout layer (none, the default, or to_output_scale;
  // others raise, as the original's). Adam and AdamW refuse it.
  UnitScalingOptions& readout_constraint(std::optional<Constraint> v) {
    readout_constraint_ = v;
    return *this;
  }

  bool independent_weight_decay_ = true;
  bool allow_non_unit_scaling_params_ = false;
  std::optional<Constraint> readout_constraint_;
};

using LrScaleFn = std::function<double(const Shape& shape, const MupTag& tag)>;

// The original's scaled_parameters: one param group per parameter, with options `defaults`
// and lr = defaults.lr · lr_scale(param), weight_decay = defaults.weight_decay (/ that lr when
// independent). `op` names the caller in errors.
std::vector<optim::OptimizerParamGroup> scaled_parameters(
    const std::vector<TaggedParameter>& params, const LrScaleFn& lr_scale,
    const optim::OptimizerOptions& defaults, const UnitScalingOptions& options,
    const char* op = "scaled_parameters");

class Adam : public optim::Adam {
 public:
  Adam(const Module& model, const optim::AdamOptions& defaults = optim::AdamOptions(),
       const UnitScalingOptions& options = {});
  Adam(const std::vector<TaggedParameter>& params,
       const optim::AdamOptions& defaults = optim::AdamOptions(),
       const UnitScalingOptions& options = {});
};

// The original's AdamW defaults weight_decay to 0 (torch's AdamW to 0.01): an AdamWOptions
// whose weight_decay was never set gets 0 here.
class AdamW : public optim::AdamW {
 public:
  AdamW(const Module& model, const optim::AdamWOptions& defaults = optim::AdamWOptions(),
        const UnitScalingOptions& options = {});
  AdamW(const std::vector<TaggedParameter>& params,
        const optim::AdamWOptions& defaults = optim::AdamWOptions(),
        const UnitScalingOptions& options = {});
};

class SGD : public optim::SGD {
 public:
  SGD(const Module& model, const optim::SGDOptions& defaults,
      const UnitScalingOptions& options = {});
  SGD(const std::vector<TaggedParameter>& params, const optim::SGDOptions& defaults,
      const UnitScalingOptions& options = {});
};

}  // namespace reel::nn::unit_scaling
