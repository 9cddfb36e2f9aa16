#pragma once
// The launchers of the fused optimizer updates (optim.cu), called by their host side
// (optim.cpp). Plain types only, as launch.hpp: nvcc compiles the kernels, the C++ compiler the
// checks. The per-element maths and the scalars cast to the element type are
// backends/optim_math.hpp, shared with the reference backend.
//
// Each launcher is a template defined in optim.cu and explicitly instantiated there for
// T = float and double, the dtypes with kernels (float16 and bfloat16 arrive as float32 copies,
// Backend's widening). One thread per element of the parameter, over a strided walk of all the
// operands (host_utils.hpp's plan_walk; a null optional state view walks with the parameter's
// strides and its pointer is null, never dereferenced). Offsets are 64-bit (one index width
// keeps the compile short: the updates are memory-bound and nearly always contiguous,
// ix.ndim == 1, where the walk divides nothing). numel > 0. Launchers never throw; they return
// the cudaError_t of the launch.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"
#include "backends/optim_math.hpp"

namespace reel::backends::cuda {

// Operand order in the indexer: param, grad, momentum_buffer (null unless c.use_momentum).
template <typename T>
cudaError_t launch_sgd_step(const optim_math::SgdCoefs<T>& c, T* param, const T* grad, T* buf,
                            const Indexer<3>& ix, std::int64_t numel, cudaStream_t stream);

// Operand order: param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (null unless c.amsgrad).
template <typename T>
cudaError_t launch_adam_step(const optim_math::AdamCoefs<T>& c, T* param, const T* grad,
                             T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                             const Indexer<5>& ix, std::int64_t numel, cudaStream_t stream);

// Operand order: param, grad, square_avg, grad_avg (null unless c.centered), momentum_buffer
// (null unless c.use_momentum).
template <typename T>
cudaError_t launch_rmsprop_step(const optim_math::RmspropCoefs<T>& c, T* param, const T* grad,
                                T* square_avg, T* grad_avg, T* buf, const Indexer<5>& ix,
                                std::int64_t numel, cudaStream_t stream);

// Operand order: param, grad, sum.
template <typename T>
cudaError_t launch_adagrad_step(const optim_math::AdagradCoefs<T>& c, T* param, const T* grad,
                                T* sum, const Indexer<3>& ix, std::int64_t numel,
                                cudaStream_t stream);

}  // namespace reel::backends::cuda
