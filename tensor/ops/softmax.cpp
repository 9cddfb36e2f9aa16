// softmax, log_softmax and logsumexp: the reductions through exp. Each is computed stably,
// shifted by the maximum of its slice so exp never overflows, and records one tape entry with
// its own backward formula (cheaper than the tape of the composed forward).
#include <limits>

#include "tensor/ops/elementwise_core.hpp"

namespace reel {

namespace {

void check_floating(const Tensor& x, const char* op) {
  check(is_floating(x.dtype()), "{}: expected a floating point tensor, got {}", op, x.dtype());
}

// The per-slice shift for exp: the slice maximum, or 0 where that is infinite (an all -inf
// slice would otherwise give -inf - -inf = NaN; a +inf one, inf - inf).
Tensor stable_shift(const Tensor& x, const Shape& dims) {
  Tensor m = amax(x, dims, /*keepdim=*/true);
  return where(eq(abs(m), Scalar(std::numeric_limits<double>::infinity())), Scalar(0.0), m);
}

}  // namespace

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  check(!x.is_complex(), "logsumexp: not supported for complex dtype {}", x.dtype());
  // Integers compute in the default float dtype, as PyTorch.
  Tensor xf = x.is_floating_point() ? x.detach() : x.detach().to(kFloat32);
  Tensor out, shift;
  {
    NoGradGuard no_grad;
    // An empty slice sums to 0 and gives -inf; amax would refuse it, so shift by 0 there.
    shift = xf.numel() == 0 ? zeros_like(sum(xf, dims, true)) : stable_shift(xf, dims);
    Tensor s = sum(exp(sub(xf, shift)), dims, keepdim);
    out = add(log(s), keepdim ? shift : shift.reshape(s.sizes()));
  }
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x), so(out, /*is_output=*/true);
    Shape keep = shift.sizes();
    // d(logsumexp)/dx_i = exp(x_i - logsumexp): the softmax of the slice.
    autograd::record("LogsumexpBackward", {&x}, out,
                     [sx, so, keep](std::span<const Tensor> g,
                                    autograd::GradMask) -> std::vector<Tensor> {
                       Tensor y = so.unpack().reshape(keep);
                       return {mul(g[0].reshape(keep), exp(sub(sx.unpack(), y)))};
                     });
  }
  return out;
}

Tensor softmax(const Tensor& x, std::int64_t dim) {
  check_floating(x, "softmax");
  Shape d{wrap_dim(dim, x.dim(), "softmax")};
  Tensor y;
  {
    NoGradGuard no_grad;
    if (x.numel() == 0) {
      y = empty(x.sizes(), x.options());
    } else {
      // A slice of all -inf gives NaN, as in PyTorch (no shift can make 0/0 meaningful).
      Tensor e = exp(sub(x, amax(x, d, /*keepdim=*/true)));
      y = div(e, sum(e, d, /*keepdim=*/true));
    }
  }
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sy(y, /*is_output=*/true);
    // dx = y * (g - sum(g * y)) over the softmax dim (the Jacobian diag(y) - y y^T applied to g).
    autograd::record("SoftmaxBackward", {&x}, y,
                     [sy, d](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       Tensor yv = sy.unpack();
                       return {mul(yv, sub(g[0], sum(mul(g[0], yv), d, /*keepdim=*/true)))};
                     });
  }
  return y;
}

Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  check_floating(x, "log_softmax");
  Shape d{wrap_dim(dim, x.dim(), "log_softmax")};
  Tensor y;
  {
    NoGradGuard no_grad;
    if (x.numel() == 0) {
      y = empty(x.sizes(), x.options());
    } else {
      Tensor z = sub(x, amax(x, d, /*keepdim=*/true));
      y = sub(z, log(sum(exp(z), d, /*keepdim=*/true)));
    }
  }
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sy(y, /*is_output=*/true);
    // dx = g - softmax(x) * sum(g) over the dim, with softmax(x) = exp(y).
    autograd::record("LogSoftmaxBackward", {&x}, y,
                     [sy, d](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {sub(g[0], mul(exp(sy.unpack()), sum(g[0], d, /*keepdim=*/true)))};
                     });
  }
  return y;
}

}  // namespace reel
