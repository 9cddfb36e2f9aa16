// Reference backend, batched matrix product:
//   out[p, i, j] = sum_k a[p, i, k] * b[p, k, j]
// with any strides: a batch stride of 0 broadcasts one matrix over the batch, and swapped
// strides read a transposed matrix in place. Dot products accumulate in acc_t<T> (double for
// float32, complex128 for complex64) and are rounded once, so the oracle is nearly exact.
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

using reference::acc_t;
using reference::cast_value;

void ReferenceBackend::matmul_impl(const View& out, const View& a, const View& b) {
  // Backend::matmul has checked the shapes: [B, M, K] @ [B, K, N] -> [B, M, N].
  const std::int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];

  visit_wide_dtype(out.dtype, [&]<typename T>() {
    using A = acc_t<T>;
    const T* pa = a.ptr<T>();
    const T* pb = b.ptr<T>();
    T* po = out.ptr<T>();
    const auto& sa = a.strides;
    const auto& sb = b.strides;
    const auto& so = out.strides;
    for (std::int64_t p = 0; p < batch; ++p) {
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j) {
          A acc = A(0);
          for (std::int64_t q = 0; q < k; ++q) {
            const A x = cast_value<A>(pa[p * sa[0] + i * sa[1] + q * sa[2]]);
            const A y = cast_value<A>(pb[p * sb[0] + q * sb[1] + j * sb[2]]);
            acc = reference::plus(acc, reference::times(x, y));
          }
          po[p * so[0] + i * so[1] + j * so[2]] = cast_value<T>(acc);
        }
      }
    }
  });
}

}  // namespace reel::backends
