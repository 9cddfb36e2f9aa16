// Reference backend, indexing along one dim:
//   index_select  out[.., i, ..]        = in[.., index[i], ..]
//   index_add     out[.., index[i], ..] += src[.., i, ..]          (index_select's adjoint)
//   gather        out[x]                = in[x with x[dim] = index[x]]      (index ~ out)
//   scatter_add   out[x with x[dim] = index[x]] += src[x]                   (index ~ src)
// Backend's entry points have checked the arguments' dtypes and shapes. The caller has
// bounds-checked the index values; we check again (a clear error, never a wild write), which
// costs one compare per element.
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

namespace {

// Element i of a 1-d (or 0-d, one element) int64 index.
std::int64_t index_at(const View& index, std::int64_t i) {
  return index.ptr<std::int64_t>()[index.shape.size() == 0 ? 0 : i * index.strides[0]];
}

std::int64_t checked(const char* name, std::int64_t j, int dim, std::int64_t size) {
  check(j >= 0 && j < size, "{}: index {} is out of bounds for dimension {} with size {}", name,
        j, dim, size);
  return j;
}

}  // namespace

void ReferenceBackend::index_select_impl(const View& out, const View& in, int dim, const View& index) {
  const char* name = "index_select";
  // One slab per selected index: out's slab i is a copy of in's slab index[i].
  const Shape slab = with_extent(out.shape, dim, 1);
  visit_dtype(in.dtype, [&]<typename T>() {
    for (std::int64_t i = 0; i < index.numel(); ++i) {
      const std::int64_t j = checked(name, index_at(index, i), dim, in.shape[dim]);
      T* dst = out.ptr<T>() + i * out.strides[dim];
      const T* src = in.ptr<T>() + j * in.strides[dim];
      for_each_offset(
          slab, [&](std::int64_t o, std::int64_t s) { dst[o] = src[s]; }, out.strides,
          in.strides);
    }
  });
}

void ReferenceBackend::index_add_impl(const View& out, int dim, const View& index, const View& src) {
  const char* name = "index_add";
  // In index order, so repeated indices accumulate deterministically.
  const Shape slab = with_extent(src.shape, dim, 1);
  visit_wide_dtype(out.dtype, [&]<typename T>() {
    for (std::int64_t i = 0; i < index.numel(); ++i) {
      const std::int64_t j = checked(name, index_at(index, i), dim, out.shape[dim]);
      T* dst = out.ptr<T>() + j * out.strides[dim];
      const T* s = src.ptr<T>() + i * src.strides[dim];
      for_each_offset(
          slab, [&](std::int64_t o, std::int64_t k) { dst[o] = reference::plus(dst[o], s[k]); },
          out.strides, src.strides);
    }
  });
}

// gather and scatter_add walk the index's shape. The view addressed through index[x] (in for
// gather, out for scatter_add) takes part in the walk with its stride on `dim` set to 0, and
// index[x] * stride[dim] is added by hand.
void ReferenceBackend::gather_impl(const View& out, const View& in, int dim, const View& index) {
  const char* name = "gather";
  const Strides in_rest = [&] { Strides s = in.strides; s[dim] = 0; return s; }();
  visit_dtype(in.dtype, [&]<typename T>() {
    const std::int64_t* pi = index.ptr<std::int64_t>();
    const T* src = in.ptr<T>();
    T* dst = out.ptr<T>();
    for_each_offset(
        index.shape,
        [&](std::int64_t o, std::int64_t x, std::int64_t s) {
          const std::int64_t j = checked(name, pi[x], dim, in.shape[dim]);
          dst[o] = src[s + j * in.strides[dim]];
        },
        out.strides, index.strides, in_rest);
  });
}

void ReferenceBackend::scatter_add_impl(const View& out, int dim, const View& index, const View& src) {
  const char* name = "scatter_add";
  const Strides out_rest = [&] { Strides s = out.strides; s[dim] = 0; return s; }();
  visit_wide_dtype(out.dtype, [&]<typename T>() {
    const std::int64_t* pi = index.ptr<std::int64_t>();
    const T* s = src.ptr<T>();
    T* dst = out.ptr<T>();
    // Row-major order of the index, so repeated targets accumulate deterministically.
    for_each_offset(
        index.shape,
        [&](std::int64_t o, std::int64_t x, std::int64_t k) {
          const std::int64_t j = checked(name, pi[x], dim, out.shape[dim]);
          T& target = dst[o + j * out.strides[dim]];
          target = reference::plus(target, s[k]);
        },
        out_rest, index.strides, src.strides);
  });
}

}  // namespace reel::backends
