// bench/overhead_torch: LibTorch's side of bench/overhead.cpp — the same three measurements
// with the same harness (timer.hpp). A separate executable, because LibTorch 1.13's headers
// are compiled as C++17 and reel is C++20; scripts/bench runs both and merges the numbers.
// Output: "key nanoseconds" lines (and "threads N"), read by bench_overhead --torch FILE.
// Threads: LibTorch's default (torch::get_num_threads()), as reel runs with its own default.
#include <torch/torch.h>

#include <cstdio>

#include "timer.hpp"

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);

  torch::manual_seed(0);
  torch::Tensor a = torch::rand({16});
  torch::Tensor b = torch::rand({16});
  torch::Tensor a_grad = torch::rand({16}).requires_grad_();

  const double add = reel_bench::median_ns_per_call([&] {
    torch::Tensor c = a + b;
    reel_bench::keep(c);
  }, config);
  const double mul_sum_grad = reel_bench::median_ns_per_call([&] {
    torch::Tensor s = (a_grad * b).sum();
    reel_bench::keep(s);
  }, config);
  const double mul_sum_backward = reel_bench::median_ns_per_call([&] {
    (a_grad * b).sum().backward();
  }, config);

  std::printf("threads %d\n", torch::get_num_threads());
  std::printf("add %.1f\nmul_sum_grad %.1f\nmul_sum_backward %.1f\n", add, mul_sum_grad,
              mul_sum_backward);
  return 0;
}
