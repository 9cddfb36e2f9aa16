// The DataLoader's machinery. One epoch in progress is a "job": the sample order of the epoch
// and the range of batches still to make. Worker threads (owned by the loader, alive as long
// as it is) claim batch numbers in increasing order, make them with no lock held, and put
// them in a ring of num_workers * prefetch_factor slots; a worker may only claim batch b once
// b is within that many batches of the one the consumer waits for, which bounds the memory
// held by batches made ahead. The consumer takes the slots in batch order, so the batches it
// sees do not depend on which worker made what, or when.
//
// Everything about epochs, permutations and the generator happens on the consumer's thread;
// workers see only the order (a shared, immutable vector) and batch numbers. A begin() (or the
// iterator's destruction mid-epoch, or the loader's) ends the current job: its id changes, so
// a worker still making one of its batches drops the result rather than storing it.
#include "data/dataloader.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <system_error>
#include <thread>
#include <utility>

#include "tensor/ops.hpp"

namespace reel::data {

struct DataLoader::Impl {
  std::shared_ptr<const Dataset> dataset;
  DataLoaderOptions options;
  std::int64_t dataset_size = 0;  // dataset size when the loader was made
  std::int64_t samples = 0;       // samples per epoch: dataset_size, or the sampler's size
  std::int64_t batches = 0;  // per epoch
  Generator generator;

  // --- consumer side (the thread that iterates; never touched by workers) ------------------
  std::int64_t epoch = 0;
  std::int64_t batches_done = 0;
  GeneratorState epoch_start;  // generator state before this epoch's permutation
  bool active = false;         // an epoch was begun and has not run to its end
  std::optional<DataLoaderState> pending;  // from load_state, for the next begin()
  std::uint64_t run = 0;                   // number of begin() calls: the iterators' token
  double wait = 0;
  std::shared_ptr<const std::vector<std::int64_t>> order;  // the sample order of the epoch

  // --- shared with the workers, under `mutex` ----------------------------------------------
  struct Slot {
    bool ready = false;
    Example batch;
    std::exception_ptr error;
  };
  std::mutex mutex;
  std::condition_variable work_cv;   // workers: a batch may be claimed, or stop
  std::condition_variable ready_cv;  // consumer: the batch it waits for is ready
  bool stop = false;
  std::uint64_t job = 0;
  std::shared_ptr<const std::vector<std::int64_t>> job_order;
  std::int64_t next_claim = 0;    // next batch a worker may claim
  std::int64_t next_consume = 0;  // batch the consumer takes next
  std::int64_t job_end = 0;       // one past the last batch of the job
  std::vector<Slot> slots;        // batch b lives in slots[b % slots.size()]
  std::vector<std::thread> workers;

