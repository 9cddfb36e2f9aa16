// Binary elementwise ops beyond arithmetic: pow, maximum/minimum, comparisons, logical ops,
// where and masked_fill, with their backward formulas (PyTorch's derivatives.yaml).
#include "tensor/ops/elementwise_core.hpp"

namespace reel {

using backends::BinaryOp;
using detail::binary_kernel;
using detail::grad_for;

// --- pow -----------------------------------------------------------------------------------------

namespace {

Scalar minus_one(Scalar e) {
  if (e.is_complex()) return Scalar(e.to_complex() - 1.0);
  if (e.is_floating()) return Scalar(e.to_double() - 1.0);
  return Scalar(e.to_int() - 1);
}

void check_pow_dtype(DType t) {
  check(t != kBool, "pow: not implemented for bool tensors (both base and exponent are bool)");
}

}  // namespace

Tensor pow(const Tensor& a, const Tensor& b) {
  DType t = result_type(a, b);
  check_pow_dtype(t);
  Tensor out = binary_kernel(BinaryOp::Pow, a, b, t, t, "pow");
  if (autograd::needs_grad(a, b)) {
    autograd::SavedTensor sa(a), sb(b), so(out, /*is_output=*/true);
    Shape shape_a = a.sizes(), shape_b = b.sizes();
    DType da = a.dtype(), db = b.dtype();
    autograd::record(
        "PowBackward", {&a, &b}, out,
        [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor av = sa.unpack(), bv = sb.unpack();
          Tensor ga, gb;
          if (need[0]) {
            // d a^b / da = b a^(b-1); exactly 0 where b == 0 (PyTorch's pow_backward_self).
            Tensor d = mul(bv, pow(av, sub(bv, 1)));
            ga = grad_for(where(eq(bv, 0), 0, mul(g[0], conj(d))), shape_a, da);
          }
          if (need[1]) {
            // d a^b / db = a^b log(a); masked to 0 where a == 0 and b >= 0 (b real and >= 0
            // for a complex b), where the limit is 0 (PyTorch's pow_backward_exponent).
            Tensor nonneg_b = bv.is_complex() ? logical_and(eq(imag(bv), 0), ge(real(bv), 0))
                                              : ge(bv, 0);
            Tensor masked = logical_and(eq(av, 0), nonneg_b);
            Tensor d = mul(so.unpack(), log(av.to(t)));
            gb = grad_for(mul(g[0], where(masked, 0, conj(d))), shape_b, db);
          }
          return {ga, gb};
        });
  }
  return out;
}

Tensor pow(const Tensor& a, Scalar exponent) {
  DType t = detail::scalar_result_type(a, exponent);
  check_pow_dtype(t);
  check(!(is_integral(t, /*include_bool=*/false) && exponent.is_integral() && exponent.to_int() < 0),
        "pow: Integers to negative integer powers are not allowed.");
  Tensor out = binary_kernel(BinaryOp::Pow, a, detail::wrap_scalar(exponent, a), t, t, "pow");
  if (autograd::needs_grad(a)) {
    autograd::SavedTensor sa(a);
    Shape shape = a.sizes();
    DType da = a.dtype();
    bool zero_exponent = exponent.to_complex() == std::complex<double>(0.0, 0.0);
    autograd::record("PowBackward", {&a}, out,
                     [=](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       Tensor av = sa.unpack();
                       if (zero_exponent) return {zeros_like(av)};  // x^0 == 1: no gradient
                       Tensor d = mul(pow(av, minus_one(exponent)), exponent);
                       return {grad_for(mul(g[0], conj(d)), shape, da)};
                     });
  }
  return out;
}

// --- maximum / minimum ---------------------------------------------------------------------------

namespace {

Tensor extremum(const Tensor& a, const Tensor& b, bool is_max, const char* name) {
  DType t = result_type(a, b);
  check(!is_complex(t), "{}: not implemented for complex tensors (got dtype {}).", name, t);
  Tensor out = binary_kernel(is_max ? BinaryOp::Maximum : BinaryOp::Minimum, a, b, t, t, name);
  if (autograd::needs_grad(a, b)) {
    autograd::SavedTensor sa(a), sb(b);
    Shape shape_a = a.sizes(), shape_b = b.sizes();
    DType da = a.dtype(), db = b.dtype();
    autograd::record(
        is_max ? "MaximumBackward" : "MinimumBackward", {&a, &b}, out,
        [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor av = sa.unpack(), bv = sb.unpack();
          // The gradient goes to the winner, split half/half on ties (PyTorch's formula).
          Tensor shared = where(eq(av, bv), mul(g[0], 0.5), g[0]);
          Tensor a_lost = is_max ? lt(av, bv) : gt(av, bv);
          Tensor b_lost = is_max ? gt(av, bv) : lt(av, bv);
          return {need[0] ? grad_for(masked_fill(shared, a_lost, 0), shape_a, da) : Tensor(),
                  need[1] ? grad_for(masked_fill(shared, b_lost, 0), shape_b, db) : Tensor()};
        });
  }
  return out;
}

}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false, "minimum"); }
// The scalar is a 0-dim tensor: at a tie the tensor gets half the gradient, as torch.maximum
// with a 0-dim tensor would give.
Tensor maximum(const Tensor& a, Scalar b) { return maximum(a, detail::wrap_scalar(b, a)); }
Tensor minimum(const Tensor& a, Scalar b) { return minimum(a, detail::wrap_scalar(b, a)); }

