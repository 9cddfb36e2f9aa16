// Reductions: sum, mean, var/std, prod, max/min/amax (over dims) and max/min/argmax/argmin
// along one dim, any/all. softmax, log_softmax and logsumexp are in tensor/ops/softmax.cpp.
//
// The backend reduces into an output of the input's rank whose reduced dims have extent 1 (the
// "keepdim shape"). The tensor an op hands back is allocated in its final shape and only the
// backend's View of it uses the keepdim shape: dropping extent-1 dims doesn't move memory, so
// keepdim=false costs no reshape and the result is a fresh tensor, not a view.
#include <algorithm>

#include "tensor/ops/elementwise_core.hpp"

namespace reel {

using backends::ArgReduceOp;
using backends::ReduceOp;

namespace {

// Which dims a reduction folds, and the shapes that follow.
struct Reduction {
  std::uint32_t mask = 0;  // bit d set: dim d is reduced
  Shape dims;              // the reduced dims, wrapped, ascending
  Shape keep_shape;        // the input's shape with reduced dims set to 1
  Shape out_shape;         // keep_shape, or with the reduced dims dropped when !keepdim
  std::int64_t count = 1;  // input elements folded into each output element
};

// Empty `dims` reduces every dim. Dims may be negative; a repeated dim is an error (PyTorch's).
Reduction make_reduction(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  Reduction r;
  const int n = x.dim();
  for (auto d : dims) {
    int w = wrap_dim(d, n, op);
    check(((r.mask >> w) & 1u) == 0, "{}: dim {} appears multiple times in the list of dims", op,
          w);
    r.mask |= 1u << w;
  }
  if (dims.empty()) r.mask = ~0u;
  for (int d = 0; d < n; ++d) {
    if ((r.mask >> d) & 1u) {
      r.dims.push_back(d);
      r.keep_shape.push_back(1);
      if (keepdim) r.out_shape.push_back(1);
      r.count *= x.size(d);
    } else {
      r.keep_shape.push_back(x.size(d));
      r.out_shape.push_back(x.size(d));
    }
  }
  return r;
}

// The backend's view of a freshly allocated (contiguous) result, with the keepdim shape.
backends::View keep_view(const Tensor& out, const Shape& keep_shape) {
  return backends::View{out.raw_data(), out.dtype(), keep_shape, contiguous_strides(keep_shape)};
}

// out = op folded over r's dims of x, computed in `dtype` (x is cast first when it differs).
// Any/All give bool. No autograd.
Tensor reduce_kernel(ReduceOp op, const Tensor& x, const Reduction& r, DType dtype) {
  const bool logical = op == ReduceOp::Any || op == ReduceOp::All;
  Tensor in = logical || x.dtype() == dtype ? x : x.detach().to(dtype);
  Tensor out = empty(r.out_shape, TensorOptions(logical ? kBool : dtype).device(x.device()));
  if (out.numel() > 0) {
    backend_for(x.device()).reduce(op, keep_view(out, r.keep_shape), view_of(in));
  }
  return out;
}

// PyTorch's ScalarType names, which its dtype errors print ("Got: Long").
const char* torch_type_name(DType t) {
  switch (t) {
    case DType::Bool: return "Bool";
    case DType::UInt8: return "Byte";
    case DType::Int8: return "Char";
    case DType::Int16: return "Short";
    case DType::Int32: return "Int";
    case DType::Int64: return "Long";
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
    case DType::Complex64: return "ComplexFloat";
    case DType::Complex128: return "ComplexDouble";
    case DType::Float16: return "Half";
    case DType::BFloat16: return "BFloat16";
    case DType::Complex32: return "ComplexHalf";
  }
  return "?";
}

// Sums of bool and every integer dtype are int64 (as PyTorch); inexact dtypes keep theirs.
DType sum_dtype(DType t) { return is_integral(t, /*include_bool=*/true) ? kInt64 : t; }

// max/min of nothing has no value: PyTorch's errors (only when some output would need one).
void check_not_empty(const Tensor& x, const Reduction& r, bool all_dims, const char* op) {
  if (x.numel() != 0 || numel_of(r.out_shape) == 0) return;
  check(!all_dims,
        "{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
        "reduction dim with the 'dim' argument.",
        op);
  for (auto d : r.dims) {
    check(x.size(d) != 0, "{}(): Expected reduction dim {} to have non-zero size.", op, d);
  }
}

// amax/amin and max()/min() over all elements. The gradient is split evenly among the
// elements equal to the extreme (PyTorch's amax/max-all rule), so ties share it.
Tensor extreme(const Tensor& x, const Shape& dims, bool keepdim, bool is_max, const char* op) {
  check(!x.is_complex(), "{}(): does not support complex input (got {})", op, x.dtype());
  Reduction r = make_reduction(x, dims, keepdim, op);
  check_not_empty(x, r, dims.empty(), op);
  Tensor out = reduce_kernel(is_max ? ReduceOp::Max : ReduceOp::Min, x, r, x.dtype());
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x), so(out, /*is_output=*/true);
    autograd::record(is_max ? "AmaxBackward" : "AminBackward", {&x}, out,
                     [sx, so, r](std::span<const Tensor> g,
                                 autograd::GradMask) -> std::vector<Tensor> {
                       Tensor hit = eq(sx.unpack(), so.unpack().reshape(r.keep_shape));
                       Tensor ties = sum(hit, r.dims, /*keepdim=*/true);
                       return {div(mul(g[0].reshape(r.keep_shape), hit), ties)};
                     });
  }
  return out;
}

