#pragma once
// A small timing harness shared by reel's and LibTorch's benchmarks, so both sides are measured
// the same way. Header-only and independent of reel (the LibTorch benchmark includes it too).
//
// Method: one warm-up batch, then the batch size is grown until a batch lasts about
// `target_batch` (so clock overhead is negligible); then `batches` batches are timed and the
// median per-call time is reported. The median, not the mean, so a stray interruption from
// the OS does not move the result.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

namespace reel_bench {

struct TimerConfig {
  int batches = 31;
  std::chrono::nanoseconds target_batch = std::chrono::milliseconds(5);
};

// --quick on the command line: a smoke run (CI runs each benchmark this way).
inline TimerConfig config_from_args(int argc, char** argv) {
  TimerConfig c;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) {
      c.batches = 3;
      c.target_batch = std::chrono::microseconds(200);
    }
  return c;
}

// Keeps the compiler from deleting a computation whose result is otherwise unused.
template <typename T>
inline void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

// Median nanoseconds per call of fn().
template <typename F>
double median_ns_per_call(F&& fn, const TimerConfig& config = {}) {
  using clock = std::chrono::steady_clock;
  auto time_batch = [&](std::int64_t n) {
    auto t0 = clock::now();
    for (std::int64_t i = 0; i < n; ++i) fn();
    return std::chrono::duration<double, std::nano>(clock::now() - t0).count();
  };
  time_batch(1);  // warm-up: first-touch allocations, caches, lazy initialisation

  std::int64_t n = 1;
  const double target = static_cast<double>(config.target_batch.count());
  for (double t = time_batch(n); t < target && n < (std::int64_t{1} << 30); t = time_batch(n))
    n = t <= 0 ? n * 10 : std::max<std::int64_t>(n + 1, static_cast<std::int64_t>(n * 1.2 * target / t));

  std::vector<double> per_call;
  per_call.reserve(static_cast<std::size_t>(config.batches));
  for (int b = 0; b < config.batches; ++b) per_call.push_back(time_batch(n) / static_cast<double>(n));
  std::nth_element(per_call.begin(), per_call.begin() + per_call.size() / 2, per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace reel_bench
