// bench/fmnist_step: where a training step of the Fashion-MNIST example goes
// (examples/fashion_mnist.cpp's network: 3 x [Conv1d k3 pad1 + BatchNorm1d + ReLU (+
// MaxPool1d(2))], AdaptiveAvgPool1d(1), Flatten, Dropout(0.2), Linear(128, 10), cross-entropy,
// Adam; batch 128, random data). Prints the whole step (and samples/s), its forward, backward and
// optimizer parts, and each layer alone: forward, and forward + backward with a random grad_out,
// on the input shape it sees in the network. bench/fmnist_step_torch.py prints the same rows for
// python3-torch. No thresholds: this reports, it does not judge.
//
//   bench_fmnist_step [--quick] [--threads N] [--batch N] [--rounds R]
// The whole step is also timed with the convolutions forced onto the per-sample gemm (Gemm, the
// choice before issue 10's short-row algorithm), alternating with the automatic choice over R
// rounds in this process: the ratio says what GemmBatched changed.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backends/cpu/conv1d.hpp"
#include "timer.hpp"

namespace nn = reel::nn;
namespace F = reel::nn::functional;
using reel::Tensor;

namespace {
struct Layer {
  std::string name;
  std::function<Tensor(const Tensor&)> forward;
};
}  // namespace

int main(int argc, char** argv) {
  reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);
  std::int64_t batch = 128;
  int rounds = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::atoi(argv[i + 1]);
  }
  reel::manual_seed(0);
  std::vector<Layer> layers;
  std::vector<Tensor> params;
  nn::Sequential holder;  // keeps the modules alive and gathers their parameters
  std::int64_t c_in = 28;
  int block = 0;
  for (std::int64_t c_out : {64, 128, 128}) {
    ++block;
    nn::Conv1d conv{nn::Conv1dOptions(c_in, c_out, 3).padding(1)};
    nn::BatchNorm1d bn{nn::BatchNorm1dOptions(c_out)};
    holder->push_back(conv);
    holder->push_back(bn);
    layers.push_back({fmt::format("conv{} {}→{}", block, c_in, c_out),
                      [conv](const Tensor& x) mutable { return conv(x); }});
    layers.push_back({fmt::format("bn{}", block), [bn](const Tensor& x) mutable { return bn(x); }});
    layers.push_back({fmt::format("relu{}", block), [](const Tensor& x) { return reel::relu(x); }});
    if (block < 3) {
      nn::MaxPool1d pool{nn::MaxPool1dOptions(2)};
      layers.push_back({fmt::format("maxpool{}", block),
                        [pool](const Tensor& x) mutable { return pool(x); }});
    }
    c_in = c_out;
  }
  nn::AdaptiveAvgPool1d avg{nn::AdaptiveAvgPool1dOptions(1)};
  nn::Dropout drop{nn::DropoutOptions(0.2)};
  nn::Linear fc(c_in, 10);
  holder->push_back(drop);
  holder->push_back(fc);
  layers.push_back({"avgpool+flatten", [avg](const Tensor& x) mutable { return avg(x).flatten(1); }});
  layers.push_back({"dropout", [drop](const Tensor& x) mutable { return drop(x); }});
  layers.push_back({"linear", [fc](const Tensor& x) mutable { return fc(x); }});
  params = holder->parameters();
  reel::optim::Adam adam(params, reel::optim::AdamOptions(5e-3));

  const Tensor x = reel::randn({batch, 28, 28});
  const Tensor labels = reel::randint(0, 10, {batch});
  auto forward = [&](const Tensor& input) {
    Tensor h = input;
    for (Layer& l : layers) h = l.forward(h);
    return h;
  };
  auto step = [&] {
    Tensor loss = F::cross_entropy(forward(x), labels);
    adam.zero_grad();
    loss.backward();
    adam.step();
  };
  using reel::backends::cpu::Conv1dAlgorithm;
  std::vector<double> auto_ns, gemm_ns;
  for (int r = 0; r < rounds; ++r) {
    reel::backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Gemm);
    gemm_ns.push_back(reel_bench::median_ns_per_call(step, config));
    reel::backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto);
    auto_ns.push_back(reel_bench::median_ns_per_call(step, config));
  }
  std::sort(auto_ns.begin(), auto_ns.end());
  std::sort(gemm_ns.begin(), gemm_ns.end());
  const double step_ns = auto_ns[auto_ns.size() / 2];
  const double step_gemm_ns = gemm_ns[gemm_ns.size() / 2];
  const double fwd_ns = reel_bench::median_ns_per_call([&] {
    Tensor loss = F::cross_entropy(forward(x), labels);
    reel_bench::keep(loss);
  }, config);
  const double fwdbwd_ns = reel_bench::median_ns_per_call([&] {
    Tensor loss = F::cross_entropy(forward(x), labels);
    adam.zero_grad();
    loss.backward();
  }, config);
  const double adam_ns = reel_bench::median_ns_per_call([&] { adam.step(); }, config);
  fmt::print("Fashion-MNIST training step, batch {}, {} threads\n\n", batch,
             reel::get_num_threads());
  fmt::print("| part | ms |\n|---|---:|\n");
  fmt::print("| whole step | {:.3f} ({:.0f} samples/s) |\n", step_ns * 1e-6,
             static_cast<double>(batch) / (step_ns * 1e-9));
  fmt::print("| whole step, convolutions forced to Gemm | {:.3f} ({:.0f} samples/s) |\n",
             step_gemm_ns * 1e-6, static_cast<double>(batch) / (step_gemm_ns * 1e-9));
  fmt::print("| forward + loss | {:.3f} |\n| backward (+ zero_grad) | {:.3f} |\n| Adam step | {:.3f} |\n\n",
             fwd_ns * 1e-6, (fwdbwd_ns - fwd_ns) * 1e-6, adam_ns * 1e-6);

  fmt::print("| layer | input | fwd ms | fwd+bwd ms |\n|---|---|---:|---:|\n");
  Tensor h = x;
  for (Layer& l : layers) {
    Tensor in = h.detach().clone().requires_grad_();
    Tensor out;
    {
      reel::NoGradGuard no_grad;
      out = l.forward(h);
    }
    Tensor gy = reel::randn(out.sizes());
    const double f = reel_bench::median_ns_per_call([&] {
      Tensor y = l.forward(in);
      reel_bench::keep(y);
    }, config);
    const double fb = reel_bench::median_ns_per_call([&] {
      in.zero_grad();
      Tensor y = l.forward(in);
      y.backward(gy);
    }, config);
    std::string shape = fmt::format("{}", in.size(0));
    for (std::int64_t d = 1; d < in.dim(); ++d) shape += fmt::format("x{}", in.size(d));
    fmt::print("| {} | {} | {:.3f} | {:.3f} |\n", l.name, shape, f * 1e-6, fb * 1e-6);
    h = out;
  }
  return 0;
}
