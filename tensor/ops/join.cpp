// Joining and splitting: cat, stack, split, split_with_sizes, chunk.
//
// cat allocates its output once and copies each input into its slice of it (a narrow view),
// with the backend's strided, casting copy; its backward hands each input the matching slice
// of the gradient. stack is unsqueeze + cat. split and chunk return narrow views of their input
// (no copy), so their gradients come from narrow's own backward (tensor/ops/views.cpp).
#include <algorithm>
#include <optional>
#include <string>

#include "tensor/ops/elementwise_core.hpp"

namespace reel {

using detail::grad_for;

namespace {

// The autograd tape gives one node at most 32 inputs (GradMask is a 32-bit mask).
constexpr std::size_t kMaxRecordedInputs = 32;

// PyTorch's legacy rule: a 1-D tensor with no elements may be concatenated with anything and
// is skipped (torch.cat([torch.empty(0), x]) == x).
bool is_legacy_empty(const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; }

Tensor cat_impl(const std::vector<Tensor>& tensors, std::int64_t dim) {
  check(!tensors.empty(), "cat: expected a non-empty list of Tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    check(tensors[i].defined(), "cat: tensor number {} in the list is undefined", i);
    check(tensors[i].dim() > 0, "cat: zero-dimensional tensor (at position {}) cannot be concatenated",
          i);
  }
  // Every input is dimensioned, so PyTorch's result_type is plain promotion over all of them.
  DType dtype = tensors[0].dtype();
  Device device = tensors[0].device();
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    dtype = promote_types(dtype, tensors[i].dtype());
    check(tensors[i].device() == device,
          "cat: Expected all tensors to be on the same device, but found at least two devices, "
          "{} and {}! (tensor number 0 is on {}, tensor number {} on {})",
          device, tensors[i].device(), device, i, tensors[i].device());
  }

