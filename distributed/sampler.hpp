#pragma once
// data::DistributedSampler: each rank a disjoint shard of the dataset, reshuffled every epoch
// with a seed all ranks share, as torch.utils.data.distributed.DistributedSampler.
//
//   auto sampler = std::make_shared<reel::data::DistributedSampler>(dataset->size());
//   reel::data::DataLoader loader(dataset, reel::data::DataLoaderOptions().batch_size(64)
//                                              .sampler(sampler));
//
// num_replicas and rank default to the default process group's world size and rank. Epoch e's
// order: a permutation of the dataset drawn from a generator seeded with seed + e (the same on
// every rank), made evenly divisible (drop_last: the tail dropped; otherwise padded by repeating
// its head, so a few samples appear twice in that epoch), then every num_replicas-th index from
// `rank`. The DataLoader passes its epoch, so there is no set_epoch() to forget, and a resumed
// loader gets the same shards. The permutation is reel's (Philox), not PyTorch's.
#include <cstdint>
#include <optional>
#include <vector>

#include "data/dataloader.hpp"

namespace reel::data {

struct DistributedSamplerOptions {
  DistributedSamplerOptions() = default;
  DistributedSamplerOptions& num_replicas(int v) { num_replicas_ = v; return *this; }
  DistributedSamplerOptions& rank(int v) { rank_ = v; return *this; }
  DistributedSamplerOptions& shuffle(bool v) { shuffle_ = v; return *this; }
  DistributedSamplerOptions& seed(std::uint64_t v) { seed_ = v; return *this; }
  DistributedSamplerOptions& drop_last(bool v) { drop_last_ = v; return *this; }
  std::optional<int> num_replicas_, rank_;
  bool shuffle_ = true;
  std::uint64_t seed_ = 0;
  bool drop_last_ = false;
};

class DistributedSampler : public Sampler {
 public:
  explicit DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions options = {});
  std::int64_t size() const override { return num_samples_; }  // samples per rank per epoch
  std::vector<std::int64_t> indices(std::int64_t epoch) const override;
  int num_replicas() const { return num_replicas_; }
  int rank() const { return rank_; }

 private:
  std::int64_t dataset_size_;
  int num_replicas_, rank_;
  bool shuffle_, drop_last_;
  std::uint64_t seed_;
  std::int64_t num_samples_, total_size_;
};

}  // namespace reel::data
