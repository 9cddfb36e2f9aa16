// Indexing along one dim: index_select, gather, scatter_add, embedding.
//
// Each op validates dtypes, ranks and shapes, reads its int64 index to the host to check the
// bounds (an out-of-range index is a clear error naming the value, never a wild read or write
// in a kernel), then calls the backend primitive. The backward formulas pair the primitives
// with their adjoints:
//   index_select  <->  index_add into zeros
//   gather        <->  scatter_add into zeros
//   scatter_add   ->   x: the gradient itself;  src: gather of the gradient
// masked_fill lives with the elementwise ops.
#include <string>

#include "tensor/ops/elementwise_core.hpp"

namespace reel {

namespace {

void check_index_dtype(const Tensor& index, const char* op) {
  check(index.dtype() == kInt64, "{}: Expected dtype int64 for index, got {}", op, index.dtype());
}

// Every index value in [0, size), read on the host (the index may live on any device).
void check_bounds(const Tensor& index, std::int64_t size, int dim, const char* op) {
  if (index.numel() == 0) return;
  for (std::int64_t v : index.to_vector<std::int64_t>()) {
    check(v >= 0 && v < size, "{}: index {} is out of bounds for dimension {} with size {}", op, v,
          dim, size);
  }
}

// gather and scatter_add treat a 0-dim tensor as 1-D of one element, as PyTorch does.
Tensor as_1d_if_scalar(const Tensor& t) { return t.dim() == 0 ? t.reshape({1}) : t; }

// The block of `t` at the origin with extents `shape` (a view).
Tensor leading_block(const Tensor& t, const Shape& shape) {
  Tensor b = t;
  for (int k = 0; k < b.dim(); ++k) b = b.narrow(k, 0, shape[k]);
  return b;
}

// The forward of index_select with the bounds already checked (embedding checks them itself,
// with its own message). Records IndexSelectBackward.
Tensor index_select_unchecked(const Tensor& x, int d, const Tensor& index) {
  Shape shape = x.sizes();
  shape[d] = index.numel();
  Tensor out = empty(shape, x.options());
  if (out.numel() > 0) {
    backend_for(x.device()).index_select(view_of(out), view_of(x), d, view_of(index));
  }
  if (autograd::needs_grad(x)) {
    Shape x_shape = x.sizes();
    autograd::record(
        "IndexSelectBackward", {&x}, out,
        [x_shape, d, si = autograd::SavedTensor(index)](
            std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
          // index_add accumulates in index order, so repeated indices sum their gradients.
          Tensor grad = zeros(x_shape, g[0].options());
          Tensor idx = si.unpack();
          if (g[0].numel() > 0) {
            backend_for(grad.device()).index_add(view_of(grad), d, view_of(idx), view_of(g[0]));
          }
          return {grad};
        });
  }
  return out;
}

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  const char* op = "index_select()";
  check_index_dtype(index, op);
  check(index.dim() <= 1, "{}: Index is supposed to be a vector, got index of shape {}", op,
        index.sizes());
  detail::check_same_device(x, index, op);
  if (x.dim() == 0) {
    // A 0-dim input has one element along its only (implicit) dim; the result stays 0-dim.
    check(index.numel() == 1, "{}: Index to scalar can have only 1 value, got {} value(s)", op,
          index.numel());
    wrap_dim(dim, 0, op);
    return index_select(x.reshape({1}), 0, index).reshape({});
  }
  int d = wrap_dim(dim, x.dim(), op);
  check_bounds(index, x.size(d), d, op);
  return index_select_unchecked(x, d, index);
}

Tensor gather(const Tensor& x_in, std::int64_t dim, const Tensor& index_in) {
  const char* op = "gather()";
  check_index_dtype(index_in, op);
  detail::check_same_device(x_in, index_in, op);
  const Tensor x = as_1d_if_scalar(x_in), index = as_1d_if_scalar(index_in);
  check(index.dim() == x.dim(),
        "{}: Index tensor must have the same number of dimensions as input tensor (index "
        "shape {}, input shape {})",
        op, index_in.sizes(), x_in.sizes());
  int d = wrap_dim(dim, x.dim(), op);
  for (int k = 0; k < x.dim(); ++k) {
    check(k == d || index.size(k) <= x.size(k),
          "{}: Size does not match at dimension {} expected index {} to be smaller than self {} "
          "apart from dimension {}",
          op, k, index.sizes(), x.sizes(), d);
  }
  check_bounds(index, x.size(d), d, op);

  Tensor out = empty(index.sizes(), x.options());
  if (out.numel() > 0) {
    backend_for(x.device()).gather(view_of(out), view_of(x), d, view_of(index));
  }
  if (autograd::needs_grad(x)) {
    Shape x_shape = x.sizes();
    autograd::record(
        "GatherBackward", {&x}, out,
        [x_shape, d, si = autograd::SavedTensor(index)](
            std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
          Tensor grad = zeros(x_shape, g[0].options());
          Tensor idx = si.unpack();
          if (g[0].numel() > 0) {
            backend_for(grad.device()).scatter_add(view_of(grad), d, view_of(idx), view_of(g[0]));
          }
          return {grad};
        });
  }
  return index_in.dim() == 0 ? out.reshape({}) : out;
}

Tensor scatter_add(const Tensor& x_in, std::int64_t dim, const Tensor& index_in,
                   const Tensor& src_in) {
  const char* op = "scatter_add()";
  check_index_dtype(index_in, op);
  detail::check_same_device(x_in, index_in, op);
  detail::check_same_device(x_in, src_in, op);
  check(x_in.dtype() == src_in.dtype(),
        "{}: Expected self.dtype to be equal to src.dtype (got self {} and src {})", op,
        x_in.dtype(), src_in.dtype());
  const Tensor x = as_1d_if_scalar(x_in), index = as_1d_if_scalar(index_in),
               src = as_1d_if_scalar(src_in);
  check(index.dim() == x.dim() && src.dim() == x.dim(),
        "{}: Index tensor must have the same number of dimensions as self and src tensors "
        "(self shape {}, index shape {}, src shape {})",
        op, x_in.sizes(), index_in.sizes(), src_in.sizes());
  int d = wrap_dim(dim, x.dim(), op);
  for (int k = 0; k < x.dim(); ++k) {
    check((k == d || index.size(k) <= x.size(k)) && index.size(k) <= src.size(k),
          "{}: Expected index {} to be smaller than self {} apart from dimension {} and to be "
          "smaller size than src {}",
          op, index.sizes(), x.sizes(), d, src.sizes());
  }
  check_bounds(index, x.size(d), d, op);

  // The backend walks index's shape; only the leading index-shaped block of src is used.
  const bool src_is_index_shaped = src.sizes() == index.sizes();
  const Shape index_shape = index.sizes();

  Tensor out;
  {
    NoGradGuard guard;  // the forward is plumbing; the tape entry is recorded below
    out = x.clone();
    if (index.numel() > 0) {
      Tensor block = src_is_index_shaped ? src : leading_block(src, index_shape);
      backend_for(x.device()).scatter_add(view_of(out), d, view_of(index), view_of(block));
    }
  }
  if (autograd::needs_grad(x, src)) {
    Shape src_shape = src.sizes();
    autograd::record(
        "ScatterAddBackward", {&x, &src}, out,
        [d, src_shape, index_shape, src_is_index_shaped, si = autograd::SavedTensor(index)](
            std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor gsrc;
          if (need[1]) {
            // Bounds were checked in the forward: gather with the backend directly.
            Tensor picked = empty(index_shape, g[0].options());
            if (picked.numel() > 0) {
              backend_for(picked.device()).gather(view_of(picked), view_of(g[0]), d,
                                                  view_of(si.unpack()));
            }
            if (src_is_index_shaped) {
              gsrc = picked;
            } else {  // src elements outside the index's block never reached the output
              gsrc = zeros(src_shape, g[0].options());
              leading_block(gsrc, index_shape).copy_(picked);
            }
          }
          return {need[0] ? g[0] : Tensor(), gsrc};
        });
  }
  return x_in.dim() == 0 ? out.reshape({}) : out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  check(weight.dim() == 2, "embedding: 'weight' must be 2-D, got shape {}", weight.sizes());
  check(indices.dtype() == kInt64,
        "embedding: Expected tensor for argument #1 'indices' to have scalar type int64, but "
        "got {}",
        indices.dtype());
  detail::check_same_device(weight, indices, "embedding");
  const std::int64_t num = weight.size(0);
  if (indices.numel() > 0) {
    for (std::int64_t v : indices.to_vector<std::int64_t>()) {
      check(v >= 0 && v < num,
            "embedding: index {} is out of range for num_embeddings {} (weight of shape {})", v,
            num, weight.sizes());
    }
  }
  Shape shape = indices.sizes();
  check(shape.size() < kMaxDims,
        "embedding: indices of shape {} would give a result of more than {} dimensions", shape,
        kMaxDims);
  shape.push_back(weight.size(1));
  // IndexSelectBackward's index_add sums the gradient of repeated rows.
  return index_select_unchecked(weight, 0, indices.reshape({-1})).reshape(shape);
}

}  // namespace reel
