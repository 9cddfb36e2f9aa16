#pragma once
// The per-element maths of the fused optimizer updates (Backend::sgd_step, adam_step,
// rmsprop_step, adagrad_step), written once: the reference backend
// (backends/reference/optim.cpp) calls it from its loops on the host, the CUDA kernels
// (backends/cuda/optim.cu) from the device, so the two agree bit for bit by construction.
//
// What each update does, per element, in the parameter's dtype T (float or double; the 16-bit
// dtypes reach the kernels as float32 copies, Backend's widening):
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
// This is PyTorch 1.13's single-tensor optimizers (torch/optim/*.py, foreach=False) in one pass.
// Each line is written the way ATen's CPU kernels evaluate the tensor op it replaces, with each
// Python float scalar cast to T first (the *_coefs functions below, on the host, in double as
// PyTorch computes them in Python) and each intermediate rounded to T where PyTorch stores it
// in a tensor:
//   x.add_(y, alpha=a)             fma(y, a, x)      (Vectorized::fmadd; the scalar tail is
//                                                     contracted to an FMA by the compiler)
//   x.addcmul_(y, z, value=c)      fma(c·y, z, x)
//   x.addcdiv_(y, z, value=c)      x + c·y/z         (left to right, no FMA)
//   x.mul_(b), x / b, sqrt         plain
// so the updates agree bit for bit with PyTorch's CPU results on FMA hardware (what
// tests/nn/test_optim_golden.cpp checks them against). `complex_param` (backends/backend.hpp):
// the views are a complex parameter's view_as_real views, and the steps PyTorch runs on the
// complex tensors (all of SGD, the weight decay term of the others) round the product before
// the sum instead of fusing them: add_alpha's `complex_tensor`.
//
// Rounding, host and device alike. Every operation below is one of the five helpers mul, add,
// div, sqrt (each rounded once, to nearest even) and fma (rounded once for the fused result):
//  - On the device they are the IEEE intrinsics __fmul_rn/__dmul_rn, __fadd_rn/__dadd_rn,
//    __fdiv_rn/__ddiv_rn, __fsqrt_rn/__dsqrt_rn and __fmaf_rn/__fma_rn. nvcc contracts a plain
//    `a * b + c` into one FMA by default (--fmad=true), which would skip the product's rounding
//    that the host does; the _rn intrinsics are never contracted (the PTX is mul.rn, add.rn,
//    ...), and they are correctly rounded whatever --prec-div / --prec-sqrt say. (The project
//    builds without --use_fast_math, whose -ftz=true would flush float32 subnormals.)
//  - On the host they are plain `*`, `+`, `/`, std::sqrt and std::fma (correctly rounded, in
//    software where the CPU has no FMA). The project sets no -ffp-contract and the reference's
//    sources get no -mfma/-march (only *.avx2.cpp / *.avx512.cpp do, CMakeLists.txt), so GCC
//    has no FMA instruction to contract into on x86-64: each `*` and `+` rounds on its own.
//    (GCC's C++ default is -ffp-contract=fast: a host build for a target with FMA, e.g. with
//    -march=native or on aarch64, could fuse mul+add here and no longer match the device.)
// Comparisons, negation and selects are exact. NaN results agree as NaN, not in their sign and
// payload bits: the GPU returns its canonical NaN, x86 the first NaN operand's, and which operand
// of a commutative op comes first is the compiler's choice.
//
// The element functions read and write through pointers, in the order the reference's loop
// always did (a state pointer the options don't use may be null and is never dereferenced).
//
// Plain C++17 without fmt (nvcc includes it).
#include <cmath>

#include "backends/host_device.hpp"

