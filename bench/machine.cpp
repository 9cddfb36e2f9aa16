// bench/machine.hpp's measurements: cache sizes, FMA peak and copy bandwidth.
#include "machine.hpp"

#include "backends/cpu/cpu_features.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace reel_bench {

namespace {

using Clock = std::chrono::steady_clock;

// Samples per limit: the best of 9 (each 30-50 ms), so a short quiet moment on a shared machine
// is enough to see the limit; --quick: 2.
int kSamples(bool quick) { return quick ? 2 : 9; }

// The CPUs this process may run on, in order: thread i is pinned to the i-th (modulo).
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

// Runs work(i) on `threads` std::threads at once. Each thread is pinned to a CPU of its own where
// the OS allows it (pinning failing is harmless: the threads still run concurrently), then
// announces itself and spins until all are ready, so thread creation is not timed.
struct TogetherTimes {
  double wall = 0;      // seconds from the common release to the last thread's end
  double min_work = 0;  // the shortest time one thread spent in work(i), from its own start
};
TogetherTimes run_together(int threads, const std::function<void(int)>& work) {
  static const std::vector<int> cpus = allowed_cpus();
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<Clock::time_point> begin(static_cast<std::size_t>(threads)), end(begin);
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&, i] {
      if (!cpus.empty()) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[static_cast<std::size_t>(i) % cpus.size()], &one);
        pthread_setaffinity_np(pthread_self(), sizeof one, &one);
      }
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      begin[static_cast<std::size_t>(i)] = Clock::now();
      work(i);
      end[static_cast<std::size_t>(i)] = Clock::now();
    });
  while (ready.load() < threads) std::this_thread::yield();
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& t : pool) t.join();
  TogetherTimes r;
  r.wall = std::chrono::duration<double>(*std::max_element(end.begin(), end.end()) - start).count();
  r.min_work = r.wall;
  for (std::size_t i = 0; i < end.size(); ++i)
    r.min_work = std::min(r.min_work, std::chrono::duration<double>(end[i] - begin[i]).count());
  return r;
}

// The best of `samples` runs of work on `threads` threads together, each run about `target`
// seconds long: `units` (iterations, repetitions) per thread are grown until one thread's work
// lasts the target (measured on the thread's own clock, so a thread that the OS starts late
// on a busy machine does not shrink the calibration). Returns units per second of wall time
// per thread in the best run (all threads' units / wall / threads).
double best_rate(int threads, int samples, double target,
                 const std::function<void(int, std::int64_t)>& work) {
  std::int64_t units = 1;
  for (;;) {
    const double t = run_together(threads, [&](int i) { work(i, units); }).min_work;
    if (t >= target / 4 || units >= (std::int64_t{1} << 40)) {
      units = std::max<std::int64_t>(units, static_cast<std::int64_t>(units * target / std::max(t, 1e-9)));
      break;
    }
    units *= t < target / 100 ? 10 : 2;
  }
  double best = 0;
  for (int s = 0; s < samples; ++s) {
    const double t = run_together(threads, [&](int i) { work(i, units); }).wall;
    best = std::max(best, static_cast<double>(units) / t);
  }
  return best;
}

bool has_avx512f() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}
bool has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// The portable stand-in: 32 independent chains of a multiply and an add (2 flops), which the
// compiler vectorises with the baseline ISA and may or may not fuse.
float fma_loop_portable(std::int64_t iterations) {
  constexpr int kChains = 32;
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = 0.5f + 0.01f * static_cast<float>(i);
  const float a = 0.999999f, b = 1e-6f;
  for (std::int64_t it = 0; it < iterations; ++it)
    for (float& v : acc) v = v * a + b;
  float sum = 0;
  for (float v : acc) sum += v;
  return sum;
}
constexpr double kFlopsPerIterationPortable = 32 * 2;

