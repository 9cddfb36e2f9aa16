// F.conv_transpose1d on conv1d's own kernels: a transposed convolution is conv1d's input
// gradient, so the three conv1d primitives serve it with their roles exchanged.
//
// conv1d with params p maps x (N, Cin', L') to y (N, Cout', Lo') with weight (Cout', Cin'/G, K);
// conv1d_backward_input is its adjoint y -> x. ConvTranspose1d's weight (C_in, C_out/G, K) is
// exactly such a weight with Cout' = C_in and Cin' = C_out, so
//   forward        out  = conv1d_backward_input(grad_out := input, weight)       (L' = L_out)
//   grad_input     gx   = conv1d_forward(in := grad_out, conj(weight))
//   grad_weight    gw   = conv1d_backward_weight(grad_out := conj(input), in := grad_out)
//   grad_bias      gb   = sum of grad_out over N and L_out
// (conjugations: PyTorch's conjugate-Wirtinger convention, as in conv1d.cpp).
//
// The geometry: p.pad_left = padding, and the conv1d shape rule
//   Lo' = floor((L' + pad_left + pad_right - dilation*(K-1) - 1) / stride) + 1
// must give back L for L' = L_out. output_padding adds positions at the right end; those past
// the last one any input reaches, (L-1)*stride + dilation*(K-1) - padding, hold just the bias.
// So the kernels work on the first L_eff = L_out - crop positions, crop = max(0, output_padding
// - padding), with pad_right = max(0, padding - output_padding): then the numerator above is
// exactly (L-1)*stride, Lo' = L, and every padding stays non-negative (no new kernel geometry,
// and output_padding >= stride, which PyTorch allows when dilation is larger, needs no special
// case). The cropped tail is zero (plus bias) forward and reads no input backward.
#include "nn/functional/conv_transpose1d.hpp"

#include <array>
#include <optional>

#include "autograd/record.hpp"
#include "nn/functional/internal.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

using detail::contiguous_no_grad;

struct Geometry {
  backends::Conv1dParams p;
  std::int64_t l_out = 0;  // the output length
  std::int64_t l_eff = 0;  // the leading positions the kernels compute (the rest: bias only)
};

// The op on a batched input, options and shapes already checked.
Tensor conv_transpose1d_op(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                           const Geometry& geo) {
  const Tensor x = contiguous_no_grad(x_in);
  const Tensor w = contiguous_no_grad(w_in);
  const bool has_bias = b_in.defined();
  const std::int64_t n = x.size(0), c_out = w.size(1) * geo.p.groups;
  const bool computed = x.numel() > 0 && w.numel() > 0 && geo.l_eff > 0;
  Tensor out;
  {
    NoGradGuard no_grad;
    if (computed && geo.l_eff == geo.l_out) {
      out = empty({n, c_out, geo.l_out}, x.options());
      backend_for(x.device()).conv1d_backward_input(view_of(out), view_of(x), view_of(w), geo.p);
    } else {
      out = zeros({n, c_out, geo.l_out}, x.options());
      if (computed && out.numel() > 0) {
        Tensor head = empty({n, c_out, geo.l_eff}, x.options());
        backend_for(x.device()).conv1d_backward_input(view_of(head), view_of(x), view_of(w),
                                                      geo.p);
        out.narrow(2, 0, geo.l_eff).copy_(head);
      }
    }
    if (has_bias && out.numel() > 0) out.add_(b_in.reshape({1, c_out, 1}));
  }

  const std::array<Tensor, 3> inputs{x_in, w_in, b_in};
  if (!autograd::needs_grad_any(inputs)) return out;
  autograd::SavedTensor saved_x, saved_w;
  if (w_in.requires_grad()) saved_x = autograd::SavedTensor(x);
  if (x_in.requires_grad()) saved_w = autograd::SavedTensor(w);
  const Shape x_shape = x.sizes(), w_shape = w.sizes();
  autograd::record(
      "ConvolutionBackward0", {&x_in, &w_in, &b_in}, out,
      [saved_x, saved_w, x_shape, w_shape, has_bias, geo, computed](
          std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
        const Tensor go = g[0].contiguous();
        backends::Backend& be = backend_for(go.device());
        // The positions the kernels produced; the cropped tail depends on nothing but the bias.
        Tensor go_eff;
        if (computed) go_eff = geo.l_eff == geo.l_out ? go : go.narrow(2, 0, geo.l_eff).contiguous();
        const backends::View none{};
        Tensor gx, gw, gb;
        if (need[0]) {
          gx = empty(x_shape, go.options());
          if (computed) {
            Tensor w_conj = conj(saved_w.unpack()).contiguous();
            be.conv1d_forward(view_of(gx), view_of(go_eff), view_of(w_conj), none, geo.p);
          } else if (gx.numel() > 0) {
            gx.zero_();
          }
        }
        if (need[1]) {
          gw = empty(w_shape, go.options());
          if (computed) {
            Tensor x_conj = conj(saved_x.unpack()).contiguous();
            be.conv1d_backward_weight(view_of(gw), none, view_of(x_conj), view_of(go_eff), geo.p);
          } else if (gw.numel() > 0) {
            gw.zero_();
          }
        }
        if (has_bias && need[2]) gb = sum(go, {0, 2});
        return {gx, gw, gb};
      });
  return out;
}

}  // namespace

