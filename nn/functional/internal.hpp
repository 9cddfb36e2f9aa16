#pragma once
// Internal to nn (not part of the API, not in reel.hpp): helpers several functions of
// nn::functional share — the checks F.conv1d and F.conv_transpose1d make alike (so they can't
// drift apart), a contiguous copy off the tape, and on_batched for an unbatched (C, L) input.
#include <cstdint>
#include <string_view>
#include <utility>

#include "nn/functional/loss.hpp"
#include "tensor/tensor.hpp"

namespace reel::nn::functional::detail {

// A contiguous version of t for the kernels, made without a tape entry (the op's own entry is
// recorded against the caller's tensors). An undefined t stays undefined.
Tensor contiguous_no_grad(const Tensor& t);

// The conv functions' first checks, in ATen's words: input and weight defined, the input 2-d
// (unbatched) or 3-d (batched), the weight 3-d laid out as weight_layout says.
void check_conv_ranks(std::string_view op, const Tensor& input, const Tensor& weight,
                      std::string_view weight_layout);

// The options F.conv1d and F.conv_transpose1d share, in ATen's words (check_shape_forward,
// _convolution): stride, dilation and groups positive. For groups, torch.nn.Conv1d's
// constructor says "groups must be a positive integer" where F.conv1d says "non-positive
// groups is not supported": one message carries both, so either caller reads PyTorch's.
void check_conv_stride_dilation_groups(std::string_view op, std::int64_t stride,
                                       std::int64_t dilation, std::int64_t groups);

// The input an inexact dtype, and weight and bias (when defined) of its dtype and device.
void check_conv_dtypes_devices(std::string_view op, const Tensor& input, const Tensor& weight,
                               const Tensor& bias);

// Runs op on input seen as batched (N, C, L): an unbatched (C, L) input gets a batch of one,
// which is taken off the result again.
template <class Op>
Tensor on_batched(const Tensor& input, Op&& op) {
  const bool batched = input.dim() == 3;
  Tensor out = std::forward<Op>(op)(batched ? input : input.unsqueeze(0));
  return batched ? out : out.squeeze(0);
}

// --- masked losses (issue 8, variable-length sequences) ------------------------------------
// The `.mask()` of a loss's options (nn/functional/loss.hpp), applied to the unreduced loss:
// checked (bool, on the loss's device, broadcastable to its shape without enlarging it), then
// where(mask, loss, 0) and the reduction; kMean divides by the number of true elements of the
// mask broadcast to the loss's shape. `op` names the loss in errors. (Class-index
// cross_entropy / nll_loss mask their targets to ignore_index instead.)
Tensor masked_loss_reduce(const char* op, const Tensor& loss, const Tensor& mask,
                          Reduction reduction);
// Only the check: the mask, broadcast (expanded) to loss_shape.
Tensor checked_loss_mask(const char* op, const Tensor& mask, const Shape& loss_shape,
                         Device device);

}  // namespace reel::nn::functional::detail
