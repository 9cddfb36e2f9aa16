// bench/machine: the machine's limits alone (bench/machine.hpp) — cache sizes, FP32 FMA peak on
// 1 and N threads, copy bandwidth at L2-, L3- and DRAM-sized working sets. bench_conv1d prints
// the same measurement above its table; scripts/bench runs this first.
//
//   bench_machine [--quick] [--threads N]     (N: default the number of CPUs this process may use)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "machine.hpp"

int main(int argc, char** argv) {
  bool quick = false;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[i + 1]);
  }
  if (threads < 1) threads = 1;
  std::fputs(reel_bench::format_machine_limits(reel_bench::measure_machine(threads, quick)).c_str(),
             stdout);
  return 0;
}
