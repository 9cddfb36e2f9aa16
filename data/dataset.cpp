#include "data/dataset.hpp"

#include <utility>

#include "tensor/ops.hpp"

namespace reel::data {

Example collate(const std::vector<Example>& samples) {
  check(!samples.empty(), "collate: expected at least one sample, got none");
  const Example& first = samples[0];
  const std::size_t fields = first.size();
  for (std::size_t s = 0; s < samples.size(); ++s) {
    check(samples[s].size() == fields,
          "collate: every sample must have the same number of fields, but sample 0 has {} and "
          "sample {} has {}",
          fields, s, samples[s].size());
    for (std::size_t f = 0; f < fields; ++f) {
      const Tensor& t = samples[s][f];
      check(t.defined(), "collate: field {} of sample {} is an undefined tensor", f, s);
      const Tensor& t0 = first[f];
      check(t.sizes() == t0.sizes(),
            "collate: field {} must have the same shape in every sample, but sample 0 has {} "
            "and sample {} has {}",
            f, t0.sizes(), s, t.sizes());
      check(t.dtype() == t0.dtype(),
            "collate: field {} must have the same dtype in every sample, but sample 0 has {} "
            "and sample {} has {}",
            f, t0.dtype(), s, t.dtype());
      check(t.device() == t0.device(),
            "collate: field {} must be on the same device in every sample, but sample 0 is on "
            "{} and sample {} on {}",
            f, t0.device(), s, t.device());
    }
  }
  Example batch;
  batch.reserve(fields);
  std::vector<Tensor> column(samples.size());
  for (std::size_t f = 0; f < fields; ++f) {
    for (std::size_t s = 0; s < samples.size(); ++s) column[s] = samples[s][f];
    batch.push_back(stack(column, 0));
  }
  return batch;
}

Example Dataset::get_batch(const std::vector<std::int64_t>& indices) const {
  std::vector<Example> samples;
  samples.reserve(indices.size());
  for (std::int64_t i : indices) samples.push_back(get(i));
  return collate(samples);
}

TensorDataset::TensorDataset(std::vector<Tensor> tensors) : tensors_(std::move(tensors)) {
  check(!tensors_.empty(), "TensorDataset: expected at least one tensor, got none");
  for (std::size_t f = 0; f < tensors_.size(); ++f) {
    check(tensors_[f].defined(), "TensorDataset: tensor {} is undefined", f);
    check(tensors_[f].dim() >= 1,
          "TensorDataset: tensor {} is 0-dimensional; every tensor needs a first dim (the "
          "samples)",
          f);
  }
  size_ = tensors_[0].size(0);
  for (std::size_t f = 1; f < tensors_.size(); ++f) {
    check(tensors_[f].size(0) == size_,
          "TensorDataset: Size mismatch between tensors: tensor 0 has {} samples (shape {}) and "
          "tensor {} has {} (shape {})",
          size_, tensors_[0].sizes(), f, tensors_[f].size(0), tensors_[f].sizes());
  }
}

namespace {
void check_index(std::int64_t index, std::int64_t size, const char* what) {
  check(index >= 0 && index < size,
        "TensorDataset.{}: index {} is out of range for a dataset of size {}", what, index, size);
}
}  // namespace

Example TensorDataset::get(std::int64_t index) const {
  check_index(index, size_, "get");
  Example out;
  out.reserve(tensors_.size());
  for (const Tensor& t : tensors_) out.push_back(t.select(0, index));
  return out;
}

Example TensorDataset::get_batch(const std::vector<std::int64_t>& indices) const {
  for (std::int64_t i : indices) check_index(i, size_, "get_batch");
  // One index tensor per device the fields live on (usually one).
  Tensor host_index = tensor(indices, kInt64);
  Example out;
  out.reserve(tensors_.size());
  for (const Tensor& t : tensors_) {
    Tensor index = t.device() == host_index.device() ? host_index : host_index.to(t.device());
    out.push_back(index_select(t, 0, index));
  }
  return out;
}

}  // namespace reel::data
