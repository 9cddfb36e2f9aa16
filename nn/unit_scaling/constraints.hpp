#pragma once
// Scale constraints of unit scaling (Graphcore's unit_scaling.constraints): an op that has one
// "ideal" scale for its output and another for its input's gradient may have to use one scale
// for both (a layer whose output and grad_input must agree, so that gradients are those of
// the function computed). The constraint picks the pair (output scale, grad_input scale) from
// the two ideal scales a (output) and b (grad_input):
//
//   to_output_scale      (a, a)        unit outputs (the default, as the original)
//   to_grad_input_scale  (b, b)        unit input gradients
//   gmean                (√(ab), √(ab))
//   hmean                (2/(1/a + 1/b), ...)   (Xavier/Glorot)
//   amean                ((a + b)/2, ...)
//   none                 (a, b)        each its own: unit both ways, but the backward is then
//                                      not the derivative of the forward
#include <string>
#include <string_view>
#include <utility>

namespace reel::nn::unit_scaling {

enum class Constraint { ToOutputScale, ToGradInputScale, GMean, HMean, AMean, None };
inline constexpr Constraint kToOutputScale = Constraint::ToOutputScale;
inline constexpr Constraint kToGradInputScale = Constraint::ToGradInputScale;
inline constexpr Constraint kGMean = Constraint::GMean;
inline constexpr Constraint kHMean = Constraint::HMean;
inline constexpr Constraint kAMean = Constraint::AMean;
inline constexpr Constraint kNoConstraint = Constraint::None;

// "to_output_scale", "to_grad_input_scale", "gmean", "hmean", "amean", "none"; and back ("" is
// "none" too, as the original's None / ""). An unknown name raises reel::Error listing the
// valid ones.
std::string constraint_name(Constraint c);
Constraint constraint_from_string(std::string_view name);

// The (output, grad_input) pair `c` makes of the ideal scales (output_scale, grad_input_scale).
// Both must be positive and finite (reel::Error naming `op` otherwise).
std::pair<double, double> apply_constraint(Constraint c, double output_scale,
                                           double grad_input_scale,
                                           std::string_view op = "apply_constraint");

}  // namespace reel::nn::unit_scaling
