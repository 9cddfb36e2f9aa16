// The persistent pool behind parallel_for. Between jobs workers spin briefly, then sleep on a
// condition variable; a job is a range cut into at most num_threads() chunks that workers and
// the caller claim through one atomic counter, so an uneven machine (other processes on a core)
// balances itself. Which thread runs a chunk varies with timing; the chunks' bounds do not (they
// depend only on the range, the grain and num_threads()), and the kernels write per-chunk
// results that they combine in chunk order, so results are bitwise reproducible for a fixed
// thread count.
#include "backends/cpu/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/error.hpp"

namespace reel::backends::cpu {

namespace {

thread_local bool t_in_parallel = false;

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Spins briefly before sleeping: ops arrive back to back in a training step, and a worker
// still spinning starts the next job in well under a microsecond, where waking one from a
// futex costs tens. The spin is bounded (about 50 us), so an idle pool sleeps.
void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}
template <class Ready>
bool spin_until(Ready ready) {
  for (int i = 0; i < 64; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  for (int i = 0; i < 256; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

class Pool {
 public:
  ~Pool() { stop_workers(); }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void set_threads(int n) {
    std::lock_guard run(run_mutex_);  // waits for a running job to finish
    stop_workers();
    threads_.store(n, std::memory_order_relaxed);
  }

  void run(std::int64_t begin, std::int64_t end, std::int64_t grain, RangeFn fn) {
    std::unique_lock run(run_mutex_, std::try_to_lock);
    const int threads = this->threads();
    const std::int64_t n = end - begin;
    const std::int64_t chunks = std::min<std::int64_t>(threads, (n + grain - 1) / grain);
    if (!run.owns_lock() || chunks <= 1) {
      // Another thread owns the pool (two user threads running ops at once): run inline
      // rather than wait, which can never deadlock. The same chunks run, in order, as nested
      // work (inner loops inline, as in a pool task), so a result never depends on whether
      // the pool happened to be free: only on the thread count (docs/training.md, Determinism).
      if (run.owns_lock()) run.unlock();
      const bool outer = t_in_parallel;
      t_in_parallel = true;
      struct Restore {
        bool v;
        ~Restore() { t_in_parallel = v; }
      } restore{outer};
      for (std::int64_t c = 0; c < chunks; ++c) fn(begin + n * c / chunks, begin + n * (c + 1) / chunks);
      return;
    }
    start_workers(threads - 1);
    // Publish the job: its fields are written before the generation is bumped (release), so
    // a worker that sees the new generation (acquire) sees the job.
    fn_ = &fn;
    begin_ = begin;
    size_ = n;
    chunks_ = chunks;
    next_chunk_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    unfinished_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
      std::lock_guard lock(mutex_);  // pairs with the predicate check of sleeping workers
      generation_.fetch_add(1, std::memory_order_release);
    }
    work_cv_.notify_all();
    t_in_parallel = true;
    run_chunks();
    t_in_parallel = false;
    auto done = [&] { return unfinished_workers_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
      std::unique_lock lock(mutex_);
      done_cv_.wait(lock, done);
    }
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Claims chunks until none is left; the first exception is kept for the caller.
  void run_chunks() {
    for (;;) {
      const std::int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks_) return;
      const std::int64_t b = begin_ + size_ * c / chunks_;
      const std::int64_t e = begin_ + size_ * (c + 1) / chunks_;
      try {
        (*fn_)(b, e);
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  // `seen`: the generation when the worker was created (read by its creator, before the job
  // that needs it is published; a thread that read it itself might start late and miss it).
  void worker_loop(std::uint64_t seen) {
    t_in_parallel = true;
    for (;;) {
      auto ready = [&] {
        return stop_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen;
      };
      if (!spin_until(ready)) {
        std::unique_lock lock(mutex_);
        work_cv_.wait(lock, ready);
      }
      if (stop_.load(std::memory_order_acquire)) return;
      seen = generation_.load(std::memory_order_acquire);
      run_chunks();
      if (unfinished_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex_);  // the caller may be between its check and its wait
        done_cv_.notify_one();
      }
    }
  }

  void start_workers(int count) {
    if (static_cast<int>(workers_.size()) == count) return;
    stop_workers();
    workers_.reserve(static_cast<std::size_t>(count));
    const std::uint64_t seen = generation_.load(std::memory_order_relaxed);
    for (int i = 0; i < count; ++i) workers_.emplace_back([this, seen] { worker_loop(seen); });
  }

  void stop_workers() {
    {
      std::lock_guard lock(mutex_);
      stop_.store(true, std::memory_order_release);
    }
    work_cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_.store(false, std::memory_order_release);
  }

  std::atomic<int> threads_{default_threads()};
  std::mutex run_mutex_;  // one job at a time
  std::mutex mutex_;      // for the condition variables (sleeping workers, a sleeping caller)
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> unfinished_workers_{0};
  // The current job: written by the caller before generation_ is bumped, read by workers after.
  const RangeFn* fn_ = nullptr;
  std::int64_t begin_ = 0, size_ = 0, chunks_ = 0;
  std::atomic<std::int64_t> next_chunk_{0};
  std::exception_ptr error_;  // guarded by mutex_ while the job runs
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_num_threads(int n) {
  check(n >= 1, "set_num_threads: expected a number of threads >= 1, got {}", n);
  // From a pool task it would wait for the job it is part of to finish.
  check(!t_in_parallel, "set_num_threads: cannot be called from inside a parallel_for task");
  pool().set_threads(n);
}

int num_threads() { return pool().threads(); }

namespace detail {
bool in_parallel_region() { return t_in_parallel; }

void parallel_for_pooled(std::int64_t begin, std::int64_t end, std::int64_t grain, RangeFn fn) {
  pool().run(begin, end, grain, fn);
}
}  // namespace detail

}  // namespace reel::backends::cpu
