#pragma once
// data::DataLoader: batches of a map-style Dataset, shuffled or not, made on worker threads
// ahead of the consumer, as torch.utils.data.DataLoader.
//
//   auto ds = std::make_shared<reel::data::TensorDataset>(std::vector<Tensor>{x, y});
//   reel::data::DataLoader loader(ds, reel::data::DataLoaderOptions().batch_size(64)
//                                         .shuffle(true).num_workers(2).seed(1));
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (reel::data::Example& batch : loader) { ...batch[0], batch[1]... }
//
// Determinism: the batches of epoch e (which samples, in which order, and their values) are a
// pure function of the seed and e, whatever num_workers is. The loader's own generator draws
// each epoch's permutation on the consumer's thread (workers never draw random numbers); the
// workers only materialise batches by index, and the consumer receives them in order.
//
// Resume: state() after k batches, then load_state() on a fresh loader over the same dataset
// with the same options, yields the remaining batches of that epoch and then the same epochs
// as the uninterrupted loader. The checkpoint code stores DataLoaderState.
//
// Differences from PyTorch: workers are threads of this process, not processes (a Dataset
// must be thread-safe; nothing is pickled or copied); no IterableDataset, batch samplers,
// pin_memory, timeout, worker_init_fn or persistent_workers option (the threads live as long
// as the loader); an empty dataset, or drop_last leaving no batch, is an error rather than an
// empty loop. docs/training.md, "Datasets and DataLoader", has the rest.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "data/dataset.hpp"
#include "tensor/generator.hpp"

namespace reel::data {

using CollateFn = std::function<Example(const std::vector<Example>&)>;

// Which samples an epoch visits, and in which order (torch.utils.data.Sampler): indices(e) is
// epoch e's order, size() of them, each in [0, dataset size). The loader passes its own epoch
// counter, so a sampler that reshuffles per epoch needs no set_epoch() call and resumes with the
// loader's state. It must be a pure function of the epoch (the loader may ask again on resume).
// DistributedSampler (distributed/sampler.hpp) is one: each rank a disjoint shard.
class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::int64_t size() const = 0;
  virtual std::vector<std::int64_t> indices(std::int64_t epoch) const = 0;
};

// torch.utils.data.DataLoader's arguments, LibTorch style: DataLoaderOptions().batch_size(64)
// .shuffle(true). Validated when the loader is made (reel::Error naming the value).
struct DataLoaderOptions {
  DataLoaderOptions() = default;
  explicit DataLoaderOptions(std::int64_t batch_size) : batch_size_(batch_size) {}
  DataLoaderOptions& batch_size(std::int64_t v) { batch_size_ = v; return *this; }
  DataLoaderOptions& shuffle(bool v) { shuffle_ = v; return *this; }
  DataLoaderOptions& drop_last(bool v) { drop_last_ = v; return *this; }
  // 0: batches are made on the calling thread, when asked for.
  DataLoaderOptions& num_workers(int v) { num_workers_ = v; return *this; }
  // Batches made ahead per worker: at most num_workers * prefetch_factor wait in the queue.
  DataLoaderOptions& prefetch_factor(int v) { prefetch_factor_ = v; return *this; }
  // Seed of the loader's own generator (the shuffle). Unset: drawn from the default generator
  // when the loader is made (as PyTorch's base_seed), so manual_seed(s) before making the
  // loader makes its epochs reproducible too.
  DataLoaderOptions& seed(std::uint64_t v) { seed_ = v; return *this; }
  // A custom collate (torch's collate_fn): a batch is collate(get(i) for i in the batch's
  // indices). Unset: Dataset::get_batch(indices), whose default is data::collate.
  DataLoaderOptions& collate(CollateFn v) { collate_ = std::move(v); return *this; }
  // The sample order of each epoch (torch's sampler=); mutually exclusive with shuffle, as in
  // PyTorch. Batches are then made of sampler->indices(epoch), size() samples per epoch.
  DataLoaderOptions& sampler(std::shared_ptr<const Sampler> v) { sampler_ = std::move(v); return *this; }

  std::int64_t batch_size_ = 1;
  bool shuffle_ = false;
  bool drop_last_ = false;
  int num_workers_ = 0;
  int prefetch_factor_ = 2;
  std::optional<std::uint64_t> seed_;
  CollateFn collate_;
  std::shared_ptr<const Sampler> sampler_;
};

// Where a loader stands: `epoch` is the epoch in progress (or the next one to start when
// batches_done == 0), `batches_done` the batches of it already handed to the consumer, and
// `generator` the loader's generator state before it drew that epoch's permutation.
struct DataLoaderState {
  std::int64_t epoch = 0;
  std::int64_t batches_done = 0;
  GeneratorState generator;
  bool operator==(const DataLoaderState&) const = default;
};

class DataLoader {
  struct Impl;

 public:
  struct sentinel {};
  // An input iterator over one epoch (move-only). Dereferencing gives the current batch; ++
  // fetches the next one (blocking until it is made). An exception raised by the dataset or
  // the collate for a batch is thrown here, as reel::Error naming the batch.
  class iterator {
   public:
    using value_type = Example;
    using difference_type = std::ptrdiff_t;
    iterator(iterator&& other) noexcept;
    iterator& operator=(iterator&& other) noexcept;
    iterator(const iterator&) = delete;
    iterator& operator=(const iterator&) = delete;
    ~iterator();
    Example& operator*() const;
    Example* operator->() const { return &**this; }
    iterator& operator++();
    friend bool operator==(const iterator& it, sentinel) { return it.done_; }

   private:
    friend class DataLoader;
    iterator(Impl* impl, std::uint64_t run);
    Impl* impl_ = nullptr;
    std::uint64_t run_ = 0;  // which begin() this iterator belongs to
    mutable Example batch_;
    bool done_ = true;
  };

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  DataLoader(DataLoader&&) noexcept;
  DataLoader& operator=(DataLoader&&) noexcept;
  ~DataLoader();  // stops the workers (a batch being made is finished and dropped)

  // Starts the next epoch (a new permutation when shuffling) and fetches its first batch, or
  // resumes the epoch load_state() named. A begin() while an earlier epoch is unfinished
  // abandons it (as a new iter() in PyTorch); the earlier iterator then raises reel::Error.
  iterator begin();
  sentinel end() const { return {}; }

  std::int64_t size() const;  // batches per epoch
  const Dataset& dataset() const;
  const DataLoaderOptions& options() const;

  DataLoaderState state() const;
  // Takes effect at the next begin(). The state's epoch and batches_done are checked against
  // this loader (batches_done <= size(), epoch >= 0).
  void load_state(const DataLoaderState& state);

  // Seconds the consumer spent blocked waiting for a batch, since construction or the last
  // reset (with num_workers 0: the time spent making the batches).
  double wait_seconds() const;
  void reset_wait_seconds();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace reel::data
