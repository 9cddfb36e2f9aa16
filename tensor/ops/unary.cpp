// Unary elementwise ops (neg, exp, log, ..., clamp) with their backward formulas.
// Each op computes with a backend UnaryOp (or BinaryOp) kernel, then records one tape entry.
// Complex gradients follow the conjugate-Wirtinger convention (PyTorch's): for a holomorphic
// f, grad_in = grad_out * conj(f'(z)).
#include <numbers>

#include "tensor/ops/elementwise_core.hpp"

namespace reel {

using backends::BinaryOp;
using backends::UnaryOp;

namespace {

// Float math (exp, sin, ...): int64 and bool inputs compute in float32, as in PyTorch.
Tensor float_kernel(UnaryOp op, const Tensor& x) {
  DType t = detail::to_inexact(x.dtype());
  Tensor xc = x.dtype() == t ? x : x.detach().to(t);
  return detail::unary_kernel(op, xc, t);
}

void reject_complex(const Tensor& x, const char* op) {
  check(!x.is_complex(), "{}: not implemented for complex tensors (got dtype {})", op, x.dtype());
}

// PyTorch has no integer kernels for these activations ("GeluKernelImpl" not implemented for
// 'Long'); say so instead of silently promoting.
void require_floating(const Tensor& x, const char* op) {
  reject_complex(x, op);
  check(x.is_floating_point(), "{}: expected a floating point tensor, got dtype {}", op,
        x.dtype());
}

// Records the entry of a one-input op when needed; `grad_of(g)` maps the output's gradient to
// the input's (before grad_for casts it back to the input's dtype).
template <typename F>
void record_unary(const char* name, const Tensor& x, Tensor& out, F grad_of) {
  if (!autograd::needs_grad(x)) return;
  Shape shape = x.sizes();
  DType dtype = x.dtype();
  autograd::record(name, {&x}, out,
                   [shape, dtype, grad_of = std::move(grad_of)](
                       std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                     return {detail::grad_for(grad_of(g[0]), shape, dtype)};
                   });
}

// A BinaryOp backward helper (relu_backward, ...) applied to (grad, saved).
Tensor backward_kernel(BinaryOp op, const Tensor& g, const Tensor& saved, const char* name) {
  return detail::binary_kernel(op, g, saved, saved.dtype(), saved.dtype(), name);
}

}  // namespace

Tensor neg(const Tensor& x) {
  check(x.dtype() != kBool,
        "neg: Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
        "to invert a mask, use the `~` or `logical_not()` operator instead.");
  Tensor out = detail::unary_kernel(UnaryOp::Neg, x, x.dtype());
  record_unary("NegBackward", x, out, [](const Tensor& g) { return neg(g); });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Exp, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor so(out, /*is_output=*/true);
    record_unary("ExpBackward", x, out,
                 [so](const Tensor& g) { return mul(g, conj(so.unpack())); });
  }
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Log, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    record_unary("LogBackward", x, out, [sx](const Tensor& g) { return div(g, conj(sx.unpack())); });
  }
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Sqrt, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor so(out, true);
    // d sqrt(z) = 1 / (2 sqrt(z))
    record_unary("SqrtBackward", x, out,
                 [so](const Tensor& g) { return div(g, mul(conj(so.unpack()), 2)); });
  }
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = detail::unary_kernel(UnaryOp::Abs, x, to_real(x.dtype()));
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    // PyTorch's abs_backward: grad * sgn(x), with sgn(z) = z / |z| (0 at 0) for complex z.
    record_unary("AbsBackward", x, out, [sx](const Tensor& g) {
      Tensor xv = sx.unpack();
      return mul(g, detail::unary_kernel(UnaryOp::Sign, xv, xv.dtype()));
    });
  }
  return out;
}

Tensor sin(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Sin, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    record_unary("SinBackward", x, out,
                 [sx](const Tensor& g) { return mul(g, conj(cos(sx.unpack()))); });
  }
  return out;
}

Tensor cos(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Cos, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    record_unary("CosBackward", x, out,
                 [sx](const Tensor& g) { return neg(mul(g, conj(sin(sx.unpack())))); });
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Tanh, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor so(out, true);
    record_unary("TanhBackward", x, out, [so](const Tensor& g) {
      return backward_kernel(BinaryOp::TanhBackward, g, so.unpack(), "tanh_backward");
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Sigmoid, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor so(out, true);
    record_unary("SigmoidBackward", x, out, [so](const Tensor& g) {
      return backward_kernel(BinaryOp::SigmoidBackward, g, so.unpack(), "sigmoid_backward");
    });
  }
  return out;
}

Tensor relu(const Tensor& x) {
  reject_complex(x, "relu");
  check(x.dtype() != kBool, "relu: not implemented for bool tensors");
  Tensor out = detail::unary_kernel(UnaryOp::Relu, x, x.dtype());
  if (autograd::needs_grad(x)) {
    // As PyTorch (threshold_backward on the result): the gradient passes where out > 0.
    autograd::SavedTensor so(out, true);
    record_unary("ReluBackward", x, out, [so](const Tensor& g) {
      return backward_kernel(BinaryOp::ReluBackward, g, so.unpack(), "relu_backward");
    });
  }
  return out;
}

Tensor gelu(const Tensor& x) {
  require_floating(x, "gelu");
  Tensor out = detail::unary_kernel(UnaryOp::Gelu, x, x.dtype());
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    record_unary("GeluBackward", x, out, [sx](const Tensor& g) {
      return backward_kernel(BinaryOp::GeluBackward, g, sx.unpack(), "gelu_backward");
    });
  }
  return out;
}

