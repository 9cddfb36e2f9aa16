// F.conv1d: validation (PyTorch's words), padding resolution, and the conv1d op — one tape
// entry whose backward asks the backend for just the gradients that are needed.
//
//   out[n, o, t] = bias[o] + sum_{c in group(o)} sum_k weight[o, c, k] * x[n, c, t*stride + k*dilation - pad_left]
//   L_out = floor((L + pad_left + pad_right - dilation*(K-1) - 1) / stride) + 1
//
// Gradients (PyTorch's conjugate-Wirtinger convention, the kernels themselves never conjugate):
//   grad_x = conv_transpose(grad_out, conj(weight)), grad_w = xcorr(grad_out, conj(x)),
//   grad_b = sum of grad_out over N and L.
#include "nn/functional/conv1d.hpp"

#include <array>
#include <optional>
#include <variant>

#include "autograd/record.hpp"
#include "nn/functional/internal.hpp"
#include "nn/functional/pad.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

using detail::contiguous_no_grad;

backends::View null_view() { return backends::View{}; }

// The op on a batched input with resolved zero padding: allocate, run the kernel, record.
Tensor conv1d_op(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in,
                 const backends::Conv1dParams& p, std::int64_t l_out) {
  const Tensor x = contiguous_no_grad(x_in);
  const Tensor w = contiguous_no_grad(w_in);
  const Tensor b = contiguous_no_grad(b_in);
  const bool has_bias = b.defined();
  Tensor out = empty({x.size(0), w.size(0), l_out}, x.options());
  backends::Backend& backend = backend_for(x.device());
  if (out.numel() > 0) {
    if (x.numel() == 0 || w.numel() == 0) {
      // No input channels: every output is the bias (or 0).
      NoGradGuard no_grad;
      if (has_bias) out.copy_(b.view({1, b.size(0), 1}));
      else out.zero_();
    } else {
      backend.conv1d_forward(view_of(out), view_of(x), view_of(w),
                             has_bias ? view_of(b) : null_view(), p);
    }
  }

  const std::array<Tensor, 3> inputs{x_in, w_in, b_in};
  if (!autograd::needs_grad_any(inputs)) return out;

  // Save only what a needed gradient reads: grad_x needs the weight, grad_w the input.
  autograd::SavedTensor saved_x, saved_w;
  if (w_in.requires_grad()) saved_x = autograd::SavedTensor(x);
  if (x_in.requires_grad()) saved_w = autograd::SavedTensor(w);
  Shape x_shape = x.sizes(), w_shape = w.sizes();
  autograd::record(
      "Conv1dBackward", {&x_in, &w_in, &b_in}, out,
      [saved_x, saved_w, x_shape, w_shape, has_bias, p](
          std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
        const Tensor go = g[0].contiguous();
        backends::Backend& be = backend_for(go.device());
        const bool empty_sum = go.numel() == 0 || numel_of(x_shape) == 0;
        Tensor gx, gw, gb;
        if (need[0] && need[1] && !empty_sum && numel_of(w_shape) > 0) {
          // Both gradients in one backend call: it may read grad_out once for all of them.
          const bool want_b = has_bias && need[2];
          gx = empty(x_shape, go.options());
          gw = empty(w_shape, go.options());
          if (want_b) gb = empty({w_shape[0]}, go.options());
          Tensor w_conj = conj(saved_w.unpack()).contiguous();
          Tensor x_conj = conj(saved_x.unpack()).contiguous();
          be.conv1d_backward(view_of(gx), view_of(gw), want_b ? view_of(gb) : null_view(),
                             view_of(go), view_of(x_conj), view_of(w_conj), p);
          return {gx, gw, gb};
        }
        if (need[0]) {
          gx = empty(x_shape, go.options());
          if (gx.numel() > 0) {
            if (empty_sum || numel_of(w_shape) == 0) {
              gx.zero_();
            } else {
              Tensor w_conj = conj(saved_w.unpack()).contiguous();
              be.conv1d_backward_input(view_of(gx), view_of(go), view_of(w_conj), p);
            }
          }
        }
        const bool want_w = need[1], want_b = has_bias && need[2];
        if (want_w) {
          gw = empty(w_shape, go.options());
          if (want_b) gb = empty({w_shape[0]}, go.options());
          if (empty_sum || gw.numel() == 0) {
            gw.zero_();
            if (want_b) gb = sum(go, {0, 2});
          } else {
            Tensor x_conj = conj(saved_x.unpack()).contiguous();
            be.conv1d_backward_weight(view_of(gw), want_b ? view_of(gb) : null_view(),
                                      view_of(go), view_of(x_conj), p);
          }
        } else if (want_b) {
          // A frozen weight: the input was not saved, and the bias gradient needs only grad_out.
          gb = sum(go, {0, 2});
        }
        return {gx, gw, gb};
      });
  return out;
}

}  // namespace

