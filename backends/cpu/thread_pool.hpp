#pragma once
// A small persistent thread pool for the CPU backend: threads over independent work
// (elementwise chunks, gemm blocks, batch items).
//
// Tiny tensors must not pay for threads (host overhead is a feature), so parallel_for runs the
// body inline, with no allocation and no synchronization, when the range is below one grain or
// only one thread is configured. Above that the range is split into at most num_threads()
// contiguous chunks of at least `grain` iterations; the calling thread runs one chunk itself.
// A parallel_for issued from inside a pool task (or while another thread owns the pool) runs
// inline, so nesting never deadlocks and never oversubscribes.
//
// Determinism (docs/training.md, "Determinism"): the chunk bounds depend only on (begin, end,
// grain, num_threads()), never on timing, and a pool that another thread owns runs the same
// chunks inline, in order. Bodies keep their side of it: what a chunk computes depends only on
// its bounds (not on which thread runs it or when), partial results are stored per chunk or
// per fixed part and combined in index order after the loop, and nothing accumulates floats
// across chunks through atomics or in completion order. Then every result is bitwise
// reproducible for a fixed thread count.
#include <cstdint>
#include <type_traits>
#include <utility>

namespace reel::backends::cpu {

// Sets the number of threads (the calling thread included) used by parallel_for; n >= 1,
// else reel::Error naming the value. Default: std::thread::hardware_concurrency().
void set_num_threads(int n);
int num_threads();

// A non-owning reference to a callable `void(std::int64_t begin, std::int64_t end)`: two
// pointers, never a heap allocation (std::function may allocate for larger captures).
class RangeFn {
 public:
  template <typename F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, RangeFn>)
  RangeFn(F& f)  // NOLINT(google-explicit-constructor): a view, like std::function_ref
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, std::int64_t b, std::int64_t e) { (*static_cast<F*>(o))(b, e); }) {}
  void operator()(std::int64_t b, std::int64_t e) const { call_(object_, b, e); }

 private:
  void* object_;
  void (*call_)(void*, std::int64_t, std::int64_t);
};

namespace detail {
// Splits [begin, end) over the pool; called only when the range spans several grains.
void parallel_for_pooled(std::int64_t begin, std::int64_t end, std::int64_t grain, RangeFn fn);
// True inside a pool task (the caller's own chunk included): nested loops then run inline.
bool in_parallel_region();
}  // namespace detail

// Runs fn(b, e) over disjoint subranges covering [begin, end), possibly on several threads.
// grain: the smallest number of iterations worth a task of its own.
template <typename F>
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, F&& fn) {
  if (end <= begin) return;
  if (grain < 1) grain = 1;
  if (end - begin <= grain || num_threads() == 1 || detail::in_parallel_region()) {
    fn(begin, end);
    return;
  }
  detail::parallel_for_pooled(begin, end, grain, RangeFn(fn));
}

}  // namespace reel::backends::cpu
