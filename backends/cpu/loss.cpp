// CPU backend, issue 10: cross-entropy over class indices with SIMD exp (the char_lm example's
// loss: [32, vocab, 256] logits, 2 million exps per step between the forward and the backward).
// The reference's formulas (backends/reference/loss.cpp), in double as there, for the common
// case: float32/float64 logits [N, C, L] packed contiguously, no class weight and no label
// smoothing. Per position (n, l) with target t:
//
//   m = max_c x_c,  lse = m + log(sum_c exp(x_c - m)),  loss = lse - x_t
//   grad x_c = g * exp(x_c - lse)  (c != t),  g * (exp(x_t - lse) - 1)  (c == t)
//
// vectorized along the contiguous dim: the classes when L = 1 (a row of C logits per sample),
// else the positions (exp of one class's row of L logits against per-position shifts). The
// exps are xsimd's and the sums run in another order, so results agree with the reference to
// a few ulp of double (float32 outputs almost always bit for bit). Threads split the samples.
// Any other case (weights, smoothing, other dtypes or layouts, a target out of range: the
// reference raises its error) returns false and runs the threaded reference loops.
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/dims.hpp"

namespace reel::backends::cpu {

namespace {

// Exps of work per task.
constexpr std::int64_t kLossWork = 16384;

// An [N, L] view of `dtype` (null allowed when `optional`).
bool positions_view(const View& v, DType dtype, std::int64_t n, std::int64_t l, bool optional) {
  if (v.data == nullptr) return optional;
  return v.dtype == dtype && v.shape.size() == 2 && v.strides.size() == 2 && v.shape[0] == n &&
         v.shape[1] == l;
}

bool packed_logits(const View& v) {
  return (v.dtype == kFloat32 || v.dtype == kFloat64) && v.shape.size() == 3 &&
         v.strides.size() == 3 && is_contiguous_layout(v.shape, v.strides);
}

template <class T>
T& at(const View& v, std::int64_t n, std::int64_t l) {
  return v.ptr<T>()[n * v.strides[0] + l * v.strides[1]];
}

// The target at (n, l), or -1 when ignored.
std::int64_t class_at(const View& target, std::int64_t n, std::int64_t l,
                      const CrossEntropyParams& p) {
  const std::int64_t t = at<std::int64_t>(target, n, l);
  return t == p.ignore_index ? -1 : t;
}

// Whether the fast path takes the call: the layout above and every target ignored or a class.
bool takes(const View& in, const View& target, const View& weight, const CrossEntropyParams& p) {
  if (!packed_logits(in) || weight.data != nullptr || p.label_smoothing != 0.0) return false;
  const std::int64_t n = in.shape[0], classes = in.shape[1], len = in.shape[2];
  if (classes == 0) return false;
  if (!positions_view(target, kInt64, n, len, false)) return false;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t l = 0; l < len; ++l) {
      const std::int64_t t = at<std::int64_t>(target, i, l);
      if (t != p.ignore_index && (t < 0 || t >= classes)) return false;
    }
  }
  return true;
}

template <class F>
void for_samples(const View& in, F&& body) {
  const std::int64_t per_sample = std::max<std::int64_t>(1, in.shape[1] * in.shape[2]);
  parallel_for(0, in.shape[0], std::max<std::int64_t>(1, kLossWork / per_sample), body);
}

}  // namespace

