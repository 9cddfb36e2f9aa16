// The scale constraints: names and the means (unit_scaling.constraints).
#include "nn/unit_scaling/constraints.hpp"

#include <cmath>

#include "backends/error.hpp"

namespace reel::nn::unit_scaling {

std::string constraint_name(Constraint c) {
  switch (c) {
    case Constraint::ToOutputScale: return "to_output_scale";
    case Constraint::ToGradInputScale: return "to_grad_input_scale";
    case Constraint::GMean: return "gmean";
    case Constraint::HMean: return "hmean";
    case Constraint::AMean: return "amean";
    case Constraint::None: return "none";
  }
  fail("unit_scaling: unknown constraint {}", static_cast<int>(c));
}

Constraint constraint_from_string(std::string_view name) {
  for (Constraint c : {kToOutputScale, kToGradInputScale, kGMean, kHMean, kAMean, kNoConstraint}) {
    if (name == constraint_name(c)) return c;
  }
  if (name.empty()) return kNoConstraint;
  fail("unit_scaling: '{}' is not a valid constraint (expected one of to_output_scale, "
       "to_grad_input_scale, gmean, hmean, amean, none)",
       name);
}

std::pair<double, double> apply_constraint(Constraint c, double a, double b, std::string_view op) {
  check(std::isfinite(a) && a > 0 && std::isfinite(b) && b > 0,
        "{}: scales must be positive and finite, got output_scale={}, grad_input_scale={}", op, a,
        b);
  double s = 0;
  switch (c) {
    case Constraint::None: return {a, b};
    case Constraint::ToOutputScale: s = a; break;
    case Constraint::ToGradInputScale: s = b; break;
    case Constraint::GMean: s = std::sqrt(a * b); break;
    case Constraint::HMean: s = 2.0 / (1.0 / a + 1.0 / b); break;
    case Constraint::AMean: s = (a + b) / 2.0; break;
  }
  return {s, s};
}

}  // namespace reel::nn::unit_scaling
