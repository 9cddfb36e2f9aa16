// Reference backend, cross-entropy and negative log-likelihood over class indices.
//
// Input [N, C, L] (logits for cross_entropy, log-probabilities for nll_loss), target [N, L] of
// int64 class indices, an optional weight [C]. Per element (n, l) with t = target[n, l]:
//
//   lse        = m + log(sum_c exp(x_c - m)),  m = max_c x_c      (log-sum-exp, stable)
//   nll        = w_t * (lse - x_t)                                 (-w_t * log_softmax(x)_t)
//   smooth     = sum_c w_c * (lse - x_c)                           (label smoothing's term)
//   loss       = (1 - s) * nll + s / C * smooth
//
// which is PyTorch 1.13's cross_entropy with label_smoothing s (cross_entropy_loss_label_
// smoothing: (1 - s) * nll_loss + s / C * smooth_loss, both ignoring the same targets). The
// fused form never materialises log_softmax: the backward needs only lse per element,
//
//   dloss/dx_c = (1 - s) * w_t * (p_c - [c == t]) + s / C * (p_c * sum_k w_k - w_c),
//   p_c = exp(x_c - lse).
//
// nll_loss is the same with the log-softmax already applied: loss = -w_t * x_t. A target equal
// to ignore_index contributes 0 (and target_weight 0, so the mean skips it); any other target
// outside [0, C) is an error, never a read out of bounds.
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::acc_t;

namespace {

// The class index at target offset `ot`, or -1 when it is ignored; raises when out of range.
std::int64_t class_of(const char* op, std::int64_t t, std::int64_t classes,
                      const CrossEntropyParams& p) {
  if (t == p.ignore_index) return -1;
  check(t >= 0 && t < classes,
        "{}: Target {} is out of bounds: expected a class index in [0, {}) or ignore_index {}", op,
        t, classes, p.ignore_index);
  return t;
}

// w[c], or 1 without a weight.
template <typename T, typename A>
A weight_at(const View& weight, std::int64_t c) {
  return weight.data == nullptr ? A(1) : A(weight.ptr<T>()[c * weight.strides[0]]);
}

// Walks every (n, l): f(offset of in[n, 0, l], offset of target[n, l], offsets of each [N, L]
// view...).
template <typename F, typename... S>
void for_each_position(const View& in, const View& target, F&& f, const S&... strides) {
  const Shape positions{in.shape[0], in.shape[2]};
  const Strides in_strides{in.strides[0], in.strides[2]};
  for_each_offset(positions, f, in_strides, target.strides, strides...);
}

// A null [N, L] view walks with zero strides (it is never written).
Strides strides_or_zero(const View& v) { return v.data ? v.strides : Strides{0, 0}; }

}  // namespace

void ReferenceBackend::cross_entropy_impl(const View& losses, const View& lse,
                                          const View& target_weight, const View& in,
                                          const View& target, const View& weight,
                                          const CrossEntropyParams& p) {
  const std::int64_t classes = in.shape[1], sc = in.strides[1];
  const std::int64_t* tg = target.ptr<std::int64_t>();
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      using A = acc_t<T>;
      const T* x = in.ptr<T>();
      const A s = p.label_smoothing;
      for_each_position(
          in, target,
          [&](std::int64_t ox, std::int64_t ot, std::int64_t ol, std::int64_t oe,
              std::int64_t ow) {
            const std::int64_t t = class_of("cross_entropy", tg[ot], classes, p);
            A loss = 0, log_z = 0, wt = 0;
            if (t >= 0) {
              A m = -std::numeric_limits<A>::infinity();
              for (std::int64_t c = 0; c < classes; ++c) m = std::max<A>(m, x[ox + c * sc]);
              A z = 0;
              for (std::int64_t c = 0; c < classes; ++c) z += std::exp(A(x[ox + c * sc]) - m);
              log_z = m + std::log(z);
              wt = weight_at<T, A>(weight, t);
              loss = wt * (log_z - A(x[ox + t * sc]));
              // Without smoothing the term is not formed at all (a -inf logit would make it
              // inf, and 0 * inf NaN), as PyTorch skips it.
              if (s != 0) {
                A smooth = 0;
                for (std::int64_t c = 0; c < classes; ++c) {
                  smooth += weight_at<T, A>(weight, c) * (log_z - A(x[ox + c * sc]));
                }
                loss = (1 - s) * loss + s / A(classes) * smooth;
              }
            }
            losses.ptr<T>()[ol] = static_cast<T>(loss);
            lse.ptr<T>()[oe] = static_cast<T>(log_z);
            if (target_weight.data) target_weight.ptr<T>()[ow] = static_cast<T>(wt);
          },
          losses.strides, lse.strides, strides_or_zero(target_weight));
    }
  });
}

