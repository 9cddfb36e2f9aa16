// pad_sequence and sequence_mask (nn/utils_rnn.hpp). pad_sequence is composed of differentiable
// ops (cast, expand, cat with a block of padding, stack), so its tape entries give PyTorch's
// gradient: the output's gradient sliced back to each sequence.
#include "nn/utils_rnn.hpp"

#include <algorithm>

#include "tensor/ops.hpp"

namespace reel::nn::utils::rnn {

Tensor pad_sequence(const std::vector<Tensor>& sequences, bool batch_first,
                    double padding_value) {
  const char* op = "pad_sequence";
  check(!sequences.empty(), "{}: received an empty list of sequences", op);
  const Tensor& first = sequences[0];
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const Tensor& s = sequences[i];
    check(s.defined(), "{}: sequence {} is an undefined tensor", op, i);
    check(s.dim() >= 1, "{}: sequence {}: Dimension specified as 0 but tensor has no dimensions "
          "(expected shape [L, *], got a 0-dim tensor)", op, i);
  }
  const Shape trailing(first.sizes().span().subspan(1));
  std::int64_t max_len = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const Tensor& s = sequences[i];
    check(s.device() == first.device(), "{}: expected every sequence on sequence 0's device {}, "
          "sequence {} is on {}", op, first.device(), i, s.device());
    check(s.dim() == first.dim(), "{}: sequence {} has shape {}, expected [L, *] with the "
          "trailing dims {} of sequence 0 (shape {})", op, i, s.sizes(), trailing, first.sizes());
    for (std::int64_t d = 1; d < s.dim(); ++d) {
      check(s.size(d) == first.size(d) || s.size(d) == 1,
            "{}: The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton "
            "dimension {} (sequence {} has shape {}, sequence 0 {})", op, first.size(d), s.size(d),
            d, i, s.sizes(), first.sizes());
    }
    max_len = std::max(max_len, s.size(0));
  }
  std::vector<Tensor> padded;
  padded.reserve(sequences.size());
  for (const Tensor& seq : sequences) {
    const std::int64_t len = seq.size(0);
    Shape full_shape{len};
    for (std::int64_t d : trailing) full_shape.push_back(d);
    Tensor s = seq.to(first.dtype());
    if (s.sizes() != full_shape) s = s.expand(full_shape);
    if (len < max_len) {
      Shape pad_shape{max_len - len};
      for (std::int64_t d : trailing) pad_shape.push_back(d);
      s = cat({s, full(pad_shape, Scalar(padding_value), first.options())}, 0);
    }
    padded.push_back(s);
  }
  return stack(padded, batch_first ? 0 : 1);
}

Tensor sequence_mask(const Tensor& lengths, std::optional<std::int64_t> max_len) {
  const char* op = "sequence_mask";
  check(lengths.defined(), "{}: lengths is an undefined tensor", op);
  check(!lengths.is_floating_point() && !lengths.is_complex() && lengths.dtype() != kBool,
        "{}: expected integer lengths, got dtype {}", op, lengths.dtype());
  check(lengths.dim() == 1, "{}: expected 1-D lengths [B], got shape {}", op, lengths.sizes());
  const Tensor len = lengths.detach().to(kInt64);
  std::int64_t longest = 0;
  if (len.numel() > 0) {
    const std::int64_t shortest = min(len).item<std::int64_t>();
    check(shortest >= 0, "{}: lengths must be non-negative, got {}", op, shortest);
    longest = max(len).item<std::int64_t>();
  }
  const std::int64_t l = max_len.value_or(longest);
  check(l >= longest, "{}: max_len ({}) is below the longest length ({})", op, l, longest);
  Tensor steps = arange(Scalar(l), TensorOptions(kInt64).device(lengths.device()));
  return lt(steps.unsqueeze(0), len.unsqueeze(1));
}

}  // namespace reel::nn::utils::rnn
