// add, sub, mul, div (tensor and scalar forms, in place) with their backward formulas.
// Complex gradients follow the conjugate-Wirtinger convention: for out = a * b,
// grad_a = grad * conj(b), grad_b = grad * conj(a).
#include "tensor/ops/elementwise_core.hpp"

namespace reel {

using backends::BinaryOp;
using detail::binary_kernel;
using detail::grad_for;

namespace {

// a + alpha * b, or a - alpha * b when `negate`.
Tensor add_impl(const Tensor& a, const Tensor& b, Scalar alpha, bool negate, const char* name) {
  DType t = result_type(a, b);
  check(t != kBool || !negate,
        "{}: Subtraction, the `-` operator, with two bool tensors is not supported.", name);
  bool unit_alpha = !alpha.is_complex() && alpha.to_double() == 1.0;
  Tensor scaled_b = unit_alpha ? b : mul(b.detach(), alpha);
  Tensor out = binary_kernel(negate ? BinaryOp::Sub : BinaryOp::Add, a, scaled_b, t, t, name);
  if (autograd::needs_grad(a, b)) {
    Shape sa = a.sizes(), sb = b.sizes();
    DType da = a.dtype(), db = b.dtype();
    autograd::record(negate ? "SubBackward" : "AddBackward", {&a, &b}, out,
                     [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
                       Tensor gb;
                       if (need[1]) {
                         Scalar conj_alpha =
                             alpha.is_complex() ? Scalar(std::conj(alpha.to_complex())) : alpha;
                         gb = unit_alpha ? g[0] : mul(g[0], conj_alpha);
                         if (negate) gb = neg(gb);
                       }
                       return {need[0] ? grad_for(g[0], sa, da) : Tensor(),
                               need[1] ? grad_for(gb, sb, db) : Tensor()};
                     });
  }
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  return add_impl(a, b, alpha, false, "add");
}
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  return add_impl(a, b, alpha, true, "sub");
}

Tensor mul(const Tensor& a, const Tensor& b) {
  DType t = result_type(a, b);
  Tensor out = binary_kernel(BinaryOp::Mul, a, b, t, t, "mul");
  if (autograd::needs_grad(a, b)) {
    autograd::SavedTensor sa(a), sb(b);
    Shape shape_a = a.sizes(), shape_b = b.sizes();
    DType da = a.dtype(), db = b.dtype();
    autograd::record("MulBackward", {&a, &b}, out,
                     [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
                       return {need[0] ? grad_for(mul(g[0], conj(sb.unpack())), shape_a, da) : Tensor(),
                               need[1] ? grad_for(mul(g[0], conj(sa.unpack())), shape_b, db) : Tensor()};
                     });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  DType t = detail::to_inexact(result_type(a, b));
  Tensor out = binary_kernel(BinaryOp::Div, a, b, t, t, "div");
  if (autograd::needs_grad(a, b)) {
    autograd::SavedTensor sa(a), sb(b);
    Shape shape_a = a.sizes(), shape_b = b.sizes();
    DType da = a.dtype(), db = b.dtype();
    autograd::record(
        "DivBackward", {&a, &b}, out,
        [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor bv = sb.unpack();
          Tensor ga, gb;
          // d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
          if (need[0]) ga = grad_for(div(g[0], conj(bv)), shape_a, da);
          if (need[1]) gb = grad_for(neg(mul(g[0], conj(div(sa.unpack(), mul(bv, bv))))), shape_b, db);
          return {ga, gb};
        });
  }
  return out;
}

// Scalar forms: the scalar is a wrapped 0-dim tensor that doesn't require grad.
Tensor add(const Tensor& a, Scalar b, Scalar alpha) {
  return add(a, detail::wrap_scalar(b, a), alpha);
}
Tensor sub(const Tensor& a, Scalar b, Scalar alpha) {
  return sub(a, detail::wrap_scalar(b, a), alpha);
}
Tensor mul(const Tensor& a, Scalar b) { return mul(a, detail::wrap_scalar(b, a)); }
Tensor div(const Tensor& a, Scalar b) { return div(a, detail::wrap_scalar(b, a)); }
Tensor operator-(Scalar a, const Tensor& b) { return sub(detail::wrap_scalar(a, b), b); }
Tensor operator/(Scalar a, const Tensor& b) { return div(detail::wrap_scalar(a, b), b); }

// In place. Without autograd: the kernel writes into self. With it: see inplace_with_grad.
namespace {
template <typename OutOfPlace>
Tensor& inplace(Tensor& self, const Tensor& o, BinaryOp op, const char* name, OutOfPlace fn) {
  if (autograd::needs_grad(self, o)) {
    return detail::inplace_with_grad(self, name, [&](const Tensor& old) {
      Tensor r = fn(old, o);
      return r.dtype() == self.dtype() ? r : r.to(self.dtype());
    });
  }
  detail::binary_kernel_(op, self, o, name);
  return self;
}
}  // namespace

Tensor& add_(Tensor& self, const Tensor& o, Scalar alpha) {
  bool unit_alpha = !alpha.is_complex() && alpha.to_double() == 1.0;
  if (!unit_alpha) return add_(self, mul(o, alpha));
  return inplace(self, o, BinaryOp::Add, "add_",
                 [](const Tensor& a, const Tensor& b) { return add(a, b); });
}
Tensor& sub_(Tensor& self, const Tensor& o, Scalar alpha) {
  bool unit_alpha = !alpha.is_complex() && alpha.to_double() == 1.0;
  if (!unit_alpha) return sub_(self, mul(o, alpha));
  return inplace(self, o, BinaryOp::Sub, "sub_",
                 [](const Tensor& a, const Tensor& b) { return sub(a, b); });
}
Tensor& mul_(Tensor& self, const Tensor& o) {
  return inplace(self, o, BinaryOp::Mul, "mul_",
                 [](const Tensor& a, const Tensor& b) { return mul(a, b); });
}
Tensor& div_(Tensor& self, const Tensor& o) {
  check(is_inexact(self.dtype()),
        "div_: result type Float can't be cast to the desired output type {}", self.dtype());
  return inplace(self, o, BinaryOp::Div, "div_",
                 [](const Tensor& a, const Tensor& b) { return div(a, b); });
}

}  // namespace reel
