#pragma once
// How an op puts itself on the tape. The pattern every differentiable op follows:
//
//   Tensor out = ...compute...;
//   if (autograd::needs_grad(a, b)) {
//     autograd::record("MulBackward", {&a, &b}, out,
//         [sa = autograd::SavedTensor(a), sb = autograd::SavedTensor(b)]
//         (std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
//           return {need[0] ? g[0] * conj(sb.unpack()) : Tensor(),
//                   need[1] ? g[0] * conj(sa.unpack()) : Tensor()};
//         });
//   }
#include <initializer_list>
#include <span>

#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"

namespace reel::autograd {

// Grad mode is on and at least one input requires grad.
template <typename... Ts>
inline bool needs_grad(const Ts&... inputs) {
  return GradMode::is_enabled() && (inputs.requires_grad() || ...);
}
inline bool needs_grad_any(std::span<const Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs) if (t.defined() && t.requires_grad()) return true;
  return false;
}

// Records one tape entry: `outputs` get `grad_fn` = the new node (output_nr = position) and
// requires_grad = true. Inputs that don't require grad get an invalid edge, so their gradient
// is never computed (GradMask bit off). Undefined inputs (an absent bias) are allowed.
void record(const char* name, std::initializer_list<const Tensor*> inputs,
            std::span<Tensor> outputs, BackwardFn backward);
inline void record(const char* name, std::initializer_list<const Tensor*> inputs, Tensor& output,
                   BackwardFn backward) {
  record(name, inputs, std::span<Tensor>(&output, 1), std::move(backward));
}
// Same, for a list of inputs (cat, stack).
void record_list(const char* name, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                 BackwardFn backward);

// A tensor saved for backward, with the version it had when saved. unpack() raises the
// in-place-modification error when the version moved. Saving an op's own output keeps a
// detached alias (same storage), so no reference cycle forms.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t, bool is_output = false);
  Tensor unpack() const;
  bool defined() const { return tensor_.defined(); }

 private:
  Tensor tensor_;
  std::uint32_t version_ = 0;
};

// Marks a non-leaf so its .grad() is filled during backward (Tensor::retain_grad).
void retain_grad_of(const Tensor& t);
// After an in-place op gave `t` a new grad_fn (it was `from`): a retain_grad() moves with it,
// as in PyTorch (hooks stay on the old history).
void move_retained_grad(const std::shared_ptr<TensorImpl>& t, const Node* from);

// --- in-place ops on views (CopySlices) -------------------------------------------------------
// A tensor's place on its storage: what as_strided takes.
struct Geometry {
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;
};
inline Geometry geometry_of(const Tensor& t) {
  return {t.sizes(), t.strides(), t.storage_offset()};
}
// The backward of a view given by its geometry on the storage of `base` (PyTorch's
// AsStridedBackward): `grad` (the view's shape) written into zeros of the base's shape. Dims of
// stride 0 (an expand) sum their gradients.
Tensor view_grad_to_base(const Tensor& grad, const Geometry& base, const Geometry& view);
// The backward of CopySlices: from the base-shaped `grad`, `*rest` gets grad with the view's
// region zeroed (base shape), `*region` the region (view shape). Either may be null.
void split_base_grad(const Tensor& grad, const Geometry& base, const Geometry& view, Tensor* rest,
                     Tensor* region);

}  // namespace reel::autograd
