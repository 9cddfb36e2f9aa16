// Reference backend, 1-D convolution: the naive loops, written to be read. This is the oracle
// every fast conv1d kernel (cpu, cuda) is tested against.
//
// What PyTorch (and reel) calls convolution is a cross-correlation (the kernel is not flipped).
// With G groups, each group g sees Cin/G input channels and produces Cout/G output channels;
// output channel co belongs to group g = co / (Cout/G) and reads input channels
// g*Cin/G .. (g+1)*Cin/G - 1. For a batch element n, output channel co and output position t:
//
//   out[n][co][t] = bias[co]
//                 + sum_{j < Cin/G} sum_{k < K} w[co][j][k] * x[n][g*Cin/G + j][t*stride + k*dilation - pad_left]
//
// where any term whose input position lies outside [0, L) is zero. That one rule *is* zero
// padding: symmetric padding, the asymmetric split of 'same' (one more element on the right)
// and causal padding (everything on the left) are all just values of (pad_left, pad_right),
// and no padded copy of x is ever made. pad_right only decides how many outputs there are:
//
//   Lout = floor((L + pad_left + pad_right - dilation*(K-1) - 1) / stride) + 1.
//
// Groups are handled in the indexing above, never by splitting and concatenating tensors.
// Depthwise convolution with multiplier M is the case G = Cin, Cout = M*Cin.
//
// The two backward kernels are the two other ways to read the same sum (out is bilinear in x
// and w, so each gradient is the adjoint map applied to grad_out):
//
//   grad_x[n][ci][i] = sum_{co in group(ci)} sum_k sum_{t : t*stride + k*dilation - pad_left == i}
//                        w[co][ci - g*Cin/G][k] * grad_out[n][co][t]          (transposed conv)
//   grad_w[co][j][k] = sum_n sum_t grad_out[n][co][t] * x[n][g*Cin/G + j][t*stride + k*dilation - pad_left]
//   grad_b[co]       = sum_n sum_t grad_out[n][co][t]
//
// Complex numbers: these are plain multiply-accumulates, with no conjugation anywhere. The op
// layer applies PyTorch's conjugate-Wirtinger convention by passing conj(w) / conj(x) in.
//
// Precision: sums accumulate in acc_t<T> (double for float32, complex128 for complex64) and are
// rounded once at the end, so the oracle is as close to exact as is cheap; fast kernels are
// compared to it with a tolerance.
//
// Layout: views may have any (non-negative) strides; every element is addressed through them,
// so the reference needs no contiguous copy. Outputs are overwritten, never accumulated into.
#include "backends/reference/array3.hpp"
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace {

using reference::acc_t;
using reference::cast_value;

using reference::Array3;

// The sizes every conv1d kernel works with, read off (and checked against) the views.
struct ConvGeometry {
  std::int64_t batch = 0;         // N
  std::int64_t in_channels = 0;   // Cin
  std::int64_t out_channels = 0;  // Cout
  std::int64_t length = 0;        // L
  std::int64_t out_length = 0;    // Lout
  std::int64_t kernel = 0;        // K (0 when no weight-shaped view was given)
  std::int64_t in_per_group = 0;  // Cin / G
  std::int64_t out_per_group = 0; // Cout / G
};

void check_rank3(const char* op, const char* name, const View& v) {
  backends::check_rank3(op, name, v, "[N, C, L] (or [Cout, Cin/groups, K])");
}

// Validates every view and parameter so that the loops below can never index out of bounds.
// x is input-shaped [N, Cin, L], y is output-shaped [N, Cout, Lout], w (may be null) is
// weight-shaped [Cout, Cin/G, K], b (may be null) is bias-shaped [Cout].
ConvGeometry check_conv(const char* op, const View& x, const View& y, const View* w,
                        const View* b, const Conv1dParams& p) {
  check(p.stride >= 1, "{}: stride must be positive, got {}", op, p.stride);
  check(p.dilation >= 1, "{}: dilation must be positive, got {}", op, p.dilation);
  check(p.groups >= 1, "{}: groups must be positive, got {}", op, p.groups);
  check(p.pad_left >= 0 && p.pad_right >= 0, "{}: negative padding is not supported, got ({}, {})",
        op, p.pad_left, p.pad_right);
  check(is_inexact(x.dtype), "{}: expected a float32, float64, complex64 or complex128 dtype, got {}",
        op, x.dtype);
  check_rank3(op, "input", x);
  check_rank3(op, "output", y);

  ConvGeometry g;
  g.batch = x.shape[0];
  g.in_channels = x.shape[1];
  g.length = x.shape[2];
  g.out_channels = y.shape[1];
  g.out_length = y.shape[2];
  check(y.dtype == x.dtype, "{}: expected input and output of one dtype, got {} and {}", op,
        x.dtype, y.dtype);
  check(y.shape[0] == g.batch, "{}: batch sizes differ: input {} vs output {}", op, x.shape,
        y.shape);
  check(g.in_channels % p.groups == 0 && g.out_channels % p.groups == 0,
        "{}: groups={} must divide in_channels={} and out_channels={}", op, p.groups,
        g.in_channels, g.out_channels);
  g.in_per_group = g.in_channels / p.groups;
  g.out_per_group = g.out_channels / p.groups;

  if (w != nullptr) {
    check_rank3(op, "weight", *w);
    check(w->dtype == x.dtype, "{}: expected input and weight of one dtype, got {} and {}", op,
          x.dtype, w->dtype);
    check(w->shape[0] == g.out_channels && w->shape[1] == g.in_per_group,
          "{}: expected weight of shape [{}, {}, K] (out_channels, in_channels/groups, K), got {}",
          op, g.out_channels, g.in_per_group, w->shape);
    g.kernel = w->shape[2];
    check(g.kernel >= 1, "{}: kernel size must be positive, got {}", op, g.kernel);
    // Checked (raises when the dilated kernel overflows or outgrows the padded input), so
    // the index arithmetic of the loops below stays in range.
    const std::int64_t expected = p.out_length(g.length, g.kernel);
    check(g.out_length == expected, "{}: expected output length {}, got output of shape {}", op,
          expected, y.shape);
  }
  if (b != nullptr) {
    check(b->dtype == x.dtype, "{}: expected input and bias of one dtype, got {} and {}", op,
          x.dtype, b->dtype);
    check(b->shape.size() == 1 && b->shape[0] == g.out_channels && b->strides.size() == 1 &&
              b->strides[0] >= 0,
          "{}: expected bias of shape [{}], got {}", op, g.out_channels, b->shape);
  }
  return g;
}

// The dtype loops, one per kernel, shared by all four dtypes through visit_dtype.

template <typename T>
void forward_loops(const ConvGeometry& g, const Conv1dParams& p, const View& out, const View& in,
                   const View& weight, const View& bias) {
  using A = acc_t<T>;
  const Array3<T> y(out);
  const Array3<const T> x(in);
  const Array3<const T> w(weight);
  const bool has_bias = bias.data != nullptr;
  const T* b = bias.ptr<const T>();

  for (std::int64_t n = 0; n < g.batch; ++n) {
    for (std::int64_t co = 0; co < g.out_channels; ++co) {
      const std::int64_t group = co / g.out_per_group;
      const std::int64_t first_in = group * g.in_per_group;  // co's first input channel
      for (std::int64_t t = 0; t < g.out_length; ++t) {
        A acc = has_bias ? cast_value<A>(b[co * bias.strides[0]]) : A(0);
        for (std::int64_t j = 0; j < g.in_per_group; ++j) {
          for (std::int64_t k = 0; k < g.kernel; ++k) {
            const std::int64_t i = t * p.stride + k * p.dilation - p.pad_left;
            if (i < 0 || i >= g.length) continue;  // a padded position: contributes zero
            acc += cast_value<A>(w(co, j, k)) * cast_value<A>(x(n, first_in + j, i));
          }
        }
        y(n, co, t) = cast_value<T>(acc);
      }
    }
  }
}

template <typename T>
void backward_input_loops(const ConvGeometry& g, const Conv1dParams& p, const View& grad_in,
                          const View& grad_out, const View& weight) {
  using A = acc_t<T>;
  const Array3<T> gx(grad_in);
  const Array3<const T> gy(grad_out);
  const Array3<const T> w(weight);

  // Written as a gather (one sum per grad_x element) rather than a scatter, so every element
  // is accumulated in acc_t and written once. Input position i met kernel tap k at output t
  // exactly when t*stride = i + pad_left - k*dilation, which needs that number to be a
  // non-negative multiple of stride with quotient < Lout.
  for (std::int64_t n = 0; n < g.batch; ++n) {
    for (std::int64_t ci = 0; ci < g.in_channels; ++ci) {
      const std::int64_t group = ci / g.in_per_group;
      const std::int64_t j = ci - group * g.in_per_group;  // ci's index inside its group
      for (std::int64_t i = 0; i < g.length; ++i) {
        A acc = A(0);
        for (std::int64_t co = group * g.out_per_group; co < (group + 1) * g.out_per_group; ++co) {
          for (std::int64_t k = 0; k < g.kernel; ++k) {
            const std::int64_t shifted = i + p.pad_left - k * p.dilation;  // = t * stride
            if (shifted < 0 || shifted % p.stride != 0) continue;
            const std::int64_t t = shifted / p.stride;
            if (t >= g.out_length) continue;
            acc += cast_value<A>(w(co, j, k)) * cast_value<A>(gy(n, co, t));
          }
        }
        gx(n, ci, i) = cast_value<T>(acc);
      }
    }
  }
}

template <typename T>
void backward_weight_loops(const ConvGeometry& g, const Conv1dParams& p, const View& grad_weight,
                           const View& grad_bias, const View& grad_out, const View& in) {
  using A = acc_t<T>;
  const Array3<const T> gy(grad_out);
  const Array3<const T> x(in);

  if (grad_weight.data != nullptr) {
    const Array3<T> gw(grad_weight);
    for (std::int64_t co = 0; co < g.out_channels; ++co) {
      const std::int64_t first_in = (co / g.out_per_group) * g.in_per_group;
      for (std::int64_t j = 0; j < g.in_per_group; ++j) {
        for (std::int64_t k = 0; k < g.kernel; ++k) {
          A acc = A(0);
          for (std::int64_t n = 0; n < g.batch; ++n) {
            for (std::int64_t t = 0; t < g.out_length; ++t) {
              const std::int64_t i = t * p.stride + k * p.dilation - p.pad_left;
              if (i < 0 || i >= g.length) continue;  // the tap read a zero of the padding
              acc += cast_value<A>(gy(n, co, t)) * cast_value<A>(x(n, first_in + j, i));
            }
          }
          gw(co, j, k) = cast_value<T>(acc);
        }
      }
    }
  }
  if (grad_bias.data != nullptr) {
    T* gb = grad_bias.ptr<T>();
    for (std::int64_t co = 0; co < g.out_channels; ++co) {
      A acc = A(0);
      for (std::int64_t n = 0; n < g.batch; ++n) {
        for (std::int64_t t = 0; t < g.out_length; ++t) acc += cast_value<A>(gy(n, co, t));
      }
      gb[co * grad_bias.strides[0]] = cast_value<T>(acc);
    }
  }
}

}  // namespace