void check_conv1d_options(const Conv1dFuncOptions& o, std::string_view op) {
  detail::check_conv_stride_dilation_groups(op, o.stride_, o.dilation_, o.groups_);
  if (const auto* n = std::get_if<std::int64_t>(&o.padding_)) {
    check(*n >= 0, "{}: negative padding is not supported (padding={})", op, *n);
  } else {
    check(std::get<PaddingRule>(o.padding_) != kSame || o.stride_ == 1,
          "{}: padding='same' is not supported for strided convolutions (stride={})", op,
          o.stride_);
  }
}

namespace {

// resolve_padding after check_conv1d_options has passed.
std::pair<std::int64_t, std::int64_t> checked_padding(const Conv1dFuncOptions& o,
                                                      std::int64_t kernel_size) {
  if (const auto* n = std::get_if<std::int64_t>(&o.padding_)) return {*n, *n};
  // The padding 'same' and 'causal' need: the dilated kernel's reach, dilation * (k - 1).
  const std::optional<std::int64_t> reach = checked_mul(o.dilation_, kernel_size - 1);
  const bool rule = std::get<PaddingRule>(o.padding_) != PaddingRule::Valid;
  check(!rule || reach.has_value(),
        "conv1d: the padding for dilation={} and kernel_size={} (dilation * (kernel_size - 1)) "
        "overflows int64",
        o.dilation_, kernel_size);
  const std::int64_t total = reach.value_or(0);
  switch (std::get<PaddingRule>(o.padding_)) {
    case PaddingRule::Valid:
      return {0, 0};
    case PaddingRule::Same:
      // The odd element goes on the right, as PyTorch.
      return {total / 2, total - total / 2};
    case PaddingRule::Causal:
      // Output t sees inputs up to t*stride only: everything padded on the left.
      return {total, 0};
  }
  fail("conv1d: unknown padding rule {}", static_cast<int>(std::get<PaddingRule>(o.padding_)));
}

}  // namespace

std::pair<std::int64_t, std::int64_t> resolve_padding(const Conv1dFuncOptions& o,
                                                      std::int64_t kernel_size) {
  check_conv1d_options(o);
  check(kernel_size > 0, "conv1d: kernel_size must be positive, but got kernel_size={}",
        kernel_size);
  return checked_padding(o, kernel_size);
}

Tensor conv1d(const Tensor& input_arg, const Tensor& weight_arg, const Tensor& bias_arg,
              const Conv1dFuncOptions& o) {
  const Tensor input = reel::detail::autocast_lower(input_arg);  // autocast's lower-precision list
  const Tensor weight = reel::detail::autocast_lower(weight_arg);
  const Tensor bias = reel::detail::autocast_lower(bias_arg);
  detail::check_conv_ranks("conv1d", input, weight,
                           "(out_channels, in_channels/groups, kernel_size)");
  check_conv1d_options(o);
  detail::check_conv_dtypes_devices("conv1d", input, weight, bias);

  const std::int64_t groups = o.groups_;
  const std::int64_t c_out = weight.size(0), k = weight.size(2);
  const std::int64_t c_in = input.size(-2), length = input.size(-1);
  check(k > 0, "conv1d: kernel_size must be positive, but got weight of size {} (kernel_size={})",
        weight.sizes(), k);
  check(c_out % groups == 0,
        "conv1d: Given groups={}, expected weight to be divisible by {} at dimension 0, but got "
        "weight of size {} instead",
        groups, groups, weight.sizes());
  check(c_in == weight.size(1) * groups,
        "conv1d: Given groups={}, weight of size {}, expected input{} to have {} channels, but got "
        "{} channels instead",
        groups, weight.sizes(), input.sizes(), weight.size(1) * groups, c_in);
  check(!bias.defined() || (bias.dim() == 1 && bias.size(0) == c_out),
        "conv1d: Given weight of size {}, expected bias to be 1-dimensional with {} elements, but "
        "got bias of size {} instead",
        weight.sizes(), c_out, bias.defined() ? bias.sizes() : Shape{});

  auto [left, right] = checked_padding(o, k);
  backends::Conv1dParams params{o.stride_, left, right, o.dilation_, groups};
  const std::int64_t l_out = params.out_length(length, k);  // checked: raises on overflow

  return detail::on_batched(input, [&, left = left, right = right](Tensor x) {
    if (o.padding_mode_ != kZeros && (left > 0 || right > 0)) {
      // nn.Conv1d's padding_mode: pad once in that mode, then convolve without padding.
      x = pad1d(x, left, right, o.padding_mode_);
      params.pad_left = params.pad_right = 0;
    }
    return conv1d_op(x, weight, bias, params, l_out);
  });
}

}  // namespace reel::nn::functional
