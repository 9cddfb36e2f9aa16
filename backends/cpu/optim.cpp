// CPU backend, fused optimizer updates (issue 10): Adam/AdamW and SGD on contiguous
// float32/float64 parameters, the SIMD kernels of simd_kernels.hpp (adam_kernel, sgd_kernel)
// over chunks shared out to the thread pool. Each element's update depends on that element
// alone, so the result does not depend on the split; the per-lane arithmetic is the reference's
// (backends/reference/optim.cpp), in the same order and with the same FMAs. RMSprop and Adagrad
// likewise (rmsprop_kernel, adagrad_kernel). Strided views are the reference's loops.
#include "backends/coalesce.hpp"
#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends {

namespace {

// Elements per task: an update reads 3-4 and writes 2-4 arrays and does a sqrt and a division
// per element (Adam), several times an add's work.
constexpr std::int64_t kOptimGrain = 16384;

// A view the SIMD path takes: absent (optional state) or contiguous with the parameter's shape.
bool flat(const View& v) {
  return v.data == nullptr || is_contiguous_layout(v.shape, v.strides);
}

// run.template operator()<T>() for the float32 or float64 `dtype` (the SIMD path's two).
template <class F>
void for_float_dtype(DType dtype, F&& run) {
  if (dtype == kFloat32) run.template operator()<float>();
  else run.template operator()<double>();
}

}  // namespace

void CpuBackend::adam_step_impl(const View& param, const View& grad, const View& exp_avg,
                                const View& exp_avg_sq, const View& max_exp_avg_sq,
                                const AdamStepParams& p) {
  const bool fast = is_float32_or_64(param.dtype) && flat(param) && flat(grad) &&
                    flat(exp_avg) && flat(exp_avg_sq) && (!p.amsgrad || flat(max_exp_avg_sq)) &&
                    (!p.amsgrad || max_exp_avg_sq.data != nullptr);
  if (!fast) {
    return ReferenceBackend::adam_step_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, p);
  }
  auto run = [&]<class T>() {
    const cpu::AdamScalars<T> s{static_cast<T>(p.weight_decay),
                           static_cast<T>(1.0 - p.lr * p.weight_decay),
                           static_cast<T>(p.beta1),
                           static_cast<T>(1.0 - p.beta1),
                           static_cast<T>(p.beta2),
                           static_cast<T>(1.0 - p.beta2),
                           static_cast<T>(p.bias_correction2_sqrt),
                           static_cast<T>(p.eps),
                           static_cast<T>(-p.step_size),
                           p.maximize,
                           p.decoupled_weight_decay,
                           p.weight_decay != 0.0,
                           p.amsgrad,
                           p.complex_param};
    const auto kernel = cpu::simd_kernels().get<T>().adam;
    T* pp = param.ptr<T>();
    const T* pg = grad.ptr<const T>();
    T* pm = exp_avg.ptr<T>();
    T* pv = exp_avg_sq.ptr<T>();
    T* px = p.amsgrad ? max_exp_avg_sq.ptr<T>() : nullptr;
    cpu::parallel_for(0, param.numel(), kOptimGrain, [&](std::int64_t i0, std::int64_t i1) {
      kernel(i1 - i0, s, pp + i0, pg + i0, pm + i0, pv + i0, px ? px + i0 : nullptr);
    });
  };
  for_float_dtype(param.dtype, run);
}

