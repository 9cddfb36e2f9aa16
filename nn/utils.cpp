// nn::utils: clip_grad_norm_ / clip_grad_value_, parameters_to_vector / vector_to_parameters,
// and weight_norm's non-template part, each following torch.nn.utils (1.13).
#include "nn/utils.hpp"

#include <cmath>

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::utils {

namespace {

// torch.norm(g, p) for a flattened gradient: inf -> max |g|, -inf -> min |g|, 0 -> the count
// of non-zeros, else (sum |g|^p)^(1/p).
Tensor vector_norm(const Tensor& g, double p) {
  Tensor a = abs(g);  // real for complex gradients
  if (std::isinf(p)) return p > 0 ? max(a) : min(a);
  if (p == 0.0) return sum(ne(a, 0)).to(a.dtype());
  if (p == 2.0) return sqrt(sum(square(a)));
  if (p == 1.0) return sum(a);
  return pow(sum(pow(a, p)), 1.0 / p);
}

std::vector<Tensor> defined_grads(const std::vector<Tensor>& parameters) {
  std::vector<Tensor> grads;
  for (const auto& p : parameters) {
    check(p.defined(), "clip_grad: a parameter is undefined");
    if (Tensor g = p.grad(); g.defined()) grads.push_back(g);
  }
  return grads;
}

}  // namespace

Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  check(!std::isnan(norm_type), "clip_grad_norm_: norm_type is nan");
  NoGradGuard no_grad;
  std::vector<Tensor> grads = defined_grads(parameters);
  if (grads.empty()) return zeros({});  // PyTorch's torch.tensor(0.)
  const Device device = grads[0].device();
  std::vector<Tensor> norms;
  for (const auto& g : grads) norms.push_back(vector_norm(g.detach(), norm_type).to(device));
  // one dtype for stack: the promotion of them all (float32 and float64 grads: float64)
  DType dtype = norms[0].dtype();
  for (const auto& n : norms) dtype = promote_types(dtype, n.dtype());
  for (auto& n : norms) n = n.to(dtype);
  Tensor total;
  if (std::isinf(norm_type)) {
    total = norms.size() == 1 ? norms[0] : (norm_type > 0 ? max(stack(norms)) : min(stack(norms)));
  } else {
    total = vector_norm(stack(norms), norm_type);
  }
  if (error_if_nonfinite) {
    double t = total.item<double>();
    check(std::isfinite(t),
          "clip_grad_norm_: The total norm of order {} for gradients from `parameters` is "
          "non-finite, so it cannot be clipped. To disable this error and scale the gradients by "
          "the non-finite norm anyway, set `error_if_nonfinite=False`",
          norm_type);
  }
  // clip_coef = max_norm / (total + 1e-6), clamped to 1: multiplying always (by 1 when the
  // norm is small) avoids reading the total back to the host, as PyTorch.
  Tensor coef = clamp(max_norm / add(total, 1e-6), std::nullopt, 1.0);
  for (auto& g : grads) g.mul_(coef.to(g.device(), g.dtype()));
  return total;
}

Tensor clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>{parameter}, max_norm, norm_type, error_if_nonfinite);
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  NoGradGuard no_grad;
  for (auto& g : defined_grads(parameters)) g.clamp_(-clip_value, clip_value);
}

void clip_grad_value_(const Tensor& parameter, double clip_value) {
  clip_grad_value_(std::vector<Tensor>{parameter}, clip_value);
}

Tensor parameters_to_vector(const std::vector<Tensor>& parameters) {
  check(!parameters.empty(), "parameters_to_vector: the list of parameters is empty");
  std::vector<Tensor> flat;
  const Device device = parameters[0].device();
  for (const auto& p : parameters) {
    check(p.device() == device,
          "parameters_to_vector: Found two parameters on different devices, this is currently "
          "not supported ({} and {})",
          device, p.device());
    flat.push_back(p.reshape({-1}));
  }
  return cat(flat, 0);
}

void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& parameters) {
  check(vec.defined(), "vector_to_parameters: vec is undefined");
  check(vec.dim() == 1, "vector_to_parameters: expected a 1-D vec, got shape {}", vec.sizes());
  std::int64_t total = 0;
  for (const auto& p : parameters) total += p.numel();
  check(total == vec.numel(),
        "vector_to_parameters: vec has {} elements but the parameters have {} together",
        vec.numel(), total);
  NoGradGuard no_grad;
  std::int64_t offset = 0;
  for (const auto& p : parameters) {
    Tensor target = p;
    target.copy_(vec.narrow(0, offset, p.numel()).reshape(p.sizes()).to(p.device()));
    offset += p.numel();
  }
}

// --- weight_norm ---------------------------------------------------------------------------

