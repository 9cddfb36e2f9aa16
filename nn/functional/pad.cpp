// pad1d: F.pad on the last dim of a (C, L) or (N, C, L) tensor in zeros, reflect, replicate or
// circular mode. Validation speaks PyTorch's words; the work is the backend's pad1d primitive
// (one copy), and the tape entry's backward is its pad1d_backward (each input element receives
// the sum of the gradients of every output position that read it).
#include "nn/functional/pad.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

const char* backward_name(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::Zeros: return "ConstantPad1dBackward";
    case PaddingMode::Reflect: return "ReflectionPad1dBackward";
    case PaddingMode::Replicate: return "ReplicationPad1dBackward";
    case PaddingMode::Circular: return "CircularPad1dBackward";
  }
  return "Pad1dBackward";
}

// length + left + right, checked: pads are user input and may be anything up to INT64_MAX.
std::int64_t padded_length(std::int64_t length, std::int64_t left, std::int64_t right) {
  std::optional<std::int64_t> padded = checked_add(length, left);
  if (padded) padded = checked_add(*padded, right);
  check(padded.has_value(),
        "pad1d: the padded length {} + {} + {} (length + left + right) overflows int64", length,
        left, right);
  return *padded;
}

// Pads a 3-D x by left, right >= 0 (already validated).
Tensor pad1d_op(const Tensor& x, std::int64_t left, std::int64_t right, PaddingMode mode,
                double value) {
  Shape out_shape = x.sizes();
  out_shape[2] = padded_length(x.size(2), left, right);
  Tensor out;
  if (mode == PaddingMode::Zeros && (value != 0.0 || !is_inexact(x.dtype()))) {
    // A constant other than 0 (or a dtype the kernels don't take): fill, then copy the interior.
    out = full(out_shape, value, x.options());
    if (x.numel() > 0) {
      NoGradGuard no_grad;
      Tensor interior = out.narrow(2, left, x.size(2));
      backend_for(x.device()).copy(view_of(interior), view_of(x));
    }
  } else {
    Tensor xc;
    {
      NoGradGuard no_grad;  // the tape entry below is against x itself, not its copy
      xc = x.contiguous();
    }
    out = empty(out_shape, x.options());
    if (out.numel() > 0) backend_for(x.device()).pad1d(view_of(out), view_of(xc), mode, left, right);
  }

  if (autograd::needs_grad(x)) {
    Shape in_shape = x.sizes();
    autograd::record(backward_name(mode), {&x}, out,
                     [in_shape, mode, left, right](std::span<const Tensor> g,
                                                   autograd::GradMask) -> std::vector<Tensor> {
                       Tensor go = g[0].contiguous();
                       Tensor gi = empty(in_shape, go.options());
                       if (gi.numel() > 0) {
                         backend_for(go.device())
                             .pad1d_backward(view_of(gi), view_of(go), mode, left, right);
                       }
                       return {gi};
                     });
  }
  return out;
}

}  // namespace

Tensor pad1d(const Tensor& input, std::int64_t left, std::int64_t right, PaddingMode mode,
             double value) {
  check(input.defined(), "pad1d: the input tensor is undefined");
  check(input.dim() == 2 || input.dim() == 3,
        "pad1d: expected a 2-D (C, L) or 3-D (N, C, L) input, but got input of size: {}",
        input.sizes());
  const bool batched = input.dim() == 3;
  const std::int64_t length = input.size(-1);
  const std::string mode_name = padding_mode_name(mode);

  Tensor x = batched ? input : input.unsqueeze(0);
  if (mode == PaddingMode::Zeros) {
    // A negative pad crops, as F.pad(mode='constant') does: narrow first, then pad the rest.
    // (-INT64_MIN doesn't exist; no tensor is that long anyway.)
    check(left > std::numeric_limits<std::int64_t>::min() &&
              right > std::numeric_limits<std::int64_t>::min(),
          "pad1d: negative padding ({}, {}) would remove more than the {} elements of the last "
          "dimension of input of size {}",
          left, right, length, input.sizes());
    std::int64_t crop_left = std::max<std::int64_t>(0, -left);
    std::int64_t crop_right = std::max<std::int64_t>(0, -right);
    if (crop_left > 0 || crop_right > 0) {
      check(crop_left <= length && crop_right <= length - crop_left,
            "pad1d: negative padding ({}, {}) would remove more than the {} elements of the last "
            "dimension of input of size {}",
            left, right, length, input.sizes());
      x = x.narrow(2, crop_left, length - crop_left - crop_right);
      left = std::max<std::int64_t>(0, left);
      right = std::max<std::int64_t>(0, right);
    }
  } else {
    check(left >= 0 && right >= 0,
          "pad1d: negative padding ({}, {}) is only supported in zeros mode, got padding_mode={}",
          left, right, mode_name);
    check(is_inexact(input.dtype()),
          "pad1d: {} padding expects a float32, float64, complex64 or complex128 input, got {}",
          mode_name, input.dtype());
    check(value == 0.0,
          "pad1d: Padding mode \"{}\" doesn't take in value argument (got value={})", mode_name,
          value);
    if (mode != PaddingMode::Circular) {
      // PyTorch's reflection/replication kernels refuse an empty channel or length.
      check(input.size(-2) > 0 && length > 0,
            "pad1d: Expected 2D or 3D (batch mode) tensor with possibly 0 batch size and other "
            "non-zero dimensions for input, but got: {} (padding_mode={})",
            input.sizes(), mode_name);
    }
    if (mode == PaddingMode::Reflect) {
      check(left < length && right < length,
            "pad1d: Argument #4: Padding size should be less than the corresponding input "
            "dimension, but got: padding ({}, {}) at dimension {} of input {}",
            left, right, input.dim() - 1, input.sizes());
    } else if (mode == PaddingMode::Circular) {
      check(left <= length && right <= length,
            "pad1d: Padding value causes wrapping around more than once. (circular padding ({}, "
            "{}) needs each pad <= {}, the last dimension of input of size {})",
            left, right, length, input.sizes());
    }
  }

  Tensor out = pad1d_op(x, left, right, mode, value);
  return batched ? out : out.squeeze(0);
}

}  // namespace reel::nn::functional
