// CUDA kernels for the elementwise binary ops over strided views. Broadcasting has already
// happened above the backend (stride 0 on broadcast dims), so one kernel walks out, a and b
// with the same linear index. The maths of each op is math::apply_binary
// (backends/element_math.hpp), the same code the reference backend runs; which (op, dtype)
// pairs get a kernel is the op table's op_accepts().
#include "backends/cuda/device_utils.cuh"

namespace reel::backends::cuda {

namespace {

template <BinaryOp op, typename T, typename Index>
__global__ void binary_kernel(Indexer<3> ix, Index n, math::BinaryOut<op, T>* out, const T* a,
                              const T* b) {
  for (Index i = grid_start<Index>(); i < n; i += grid_step<Index>()) {
    Index off[3];
    offsets_of<3>(ix, i, off);
    out[off[0]] = math::apply_binary<op, T>(a[off[1]], b[off[2]]);
  }
}

template <BinaryOp op>
cudaError_t launch_op(DType type, void* out, const void* a, const void* b, const Indexer<3>& ix,
                      std::int64_t numel, bool index32, cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (!op_accepts(op, kDTypeOf<T>)) {
      return cudaErrorNotSupported;
    } else {
      using Out = math::BinaryOut<op, T>;
      const dim3 grid = grid_for(numel);
      if (index32) {
        binary_kernel<op, T, std::uint32_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, static_cast<std::uint32_t>(numel), static_cast<Out*>(out),
            static_cast<const T*>(a), static_cast<const T*>(b));
      } else {
        binary_kernel<op, T, std::int64_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, numel, static_cast<Out*>(out), static_cast<const T*>(a),
            static_cast<const T*>(b));
      }
      return cudaGetLastError();
    }
  });
}

}  // namespace

cudaError_t launch_binary(BinaryOp op, DType type, void* out, const void* a, const void* b,
                          const Indexer<3>& ix, std::int64_t numel, bool index32,
                          cudaStream_t stream) {
  return math::visit_op(op, [&](auto op_constant) {
    return launch_op<decltype(op_constant)::value>(type, out, a, b, ix, numel, index32, stream);
  });
}

}  // namespace reel::backends::cuda