bool cross_entropy_fast(const View& losses, const View& lse, const View& target_weight,
                        const View& in, const View& target, const View& weight,
                        const CrossEntropyParams& p) {
  if (!takes(in, target, weight, p)) return false;
  const std::int64_t n = in.shape[0], classes = in.shape[1], len = in.shape[2];
  if (!positions_view(losses, in.dtype, n, len, false) ||
      !positions_view(lse, in.dtype, n, len, false) ||
      !positions_view(target_weight, in.dtype, n, len, true))
    return false;
  visit_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const TypedKernels<T>& kern = simd_kernels().get<T>();
      const T* x = in.ptr<const T>();
      for_samples(in, [&](std::int64_t n0, std::int64_t n1) {
        std::vector<double> m(static_cast<std::size_t>(len)), z(m.size());
        std::vector<T> mt(m.size());
        for (std::int64_t i = n0; i < n1; ++i) {
          const T* xi = x + i * classes * len;
          // The shifts (the maximum over classes, exact; a NaN logit makes it NaN where the
          // reference's fold skips it, and both then give a NaN lse and loss through its exp)
          // and the sums of exps, per position.
          if (len == 1) {
            m[0] = static_cast<double>(kern.extreme(true, classes, xi));
          } else {
            std::copy_n(xi, len, mt.begin());
            for (std::int64_t c = 1; c < classes; ++c)
              kern.binary(BinaryOp::Maximum, len, mt.data(), 1, xi + c * len, 1, mt.data());
            std::copy(mt.begin(), mt.end(), m.begin());
          }
          if (len == 1) {
            z[0] = kern.exp_sum(classes, xi, m[0]);
          } else {
            std::fill(z.begin(), z.end(), 0.0);
            for (std::int64_t c = 0; c < classes; ++c) kern.exp_acc(len, xi + c * len, m.data(), z.data());
          }
          for (std::int64_t l = 0; l < len; ++l) {
            const std::int64_t t = class_at(target, i, l, p);
            double loss = 0, log_z = 0, wt = 0;
            if (t >= 0) {
              log_z = m[l] + std::log(z[l]);
              wt = 1;
              loss = log_z - static_cast<double>(xi[t * len + l]);
            }
            at<T>(losses, i, l) = static_cast<T>(loss);
            at<T>(lse, i, l) = static_cast<T>(log_z);
            if (target_weight.data != nullptr) at<T>(target_weight, i, l) = static_cast<T>(wt);
          }
        }
      });
    }
  });
  return true;
}

bool cross_entropy_backward_fast(const View& grad_in, const View& grad_losses, const View& in,
                                 const View& lse, const View& target, const View& weight,
                                 const CrossEntropyParams& p) {
  if (!takes(in, target, weight, p) || !packed_logits(grad_in) || grad_in.dtype != in.dtype ||
      grad_in.shape != in.shape)
    return false;
  const std::int64_t n = in.shape[0], classes = in.shape[1], len = in.shape[2];
  if (!positions_view(grad_losses, in.dtype, n, len, false) ||
      !positions_view(lse, in.dtype, n, len, false))
    return false;
  visit_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const TypedKernels<T>& kern = simd_kernels().get<T>();
      const T* x = in.ptr<const T>();
      T* dx = grad_in.ptr<T>();
      for_samples(in, [&](std::int64_t n0, std::int64_t n1) {
        std::vector<double> g(static_cast<std::size_t>(len)), lz(g.size());
        for (std::int64_t i = n0; i < n1; ++i) {
          const T* xi = x + i * classes * len;
          T* di = dx + i * classes * len;
          for (std::int64_t l = 0; l < len; ++l) {
            g[l] = static_cast<double>(at<T>(grad_losses, i, l));
            lz[l] = static_cast<double>(at<T>(lse, i, l));
          }
          if (len == 1) {  // one row of classes, one (g, lse) pair
            kern.exp_scale(classes, xi, lz.data(), 0, g.data(), 0, di);
          } else {  // a row of positions per class, a (g, lse) pair per position
            for (std::int64_t c = 0; c < classes; ++c)
              kern.exp_scale(len, xi + c * len, lz.data(), 1, g.data(), 1, di + c * len);
          }
          // The target's entry, and ignored positions (all zero, as the reference writes).
          for (std::int64_t l = 0; l < len; ++l) {
            const std::int64_t t = class_at(target, i, l, p);
            if (t < 0) {
              for (std::int64_t c = 0; c < classes; ++c) di[c * len + l] = T(0);
              continue;
            }
            const double pt = std::exp(static_cast<double>(xi[t * len + l]) - lz[l]);
            di[t * len + l] = static_cast<T>(g[l] * (pt - 1.0));
          }
        }
      });
    }
  });
  return true;
}

}  // namespace reel::backends::cpu
