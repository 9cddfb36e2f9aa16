// Reference backend, normalization (issue 7): the three primitives under BatchNorm1d,
// InstanceNorm1d, GroupNorm and LayerNorm.
//
// The data is a 4-d view x[N, G, D, L] (backend.hpp, NormParams): N samples, G groups of D
// channels, L positions. A *slot* is one set of statistics: (n, g) over (d, l), or, when the
// statistics views have extent 1 in dim 0 (BatchNorm: one mean per channel for the batch), g
// over (n, d, l). With M the number of elements of a slot:
//
//   mean = sum x / M,   var = sum (x - mean)^2 / M     (biased: the variance that normalizes)
//   xhat = (x - mean) * rstd,   rstd = 1 / sqrt(var + eps)
//   y    = xhat * weight[g, d] + bias[g, d]
//
// Backward (Ioffe & Szegedy 2015, eq. after (3); PyTorch's batch_norm_backward_cpu): with
// dxhat = gy * weight,
//
//   grad_bias[g, d]   = sum_{n, l} gy
//   grad_weight[g, d] = sum_{n, l} gy * xhat
//   grad_x = rstd * (dxhat - mean_slot(dxhat) - xhat * mean_slot(dxhat * xhat))
//
// when the statistics came from x (training); when they were given (running statistics in
// eval mode) they are constants and grad_x = rstd * dxhat.
//
// Two passes (mean, then the squared deviations), everything accumulated in double, so the
// oracle is as close to exact as cheaply possible; PyTorch's CPU kernels use float for float32
// (Welford / cascade sums), which the tests meet with a tolerance.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace {

using reference::cast_value;

// The offset of element (n, g, d, l) of a 4-d view.
inline std::int64_t at4(const View& v, std::int64_t n, std::int64_t g, std::int64_t d,
                        std::int64_t l) {
  return n * v.strides[0] + g * v.strides[1] + d * v.strides[2] + l * v.strides[3];
}
inline std::int64_t at2(const View& v, std::int64_t i, std::int64_t j) {
  return i * v.strides[0] + j * v.strides[1];
}

// The geometry of a call: sizes, and which samples a slot covers.
struct Slots {
  std::int64_t n, g, d, l;
  bool shared;  // statistics shared by the batch (one slot per g)
  Slots(const View& in, const View& stats)
      : n(in.shape[0]), g(in.shape[1]), d(in.shape[2]), l(in.shape[3]),
        shared(stats.shape[0] == 1 && in.shape[0] != 1) {}
  std::int64_t count() const { return (shared ? n : 1) * d * l; }  // M
  std::int64_t stat_rows() const { return shared ? 1 : n; }
  // Calls f(n, d, l) for every element of slot (row, g).
  template <typename F>
  void for_each(std::int64_t row, F&& f) const {
    const std::int64_t n0 = shared ? 0 : row, n1 = shared ? n : row + 1;
    for (std::int64_t i = n0; i < n1; ++i)
      for (std::int64_t c = 0; c < d; ++c)
        for (std::int64_t t = 0; t < l; ++t) f(i, c, t);
  }
};

template <typename T>
double read_or(const View& v, std::int64_t g, std::int64_t d, double fallback) {
  return v.data == nullptr ? fallback : static_cast<double>(v.ptr<const T>()[at2(v, g, d)]);
}

double rstd_of(double var, double eps) { return 1.0 / std::sqrt(var + eps); }

}  // namespace

void ReferenceBackend::norm_stats_impl(const View& mean, const View& var, const View& in) {
  const Slots s(in, mean);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* x = in.ptr<const T>();
      const double m = static_cast<double>(s.count());
      for (std::int64_t row = 0; row < s.stat_rows(); ++row) {
        for (std::int64_t g = 0; g < s.g; ++g) {
          double mu = std::numeric_limits<double>::quiet_NaN(), v = mu;  // an empty slot
          if (s.count() > 0) {
            double sum = 0.0;
            s.for_each(row, [&](auto n, auto d, auto l) { sum += x[at4(in, n, g, d, l)]; });
            mu = sum / m;
            double sq = 0.0;
            s.for_each(row, [&](auto n, auto d, auto l) {
              const double e = static_cast<double>(x[at4(in, n, g, d, l)]) - mu;
              sq += e * e;
            });
            v = sq / m;
          }
          mean.ptr<T>()[at2(mean, row, g)] = cast_value<T>(mu);
          var.ptr<T>()[at2(var, row, g)] = cast_value<T>(v);
        }
      }
    } else {
      fail("norm_stats: not supported for dtype {}", in.dtype);
    }
  });
}

