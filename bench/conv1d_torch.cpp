// bench/conv1d_torch: LibTorch's side of bench/conv1d.cpp — the same convolutions (the shapes
// in conv1d_cases.hpp), timed with the same harness (timer.hpp): torch::conv1d forward, and
// forward + backward with x, weight and bias requiring grad (gradients reset to undefined
// before each step, so every step writes fresh ones, as reel's side does).
// A separate executable, because LibTorch 1.13's headers are C++17 and reel is C++20;
// scripts/bench runs both and bench_conv1d --torch FILE merges the numbers.
// Output: "key nanoseconds" lines ("<case>_fwd", "<case>_fwdbwd"), "threads N" and
// "default_threads N".
// Threads: --threads N (default: the number of cores, reel's default), set with
// torch::set_num_threads, so both libraries use the same number; LibTorch's own default can be
// lower (Debian's build starts with one OpenMP thread on some machines), which would make the
// comparison one of thread counts.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "conv1d_cases.hpp"
#include "timer.hpp"

int main(int argc, char** argv) {
  reel_bench::TimerConfig config = reel_bench::conv1d_timer_config(argc, argv);
  bool quick = false;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[i + 1]);
  }
  std::printf("default_threads %d\n", torch::get_num_threads());
  if (threads >= 1) torch::set_num_threads(threads);

  torch::manual_seed(0);
  std::printf("threads %d\n", torch::get_num_threads());
  for (reel_bench::Conv1dCase c : reel_bench::kConv1dCases) {
    if (quick) c = reel_bench::quick_case(c);
    torch::Tensor x = torch::randn({c.n, c.cin, c.length});
    torch::Tensor w = torch::randn({c.cout, c.cin / c.groups, c.kernel});
    torch::Tensor b = torch::randn({c.cout});
    torch::Tensor gy = torch::randn({c.n, c.cout, c.out_length()});
    // Symmetric padding is conv1d's own; causal padding is F.pad's (constant_pad_nd) first,
    // as PyTorch users write it (conv1d_torch.py does the same).
    auto conv = [&](const torch::Tensor& in, const torch::Tensor& weight, const torch::Tensor& bias) {
      if (c.symmetric())
        return torch::conv1d(in, weight, bias, c.stride, c.pad_left, c.dilation, c.groups);
      return torch::conv1d(torch::constant_pad_nd(in, {c.pad_left, c.pad_right}), weight, bias,
                           c.stride, 0, c.dilation, c.groups);
    };
    const double fwd = reel_bench::median_ns_per_call([&] {
      torch::NoGradGuard no_grad;
      torch::Tensor y = conv(x, w, b);
      reel_bench::keep(y);
    }, config);

    torch::Tensor xg = x.clone().requires_grad_(), wg = w.clone().requires_grad_();
    torch::Tensor bg = b.clone().requires_grad_();
    const double fwdbwd = reel_bench::median_ns_per_call([&] {
      for (torch::Tensor* t : {&xg, &wg, &bg}) t->mutable_grad() = torch::Tensor();
      torch::Tensor y = conv(xg, wg, bg);
      y.backward(gy);
    }, config);
    std::printf("%s_fwd %.1f\n%s_fwdbwd %.1f\n", c.key, fwd, c.key, fwdbwd);
  }
  return 0;
}