  Impl(std::shared_ptr<const Dataset> ds, DataLoaderOptions opt)
      : dataset(std::move(ds)), options(std::move(opt)) {
    check(dataset != nullptr, "DataLoader: dataset is null");
    const DataLoaderOptions& o = options;
    check(o.batch_size_ > 0,
          "DataLoader: batch_size should be a positive integer value, but got batch_size={}",
          o.batch_size_);
    check(o.num_workers_ >= 0,
          "DataLoader: num_workers option should be non-negative (0 makes the batches on the "
          "calling thread), but got num_workers={}",
          o.num_workers_);
    check(o.prefetch_factor_ >= 1,
          "DataLoader: prefetch_factor should be a positive integer value, but got "
          "prefetch_factor={}",
          o.prefetch_factor_);
    dataset_size = dataset->size();
    check(dataset_size >= 0, "DataLoader: the dataset reports a negative size {}", dataset_size);
    check(dataset_size > 0, "DataLoader: the dataset is empty (size 0): an epoch would have no batch");
    samples = dataset_size;
    if (o.sampler_) {
      check(!o.shuffle_,
            "DataLoader: sampler option is mutually exclusive with shuffle (got shuffle=true and "
            "a sampler; the sampler decides the order)");
      samples = o.sampler_->size();
      check(samples > 0, "DataLoader: the sampler yields {} samples per epoch: an epoch would "
            "have no batch", samples);
    }
    check(!o.drop_last_ || samples >= o.batch_size_,
          "DataLoader: drop_last=true with batch_size={} and a dataset of {} samples leaves no "
          "batch",
          o.batch_size_, samples);
    batches = o.drop_last_ ? samples / o.batch_size_ : (samples - 1) / o.batch_size_ + 1;

    std::uint64_t seed;
    if (o.seed_) {
      seed = *o.seed_;
    } else {
      // As PyTorch's base_seed: one draw from the default generator (two 32-bit halves, since
      // randint's range stops at 2^53).
      std::vector<std::int64_t> halves = randint(0, std::int64_t{1} << 32, {2}).to_vector<std::int64_t>();
      seed = (static_cast<std::uint64_t>(halves[0]) << 32) | static_cast<std::uint64_t>(halves[1]);
    }
    generator = Generator(seed);
    epoch_start = generator.get_state();

    if (o.num_workers_ > 0) {
      slots.resize(static_cast<std::size_t>(o.num_workers_) *
                   static_cast<std::size_t>(o.prefetch_factor_));
      try {
        workers.reserve(static_cast<std::size_t>(o.num_workers_));
        for (int i = 0; i < o.num_workers_; ++i) workers.emplace_back([this] { worker_loop(); });
      } catch (const std::exception& e) {
        shutdown();
        fail("DataLoader: cannot start num_workers={} worker threads: {}", o.num_workers_,
             e.what());
      }
    }
  }

  ~Impl() { shutdown(); }

  void shutdown() {
    {
      std::lock_guard lock(mutex);
      stop = true;
      ++job;
    }
    work_cv.notify_all();
    for (std::thread& w : workers) w.join();  // a worker finishes the batch it is making
    workers.clear();
  }

  // The samples of batch b, in order.
  std::vector<std::int64_t> batch_indices(const std::vector<std::int64_t>& ord,
                                          std::int64_t b) const {
    const std::int64_t begin = b * options.batch_size_;
    const std::int64_t end = std::min(begin + options.batch_size_, samples);
    return std::vector<std::int64_t>(ord.begin() + begin, ord.begin() + end);
  }

  Example make_batch(const std::vector<std::int64_t>& ord, std::int64_t b) const {
    std::vector<std::int64_t> indices = batch_indices(ord, b);
    if (!options.collate_) return dataset->get_batch(indices);
    std::vector<Example> items;
    items.reserve(indices.size());
    for (std::int64_t i : indices) items.push_back(dataset->get(i));
    return options.collate_(items);
  }

  void worker_loop() {
    std::unique_lock lock(mutex);
    for (;;) {
      work_cv.wait(lock, [&] {
        return stop || (next_claim < job_end &&
                        next_claim < next_consume + static_cast<std::int64_t>(slots.size()));
      });
      if (stop) return;
      const std::int64_t b = next_claim++;
      const std::uint64_t my_job = job;
      std::shared_ptr<const std::vector<std::int64_t>> ord = job_order;
      Slot made;
      lock.unlock();
      try {
        made.batch = make_batch(*ord, b);
      } catch (...) {
        made.error = std::current_exception();  // never lets an exception end the thread
      }
      made.ready = true;
      lock.lock();
      if (job == my_job) {
        slots[static_cast<std::size_t>(b) % slots.size()] = std::move(made);
        ready_cv.notify_one();
      } else {
        // The job ended while this batch was made: drop it, without the lock.
        lock.unlock();
        made = Slot();
        lock.lock();
      }
    }
  }

  // Ends the job in progress (the workers stop claiming its batches; the made ones are freed).
  void end_job() {
    if (workers.empty()) return;
    std::vector<Slot> dropped(slots.size());
    {
      std::lock_guard lock(mutex);
      ++job;
      job_end = next_claim;
      job_order.reset();
      dropped.swap(slots);
      slots.resize(dropped.size());
    }
  }

