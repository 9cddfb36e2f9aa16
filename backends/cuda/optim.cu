// CUDA kernels for the fused optimizer updates (SGD, Adam/AdamW, RMSprop, Adagrad): one thread
// per element of the parameter, grid-stride, each element updated on its own by
// backends/optim_math.hpp — the code the reference backend runs, with every rounding step an
// IEEE _rn intrinsic on the device, so the results are the reference's bit for bit (NaN payloads
// aside; optim_math.hpp says why). The host side (optim.cpp) plans the strided walk over all the
// operands and casts the scalars (optim_math's *_coefs); optim_launch.hpp is the seam.
#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/optim_launch.hpp"

namespace reel::backends::cuda {

namespace {

// The element at offset `o` of an operand, or null for an absent optional state (whose walk
// strides are the parameter's: `o` is then meaningless and no pointer is formed from it).
template <typename T>
__device__ __forceinline__ T* at(T* base, std::int64_t o) {
  return base != nullptr ? base + o : nullptr;
}

template <typename T>
__global__ void sgd_kernel(optim_math::SgdCoefs<T> c, Indexer<3> ix, std::int64_t n, T* param,
                           const T* grad, T* buf) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[3];
    offsets_of<3>(ix, i, off);
    optim_math::sgd_element(c, param + off[0], grad + off[1], at(buf, off[2]));
  }
}

template <typename T>
__global__ void adam_kernel(optim_math::AdamCoefs<T> c, Indexer<5> ix, std::int64_t n, T* param,
                            const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[5];
    offsets_of<5>(ix, i, off);
    optim_math::adam_element(c, param + off[0], grad + off[1], exp_avg + off[2],
                             exp_avg_sq + off[3], at(max_exp_avg_sq, off[4]));
  }
}

template <typename T>
__global__ void rmsprop_kernel(optim_math::RmspropCoefs<T> c, Indexer<5> ix, std::int64_t n,
                               T* param, const T* grad, T* square_avg, T* grad_avg, T* buf) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[5];
    offsets_of<5>(ix, i, off);
    optim_math::rmsprop_element(c, param + off[0], grad + off[1], square_avg + off[2],
                                at(grad_avg, off[3]), at(buf, off[4]));
  }
}

template <typename T>
__global__ void adagrad_kernel(optim_math::AdagradCoefs<T> c, Indexer<3> ix, std::int64_t n,
                               T* param, const T* grad, T* sum) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[3];
    offsets_of<3>(ix, i, off);
    optim_math::adagrad_element(c, param + off[0], grad + off[1], sum + off[2]);
  }
}

}  // namespace

template <typename T>
cudaError_t launch_sgd_step(const optim_math::SgdCoefs<T>& c, T* param, const T* grad, T* buf,
                            const Indexer<3>& ix, std::int64_t numel, cudaStream_t stream) {
  sgd_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(c, ix, numel, param, grad,
                                                                  buf);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_adam_step(const optim_math::AdamCoefs<T>& c, T* param, const T* grad,
                             T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                             const Indexer<5>& ix, std::int64_t numel, cudaStream_t stream) {
  adam_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(
      c, ix, numel, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_rmsprop_step(const optim_math::RmspropCoefs<T>& c, T* param, const T* grad,
                                T* square_avg, T* grad_avg, T* buf, const Indexer<5>& ix,
                                std::int64_t numel, cudaStream_t stream) {
  rmsprop_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(
      c, ix, numel, param, grad, square_avg, grad_avg, buf);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_adagrad_step(const optim_math::AdagradCoefs<T>& c, T* param, const T* grad,
                                T* sum, const Indexer<3>& ix, std::int64_t numel,
                                cudaStream_t stream) {
  adagrad_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(c, ix, numel, param, grad,
                                                                      sum);
  return cudaGetLastError();
}

// The two element types with kernels (optim_launch.hpp).
#define REEL_OPTIM_INSTANTIATE(T)                                                                \
  template cudaError_t launch_sgd_step<T>(const optim_math::SgdCoefs<T>&, T*, const T*, T*,     \
                                          const Indexer<3>&, std::int64_t, cudaStream_t);        \
  template cudaError_t launch_adam_step<T>(const optim_math::AdamCoefs<T>&, T*, const T*, T*,   \
                                           T*, T*, const Indexer<5>&, std::int64_t,              \
                                           cudaStream_t);                                        \
  template cudaError_t launch_rmsprop_step<T>(const optim_math::RmspropCoefs<T>&, T*, const T*, \
                                              T*, T*, T*, const Indexer<5>&, std::int64_t,       \
                                              cudaStream_t);                                     \
  template cudaError_t launch_adagrad_step<T>(const optim_math::AdagradCoefs<T>&, T*, const T*, \
                                              T*, const Indexer<3>&, std::int64_t, cudaStream_t);
REEL_OPTIM_INSTANTIATE(float)
REEL_OPTIM_INSTANTIATE(double)
#undef REEL_OPTIM_INSTANTIATE

}  // namespace reel::backends::cuda