// GFLOP/s of the FMA loop on `threads` threads together.
double measure_fma(int threads, bool quick) {
  float (*loop)(std::int64_t) = fma_loop_portable;
  double flops_per_iteration = kFlopsPerIterationPortable;
#if defined(REEL_BENCH_HAVE_AVX512) && defined(REEL_BENCH_HAVE_AVX2)
  if (has_avx512f()) {
    loop = detail::fma_loop_avx512;
    flops_per_iteration = detail::kFlopsPerIterationAvx512;
  } else if (has_avx2_fma()) {
    loop = detail::fma_loop_avx2;
    flops_per_iteration = detail::kFlopsPerIterationAvx2;
  }
#endif
  std::vector<float> sink(static_cast<std::size_t>(threads));
  const double iterations_per_s = best_rate(threads, kSamples(quick), quick ? 0.005 : 0.05,
                                            [&](int i, std::int64_t n) {
    sink[static_cast<std::size_t>(i)] += loop(n);
  });
  volatile float keep = sink[0];
  (void)keep;
  return iterations_per_s * flops_per_iteration * threads / 1e9;
}

// Through a volatile pointer, so the compiler cannot see that repeating a memcpy of the same
// buffers is idempotent and drop the repetitions.
void* (*volatile copy_fn)(void*, const void*, std::size_t) = std::memcpy;

}  // namespace

CacheSizes read_cache_sizes() {
  const reel::backends::cpu::CacheSizes& r = reel::backends::cpu::cpu_cache_sizes();
  CacheSizes c;
  c.l1d = r.l1d;
  c.l2 = r.l2;
  c.l3 = r.l3;
  c.source = r.source;
  return c;
}

std::string fma_isa() {
#if defined(REEL_BENCH_HAVE_AVX512) && defined(REEL_BENCH_HAVE_AVX2)
  if (has_avx512f()) return "avx512";
  if (has_avx2_fma()) return "avx2";
#endif
  return "portable";
}

// GB/s (read + written) of `threads` threads each copying its share of `bytes`.
CopyBandwidth measure_copy(const std::string& level, std::int64_t bytes, int threads, bool quick) {
  const std::int64_t line = 64;
  // Each thread's share, a whole number of cache lines, so no two threads write the same line.
  const std::int64_t share = std::max<std::int64_t>(line, bytes / threads / line * line);
  const std::size_t total = static_cast<std::size_t>(share * threads);
  // 2 MiB alignment: buffers of the DRAM size get huge pages where the kernel gives them.
  auto alloc = [&] {
    void* p = std::aligned_alloc(std::size_t{1} << 21, (total + (std::size_t{1} << 21) - 1) >> 21 << 21);
    if (!p) throw std::runtime_error("bench machine: cannot allocate the copy buffers");
    return std::unique_ptr<char, void (*)(void*)>(static_cast<char*>(p), std::free);
  };
  auto src = alloc(), dst = alloc();
  // Touched first (by the thread that will copy it), so page faults are not timed.
  run_together(threads, [&](int i) {
    std::memset(src.get() + i * share, 1, static_cast<std::size_t>(share));
    std::memset(dst.get() + i * share, 0, static_cast<std::size_t>(share));
  });
  const double reps_per_s = best_rate(threads, kSamples(quick), quick ? 0.005 : 0.03,
                                      [&](int i, std::int64_t reps) {
    for (std::int64_t r = 0; r < reps; ++r)
      copy_fn(dst.get() + i * share, src.get() + i * share, static_cast<std::size_t>(share));
  });
  CopyBandwidth c;
  c.level = level;
  c.bytes = static_cast<std::int64_t>(total);
  c.threads = threads;
  c.gbps = reps_per_s * 2.0 * static_cast<double>(total) / 1e9;
  return c;
}