namespace detail {

Tensor norm_except_dim(const Tensor& v, std::int64_t dim) {
  Tensor sq = v.is_complex() ? square(abs(v)) : square(v);
  if (dim == -1) return sqrt(sum(sq));
  Shape dims;
  for (std::int64_t d = 0; d < v.dim(); ++d) {
    if (d != dim) dims.push_back(d);
  }
  if (dims.empty()) return abs(v);  // a 1-D v: each element is its own slice
  return sqrt(sum(sq, dims, /*keepdim=*/true));
}

Tensor weight_norm_compute(const Tensor& g, const Tensor& v, std::int64_t dim) {
  return mul(v, div(g, norm_except_dim(v, dim)));
}

namespace {

std::string hook_tag(const std::string& name) { return "weight_norm:" + name; }

Tensor own_parameter(const Module& module, const std::string& name) {
  for (const auto& [n, p] : module.named_parameters(/*recurse=*/false)) {
    if (n == name) return p;
  }
  return Tensor();
}

// The dim a weight_norm was made with, read back from g's shape (remove_weight_norm needs it):
// 0-dim g is the whole-tensor norm; else the dim where g is not 1, or, when every size of g
// is 1, any dim of size 1 in v (all give the same norm).
std::int64_t dim_of(const Tensor& g, const Tensor& v) {
  if (g.dim() == 0) return -1;
  for (std::int64_t d = 0; d < g.dim(); ++d) {
    if (g.size(d) != 1) return d;
  }
  for (std::int64_t d = 0; d < v.dim(); ++d) {
    if (v.size(d) == 1) return d;
  }
  return 0;
}

}  // namespace

void apply_weight_norm(Module& module, const std::string& name, std::optional<std::int64_t> dim,
                       WeightSetter set) {
  // PyTorch's WeightNorm.apply (1.13).
  check(!module.has_forward_pre_hook(hook_tag(name)),
        "weight_norm: Cannot register two weight_norm hooks on the same parameter {}", name);
  Tensor weight = own_parameter(module, name);
  check(weight.defined(), "weight_norm: {} has no parameter '{}'", module.name(), name);
  check(is_inexact(weight.dtype()), "weight_norm: expected a floating point or complex '{}', got {}",
        name, weight.dtype());
  std::int64_t d = dim.value_or(-1);  // PyTorch: `if dim is None: dim = -1`
  if (d != -1) {
    check(d >= -weight.dim() && d < weight.dim(),
          "weight_norm: dim {} is out of range for '{}' of shape {}", d, name, weight.sizes());
    if (d < 0) d += weight.dim();  // -1 itself means the whole tensor, as PyTorch
  }
  for (const char* suffix : {"_g", "_v"}) {
    check(!module.has_parameter(name + suffix), "weight_norm: attribute '{}{}' already exists",
          name, suffix);
  }
  Tensor g;
  {
    NoGradGuard no_grad;
    g = norm_except_dim(weight.detach(), d).contiguous().clone();
  }
  module.unregister_parameter(name);
  // g is a new leaf; v is the old weight itself (PyTorch makes a new Parameter on its data),
  // so handles to the old weight held elsewhere (an optimizer's list) now step v.
  Tensor gp = module.register_parameter(name + "_g", g);
  Tensor vp = module.register_parameter(name + "_v", weight);
  set(module, weight_norm_compute(gp, vp, d));
  module.register_forward_pre_hook(
      [gp, vp, d, set](Module& m) { set(m, weight_norm_compute(gp, vp, d)); }, hook_tag(name));
  // PyTorch 2.x's torch.nn.utils.parametrizations.weight_norm saves g and v as
  // parametrizations.<name>.original0 / original1: take those names too.
  module.register_load_state_dict_pre_hook(
      [name](StateDict& state_dict, const std::string& prefix) {
        const std::string base = prefix + "parametrizations." + name + ".original";
        for (auto& [key, t] : state_dict) {
          if (key == base + "0") key = prefix + name + "_g";
          if (key == base + "1") key = prefix + name + "_v";
        }
      },
      hook_tag(name));
}

void remove_weight_norm(Module& module, const std::string& name, const WeightSetter& set) {
  check(module.has_forward_pre_hook(hook_tag(name)),
        "remove_weight_norm: weight_norm of '{}' not found in {}", name, module.repr());
  Tensor g = own_parameter(module, name + "_g");
  Tensor v = own_parameter(module, name + "_v");
  check(g.defined() && v.defined(), "remove_weight_norm: {} lost its parameters '{}_g' / '{}_v'",
        module.name(), name, name);
  Tensor weight;
  {
    NoGradGuard no_grad;
    weight = weight_norm_compute(g, v, dim_of(g, v)).detach().contiguous().clone();
  }
  module.remove_forward_pre_hook(hook_tag(name));
  module.remove_load_state_dict_pre_hook(hook_tag(name));
  module.unregister_parameter(name + "_g");
  module.unregister_parameter(name + "_v");
  set(module, module.register_parameter(name, weight));
}

}  // namespace detail

}  // namespace reel::nn::utils
