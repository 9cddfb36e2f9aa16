// collate_padded and PaddedCollate (data/pad_collate.hpp), on nn::utils::rnn::pad_sequence.
#include "data/pad_collate.hpp"

#include <string>

#include "nn/utils_rnn.hpp"
#include "tensor/ops.hpp"

namespace reel::data {

namespace {

std::int64_t time_dim(const Tensor& s, PadLayout layout) {
  return layout == kChannelsFirst ? s.dim() - 1 : 0;
}

// Pads along the layout's time dim. kChannelsFirst moves the last dim to the front, pads as
// pad_sequence(batch_first) and moves it back: [B, L, c...] -> [B, c..., L], made contiguous
// (Conv1d reads it next).
Tensor pad_layout(const char* op, const std::vector<Tensor>& sequences, const PadOptions& o) {
  check(!sequences.empty(), "{}: received an empty list of sequences", op);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    check(sequences[i].defined(), "{}: sequence {} is an undefined tensor", op, i);
    check(sequences[i].dim() >= 1, "{}: sequence {} is a 0-dim tensor; expected {}", op, i,
          o.layout_ == kChannelsFirst ? "[*, L]" : "[L, *]");
  }
  if (o.layout_ != kChannelsFirst) {
    return nn::utils::rnn::pad_sequence(sequences, o.layout_ == kBatchFirst, o.padding_value_);
  }
  std::vector<Tensor> moved;
  moved.reserve(sequences.size());
  for (const Tensor& s : sequences) {
    Shape perm{s.dim() - 1};
    for (std::int64_t d = 0; d + 1 < s.dim(); ++d) perm.push_back(d);
    moved.push_back(s.permute(perm));
  }
  Tensor p = nn::utils::rnn::pad_sequence(moved, /*batch_first=*/true, o.padding_value_);
  Shape back{0};
  for (std::int64_t d = 2; d < p.dim(); ++d) back.push_back(d);
  back.push_back(1);
  return p.permute(back).contiguous();
}

Tensor lengths_of(const std::vector<Tensor>& sequences, PadLayout layout) {
  std::vector<std::int64_t> lengths;
  lengths.reserve(sequences.size());
  for (const Tensor& s : sequences) lengths.push_back(s.size(time_dim(s, layout)));
  return tensor(lengths, TensorOptions(kInt64).device(sequences[0].device()));
}

}  // namespace

PaddedBatch collate_padded(const std::vector<Tensor>& sequences, const PadOptions& options) {
  const char* op = "collate_padded";
  PaddedBatch b;
  b.padded = pad_layout(op, sequences, options);
  b.lengths = lengths_of(sequences, options.layout_);
  const std::int64_t steps =
      options.layout_ == kChannelsFirst ? b.padded.size(-1)
                                        : b.padded.size(options.layout_ == kBatchFirst ? 1 : 0);
  b.mask = nn::utils::rnn::sequence_mask(b.lengths, steps);
  if (options.layout_ == kTimeFirst) b.mask = b.mask.transpose(0, 1).contiguous();
  return b;
}

PaddedCollate::PaddedCollate(std::size_t field, PadOptions options)
    : field_(field), options_(options) {}

PaddedCollate& PaddedCollate::also_pad(std::size_t field, double padding_value) {
  check(field != field_, "PaddedCollate: field {} is already the padded field", field);
  for (const auto& [f, v] : also_) {
    check(f != field, "PaddedCollate: field {} is already padded (also_pad twice)", field);
  }
  also_.emplace_back(field, padding_value);
  return *this;
}

Example PaddedCollate::operator()(const std::vector<Example>& samples) const {
  const char* op = "PaddedCollate";
  check(!samples.empty(), "{}: received an empty batch", op);
  const std::size_t fields = samples[0].size();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    check(samples[i].size() == fields, "{}: sample {} has {} fields, sample 0 has {}", op, i,
          samples[i].size(), fields);
  }
  check(field_ < fields, "{}: the padded field {} is out of range for samples of {} fields", op,
        field_, fields);
  for (const auto& [f, v] : also_) {
    check(f < fields, "{}: also_pad field {} is out of range for samples of {} fields", op, f,
          fields);
  }
  auto column = [&](std::size_t f) {
    std::vector<Tensor> c;
    c.reserve(samples.size());
    for (const Example& s : samples) c.push_back(s[f]);
    return c;
  };
  Example out(fields);
  const std::vector<Tensor> main = column(field_);
  PaddedBatch b = collate_padded(main, options_);
  out[field_] = b.padded;
  for (const auto& [f, value] : also_) {
    const std::vector<Tensor> col = column(f);
    for (std::size_t i = 0; i < col.size(); ++i) {
      check(col[i].defined() && col[i].dim() >= 1, "{}: field {} of sample {} is not a sequence",
            op, f, i);
      const std::int64_t len = col[i].size(time_dim(col[i], options_.layout_));
      const std::int64_t main_len = main[i].size(time_dim(main[i], options_.layout_));
      check(len == main_len, "{}: field {} of sample {} has length {}, field {} has {}", op, f, i,
            len, field_, main_len);
    }
    PadOptions o = options_;
    out[f] = pad_layout(op, col, o.padding_value(value));
  }
  for (std::size_t f = 0; f < fields; ++f) {
    if (out[f].defined()) continue;
    out[f] = stack(column(f), 0);
  }
  out.push_back(b.lengths);
  out.push_back(b.mask);
  return out;
}

}  // namespace reel::data
