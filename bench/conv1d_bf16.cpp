// bench/conv1d_bf16: Conv1d in bfloat16 beside float32 on the CPU backend, on the shapes of
// conv1d_cases.hpp: forward, and forward + backward with x, weight and bias requiring grad.
// bfloat16 is timed twice: with the AVX-512 BF16 gemm (where the CPU has it) and with the bf16
// gemm forced onto its portable path (widen to float32, float32 gemm), which is what a CPU
// without the instructions runs. GFLOP/s as bench_conv1d counts them. No thresholds.
//
//   bench_conv1d_bf16 [--quick] [--threads N] [--only KEY]   (KEY: a case's key, e.g. depthwise)
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "backends/cpu/gemm_bf16.hpp"
#include "conv1d_cases.hpp"
#include "conv1d_reel.hpp"
#include "nn/functional/conv1d.hpp"
#include "timer.hpp"

namespace {

namespace F = reel::nn::functional;
namespace cpu = reel::backends::cpu;

struct Times {
  double fwd = 0, fwdbwd = 0;
};

Times time_case(const reel_bench::Conv1dCase& c, reel::DType dtype,
                const reel_bench::TimerConfig& config) {
  reel::manual_seed(0);
  reel::Tensor x = reel::randn({c.n, c.cin, c.length}).to(dtype);
  reel::Tensor w = reel::randn({c.cout, c.cin / c.groups, c.kernel}).to(dtype);
  reel::Tensor b = reel::randn({c.cout}).to(dtype);
  reel::Tensor gy = reel::randn({c.n, c.cout, c.out_length()}).to(dtype);
  const auto options = reel_bench::conv1d_options(c);
  Times t;
  t.fwd = reel_bench::median_ns_per_call([&] {
    reel::NoGradGuard no_grad;
    reel::Tensor y = F::conv1d(x, w, b, options);
    reel_bench::keep(y);
  }, config);
  reel::Tensor xg = x.detach().clone().requires_grad_();
  reel::Tensor wg = w.detach().clone().requires_grad_();
  reel::Tensor bg = b.detach().clone().requires_grad_();
  t.fwdbwd = reel_bench::median_ns_per_call([&] {
    for (reel::Tensor* p : {&xg, &wg, &bg}) p->zero_grad();
    reel::Tensor y = F::conv1d(xg, wg, bg, options);
    y.backward(gy);
  }, config);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::conv1d_timer_config(argc, argv);
  bool quick = false;
  const char* only = nullptr;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
  }
  const bool native = cpu::gemm_bf16_native_supported();
  fmt::print("conv1d on the CPU, float32 vs bfloat16; {} threads; median of {} timed batches. "
             "native bf16 gemm: {}\n", reel::get_num_threads(), config.batches,
             native ? "avx512_bf16" : "not supported on this CPU");
  fmt::print("Shape: (N, Cin, Cout, L, K, stride, padding, dilation, groups). fwd+bwd: x, weight "
             "and bias require grad.\n\n");
  fmt::print("| case | pass | float32 ms | bf16 ms | bf16 portable ms | float32 / bf16 | "
             "bf16 GFLOP/s |\n|---|---|---:|---:|---:|---:|---:|\n");
  for (reel_bench::Conv1dCase c : reel_bench::kConv1dCases) {
    if (only != nullptr && std::strcmp(c.key, only) != 0) continue;
    if (quick) c = reel_bench::quick_case(c);
    const Times f32 = time_case(c, reel::kFloat32, config);
    cpu::force_gemm_bf16_portable(true);
    const Times portable = time_case(c, reel::kBFloat16, config);
    cpu::force_gemm_bf16_portable(false);
    const Times bf16 = native ? time_case(c, reel::kBFloat16, config) : portable;
    const struct { const char* pass; double f, b, p, flops; } rows[] = {
        {"fwd", f32.fwd, bf16.fwd, portable.fwd, c.forward_flops()},
        {"fwd+bwd", f32.fwdbwd, bf16.fwdbwd, portable.fwdbwd, 3 * c.forward_flops()}};
    for (const auto& r : rows) {
      fmt::print("| {} | {} | {:.3f} | {} | {:.3f} | {} | {} |\n", c.label, r.pass, r.f / 1e6,
                 native ? fmt::format("{:.3f}", r.b / 1e6) : "n/a", r.p / 1e6,
                 native ? fmt::format("{:.2f}", r.f / r.b) : "n/a",
                 native ? fmt::format("{:.1f}", r.flops / r.b) : "n/a");
    }
  }
  return 0;
}