// (values, indices) of the extreme along `dim`; the first index wins a tie (the backend's
// rule). The gradient goes to that one index.
std::tuple<Tensor, Tensor> arg_extreme(const Tensor& x, std::int64_t dim, bool keepdim,
                                       bool is_max, const char* op) {
  int d = wrap_dim(dim, x.dim(), op);
  check(!x.is_complex(), "{}(): does not support complex input (got {})", op, x.dtype());
  // A 0-dim input is reduced as a [1] tensor (PyTorch accepts dim 0 and -1 there).
  Tensor in = x.dim() == 0 ? x.detach().reshape({1}) : x;
  Shape keep = in.sizes();
  keep[d] = 1;
  Shape out_shape = keep;
  if (!keepdim || x.dim() == 0) out_shape.erase(d);
  Tensor values = empty(out_shape, x.options());
  Tensor indices = empty(out_shape, TensorOptions(kInt64).device(x.device()));
  if (values.numel() > 0) {
    check(in.size(d) != 0, "{}(): Expected reduction dim {} to have non-zero size.", op, d);
    backend_for(x.device())
        .arg_reduce(is_max ? ArgReduceOp::Max : ArgReduceOp::Min, keep_view(values, keep),
                    keep_view(indices, keep), view_of(in), d);
  }
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor si(indices, /*is_output=*/true);
    Shape x_shape = x.sizes();
    std::int64_t n = in.size(d);
    autograd::record(is_max ? "MaxBackward" : "MinBackward", {&x}, values,
                     [=](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       if (x_shape.empty()) return {g[0].reshape(x_shape)};
                       // Scatter g to the winning index: a one-hot mask along d, built by
                       // comparing each position with the saved index.
                       Shape along = Dims::filled(x_shape.size(), 1);
                       along[d] = n;
                       Tensor pos = arange(n, TensorOptions(kInt64).device(g[0].device()));
                       Tensor hit = eq(pos.reshape(along), si.unpack().reshape(keep));
                       return {mul(g[0].reshape(keep), hit)};
                     });
  }
  return {values, indices};
}

// argmax/argmin: along `dim`, or over the flattened input when no dim is given.
Tensor arg_only(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim, bool is_max,
                const char* op) {
  if (dim) return std::get<1>(arg_extreme(x.detach(), *dim, keepdim, is_max, op));
  check(x.numel() != 0,
        "{}(): Expected reduction dim to be specified for input.numel() == 0.", op);
  Tensor flat = x.detach().reshape({x.numel()});
  Tensor index = std::get<1>(arg_extreme(flat, 0, false, is_max, op));
  // keepdim with no dim keeps the rank with every extent 1 (as PyTorch).
  return keepdim ? index.reshape(Dims::filled(x.dim(), 1)) : index;
}

}  // namespace

// --- sum, mean, var, std ----------------------------------------------------------------------

Tensor sum(const Tensor& x) { return sum(x, Shape{}, false); }

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  Reduction r = make_reduction(x, dims, keepdim, "sum");
  Tensor out = reduce_kernel(ReduceOp::Sum, x, r, sum_dtype(x.dtype()));
  if (autograd::needs_grad(x)) {
    Shape x_shape = x.sizes();
    Shape keep = r.keep_shape;
    // d(sum)/dx_i = 1: every input element gets its output element's gradient (broadcast back).
    autograd::record("SumBackward", {&x}, out,
                     [x_shape, keep](std::span<const Tensor> g,
                                     autograd::GradMask) -> std::vector<Tensor> {
                       return {g[0].reshape(keep).expand(x_shape)};
                     });
  }
  return out;
}