MachineLimits measure_machine(int threads, bool quick) {
  MachineLimits m;
  m.caches = read_cache_sizes();
  m.isa = fma_isa();
  m.threads = std::max(1, threads);
  m.quick = quick;
  m.fma_gflops_1 = measure_fma(1, quick);
  m.fma_gflops_n = m.threads == 1 ? m.fma_gflops_1 : measure_fma(m.threads, quick);

  // Working sets (source + destination): half of one core's L2 per thread; half the L3; and
  // eight times the L3 (the source alone four times it), capped at 1 GiB of source, which no
  // cache holds. Unknown sizes fall back to 1 MiB L2 / 32 MiB L3 (this project's VM).
  const std::int64_t l2 = m.caches.l2 > 0 ? m.caches.l2 : std::int64_t{1} << 20;
  const std::int64_t l3 = m.caches.l3 > 0 ? m.caches.l3 : std::int64_t{32} << 20;
  const std::int64_t dram = quick ? std::int64_t{8} << 20 : std::min<std::int64_t>(4 * l3, std::int64_t{1} << 30);
  std::vector<int> thread_counts{1};
  if (m.threads > 1) thread_counts.push_back(m.threads);
  for (int t : thread_counts) {
    m.copy.push_back(measure_copy("L2", l2 / 4 * t, t, quick));
    m.copy.push_back(measure_copy("L3", l3 / 4, t, quick));
    m.copy.push_back(measure_copy("DRAM", dram, t, quick));
  }
  return m;
}

const CopyBandwidth& MachineLimits::copy_for(std::int64_t working_set_bytes, int threads_used) const {
  const int t = threads_used <= 1 ? 1 : threads;
  const CopyBandwidth* chosen = nullptr;
  for (const CopyBandwidth& c : copy) {
    if (c.threads != t) continue;
    chosen = &c;  // the largest so far (levels are measured smallest first)
    if (2 * c.bytes >= working_set_bytes) break;
  }
  if (!chosen) throw std::runtime_error("bench machine: no copy bandwidth measured");
  return *chosen;
}

std::string format_machine_limits(const MachineLimits& m) {
  auto size = [](std::int64_t b) {
    char buf[32];
    if (b <= 0) return std::string("?");
    if (b % (1 << 20) == 0) std::snprintf(buf, sizeof buf, "%lld MiB", static_cast<long long>(b >> 20));
    else if (b % 1024 == 0) std::snprintf(buf, sizeof buf, "%lld KiB", static_cast<long long>(b >> 10));
    else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
    return std::string(buf);
  };
  std::string out;
  char buf[512];
  if (m.quick) out += "(--quick: a smoke run's tiny samples; these figures are not a measurement.)\n";
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3) {
    std::snprintf(buf, sizeof buf,
                  "Load average when measured: %.2f %.2f %.2f (1, 5, 15 min; on a loaded machine "
                  "every figure below is low).\n", load[0], load[1], load[2]);
    out += buf;
  }
  std::snprintf(buf, sizeof buf,
                "Machine limits, measured in this run (bench/machine.hpp). Caches (%s): L1d %s, "
                "L2 %s per core, L3 %s.\n",
                m.caches.source.c_str(), size(m.caches.l1d).c_str(), size(m.caches.l2).c_str(),
                size(m.caches.l3).c_str());
  out += buf;
  std::snprintf(buf, sizeof buf,
                "FP32 FMA peak (%s loop, independent chains; best of %d): %.1f GFLOP/s on 1 thread, "
                "%.1f GFLOP/s on %d threads together.\n",
                m.isa.c_str(), kSamples(m.quick), m.fma_gflops_1, m.fma_gflops_n, m.threads);
  out += buf;
  std::snprintf(buf, sizeof buf,
                "Copy bandwidth (glibc memcpy; GB/s = (bytes read + bytes written) / s, 10^9 B; "
                "best of %d):\n\n", kSamples(m.quick));
  out += buf;
  out += 
         "| working set (source + destination) | level | threads | GB/s |\n|---|---|---:|---:|\n";
  for (const CopyBandwidth& c : m.copy) {
    std::snprintf(buf, sizeof buf, "| %s | %s | %d | %.1f |\n", size(2 * c.bytes).c_str(),
                  c.level.c_str(), c.threads, c.gbps);
    out += buf;
  }
  return out;
}

}  // namespace reel_bench
