// bench/conv1d: reel's Conv1d on the shapes of conv1d_cases.hpp — forward, and forward +
// backward with x, weight and bias requiring grad — in time per call and GFLOP/s, beside
// LibTorch 1.13 measured the same way by bench_conv1d_torch.
//
//   bench_conv1d [--quick] [--threads N] [--torch FILE]
// --torch FILE merges the numbers bench_conv1d_torch printed (scripts/bench does this) into
// one markdown table. --threads N: reel's thread count (default: the number of cores; give
// bench_conv1d_torch the same, which is its default too). GFLOP/s counts 2 flops per multiply-add: the forward pass's, and three
// times that for forward + backward (grad_input and grad_weight each cost a forward). No
// thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "conv1d_cases.hpp"
#include "machine.hpp"
#include "nn/functional/conv1d.hpp"
#include "timer.hpp"

namespace {

namespace F = reel::nn::functional;

// LibTorch's numbers, as "key value" lines written by bench_conv1d_torch.
std::map<std::string, double> read_torch_results(const char* path) {
  std::map<std::string, double> r;
  std::ifstream in(path);
  reel::check(static_cast<bool>(in), "bench_conv1d: cannot read LibTorch results from '{}'", path);
  std::string key;
  double value;
  while (in >> key >> value) r[key] = value;
  return r;
}

std::string shape_of(const reel_bench::Conv1dCase& c) {
  return fmt::format("({}, {}, {}, {}, {}, {}, {}, {}, {})", c.n, c.cin, c.cout, c.length,
                     c.kernel, c.stride, c.padding, c.dilation, c.groups);
}

}  // namespace

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::conv1d_timer_config(argc, argv);
  const char* torch_file = nullptr;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    if (std::strcmp(argv[i], "--torch") == 0 && i + 1 < argc) torch_file = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
  }
  std::map<std::string, double> torch_ns;
  if (torch_file) torch_ns = read_torch_results(torch_file);

  // The machine's limits first, in this run, at reel's thread count (bench/machine.hpp).
  const reel_bench::MachineLimits machine = reel_bench::measure_machine(reel::get_num_threads(), quick);
  fmt::print("{}\n", reel_bench::format_machine_limits(machine));

  reel::manual_seed(0);
  fmt::print("conv1d, float32 on the CPU: median of {} timed batches per number.\n",
             config.batches);
  if (torch_ns.count("threads"))
    fmt::print("Threads: reel {}, LibTorch {} (LibTorch's own default here: {}).\n",
               reel::get_num_threads(), static_cast<int>(torch_ns["threads"]),
               static_cast<int>(torch_ns["default_threads"]));
  else
    fmt::print("Threads: reel {} (default). LibTorch: not measured.\n", reel::get_num_threads());
  fmt::print("Shape: (N, Cin, Cout, L, K, stride, padding, dilation, groups). fwd+bwd: x, weight "
             "and bias require grad.\n\n");
  fmt::print("| case | shape | pass | reel ms | reel GFLOP/s | LibTorch ms | LibTorch GFLOP/s "
             "| time ratio (reel / LibTorch) |\n|---|---|---|---:|---:|---:|---:|---:|\n");

  for (reel_bench::Conv1dCase c : reel_bench::kConv1dCases) {
    if (quick) c = reel_bench::quick_case(c);
    reel::Tensor x = reel::randn({c.n, c.cin, c.length});
    reel::Tensor w = reel::randn({c.cout, c.cin / c.groups, c.kernel});
    reel::Tensor b = reel::randn({c.cout});
    reel::Tensor gy = reel::randn({c.n, c.cout, c.out_length()});
    const auto options = F::Conv1dFuncOptions().stride(c.stride).padding(c.padding)
                             .dilation(c.dilation).groups(c.groups);
    const double fwd = reel_bench::median_ns_per_call([&] {
      reel::NoGradGuard no_grad;
      reel::Tensor y = F::conv1d(x, w, b, options);
      reel_bench::keep(y);
    }, config);

    reel::Tensor xg = x.detach().clone().requires_grad_();
    reel::Tensor wg = w.detach().clone().requires_grad_();
    reel::Tensor bg = b.detach().clone().requires_grad_();
    const double fwdbwd = reel_bench::median_ns_per_call([&] {
      for (reel::Tensor* t : {&xg, &wg, &bg}) t->zero_grad();
      reel::Tensor y = F::conv1d(xg, wg, bg, options);
      y.backward(gy);
    }, config);

    const struct { const char* pass; const char* suffix; double ns; double flops; } rows[] = {
        {"fwd", "fwd", fwd, c.forward_flops()}, {"fwd+bwd", "fwdbwd", fwdbwd, 3 * c.forward_flops()}};
    for (const auto& r : rows) {
      const std::string key = fmt::format("{}_{}", c.key, r.suffix);
      std::string torch_cols = "n/a | n/a | n/a";
      if (auto t = torch_ns.find(key); t != torch_ns.end())
        torch_cols = fmt::format("{:.3f} | {:.1f} | {:.2f}", t->second / 1e6, r.flops / t->second,
                                 r.ns / t->second);
      fmt::print("| {} | {} | {} | {:.3f} | {:.1f} | {} |\n", c.label, shape_of(c), r.pass,
                 r.ns / 1e6, r.flops / r.ns, torch_cols);
    }
  }
  return 0;
}
