// bench/conv1d_polyphase: strided float32 conv1d (issue 10's raw-audio front end and a sweep
// around it), the CPU algorithms forced in turn (Gemm, Direct, Polyphase), back to back in one
// process over several rounds, so that a loaded machine skews all alike. Prints the forward's
// GFLOP/s per algorithm (median over rounds), the median ratio Polyphase / best other, the
// ratio of the best rounds (robust on a shared machine, where a round is only ever slowed
// down), plus what Auto picks. choose()'s polyphase rule (backends/cpu/conv1d.cpp) comes from this sweep.
//
//   bench_conv1d_polyphase [--quick] [--threads N] [--rounds R] [--audio | --wide]
// --audio: only the suite's raw-audio row (N 8, 1 -> 32, L 16000, k 80, stride 4), fwd and
// fwd+bwd; --wide: shapes outside choose()'s polyphase region (wide layers with short kernels,
// few outputs, a kernel shorter than 8). No thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "timer.hpp"

namespace {
namespace F = reel::nn::functional;
using reel::backends::cpu::Conv1dAlgorithm;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Case {
  std::int64_t n, cin, cout, length, kernel, stride, dilation, groups;
  std::int64_t out_length() const { return (length - dilation * (kernel - 1) - 1) / stride + 1; }
  double flops() const {
    return 2.0 * n * cout * out_length() * (cin / groups) * kernel;
  }
};

}  // namespace

int main(int argc, char** argv) {
  reel_bench::TimerConfig config;
  config.batches = 7;
  config.target_batch = std::chrono::milliseconds(3);
  bool quick = false, audio = false, wide = false;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    audio = audio || std::strcmp(argv[i], "--audio") == 0;
    wide = wide || std::strcmp(argv[i], "--wide") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[i + 1]);
  }
  if (quick) {
    rounds = 1;
    config.batches = 1;
    config.target_batch = std::chrono::microseconds(200);
  }
  std::vector<Case> cases;
  if (wide) {  // outside choose()'s polyphase region: wide layers, short kernels
    for (std::int64_t k : {3, 4, 8})
      for (std::int64_t cin : {16, 64}) cases.push_back({8, cin, 2 * cin, 4000, k, 2, 1, 1});
    cases.push_back({8, 1, 4, 16000, 80, 4, 1, 1});    // few outputs
    cases.push_back({8, 1, 32, 16000, 4, 4, 1, 1});    // short kernel
  } else if (audio || quick) {
    cases.push_back({8, 1, 32, quick ? 2000 : 16000, 80, 4, 1, 1});
  } else {
    for (std::int64_t s : {2, 4, 8})
      for (std::int64_t k : {16, 80, 400})
        for (std::int64_t cout : {16, 32, 128})
          for (std::int64_t cin : {1, 4}) cases.push_back({8, cin, cout, 16000, k, s, 1, 1});
    cases.push_back({8, 1, 64, 16000, 80, 3, 1, 1});   // stride 3
    cases.push_back({8, 1, 64, 16000, 81, 5, 2, 1});   // dilation 2 with stride 5
    cases.push_back({8, 4, 32, 16000, 40, 4, 1, 4});   // depthwise x8
    cases.push_back({8, 2, 32, 16000, 10, 5, 1, 1});   // short kernel (wav2vec-like)
  }
  reel::manual_seed(0);
  fmt::print("strided conv1d forward, float32, {} threads, {} rounds (GFLOP/s, median)\n\n",
             reel::get_num_threads(), rounds);
  fmt::print("| N Cin Cout L K s d G | Gemm | Direct | Polyphase | Auto | Poly / best other | best / best |\n"
             "|---|---:|---:|---:|---:|---:|---:|\n");
  const Conv1dAlgorithm algorithms[] = {Conv1dAlgorithm::Gemm, Conv1dAlgorithm::Direct,
                                        Conv1dAlgorithm::Polyphase, Conv1dAlgorithm::Auto};
  for (const Case& c : cases) {
    reel::Tensor x = reel::randn({c.n, c.cin, c.length});
    reel::Tensor w = reel::randn({c.cout, c.cin / c.groups, c.kernel});
    reel::Tensor b = reel::randn({c.cout});
    const auto options = F::Conv1dFuncOptions().stride(c.stride).dilation(c.dilation).groups(c.groups);
    std::vector<double> gf[4];
    std::vector<double> ratios;
    for (int r = 0; r < rounds; ++r) {
      double round_gf[4];
      for (int a = 0; a < 4; ++a) {
        reel::backends::cpu::force_conv1d_algorithm(algorithms[a]);
        const double ns = reel_bench::median_ns_per_call([&] {
          reel::NoGradGuard no_grad;
          reel::Tensor y = F::conv1d(x, w, b, options);
          reel_bench::keep(y);
        }, config);
        round_gf[a] = c.flops() / ns;
        gf[a].push_back(round_gf[a]);
      }
      ratios.push_back(round_gf[2] / std::max(round_gf[0], round_gf[1]));
    }
    reel::backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
    auto best = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
    fmt::print("| {} {} {} {} {} {} {} {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.2f} | {:.2f} |\n",
               c.n, c.cin, c.cout, c.length, c.kernel, c.stride, c.dilation, c.groups,
               median(gf[0]), median(gf[1]), median(gf[2]), median(gf[3]), median(ratios),
               best(gf[2]) / std::max(best(gf[0]), best(gf[1])));
    if (audio) {
      // fwd+bwd as the front end runs it: the input does not require grad.
      reel::Tensor wg = w.detach().clone().requires_grad_();
      reel::Tensor bg = b.detach().clone().requires_grad_();
      reel::Tensor gy = reel::randn({c.n, c.cout, c.out_length()});
      for (int a = 0; a < 4; ++a) {
        reel::backends::cpu::force_conv1d_algorithm(algorithms[a]);
        std::vector<double> ms;
        for (int r = 0; r < rounds; ++r)
          ms.push_back(1e-6 * reel_bench::median_ns_per_call([&] {
            wg.zero_grad();
            bg.zero_grad();
            reel::Tensor y = F::conv1d(x, wg, bg, options);
            y.backward(gy);
          }, config));
        const char* names[] = {"Gemm", "Direct", "Polyphase", "Auto"};
        fmt::print("fwd+bwd (x without grad), {}: {:.3f} ms median, {:.3f} ms best\n", names[a],
                   median(ms), *std::min_element(ms.begin(), ms.end()));
      }
      // fwd+bwd with x requiring grad (the suite's fwd+bwd row): backward_input runs too.
      reel::Tensor xg = x.detach().clone().requires_grad_();
      for (int a : {0, 2, 3}) {
        reel::backends::cpu::force_conv1d_algorithm(algorithms[a]);
        std::vector<double> ms;
        for (int r = 0; r < rounds; ++r)
          ms.push_back(1e-6 * reel_bench::median_ns_per_call([&] {
            xg.zero_grad();
            wg.zero_grad();
            bg.zero_grad();
            reel::Tensor y = F::conv1d(xg, wg, bg, options);
            y.backward(gy);
          }, config));
        const char* names[] = {"Gemm", "Direct", "Polyphase", "Auto"};
        fmt::print("fwd+bwd (x with grad), {}: {:.3f} ms median, {:.3f} ms best\n", names[a],
                   median(ms), *std::min_element(ms.begin(), ms.end()));
      }
      reel::backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
    }
  }
  return 0;
}