void ReferenceBackend::conv1d_forward_impl(const View& out, const View& in, const View& weight,
                                      const View& bias, const Conv1dParams& p) {
  check(weight.data != nullptr || weight.numel() == 0, "conv1d: weight is required");
  const ConvGeometry g = check_conv("conv1d", in, out, &weight,
                                    bias.data != nullptr ? &bias : nullptr, p);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (is_complex_v<T> || std::is_floating_point_v<T>) {
      forward_loops<T>(g, p, out, in, weight, bias);
    }
  });
}

void ReferenceBackend::conv1d_backward_input_impl(const View& grad_in, const View& grad_out,
                                             const View& weight, const Conv1dParams& p) {
  const ConvGeometry g = check_conv("conv1d_backward_input", grad_in, grad_out, &weight, nullptr, p);
  visit_wide_dtype(grad_in.dtype, [&]<typename T>() {
    if constexpr (is_complex_v<T> || std::is_floating_point_v<T>) {
      backward_input_loops<T>(g, p, grad_in, grad_out, weight);
    }
  });
}

void ReferenceBackend::conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                              const View& grad_out, const View& in,
                                              const Conv1dParams& p) {
  const bool want_weight = grad_weight.data != nullptr;
  const bool want_bias = grad_bias.data != nullptr;
  if (!want_weight && !want_bias) return;  // nothing requested, nothing computed
  const ConvGeometry g =
      check_conv("conv1d_backward_weight", in, grad_out, want_weight ? &grad_weight : nullptr,
                 want_bias ? &grad_bias : nullptr, p);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (is_complex_v<T> || std::is_floating_point_v<T>) {
      backward_weight_loops<T>(g, p, grad_weight, grad_bias, grad_out, in);
    }
  });
}

}  // namespace reel::backends
