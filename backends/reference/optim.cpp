// Reference backend, fused optimizer updates (issue 7): one pass over one parameter that does
// what PyTorch 1.13's single-tensor optimizers (torch/optim/*.py with foreach=False) do with a
// chain of in-place tensor ops. Per element, in the parameter's dtype T:
//
//   SGD       d = ±g (+ wd·p);  buf = d (first step) or momentum·buf + (1 − dampening)·d;
//             d = d + momentum·buf (nesterov) or buf;  p = p − lr·d
//   Adam      g = ±g (+ wd·p, Adam) or p = p·(1 − lr·wd) (AdamW);
//             m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g·g;  v̂ = max(v̂, v) (amsgrad);
//             p = p − step_size·m / (sqrt(v or v̂) / sqrt(1 − β2^t) + eps)
//   RMSprop   g = ±g (+ wd·p);  s = α·s + (1 − α)·g·g;  a = α·a + (1 − α)·g (centered);
//             d = sqrt(s − a·a) or sqrt(s), + eps;
//             buf = momentum·buf + g/d, p = p − lr·buf (momentum > 0) or p = p − lr·g/d
//   Adagrad   g = ±g (+ wd·p);  sum = sum + g·g;  p = p − clr·g / (sqrt(sum) + eps)
//
// Each line is written the way ATen's CPU kernels evaluate the tensor op it replaces, with each
// Python float scalar cast to T first and each intermediate rounded to T where PyTorch stores it
// in a tensor:
//   x.add_(y, alpha=a)             fma(y, a, x)      (Vectorized::fmadd; the scalar tail is
//                                                     contracted to an FMA by the compiler)
//   x.addcmul_(y, z, value=c)      fma(c·y, z, x)
//   x.addcdiv_(y, z, value=c)      x + c·y/z         (left to right, no FMA)
//   x.mul_(b), x / b, sqrt         plain
// so the updates agree bit for bit with PyTorch's CPU results on FMA hardware (what
// tests/nn/test_optim_golden.cpp checks them against), and otherwise differ by about an ulp.
#include <algorithm>
#include <cmath>

#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

