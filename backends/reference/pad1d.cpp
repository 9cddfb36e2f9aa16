// Reference backend, padding the last dim of [N, C, L] by (left, right) elements:
//
//   out[n][c][j] = x[n][c][pad_source(mode, j - left, L)]     for j in [0, left + L + right)
//
// with pad_source (backends/kernel_params.hpp, shared with the CUDA kernels) the index each
// mode reads, -1 for a zero. Backend::pad1d has checked the views and pads with PyTorch's
// messages, so pad_source stays within [0, L).
//
// pad1d_backward is the adjoint: each input element receives the sum of the gradients of every
// output position that read it (an edge under Replicate is read left+1 times, for example):
//
//   grad_x[n][c][i] = sum_{j : pad_source(mode, j - left, L) == i} grad_out[n][c][j]
//
// Sums accumulate in acc_t<T> (double for float32) and views may have any strides.
#include <algorithm>
#include <vector>

#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

using reference::acc_t;
using reference::cast_value;

void ReferenceBackend::pad1d_impl(const View& out, const View& in, PadMode mode, std::int64_t left,
                             std::int64_t /*right*/) {
  const std::int64_t length = in.shape[2];
  visit_dtype(in.dtype, [&]<typename T>() {
    const T* x = in.ptr<const T>();
    T* y = out.ptr<T>();
    const auto& sx = in.strides;
    const auto& sy = out.strides;
    for (std::int64_t n = 0; n < out.shape[0]; ++n) {
      for (std::int64_t c = 0; c < out.shape[1]; ++c) {
        for (std::int64_t j = 0; j < out.shape[2]; ++j) {
          const std::int64_t s = pad_source(mode, j - left, length);
          y[n * sy[0] + c * sy[1] + j * sy[2]] =
              s < 0 ? T(0) : x[n * sx[0] + c * sx[1] + s * sx[2]];
        }
      }
    }
  });
}

void ReferenceBackend::pad1d_backward_impl(const View& grad_in, const View& grad_out, PadMode mode,
                                      std::int64_t left, std::int64_t /*right*/) {
  const std::int64_t length = grad_in.shape[2];
  visit_wide_dtype(grad_in.dtype, [&]<typename T>() {
    using A = acc_t<T>;
    const T* gy = grad_out.ptr<const T>();
    T* gx = grad_in.ptr<T>();
    const auto& sy = grad_out.strides;
    const auto& sx = grad_in.strides;
    // One row at a time: scatter every output gradient onto the input element it read, in the
    // accumulation type, then round each sum once.
    std::vector<A> row(static_cast<std::size_t>(length));
    for (std::int64_t n = 0; n < grad_in.shape[0]; ++n) {
      for (std::int64_t c = 0; c < grad_in.shape[1]; ++c) {
        std::fill(row.begin(), row.end(), A(0));
        for (std::int64_t j = 0; j < grad_out.shape[2]; ++j) {
          const std::int64_t s = pad_source(mode, j - left, length);
          if (s < 0) continue;  // a zero of the padding: its gradient goes nowhere
          row[static_cast<std::size_t>(s)] = reference::plus(
              row[static_cast<std::size_t>(s)],
              cast_value<A>(gy[n * sy[0] + c * sy[1] + j * sy[2]]));
        }
        for (std::int64_t i = 0; i < length; ++i) {
          gx[n * sx[0] + c * sx[1] + i * sx[2]] = cast_value<T>(row[static_cast<std::size_t>(i)]);
        }
      }
    }
  });
}

}  // namespace reel::backends
