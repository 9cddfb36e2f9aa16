// bench/gemm_bf16: the CPU backend's bfloat16 gemm (backends/cpu/gemm_bf16.hpp) on its native
// AVX-512 BF16 path and its portable path (widen to float32 + the float32 gemm), beside the
// float32 gemm on the same shapes, in GFLOP/s (2 flops per multiply-add).
//
//   bench_gemm_bf16 [--quick] [--threads N]
// No thresholds: this reports, it does not judge. On a CPU without avx512_bf16 the native
// column says n/a.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cpu/gemm.hpp"
#include "backends/cpu/gemm_bf16.hpp"
#include "timer.hpp"

namespace cpu = reel::backends::cpu;

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
  }
  struct Shape { std::int64_t m, n, k; const char* what; };
  const Shape shapes[] = {
      {256, 256, 256, "square"},
      {512, 512, 512, "square"},
      {1024, 1024, 1024, "square"},
      {64, 4096, 192, "conv1d fwd: Cout x L, depth Cin*K (64 ch, K 3)"},
      {192, 4096, 64, "conv1d bwd input: Cin*K x L, depth Cout"},
      {64, 192, 8192, "conv1d bwd weight: Cout x Cin*K, depth N*L"},
  };
  fmt::print("gemm, CPU, {} threads; median of {} timed batches per number. native bf16: {}\n\n",
             reel::get_num_threads(), config.batches,
             cpu::gemm_bf16_native_supported() ? "avx512_bf16" : "not supported on this CPU");
  fmt::print("| m x n x k | shape | float32 GFLOP/s | bf16 native GFLOP/s | bf16 portable GFLOP/s "
             "| native / float32 |\n|---|---|---:|---:|---:|---:|\n");
  std::mt19937 gen(0);
  std::normal_distribution<float> normal;
  for (Shape s : shapes) {
    if (quick) s = {std::min<std::int64_t>(s.m, 48), std::min<std::int64_t>(s.n, 64),
                    std::min<std::int64_t>(s.k, 64), s.what};
    std::vector<float> af(static_cast<std::size_t>(s.m * s.k)), bf(static_cast<std::size_t>(s.k * s.n));
    std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
    std::vector<std::uint16_t> ah(af.size()), bh(bf.size());
    for (std::size_t i = 0; i < af.size(); ++i) ah[i] = cpu::f32_to_bf16_bits(af[i] = normal(gen));
    for (std::size_t i = 0; i < bf.size(); ++i) bh[i] = cpu::f32_to_bf16_bits(bf[i] = normal(gen));
    const double flops = 2.0 * static_cast<double>(s.m * s.n * s.k);
    const double f32 = reel_bench::median_ns_per_call([&] {
      cpu::gemm<float>(s.m, s.n, s.k, {af.data(), s.k, 1}, {bf.data(), s.n, 1}, {c.data(), s.n, 1});
      reel_bench::keep(c);
    }, config);
    auto bf16 = [&](bool portable) {
      cpu::force_gemm_bf16_portable(portable);
      const double ns = reel_bench::median_ns_per_call([&] {
        cpu::gemm_bf16(s.m, s.n, s.k, {ah.data(), s.k, 1}, {bh.data(), s.n, 1}, {c.data(), s.n, 1});
        reel_bench::keep(c);
      }, config);
      cpu::force_gemm_bf16_portable(false);
      return ns;
    };
    const double portable = bf16(true);
    const bool native_ok = cpu::gemm_bf16_native_supported();
    const double native = native_ok ? bf16(false) : 0.0;
    fmt::print("| {} x {} x {} | {} | {:.1f} | {} | {:.1f} | {} |\n", s.m, s.n, s.k, s.what,
               flops / f32, native_ok ? fmt::format("{:.1f}", flops / native) : "n/a",
               flops / portable, native_ok ? fmt::format("{:.2f}", f32 / native) : "n/a");
  }
  return 0;
}
