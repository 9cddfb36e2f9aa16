// bench/overhead: the host cost of one op on tiny tensors, where the arithmetic is nothing and
// what remains is dispatch, allocation and tape recording. Small sequence models spend much of
// their time here. Three measurements on 16-element float32 CPU tensors:
//   add                a + b, grad mode on but nothing requires grad
//   (a*b).sum()        a requires grad: two ops recorded on the tape
//   ... .backward()    the same plus the backward pass (gradients accumulate into a.grad())
//
//   bench_overhead [--quick] [--torch FILE]
// --torch FILE merges the numbers bench_overhead_torch printed (scripts/bench does this) into a
// markdown table: op | reel µs | LibTorch µs | ratio. No thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "timer.hpp"

namespace {

struct Case {
  const char* key;    // shared with overhead_torch.cpp
  const char* label;  // the table's first column
};
constexpr Case kCases[] = {
    {"add", "`a + b`"},
    {"mul_sum_grad", "`(a*b).sum()`, a requires grad"},
    {"mul_sum_backward", "`(a*b).sum().backward()`"},
};

// LibTorch's numbers, as "key value" lines written by bench_overhead_torch.
std::map<std::string, double> read_torch_results(const char* path) {
  std::map<std::string, double> r;
  std::ifstream in(path);
  reel::check(static_cast<bool>(in), "bench_overhead: cannot read LibTorch results from '{}'", path);
  std::string key;
  double value;
  while (in >> key >> value) r[key] = value;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);
  const char* torch_file = nullptr;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--torch") == 0) torch_file = argv[i + 1];

  reel::manual_seed(0);
  reel::Tensor a = reel::rand({16});
  reel::Tensor b = reel::rand({16});
  reel::Tensor a_grad = reel::rand({16});
  a_grad.requires_grad_();

  std::map<std::string, double> reel_ns;
  reel_ns["add"] = reel_bench::median_ns_per_call([&] {
    reel::Tensor c = a + b;
    reel_bench::keep(c);
  }, config);
  reel_ns["mul_sum_grad"] = reel_bench::median_ns_per_call([&] {
    reel::Tensor s = (a_grad * b).sum();
    reel_bench::keep(s);
  }, config);
  reel_ns["mul_sum_backward"] = reel_bench::median_ns_per_call([&] {
    (a_grad * b).sum().backward();
  }, config);

  std::map<std::string, double> torch_ns;
  if (torch_file) torch_ns = read_torch_results(torch_file);

  fmt::print("Host overhead per op: 16-element float32 tensors on the CPU, median of {} timed "
             "batches.\n", config.batches);
  if (torch_ns.count("threads"))
    fmt::print("Threads: reel {}, LibTorch {} (each library's default).\n",
               reel::get_num_threads(), static_cast<int>(torch_ns["threads"]));
  else
    fmt::print("Threads: reel {} (default). LibTorch: not measured.\n", reel::get_num_threads());
  fmt::print("\n| op | reel µs | LibTorch µs | ratio (reel / LibTorch) |\n|---|---:|---:|---:|\n");
  for (const Case& c : kCases) {
    const double r = reel_ns[c.key];
    auto t = torch_ns.find(c.key);
    if (t == torch_ns.end())
      fmt::print("| {} | {:.3f} | n/a | n/a |\n", c.label, r / 1e3);
    else
      fmt::print("| {} | {:.3f} | {:.3f} | {:.2f} |\n", c.label, r / 1e3, t->second / 1e3,
                 r / t->second);
  }
  return 0;
}
