#pragma once
// The machine's limits, measured in the same run as the benchmarks that are judged against them
// (issue 10): FP32 fused-multiply-add peak and copy bandwidth. A kernel's GFLOP/s means little
// alone; as a percentage of what this core does on an FMA loop, or of what memcpy moves, it says
// how much is left. Machines (and a VM's neighbours) differ, so nothing here is a constant.
//
// Plain C++ (no reel, no LibTorch), so any benchmark can link it (bench/CMakeLists.txt:
// reel_bench_machine). The FMA loop has an AVX-512 and an AVX2 version, each in its own file
// compiled with that architecture's flags (machine.avx512.cpp, machine.avx2.cpp) and chosen at
// run time by cpuid; elsewhere a portable loop (a multiply and an add, which the compiler may or
// may not fuse) stands in, and the report says which ran.
//
// Threads are std::threads (not reel's pool, so reel's scheduling is not part of the limit),
// pinned to CPU i where the OS allows it, released together by a spin barrier; a sample's time
// is from the release to the last thread's end, so a straggler counts.
//
// Each limit is the best of several samples: noise (the OS, other processes) only ever slows a
// sample down, and a limit is what the machine can do. The kernels measured against it report
// medians, so their "% of peak" is, if anything, understated.
#include <cstdint>
#include <string>
#include <vector>

namespace reel_bench {

struct CacheSizes {
  std::int64_t l1d = 0, l2 = 0, l3 = 0;  // bytes; 0 when unknown
  // Where the sizes came from: "/sys/devices/system/cpu/cpu0/cache" (preferred: the kernel's
  // view, per-core L1/L2, the L3 the core shares) or "sysconf" (glibc's cpuid decoding, which
  // in some VMs reports an L3 that is not there), or "unknown".
  std::string source;
};

CacheSizes read_cache_sizes();

// Which FMA loop ran: "avx512" (16 floats per instruction), "avx2" (8) or "portable".
std::string fma_isa();

// One copy measurement: `threads` threads each memcpy their share of a source buffer into a
// destination buffer, `bytes` the source's total size (all threads together). GB/s counts the
// bytes read plus the bytes written, 2 × bytes per copy (10^9 bytes per GB); a write-allocate
// cache also reads the destination before writing it, which is not counted (STREAM's convention).
struct CopyBandwidth {
  std::string level;  // "L2", "L3" or "DRAM": where the working set (source + destination) sits
  std::int64_t bytes = 0;
  int threads = 1;
  double gbps = 0;
};

struct MachineLimits {
  CacheSizes caches;
  std::string isa;
  int threads = 1;               // N: the benchmark's thread count
  double fma_gflops_1 = 0;       // FP32, 2 flops per multiply-add, one thread
  double fma_gflops_n = 0;       // the same on N threads running together
  std::vector<CopyBandwidth> copy;  // each level, on 1 and on N threads
  bool quick = false;               // a smoke run's numbers (tiny samples): not a measurement

  double fma_gflops(int threads_used) const { return threads_used <= 1 ? fma_gflops_1 : fma_gflops_n; }
  // The copy bandwidth measured with a working set like `working_set_bytes` (the level whose
  // buffers are the smallest that hold it: a kernel whose data fits in L3 is compared with an
  // L3-sized copy, one larger than L3 with the DRAM copy), at 1 thread or at N.
  const CopyBandwidth& copy_for(std::int64_t working_set_bytes, int threads_used) const;
};

// One copy measurement with a source of `bytes` (split between the threads); `level` is only a
// label. bench_conv1d calls it with a memory-bound kernel's own working set.
CopyBandwidth measure_copy(const std::string& level, std::int64_t bytes, int threads, bool quick = false);

// Measures everything (~2 s; --quick: ~0.1 s with tiny samples, a smoke run's numbers).
MachineLimits measure_machine(int threads, bool quick = false);

// The report, as markdown: cache sizes, the FMA peak at 1 and N threads, the copy table.
std::string format_machine_limits(const MachineLimits& m);

// The FMA loops behind fma_isa() (one per file; exposed for those files). Each runs
// `iterations` rounds of independent FMA chains (acc = acc * a + b, a just below 1, so the values
// settle near b / (1 - a): no overflow, no denormals) and returns a value derived from the
// accumulators, so the loop cannot be removed. Enough chains to cover latency: an FMA takes 4
// cycles and a Zen 4/5 core starts 2 per cycle, so 8 must be in flight; the AVX-512 loop keeps
// 16 (of 32 registers), the AVX2 loop 12 (of 16).
namespace detail {
inline constexpr double kFlopsPerIterationAvx512 = 16 * 16 * 2;  // chains × lanes × 2
inline constexpr double kFlopsPerIterationAvx2 = 12 * 8 * 2;
float fma_loop_avx512(std::int64_t iterations);
float fma_loop_avx2(std::int64_t iterations);
}  // namespace detail

}  // namespace reel_bench
