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

// The sizes every loop below works with: Backend's entry points have checked them
// (check_conv1d), so the loops cannot index out of bounds.
using ConvGeometry = Conv1dShape;

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
  // check_conv1d again only reads the sizes off the views: the entry point has raised any
  // error already (the CPU backend's fallbacks call these loops directly, on checked views).
  const ConvGeometry g = check_conv1d("conv1d", in, out, &weight,
                                      bias.data != nullptr ? &bias : nullptr, p);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (is_complex_v<T> || std::is_floating_point_v<T>) {
      forward_loops<T>(g, p, out, in, weight, bias);
    }
  });
}

void ReferenceBackend::conv1d_backward_input_impl(const View& grad_in, const View& grad_out,
                                             const View& weight, const Conv1dParams& p) {
  const ConvGeometry g =
      check_conv1d("conv1d_backward_input", grad_in, grad_out, &weight, nullptr, p);
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
      check_conv1d("conv1d_backward_weight", in, grad_out, want_weight ? &grad_weight : nullptr,
                 want_bias ? &grad_bias : nullptr, p);
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (is_complex_v<T> || std::is_floating_point_v<T>) {
      backward_weight_loops<T>(g, p, grad_weight, grad_bias, grad_out, in);
    }
  });
}

}  // namespace reel::backends
