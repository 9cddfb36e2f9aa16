// Reference backend, padding the last dim of [N, C, L] by (left, right) elements:
//
//   out[n][c][j] = x[n][c][source(j - left)]     for j in [0, left + L + right)
//
// where source(i) is i itself inside [0, L) and, outside, depends on the mode. For
// x = [1, 2, 3, 4] padded by (2, 1):
//
//   Zeros      0 0 | 1 2 3 4 | 0      nothing to read: the value is 0
//   Reflect    3 2 | 1 2 3 4 | 3      mirror about the edge, which is not repeated:
//                                       x[-i] = x[i], x[L-1+i] = x[L-1-i]
//   Replicate  1 1 | 1 2 3 4 | 4      clamp to the edge element
//   Circular   3 4 | 1 2 3 4 | 1      wrap around: x[-i] = x[L-i], x[L+i] = x[i]
//
// The caller validates the pads with PyTorch's messages (reflect: each pad < L; circular: each
// pad <= L; replicate: L > 0), but the kernel checks again so that source() can never point
// outside [0, L) whatever it is given.
//
// pad1d_backward is the adjoint: each input element receives the sum of the gradients of every
// output position that read it (an edge under Replicate is read left+1 times, for example):
//
//   grad_x[n][c][i] = sum_{j : source(j - left) == i} grad_out[n][c][j]
//
// Sums accumulate in acc_t<T> (double for float32) and views may have any strides.
#include <algorithm>
#include <vector>

#include "backends/checked_math.hpp"
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace {

using reference::acc_t;
using reference::cast_value;

// The input index that padded index i (i in [-left, L + right)) reads, or -1 for a zero.
// check_pad has made sure the result is in [0, L).
std::int64_t source(PadMode mode, std::int64_t i, std::int64_t length) {
  if (i >= 0 && i < length) return i;
  switch (mode) {
    case PadMode::Zeros: return -1;
    case PadMode::Reflect: return i < 0 ? -i : 2 * (length - 1) - i;
    case PadMode::Replicate: return i < 0 ? 0 : length - 1;
    case PadMode::Circular: return i < 0 ? i + length : i - length;
  }
  return -1;
}

// x is the unpadded [N, C, L] view, y the padded [N, C, L + left + right] one.
void check_pad(const char* op, const View& x, const View& y, PadMode mode, std::int64_t left,
               std::int64_t right) {
  check(x.shape.size() == 3 && y.shape.size() == 3 && x.strides.size() == 3 &&
            y.strides.size() == 3,
        "{}: expected 3-d views [N, C, L], got input {} and output {}", op, x.shape, y.shape);
  check(x.dtype == y.dtype, "{}: expected input and output of one dtype, got {} and {}", op,
        x.dtype, y.dtype);
  for (int d = 0; d < 3; ++d) {
    check(x.strides[d] >= 0 && y.strides[d] >= 0, "{}: negative strides are not supported", op);
  }
  check(left >= 0 && right >= 0, "{}: negative padding is not supported, got ({}, {})", op, left,
        right);
  const std::int64_t length = x.shape[2];
  std::optional<std::int64_t> padded = checked_add(length, left);
  if (padded) padded = checked_add(*padded, right);
  check(padded.has_value(), "{}: the padded length {} + {} + {} overflows int64", op, length,
        left, right);
  check(y.shape[0] == x.shape[0] && y.shape[1] == x.shape[1] && y.shape[2] == *padded,
        "{}: expected the padded shape [{}, {}, {}] for input {} padded by ({}, {}), got {}", op,
        x.shape[0], x.shape[1], *padded, x.shape, left, right, y.shape);
  switch (mode) {
    case PadMode::Zeros: break;
    case PadMode::Reflect:
      check((left == 0 || left < length) && (right == 0 || right < length),
            "{}: padding size should be less than the corresponding input dimension, but got: "
            "padding ({}, {}) at dimension 2 of input {} (mode reflect)",
            op, left, right, x.shape);
      break;
    case PadMode::Replicate:
      check((left == 0 && right == 0) || length > 0,
            "{}: cannot replicate-pad an empty dimension: input {} padded by ({}, {})", op,
            x.shape, left, right);
      break;
    case PadMode::Circular:
      check(left <= length && right <= length,
            "{}: padding value causes wrapping around more than once: padding ({}, {}) on a "
            "dimension of size {} (mode circular)",
            op, left, right, length);
      break;
    default: fail("{}: unknown padding mode {}", op, static_cast<int>(mode));
  }
}

}  // namespace

void ReferenceBackend::pad1d_impl(const View& out, const View& in, PadMode mode, std::int64_t left,
                             std::int64_t right) {
  check_pad("pad1d", in, out, mode, left, right);
  const std::int64_t length = in.shape[2];
  visit_dtype(in.dtype, [&]<typename T>() {
    const T* x = in.ptr<const T>();
    T* y = out.ptr<T>();
    const auto& sx = in.strides;
    const auto& sy = out.strides;
    for (std::int64_t n = 0; n < out.shape[0]; ++n) {
      for (std::int64_t c = 0; c < out.shape[1]; ++c) {
        for (std::int64_t j = 0; j < out.shape[2]; ++j) {
          const std::int64_t s = source(mode, j - left, length);
          y[n * sy[0] + c * sy[1] + j * sy[2]] =
              s < 0 ? T(0) : x[n * sx[0] + c * sx[1] + s * sx[2]];
        }
      }
    }
  });
}

void ReferenceBackend::pad1d_backward_impl(const View& grad_in, const View& grad_out, PadMode mode,
                                      std::int64_t left, std::int64_t right) {
  check_pad("pad1d_backward", grad_in, grad_out, mode, left, right);
  check(grad_in.dtype != kBool, "pad1d_backward: not supported for bool dtype");
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
          const std::int64_t s = source(mode, j - left, length);
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
