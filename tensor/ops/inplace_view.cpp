// In-place ops on views with autograd: PyTorch's CopySlices ("view + inplace" rebase).
//
// base = zeros(4, 3); v = base.narrow(0, 1, 2); v.mul_(w) leaves base with the history
//
//   base.grad_fn = CopySlices(base's old history, MulBackward(old v, w))
//
// whose backward splits the gradient of base: the view's region goes to the op's result (and on
// through MulBackward to `old v` = the view of the old history, and to w); the rest, with the
// region zeroed, to the base's old history. The view itself (and every other view of base) is
// given a grad_fn of "view of base's new history" (AsStridedBackward) the next time it is read:
// its storage version moved since its grad_fn was set (Tensor::refresh_view_grad_fn).
//
// reel records the op's own entry against the view's old value and adds CopySlices as one more
// entry over it, where PyTorch wraps the op's node inside CopySlices; the gradients are the
// same, and any composite `fn` (a cast after the op, copy_'s broadcast) needs no special case.
#include <algorithm>

#include "tensor/ops/elementwise_core.hpp"

namespace reel::detail {

namespace {

// Whether two elements of (shape, strides) share a memory location (PyTorch's
// has_internal_overlap, exact for reel's layouts: dims sorted by stride, each must step past
// everything the smaller ones cover).
bool has_internal_overlap(const Shape& shape, const Strides& strides) {
  std::vector<int> dims;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return false;
    if (shape[d] > 1) dims.push_back(d);
  }
  std::sort(dims.begin(), dims.end(), [&](int a, int b) { return strides[a] < strides[b]; });
  std::int64_t covered = 0;  // the largest offset the dims so far reach
  for (int d : dims) {
    if (strides[d] <= covered) return true;
    covered += (shape[d] - 1) * strides[d];
  }
  return false;
}

}  // namespace

void check_inplace_view(const Tensor& self, const char* op) {
  const TensorImpl& impl = self.impl();
  if (!impl.is_view || impl.view_base) return;
  if (impl.view_creation == TensorImpl::ViewCreation::kComplexPart) {
    fail("{}: an in-place operation that records a gradient on a real/imag view of a complex "
         "tensor is not supported; use the out-of-place form",
         op);
  }
  fail("{}: A view was created in no_grad mode and is being modified inplace with grad mode "
       "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You can "
       "clarify your code by moving both the view and the inplace either both inside the no_grad "
       "block (if you don't want the inplace to be tracked) or both outside (if you want the "
       "inplace to be tracked).",
       op);
}

Tensor& inplace_on_view(Tensor& self, const char* op, bool needs_old,
                        const std::function<Tensor(const Tensor&)>& fn) {
  TensorImpl& impl = self.impl();
  Tensor base(impl.view_base);
  check(base.impl().storage == impl.storage,
        "{}: the view's base was given new data (set_data) after the view was made; an in-place "
        "operation that records a gradient on the view is not supported",
        op);
  check(!(base.is_leaf() && base.requires_grad()),
        "{}: a view of a leaf Variable that requires grad is being used in an in-place operation.",
        op);
  check(!has_internal_overlap(impl.shape, impl.strides),
        "{}: unsupported operation: more than one element of the written-to tensor refers to a "
        "single memory location. Please clone() the tensor before performing the operation.",
        op);
  check(!has_internal_overlap(base.sizes(), base.strides()),
        "{}: an in-place operation on a view of a tensor whose elements overlap in memory (shape "
        "{}, strides {}) is not supported; clone() the tensor first",
        op, base.sizes(), base.strides());

  Tensor old;
  if (needs_old) {
    // The view's old value on its own storage, carrying the view's history (read through
    // grad_fn(): regenerated if the base was written since).
    std::shared_ptr<autograd::Node> history = self.grad_fn();
    old = self.detach().clone();
    old.impl().grad_fn = history;
    old.impl().output_nr = impl.output_nr;
    old.impl().requires_grad = impl.requires_grad;
  }
  Tensor result = fn(old);
  check(result.sizes() == self.sizes(),
        "{}: output with shape {} doesn't match the broadcast shape {}", op, self.sizes(),
        result.sizes());
  check(result.dtype() == self.dtype(),
        "{}: result type {} can't be cast to the desired output type {}", op, result.dtype(),
        self.dtype());
  backend_for(self.device()).copy(view_of(self), view_of(result));
  self.bump_version();  // the base's too: they share the storage, so its other views go stale

  if (!base.requires_grad() && !result.requires_grad()) return self;
  autograd::Geometry bg = autograd::geometry_of(base), vg = autograd::geometry_of(self);
  std::shared_ptr<autograd::Node> previous = base.impl().grad_fn;
  autograd::record("CopySlices", {&base, &result}, base,
                   [bg, vg](std::span<const Tensor> g,
                            autograd::GradMask need) -> std::vector<Tensor> {
                     Tensor rest, region;
                     autograd::split_base_grad(g[0], bg, vg, need[0] ? &rest : nullptr,
                                               need[1] ? &region : nullptr);
                     return {rest, region};
                   });
  autograd::move_retained_grad(base.impl_ptr(), previous.get());
  return self;
}

}  // namespace reel::detail