  // The reference tensor for shape checks: the first one that is not a legacy empty.
  std::size_t ref = tensors.size();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!is_legacy_empty(tensors[i])) {
      ref = i;
      break;
    }
  }
  // All inputs [0]: the result is [0] too (then every input is skipped below).
  const Shape ref_shape = ref < tensors.size() ? tensors[ref].sizes() : Shape{0};
  int d = wrap_dim(dim, ref_shape.size(), "cat");

  Shape out_shape = ref_shape;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (is_legacy_empty(t)) continue;
    check(t.dim() == ref_shape.size(),
          "cat: Tensors must have same number of dimensions: got {} and {} (shapes {} at "
          "tensor number {} and {} at tensor number {})",
          ref_shape.size(), t.dim(), ref_shape, ref, t.sizes(), i);
    for (int k = 0; k < t.dim(); ++k) {
      check(k == d || t.size(k) == ref_shape[k],
            "cat: Sizes of tensors must match except in dimension {}. Expected size {} but got "
            "size {} for tensor number {} in the list. (shapes {} and {})",
            d, ref_shape[k], t.size(k), i, ref_shape, t.sizes());
    }
    const std::optional<std::int64_t> sum = checked_add(total, t.size(d));
    check(sum.has_value(),
          "cat: the total size {} + {} along dimension {} (tensor number {}, shape {}) overflows "
          "int64",
          total, t.size(d), d, i, t.sizes());
    total = *sum;
  }
  out_shape[d] = total;
  check(checked_numel(out_shape).has_value(),
        "cat: the result shape {} has more elements than int64 can hold", out_shape);

  Tensor out = empty(out_shape, TensorOptions(dtype).device(device));
  std::vector<std::int64_t> offsets(tensors.size(), 0);
  {
    NoGradGuard guard;  // the slices of `out` are plumbing, not part of the graph
    std::int64_t offset = 0;
    backends::Backend& backend = backend_for(device);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      offsets[i] = offset;
      if (is_legacy_empty(t)) continue;
      if (t.numel() > 0) backend.copy(view_of(out.narrow(d, offset, t.size(d))), view_of(t));
      offset += t.size(d);
    }
  }

  if (autograd::needs_grad_any(tensors)) {
    // What backward needs of each input: where its slice starts, how long it is, its dtype.
    struct Part {
      std::int64_t offset, length;
      Shape shape;
      DType dtype;
      bool skipped;
    };
    std::vector<Part> parts;
    parts.reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      bool skipped = is_legacy_empty(t);
      parts.push_back({offsets[i], skipped ? 0 : t.size(d), t.sizes(), t.dtype(), skipped});
    }
    autograd::record_list(
        "CatBackward", tensors, std::span<Tensor>(&out, 1),
        [parts = std::move(parts), d](std::span<const Tensor> g,
                                      autograd::GradMask need) -> std::vector<Tensor> {
          std::vector<Tensor> r(parts.size());
          for (std::size_t i = 0; i < parts.size(); ++i) {
            if (!need[i]) continue;
            const Part& p = parts[i];
            r[i] = p.skipped ? zeros(p.shape, TensorOptions(p.dtype).device(g[0].device()))
                             : grad_for(g[0].narrow(d, p.offset, p.length), p.shape, p.dtype);
          }
          return r;
        });
  }
  return out;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  // A tape node holds at most 32 inputs: a longer list that needs grad is joined in groups of
  // 32 first. Promotion is associative, so the dtype (and the values) are the same.
  if (tensors.size() > kMaxRecordedInputs && autograd::needs_grad_any(tensors)) {
    std::vector<Tensor> groups;
    for (std::size_t i = 0; i < tensors.size(); i += kMaxRecordedInputs) {
      std::size_t end = std::min(tensors.size(), i + kMaxRecordedInputs);
      groups.push_back(cat_impl(std::vector<Tensor>(tensors.begin() + i, tensors.begin() + end), dim));
    }
    return cat(groups, dim);
  }
  return cat_impl(tensors, dim);
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  check(!tensors.empty(), "stack expects a non-empty TensorList");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    check(tensors[i].defined(), "stack: tensor at entry {} is undefined", i);
    check(tensors[i].sizes() == tensors[0].sizes(),
          "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {}",
          tensors[0].sizes(), tensors[i].sizes(), i);
  }
  // The new dim may sit after the last one: wrap against rank + 1.
  int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(t.unsqueeze(d));
  return cat(expanded, d);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  check(x.dim() > 0, "split expects at least a 1-dimensional tensor");
  check(split_size >= 0, "split expects split_size be non-negative, but got split_size={}",
        split_size);
  int d = wrap_dim(dim, x.dim(), "split");
  std::int64_t n = x.size(d);
  check(split_size != 0 || n == 0,
        "split_size can only be 0 if dimension size is 0, but got dimension size of {}", n);
  // torch.split: ceil(n / split_size) pieces, the last one smaller; one empty piece when n == 0.
  // (Written as (n - 1) / split_size + 1 so that a huge split_size can't overflow.)
  std::int64_t pieces = split_size == 0 || n == 0 ? 1 : (n - 1) / split_size + 1;
  std::vector<Tensor> out;
  out.reserve(static_cast<std::size_t>(pieces));
  for (std::int64_t i = 0; i < pieces; ++i) {
    std::int64_t start = i * split_size;
    out.push_back(x.narrow(d, start, std::min(split_size, n - start)));
  }
  return out;
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                     std::int64_t dim) {
  check(x.dim() > 0, "split_with_sizes expects at least a 1-dimensional tensor");
  int d = wrap_dim(dim, x.dim(), "split_with_sizes");
  std::int64_t n = x.size(d), sum = 0;
  bool negative = false;
  bool overflow = false;
  for (auto s : sizes) {
    negative = negative || s < 0;
    const std::optional<std::int64_t> next = checked_add(sum, s);
    overflow = overflow || !next;
    sum = next.value_or(sum);
  }
  check(!negative,
        "split_with_sizes expects split_sizes have only non-negative entries, but got "
        "split_sizes=[{}]",
        fmt::join(sizes, ", "));
  check(!overflow && sum == n,
        "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at "
        "dimension {}), but got split_sizes=[{}]",
        n, d, fmt::join(sizes, ", "));
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  std::int64_t start = 0;
  for (auto s : sizes) {
    out.push_back(x.narrow(d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  check(x.dim() > 0, "chunk expects at least a 1-dimensional tensor");
  check(chunks > 0, "chunk expects `chunks` to be greater than 0, got: {}", chunks);
  int d = wrap_dim(dim, x.dim(), "chunk");
  std::int64_t n = x.size(d);
  // torch.chunk: pieces of ceil(n / chunks), so fewer than `chunks` may come back (6 in 4 ->
  // 2, 2, 2). An empty dim gives `chunks` empty pieces, which split alone cannot express.
  if (n == 0) return split_with_sizes(x, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0), d);
  return split(x, (n - 1) / chunks + 1, d);  // ceil(n / chunks), without overflow for huge chunks
}

}  // namespace reel
