// bench/train_step: one whole training step — forward, loss, backward, optimizer step — of the
// two models issue 7 names, beside the same models in Debian's python3-torch
// (bench/train_step_torch.py, which documents them; scripts/bench runs both in one go).
//
//   tcn   4 residual blocks of two weight-normed causal Conv1d(64->64, k=3), dilations 1, 2, 4,
//         8, ReLU and Dropout(0.1) after each conv, residual add + ReLU; Linear(64->1) on the
//         last step. Input (32, 64, 256), MSE, Adam(1e-3). Arithmetic dominates.
//   tiny  Conv1d(8->8, k=3, padding=1) -> ReLU -> Conv1d(8->8, k=3, padding=1) -> mean over
//         time -> MSE; input (1, 8, 32), SGD(0.01). Host overhead dominates.
//
//   bench_train_step [--quick] [--threads N] [--torch FILE]
// --torch FILE merges the "key nanoseconds" lines train_step_torch.py printed into a markdown
// table: model | reel ms/step | PyTorch ms/step | reel samples/s | PyTorch samples/s | ratio.
// No thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "timer.hpp"

namespace nn = reel::nn;
namespace F = reel::nn::functional;
using reel::Tensor;

namespace {

// Bai et al.'s TemporalBlock with equal channel counts (no 1x1 downsample on the residual).
// reel's Conv1d pads causally itself (padding = kCausal); PyTorch's side pads with F.pad.
struct BlockImpl : nn::Module {
  BlockImpl(std::int64_t channels, std::int64_t k, std::int64_t dilation, double p) {
    auto opts = nn::Conv1dOptions(channels, channels, k).dilation(dilation).padding(reel::kCausal);
    conv1 = register_module("conv1", nn::utils::weight_norm(nn::Conv1d(opts)));
    conv2 = register_module("conv2", nn::utils::weight_norm(nn::Conv1d(opts)));
    drop1 = register_module("drop1", nn::Dropout(p));
    drop2 = register_module("drop2", nn::Dropout(p));
  }
  Tensor forward(const Tensor& x) {
    Tensor h = drop1(reel::relu(conv1(x)));
    h = drop2(reel::relu(conv2(h)));
    return reel::relu(x + h);
  }
  nn::Conv1d conv1{nullptr}, conv2{nullptr};
  nn::Dropout drop1{nullptr}, drop2{nullptr};
};
struct Block : nn::ModuleHolder<BlockImpl> {
  using nn::ModuleHolder<BlockImpl>::ModuleHolder;
};

struct TcnImpl : nn::Module {
  TcnImpl() {
    for (std::int64_t d : {1, 2, 4, 8}) blocks->push_back(Block(64, 3, d, 0.1));
    register_module("blocks", blocks);
    head = register_module("head", nn::Linear(64, 1));
  }
  Tensor forward(const Tensor& x) {
    Tensor h = blocks(x);
    return head(h.select(2, h.size(2) - 1));
  }
  nn::Sequential blocks;
  nn::Linear head{nullptr};
};
struct Tcn : nn::ModuleHolder<TcnImpl> {
  using nn::ModuleHolder<TcnImpl>::ModuleHolder;
};

std::map<std::string, double> read_torch_results(const char* path) {
  std::map<std::string, double> r;
  std::ifstream in(path);
  reel::check(static_cast<bool>(in), "bench_train_step: cannot read PyTorch results from '{}'",
              path);
  std::string key, value;
  while (in >> key >> value) {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end != value.c_str()) r[key] = v;  // skips "torch <version>"
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);
  const bool quick = config.batches < 31;
  if (!quick) {
    config.batches = 15;
    config.target_batch = std::chrono::milliseconds(50);
  }
  const char* torch_file = nullptr;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--torch") == 0) torch_file = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0) reel::set_num_threads(std::atoi(argv[i + 1]));
  }

  reel::manual_seed(0);
  std::map<std::string, double> reel_ns;

  {
    Tcn tcn;
    tcn->train();
    Tensor x = reel::randn({32, 64, 256});
    Tensor y = reel::randn({32, 1});
    reel::optim::Adam opt(tcn->parameters(), reel::optim::AdamOptions(1e-3));
    reel_ns["tcn"] = reel_bench::median_ns_per_call([&] {
      opt.zero_grad();
      Tensor loss = F::mse_loss(tcn(x), y);
      loss.backward();
      opt.step();
    }, config);
  }
  {
    nn::Sequential tiny(nn::Conv1d(nn::Conv1dOptions(8, 8, 3).padding(1)), nn::ReLU(),
                        nn::Conv1d(nn::Conv1dOptions(8, 8, 3).padding(1)));
    Tensor x = reel::randn({1, 8, 32});
    Tensor y = reel::randn({1, 8});
    reel::optim::SGD opt(tiny->parameters(), reel::optim::SGDOptions(0.01));
    reel_ns["tiny"] = reel_bench::median_ns_per_call([&] {
      opt.zero_grad();
      Tensor loss = F::mse_loss(tiny(x).mean({2}), y);
      loss.backward();
      opt.step();
    }, config);
  }

  std::map<std::string, double> torch_ns;
  if (torch_file) torch_ns = read_torch_results(torch_file);
  if (torch_ns.count("threads"))
    fmt::print("Threads: reel {}, PyTorch {}.\n\n", reel::get_num_threads(),
               static_cast<int>(torch_ns["threads"]));
  else
    fmt::print("Threads: reel {}. PyTorch: not measured.\n\n", reel::get_num_threads());

  fmt::print("| model | batch | reel ms/step | PyTorch ms/step | reel samples/s | "
             "PyTorch samples/s | time ratio reel/PyTorch |\n|---|---|---|---|---|---|---|\n");
  const struct { const char* key; const char* label; int batch; } rows[] = {
      {"tcn", "TCN (4 blocks, 64 ch, T=256, Adam)", 32},
      {"tiny", "tiny (2 conv 8 ch, T=32, SGD)", 1}};
  for (const auto& r : rows) {
    const double ns = reel_ns[r.key];
    std::string torch_cols = "n/a | n/a | n/a";
    if (auto t = torch_ns.find(r.key); t != torch_ns.end())
      torch_cols = fmt::format("{:.3f} | {:.0f} | {:.2f}", t->second / 1e6,
                               r.batch * 1e9 / t->second, ns / t->second);
    const auto parts = torch_cols;
    // reel ms | torch ms | reel samples/s | torch samples/s | ratio
    const auto sep = parts.find(" | ");
    fmt::print("| {} | {} | {:.3f} | {} | {:.0f} | {} |\n", r.label, r.batch, ns / 1e6,
               parts.substr(0, sep), r.batch * 1e9 / ns, parts.substr(sep + 3));
  }
  return 0;
}
