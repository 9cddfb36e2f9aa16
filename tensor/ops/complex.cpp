// Complex helpers: conj, complex(real, imag), angle. (real and imag are views:
// tensor/ops/views.cpp.)
#include <cmath>
#include <complex>
#include <numbers>

#include "tensor/ops/elementwise_core.hpp"

namespace reel {

Tensor conj(const Tensor& x) {
  if (!x.is_complex()) return x;  // conj of a real number is itself: no copy, no tape entry
  Tensor out = detail::unary_kernel(backends::UnaryOp::Conj, x, x.dtype());
  if (autograd::needs_grad(x)) {
    // conj is anti-holomorphic: under the conjugate-Wirtinger convention grad_in = conj(grad).
    autograd::record("ConjBackward", {&x}, out,
                     [](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {conj(g[0])};
                     });
  }
  return out;
}

namespace {

// The real (part 0) or imaginary (part 1) half of a complex tensor as a writable real view.
Tensor part_view(const Tensor& z, int part) {
  Strides st = z.strides();
  for (auto& s : st) s *= 2;
  return make_tensor(z.storage(), z.sizes(), st, z.storage_offset() * 2 + part, to_real(z.dtype()));
}

}  // namespace

Tensor complex(const Tensor& re, const Tensor& im) {
  auto is_float = [](DType t) { return t == kFloat32 || t == kFloat64; };
  check(is_float(re.dtype()) && is_float(im.dtype()),
        "complex: Expected both inputs to be Float or Double tensors but got {} and {}",
        re.dtype(), im.dtype());
  check(re.dtype() == im.dtype(),
        "complex: Expected object of scalar type {} but got scalar type {} for argument 'imag'",
        re.dtype(), im.dtype());
  detail::check_same_device(re, im, "complex");
  Shape shape = broadcast_shapes(re.sizes(), im.sizes(), "complex");
  Tensor out = empty(shape, TensorOptions(to_complex(re.dtype())).device(re.device()));
  if (out.numel() > 0) {
    // Write each input into its half of the interleaved (re, im) storage.
    auto& backend = backend_for(re.device());
    backend.copy(view_of(part_view(out, 0)), view_of(re.detach().expand(shape)));
    backend.copy(view_of(part_view(out, 1)), view_of(im.detach().expand(shape)));
  }
  if (autograd::needs_grad(re, im)) {
    Shape shape_re = re.sizes(), shape_im = im.sizes();
    DType dt = re.dtype();
    // out = re + i im: d L/d re = Re(grad), d L/d im = Im(grad).
    autograd::record(
        "ComplexBackward", {&re, &im}, out,
        [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor gre, gim;
          if (need[0]) gre = detail::grad_for(real(g[0]), shape_re, dt);
          if (need[1]) {
            gim = g[0].is_complex() ? detail::grad_for(imag(g[0]), shape_im, dt)
                                    : zeros(shape_im, TensorOptions(dt).device(g[0].device()));
          }
          return {gre, gim};
        });
  }
  return out;
}

// angle: atan2(imag, real) for complex input; 0 or pi for real input (NaN stays NaN), as
// torch.angle. The backend contract has no atan2, and angle is rare, so it is computed on the
// host and copied back to the input's device.
Tensor angle(const Tensor& x) {
  DType in_t = detail::to_inexact(x.dtype());
  DType out_t = to_real(in_t);
  Tensor host = x.detach().to(Device(kCPU)).to(in_t).contiguous();
  Tensor out = empty(x.sizes(), TensorOptions(out_t));
  visit_dtype(in_t, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T> || is_complex_v<T>) {
      using R = decltype(std::abs(T{}));
      const T* src = host.data_ptr<T>();
      R* dst = out.data_ptr<R>();
      for (std::int64_t i = 0; i < out.numel(); ++i) {
        if constexpr (is_complex_v<T>) {
          dst[i] = std::arg(src[i]);
        } else {
          dst[i] = std::isnan(src[i]) ? src[i] : src[i] < 0 ? std::numbers::pi_v<R> : R(0);
        }
      }
    }
  });
  out = out.to(x.device());
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    autograd::record(
        "AngleBackward", {&x}, out,
        [sx](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
          Tensor z = sx.unpack();
          if (!z.is_complex()) return {zeros_like(z)};  // piecewise constant
          // PyTorch's angle_backward: grad * i z / |z|^2, and 0 at z == 0.
          // (d angle/d re = -im/|z|^2, d angle/d im = re/|z|^2, packed as d/d re + i d/d im.)
          Tensor d = mul(div(mul(g[0], z), square(abs(z))), std::complex<double>(0.0, 1.0));
          return {where(eq(z, 0), 0, d)};
        });
  }
  return out;
}

}  // namespace reel