// --- comparisons and logical ops (bool results, not differentiable) ------------------------------

namespace {

Tensor compare(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  DType t = result_type(a, b);
  bool ordered = op != BinaryOp::Eq && op != BinaryOp::Ne;
  check(!(ordered && is_complex(t)), "{}: not implemented for complex tensors (got dtype {})",
        name, t);
  return binary_kernel(op, a, b, t, kBool, name);
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ge, a, b, "ge"); }
Tensor eq(const Tensor& a, Scalar b) { return eq(a, detail::wrap_scalar(b, a)); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, detail::wrap_scalar(b, a)); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, detail::wrap_scalar(b, a)); }
Tensor le(const Tensor& a, Scalar b) { return le(a, detail::wrap_scalar(b, a)); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, detail::wrap_scalar(b, a)); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, detail::wrap_scalar(b, a)); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  return binary_kernel(BinaryOp::LogicalAnd, a, b, result_type(a, b), kBool, "logical_and");
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return binary_kernel(BinaryOp::LogicalOr, a, b, result_type(a, b), kBool, "logical_or");
}
Tensor logical_not(const Tensor& a) {
  return detail::unary_kernel(backends::UnaryOp::LogicalNot, a, kBool);
}

// --- where and masked_fill -----------------------------------------------------------------------

namespace {

void check_bool(const Tensor& t, const char* op, const char* what) {
  check(t.dtype() == kBool, "{}: expected {} to be a boolean tensor, but got a tensor with dtype {}",
        op, what, t.dtype());
}

// out = cond ? a : b, broadcasting all three, computed in result_type(a, b). The gradient is
// routed by cond: a gets it where cond holds, b elsewhere (each summed to its own shape).
Tensor where_impl(const Tensor& cond, const Tensor& a, const Tensor& b, const char* name,
                  const char* node_name) {
  check_bool(cond, name, "condition");
  detail::check_same_device(cond, a, name);
  detail::check_same_device(a, b, name);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), name), b.sizes(), name);
  DType t = result_type(a, b);
  Tensor ac = a.detach().to(t), bc = b.detach().to(t);
  Tensor out = empty(shape, TensorOptions(t).device(a.device()));
  if (out.numel() > 0) {
    backend_for(a.device())
        .where(view_of(out), view_of(cond.detach().expand(shape)), view_of(ac.expand(shape)),
               view_of(bc.expand(shape)));
  }
  if (autograd::needs_grad(a, b)) {
    autograd::SavedTensor sc(cond);
    Shape shape_a = a.sizes(), shape_b = b.sizes();
    DType da = a.dtype(), db = b.dtype();
    autograd::record(
        node_name, {&a, &b}, out,
        [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor c = sc.unpack();
          return {need[0] ? grad_for(where(c, g[0], 0), shape_a, da) : Tensor(),
                  need[1] ? grad_for(where(c, 0, g[0]), shape_b, db) : Tensor()};
        });
  }
  return out;
}

Tensor fill_value(const Tensor& x, Scalar value, const char* op) {
  if (value.is_complex() && !x.is_complex()) {
    fail("{}: value ({}, {}) is complex but the tensor's dtype is {}", op,
         value.to_complex().real(), value.to_complex().imag(), x.dtype());
  }
  return scalar_tensor(value, TensorOptions(x.dtype()).device(x.device()));
}

void check_mask(const Tensor& mask, const char* op) {
  check(mask.dtype() == kBool, "{}: only supports boolean masks, but got mask with dtype {}", op,
        mask.dtype());
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return where_impl(cond, a, b, "where", "WhereBackward");
}
Tensor where(const Tensor& cond, const Tensor& a, Scalar b) {
  return where(cond, a, detail::wrap_scalar(b, a));
}
Tensor where(const Tensor& cond, Scalar a, const Tensor& b) {
  return where(cond, detail::wrap_scalar(a, b), b);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
  check_mask(mask, "masked_fill");
  // The fill is a 0-dim tensor of x's dtype, so the result keeps x's dtype (the value is cast).
  return where_impl(mask, fill_value(x, value, "masked_fill"), x, "masked_fill",
                    "MaskedFillBackward");
}

Tensor& masked_fill_(Tensor& self, const Tensor& mask, Scalar value) {
  check_mask(mask, "masked_fill_");
  detail::check_same_device(self, mask, "masked_fill_");
  Shape shape = broadcast_shapes(self.sizes(), mask.sizes(), "masked_fill_");
  check(shape == self.sizes(), "masked_fill_: mask of shape {} cannot be broadcast to self's shape {}",
        mask.sizes(), self.sizes());
  if (autograd::needs_grad(self)) {
    return detail::inplace_with_grad(self, "masked_fill_", [&](const Tensor& old) {
      return masked_fill(old, mask, value);
    });
  }
  Tensor fill = fill_value(self, value, "masked_fill_");
  if (self.numel() > 0) {
    backend_for(self.device())
        .where(view_of(self), view_of(mask.expand(shape)), view_of(fill.expand(shape)),
               view_of(self));
  }
  self.bump_version();
  return self;
}

}  // namespace reel
