// CUDA kernels for pad1d and its backward over [N, C, L] views with any strides (the host side,
// cuda_backend.cpp, hands over the three extents and strides of each view; Backend::pad1d has
// checked the pads). Which input element a padded position reads is pad_source
// (backends/kernel_params.hpp), the reference backend's rule.
//
// Forward: one thread per output element. Backward: one thread per input element, gathering
// (not scattering, so no atomics and a fixed order) the gradients of the output positions that
// read it, in ascending output position as the reference's loop adds them, accumulating in the
// reference's type (double for float32, complex128 for complex64): the two agree to the last bit.
// For input position i of a row of length L padded by (left, right), the readers j are:
//   left pad (j < left):     Reflect  j = left - i              for 1 <= i <= left
//                            Replicate j in [0, left)           for i == 0
//                            Circular j = left + i - L          for i >= L - left
//   the interior:            j = left + i
//   right pad (j >= left+L): Reflect  j = left + 2(L-1) - i     for L-1-right <= i <= L-2
//                            Replicate j in [left+L, left+L+right)  for i == L-1
//                            Circular j = left + L + i          for i < right
#include "backends/cuda/device_utils.cuh"
#include "backends/kernel_params.hpp"

namespace reel::backends::cuda {

namespace {

// The written view's [N, C, L] and the strides of the view each kernel reads and writes.
struct Row3 {
  std::int64_t shape[3];
  std::int64_t read_strides[3];
  std::int64_t write_strides[3];
};

template <typename T>
__global__ void pad1d_kernel(Row3 g, std::int64_t n, T* out, const T* in, PadMode mode,
                             std::int64_t left, std::int64_t length) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    const std::int64_t j = i % g.shape[2];
    const std::int64_t c = (i / g.shape[2]) % g.shape[1];
    const std::int64_t s = i / (g.shape[2] * g.shape[1]);
    const std::int64_t src = pad_source(mode, j - left, length);
    out[s * g.write_strides[0] + c * g.write_strides[1] + j * g.write_strides[2]] =
        src < 0 ? math::cast_value<T>(0) : in[s * g.read_strides[0] + c * g.read_strides[1] +
                                              src * g.read_strides[2]];
  }
}

// g.shape is grad_in's [N, C, L]: it reads grad_out and writes grad_in.
template <typename T>
__global__ void pad1d_backward_kernel(Row3 g, std::int64_t n, T* grad_in, const T* grad_out,
                                      PadMode mode, std::int64_t left, std::int64_t right) {
  using A = acc_t<T>;
  const std::int64_t length = g.shape[2];
  for (std::int64_t e = grid_start<std::int64_t>(); e < n; e += grid_step<std::int64_t>()) {
    const std::int64_t i = e % length;
    const std::int64_t c = (e / length) % g.shape[1];
    const std::int64_t s = e / (length * g.shape[1]);
    const T* row = grad_out + s * g.read_strides[0] + c * g.read_strides[1];
    const std::int64_t step = g.read_strides[2];
    A acc = A(0);
    auto add = [&](std::int64_t j) { acc = math::plus(acc, math::cast_value<A>(row[j * step])); };
    // Left pad, in ascending j.
    if (mode == PadMode::Reflect && i >= 1 && i <= left) add(left - i);
    if (mode == PadMode::Replicate && i == 0) {
      for (std::int64_t j = 0; j < left; ++j) add(j);
    }
    if (mode == PadMode::Circular && i >= length - left) add(left + i - length);
    add(left + i);  // the interior
    // Right pad, in ascending j.
    if (mode == PadMode::Reflect && i <= length - 2 && i >= length - 1 - right) {
      add(left + 2 * (length - 1) - i);
    }
    if (mode == PadMode::Replicate && i == length - 1) {
      for (std::int64_t j = left + length; j < left + length + right; ++j) add(j);
    }
    if (mode == PadMode::Circular && i < right) add(left + length + i);
    grad_in[s * g.write_strides[0] + c * g.write_strides[1] + i * g.write_strides[2]] =
        math::cast_value<T>(acc);
  }
}

Row3 row3(const std::int64_t* shape, const std::int64_t* in_strides,
          const std::int64_t* out_strides) {
  Row3 g;
  for (int d = 0; d < 3; ++d) {
    g.shape[d] = shape[d];
    g.read_strides[d] = in_strides[d];
    g.write_strides[d] = out_strides[d];
  }
  return g;
}

}  // namespace

cudaError_t launch_pad1d(DType type, void* out, const std::int64_t* out_shape,
                         const std::int64_t* out_strides, const void* in,
                         const std::int64_t* in_strides, std::int64_t in_length, PadMode mode,
                         std::int64_t left, cudaStream_t stream) {
  const Row3 g = row3(out_shape, in_strides, out_strides);
  const std::int64_t n = g.shape[0] * g.shape[1] * g.shape[2];
  return visit_elem(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    pad1d_kernel<T><<<grid_for(n), kThreadsPerBlock, 0, stream>>>(
        g, n, static_cast<T*>(out), static_cast<const T*>(in), mode, left, in_length);
    return cudaGetLastError();
  });
}

cudaError_t launch_pad1d_backward(DType type, void* grad_in, const std::int64_t* in_shape,
                                  const std::int64_t* in_strides, const void* grad_out,
                                  const std::int64_t* out_strides, PadMode mode,
                                  std::int64_t left, std::int64_t right, cudaStream_t stream) {
  const Row3 g = row3(in_shape, /*read: grad_out*/ out_strides, /*write: grad_in*/ in_strides);
  const std::int64_t n = g.shape[0] * g.shape[1] * g.shape[2];
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool> || math::kIsHalfLike<T>) {
      return cudaErrorNotSupported;  // the table refuses bool; 16-bit types arrive widened
    } else {
      pad1d_backward_kernel<T><<<grid_for(n), kThreadsPerBlock, 0, stream>>>(
          g, n, static_cast<T*>(grad_in), static_cast<const T*>(grad_out), mode, left, right);
      return cudaGetLastError();
    }
  });
}

}  // namespace reel::backends::cuda