namespace reel::backends::optim_math {

// --- the rounding helpers (see above) ------------------------------------------------------------
REEL_HD inline float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
REEL_HD inline double mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

REEL_HD inline float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
REEL_HD inline double add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

REEL_HD inline float div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
REEL_HD inline double div(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}

REEL_HD inline float sqrt(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
REEL_HD inline double sqrt(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

// a·b + c, rounded once.
REEL_HD inline float fma(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
REEL_HD inline double fma(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// x.add_(y, alpha=a) and x.addcmul_(y, z, value=c), as ATen evaluates them: add(alpha) is fused
// for real tensors and rounds the product first for complex ones (see complex_param).
template <typename T>
REEL_HD T add_alpha(T x, T y, T alpha, bool complex_tensor = false) {
  return complex_tensor ? add(x, mul(alpha, y)) : fma(y, alpha, x);
}
template <typename T>
REEL_HD T addcmul(T x, T y, T z, T value) {
  return fma(mul(value, y), z, x);
}

// --- the scalars, cast to T ----------------------------------------------------------------------
// Each *_coefs function takes the backend's *StepParams (backends/backend.hpp; a template
// parameter so that this header needs neither it nor fmt) and casts each scalar to T once, on
// the host, where PyTorch's kernels cast the Python float. The flags say which branches run.

template <typename T>
struct SgdCoefs {
  T wd, momentum, one_minus_dampening, neg_lr;
  bool weight_decay;   // weight_decay != 0
  bool use_momentum;   // momentum != 0: the momentum buffer is read and written
  bool nesterov, maximize, first_step, complex_param;
};

template <typename T, typename P>
SgdCoefs<T> sgd_coefs(const P& p) {
  SgdCoefs<T> c;
  c.wd = static_cast<T>(p.weight_decay);
  c.momentum = static_cast<T>(p.momentum);
  c.one_minus_dampening = static_cast<T>(1.0 - p.dampening);
  c.neg_lr = static_cast<T>(-p.lr);
  c.weight_decay = p.weight_decay != 0.0;
  c.use_momentum = p.momentum != 0.0;
  c.nesterov = p.nesterov;
  c.maximize = p.maximize;
  c.first_step = p.first_step;
  c.complex_param = p.complex_param;  // PyTorch's SGD runs on the complex tensors
  return c;
}

template <typename T>
struct AdamCoefs {
  T wd, decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
  bool weight_decay;  // weight_decay != 0
  bool amsgrad, maximize, decoupled_weight_decay, complex_param;
};

template <typename T, typename P>
AdamCoefs<T> adam_coefs(const P& p) {
  AdamCoefs<T> c;
  c.wd = static_cast<T>(p.weight_decay);
  c.decay = static_cast<T>(1.0 - p.lr * p.weight_decay);
  c.beta1 = static_cast<T>(p.beta1);
  c.one_minus_beta1 = static_cast<T>(1.0 - p.beta1);
  c.beta2 = static_cast<T>(p.beta2);
  c.one_minus_beta2 = static_cast<T>(1.0 - p.beta2);
  c.bc2_sqrt = static_cast<T>(p.bias_correction2_sqrt);
  c.eps = static_cast<T>(p.eps);
  c.neg_step_size = static_cast<T>(-p.step_size);
  c.weight_decay = p.weight_decay != 0.0;
  c.amsgrad = p.amsgrad;
  c.maximize = p.maximize;
  c.decoupled_weight_decay = p.decoupled_weight_decay;
  c.complex_param = p.complex_param;  // the weight decay term is added before view_as_real
  return c;
}

template <typename T>
struct RmspropCoefs {
  T wd, alpha, one_minus_alpha, eps, momentum, neg_lr;
  bool weight_decay;  // weight_decay != 0
  bool use_momentum;  // momentum > 0: the momentum buffer is read and written
  bool centered, maximize, complex_param;
};

template <typename T, typename P>
RmspropCoefs<T> rmsprop_coefs(const P& p) {
  RmspropCoefs<T> c;
  c.wd = static_cast<T>(p.weight_decay);
  c.alpha = static_cast<T>(p.alpha);
  c.one_minus_alpha = static_cast<T>(1.0 - p.alpha);
  c.eps = static_cast<T>(p.eps);
  c.momentum = static_cast<T>(p.momentum);
  c.neg_lr = static_cast<T>(-p.lr);
  c.weight_decay = p.weight_decay != 0.0;
  c.use_momentum = p.momentum > 0.0;
  c.centered = p.centered;
  c.maximize = p.maximize;
  c.complex_param = p.complex_param;  // the weight decay term is added before view_as_real
  return c;
}

template <typename T>
struct AdagradCoefs {
  T wd, eps, neg_clr;
  bool weight_decay;  // weight_decay != 0
  bool maximize, complex_param;
};

template <typename T, typename P>
AdagradCoefs<T> adagrad_coefs(const P& p) {
  AdagradCoefs<T> c;
  c.wd = static_cast<T>(p.weight_decay);
  c.eps = static_cast<T>(p.eps);
  c.neg_clr = static_cast<T>(-p.clr);
  c.weight_decay = p.weight_decay != 0.0;
  c.maximize = p.maximize;
  c.complex_param = p.complex_param;  // the weight decay term is added before view_as_real
  return c;
}

// --- one element's update ------------------------------------------------------------------------
// `buf` is null when !c.use_momentum.
template <typename T>
REEL_HD void sgd_element(const SgdCoefs<T>& c, T* param, const T* grad, T* buf) {
  const bool cx = c.complex_param;
  T d = c.maximize ? -*grad : *grad;
  if (c.weight_decay) d = add_alpha(d, *param, c.wd, cx);
  if (c.use_momentum) {
    T b = c.first_step ? d : mul(*buf, c.momentum);
    if (!c.first_step) b = add_alpha(b, d, c.one_minus_dampening, cx);
    *buf = b;
    d = c.nesterov ? add_alpha(d, b, c.momentum, cx) : b;
  }
  *param = add_alpha(*param, d, c.neg_lr, cx);
}

// `max_exp_avg_sq` is null when !c.amsgrad.
template <typename T>
REEL_HD void adam_element(const AdamCoefs<T>& c, T* param, const T* grad, T* exp_avg,
                          T* exp_avg_sq, T* max_exp_avg_sq) {
  T g = c.maximize ? -*grad : *grad;
  T x = *param;
  if (c.decoupled_weight_decay) {
    x = mul(x, c.decay);  // AdamW: param.mul_(1 - lr * weight_decay), always applied
  } else if (c.weight_decay) {
    g = add_alpha(g, x, c.wd, c.complex_param);
  }
  T m = mul(*exp_avg, c.beta1);
  m = add_alpha(m, g, c.one_minus_beta1);
  T v = mul(*exp_avg_sq, c.beta2);
  v = addcmul(v, g, g, c.one_minus_beta2);
  *exp_avg = m;
  *exp_avg_sq = v;
  T second = v;
  if (c.amsgrad) {
    // torch.maximum: a NaN in either propagates; otherwise std::max's (old < v ? v : old).
    const T old = *max_exp_avg_sq;
    second = (old != old || v != v) ? add(old, v) : (old < v ? v : old);
    *max_exp_avg_sq = second;
  }
  T denom = div(sqrt(second), c.bc2_sqrt);
  denom = add(denom, c.eps);
  *param = add(x, div(mul(c.neg_step_size, m), denom));
}

// `grad_avg` is null when !c.centered, `buf` when !c.use_momentum.
template <typename T>
REEL_HD void rmsprop_element(const RmspropCoefs<T>& c, T* param, const T* grad, T* square_avg,
                             T* grad_avg, T* buf) {
  T g = c.maximize ? -*grad : *grad;
  if (c.weight_decay) g = add_alpha(g, *param, c.wd, c.complex_param);
  T s = mul(*square_avg, c.alpha);
  s = addcmul(s, g, g, c.one_minus_alpha);
  *square_avg = s;
  T avg;
  if (c.centered) {
    T a = mul(*grad_avg, c.alpha);
    a = add_alpha(a, g, c.one_minus_alpha);
    *grad_avg = a;
    // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
    avg = sqrt(addcmul(s, a, a, T(-1)));
  } else {
    avg = sqrt(s);
  }
  avg = add(avg, c.eps);
  if (c.use_momentum) {
    T b = mul(*buf, c.momentum);
    b = add(b, div(g, avg));  // addcdiv_(grad, avg), value 1
    *buf = b;
    *param = add_alpha(*param, b, c.neg_lr);
  } else {
    *param = add(*param, div(mul(c.neg_lr, g), avg));
  }
}

template <typename T>
REEL_HD void adagrad_element(const AdagradCoefs<T>& c, T* param, const T* grad, T* sum) {
  T g = c.maximize ? -*grad : *grad;
  if (c.weight_decay) g = add_alpha(g, *param, c.wd, c.complex_param);
  const T s = addcmul(*sum, g, g, T(1));  // state_sum.addcmul_(grad, grad, value=1)
  *sum = s;
  const T std_ = add(sqrt(s), c.eps);
  *param = add(*param, div(mul(c.neg_clr, g), std_));
}

}  // namespace reel::backends::optim_math