  void start_job(std::int64_t first) {
    next_consume_local = first;
    if (workers.empty()) return;
    {
      std::lock_guard lock(mutex);
      ++job;
      job_order = order;
      next_claim = first;
      next_consume = first;
      job_end = batches;
      for (Slot& s : slots) s = Slot();
    }
    work_cv.notify_all();
  }

  [[noreturn]] void rethrow(std::exception_ptr error, std::int64_t b) const {
    const std::int64_t first = b * options.batch_size_;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      fail("DataLoader: making batch {} of epoch {} (samples {} to {} of the epoch's order) "
           "failed: {}",
           b, epoch, first, std::min(first + options.batch_size_, samples) - 1, e.what());
    } catch (...) {
      fail("DataLoader: making batch {} of epoch {} failed with an exception that is not a "
           "std::exception",
           b, epoch);
    }
  }

  // The next batch of the epoch, in order; counts it as done even when making it failed.
  std::int64_t next_consume_local = 0;  // consumer's copy (the only one with no workers)
  Example fetch() {
    const std::int64_t b = next_consume_local++;
    batches_done = next_consume_local;
    const auto t0 = std::chrono::steady_clock::now();
    auto waited = [&] {
      wait += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    if (workers.empty()) {
      Example batch;
      try {
        batch = make_batch(*order, b);
      } catch (...) {
        waited();
        rethrow(std::current_exception(), b);
      }
      waited();
      return batch;
    }
    Slot got;
    {
      std::unique_lock lock(mutex);
      Slot& slot = slots[static_cast<std::size_t>(b) % slots.size()];
      ready_cv.wait(lock, [&] { return slot.ready; });
      waited();
      got = std::move(slot);
      slot = Slot();
      next_consume = b + 1;
    }
    work_cv.notify_all();  // a slot is free: a worker may claim one more batch
    if (got.error) rethrow(got.error, b);
    return std::move(got.batch);
  }

  void finish_epoch() {
    end_job();
    active = false;
    ++epoch;
    batches_done = 0;
  }
};

// --- iterator ---------------------------------------------------------------------------------

DataLoader::iterator::iterator(Impl* impl, std::uint64_t run) : impl_(impl), run_(run) {
  done_ = false;
  batch_ = impl_->fetch();
}

DataLoader::iterator::iterator(iterator&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)), run_(other.run_),
      batch_(std::move(other.batch_)), done_(std::exchange(other.done_, true)) {}

DataLoader::iterator& DataLoader::iterator::operator=(iterator&& other) noexcept {
  if (this != &other) {
    if (impl_ && !done_ && run_ == impl_->run) impl_->end_job();
    impl_ = std::exchange(other.impl_, nullptr);
    run_ = other.run_;
    batch_ = std::move(other.batch_);
    done_ = std::exchange(other.done_, true);
  }
  return *this;
}

DataLoader::iterator::~iterator() {
  // A loop that breaks early: the batches made ahead are dropped and the workers go idle. The
  // epoch stays where it was (state() names it); the next begin() starts the following one.
  if (impl_ && !done_ && run_ == impl_->run) impl_->end_job();
}

Example& DataLoader::iterator::operator*() const {
  check(impl_ != nullptr && !done_, "DataLoader::iterator: dereferenced past the end of the epoch");
  check(run_ == impl_->run,
        "DataLoader::iterator: this iterator's epoch was abandoned by a later begin() or "
        "load_state()");
  return batch_;
}

DataLoader::iterator& DataLoader::iterator::operator++() {
  check(impl_ != nullptr && !done_, "DataLoader::iterator: incremented past the end of the epoch");
  check(run_ == impl_->run,
        "DataLoader::iterator: this iterator's epoch was abandoned by a later begin() or "
        "load_state()");
  batch_.clear();  // frees the previous batch before the next arrives
  if (impl_->next_consume_local >= impl_->batches) {
    done_ = true;
    impl_->finish_epoch();
    return *this;
  }
  batch_ = impl_->fetch();
  return *this;
}

