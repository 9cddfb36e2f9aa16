#pragma once
// Unit-scaled functions (Graphcore's unit_scaling.functional; Blake et al., "Unit Scaling",
// arXiv 2303.11257): each scales its output so that it has unit variance at initialisation
// for unit-variance inputs, and — separately — each input's gradient so that it has unit
// variance for unit-variance output gradients. Both come from one primitive:
//
//   scale_fwd_bwd(x, a, b):   forward y = a·x,   backward dx = b·dy
//
// (one tape entry; by design not the derivative of its forward unless a == b). A unit-scaled
// op puts scale_bwd(·, s_i) on each input (s_i: that input's gradient scale), runs the plain
// op, and puts scale_fwd(·, s_out) on its output, so the gradients reaching the inputs are the
// plain op's gradients times their own scales.
//
//   namespace U = reel::nn::unit_scaling::functional;
//   Tensor y = U::conv1d(x, w, b, U::Conv1dFuncOptions().padding(reel::kCausal));
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>

#include "nn/functional/conv1d.hpp"
#include "nn/functional/loss.hpp"
#include "nn/unit_scaling/constraints.hpp"
#include "tensor/tensor.hpp"

namespace reel::nn::unit_scaling::functional {

// --- the primitive -------------------------------------------------------------------------
// y = fwd_scale · x (x's dtype: floating point or complex); backward dx = bwd_scale · dy.
// Scales must be finite. Always a new tensor (as PyTorch's autograd.Function returns).
Tensor scale_fwd_bwd(const Tensor& x, double fwd_scale, double bwd_scale);
// Scales only the forward (gradient passes through unchanged) / only the gradient (values
// pass through unchanged): the original's scale_fwd / scale_bwd.
inline Tensor scale_fwd(const Tensor& x, double scale) { return scale_fwd_bwd(x, scale, 1.0); }
inline Tensor scale_bwd(const Tensor& x, double scale) { return scale_fwd_bwd(x, 1.0, scale); }

// --- conv1d ----------------------------------------------------------------------------------
// F::conv1d's options plus the constraint (default to_output_scale, as the original).
struct Conv1dFuncOptions {
  Conv1dFuncOptions& stride(std::int64_t v) { conv_.stride(v); return *this; }
  Conv1dFuncOptions& padding(std::int64_t v) { conv_.padding(v); return *this; }
  Conv1dFuncOptions& padding(PaddingRule v) { conv_.padding(v); return *this; }
  Conv1dFuncOptions& padding(std::string_view v) { conv_.padding(v); return *this; }
  Conv1dFuncOptions& dilation(std::int64_t v) { conv_.dilation(v); return *this; }
  Conv1dFuncOptions& groups(std::int64_t v) { conv_.groups(v); return *this; }
  Conv1dFuncOptions& padding_mode(PaddingMode v) { conv_.padding_mode(v); return *this; }
  Conv1dFuncOptions& padding_mode(std::string_view v) { conv_.padding_mode(v); return *this; }
  Conv1dFuncOptions& constraint(Constraint v) { constraint_ = v; return *this; }
  Conv1dFuncOptions& constraint(std::string_view v) {
    constraint_ = constraint_from_string(v);
    return *this;
  }

  nn::functional::Conv1dFuncOptions conv_;  // what F::conv1d takes
  Constraint constraint_ = kToOutputScale;
};

// The four scales of a unit-scaled conv1d. With weight (fan_out, fan_in, K) (fan_in = C_in /
// groups), L_out the output length and batch_size = L_out × (the input's leading dims; L_out
// alone when unbatched):
//   output = (fan_in·K)^-1/2,  grad_input = (stride·groups / (fan_out·K))^1/2  (then the
//   constraint makes the pair),  grad_weight = grad_bias = batch_size^-1/2 (1 for an empty
//   batch, whose weight gradients are zero anyway).
struct Conv1dScales {
  double output, grad_input, grad_weight, grad_bias;
};
// Validates as F::conv1d does (shapes and options; reel::Error otherwise); a weight with no
// input or output channels has no scale and raises.
Conv1dScales conv1d_scales(const Shape& input_shape, const Shape& weight_shape,
                           const Conv1dFuncOptions& options = {});

// y = output · (conv1d(x, W) + b); dx = grad_input · conv_transpose(dy, W),
// dW = grad_weight · xcorr(x, dy), db = grad_bias · Σ dy. Every padding mode, 'same' and
// 'causal' (padding applied once, by F::conv1d).
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv1dFuncOptions& options = {});

// --- linear -----------------------------------------------------------------------------------
// With weight (fan_out, fan_in) and batch_size = input.numel() / fan_in:
//   output = fan_in^-1/2, grad_input = fan_out^-1/2 (constrained), grad_weight = grad_bias =
//   batch_size^-1/2.
struct LinearScales {
  double output, grad_input, grad_weight, grad_bias;
};
LinearScales linear_scales(const Shape& input_shape, const Shape& weight_shape,
                           Constraint constraint = kToOutputScale);
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              Constraint constraint = kToOutputScale);

// --- residual connections ------------------------------------------------------------------------
// residual_split(x, tau) -> (residual, skip): both equal x, with gradients scaled by
// tau/√(1+tau²) and 1/√(1+tau²); residual_add(residual, skip, tau) = tau/√(1+tau²)·residual +
// 1/√(1+tau²)·skip (forward only: gradients pass through unchanged). Used as a pair around a
// residual branch f:  auto [r, s] = residual_split(x, tau);  y = residual_add(f(r), s, tau).
// tau (finite, >= 0) is the ratio of the branch's contribution to the skip's.
std::pair<Tensor, Tensor> residual_split(const Tensor& input, double tau = 1.0);
Tensor residual_add(const Tensor& residual, const Tensor& skip, double tau = 1.0);
// Both around `branch`: residual_add(branch(residual), skip, tau) (the original's
// residual_apply).
Tensor residual_apply(const std::function<Tensor(const Tensor&)>& branch, const Tensor& input,
                      double tau = 1.0);

// --- loss -------------------------------------------------------------------------------------------
// The original's unit-scaled mse_loss: input and target of one shape; both gradients scaled by
// 8^-1/2 (the std of d(Σ(x−y)²)/dx = 2(x−y) for unit normal x, y is √8), the forward is
// Σ(x−y)² (kSum) or that over numel (kMean; the gradient is not divided). kNone and a mask
// are not supported (reel::Error).
Tensor mse_loss(const Tensor& input, const Tensor& target,
                const nn::functional::MSELossFuncOptions& options = {});

}  // namespace reel::nn::unit_scaling::functional
