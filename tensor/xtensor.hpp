#pragma once
// xtensor interop: reel tensors to and from xt::xarray / xt::xtensor.
//
//   #include <reel/tensor/xtensor.hpp>   // not part of <reel/reel.hpp>
//
// xtensor is an optional dependency: the reel library does not use it, and its CMake package
// does not ask for it. A program that includes this header brings xtensor itself
// (find_package(xtensor), link xtensor).
//
//   from_xtensor(e)            a copy of any xtensor expression (xarray, xtensor<T, N>, a view,
//                              a transpose, a column-major container), in row-major order.
//   from_xtensor_view(std::move(c))
//                              no copy: the tensor reads c's buffer with c's strides. The
//                              container is moved into a holder that the tensor's storage owns,
//                              so it lives as long as any view of the tensor does.
//   to_xtensor<T>(t)           no copy: an xt::xarray_adaptor over a contiguous CPU tensor's
//                              elements, holding a reference to the tensor's storage, so it
//                              stays valid after every Tensor handle is gone.
//
// Writes through a shared buffer (either direction) are seen by the other side, but bypass
// reel's version counter and autograd, as writes through data_ptr() do.
#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "tensor/tensor.hpp"

namespace reel {

namespace xtensor_detail {

template <typename T>
inline constexpr bool is_element_v =
    std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, float> ||
    std::is_same_v<T, double> || std::is_same_v<T, complex64> || std::is_same_v<T, complex128>;

// reel's Shape from an xtensor shape, with reel's limit on the rank named in the error.
template <typename S>
Shape shape_of(const S& xshape, const char* op) {
  check(xshape.size() <= static_cast<std::size_t>(kMaxDims),
        "{}: reel tensors have at most {} dims, got an xtensor expression with {}", op, kMaxDims,
        xshape.size());
  Shape shape;
  for (auto s : xshape) shape.push_back(static_cast<std::int64_t>(s));
  return shape;
}

}  // namespace xtensor_detail

// A copy of any xtensor expression, as a contiguous CPU tensor. The dtype follows reel::tensor's
// rule for host values (bool -> bool, any integer -> int64, float -> float32, double -> float64,
// std::complex<float/double> -> complex64/128) unless `options` says otherwise.
template <class E>
Tensor from_xtensor(const xt::xexpression<E>& expression,
                   std::optional<TensorOptions> options = {}) {
  const E& e = expression.derived_cast();
  using T = std::decay_t<typename E::value_type>;
  static_assert(std::is_arithmetic_v<T> || std::is_same_v<T, complex64> ||
                    std::is_same_v<T, complex128>,
                "from_xtensor: the element type must be bool, an integer, float, double or "
                "std::complex<float/double>");
  using Stored = std::conditional_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                                    std::int64_t, T>;
  Shape shape = xtensor_detail::shape_of(e.shape(), "from_xtensor");
  Tensor host = empty(shape, TensorOptions(dtype_v<Stored>));
  // Row-major traversal whatever the expression's own layout, so a column-major container or a
  // transposed view lands in reel's C order.
  Stored* out = host.data_ptr<Stored>();
  for (auto it = e.template cbegin<xt::layout_type::row_major>();
       it != e.template cend<xt::layout_type::row_major>(); ++it) {
    *out++ = static_cast<Stored>(*it);
  }
  if (!options) return host;
  Tensor result = host;
  if (options->dtype_ != host.dtype()) result = detail::copy_as(result, options->dtype_);
  if (!options->device_.is_cpu()) result = detail::copy_to_device(result, options->device_);
  if (options->requires_grad_) result.requires_grad_(true);
  return result;
}

// No copy: a CPU tensor over the container's buffer, with the container's shape and strides
// (row-major, column-major or any xtensor container layout). The container (an rvalue:
// std::move it in) is kept alive by the tensor's storage; writes through the tensor are seen
// through the container's former buffer and the other way round, for as long as the tensor
// lives. The element type must be one reel stores as is (bool, std::int64_t, float, double,
// std::complex<float/double>).
template <class C>
  requires(!std::is_lvalue_reference_v<C> &&
           requires(C& c) { c.data(); c.shape(); c.strides(); })
Tensor from_xtensor_view(C&& container) {
  using T = typename C::value_type;
  static_assert(xtensor_detail::is_element_v<T>,
                "from_xtensor_view: the element type must be bool, std::int64_t, float, double "
                "or std::complex<float/double> (use from_xtensor to copy and convert)");
  Shape shape = xtensor_detail::shape_of(container.shape(), "from_xtensor_view");
  Strides strides;
  for (auto s : container.strides()) {
    // xtensor gives size-1 dims a stride of 0; reel accepts it (the dim is never stepped).
    check(s >= 0, "from_xtensor_view: negative stride {} (copy it with from_xtensor)", s);
    strides.push_back(static_cast<std::int64_t>(s));
  }
  auto holder = std::make_shared<std::decay_t<C>>(std::move(container));
  void* data = holder->data();
  // The deleter owns the container: it dies with the last view of the tensor's storage.
  return from_blob(data, shape, strides, TensorOptions(dtype_v<T>),
                   [holder](void*) mutable { holder.reset(); });
}

// No copy: an xt::xarray_adaptor (dynamic rank, row-major) over the elements of a contiguous CPU
// tensor of dtype T. The adaptor holds a reference to the tensor's storage, so it stays valid
// after every Tensor handle to it is gone. Errors (reel::Error): T is not the tensor's dtype, the
// tensor is not on the CPU, or not contiguous (call .contiguous() first).
template <typename T>
auto to_xtensor(const Tensor& t) {
  static_assert(xtensor_detail::is_element_v<T>,
                "to_xtensor: T must be bool, std::int64_t, float, double or "
                "std::complex<float/double>");
  check(t.defined(), "to_xtensor: the tensor is undefined (default-constructed)");
  check(t.device().is_cpu(), "to_xtensor: expected a CPU tensor, got one on {} (call .cpu() first)",
        t.device());
  check(t.dtype() == dtype_v<T>,
        "to_xtensor: requested element type {} but the tensor is {} (use to_xtensor of the "
        "tensor's type, or convert with .to({}) first)",
        dtype_v<T>, t.dtype(), dtype_v<T>);
  check(t.is_contiguous(),
        "to_xtensor: expected a contiguous tensor, got shape {} with strides {}; call "
        ".contiguous() first",
        t.sizes(), t.strides());
  std::vector<std::size_t> shape;
  for (auto s : t.sizes()) shape.push_back(static_cast<std::size_t>(s));
  Storage storage = t.storage();  // what keeps the elements alive
  return xt::adapt_smart_ptr(static_cast<T*>(t.raw_data()), shape, std::move(storage));
}

}  // namespace reel
