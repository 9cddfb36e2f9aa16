#include "distributed/sampler.hpp"

#include <numeric>

#include "backends/error.hpp"
#include "distributed/process_group.hpp"
#include "tensor/ops.hpp"

namespace reel::data {

DistributedSampler::DistributedSampler(std::int64_t dataset_size, DistributedSamplerOptions o)
    : dataset_size_(dataset_size), shuffle_(o.shuffle_), drop_last_(o.drop_last_), seed_(o.seed_) {
  num_replicas_ = o.num_replicas_ ? *o.num_replicas_ : distributed::get_world_size();
  rank_ = o.rank_ ? *o.rank_ : distributed::get_rank();
  check(num_replicas_ >= 1, "DistributedSampler: num_replicas must be positive, got {}",
        num_replicas_);
  check(rank_ >= 0 && rank_ < num_replicas_,
        "DistributedSampler: Invalid rank {}, rank should be in the interval [0, {}]", rank_,
        num_replicas_ - 1);
  check(dataset_size > 0, "DistributedSampler: the dataset is empty (size {})", dataset_size);
  if (drop_last_ && dataset_size % num_replicas_ != 0) {
    num_samples_ = (dataset_size - num_replicas_ + num_replicas_ - 1) / num_replicas_;
  } else {
    num_samples_ = (dataset_size + num_replicas_ - 1) / num_replicas_;
  }
  check(num_samples_ > 0,
        "DistributedSampler: drop_last=true with {} samples and {} replicas leaves no sample per "
        "replica",
        dataset_size, num_replicas_);
  total_size_ = num_samples_ * num_replicas_;
}

std::vector<std::int64_t> DistributedSampler::indices(std::int64_t epoch) const {
  check(epoch >= 0, "DistributedSampler: epoch must be >= 0, got {}", epoch);
  std::vector<std::int64_t> all;
  if (shuffle_) {
    Generator g(seed_ + static_cast<std::uint64_t>(epoch));
    all = randperm(dataset_size_, g).to_vector<std::int64_t>();
  } else {
    all.resize(static_cast<std::size_t>(dataset_size_));
    std::iota(all.begin(), all.end(), std::int64_t{0});
  }
  if (drop_last_) {
    all.resize(static_cast<std::size_t>(total_size_));
  } else {
    // Pad by repeating the order from its start (several times over when padding > size).
    for (std::int64_t i = dataset_size_; i < total_size_; ++i) {
      all.push_back(all[static_cast<std::size_t>(i % dataset_size_)]);
    }
  }
  std::vector<std::int64_t> mine;
  mine.reserve(static_cast<std::size_t>(num_samples_));
  for (std::int64_t i = rank_; i < total_size_; i += num_replicas_) {
    mine.push_back(all[static_cast<std::size_t>(i)]);
  }
  return mine;
}

}  // namespace reel::data
