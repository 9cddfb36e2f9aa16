#include "tensor/ops/elementwise_core.hpp"

namespace reel {

namespace {
using Category = DTypeCategory;
}  // namespace

// PyTorch's result_type: a dimensioned tensor's dtype wins within a category; a 0-dim tensor
// only raises the result when it is of a higher category.
DType result_type(const Tensor& a, const Tensor& b) {
  bool a0 = a.dim() == 0, b0 = b.dim() == 0;
  if (a0 == b0) return promote_types(a.dtype(), b.dtype());
  DType dim_t = a0 ? b.dtype() : a.dtype();
  DType zero_t = a0 ? a.dtype() : b.dtype();
  if (category(zero_t) > category(dim_t)) {
    // e.g. int64 tensor + float64 0-dim -> float64 0-dim's dtype; float32 + complex128 0-dim
    // -> complex64 (the dimensioned tensor's precision, complexified).
    if (category(zero_t) == Category::Complex && category(dim_t) == Category::Floating) {
      return to_complex(dim_t);
    }
    return zero_t;
  }
  return dim_t;
}

DType result_type(const Tensor& a, Scalar b) { return detail::scalar_result_type(a, b); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int n = std::max(a.size(), b.size());
  Shape out = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    std::int64_t x = i - (n - a.size()) >= 0 ? a[i - (n - a.size())] : 1;
    std::int64_t y = i - (n - b.size()) >= 0 ? b[i - (n - b.size())] : 1;
    check(x == y || x == 1 || y == 1,
          "{}: The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton "
          "dimension {} (shapes {} and {})",
          op, x, y, i, a, b);
    out[i] = x == 1 ? y : x;
  }
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.sizes() == shape) return grad;
  int lead = grad.dim() - shape.size();
  Shape dims;
  for (int i = 0; i < grad.dim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && grad.size(i) != 1)) dims.push_back(i);
  }
  Tensor s = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

namespace detail {

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  check(a.device() == b.device(),
        "{}: Expected all tensors to be on the same device, but found at least two devices, {} "
        "and {}!",
        op, a.device(), b.device());
}

DType scalar_result_type(const Tensor& t, Scalar value) {
  Category tc = category(t.dtype());
  Category sc = value.is_complex() ? Category::Complex
                : value.is_floating() ? Category::Floating
                : value.kind() == Scalar::Kind::Bool ? Category::Bool : Category::Integral;
  if (sc <= tc) return t.dtype();
  if (sc == Category::Complex) return tc == Category::Floating ? to_complex(t.dtype()) : kComplex64;
  if (sc == Category::Floating) return kFloat32;  // the default dtype
  return kInt64;                                  // bool tensor + int
}

Tensor wrap_scalar(Scalar value, const Tensor& like) {
  return scalar_tensor(value, TensorOptions(scalar_result_type(like, value)).device(like.device()));
}

Tensor binary_kernel(backends::BinaryOp op, const Tensor& a, const Tensor& b, DType compute,
                     DType out_dtype, const char* name) {
  check_same_device(a, b, name);
  Shape shape = a.sizes() == b.sizes() ? a.sizes() : broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor ac = a.dtype() == compute ? a : a.detach().to(compute);
  Tensor bc = b.dtype() == compute ? b : b.detach().to(compute);
  Tensor out = empty(shape, TensorOptions(out_dtype).device(a.device()));
  if (out.numel() == 0) return out;
  backends::View av = view_of(ac), bv = view_of(bc);
  if (ac.sizes() != shape) av = view_of(ac.detach().expand(shape));
  if (bc.sizes() != shape) bv = view_of(bc.detach().expand(shape));
  backend_for(a.device()).binary(op, view_of(out), av, bv);
  return out;
}

void binary_kernel_(backends::BinaryOp op, Tensor& self, const Tensor& b, const char* name) {
  check_same_device(self, b, name);
  Shape shape = broadcast_shapes(self.sizes(), b.sizes(), name);
  check(shape == self.sizes(),
        "{}: output with shape {} doesn't match the broadcast shape {}", name, self.sizes(), shape);
  DType compute = promote_types(self.dtype(), b.dtype());
  check(can_cast(compute, self.dtype()),
        "{}: result type {} can't be cast to the desired output type {}", name, compute,
        self.dtype());
  Tensor bc = b.detach().to(self.dtype());
  if (bc.sizes() != shape) bc = bc.expand(shape);
  backend_for(self.device()).binary(op, view_of(self), view_of(self), view_of(bc));
  self.bump_version();
}

Tensor grad_for(const Tensor& g, const Shape& shape, DType dtype) {
  Tensor r = sum_to(g, shape);
  if (r.is_complex() && !is_complex(dtype)) r = real(r);
  return r.dtype() == dtype ? r : r.to(dtype);
}

Tensor unary_kernel(backends::UnaryOp op, const Tensor& x, DType out_dtype) {
  Tensor out = empty(x.sizes(), TensorOptions(out_dtype).device(x.device()));
  if (out.numel() > 0) backend_for(x.device()).unary(op, view_of(out), view_of(x));
  return out;
}

Tensor& inplace_with_grad(Tensor& self, const char* op,
                          const std::function<Tensor(const Tensor&)>& fn) {
  TensorImpl& impl = self.impl();
  check(!(self.is_leaf() && self.requires_grad()),
        "{}: a leaf Variable that requires grad is being used in an in-place operation.", op);
  if (impl.view_base) return inplace_on_view(self, op, /*needs_old=*/true, fn);
  check_inplace_view(self, op);
  // The old value, on its own storage, carrying self's place on the tape.
  Tensor old = self.detach().clone();
  old.impl().grad_fn = impl.grad_fn;
  old.impl().output_nr = impl.output_nr;
  old.impl().requires_grad = impl.requires_grad;
  Tensor result = fn(old);
  check(result.sizes() == self.sizes(),
        "{}: output with shape {} doesn't match the broadcast shape {}", op, self.sizes(),
        result.sizes());
  check(result.dtype() == self.dtype(),
        "{}: result type {} can't be cast to the desired output type {}", op, result.dtype(),
        self.dtype());
  backend_for(self.device()).copy(view_of(self), view_of(result));
  self.bump_version();
  std::shared_ptr<autograd::Node> previous = std::move(impl.grad_fn);
  impl.grad_fn = result.impl().grad_fn;
  impl.output_nr = result.impl().output_nr;
  impl.requires_grad = result.requires_grad();
  if (impl.grad_fn) {
    // The entry's output metadata now describes self.
    impl.grad_fn->outputs[impl.output_nr].shape = impl.shape;
    autograd::move_retained_grad(self.impl_ptr(), previous.get());
  }
  return self;
}

}  // namespace detail
}  // namespace reel