void ReferenceBackend::cross_entropy_backward_impl(const View& grad_in, const View& grad_losses,
                                                   const View& in, const View& lse,
                                                   const View& target, const View& weight,
                                                   const CrossEntropyParams& p) {
  const std::int64_t classes = in.shape[1], sc = in.strides[1], sgc = grad_in.strides[1];
  const std::int64_t* tg = target.ptr<std::int64_t>();
  const Strides gi_strides{grad_in.strides[0], grad_in.strides[2]};
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      using A = acc_t<T>;
      const T* x = in.ptr<T>();
      T* dx = grad_in.ptr<T>();
      const A s = p.label_smoothing;
      A weight_sum = 0;  // sum_k w_k, for the smoothing term
      for (std::int64_t c = 0; c < classes; ++c) weight_sum += weight_at<T, A>(weight, c);
      for_each_position(
          in, target,
          [&](std::int64_t ox, std::int64_t ot, std::int64_t og, std::int64_t oe,
              std::int64_t od) {
            const std::int64_t t = class_of("cross_entropy_backward", tg[ot], classes, p);
            if (t < 0) {
              for (std::int64_t c = 0; c < classes; ++c) dx[od + c * sgc] = T(0);
              return;
            }
            const A g = grad_losses.ptr<T>()[og], log_z = lse.ptr<T>()[oe];
            const A wt = weight_at<T, A>(weight, t);
            for (std::int64_t c = 0; c < classes; ++c) {
              const A pc = std::exp(A(x[ox + c * sc]) - log_z);
              A d = wt * (pc - A(c == t ? 1 : 0));
              if (s != 0) {
                d = (1 - s) * d + s / A(classes) * (pc * weight_sum - weight_at<T, A>(weight, c));
              }
              dx[od + c * sgc] = static_cast<T>(g * d);
            }
          },
          grad_losses.strides, lse.strides, gi_strides);
    }
  });
}

void ReferenceBackend::nll_loss_impl(const View& losses, const View& target_weight,
                                     const View& in, const View& target, const View& weight,
                                     const CrossEntropyParams& p) {
  const std::int64_t classes = in.shape[1], sc = in.strides[1];
  const std::int64_t* tg = target.ptr<std::int64_t>();
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      using A = acc_t<T>;
      const T* x = in.ptr<T>();
      for_each_position(
          in, target,
          [&](std::int64_t ox, std::int64_t ot, std::int64_t ol, std::int64_t ow) {
            const std::int64_t t = class_of("nll_loss", tg[ot], classes, p);
            const A wt = t >= 0 ? weight_at<T, A>(weight, t) : A(0);
            losses.ptr<T>()[ol] = static_cast<T>(t >= 0 ? -wt * A(x[ox + t * sc]) : A(0));
            if (target_weight.data) target_weight.ptr<T>()[ow] = static_cast<T>(wt);
          },
          losses.strides, strides_or_zero(target_weight));
    }
  });
}

void ReferenceBackend::nll_loss_backward_impl(const View& grad_in, const View& grad_losses,
                                              const View& target, const View& weight,
                                              const CrossEntropyParams& p) {
  const std::int64_t classes = grad_in.shape[1], sgc = grad_in.strides[1];
  const std::int64_t* tg = target.ptr<std::int64_t>();
  visit_wide_dtype(grad_in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      using A = acc_t<T>;
      T* dx = grad_in.ptr<T>();
      for_each_position(
          grad_in, target,
          [&](std::int64_t od, std::int64_t ot, std::int64_t og) {
            const std::int64_t t = class_of("nll_loss_backward", tg[ot], classes, p);
            for (std::int64_t c = 0; c < classes; ++c) dx[od + c * sgc] = T(0);
            if (t >= 0) {
              dx[od + t * sgc] =
                  static_cast<T>(-A(grad_losses.ptr<T>()[og]) * weight_at<T, A>(weight, t));
            }
          },
          grad_losses.strides);
    }
  });
}

}  // namespace reel::backends
