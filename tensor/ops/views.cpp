// View ops: a new shape/strides/offset over the same storage, no copy. Each records a backward
// that maps the view's gradient back onto the base's shape.
#include <algorithm>
#include <numeric>
#include <optional>

#include "autograd/record.hpp"
#include "tensor/ops.hpp"
#include "tensor/tensor.hpp"

namespace reel {

namespace {

// A view of `base`. Made in grad mode with base's dtype, it is a differentiable view: it keeps
// the tensor it views (base's own base when base is one), so an in-place op on it can rewrite
// that tensor's history (tensor/ops/inplace_view.cpp). Otherwise it records why not, and a view
// of it inherits that (PyTorch's CreationMeta). No allocation: one shared_ptr copy.
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides,
                 std::int64_t offset, DType dtype) {
  Tensor v = make_tensor(base.storage(), shape, strides, offset, dtype);
  TensorImpl& vi = v.impl();
  const TensorImpl& bi = base.impl();
  vi.is_view = true;
  using Creation = TensorImpl::ViewCreation;
  if (bi.is_view && !bi.view_base) {
    vi.view_creation = bi.view_creation;  // a view of an untracked view is untracked
  } else if (dtype != bi.dtype) {
    vi.view_creation = Creation::kComplexPart;
  } else if (!GradMode::is_enabled()) {
    vi.view_creation = Creation::kNoGradMode;
  } else {
    vi.view_base = bi.view_base ? bi.view_base : base.impl_ptr();
    vi.view_version = bi.storage->version();
  }
  return v;
}
Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides,
                 std::int64_t offset) {
  return make_view(base, shape, strides, offset, base.dtype());
}

// Records a view's backward when needed; `fn` maps grad_output to grad_input.
template <typename F>
void record_view(const char* name, const Tensor& base, Tensor& view, F fn) {
  if (!autograd::needs_grad(base)) return;
  autograd::record(name, {&base}, view,
                   [fn = std::move(fn)](std::span<const Tensor> g,
                                        autograd::GradMask) -> std::vector<Tensor> {
                     return {fn(g[0])};
                   });
}

// Gradient of a view that picks a region of `shape`: zeros with the grad written at the region.
template <typename Region>
Tensor embed_grad(const Tensor& grad, const Shape& shape, Region region) {
  Tensor z = zeros(shape, grad.options());
  NoGradGuard guard;
  region(z).copy_(grad);
  return z;
}

// Fills -1 in a requested shape from numel, with PyTorch's errors.
Shape infer_shape(const Shape& requested, std::int64_t numel, const char* op) {
  Shape out = requested;
  int infer = -1;
  Shape known_dims;  // every dim but the inferred one
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      check(infer < 0, "{}: only one dimension can be inferred", op);
      infer = i;
    } else {
      check(out[i] >= 0, "{}: invalid shape dimension {}", op, out[i]);
      known_dims.push_back(out[i]);
    }
  }
  // A product past int64 can't equal any tensor's numel: such a shape is invalid for it.
  const std::optional<std::int64_t> known = checked_numel(known_dims);
  check(known.has_value(),
        "{}: shape '{}' is invalid for input of size {} (its element count overflows int64)", op,
        requested, numel);
  if (infer >= 0) {
    check(*known != 0 && numel % *known == 0, "{}: shape '{}' is invalid for input of size {}",
          op, requested, numel);
    out[infer] = numel / *known;
  } else {
    check(*known == numel, "{}: shape '{}' is invalid for input of size {}", op, requested, numel);
  }
  return out;
}

// PyTorch's computeStride: strides for viewing (shape, strides) as new_shape without a copy,
// or nullopt when the memory layout doesn't allow it.
std::optional<Strides> view_strides(const Shape& shape, const Strides& strides,
                                    const Shape& new_shape) {
  if (numel_of(shape) == 0 || shape.empty()) return contiguous_strides(new_shape);
  Strides out = Dims::filled(new_shape.size(), 1);
  int view_d = new_shape.size() - 1;
  std::int64_t chunk_base_stride = strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape shape = infer_shape(requested, numel(), "view");
  auto st = view_strides(sizes(), strides(), shape);
  check(st.has_value(),
        "view: view size is not compatible with input tensor's size and stride (at least one "
        "dimension spans across two contiguous subspaces). Use .reshape(...) instead. (input "
        "shape {}, strides {}, requested {})",
        sizes(), strides(), requested);
  Tensor v = make_view(*this, shape, *st, storage_offset());
  Shape in_shape = sizes();
  record_view("ViewBackward", *this, v, [in_shape](const Tensor& g) { return g.reshape(in_shape); });
  return v;
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape = infer_shape(requested, numel(), "reshape");
  if (view_strides(sizes(), strides(), shape)) return view(shape);
  return clone().view(shape);
}

Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  check(s <= e, "flatten: start_dim ({}) cannot come after end_dim ({})", start_dim, end_dim);
  Shape shape;
  for (int i = 0; i < s; ++i) shape.push_back(size(i));
  // The flattened extent (a product that can exceed int64 when another dim is 0).
  Shape merged;
  for (int i = s; i <= e; ++i) merged.push_back(size(i));
  std::optional<std::int64_t> n = checked_numel(merged);
  check(n.has_value(), "flatten: dims {}..{} of shape {} have more elements than int64 can hold",
        s, e, sizes());
  shape.push_back(*n);
  for (int i = e + 1; i < dim(); ++i) shape.push_back(size(i));
  return reshape(shape);
}

