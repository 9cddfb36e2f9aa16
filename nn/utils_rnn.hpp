#pragma once
// nn::utils::rnn, as torch.nn.utils.rnn: padding a batch of variable-length sequences into one
// tensor, and the mask of its real (not padded) steps.
//
//   namespace rnn = reel::nn::utils::rnn;
//   Tensor x = rnn::pad_sequence({a, b, c}, /*batch_first=*/true);  // [3, L_max, *]
//   Tensor m = rnn::sequence_mask(tensor({4, 2, 3}));                  // bool [3, 4]
#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::nn::utils::rnn {

// torch.nn.utils.rnn.pad_sequence (PyTorch 1.13): sequences of shape [L_i, *] (equal trailing
// dims) stacked into [L_max, B, *] (or [B, L_max, *] with batch_first), the steps past each
// L_i filled with padding_value. Differentiable: each sequence's gradient is its slice of the
// output's. As PyTorch, the output has the first sequence's dtype (the others are cast to it)
// and a trailing dim of size 1 broadcasts to the first sequence's size (PyTorch copies each
// sequence in with copy_, which broadcasts). Errors (PyTorch's words where it has them): an
// empty list, a 0-dim or undefined sequence, trailing dims that neither match nor broadcast
// (or a different number of dims), sequences on different devices.
Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first = false,
                    double padding_value = 0.0);

// A bool [B, max_len] tensor, true at step t of row b when t < lengths[b]: the mask of the
// real steps of a batch padded by pad_sequence(..., batch_first=true). lengths: an int64 (or
// other integer) 1-D tensor, non-negative; max_len defaults to max(lengths) (0 for an empty
// batch) and must not be below it. On the lengths' device. No PyTorch twin (TensorFlow's
// tf.sequence_mask); transpose(0, 1) for the time-first layout.
Tensor sequence_mask(const Tensor& lengths, std::optional<std::int64_t> max_len = std::nullopt);

}  // namespace reel::nn::utils::rnn