Tensor silu(const Tensor& x) {
  require_floating(x, "silu");
  Tensor out = detail::unary_kernel(UnaryOp::Silu, x, x.dtype());
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    record_unary("SiluBackward", x, out, [sx](const Tensor& g) {
      return backward_kernel(BinaryOp::SiluBackward, g, sx.unpack(), "silu_backward");
    });
  }
  return out;
}

Tensor erf(const Tensor& x) {
  reject_complex(x, "erf");
  Tensor out = float_kernel(UnaryOp::Erf, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    // d erf(x) = 2 / sqrt(pi) * exp(-x^2)
    record_unary("ErfBackward", x, out, [sx](const Tensor& g) {
      Tensor xv = sx.unpack();
      return mul(g, mul(exp(neg(square(xv))), 2.0 * std::numbers::inv_sqrtpi));
    });
  }
  return out;
}

Tensor sign(const Tensor& x) {
  check(!x.is_complex(),
        "sign: Unlike NumPy, torch.sign is not intended to support complex numbers. Please use "
        "torch.sgn instead. (got dtype {})",
        x.dtype());
  Tensor out = detail::unary_kernel(UnaryOp::Sign, x, x.dtype());
  // Piecewise constant: differentiable with a zero gradient, as in PyTorch.
  record_unary("SignBackward", x, out, [](const Tensor& g) { return zeros_like(g); });
  return out;
}

Tensor reciprocal(const Tensor& x) {
  Tensor out = float_kernel(UnaryOp::Reciprocal, x);
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor so(out, true);
    // d (1/z) = -1/z^2 = -out^2
    record_unary("ReciprocalBackward", x, out, [so](const Tensor& g) {
      return neg(mul(g, conj(square(so.unpack()))));
    });
  }
  return out;
}

Tensor square(const Tensor& x) {
  // PyTorch's square is pow(x, 2): a bool tensor squares to int64.
  Tensor xc = x.dtype() == kBool ? x.to(kInt64) : x;
  Tensor out = detail::binary_kernel(BinaryOp::Mul, xc, xc, xc.dtype(), xc.dtype(), "square");
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    record_unary("SquareBackward", x, out,
                 [sx](const Tensor& g) { return mul(g, mul(conj(sx.unpack()), 2)); });
  }
  return out;
}

Tensor isnan(const Tensor& x) { return detail::unary_kernel(UnaryOp::IsNan, x, kBool); }

// --- clamp ---------------------------------------------------------------------------------------

namespace {

void check_clamp_args(const Tensor& x, const std::optional<Scalar>& lo,
                      const std::optional<Scalar>& hi, const char* op) {
  check(lo.has_value() || hi.has_value(), "{}: At least one of 'min' or 'max' must not be None",
        op);
  reject_complex(x, op);
  check(!(lo && lo->is_complex()) && !(hi && hi->is_complex()),
        "{}: complex bounds are not supported", op);
}

// The dtype PyTorch computes clamp in: the tensor promoted with each bound (int64 x with a
// 0.5 bound clamps in float32).
DType clamp_dtype(const Tensor& x, const std::optional<Scalar>& lo, const std::optional<Scalar>& hi) {
  DType t = x.dtype();
  if (lo) t = promote_types(t, detail::scalar_result_type(x, *lo));
  if (hi) t = promote_types(t, detail::scalar_result_type(x, *hi));
  return t;
}

Tensor bound_tensor(Scalar v, DType t, const Tensor& like) {
  return scalar_tensor(v, TensorOptions(t).device(like.device()));
}

}  // namespace

Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  check_clamp_args(x, lo, hi, "clamp");
  DType t = clamp_dtype(x, lo, hi);
  // max(x, lo) then min(., hi): NaN propagates, and lo > hi gives hi everywhere, as in PyTorch.
  Tensor out = x;
  if (lo) out = detail::binary_kernel(BinaryOp::Maximum, out, bound_tensor(*lo, t, x), t, t, "clamp");
  if (hi) out = detail::binary_kernel(BinaryOp::Minimum, out, bound_tensor(*hi, t, x), t, t, "clamp");
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    // PyTorch's clamp_backward: the gradient passes where lo <= x <= hi (so not at NaN).
    record_unary("ClampBackward", x, out, [sx, lo, hi](const Tensor& g) {
      Tensor xv = sx.unpack();
      Tensor inside;
      if (lo) inside = ge(xv, *lo);
      if (hi) inside = inside.defined() ? logical_and(inside, le(xv, *hi)) : le(xv, *hi);
      return where(inside, g, 0);
    });
  }
  return out;
}

Tensor& clamp_(Tensor& self, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  check_clamp_args(self, lo, hi, "clamp_");
  if (autograd::needs_grad(self)) {
    return detail::inplace_with_grad(self, "clamp_",
                                     [&](const Tensor& old) { return clamp(old, lo, hi); });
  }
  DType t = clamp_dtype(self, lo, hi);
  check(can_cast(t, self.dtype()), "clamp_: result type {} can't be cast to the desired output type {}",
        t, self.dtype());
  if (lo) detail::binary_kernel_(BinaryOp::Maximum, self, bound_tensor(*lo, self.dtype(), self), "clamp_");
  if (hi) detail::binary_kernel_(BinaryOp::Minimum, self, bound_tensor(*hi, self.dtype(), self), "clamp_");
  return self;
}

}  // namespace reel