void CpuBackend::sgd_step_impl(const View& param, const View& grad, const View& momentum_buffer,
                               const SgdStepParams& p) {
  const bool momentum = p.momentum != 0.0;
  const bool fast = is_float32_or_64(param.dtype) && flat(param) && flat(grad) &&
                    (!momentum || (momentum_buffer.data != nullptr && flat(momentum_buffer)));
  if (!fast) return ReferenceBackend::sgd_step_impl(param, grad, momentum_buffer, p);
  auto run = [&]<class T>() {
    const cpu::SgdScalars<T> s{static_cast<T>(p.weight_decay),
                          static_cast<T>(p.momentum),
                          static_cast<T>(1.0 - p.dampening),
                          static_cast<T>(-p.lr),
                          p.maximize,
                          p.weight_decay != 0.0,
                          momentum,
                          p.first_step,
                          p.nesterov,
                          p.complex_param};
    const auto kernel = cpu::simd_kernels().get<T>().sgd;
    T* pp = param.ptr<T>();
    const T* pg = grad.ptr<const T>();
    T* pb = momentum ? momentum_buffer.ptr<T>() : nullptr;
    cpu::parallel_for(0, param.numel(), kOptimGrain * 2, [&](std::int64_t i0, std::int64_t i1) {
      kernel(i1 - i0, s, pp + i0, pg + i0, pb ? pb + i0 : nullptr);
    });
  };
  for_float_dtype(param.dtype, run);
}

void CpuBackend::rmsprop_step_impl(const View& param, const View& grad, const View& square_avg,
                                   const View& grad_avg, const View& momentum_buffer,
                                   const RmspropStepParams& p) {
  const bool momentum = p.momentum > 0.0;
  const bool fast = is_float32_or_64(param.dtype) && flat(param) && flat(grad) &&
                    square_avg.data != nullptr && flat(square_avg) &&
                    (!p.centered || (grad_avg.data != nullptr && flat(grad_avg))) &&
                    (!momentum || (momentum_buffer.data != nullptr && flat(momentum_buffer)));
  if (!fast) {
    return ReferenceBackend::rmsprop_step_impl(param, grad, square_avg, grad_avg, momentum_buffer, p);
  }
  auto run = [&]<class T>() {
    const cpu::RmspropScalars<T> s{static_cast<T>(p.weight_decay),
                                   static_cast<T>(p.alpha),
                                   static_cast<T>(1.0 - p.alpha),
                                   static_cast<T>(p.eps),
                                   static_cast<T>(p.momentum),
                                   static_cast<T>(-p.lr),
                                   p.maximize,
                                   p.weight_decay != 0.0,
                                   p.centered,
                                   momentum,
                                   p.complex_param};
    const auto kernel = cpu::simd_kernels().get<T>().rmsprop;
    T* pp = param.ptr<T>();
    const T* pg = grad.ptr<const T>();
    T* ps = square_avg.ptr<T>();
    T* pa = p.centered ? grad_avg.ptr<T>() : nullptr;
    T* pb = momentum ? momentum_buffer.ptr<T>() : nullptr;
    cpu::parallel_for(0, param.numel(), kOptimGrain, [&](std::int64_t i0, std::int64_t i1) {
      kernel(i1 - i0, s, pp + i0, pg + i0, ps + i0, pa ? pa + i0 : nullptr, pb ? pb + i0 : nullptr);
    });
  };
  for_float_dtype(param.dtype, run);
}

void CpuBackend::adagrad_step_impl(const View& param, const View& grad, const View& sum,
                                   const AdagradStepParams& p) {
  const bool fast = is_float32_or_64(param.dtype) && flat(param) && flat(grad) &&
                    sum.data != nullptr && flat(sum);
  if (!fast) return ReferenceBackend::adagrad_step_impl(param, grad, sum, p);
  auto run = [&]<class T>() {
    const cpu::AdagradScalars<T> s{static_cast<T>(p.weight_decay), static_cast<T>(p.eps),
                                   static_cast<T>(-p.clr), p.maximize, p.weight_decay != 0.0,
                                   p.complex_param};
    const auto kernel = cpu::simd_kernels().get<T>().adagrad;
    T* pp = param.ptr<T>();
    const T* pg = grad.ptr<const T>();
    T* ps = sum.ptr<T>();
    cpu::parallel_for(0, param.numel(), kOptimGrain, [&](std::int64_t i0, std::int64_t i1) {
      kernel(i1 - i0, s, pp + i0, pg + i0, ps + i0);
    });
  };
  for_float_dtype(param.dtype, run);
}

}  // namespace reel::backends
