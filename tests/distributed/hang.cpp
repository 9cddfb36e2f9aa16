// test_distributed_hang: the failure tests of reel::distributed (tests/distributed/
// check_timeout.sh runs it under mpirun). The last rank hangs, the others must fail with a
// clear reel::Error within the timeout instead of waiting forever:
//   hang before-init   the last rank never calls init_process_group (sleeps instead)
//   hang collective    the last rank joins, then never calls the collective the others call
// The failing ranks print "caught: <the error>" and exit 3; the group, unusable after a timeout,
// then ends the job (MPI_Abort), which takes the hung rank down too.
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "reel.hpp"

int main(int argc, char** argv) {
  namespace dist = reel::distributed;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "before-init" && mode != "collective") {
    fmt::print(stderr, "usage: test_distributed_hang before-init|collective\n");
    return 2;
  }
  const char* r = std::getenv("OMPI_COMM_WORLD_RANK");
  const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!r || !n) {
    fmt::print(stderr, "test_distributed_hang: run me with mpirun\n");
    return 2;
  }
  const bool hung = std::atoi(r) == std::atoi(n) - 1;
  const auto timeout = std::chrono::seconds(3);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (hung && mode == "before-init") {
      std::this_thread::sleep_for(std::chrono::seconds(120));
      return 0;
    }
    dist::init_process_group(dist::Backend::kMPI, dist::InitProcessGroupOptions().timeout(timeout));
    if (hung) {
      std::this_thread::sleep_for(std::chrono::seconds(120));
      return 0;
    }
    reel::Tensor t = reel::ones({4});
    dist::all_reduce(t);
    fmt::print("rank {}: the all_reduce returned, which it must not\n", r);
    return 1;
  } catch (const reel::Error& e) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("caught after {:.1f} s: {}\n", s, e.what());
    std::fflush(stdout);
    return 3;
  }
}
