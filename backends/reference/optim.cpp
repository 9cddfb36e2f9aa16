// Reference backend, fused optimizer updates (issue 7): one pass over one parameter that does
// what PyTorch 1.13's single-tensor optimizers (torch/optim/*.py with foreach=False) do with a
// chain of in-place tensor ops. The per-element maths — PyTorch's order of operations and
// rounding, FMAs included, and the complex_param rules — is backends/optim_math.hpp, shared
// with the CUDA kernels; this file walks the views (for_each_offset) and hands each element's
// addresses to it.
#include "backends/optim_math.hpp"
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

namespace {

// A null view (optional state the options don't use) walks with the parameter's strides and
// is never dereferenced.
const Strides& strides_or(const View& v, const View& param) {
  return v.data != nullptr ? v.strides : param.strides;
}

// The element at offset `o` of a view's data, or null for a null view.
template <typename T>
T* at(T* base, std::int64_t o) {
  return base != nullptr ? base + o : nullptr;
}

template <typename T>
void sgd_loop(const View& param, const View& grad, const View& buf_view, const SgdStepParams& p) {
  T* pp = param.ptr<T>();
  const T* pg = grad.ptr<const T>();
  T* pb = buf_view.ptr<T>();
  const optim_math::SgdCoefs<T> c = optim_math::sgd_coefs<T>(p);
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t ob) {
        optim_math::sgd_element(c, pp + op, pg + og, at(pb, ob));
      },
      param.strides, grad.strides, strides_or(buf_view, param));
}

template <typename T>
void adam_loop(const View& param, const View& grad, const View& m_view, const View& v_view,
               const View& vmax_view, const AdamStepParams& p) {
  T* pp = param.ptr<T>();
  const T* pg = grad.ptr<const T>();
  T* pm = m_view.ptr<T>();
  T* pv = v_view.ptr<T>();
  T* pvmax = vmax_view.ptr<T>();
  const optim_math::AdamCoefs<T> c = optim_math::adam_coefs<T>(p);
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t om, std::int64_t ov, std::int64_t ox) {
        optim_math::adam_element(c, pp + op, pg + og, pm + om, pv + ov, at(pvmax, ox));
      },
      param.strides, grad.strides, m_view.strides, v_view.strides,
      strides_or(vmax_view, param));
}

template <typename T>
void rmsprop_loop(const View& param, const View& grad, const View& sq_view, const View& ga_view,
                  const View& buf_view, const RmspropStepParams& p) {
  T* pp = param.ptr<T>();
  const T* pg = grad.ptr<const T>();
  T* ps = sq_view.ptr<T>();
  T* pa = ga_view.ptr<T>();
  T* pb = buf_view.ptr<T>();
  const optim_math::RmspropCoefs<T> c = optim_math::rmsprop_coefs<T>(p);
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t os, std::int64_t oa, std::int64_t ob) {
        optim_math::rmsprop_element(c, pp + op, pg + og, ps + os, at(pa, oa), at(pb, ob));
      },
      param.strides, grad.strides, sq_view.strides, strides_or(ga_view, param),
      strides_or(buf_view, param));
}

template <typename T>
void adagrad_loop(const View& param, const View& grad, const View& sum_view,
                  const AdagradStepParams& p) {
  T* pp = param.ptr<T>();
  const T* pg = grad.ptr<const T>();
  T* ps = sum_view.ptr<T>();
  const optim_math::AdagradCoefs<T> c = optim_math::adagrad_coefs<T>(p);
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t os) {
        optim_math::adagrad_element(c, pp + op, pg + og, ps + os);
      },
      param.strides, grad.strides, sum_view.strides);
}

// The op table admits the floating dtypes; float16 and bfloat16 arrive as float32 copies
// (supports() claims no 16-bit kernel: Backend's widening), so float32 and float64 remain.
template <typename F>
void visit_floating(DType t, F&& f) {
  if (t == kFloat32) f.template operator()<float>();
  else f.template operator()<double>();
}

}  // namespace

void ReferenceBackend::sgd_step_impl(const View& param, const View& grad,
                                     const View& momentum_buffer, const SgdStepParams& p) {
  visit_floating(param.dtype, [&]<typename T>() { sgd_loop<T>(param, grad, momentum_buffer, p); });
}

void ReferenceBackend::adam_step_impl(const View& param, const View& grad, const View& exp_avg,
                                      const View& exp_avg_sq, const View& max_exp_avg_sq,
                                      const AdamStepParams& p) {
  visit_floating(param.dtype, [&]<typename T>() {
    adam_loop<T>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, p);
  });
}

void ReferenceBackend::rmsprop_step_impl(const View& param, const View& grad,
                                         const View& square_avg, const View& grad_avg,
                                         const View& momentum_buffer,
                                         const RmspropStepParams& p) {
  visit_floating(param.dtype, [&]<typename T>() {
    rmsprop_loop<T>(param, grad, square_avg, grad_avg, momentum_buffer, p);
  });
}

void ReferenceBackend::adagrad_step_impl(const View& param, const View& grad, const View& sum,
                                         const AdagradStepParams& p) {
  visit_floating(param.dtype, [&]<typename T>() { adagrad_loop<T>(param, grad, sum, p); });
}

}  // namespace reel::backends
