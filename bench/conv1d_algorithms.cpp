// bench/conv1d_algorithms: the CPU backend's conv1d algorithms side by side on the dense and
// grouped shapes of conv1d_cases.hpp (float32): each algorithm forced in turn (Gemm, Implicit,
// Fft, GemmBatched), back to back in one process and over several rounds, so that a loaded machine skews
// them alike. Prints GFLOP/s per (case, pass, algorithm, round) and the median ratios to Gemm.
// The passes: the forward, each backward primitive alone (backward_input "bwd-in",
// backward_weight with the bias gradient "bwd-w", called on the CPU backend directly: no
// autograd) and the whole fwd+bwd through autograd.
// --fft-sweep replaces the suite by the long-kernel grid the FFT algorithm's rule was fitted on
// (K 15-255 x L 1024-16384 x channels 8-64, padding 'same'; GFLOP/s count the direct sum's
// flops, so higher is faster for every algorithm). Fft is not timed for kernels under 8 taps
// (Auto never picks it there; a dilated k = 2 would take seconds): its columns show 0.
//
//   bench_conv1d_algorithms [--quick] [--threads N] [--rounds R] [--fft-sweep] [--only K,K...]
// --only: a comma-separated subset of conv1d_cases.hpp's keys (the suite only).
// No thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cpu/conv1d.hpp"
#include "conv1d_cases.hpp"
#include "conv1d_reel.hpp"
#include "nn/functional/conv1d.hpp"
#include "timer.hpp"

