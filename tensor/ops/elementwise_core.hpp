#pragma once
// Shared plumbing of the elementwise ops: device checks, type promotion, broadcasting, and the
// one function that allocates an output and calls the backend. Internal to tensor/ops/.
#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace reel::detail {

// Throws when a and b live on different devices, naming both.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

// A 0-dim tensor on `like`'s device holding a wrapped number, in the dtype PyTorch would
// compute `like (op) value` in.
Tensor wrap_scalar(Scalar value, const Tensor& like);
// The dtype a "wrapped number" takes next to `t` (float32 tensor + 2.5 -> float32, int64 * 2.5 ->
// float32, float32 * 1j -> complex64).
DType scalar_result_type(const Tensor& t, Scalar value);

// out = op(a, b) with broadcasting; a and b are cast to `compute` first (when different).
// `out_dtype` is `compute` for arithmetic and kBool for comparisons. No autograd.
Tensor binary_kernel(backends::BinaryOp op, const Tensor& a, const Tensor& b, DType compute,
                     DType out_dtype, const char* name);
// In place: self = op(self, b); b broadcast to self's shape (error otherwise). No autograd.
void binary_kernel_(backends::BinaryOp op, Tensor& self, const Tensor& b, const char* name);
// out = op(x) with out dtype `out_dtype`. No autograd.
Tensor unary_kernel(backends::UnaryOp op, const Tensor& x, DType out_dtype);

// A gradient computed for an input of `shape` and `dtype`: summed over broadcast dims, the real
// part taken for a real input that met a complex one, cast back to the input's dtype.
Tensor grad_for(const Tensor& g, const Shape& shape, DType dtype);

// For the floating ops (exp, sqrt, div, ...): int64/bool inputs compute in float32.
inline DType to_inexact(DType t) { return is_inexact(t) ? t : kFloat32; }

// The in-place pattern with autograd: computes `fn(self_before)` out of place (recording its
// tape entry against a private copy of self's old value), writes the result into self's
// storage and moves self's grad_fn to the new entry. Leaves that require grad raise the error
// PyTorch raises; on a differentiable view it is inplace_on_view.
Tensor& inplace_with_grad(Tensor& self, const char* op, const std::function<Tensor(const Tensor&)>& fn);

// --- in-place ops on views (tensor/ops/inplace_view.cpp) --------------------------------------
// An in-place op that records a gradient on a view (self.impl().view_base set): as PyTorch's
// CopySlices. `fn(old)` computes the view's new value out of place (`old` carries the view's
// history; undefined unless `needs_old`: copy_ and fill_ don't read it); the result is written
// into the view; the base's grad_fn becomes a CopySlices entry whose gradient goes to the base's
// old history with the view's region zeroed, and the region to `fn`'s result (so through fn's
// entry to `old`, the view of the old history, and to fn's other operands). The view's grad_fn
// is regenerated from the base's new history when next read. Errors as PyTorch: a view of a
// leaf that requires grad, a written-to view whose elements overlap.
Tensor& inplace_on_view(Tensor& self, const char* op, bool needs_old,
                        const std::function<Tensor(const Tensor&)>& fn);
// For an in-place op that records a gradient on self: raises PyTorch's error when self is a
// view autograd does not track (made in no-grad mode, or a real/imag view of complex data).
void check_inplace_view(const Tensor& self, const char* op);

}  // namespace reel::detail