Tensor mean(const Tensor& x) { return mean(x, Shape{}, false); }

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  check(is_inexact(x.dtype()),
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        "complex dtype. Got: {}",
        torch_type_name(x.dtype()));
  Reduction r = make_reduction(x, dims, keepdim, "mean");
  // An empty reduction divides 0 by 0: NaN, as PyTorch.
  return div(sum(x, dims, keepdim), Scalar(static_cast<double>(r.count)));
}

namespace {
Tensor var_impl(const Tensor& x, const Shape& dims, std::int64_t correction, bool keepdim,
                const char* op) {
  check(is_inexact(x.dtype()),
        "{}: std and var only support floating point and complex dtypes (got {})", op, x.dtype());
  Reduction r = make_reduction(x, dims, keepdim, op);
  // var = sum |x - mean|^2 / max(0, N - correction); real even for complex x.
  Tensor dev = sub(x, mean(x, dims, /*keepdim=*/true));
  Tensor sq = dev.is_complex() ? add(mul(real(dev), real(dev)), mul(imag(dev), imag(dev)))
                               : mul(dev, dev);
  double divisor = std::max<double>(0.0, static_cast<double>(r.count - correction));
  return div(sum(sq, dims, keepdim), Scalar(divisor));
}
}  // namespace

Tensor var(const Tensor& x, const Shape& dims, std::int64_t correction, bool keepdim) {
  return var_impl(x, dims, correction, keepdim, "var");
}

Tensor std(const Tensor& x, const Shape& dims, std::int64_t correction, bool keepdim) {
  return sqrt(var_impl(x, dims, correction, keepdim, "std"));
}

// --- prod -------------------------------------------------------------------------------------

Tensor prod(const Tensor& x, std::int64_t dim, bool keepdim) {
  Reduction r = make_reduction(x, Shape{dim}, keepdim, "prod");
  Tensor out = reduce_kernel(ReduceOp::Prod, x, r, sum_dtype(x.dtype()));
  if (autograd::needs_grad(x)) {
    autograd::SavedTensor sx(x);
    autograd::record(
        "ProdBackward", {&x}, out,
        [sx, r](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
          // d(prod)/dx_i is the product of the others. Dividing prod by x_i breaks on zeros,
          // so count the zeros of each slice: none -> prod / x_i; exactly one -> the product
          // of the nonzeros at the zero, 0 elsewhere; two or more -> 0 everywhere.
          Tensor xv = sx.unpack();
          Tensor is_zero = eq(xv, Scalar(0));
          Tensor zeros_in_slice = sum(is_zero, r.dims, /*keepdim=*/true);
          Tensor nonzero = add(xv, is_zero);  // the zeros replaced by ones
          Tensor p = prod(nonzero, r.dims.empty() ? 0 : r.dims[0], /*keepdim=*/true);
          Tensor no_zero = mul(div(p, nonzero), eq(zeros_in_slice, Scalar(0)));
          Tensor one_zero = mul(p, logical_and(is_zero, eq(zeros_in_slice, Scalar(1))));
          Tensor others = add(no_zero, one_zero);
          return {mul(g[0].reshape(r.keep_shape), conj(others))};
        });
  }
  return out;
}

// --- extremes ---------------------------------------------------------------------------------

Tensor max(const Tensor& x) { return extreme(x, Shape{}, false, true, "max"); }
Tensor min(const Tensor& x) { return extreme(x, Shape{}, false, false, "min"); }
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) {
  return extreme(x, dims, keepdim, true, "amax");
}

std::tuple<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extreme(x, dim, keepdim, true, "max");
}
std::tuple<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_extreme(x, dim, keepdim, false, "min");
}

Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return arg_only(x, dim, keepdim, true, "argmax");
}
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return arg_only(x, dim, keepdim, false, "argmin");
}

// --- any, all -----------------------------------------------------------------------------------

Tensor any(const Tensor& x) {
  return reduce_kernel(ReduceOp::Any, x, make_reduction(x, Shape{}, false, "any"), x.dtype());
}
Tensor all(const Tensor& x) {
  return reduce_kernel(ReduceOp::All, x, make_reduction(x, Shape{}, false, "all"), x.dtype());
}

}  // namespace reel
