// Reference backend, elementwise data movement: copy (with dtype conversion), fill, where.
// Inputs arrive already broadcast to the output's shape (stride 0 on broadcast dims).
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::cast_value;

void ReferenceBackend::copy(const View& out, const View& in) {
  check(out.shape == in.shape, "copy: output shape {} does not match input shape {}", out.shape,
        in.shape);
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

void ReferenceBackend::fill(const View& out, Scalar value) {
  visit_dtype(out.dtype, [&]<typename T>() {
    const T v = value.to<T>();
    T* dst = out.ptr<T>();
    for_each_offset(out.shape, [&](std::int64_t o) { dst[o] = v; }, out.strides);
  });
}

void ReferenceBackend::where(const View& out, const View& cond, const View& a, const View& b) {
  check(cond.dtype == kBool, "where: expected condition to be a boolean tensor, but got a tensor "
        "with dtype {}", cond.dtype);
  check(a.dtype == out.dtype && b.dtype == out.dtype,
        "where: expected a, b and out to share a dtype, got {}, {} and {}", a.dtype, b.dtype,
        out.dtype);
  check(cond.shape == out.shape && a.shape == out.shape && b.shape == out.shape,
        "where: shapes must already be broadcast to the output's {}, got cond {}, a {}, b {}",
        out.shape, cond.shape, a.shape, b.shape);
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
