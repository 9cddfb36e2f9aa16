#pragma once
// Batching variable-length sequences: pad them to the longest, and say which steps are real.
//
//   auto b = reel::data::collate_padded(seqs, reel::data::PadOptions().layout(
//                                                 reel::data::kChannelsFirst));
//   Tensor y = conv(b.padded);                    // [B, C, L_max]
//   Tensor loss = F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().mask(b.mask));
//
// and as a DataLoader's collate, padding field 0 of every sample (and field 1, the per-step
// targets, with ignore_index), stacking the rest, appending lengths and mask:
//
//   DataLoaderOptions().collate(reel::data::PaddedCollate(0).also_pad(1, -100));
#include <cstdint>
#include <cstddef>
#include <utility>
#include <vector>

#include "data/dataset.hpp"
#include "tensor/tensor.hpp"

namespace reel::data {

// Where the time (sequence) dim goes. Sequences are [L_i, *] for kTimeFirst and kBatchFirst
// (as pad_sequence takes them) and [*, L_i] — time last, e.g. [C, L_i] — for kChannelsFirst.
enum class PadLayout : std::uint8_t {
  TimeFirst,      // padded [L_max, B, *], mask [L_max, B]: pad_sequence's default
  BatchFirst,     // padded [B, L_max, *], mask [B, L_max]: pad_sequence(batch_first=true)
  ChannelsFirst,  // padded [B, *, L_max] (Conv1d's [B, C, L]), mask [B, L_max]
};
inline constexpr PadLayout kTimeFirst = PadLayout::TimeFirst;
inline constexpr PadLayout kBatchFirst = PadLayout::BatchFirst;
inline constexpr PadLayout kChannelsFirst = PadLayout::ChannelsFirst;

struct PadOptions {
  PadOptions& layout(PadLayout v) { layout_ = v; return *this; }
  // pad_sequence's flag: true = kBatchFirst, false = kTimeFirst.
  PadOptions& batch_first(bool v) { layout_ = v ? kBatchFirst : kTimeFirst; return *this; }
  PadOptions& padding_value(double v) { padding_value_ = v; return *this; }
  PadLayout layout_ = kBatchFirst;
  double padding_value_ = 0.0;
};

struct PaddedBatch {
  Tensor padded;   // the layout's shape, the first sequence's dtype (differentiable)
  Tensor lengths;  // int64 [B]: each sequence's length
  // bool: true on real steps, false on padding. [B, L_max] (kTimeFirst: [L_max, B]): the shape
  // of the unreduced loss of a per-step cross_entropy, so it is a loss's .mask() as it stands;
  // unsqueeze(1) (kTimeFirst: unsqueeze(-1)) broadcasts it over channels / features.
  Tensor mask;
};

// Pads the sequences (all on one device; trailing — kChannelsFirst: leading — dims equal) to
// the longest along their time dim, as nn::utils::rnn::pad_sequence, with lengths and mask on
// the sequences' device. Errors as pad_sequence's, naming collate_padded.
PaddedBatch collate_padded(const std::vector<Tensor>& sequences, const PadOptions& options = {});

// A DataLoader collate (std::function<Example(const std::vector<Example>&)>): field `field` of
// every sample is padded as collate_padded does, fields added with also_pad too (each with its
// own padding value, e.g. -100 = ignore_index for per-step class targets; their lengths must
// equal the main field's, sample by sample), and every other field is stacked along a new
// dim 0. The batch: the fields in their order, then lengths (int64 [B]), then mask.
class PaddedCollate {
 public:
  explicit PaddedCollate(std::size_t field = 0, PadOptions options = {});
  PaddedCollate& also_pad(std::size_t field, double padding_value);
  Example operator()(const std::vector<Example>& samples) const;

 private:
  std::size_t field_;
  PadOptions options_;
  std::vector<std::pair<std::size_t, double>> also_;
};

}  // namespace reel::data
