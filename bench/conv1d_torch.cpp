// bench/conv1d_torch: LibTorch's side of bench/conv1d.cpp — the same convolutions (the shapes
// in conv1d_cases.hpp), timed with the same harness (timer.hpp): torch::conv1d forward, and
// forward + backward with x, weight and bias requiring grad (gradients reset to undefined
// before each step, so every step writes fresh ones, as reel's side does).
// Causal cases pad with constant_pad_nd (F.pad) first, as bench/conv1d_torch.py does.
// A separate executable, because LibTorch 1.13's headers are C++17 and reel is C++20;
// scripts/bench runs it and bench_conv1d --libtorch FILE merges the numbers.
//
//   bench_conv1d_torch [--quick] [--threads N] [--only KEY,KEY...]
//
// Output: "key nanoseconds" lines ("<case>_fwd", "<case>_fwdbwd"), "<case>_<pass>_faults F"
// (minor page faults per call), "threads N", "default_threads N", "malloc_tuned 0|1".
// Threads: --threads N (default: the number of cores, reel's default), set with
// torch::set_num_threads, so both libraries use the same number: Debian's LibTorch starts with
// one thread on this 2-core VM (as python3-torch does), which would make the comparison one of
// thread counts.
// Run it as conv1d_torch.py's warm column, with MALLOC_MMAP_THRESHOLD_=33554432
// MALLOC_TRIM_THRESHOLD_=68719476736 (scripts/bench does): with glibc's defaults every large
// tensor comes from fresh pages, and that, not LibTorch, is what an earlier LibTorch column
// measured (docs/benchmarks.md, "The LibTorch discrepancy").
#include <sys/resource.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "conv1d_cases.hpp"
#include "timer.hpp"

namespace {

// Minor page faults (first touches of fresh pages) per call over a few calls after the timing,
// as conv1d_torch.py measures them: ~0 when glibc reuses freed memory, thousands per call when
// every large tensor gets fresh mmap'd pages.
template <typename F>
double faults_per_call(F&& fn, int calls = 3) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  for (int i = 0; i < calls; ++i) fn();
  getrusage(RUSAGE_SELF, &after);
  return static_cast<double>(after.ru_minflt - before.ru_minflt) / calls;
}

}  // namespace

int main(int argc, char** argv) {
  reel_bench::TimerConfig config = reel_bench::conv1d_timer_config(argc, argv);
  bool quick = false;
  std::string only;  // --only KEY,KEY: a subset of the cases (as bench_conv1d --only)
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = std::string(",") + argv[i + 1] + ",";
  }
  std::printf("malloc_tuned %d\n", std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr);
  std::printf("default_threads %d\n", torch::get_num_threads());
  if (threads >= 1) torch::set_num_threads(threads);

  torch::manual_seed(0);
  std::printf("threads %d\n", torch::get_num_threads());
  for (reel_bench::Conv1dCase c : reel_bench::kConv1dCases) {
    if (!only.empty() && only.find(std::string(",") + c.key + ",") == std::string::npos) continue;
    if (quick) c = reel_bench::quick_case(c);
    torch::Tensor x = torch::randn({c.n, c.cin, c.length});
    torch::Tensor w = torch::randn({c.cout, c.cin / c.groups, c.kernel});
    torch::Tensor b = torch::randn({c.cout});
    torch::Tensor gy = torch::randn({c.n, c.cout, c.out_length()});
    // Symmetric padding is conv1d's own; causal padding is F.pad's (constant_pad_nd) first,
    // as PyTorch users write it (conv1d_torch.py does the same).
    const std::int64_t no_padding = 0;  // an lvalue: a literal 0 makes the overloads ambiguous
    auto conv = [&](const torch::Tensor& in, const torch::Tensor& weight, const torch::Tensor& bias) {
      if (c.symmetric())
        return torch::conv1d(in, weight, bias, c.stride, c.pad_left, c.dilation, c.groups);
      return torch::conv1d(torch::constant_pad_nd(in, {c.pad_left, c.pad_right}), weight, bias,
                           c.stride, no_padding, c.dilation, c.groups);
    };
    auto fwd_step = [&] {
      torch::NoGradGuard no_grad;
      torch::Tensor y = conv(x, w, b);
      reel_bench::keep(y);
    };
    const double fwd = reel_bench::median_ns_per_call(fwd_step, config);
    const double fwd_faults = faults_per_call(fwd_step);

    torch::Tensor xg = x.clone().requires_grad_(), wg = w.clone().requires_grad_();
    torch::Tensor bg = b.clone().requires_grad_();
    auto fwdbwd_step = [&] {
      for (torch::Tensor* t : {&xg, &wg, &bg}) t->mutable_grad() = torch::Tensor();
      torch::Tensor y = conv(xg, wg, bg);
      y.backward(gy);
    };
    const double fwdbwd = reel_bench::median_ns_per_call(fwdbwd_step, config);
    const double fwdbwd_faults = faults_per_call(fwdbwd_step);
    std::printf("%s_fwd %.1f\n%s_fwd_faults %.0f\n%s_fwdbwd %.1f\n%s_fwdbwd_faults %.0f\n", c.key,
                fwd, c.key, fwd_faults, c.key, fwdbwd, c.key, fwdbwd_faults);
    std::fflush(stdout);
  }
  return 0;
}