namespace {
namespace F = reel::nn::functional;
using reel::backends::cpu::Conv1dAlgorithm;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
  reel_bench::TimerConfig config = reel_bench::conv1d_timer_config(argc, argv);
  bool quick = false;
  bool sweep = false;
  std::string only;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    sweep = sweep || std::strcmp(argv[i], "--fft-sweep") == 0;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = "," + std::string(argv[i + 1]) + ",";
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[i + 1]);
  }
  if (quick) rounds = 1;
  reel::manual_seed(0);
  fmt::print("conv1d algorithms, float32 on the CPU, {} threads, {} rounds (GFLOP/s per round; "
             "fwd+bwd counts 3 forward passes)\n\n",
             reel::get_num_threads(), rounds);
  fmt::print("| case | pass | Gemm GFLOP/s | Implicit GFLOP/s | Fft GFLOP/s | GemmBatched GFLOP/s | "
             "Implicit/Gemm | Fft/Gemm | Fft/best other | GemmBatched/Gemm |\n"
             "|---|---|---|---|---|---|---:|---:|---:|---:|\n");
  // GemmBatched (issue 10, short rows) last: the per-sample Gemm where rows are long.
  constexpr int kAlgorithms = 4;
  const Conv1dAlgorithm algorithms[kAlgorithms] = {Conv1dAlgorithm::Gemm, Conv1dAlgorithm::Implicit,
                                                   Conv1dAlgorithm::Fft,
                                                   Conv1dAlgorithm::GemmBatched};
  std::vector<reel_bench::Conv1dCase> cases(std::begin(reel_bench::kConv1dCases),
                                            std::end(reel_bench::kConv1dCases));
  std::vector<std::string> labels;
  if (sweep) {  // --- FFT (issue 10): the long-kernel grid (3 batches: 60 cases, slow gemms) ---
    cases.clear();
    if (!quick) config.batches = 3;
    for (std::int64_t ch : {8, 16, 32, 64})
      for (std::int64_t k : {15, 31, 63, 127, 255})
        for (std::int64_t l : {1024, 4096, 16384}) {
          labels.push_back(fmt::format("{}→{}, L {}, k {}", ch, ch, l, k));
          const std::int64_t n = std::max<std::int64_t>(1, 8192 / l);
          cases.push_back({"sweep", nullptr, n, ch, ch, l, k, 1, (k - 1) / 2, k / 2, 1, 1});
        }
  }
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    reel_bench::Conv1dCase c = cases[ci];
    if (c.depthwise() || c.stride != 1) continue;  // depthwise and strided: not this kernel
    if (!sweep && !only.empty() && only.find("," + std::string(c.key) + ",") == std::string::npos)
      continue;
    if (quick) c = reel_bench::quick_case(c);
    const std::string label = sweep ? labels[ci] : std::string(c.label);
    reel::Tensor x = reel::randn({c.n, c.cin, c.length});
    reel::Tensor w = reel::randn({c.cout, c.cin / c.groups, c.kernel});
    reel::Tensor b = reel::randn({c.cout});
    reel::Tensor gy = reel::randn({c.n, c.cout, c.out_length()});
    const auto options = reel_bench::conv1d_options(c);
    reel::Tensor xg = x.detach().clone().requires_grad_();
    reel::Tensor wg = w.detach().clone().requires_grad_();
    reel::Tensor bg = b.detach().clone().requires_grad_();
    reel::Tensor gx = reel::empty({c.n, c.cin, c.length});
    reel::Tensor gw = reel::empty({c.cout, c.cin / c.groups, c.kernel});
    reel::Tensor gb = reel::empty({c.cout});
    reel::backends::Conv1dParams params{c.stride, c.pad_left, c.pad_right, c.dilation, c.groups};
    reel::backends::Backend& cpu = reel::backends::cpu_backend();
    constexpr int kPasses = 4;
    std::vector<double> gf[kPasses][kAlgorithms];  // [pass][algorithm]
    for (int r = 0; r < rounds; ++r) {
      for (int a = 0; a < kAlgorithms; ++a) {
        if (algorithms[a] == Conv1dAlgorithm::Fft && c.kernel < 8) {  // never its case: not timed
          for (auto& pass : gf) pass[a].push_back(0);
          continue;
        }
        reel::backends::cpu::force_conv1d_algorithm(algorithms[a]);
        const double fwd = reel_bench::median_ns_per_call([&] {
          reel::NoGradGuard no_grad;
          reel::Tensor y = F::conv1d(x, w, b, options);
          reel_bench::keep(y);
        }, config);
        const double fwdbwd = reel_bench::median_ns_per_call([&] {
          for (reel::Tensor* t : {&xg, &wg, &bg}) t->zero_grad();
          reel::Tensor y = F::conv1d(xg, wg, bg, options);
          y.backward(gy);
        }, config);
        const double bwd_in = reel_bench::median_ns_per_call([&] {
          cpu.conv1d_backward_input(reel::view_of(gx), reel::view_of(gy), reel::view_of(w), params);
        }, config);
        const double bwd_w = reel_bench::median_ns_per_call([&] {
          cpu.conv1d_backward_weight(reel::view_of(gw), reel::view_of(gb), reel::view_of(gy),
                                     reel::view_of(x), params);
        }, config);
        gf[0][a].push_back(c.forward_flops() / fwd);
        gf[1][a].push_back(c.forward_flops() / bwd_in);
        gf[2][a].push_back(c.forward_flops() / bwd_w);
        gf[3][a].push_back(3 * c.forward_flops() / fwdbwd);
      }
    }
    reel::backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
    const char* passes[kPasses] = {"fwd", "bwd-in", "bwd-w", "fwd+bwd"};
    for (int p = 0; p < kPasses; ++p) {
      std::string cols[kAlgorithms];
      for (int a = 0; a < kAlgorithms; ++a)
        for (double v : gf[p][a]) cols[a] += fmt::format("{}{:.0f}", cols[a].empty() ? "" : " ", v);
      std::vector<double> ratios[4];
      for (int r = 0; r < rounds; ++r) {
        ratios[0].push_back(gf[p][1][r] / gf[p][0][r]);
        ratios[1].push_back(gf[p][2][r] / gf[p][0][r]);
        ratios[2].push_back(gf[p][2][r] / std::max(gf[p][0][r], gf[p][1][r]));
        ratios[3].push_back(gf[p][3][r] / gf[p][0][r]);
      }
      fmt::print("| {} | {} | {} | {} | {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n", label,
                 passes[p], cols[0], cols[1], cols[2], cols[3], median(ratios[0]),
                 median(ratios[1]), median(ratios[2]), median(ratios[3]));
    }
  }
  return 0;
}