Tensor Tensor::permute(const Shape& dims) const {
  check(dims.size() == dim(),
        "permute: number of dims don't match in permute (input has {} dims, permutation {})",
        dim(), dims);
  Shape shape, st, inverse = Dims::filled(dim(), 0);
  std::array<bool, kMaxDims> seen{};
  for (int i = 0; i < dims.size(); ++i) {
    int d = wrap_dim(dims[i], dim(), "permute");
    check(!seen[d], "permute: repeated dim in permutation {}", dims);
    seen[d] = true;
    shape.push_back(size(d));
    st.push_back(stride(d));
    inverse[d] = i;
  }
  Tensor v = make_view(*this, shape, st, storage_offset());
  record_view("PermuteBackward", *this, v, [inverse](const Tensor& g) { return g.permute(inverse); });
  return v;
}

Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
  if (dim() == 0) return *this;
  int a = wrap_dim(dim0, dim(), "transpose"), b = wrap_dim(dim1, dim(), "transpose");
  Shape perm;
  for (int i = 0; i < dim(); ++i) perm.push_back(i);
  std::swap(perm[a], perm[b]);
  return permute(perm);
}

Tensor Tensor::t() const {
  check(dim() <= 2, "t: expects a tensor with <= 2 dimensions, but self is {}D", dim());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::mT() const {
  check(dim() >= 2, "mT: expected a tensor with 2 or more dimensions, got {}D", dim());
  return transpose(-2, -1);
}

Tensor Tensor::narrow(std::int64_t dim_, std::int64_t start, std::int64_t length) const {
  check(dim() > 0, "narrow: cannot be applied to a 0-dim tensor.");
  int d = wrap_dim(dim_, dim(), "narrow");
  std::int64_t n = size(d);
  check(start >= -n && start <= n, "narrow: start ({}) out of range for dimension {} of size {}",
        start, d, n);
  if (start < 0) start += n;
  check(length >= 0 && length <= n - start,
        "narrow: start ({}) + length ({}) exceeds dimension size ({}).", start, length, n);
  return slice(d, start, start + length, 1);
}

Tensor Tensor::slice(std::int64_t dim_, std::optional<std::int64_t> start_,
                     std::optional<std::int64_t> end_, std::int64_t step) const {
  check(dim() > 0, "slice: cannot be applied to a 0-dim tensor.");
  int d = wrap_dim(dim_, dim(), "slice");
  check(step > 0, "slice: slice step must be positive, got {}", step);
  std::int64_t n = size(d);
  // Python slicing: negative counts from the end; out of range clamps.
  auto norm = [n](std::int64_t v) { return std::clamp<std::int64_t>(v < 0 ? v + n : v, 0, n); };
  std::int64_t start = norm(start_.value_or(0)), end = norm(end_.value_or(n));
  // ceil((end - start) / step), written so that a huge step can't overflow.
  std::int64_t len = end > start ? (end - start - 1) / step + 1 : 0;
  Shape shape = sizes();
  Strides st = strides();
  shape[d] = len;
  // With two or more elements stride*step is a distance inside the tensor, so it fits; with one
  // or none the stride is never used, and the original stands in when the product overflows.
  st[d] = checked_mul(stride(d), step).value_or(stride(d));
  Tensor v = make_view(*this, shape, st, storage_offset() + start * stride(d));
  Shape in_shape = sizes();
  record_view("SliceBackward", *this, v, [=](const Tensor& g) {
    return embed_grad(g, in_shape, [&](const Tensor& z) { return z.slice(d, start, end, step); });
  });
  return v;
}

Tensor Tensor::select(std::int64_t dim_, std::int64_t index) const {
  check(dim() > 0, "select: cannot be applied to a 0-dim tensor.");
  int d = wrap_dim(dim_, dim(), "select");
  std::int64_t n = size(d);
  check(index >= -n && index < n, "select: index {} out of range for tensor of size {} at dimension {}",
        index, sizes(), d);
  if (index < 0) index += n;
  Shape shape = sizes();
  Strides st = strides();
  shape.erase(d);
  st.erase(d);
  Tensor v = make_view(*this, shape, st, storage_offset() + index * stride(d));
  Shape in_shape = sizes();
  record_view("SelectBackward", *this, v, [=](const Tensor& g) {
    return embed_grad(g, in_shape, [&](const Tensor& z) { return z.select(d, index); });
  });
  return v;
}

Tensor Tensor::squeeze() const {
  Shape shape;
  Strides st;
  for (int i = 0; i < dim(); ++i) {
    if (size(i) != 1) {
      shape.push_back(size(i));
      st.push_back(stride(i));
    }
  }
  Tensor v = make_view(*this, shape, st, storage_offset());
  Shape in_shape = sizes();
  record_view("SqueezeBackward", *this, v, [in_shape](const Tensor& g) { return g.reshape(in_shape); });
  return v;
}

Tensor Tensor::squeeze(std::int64_t dim_) const {
  if (dim() == 0) return *this;
  int d = wrap_dim(dim_, dim(), "squeeze");
  if (size(d) != 1) return *this;
  Shape shape = sizes();
  Strides st = strides();
  shape.erase(d);
  st.erase(d);
  Tensor v = make_view(*this, shape, st, storage_offset());
  Shape in_shape = sizes();
  record_view("SqueezeBackward", *this, v, [in_shape](const Tensor& g) { return g.reshape(in_shape); });
  return v;
}

Tensor Tensor::unsqueeze(std::int64_t dim_) const {
  int d = wrap_dim(dim_, dim() + 1, "unsqueeze");
  Shape shape = sizes();
  Strides st = strides();
  // PyTorch's stride for the new size-1 dim; any stride is valid for a size-1 dim, so when the
  // product overflows (another dim is 0) the stride of the dim it precedes stands in.
  std::int64_t s = d < dim() ? checked_mul(stride(d), size(d)).value_or(stride(d)) : 1;
  shape.insert(d, 1);
  st.insert(d, s);
  Tensor v = make_view(*this, shape, st, storage_offset());
  record_view("UnsqueezeBackward", *this, v, [d](const Tensor& g) { return g.squeeze(d); });
  return v;
}

Tensor Tensor::expand(const Shape& requested) const {
  check(requested.size() >= dim(),
        "expand: the number of sizes provided ({}) must be greater or equal to the number of "
        "dimensions in the tensor ({})",
        requested.size(), dim());
  int lead = requested.size() - dim();
  for (auto r : requested) {
    check(r >= -1, "expand: the expanded size of the tensor ({}) isn't allowed (target sizes {})", r,
          requested);
  }
  Shape shape = requested;
  Strides st = Dims::filled(requested.size(), 0);
  for (int i = requested.size() - 1; i >= 0; --i) {
    int src = i - lead;
    if (src < 0) {
      check(requested[i] >= 0,
            "expand: the expanded size of the tensor (-1) isn't allowed in a leading, "
            "non-existing dimension {}",
            i);
      continue;
    }
    std::int64_t have = size(src);
    if (requested[i] == -1) shape[i] = have;
    check(have == shape[i] || have == 1,
          "expand: the expanded size of the tensor ({}) must match the existing size ({}) at "
          "non-singleton dimension {}.  Target sizes: {}.  Tensor sizes: {}",
          shape[i], have, i, requested, sizes());
    st[i] = have == shape[i] ? stride(src) : 0;
  }
  // expand allocates nothing, so no allocator would notice an impossible shape: check it here.
  check(checked_numel(shape).has_value(),
        "expand: the shape {} has more elements than int64 can hold (target sizes {}, tensor "
        "sizes {})",
        shape, requested, sizes());
  if (shape == sizes()) return *this;
  Tensor v = make_view(*this, shape, st, storage_offset());
  Shape in_shape = sizes();
  record_view("ExpandBackward", *this, v, [in_shape](const Tensor& g) { return sum_to(g, in_shape); });
  return v;
}

// real/imag of a complex tensor are views: the complex storage read as (re, im) pairs.
namespace {
Tensor complex_part(const Tensor& x, int part, const char* name) {
  Strides st = x.strides();
  for (auto& s : st) s *= 2;
  Tensor v = make_view(x, x.sizes(), st, x.storage_offset() * 2 + part, to_real(x.dtype()));
  DType cdt = x.dtype();
  record_view(name, x, v, [cdt, part](const Tensor& g) {
    // d/dx and d/dy packed as x-grad + i*y-grad (PyTorch's convention for complex inputs).
    Tensor zero = zeros_like(g);
    return part == 0 ? complex(g, zero).to(cdt) : complex(zero, g).to(cdt);
  });
  return v;
}
}  // namespace

Tensor real(const Tensor& x) {
  if (!x.is_complex()) return x;
  return complex_part(x, 0, "RealBackward");
}

Tensor imag(const Tensor& x) {
  check(x.is_complex(), "imag: imag is not implemented for tensors with non-complex dtypes ({}).",
        x.dtype());
  return complex_part(x, 1, "ImagBackward");
}

}  // namespace reel