// --- DataLoader -------------------------------------------------------------------------------

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : impl_(std::make_unique<Impl>(std::move(dataset), std::move(options))) {}
DataLoader::DataLoader(DataLoader&&) noexcept = default;
DataLoader& DataLoader::operator=(DataLoader&&) noexcept = default;
DataLoader::~DataLoader() = default;

DataLoader::iterator DataLoader::begin() {
  Impl& m = *impl_;
  const std::int64_t now = m.dataset->size();
  check(now == m.dataset_size,
        "DataLoader: the dataset's size changed from {} to {} since the loader was made",
        m.dataset_size, now);
  m.end_job();
  ++m.run;
  std::int64_t first = 0;
  if (m.pending) {
    m.epoch = m.pending->epoch;
    first = m.pending->batches_done;
    m.generator.set_state(m.pending->generator);
    m.pending.reset();
  } else if (m.active) {
    ++m.epoch;  // the earlier epoch was abandoned mid-way
  }
  m.epoch_start = m.generator.get_state();
  std::vector<std::int64_t> order;
  if (m.options.sampler_) {
    order = m.options.sampler_->indices(m.epoch);
    check(static_cast<std::int64_t>(order.size()) == m.samples,
          "DataLoader: the sampler gave {} indices for epoch {}, but its size() is {}",
          order.size(), m.epoch, m.samples);
    for (std::size_t i = 0; i < order.size(); ++i) {
      check(order[i] >= 0 && order[i] < m.dataset_size,
            "DataLoader: the sampler's index {} (position {} of epoch {}) is out of range for a "
            "dataset of {} samples",
            order[i], i, m.epoch, m.dataset_size);
    }
  } else if (m.options.shuffle_) {
    order = randperm(m.samples, m.generator).to_vector<std::int64_t>();
  } else {
    order.resize(static_cast<std::size_t>(m.samples));
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  m.order = std::make_shared<const std::vector<std::int64_t>>(std::move(order));
  m.active = true;
  m.batches_done = first;
  m.start_job(first);
  try {
    return iterator(impl_.get(), m.run);
  } catch (...) {
    m.end_job();
    throw;
  }
}

std::int64_t DataLoader::size() const { return impl_->batches; }
const Dataset& DataLoader::dataset() const { return *impl_->dataset; }
const DataLoaderOptions& DataLoader::options() const { return impl_->options; }

DataLoaderState DataLoader::state() const {
  const Impl& m = *impl_;
  if (m.pending) return *m.pending;
  if (!m.active) return {m.epoch, 0, m.generator.get_state()};
  // Every batch of the epoch handed out: the loader stands at the start of the next epoch
  // (the generator has drawn this epoch's permutation already).
  if (m.batches_done >= m.batches) return {m.epoch + 1, 0, m.generator.get_state()};
  return {m.epoch, m.batches_done, m.epoch_start};
}

void DataLoader::load_state(const DataLoaderState& s) {
  Impl& m = *impl_;
  check(s.epoch >= 0, "DataLoader.load_state: epoch must be >= 0, got {}", s.epoch);
  check(s.batches_done >= 0 && s.batches_done <= m.batches,
        "DataLoader.load_state: batches_done must lie in [0, {}] (the batches per epoch of this "
        "loader), got {}",
        m.batches, s.batches_done);
  m.end_job();
  ++m.run;  // iterators of the current epoch are void
  m.active = false;
  DataLoaderState next = s;
  if (s.batches_done == m.batches) {
    // A finished epoch: the next begin() starts epoch + 1, from the generator state after the
    // finished epoch's permutation (redrawn here: the draw's length is a function of n alone).
    Generator g = m.generator.clone();
    g.set_state(s.generator);
    if (m.options.shuffle_) (void)randperm(m.samples, g);
    next = {s.epoch + 1, 0, g.get_state()};
  }
  m.pending = next;
}

double DataLoader::wait_seconds() const { return impl_->wait; }
void DataLoader::reset_wait_seconds() { impl_->wait = 0; }

}  // namespace reel::data
