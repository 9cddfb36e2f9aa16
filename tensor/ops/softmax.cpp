// softmax, log_softmax and logsumexp: the reductions through exp. Each is computed stably,
// shifted by the maximum of its slice so exp never overflows, and records one tape entry with
// its own backward formula (cheaper than the tape of the composed forward).
#include <limits>

#include "tensor/ops/autocast.hpp"
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

// softmax and log_softmax run as one kernel each (the Softmax / LogSoftmax rows of the op
// table), forward and backward: no amax, exp and sum temporaries.
namespace {

Tensor softmax_op(const Tensor& x0, std::int64_t dim, bool log) {
  const Tensor x = detail::autocast_float32(x0);  // autocast's float32 list
  const char* op = log ? "log_softmax" : "softmax";
  check_floating(x, op);
  const int d = static_cast<int>(wrap_dim(dim, x.dim(), op));
  Tensor y = empty(x.sizes(), x.options());
  if (x.numel() > 0) {
    // A 0-d tensor is one slice of one element.
    const Tensor xv = x.dim() == 0 ? x.detach().reshape({1}) : x.detach();
    const Tensor yv = x.dim() == 0 ? y.reshape({1}) : y;
    backend_for(x.device()).softmax(view_of(yv), view_of(xv), d, log);
  }
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sy(y, /*is_output=*/true);
    autograd::record(log ? "LogSoftmaxBackward" : "SoftmaxBackward", {&x}, y,
                     [sy, d, log](std::span<const Tensor> g,
                                  autograd::GradMask) -> std::vector<Tensor> {
                       Tensor yv = sy.unpack();
                       Tensor gx = empty(yv.sizes(), yv.options());
                       if (gx.numel() == 0) return {gx};
                       const bool scalar = yv.dim() == 0;
                       Tensor go = g[0];
                       backend_for(yv.device())
                           .softmax_backward(view_of(scalar ? gx.reshape({1}) : gx),
                                             view_of(scalar ? go.reshape({1}) : go),
                                             view_of(scalar ? yv.reshape({1}) : yv), d, log);
                       return {gx};
                     });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_op(x, dim, false); }

Tensor log_softmax(const Tensor& x, std::int64_t dim) { return softmax_op(x, dim, true); }

}  // namespace reel
