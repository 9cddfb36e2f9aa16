#pragma once
// Map-style datasets, as torch.utils.data.Dataset: a size and an example per index.
//
//   auto ds = std::make_shared<reel::data::TensorDataset>(std::vector<Tensor>{images, labels});
//   reel::data::Example ex = ds->get(3);                 // {images[3], labels[3]}
//   reel::data::Example batch = ds->get_batch({3, 1});   // {images[[3, 1]], labels[[3, 1]]}
//
// A DataLoader (data/dataloader.hpp) calls get_batch from its worker threads, so every Dataset
// must be safe to read from several threads at once (the methods are const: no caches without
// a lock).
#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::data {

// The fields of one sample (or of one batch): {input, target}, {tokens}, ...
using Example = std::vector<Tensor>;

// torch.utils.data.default_collate for samples whose fields are all tensors: field f of the
// batch is stack(field f of every sample). Every sample must have the same number of fields,
// and field f the same shape, dtype and device in every sample; anything else (or no sample,
// or an undefined tensor) raises reel::Error naming the sample, the field and the values.
// PyTorch's default_collate also promotes mixed dtypes; reel refuses them instead (a mix is
// almost always a dataset bug).
Example collate(const std::vector<Example>& samples);

class Dataset {
 public:
  virtual ~Dataset() = default;
  // Number of samples; get(i) is valid for 0 <= i < size().
  virtual std::int64_t size() const = 0;
  // Sample `index`; an index outside [0, size()) raises reel::Error.
  virtual Example get(std::int64_t index) const = 0;
  // A whole batch at once, the samples in the order of `indices`. The default collates
  // get(i) for each index; a dataset held as a few big tensors overrides it with one gather
  // per field (TensorDataset). Called from worker threads: must be thread-safe.
  virtual Example get_batch(const std::vector<std::int64_t>& indices) const;
};

// torch.utils.data.TensorDataset: sample i is {t[i] for t in tensors}. The tensors share their
// first dim (the number of samples) and there is at least one; get_batch is one index_select
// per field, so a batch is a fresh contiguous tensor (never a view of the dataset).
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::vector<Tensor> tensors);
  std::int64_t size() const override { return size_; }
  Example get(std::int64_t index) const override;  // views t[index] (as PyTorch's t[index])
  Example get_batch(const std::vector<std::int64_t>& indices) const override;
  const std::vector<Tensor>& tensors() const { return tensors_; }

 private:
  std::vector<Tensor> tensors_;
  std::int64_t size_ = 0;
};

}  // namespace reel::data
