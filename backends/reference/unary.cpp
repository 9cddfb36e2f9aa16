// Reference backend, unary elementwise ops: out[i] = f(in[i]). The maths of f is
// math::apply_unary (backends/element_math.hpp, shared with the CUDA kernels); which
// (op, dtype) pairs exist is the op table's, checked by Backend::unary before we get here.
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

void ReferenceBackend::unary_impl(UnaryOp op, const View& out, const View& in) {
  math::visit_op(op, [&](auto op_constant) {
    constexpr UnaryOp kOp = decltype(op_constant)::value;
    visit_dtype(in.dtype, [&]<typename T>() {
      if constexpr (op_accepts(kOp, dtype_v<T>)) {
        using Out = math::UnaryOut<kOp, T>;
        const T* src = in.ptr<T>();
        Out* dst = out.ptr<Out>();
        for_each_offset(
            out.shape,
            [&](std::int64_t o, std::int64_t i) { dst[o] = math::apply_unary<kOp>(src[i]); },
            out.strides, in.strides);
      }
    });
  });
}

}  // namespace reel::backends
