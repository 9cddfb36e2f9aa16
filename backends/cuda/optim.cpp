// The CUDA backend's fused optimizer updates, host side (kernels in optim.cu, seam
// optim_launch.hpp): sgd_step, adam_step, rmsprop_step, adagrad_step.
//
// Backend's entry points have checked the views (param's shape and dtype everywhere, no
// broadcast view written, a null view only for state the options don't use) and widened
// float16/bfloat16 to float32 copies: supports() claims float32 and float64 only, as the
// reference does, so both backends update the same float32 values and round them back the same
// way. Here: the sanity checks every CUDA kernel gets, the strided walk over all the operands
// (an absent state walks with the parameter's strides and reaches the kernel as a null
// pointer), the scalars cast to the element type (backends/optim_math.hpp, shared with the
// reference), and one launch. No synchronisation.
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/optim_launch.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/optim_math.hpp"

namespace reel::backends {

namespace {

// An optional state view's strides for the walk: its own, checked, when present; the
// parameter's when absent (a null view; the kernel never reads it).
const Strides& state_strides(const View& v, const View& param, const char* op,
                             const char* what) {
  cuda::check_view_if_given(v, op, what);
  return v.data == nullptr ? param.strides : v.strides;
}

// Calls run.template operator()<T>() with T the element type of a float32 or float64 `dtype`;
// false (nothing run) for any other dtype, which supports() keeps from arriving here.
template <typename F>
bool visit_float32_or_64(DType dtype, F&& run) {
  if (dtype == kFloat32) {
    run.template operator()<float>();
    return true;
  }
  if (dtype == kFloat64) {
    run.template operator()<double>();
    return true;
  }
  return false;
}

}  // namespace

void CudaBackend::sgd_step_impl(const View& param, const View& grad, const View& momentum_buffer,
                                const SgdStepParams& p) {
  const char* op = "sgd_step";
  cuda::check_view(param, op, "the parameter");
  cuda::check_view(grad, op, "the gradient");
  const Strides& buf = state_strides(momentum_buffer, param, op, "the momentum buffer");
  const auto w = cuda::plan_walk<3>(param.shape, {&param.strides, &grad.strides, &buf});
  if (w.numel == 0) return;
  const bool ran = visit_float32_or_64(param.dtype, [&]<typename T>() {
    cuda::check_cuda(cuda::launch_sgd_step<T>(optim_math::sgd_coefs<T>(p), param.ptr<T>(),
                                              grad.ptr<const T>(), momentum_buffer.ptr<T>(),
                                              w.ix, w.numel, cuda::stream()),
                     op);
  });
  if (!ran) not_implemented(KernelOp::SgdStep, param.dtype);
}

void CudaBackend::adam_step_impl(const View& param, const View& grad, const View& exp_avg,
                                 const View& exp_avg_sq, const View& max_exp_avg_sq,
                                 const AdamStepParams& p) {
  const char* op = "adam_step";
  cuda::check_view(param, op, "the parameter");
  cuda::check_view(grad, op, "the gradient");
  cuda::check_view(exp_avg, op, "exp_avg");
  cuda::check_view(exp_avg_sq, op, "exp_avg_sq");
  const Strides& vmax = state_strides(max_exp_avg_sq, param, op, "max_exp_avg_sq");
  const auto w = cuda::plan_walk<5>(
      param.shape,
      {&param.strides, &grad.strides, &exp_avg.strides, &exp_avg_sq.strides, &vmax});
  if (w.numel == 0) return;
  const bool ran = visit_float32_or_64(param.dtype, [&]<typename T>() {
    cuda::check_cuda(cuda::launch_adam_step<T>(optim_math::adam_coefs<T>(p), param.ptr<T>(),
                                               grad.ptr<const T>(), exp_avg.ptr<T>(),
                                               exp_avg_sq.ptr<T>(), max_exp_avg_sq.ptr<T>(),
                                               w.ix, w.numel, cuda::stream()),
                     op);
  });
  if (!ran) not_implemented(KernelOp::AdamStep, param.dtype);
}

void CudaBackend::rmsprop_step_impl(const View& param, const View& grad, const View& square_avg,
                                    const View& grad_avg, const View& momentum_buffer,
                                    const RmspropStepParams& p) {
  const char* op = "rmsprop_step";
  cuda::check_view(param, op, "the parameter");
  cuda::check_view(grad, op, "the gradient");
  cuda::check_view(square_avg, op, "square_avg");
  const Strides& avg = state_strides(grad_avg, param, op, "grad_avg");
  const Strides& buf = state_strides(momentum_buffer, param, op, "the momentum buffer");
  const auto w = cuda::plan_walk<5>(
      param.shape, {&param.strides, &grad.strides, &square_avg.strides, &avg, &buf});
  if (w.numel == 0) return;
  const bool ran = visit_float32_or_64(param.dtype, [&]<typename T>() {
    cuda::check_cuda(
        cuda::launch_rmsprop_step<T>(optim_math::rmsprop_coefs<T>(p), param.ptr<T>(),
                                     grad.ptr<const T>(), square_avg.ptr<T>(),
                                     grad_avg.ptr<T>(), momentum_buffer.ptr<T>(),
                                     w.ix, w.numel, cuda::stream()),
        op);
  });
  if (!ran) not_implemented(KernelOp::RmspropStep, param.dtype);
}

void CudaBackend::adagrad_step_impl(const View& param, const View& grad, const View& sum,
                                    const AdagradStepParams& p) {
  const char* op = "adagrad_step";
  cuda::check_view(param, op, "the parameter");
  cuda::check_view(grad, op, "the gradient");
  cuda::check_view(sum, op, "sum");
  const auto w = cuda::plan_walk<3>(param.shape, {&param.strides, &grad.strides, &sum.strides});
  if (w.numel == 0) return;
  const bool ran = visit_float32_or_64(param.dtype, [&]<typename T>() {
    cuda::check_cuda(cuda::launch_adagrad_step<T>(optim_math::adagrad_coefs<T>(p), param.ptr<T>(),
                                                  grad.ptr<const T>(), sum.ptr<T>(), w.ix, w.numel,
                                                  cuda::stream()),
                     op);
  });
  if (!ran) not_implemented(KernelOp::AdagradStep, param.dtype);
}

}  // namespace reel::backends
