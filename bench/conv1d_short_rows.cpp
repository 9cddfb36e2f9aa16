// bench/conv1d_short_rows: where batching samples into one gemm (the GemmBatched algorithm,
// issue 10) beats the per-sample gemm (Gemm) and the implicit gemm (Implicit): a sweep of the
// row length L at the Fashion-MNIST example's three channel counts (28->64, 64->128, 128->128,
// k 3, padding 1, batch 128), float32, each algorithm forced in turn, back to back in one
// process and over several rounds. Prints ms per call and the median ratio Gemm / GemmBatched
// (above 1: batching wins); choose() in backends/cpu/conv1d.cpp takes its threshold from it.
//
//   bench_conv1d_short_rows [--quick] [--threads N] [--rounds R] [--lengths 7,14,28,...]
//                           [--batch N] [--tile-bytes B] [--cpu-time]
// No thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "backends/cpu/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "timer.hpp"

namespace {
namespace F = reel::nn::functional;
using reel::backends::cpu::Conv1dAlgorithm;

// --cpu-time: the process's CPU time per call instead of wall time (median of batches). On a
// loaded machine a preempted thread does not count, so single-thread variants still compare;
// with more threads it adds every thread's time, spinning included.
bool g_cpu_time = false;
double cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return 1e9 * static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec);
}
template <class Fn>
double time_ns(Fn&& fn, const reel_bench::TimerConfig& config) {
  if (!g_cpu_time) return reel_bench::median_ns_per_call(fn, config);
  fn();
  std::int64_t n = 1;
  const double target = static_cast<double>(config.target_batch.count());
  auto batch = [&](std::int64_t count) {
    const double t0 = cpu_ns();
    for (std::int64_t i = 0; i < count; ++i) fn();
    return cpu_ns() - t0;
  };
  for (double t = batch(n); t < target; t = batch(n))
    n = std::max<std::int64_t>(n + 1, static_cast<std::int64_t>(n * 1.2 * target / std::max(t, 1.0)));
  std::vector<double> per_call;
  for (int b = 0; b < config.batches; ++b) per_call.push_back(batch(n) / static_cast<double>(n));
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);
  bool quick = false;
  int rounds = 3;
  std::int64_t batch = 128;
  std::vector<std::int64_t> lengths = {4, 7, 10, 14, 20, 28, 40, 56, 64, 80, 96, 128};
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    g_cpu_time = g_cpu_time || std::strcmp(argv[i], "--cpu-time") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = std::atoll(argv[i + 1]);
    // Caps the chunk's im2col bytes below the default (set_conv1d_tile_bytes: Gemm's tiles are
    // whole rows at these lengths either way).
    if (std::strcmp(argv[i], "--tile-bytes") == 0 && i + 1 < argc)
      reel::backends::cpu::set_conv1d_tile_bytes(std::atoll(argv[i + 1]));
    if (std::strcmp(argv[i], "--lengths") == 0 && i + 1 < argc) {
      lengths.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string item; std::getline(list, item, ',');) lengths.push_back(std::stoll(item));
    }
  }
  if (quick) {
    rounds = 1;
    batch = 8;
    lengths = {7, 28};
  } else {
    config.batches = 5;
    config.target_batch = std::chrono::milliseconds(10);
  }
  reel::manual_seed(0);
  fmt::print("conv1d short rows, float32, batch {}, {} threads, {} rounds (ms per call, median "
             "over rounds; ratio: Gemm / GemmBatched, per round, median)\n\n",
             batch, reel::get_num_threads(), rounds);
  fmt::print("| Cin→Cout | L | pass | Gemm ms | GemmBatched ms | Implicit ms | Gemm / Batched |\n"
             "|---|---:|---|---:|---:|---:|---:|\n");
  const Conv1dAlgorithm algorithms[] = {Conv1dAlgorithm::Gemm, Conv1dAlgorithm::GemmBatched,
                                        Conv1dAlgorithm::Implicit};
  const std::int64_t channels[][2] = {{28, 64}, {64, 128}, {128, 128}};
  for (const auto& ch : channels) {
    for (std::int64_t length : lengths) {
      reel::Tensor x = reel::randn({batch, ch[0], length});
      reel::Tensor w = reel::randn({ch[1], ch[0], 3});
      reel::Tensor b = reel::randn({ch[1]});
      reel::Tensor gy = reel::randn({batch, ch[1], length});
      const auto options = F::Conv1dFuncOptions().padding(1);
      reel::Tensor xg = x.detach().clone().requires_grad_();
      reel::Tensor wg = w.detach().clone().requires_grad_();
      reel::Tensor bg = b.detach().clone().requires_grad_();
      std::vector<double> ms[2][3];  // [pass][algorithm]
      for (int r = 0; r < rounds; ++r) {
        for (int a = 0; a < 3; ++a) {
          reel::backends::cpu::force_conv1d_algorithm(algorithms[a]);
          ms[0][a].push_back(1e-6 * time_ns([&] {
            reel::NoGradGuard no_grad;
            reel::Tensor y = F::conv1d(x, w, b, options);
            reel_bench::keep(y);
          }, config));
          ms[1][a].push_back(1e-6 * time_ns([&] {
            for (reel::Tensor* t : {&xg, &wg, &bg}) t->zero_grad();
            reel::Tensor y = F::conv1d(xg, wg, bg, options);
            y.backward(gy);
          }, config));
        }
      }
      reel::backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
      const char* passes[] = {"fwd", "fwd+bwd"};
      for (int p = 0; p < 2; ++p) {
        std::vector<double> ratios;
        for (int r = 0; r < rounds; ++r) ratios.push_back(ms[p][0][r] / ms[p][1][r]);
        fmt::print("| {}→{} | {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.2f} |\n", ch[0], ch[1],
                   length, passes[p], median(ms[p][0]), median(ms[p][1]), median(ms[p][2]),
                   median(ratios));
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
