// Reference backend, softmax and log_softmax along one dim, and their gradients.
//
// Each slice along `dim` (every other index fixed) is shifted by its maximum m before exp, so
// no exp overflows (Goodfellow et al., Deep Learning, 4.1):
//
//   softmax(x)_i     = exp(x_i - m) / sum_j exp(x_j - m)
//   log_softmax(x)_i = (x_i - m) - log(sum_j exp(x_j - m))
//
// A slice holding +inf, or only -inf, gives NaN, as PyTorch's kernels do (inf - inf). The
// gradients are the Jacobians applied to grad_out g, from the forward's output y alone:
//
//   softmax:      dx_i = y_i * (g_i - sum_j g_j y_j)         (J = diag(y) - y y^T)
//   log_softmax:  dx_i = g_i - exp(y_i) * sum_j g_j          (J = I - 1 softmax^T)
//
// Sums accumulate in acc_t<T> (double for float32); views may have any strides.
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::acc_t;

namespace {

// Calls f(first offset of each view) once per slice along `dim`: the walk over every other dim.
template <typename F, typename... S>
void for_each_slice(const Shape& shape, int dim, F&& f, const S&... strides) {
  for_each_offset(with_extent(shape, dim, 1), f, strides...);
}

}  // namespace

void ReferenceBackend::softmax_impl(const View& out, const View& in, int dim, bool log) {
  const std::int64_t n = in.shape[dim], si = in.strides[dim], so = out.strides[dim];
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      using A = acc_t<T>;
      const T* x = in.ptr<T>();
      T* y = out.ptr<T>();
      for_each_slice(
          in.shape, dim,
          [&](std::int64_t oi, std::int64_t oo) {
            A m = -std::numeric_limits<A>::infinity();
            for (std::int64_t i = 0; i < n; ++i) m = std::max<A>(m, x[oi + i * si]);
            A s = 0;
            for (std::int64_t i = 0; i < n; ++i) s += std::exp(A(x[oi + i * si]) - m);
            const A log_s = std::log(s);
            for (std::int64_t i = 0; i < n; ++i) {
              const A z = A(x[oi + i * si]) - m;
              y[oo + i * so] = static_cast<T>(log ? z - log_s : std::exp(z) / s);
            }
          },
          in.strides, out.strides);
    }
  });
}

void ReferenceBackend::softmax_backward_impl(const View& grad_in, const View& grad_out,
                                             const View& out, int dim, bool log) {
  const std::int64_t n = out.shape[dim], sy = out.strides[dim], sg = grad_out.strides[dim],
                     sx = grad_in.strides[dim];
  visit_wide_dtype(out.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      using A = acc_t<T>;
      const T* y = out.ptr<T>();
      const T* g = grad_out.ptr<T>();
      T* dx = grad_in.ptr<T>();
      for_each_slice(
          out.shape, dim,
          [&](std::int64_t oy, std::int64_t og, std::int64_t ox) {
            A s = 0;  // softmax: sum g*y; log_softmax: sum g
            for (std::int64_t i = 0; i < n; ++i) {
              s += log ? A(g[og + i * sg]) : A(g[og + i * sg]) * A(y[oy + i * sy]);
            }
            for (std::int64_t i = 0; i < n; ++i) {
              const A gi = g[og + i * sg], yi = y[oy + i * sy];
              dx[ox + i * sx] = static_cast<T>(log ? gi - std::exp(yi) * s : yi * (gi - s));
            }
          },
          out.strides, grad_out.strides, grad_in.strides);
    }
  });
}

}  // namespace reel::backends
