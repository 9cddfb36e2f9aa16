// data::DistributedSampler and the DataLoader's sampler option (no process group needed:
// num_replicas and rank are given), against the rules of torch's DistributedSampler.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "reel.hpp"

using namespace reel;

namespace {
data::DistributedSampler make(std::int64_t n, int replicas, int rank, bool shuffle = true,
                              bool drop_last = false, std::uint64_t seed = 0) {
  return data::DistributedSampler(n, data::DistributedSamplerOptions()
                                         .num_replicas(replicas).rank(rank).shuffle(shuffle)
                                         .drop_last(drop_last).seed(seed));
}
}  // namespace

TEST_CASE("DistributedSampler: disjoint shards that cover the dataset, padded to even size") {
  // 10 samples on 3 replicas: ceil(10/3) = 4 each, 12 in all, so 2 samples appear twice.
  std::vector<std::int64_t> seen;
  for (int r = 0; r < 3; ++r) {
    auto s = make(10, 3, r);
    CHECK(s.size() == 4);
    auto idx = s.indices(0);
    CHECK(idx.size() == 4);
    seen.insert(seen.end(), idx.begin(), idx.end());
  }
  std::set<std::int64_t> unique(seen.begin(), seen.end());
  CHECK(unique.size() == 10);  // every sample is visited
  CHECK(seen.size() == 12);
  // Unshuffled: rank r takes r, r + 3, ...; the padding repeats the head (0, 1).
  CHECK(make(10, 3, 0, false).indices(0) == std::vector<std::int64_t>{0, 3, 6, 9});
  CHECK(make(10, 3, 1, false).indices(0) == std::vector<std::int64_t>{1, 4, 7, 0});
  CHECK(make(10, 3, 2, false).indices(0) == std::vector<std::int64_t>{2, 5, 8, 1});
  // drop_last: floor instead, no sample twice: 3 each, 9 in all.
  CHECK(make(10, 3, 1, false, true).indices(0) == std::vector<std::int64_t>{1, 4, 7});
  // Fewer samples than replicas: padding wraps around more than once.
  CHECK(make(2, 5, 4, false).indices(0) == std::vector<std::int64_t>{0});
  CHECK(make(2, 5, 3, false).indices(0) == std::vector<std::int64_t>{1});
}

TEST_CASE("DistributedSampler: one shared permutation per epoch (seed + epoch)") {
  auto a0 = make(100, 2, 0, true, false, 7), a1 = make(100, 2, 1, true, false, 7);
  std::vector<std::int64_t> e0 = a0.indices(0), e0b = a1.indices(0);
  std::vector<std::int64_t> both = e0;
  both.insert(both.end(), e0b.begin(), e0b.end());
  std::sort(both.begin(), both.end());
  std::vector<std::int64_t> all(100);
  std::iota(all.begin(), all.end(), 0);
  CHECK(both == all);  // the two ranks split one permutation
  CHECK(a0.indices(1) != e0);  // reshuffled per epoch
  CHECK(a0.indices(0) == e0);  // a pure function of the epoch
  CHECK(make(100, 2, 0, true, false, 8).indices(0) != e0);  // and of the seed
  std::vector<std::int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted != e0);  // shuffled
}

TEST_CASE("DistributedSampler: bad arguments") {
  CHECK_THROWS_WITH_AS(make(10, 2, 2), doctest::Contains("Invalid rank 2, rank should be in the interval [0, 1]"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(make(10, 0, 0), doctest::Contains("num_replicas must be positive"), reel::Error);
  CHECK_THROWS_WITH_AS(make(0, 2, 0), doctest::Contains("empty"), reel::Error);
  CHECK_THROWS_WITH_AS(make(1, 2, 0, true, true), doctest::Contains("leaves no sample"), reel::Error);
  CHECK_THROWS_WITH_AS(make(4, 2, 0).indices(-1), doctest::Contains("epoch must be >= 0"), reel::Error);
  // Without explicit replicas/rank it asks the default process group, which is not running.
  CHECK_THROWS_WITH_AS(data::DistributedSampler(10), doctest::Contains("not initialized"), reel::Error);
}

TEST_CASE("DataLoader with a sampler: its shard, batch by batch, epoch by epoch, and resume") {
  Tensor values = arange(10, kInt64);
  auto ds = std::make_shared<data::TensorDataset>(std::vector<Tensor>{values});
  auto sampler = std::make_shared<data::DistributedSampler>(
      10, data::DistributedSamplerOptions().num_replicas(2).rank(1).seed(3));
  data::DataLoader loader(ds, data::DataLoaderOptions().batch_size(2).sampler(sampler));
  CHECK(loader.size() == 3);  // 5 samples per rank: batches of 2, 2, 1
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::int64_t> got;
    for (data::Example& b : loader) {
      auto v = b[0].to_vector<std::int64_t>();
      got.insert(got.end(), v.begin(), v.end());
    }
    CHECK(got == sampler->indices(epoch));
  }
  // Resume mid-epoch 2 on a fresh loader: the rest of that epoch's shard.
  data::DataLoader first(ds, data::DataLoaderOptions().batch_size(2).sampler(sampler));
  auto it = first.begin();
  ++it;  // one batch of epoch 0 done
  data::DataLoaderState st = first.state();
  REQUIRE(st.batches_done >= 1);
  const std::int64_t done_samples = 2 * st.batches_done;
  data::DataLoader resumed(ds, data::DataLoaderOptions().batch_size(2).sampler(sampler));
  resumed.load_state(st);
  std::vector<std::int64_t> rest;
  for (data::Example& b : resumed) {
    auto v = b[0].to_vector<std::int64_t>();
    rest.insert(rest.end(), v.begin(), v.end());
  }
  auto e0 = sampler->indices(0);
  CHECK(rest == std::vector<std::int64_t>(e0.begin() + done_samples, e0.end()));

  CHECK_THROWS_WITH_AS(data::DataLoader(ds, data::DataLoaderOptions().shuffle(true).sampler(sampler)),
                       doctest::Contains("sampler option is mutually exclusive with shuffle"),
                       reel::Error);
  struct Liar : data::Sampler {
    std::int64_t size() const override { return 2; }
    std::vector<std::int64_t> indices(std::int64_t) const override { return {0, 10}; }
  };
  data::DataLoader bad(ds, data::DataLoaderOptions().sampler(std::make_shared<Liar>()));
  CHECK_THROWS_WITH_AS(bad.begin(), doctest::Contains("the sampler's index 10 (position 1 of epoch 0) is out of range"),
                       reel::Error);
}

TEST_CASE("distributed: without a process group, the API says so") {
  CHECK_FALSE(distributed::is_initialized());
  CHECK_THROWS_WITH_AS(distributed::get_rank(), doctest::Contains("not initialized"), reel::Error);
  CHECK_THROWS_WITH_AS(distributed::init_process_group("gloo"), doctest::Contains("unknown backend"),
                       reel::Error);
  if (!distributed::is_nccl_available()) {
    CHECK_THROWS_WITH_AS(distributed::init_process_group(distributed::Backend::kNCCL),
                         doctest::Contains("backend nccl is not available"), reel::Error);
  }
  CHECK_THROWS_WITH_AS(
      distributed::init_process_group(distributed::Backend::kMPI,
                                      distributed::InitProcessGroupOptions().timeout(std::chrono::milliseconds(0))),
      doctest::Contains("timeout must be positive"), reel::Error);
}
