// The members of Tensor that compute or record a tape entry: copies and conversions (clone, to,
// contiguous, copy_), fill_, and the member forms of the math ops. Their declarations are in
// tensor/tensor.hpp (the core); they are defined here, above autograd's tape, because they
// record on it. View members are in tensor/ops/views.cpp.
#include "autograd/record.hpp"
#include "tensor/ops.hpp"
#include "tensor/ops/elementwise_core.hpp"

namespace reel {

// --- copies and conversions ---------------------------------------------------------------------

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = detail::copy_as(*this, dtype());
  if (autograd::needs_grad(*this)) {
    autograd::record("CloneBackward", {this}, out,
                     [](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {g[0]};
                     });
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = detail::copy_as(*this, target);
  if (autograd::needs_grad(*this)) {
    check(is_inexact(target), "to: cannot convert a tensor that requires grad to {}", target);
    DType from = dtype();
    autograd::record("ToCopyBackward", {this}, out,
                     [from](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       // real -> complex: the gradient of the real input is the real part.
                       return {g[0].to(from)};
                     });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = detail::copy_to_device(*this, target);
  if (autograd::needs_grad(*this)) {
    Device from = device();
    autograd::record("ToDeviceBackward", {this}, out,
                     [from](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {g[0].to(from)};
                     });
  }
  return out;
}

Tensor Tensor::to(Device target, DType target_dtype) const { return to(target).to(target_dtype); }

namespace {
// copy_'s value with autograd: src broadcast to `shape` and cast to `dtype`, as a new tensor
// whose entry sends the gradient to src only.
Tensor copied_from(const Tensor& src, const Shape& shape, DType dtype) {
  Tensor out = detail::copy_as(src.detach().expand(shape), dtype);
  if (src.requires_grad()) {
    Shape src_shape = src.sizes();
    DType src_dtype = src.dtype();
    autograd::record("CopyBackward", {&src}, out,
                     [src_shape, src_dtype](std::span<const Tensor> g,
                                            autograd::GradMask) -> std::vector<Tensor> {
                       return {sum_to(g[0], src_shape).to(src_dtype)};
                     });
  }
  return out;
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check(src.device() == device(), "copy_: expected src on {} (self's device), got {}", device(),
        src.device());
  Shape b = broadcast_shapes(sizes(), src.sizes(), "copy_");
  check(b == sizes(), "copy_: src of shape {} cannot be broadcast to self's shape {}", src.sizes(),
        sizes());
  bool record = autograd::needs_grad(*this, src);
  if (record) {
    check(!(is_leaf() && requires_grad()),
          "copy_: a leaf Variable that requires grad is being used in an in-place operation.");
    if (impl().view_base) {
      return detail::inplace_on_view(*this, "copy_", /*needs_old=*/false, [&](const Tensor&) {
        return copied_from(src, sizes(), dtype());
      });
    }
    detail::check_inplace_view(*this, "copy_");
  }
  backend_for(device()).copy(view_of(*this), view_of(src.expand(sizes())));
  bump_version();
  if (record) {
    Shape src_shape = src.sizes();
    DType src_dtype = src.dtype();
    // self's old history is overwritten: its gradient flows only to src.
    std::shared_ptr<autograd::Node> previous = std::move(impl().grad_fn);
    autograd::record("CopyBackward", {&src}, *this,
                     [src_shape, src_dtype](std::span<const Tensor> g,
                                            autograd::GradMask) -> std::vector<Tensor> {
                       return {sum_to(g[0], src_shape).to(src_dtype)};
                     });
    autograd::move_retained_grad(impl_ptr(), previous.get());
  }
  return *this;
}

// --- member forms of the ops --------------------------------------------------------------------

Tensor Tensor::add(const Tensor& o, Scalar alpha) const { return reel::add(*this, o, alpha); }
Tensor Tensor::sub(const Tensor& o, Scalar alpha) const { return reel::sub(*this, o, alpha); }
Tensor Tensor::mul(const Tensor& o) const { return reel::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return reel::div(*this, o); }
Tensor Tensor::pow(const Tensor& o) const { return reel::pow(*this, o); }
Tensor Tensor::pow(Scalar e) const { return reel::pow(*this, e); }
Tensor Tensor::neg() const { return reel::neg(*this); }
Tensor Tensor::exp() const { return reel::exp(*this); }
Tensor Tensor::log() const { return reel::log(*this); }
Tensor Tensor::sqrt() const { return reel::sqrt(*this); }
Tensor Tensor::abs() const { return reel::abs(*this); }
Tensor Tensor::sin() const { return reel::sin(*this); }
Tensor Tensor::cos() const { return reel::cos(*this); }
Tensor Tensor::tanh() const { return reel::tanh(*this); }
Tensor Tensor::sigmoid() const { return reel::sigmoid(*this); }
Tensor Tensor::relu() const { return reel::relu(*this); }
Tensor Tensor::clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const {
  return reel::clamp(*this, lo, hi);
}
Tensor Tensor::matmul(const Tensor& o) const { return reel::matmul(*this, o); }
Tensor Tensor::sum() const { return reel::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return reel::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return reel::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return reel::mean(*this, dims, keepdim);
}
Tensor Tensor::max() const { return reel::max(*this); }
Tensor Tensor::min() const { return reel::min(*this); }
Tensor Tensor::argmax(std::optional<std::int64_t> dim, bool keepdim) const {
  return reel::argmax(*this, dim, keepdim);
}
Tensor Tensor::softmax(std::int64_t dim) const { return reel::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return reel::log_softmax(*this, dim); }
Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return reel::masked_fill(*this, mask, value);
}
Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const {
  return reel::index_select(*this, dim, index);
}
Tensor Tensor::gather(std::int64_t dim, const Tensor& index) const {
  return reel::gather(*this, dim, index);
}
Tensor Tensor::real() const { return reel::real(*this); }
Tensor Tensor::imag() const { return reel::imag(*this); }
Tensor Tensor::conj() const { return reel::conj(*this); }

Tensor& Tensor::add_(const Tensor& o, Scalar alpha) { return reel::add_(*this, o, alpha); }
Tensor& Tensor::add_(Scalar o) { return reel::add_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::sub_(const Tensor& o, Scalar alpha) { return reel::sub_(*this, o, alpha); }
Tensor& Tensor::sub_(Scalar o) { return reel::sub_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::mul_(const Tensor& o) { return reel::mul_(*this, o); }
Tensor& Tensor::mul_(Scalar o) { return reel::mul_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::div_(const Tensor& o) { return reel::div_(*this, o); }
Tensor& Tensor::div_(Scalar o) { return reel::div_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::zero_() { return fill_(0); }
Tensor& Tensor::fill_(Scalar value) {
  bool grad = autograd::needs_grad(*this);
  check(!(grad && is_leaf()),
        "fill_: a leaf Variable that requires grad is being used in an in-place operation.");
  if (grad && impl().view_base) {
    // The region's new value depends on nothing: CopySlices sends zeros there.
    return detail::inplace_on_view(*this, "fill_", /*needs_old=*/false, [&](const Tensor&) {
      Tensor filled = empty(sizes(), options());
      backend_for(device()).fill(view_of(filled), value);
      return filled;
    });
  }
  if (grad) detail::check_inplace_view(*this, "fill_");
  backend_for(device()).fill(view_of(*this), value);
  bump_version();
  if (grad) {
    // The old values are gone: nothing flows back through a fill.
    impl().grad_fn.reset();
    impl().requires_grad = false;
  }
  return *this;
}
Tensor& Tensor::clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi) {
  return reel::clamp_(*this, lo, hi);
}
Tensor& Tensor::masked_fill_(const Tensor& mask, Scalar value) {
  return reel::masked_fill_(*this, mask, value);
}

}  // namespace reel
