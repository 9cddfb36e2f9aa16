#pragma once
// nn::utils, as torch.nn.utils: gradient clipping, flattening parameters to one vector and
// back, and weight normalisation.
//
//   auto total = nn::utils::clip_grad_norm_(model->parameters(), 1.0);   // a 0-dim tensor
//   nn::Conv1d conv = nn::utils::weight_norm(nn::Conv1d(opts));         // weight = g v / ||v||
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/module.hpp"

namespace reel::nn::utils {

// PyTorch's clip_grad_norm_: the norm of order norm_type (inf allowed) of all the gradients
// together (parameters without .grad() are skipped), returned as a 0-dim tensor; when it
// exceeds max_norm, every gradient is scaled in place by max_norm / (total + 1e-6). With
// error_if_nonfinite, a nan or inf total raises (PyTorch's message) and nothing is scaled.
// No gradients: returns 0.
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm,
                       double norm_type = 2.0, bool error_if_nonfinite = false);
Tensor clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// PyTorch's clip_grad_value_: clamps every gradient into [-clip_value, clip_value] in place.
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);
void clip_grad_value_(const Tensor& parameter, double clip_value);

// The parameters flattened and concatenated into one 1-D tensor (differentiable, as PyTorch's).
Tensor parameters_to_vector(const std::vector<Tensor>& parameters);
// Copies consecutive slices of the 1-D `vec` into the parameters, in place (no grad). PyTorch
// rebinds each parameter's .data to a view of vec instead; here the parameters keep their
// own storage. vec must have exactly as many elements as the parameters together.
void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& parameters);

// --- weight_norm ---------------------------------------------------------------------------

namespace detail {
// PyTorch's norm_except_dim(v, 2, dim): the 2-norm over every dim but `dim`, keeping dims
// (size 1 except at dim); dim == -1 means over everything (a 0-dim tensor).
Tensor norm_except_dim(const Tensor& v, std::int64_t dim);
// PyTorch's _weight_norm: v * (g / norm_except_dim(v, dim)). Differentiable in g and v.
Tensor weight_norm_compute(const Tensor& g, const Tensor& v, std::int64_t dim);
using WeightSetter = std::function<void(Module&, Tensor)>;
void apply_weight_norm(Module& module, const std::string& name, std::optional<std::int64_t> dim,
                       WeightSetter set);
void remove_weight_norm(Module& module, const std::string& name, const WeightSetter& set);
}  // namespace detail

// weight_norm as PyTorch 1.13's torch.nn.utils.weight_norm: the parameter `name` is removed
// and replaced by `name_g` (the norm of each slice along `dim`: size 1 except at dim) and
// `name_v` (the old tensor, same handle), registered after the module's other parameters
// (Conv1d: bias, weight_g, weight_v). A forward pre-hook sets the Impl's member to
// g * v / ||v|| before every call through the holder (or a container), on the tape, so
// gradients reach g and v. dim = nullopt (or -1, as PyTorch) takes the norm over the whole
// tensor. load_state_dict also accepts PyTorch 2.x's parametrization names
// (`parametrizations.weight.original0` = g, `...original1` = v).
//
// The member is named by pointer (C++ can't look a member up by its name); the one-argument
// form uses Impl::weight, so it works for any layer with a `Tensor weight` member (Conv1d,
// Linear, ConvTranspose1d). Takes and returns the holder (or shared_ptr<Impl>), as PyTorch
// returns the module: `nn::Conv1d conv = weight_norm(nn::Conv1d(opts));`.
template <typename Holder, typename Impl>
  requires std::derived_from<std::remove_cvref_t<decltype(*std::declval<Holder>())>, Impl>
Holder weight_norm(Holder module, Tensor Impl::*member, const std::string& name,
                   std::optional<std::int64_t> dim = 0) {
  detail::apply_weight_norm(*module, name, dim, [member](Module& m, Tensor w) {
    dynamic_cast<Impl&>(m).*member = std::move(w);
  });
  return module;
}
template <typename Holder>
  requires std::derived_from<std::remove_cvref_t<decltype(*std::declval<Holder>())>, Module>
Holder weight_norm(Holder module, std::optional<std::int64_t> dim = 0) {
  using Impl = std::remove_cvref_t<decltype(*module)>;
  return weight_norm(std::move(module), &Impl::weight, "weight", dim);
}
// PyTorch's remove_weight_norm: the weight is computed once more and registered again as a
// plain parameter `name` (after the others); name_g, name_v and the hooks go.
template <typename Holder, typename Impl>
  requires std::derived_from<std::remove_cvref_t<decltype(*std::declval<Holder>())>, Impl>
Holder remove_weight_norm(Holder module, Tensor Impl::*member, const std::string& name) {
  detail::remove_weight_norm(*module, name, [member](Module& m, Tensor w) {
    dynamic_cast<Impl&>(m).*member = std::move(w);
  });
  return module;
}
template <typename Holder>
  requires std::derived_from<std::remove_cvref_t<decltype(*std::declval<Holder>())>, Module>
Holder remove_weight_norm(Holder module) {
  using Impl = std::remove_cvref_t<decltype(*module)>;
  return remove_weight_norm(std::move(module), &Impl::weight, "weight");
}

}  // namespace reel::nn::utils
