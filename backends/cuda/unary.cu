// CUDA kernels for the elementwise unary ops over strided views: one kernel walks out and in
// with the same linear index. The maths of each op is math::apply_unary
// (backends/element_math.hpp), the same code the reference backend runs, so the two agree up to
// the device's libm (CUDA's exp, log, erf, ... are within a few ulp of glibc's); which
// (op, dtype) pairs get a kernel is the op table's op_accepts().
#include "backends/cuda/device_utils.cuh"

namespace reel::backends::cuda {

namespace {

template <UnaryOp op, typename T, typename Index>
__global__ void unary_kernel(Indexer<2> ix, Index n, math::UnaryOut<op, T>* out, const T* in) {
  for (Index i = grid_start<Index>(); i < n; i += grid_step<Index>()) {
    Index off[2];
    offsets_of<2>(ix, i, off);
    out[off[0]] = math::apply_unary<op, T>(in[off[1]]);
  }
}

template <UnaryOp op>
cudaError_t launch_op(DType type, void* out, const void* in, const Indexer<2>& ix,
                      std::int64_t numel, bool index32, cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (!op_accepts(op, kDTypeOf<T>)) {
      return cudaErrorNotSupported;
    } else {
      using Out = math::UnaryOut<op, T>;
      const dim3 grid = grid_for(numel);
      if (index32) {
        unary_kernel<op, T, std::uint32_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, static_cast<std::uint32_t>(numel), static_cast<Out*>(out),
            static_cast<const T*>(in));
      } else {
        unary_kernel<op, T, std::int64_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, numel, static_cast<Out*>(out), static_cast<const T*>(in));
      }
      return cudaGetLastError();
    }
  });
}

}  // namespace

cudaError_t launch_unary(UnaryOp op, DType type, void* out, const void* in,
                         const Indexer<2>& ix, std::int64_t numel, bool index32,
                         cudaStream_t stream) {
  return math::visit_op(op, [&](auto op_constant) {
    return launch_op<decltype(op_constant)::value>(type, out, in, ix, numel, index32, stream);
  });
}

}  // namespace reel::backends::cuda
