// bench_distributed: reel::distributed's collective latency and bandwidth on this machine, run
// under mpirun (issue 12):
//   mpirun -np 2 build/bench/bench_distributed [--rounds 200]
// For each size: the median time of a synchronous all_reduce (SUM, float32), and the bus
// bandwidth it implies (2 (W-1)/W x bytes / time, NCCL's convention). Rank 0 prints.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "reel.hpp"

int main(int argc, char** argv) {
  namespace dist = reel::distributed;
  int rounds = 200;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  try {
    dist::init_process_group(dist::Backend::kMPI);
    const int rank = dist::get_rank(), world = dist::get_world_size();
    if (rank == 0) {
      fmt::print("all_reduce float32 SUM, {} processes, median of {} rounds\n", world, rounds);
      fmt::print("| elements | bytes | median µs | bus GB/s |\n|---:|---:|---:|---:|\n");
    }
    for (std::int64_t n : {1, 256, 4096, 65536, 1 << 20, 1 << 23}) {
      reel::Tensor t = reel::ones({n});
      const int r = n >= (1 << 20) ? std::max(5, rounds / 20) : rounds;
      std::vector<double> us;
      dist::barrier();
      for (int k = 0; k < r + 3; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        dist::all_reduce(t);
        const double s = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
        if (k >= 3) us.push_back(s);  // 3 warm-up rounds
      }
      std::sort(us.begin(), us.end());
      const double med = us[us.size() / 2];
      const double bytes = 4.0 * static_cast<double>(n);
      if (rank == 0) {
        fmt::print("| {} | {} | {:.1f} | {:.2f} |\n", n, static_cast<std::int64_t>(bytes), med,
                   2.0 * (world - 1) / world * bytes / (med * 1e-6) / 1e9);
      }
    }
    dist::destroy_process_group();
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_distributed: {}\n", e.what());
    return 1;
  }
  return 0;
}
