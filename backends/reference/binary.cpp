// Reference backend, binary elementwise ops: out[i] = f(a[i], b[i]). a and b share the compute
// dtype and are already broadcast to out's shape (stride 0 on broadcast dims). The maths of f
// is math::apply_binary (backends/element_math.hpp, shared with the CUDA kernels); which
// (op, dtype) pairs exist is the op table's, checked by Backend::binary before we get here.
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

void ReferenceBackend::binary_impl(BinaryOp op, const View& out, const View& a, const View& b) {
  math::visit_op(op, [&](auto op_constant) {
    constexpr BinaryOp kOp = decltype(op_constant)::value;
    visit_dtype(a.dtype, [&]<typename T>() {
      if constexpr (op_accepts(kOp, dtype_v<T>)) {
        using Out = math::BinaryOut<kOp, T>;
        const T* pa = a.ptr<T>();
        const T* pb = b.ptr<T>();
        Out* po = out.ptr<Out>();
        for_each_offset(
            out.shape,
            [&](std::int64_t o, std::int64_t i, std::int64_t j) {
              po[o] = math::apply_binary<kOp>(pa[i], pb[j]);
            },
            out.strides, a.strides, b.strides);
      }
    });
  });
}

}  // namespace reel::backends