void ReferenceBackend::norm_forward_impl(const View& out, const View& in, const View& mean,
                                         const View& var, const View& weight, const View& bias,
                                         const NormParams& p) {
  const Slots s(in, mean);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* x = in.ptr<const T>();
      T* y = out.ptr<T>();
      for (std::int64_t row = 0; row < s.stat_rows(); ++row) {
        for (std::int64_t g = 0; g < s.g; ++g) {
          const double mu = static_cast<double>(mean.ptr<const T>()[at2(mean, row, g)]);
          const double rstd = rstd_of(static_cast<double>(var.ptr<const T>()[at2(var, row, g)]), p.eps);
          s.for_each(row, [&](auto n, auto d, auto l) {
            const double xhat = (static_cast<double>(x[at4(in, n, g, d, l)]) - mu) * rstd;
            y[at4(out, n, g, d, l)] = cast_value<T>(xhat * read_or<T>(weight, g, d, 1.0) +
                                                    read_or<T>(bias, g, d, 0.0));
          });
        }
      }
    } else {
      fail("norm_forward: not supported for dtype {}", in.dtype);
    }
  });
}

void ReferenceBackend::norm_backward_impl(const View& grad_in, const View& grad_weight,
                                          const View& grad_bias, const View& grad_out,
                                          const View& in, const View& mean, const View& var,
                                          const View& weight, const NormParams& p) {
  const Slots s(in, mean);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* x = in.ptr<const T>();
      const T* gy = grad_out.ptr<const T>();
      const double m = static_cast<double>(s.count());
      // Per channel sums for grad_weight and grad_bias, [G, D] in double.
      std::vector<double> sum_gy(static_cast<std::size_t>(s.g * s.d), 0.0);
      std::vector<double> sum_gy_xhat(sum_gy.size(), 0.0);
      for (std::int64_t row = 0; row < s.stat_rows(); ++row) {
        for (std::int64_t g = 0; g < s.g; ++g) {
          const double mu = static_cast<double>(mean.ptr<const T>()[at2(mean, row, g)]);
          const double rstd = rstd_of(static_cast<double>(var.ptr<const T>()[at2(var, row, g)]), p.eps);
          auto xhat_at = [&](std::int64_t n, std::int64_t d, std::int64_t l) {
            return (static_cast<double>(x[at4(in, n, g, d, l)]) - mu) * rstd;
          };
          // The slot's means of dxhat and dxhat * xhat (needed only through the statistics).
          double mean_dxhat = 0.0, mean_dxhat_xhat = 0.0;
          s.for_each(row, [&](auto n, auto d, auto l) {
            const double go = static_cast<double>(gy[at4(grad_out, n, g, d, l)]);
            const std::size_t c = static_cast<std::size_t>(g * s.d + d);
            const double xhat = xhat_at(n, d, l);
            sum_gy[c] += go;
            sum_gy_xhat[c] += go * xhat;
            const double dxhat = go * read_or<T>(weight, g, d, 1.0);
            mean_dxhat += dxhat;
            mean_dxhat_xhat += dxhat * xhat;
          });
          if (grad_in.data == nullptr) continue;
          if (m > 0) {
            mean_dxhat /= m;
            mean_dxhat_xhat /= m;
          }
          T* gx = grad_in.ptr<T>();
          s.for_each(row, [&](auto n, auto d, auto l) {
            const double dxhat =
                static_cast<double>(gy[at4(grad_out, n, g, d, l)]) * read_or<T>(weight, g, d, 1.0);
            const double v = p.input_stats
                                 ? rstd * (dxhat - mean_dxhat - xhat_at(n, d, l) * mean_dxhat_xhat)
                                 : rstd * dxhat;
            gx[at4(grad_in, n, g, d, l)] = cast_value<T>(v);
          });
        }
      }
      for (std::int64_t g = 0; g < s.g; ++g) {
        for (std::int64_t d = 0; d < s.d; ++d) {
          const std::size_t c = static_cast<std::size_t>(g * s.d + d);
          if (grad_weight.data != nullptr)
            grad_weight.ptr<T>()[at2(grad_weight, g, d)] = cast_value<T>(sum_gy_xhat[c]);
          if (grad_bias.data != nullptr)
            grad_bias.ptr<T>()[at2(grad_bias, g, d)] = cast_value<T>(sum_gy[c]);
        }
      }
    } else {
      fail("norm_backward: not supported for dtype {}", in.dtype);
    }
  });
}

}  // namespace reel::backends
