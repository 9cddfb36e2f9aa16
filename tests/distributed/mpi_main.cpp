// The main of test_distributed: every rank of `mpirun -np N test_distributed` runs the same
// doctest cases in the same order (their collectives meet), between init_process_group and
// destroy_process_group. The exit status is the worst rank's, so a case that fails on one rank
// fails the run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <fmt/core.h>

#include <chrono>

#include "reel.hpp"

int main(int argc, char** argv) {
  namespace dist = reel::distributed;
  try {
    // A generous timeout: CI machines are slow and oversubscribed (3 ranks on 2 cores).
    dist::init_process_group(dist::Backend::kMPI,
                             dist::InitProcessGroupOptions().timeout(std::chrono::seconds(120)));
    doctest::Context context(argc, argv);
    // Only rank 0 prints the summary; every rank prints its failures.
    if (dist::get_rank() != 0) context.setOption("no-intro", true);
    const int rc = context.run();
    reel::Tensor worst = reel::tensor(std::vector<std::int64_t>{rc});
    dist::all_reduce(worst, dist::ReduceOp::MAX);
    const int world = dist::get_world_size();
    dist::destroy_process_group();
    if (worst.item<std::int64_t>() != 0) {
      fmt::print(stderr, "test_distributed: a case failed on some rank of {}\n", world);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "test_distributed: {}\n", e.what());
    return 1;
  }
}