void check_conv_transpose1d_options(const ConvTranspose1dFuncOptions& o, std::string_view op) {
  detail::check_conv_stride_dilation_groups(op, o.stride_, o.dilation_, o.groups_);
  check(o.padding_ >= 0, "{}: negative padding is not supported (padding={})", op, o.padding_);
  check(o.output_padding_ >= 0, "{}: negative output_padding is not supported (output_padding={})",
        op, o.output_padding_);
  check(o.output_padding_ < o.stride_ || o.output_padding_ < o.dilation_,
        "{}: output padding must be smaller than either stride or dilation, but got "
        "output_padding={}, stride={}, dilation={}",
        op, o.output_padding_, o.stride_, o.dilation_);
}

Tensor conv_transpose1d(const Tensor& input_arg, const Tensor& weight_arg, const Tensor& bias_arg,
                        const ConvTranspose1dFuncOptions& o) {
  const Tensor input = reel::detail::autocast_lower(input_arg);  // autocast's lower-precision list
  const Tensor weight = reel::detail::autocast_lower(weight_arg);
  const Tensor bias = reel::detail::autocast_lower(bias_arg);
  constexpr const char* op = "conv_transpose1d";
  detail::check_conv_ranks(op, input, weight, "(in_channels, out_channels/groups, kernel_size)");
  check_conv_transpose1d_options(o, op);
  detail::check_conv_dtypes_devices(op, input, weight, bias);

  const std::int64_t groups = o.groups_;
  const std::int64_t c_in = input.size(-2), length = input.size(-1), k = weight.size(2);
  check(k > 0,
        "conv_transpose1d: kernel_size must be positive, but got weight of size {} "
        "(kernel_size={})",
        weight.sizes(), k);
  check(weight.size(0) % groups == 0,
        "conv_transpose1d: Given groups={}, expected weight to be divisible by {} at dimension 0, "
        "but got weight of size {} instead",
        groups, groups, weight.sizes());
  check(c_in == weight.size(0),
        "conv_transpose1d: Given transposed=1, weight of size {}, expected input{} to have {} "
        "channels, but got {} channels instead",
        weight.sizes(), input.sizes(), weight.size(0), c_in);
  const std::optional<std::int64_t> c_out_checked = checked_mul(weight.size(1), groups);
  check(c_out_checked.has_value(), "conv_transpose1d: out_channels {} * {} overflows int64",
        weight.size(1), groups);
  const std::int64_t c_out = *c_out_checked;
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == c_out),
        "conv_transpose1d: Given transposed=1, weight of size {}, expected bias to be "
        "1-dimensional with {} elements, but got bias of size {} instead",
        weight.sizes(), c_out, bias.defined() ? bias.sizes() : Shape{});

  // L_out = (L-1)*stride - 2*padding + dilation*(K-1) + output_padding + 1, every term checked.
  std::optional<std::int64_t> grown = checked_mul(std::max<std::int64_t>(length - 1, 0), o.stride_);
  const std::optional<std::int64_t> reach = checked_mul(o.dilation_, k - 1);
  if (grown && reach) grown = checked_add(*grown, *reach);
  if (grown) grown = checked_add(*grown, o.output_padding_ + 1);
  const std::optional<std::int64_t> pads = checked_mul(o.padding_, 2);
  check(grown.has_value() && pads.has_value(),
        "conv_transpose1d: the output length for input length {}, stride={}, padding={}, "
        "dilation={}, kernel_size={}, output_padding={} overflows int64",
        length, o.stride_, o.padding_, o.dilation_, k, o.output_padding_);
  // (An empty input has length - 1 = -1: PyTorch's formula then subtracts a stride.)
  const std::int64_t l_out = *grown - *pads - (length == 0 ? o.stride_ : 0);
  check(l_out > 0,
        "conv_transpose1d: Given input size per channel: ({}). Calculated output size per "
        "channel: ({}). Output size is too small",
        length, l_out);

  Geometry geo;
  geo.p = backends::Conv1dParams{o.stride_, o.padding_,
                                 std::max<std::int64_t>(0, o.padding_ - o.output_padding_),
                                 o.dilation_, groups};
  geo.l_out = l_out;
  geo.l_eff = l_out - std::max<std::int64_t>(0, o.output_padding_ - o.padding_);

  return detail::on_batched(
      input, [&](const Tensor& x) { return conv_transpose1d_op(x, weight, bias, geo); });
}

}  // namespace reel::nn::functional