namespace {

// A null view (optional state the options don't use) walks with the parameter's strides and
// is never dereferenced.
const Strides& strides_or(const View& v, const View& param) {
  return v.data != nullptr ? v.strides : param.strides;
}

// x.add_(y, alpha=a) and x.addcmul_(y, z, value=c), as ATen evaluates them: add(alpha) is fused
// for real tensors and rounds the product first for complex ones (see complex_param).
template <typename T>
T add_alpha(T x, T y, T alpha, bool complex_tensor = false) {
  return complex_tensor ? x + alpha * y : std::fma(y, alpha, x);
}
template <typename T>
T addcmul(T x, T y, T z, T value) {
  return std::fma(value * y, z, x);
}

template <typename T>
void sgd_loop(const View& param, const View& grad, const View& buf_view, const SgdStepParams& p) {
  T* pp = param.ptr<T>();
  const T* pg = grad.ptr<const T>();
  T* pb = buf_view.ptr<T>();
  const T wd = static_cast<T>(p.weight_decay);
  const T momentum = static_cast<T>(p.momentum);
  const T one_minus_dampening = static_cast<T>(1.0 - p.dampening);
  const T neg_lr = static_cast<T>(-p.lr);
  const bool c = p.complex_param;  // PyTorch's SGD runs on the complex tensors
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t ob) {
        T d = p.maximize ? -pg[og] : pg[og];
        if (p.weight_decay != 0.0) d = add_alpha(d, pp[op], wd, c);
        if (p.momentum != 0.0) {
          T buf = p.first_step ? d : pb[ob] * momentum;
          if (!p.first_step) buf = add_alpha(buf, d, one_minus_dampening, c);
          pb[ob] = buf;
          d = p.nesterov ? add_alpha(d, buf, momentum, c) : buf;
        }
        pp[op] = add_alpha(pp[op], d, neg_lr, c);
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
  const T wd = static_cast<T>(p.weight_decay);
  const T decay = static_cast<T>(1.0 - p.lr * p.weight_decay);
  const T beta1 = static_cast<T>(p.beta1), one_minus_beta1 = static_cast<T>(1.0 - p.beta1);
  const T beta2 = static_cast<T>(p.beta2), one_minus_beta2 = static_cast<T>(1.0 - p.beta2);
  const T bc2_sqrt = static_cast<T>(p.bias_correction2_sqrt);
  const T eps = static_cast<T>(p.eps);
  const T neg_step_size = static_cast<T>(-p.step_size);
  const bool c = p.complex_param;  // the weight decay term is added before view_as_real
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t om, std::int64_t ov, std::int64_t ox) {
        T g = p.maximize ? -pg[og] : pg[og];
        T x = pp[op];
        if (p.decoupled_weight_decay) {
          x = x * decay;  // AdamW: param.mul_(1 - lr * weight_decay), always applied
        } else if (p.weight_decay != 0.0) {
          g = add_alpha(g, x, wd, c);
        }
        T m = pm[om] * beta1;
        m = add_alpha(m, g, one_minus_beta1);
        T v = pv[ov] * beta2;
        v = addcmul(v, g, g, one_minus_beta2);
        pm[om] = m;
        pv[ov] = v;
        T second = v;
        if (p.amsgrad) {
          // torch.maximum: a NaN in either propagates.
          const T old = pvmax[ox];
          second = (old != old || v != v) ? old + v : std::max(old, v);
          pvmax[ox] = second;
        }
        T denom = std::sqrt(second) / bc2_sqrt;
        denom = denom + eps;
        pp[op] = x + neg_step_size * m / denom;
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
  const T wd = static_cast<T>(p.weight_decay);
  const T alpha = static_cast<T>(p.alpha), one_minus_alpha = static_cast<T>(1.0 - p.alpha);
  const T eps = static_cast<T>(p.eps);
  const T momentum = static_cast<T>(p.momentum);
  const T neg_lr = static_cast<T>(-p.lr);
  const T minus_one = static_cast<T>(-1.0);
  const bool c = p.complex_param;  // the weight decay term is added before view_as_real
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t os, std::int64_t oa, std::int64_t ob) {
        T g = p.maximize ? -pg[og] : pg[og];
        if (p.weight_decay != 0.0) g = add_alpha(g, pp[op], wd, c);
        T s = ps[os] * alpha;
        s = addcmul(s, g, g, one_minus_alpha);
        ps[os] = s;
        T avg;
        if (p.centered) {
          T a = pa[oa] * alpha;
          a = add_alpha(a, g, one_minus_alpha);
          pa[oa] = a;
          // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
          avg = std::sqrt(addcmul(s, a, a, minus_one));
        } else {
          avg = std::sqrt(s);
        }
        avg = avg + eps;
        if (p.momentum > 0.0) {
          T b = pb[ob] * momentum;
          b = b + g / avg;  // addcdiv_(grad, avg), value 1
          pb[ob] = b;
          pp[op] = add_alpha(pp[op], b, neg_lr);
        } else {
          pp[op] = pp[op] + neg_lr * g / avg;
        }
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
  const T wd = static_cast<T>(p.weight_decay);
  const T eps = static_cast<T>(p.eps);
  const T neg_clr = static_cast<T>(-p.clr);
  const bool c = p.complex_param;  // the weight decay term is added before view_as_real
  for_each_offset(
      param.shape,
      [&](std::int64_t op, std::int64_t og, std::int64_t os) {
        T g = p.maximize ? -pg[og] : pg[og];
        if (p.weight_decay != 0.0) g = add_alpha(g, pp[op], wd, c);
        const T s = addcmul(ps[os], g, g, T(1));  // state_sum.addcmul_(grad, grad, value=1)
        ps[os] = s;
        const T std_ = std::sqrt(s) + eps;
        pp[op] = pp[op] + neg_clr * g / std_;
      },
      param.strides, grad.strides, sum_view.strides);
}

// The op table admits float32 and float64 only (kFloating).
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
