// Reference backend, elementwise data movement: copy (with dtype conversion), fill, where.
// Inputs arrive already broadcast to the output's shape (stride 0 on broadcast dims), and
// Backend's entry points have checked shapes and dtypes.
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::cast_value;

void ReferenceBackend::copy_impl(const View& out, const View& in) {
  // Two dispatches: one over the input's element type, one over the output's.
  visit_dtype(in.dtype, [&]<typename From>() {
    visit_dtype(out.dtype, [&]<typename To>() {
      const From* src = in.ptr<From>();
      To* dst = out.ptr<To>();
      for_each_offset(
          out.shape,
          [&](std::int64_t o, std::int64_t i) { dst[o] = cast_value<To>(src[i]); },
          out.strides, in.strides);
    });
  });
}

void ReferenceBackend::fill_impl(const View& out, Scalar value) {
  visit_dtype(out.dtype, [&]<typename T>() {
    const T v = value.to<T>();
    T* dst = out.ptr<T>();
    for_each_offset(out.shape, [&](std::int64_t o) { dst[o] = v; }, out.strides);
  });
}

void ReferenceBackend::where_impl(const View& out, const View& cond, const View& a, const View& b) {
  visit_dtype(out.dtype, [&]<typename T>() {
    const bool* pc = cond.ptr<bool>();
    const T* pa = a.ptr<T>();
    const T* pb = b.ptr<T>();
    T* po = out.ptr<T>();
    for_each_offset(
        out.shape,
        [&](std::int64_t o, std::int64_t c, std::int64_t i, std::int64_t j) {
          po[o] = pc[c] ? pa[i] : pb[j];
        },
        out.strides, cond.strides, a.strides, b.strides);
  });
}

}  // namespace reel::backends
