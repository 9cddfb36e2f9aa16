// tcn_adding: the temporal convolutional network of Bai, Kolter & Koltun, "An Empirical
// Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling" (2018), on
// their adding problem. Its PyTorch twin, with the same model, loop and defaults, is
// examples/pytorch/tcn_adding.py.
//
// The task: a sequence of T pairs (value uniform in [0, 1), marker 0 or 1) with two markers;
// the target is the sum of the two marked values. Predicting the mean (1) gives MSE ≈ 1/6 ≈
// 0.167; the model must reach back over the whole sequence to do better.
//
// The model, as github.com/locuslab/TCN: levels of residual TemporalBlocks, each
//   x -> weight_norm(causal dilated Conv1d) -> relu -> dropout -> (same again) -> + residual
//   -> relu,
// dilation 2^i at level i, a 1x1 Conv1d on the residual path where the channel count changes,
// and a Linear on the last time step. The receptive field is 1 + 2 (k - 1) (2^levels - 1); it
// must cover T. reel's causal padding (nn::kCausal) pads (k - 1) dilation on the left only, so
// there is no "chomp" as in the PyTorch model (which pads both sides and cuts the right).
// Initialisation: the repository's effective one (see the twin): the weight-normed convolutions
// keep Conv1d's default v (kaiming-uniform) with g = ||v||; the 1x1 downsample and the final
// Linear weights are drawn from N(0, 0.01).
// Training: Adam, MSE, batches in order (no shuffle; the last one partial), optional gradient
// norm clipping.
//
//   build/examples/tcn_adding                 # T = 200
//   build/examples/tcn_adding --T 600 --levels 8 --epochs 10   # the paper's setting
//   build/examples/tcn_adding --help
//   build/examples/tcn_adding --device cuda    # on the GPU: the model and each batch moved there
//   mpirun -np 2 build/examples/tcn_adding --distributed --threads 1   # data-parallel (MPI)
//
// --device cuda: the model moves to the GPU once (model->to(device)), the test set once, each
// training batch as it comes out of the loader; the loop is the CPU's. The losses are read back
// with item() (one synchronisation per step: the loop checks each loss is finite).
//
// --distributed: each process trains on its shard of the training set (DistributedSampler,
// in order: rank r takes sequences r, r + W, ...), --batch sequences per process, and
// DistributedDataParallel averages the gradients, so W processes with --batch B compute what
// one process computes with --batch W*B. Rank 0 alone prints, writes the CSV, plot and model.
// With --device cuda the gradients are averaged by NCCL instead of MPI (its group is set up
// through MPI all the same; each process takes GPU local_rank % device_count).
#include <reel/reel.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "common.hpp"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

namespace {

using namespace reel;
namespace F = reel::nn::functional;

class TemporalBlockImpl : public nn::Module {
 public:
  TemporalBlockImpl(std::int64_t n_in, std::int64_t n_out, std::int64_t k, std::int64_t dilation,
                    double dropout)
      : conv1(nn::utils::weight_norm(nn::Conv1d(
            nn::Conv1dOptions(n_in, n_out, k).dilation(dilation).padding(kCausal)))),
        conv2(nn::utils::weight_norm(nn::Conv1d(
            nn::Conv1dOptions(n_out, n_out, k).dilation(dilation).padding(kCausal)))),
        dropout1(dropout),
        dropout2(dropout) {
    register_module("conv1", conv1);
    register_module("dropout1", dropout1);
    register_module("conv2", conv2);
    register_module("dropout2", dropout2);
    if (n_in != n_out) {
      downsample = nn::Conv1d(nn::Conv1dOptions(n_in, n_out, 1));
      register_module("downsample", downsample);
      nn::init::normal_(downsample->weight, 0.0, 0.01);
    }
  }

  Tensor forward(const Tensor& x) const {
    Tensor out = dropout1(relu(conv1(x)));
    out = dropout2(relu(conv2(out)));
    return relu(out + (downsample.is_empty() ? x : downsample(x)));
  }

  nn::Conv1d conv1, conv2;
  nn::Dropout dropout1, dropout2;
  nn::Conv1d downsample{nullptr};
};

class TemporalBlock : public nn::ModuleHolder<TemporalBlockImpl> {
 public:
  using nn::ModuleHolder<TemporalBlockImpl>::ModuleHolder;
};

class TCNImpl : public nn::Module {
 public:
  TCNImpl(std::int64_t n_in, std::int64_t n_out, std::int64_t levels, std::int64_t nhid,
          std::int64_t k, double dropout)
      : linear(nhid, n_out) {
    for (std::int64_t i = 0; i < levels; ++i)
      tcn->push_back(TemporalBlock(i == 0 ? n_in : nhid, nhid, k, std::int64_t{1} << i, dropout));
    register_module("tcn", tcn);
    register_module("linear", linear);
    nn::init::normal_(linear->weight, 0.0, 0.01);
  }

  // x [N, n_in, T] -> [N, n_out], from the last time step.
  Tensor forward(const Tensor& x) const {
    Tensor y = tcn(x);
    return linear(y.select(2, y.size(2) - 1));
  }

  nn::Sequential tcn;
  nn::Linear linear;
};

class TCN : public nn::ModuleHolder<TCNImpl> {
 public:
  using nn::ModuleHolder<TCNImpl>::ModuleHolder;
};

// The test MSE in eval mode, without the tape, in chunks (bounded memory for large n_test).
double test_mse(TCN& model, const Tensor& x, const Tensor& y) {
  model->eval();
  NoGradGuard no_grad;
  const std::int64_t n = x.size(0), chunk = 250;
  double sum = 0;
  for (std::int64_t i = 0; i < n; i += chunk) {
    const std::int64_t b = std::min(chunk, n - i);
    Tensor loss = F::mse_loss(model(x.narrow(0, i, b)), y.narrow(0, i, b));
    sum += loss.item<float>() * static_cast<double>(b);
  }
  model->train();
  return sum / static_cast<double>(n);
}

struct Args {
  std::int64_t T = 200, n_train = 50000, n_test = 1000, batch = 32, epochs = 1;
  double lr = 4e-3;
  std::int64_t levels = 6, nhid = 30, k = 7;
  double dropout = 0.0, clip = -1.0;
  std::uint64_t seed = 1111;
  int threads = 0, workers = 0;
  std::int64_t max_steps = 0, log_interval = 100;
  std::string out = "runs/tcn_adding";
  bool distributed = false;
  std::string device = "cpu";
  bool skip_without_gpu = false, check_loss_falls = false;
};

int run(const Args& a, const Device device) {
  if (a.threads > 0) set_num_threads(a.threads);
  manual_seed(a.seed);
  int rank = 0, world = 1;
  if (a.distributed) {
    // MPI for CPU tensors, NCCL for CUDA ones (before the first CUDA tensor: it picks the GPU).
    distributed::init_process_group(device.is_cuda() ? distributed::Backend::kNCCL
                                                     : distributed::Backend::kMPI);
    rank = distributed::get_rank();
    world = distributed::get_world_size();
  }
  const bool lead = rank == 0;  // the one process that prints and writes files
  const std::int64_t rf = 1 + 2 * (a.k - 1) * ((std::int64_t{1} << a.levels) - 1);
  if (lead) fmt::print("tcn_adding: T {}, {} levels x {} channels, kernel {}: receptive field {}{}; on {}\n", a.T,
             a.levels, a.nhid, a.k, rf, rf >= a.T ? "" : " (shorter than T: it cannot solve it)", device);

  // Train and test sets from different seeds (adding_problem is a pure function of its seed).
  data::SequenceTask train = data::adding_problem(a.n_train, a.T, a.seed);
  data::SequenceTask test = data::adding_problem(a.n_test, a.T, a.seed + 1);
  // The test set lives where the model does, moved once; training batches move one by one.
  const Tensor test_x = test.inputs.to(device), test_y = test.targets.to(device);

  TCN model(2, 1, a.levels, a.nhid, a.k, a.dropout);
  model->to(device);  // in place: parameters (and buffers) now live on `device`
  std::int64_t n_params = 0;
  for (const Tensor& p : model->parameters()) n_params += p.numel();
  if (lead) fmt::print("{} parameters, {} threads{}\n", n_params, get_num_threads(),
      a.distributed ? fmt::format(", {} processes ({}): batch {} per process, {} in all", world,
                                  distributed::backend_name(distributed::get_backend()), a.batch,
                                  a.batch * world)
                    : std::string());
  // Data-parallel: rank 0's weights everywhere, averaged gradients. Each rank's dropout draws
  // its own stream (the same masks on every rank would make the ranks' batches less independent).
  std::optional<nn::parallel::DistributedDataParallel<TCN>> ddp;
  if (a.distributed) {
    ddp.emplace(model);
    manual_seed(a.seed + 1000003u * static_cast<std::uint64_t>(rank));
  }
  optim::Adam optimizer(model->parameters(), optim::AdamOptions(a.lr));  // after the move
  // --check-loss-falls: the test MSE before any training, to compare with the final one.
  const double mse_before = a.check_loss_falls ? test_mse(model, test_x, test_y) : 0.0;

  std::filesystem::create_directories(a.out);
  std::optional<examples::MetricsCsv> csv;
  if (lead) {
    csv.emplace(std::filesystem::path(a.out) / "metrics.csv",
                std::vector<std::string>{"step", "epoch", "train_loss", "test_mse", "samples_per_s", "wall_s"});
  }

  const auto t0 = examples::Clock::now();
  examples::StepTimer timer;  // waiting for the next batch vs the step's compute
  double last_loss = 0;
  std::int64_t step = 0, seen = 0, epoch = 0;
  std::optional<std::int64_t> first_below;  // first evaluated step with test MSE < 0.01
  std::pair<double, double> last_eval{0.0, 0.0};
  // Evaluates, records a CSV row, returns the test MSE and the training samples/s (of the
  // training steps' own time: the evaluations are left out).
  auto evaluate = [&]() {
    const double mse = test_mse(model, test_x, test_y);
    if (!first_below && mse < 0.01) first_below = step;
    const double busy = timer.wait_seconds() + timer.compute_seconds();
    // Samples of all processes per second (they step together).
    const double rate = busy > 0 ? static_cast<double>(seen * world) / busy : 0.0;
    if (csv) csv->row({static_cast<double>(step), static_cast<double>(epoch), last_loss, mse, rate,
             examples::seconds_since(t0)});
    last_eval = std::pair{mse, rate};
    return last_eval;
  };
  // One training step on a batch (the data wait already counted by the timer); false when the
  // run must end (max_steps reached, or a non-finite loss: `failed`).
  bool failed = false;
  auto train_step = [&](const Tensor& x, const Tensor& y) {
    timer.begin_step();  // the batch is here: what came before was the wait
    optimizer.zero_grad();
    Tensor loss = F::mse_loss(ddp ? (*ddp)(x) : model(x), y);
    loss.backward();
    if (a.clip > 0) nn::utils::clip_grad_norm_(model->parameters(), a.clip);
    optimizer.step();
    last_loss = loss.item<float>();
    timer.end_step();
    ++step;
    seen += x.size(0);
    if (!std::isfinite(last_loss)) {
      fmt::print(stderr, "tcn_adding: the training loss is {} at step {} (rank {})\n", last_loss,
                 step, rank);
      failed = true;
      return false;
    }
    if (step % a.log_interval == 0) {
      auto [mse, rate] = evaluate();
      if (lead) fmt::print("epoch {} step {} train {:.6f} test {:.6f} {:.0f} samples/s\n", epoch, step, last_loss,
          mse, rate);
      std::fflush(stdout);
    }
    timer.start();  // the evaluations between steps count as neither wait nor compute
    return !(a.max_steps > 0 && step >= a.max_steps);
  };
  // Batches in order, as the TCN repository (shuffle off), the last one partial; distributed,
  // each rank its in-order shard.
  data::DataLoaderOptions loader_options =
      data::DataLoaderOptions().batch_size(a.batch).shuffle(false).seed(a.seed).num_workers(a.workers);
  if (a.distributed) {
    loader_options.sampler(std::make_shared<data::DistributedSampler>(
        a.n_train, data::DistributedSamplerOptions().shuffle(false)));
  }
  data::DataLoader loader(
      std::make_shared<data::TensorDataset>(std::vector<Tensor>{train.inputs, train.targets}),
      loader_options);
  bool go = true;
  for (epoch = 1; epoch <= a.epochs && go; ++epoch) {
    model->train();
    timer.start();
    for (data::Example& batch : loader) {
      // The loader builds batches on the CPU; the copy to the device counts as waiting for data.
      if (!(go = train_step(batch[0].to(device), batch[1].to(device)))) break;
    }
  }
  if (failed) return 1;
  epoch = std::min(epoch, a.epochs);
  // The last step's evaluation, unless the loop just did it.
  auto [mse, rate] = step % a.log_interval == 0 && step > 0 ? last_eval : evaluate();
  const double wall = examples::seconds_since(t0);
  const double step_ms = step > 0 ? 1e3 * (timer.wait_seconds() + timer.compute_seconds()) /
                                        static_cast<double>(step)
                                  : 0.0;
  if (lead) fmt::print("final test mse {:.6f} (predicting 1: ~0.167) steps {} wall {:.1f}s train samples/s {:.0f} "
      "step {:.2f} ms data wait {:.2f}% first step with test mse < 0.01: {}\n",
      mse, step, wall, rate, step_ms, timer.wait_percent(),
      first_below ? std::to_string(*first_below) : std::string("none"));
  // Every rank evaluates the same test set with the same weights: rank 0 checks for all.
  const int check = a.check_loss_falls && lead
                        ? examples::check_loss_falls("tcn_adding", "test MSE", mse_before, mse)
                        : 0;
  if (!lead) {
    distributed::destroy_process_group();
    return std::isfinite(mse) ? check : 1;
  }
  fmt::print("metrics: {}\n", csv->path().string());
  const auto plot = examples::plot_metrics(
      csv->path(), std::filesystem::path(a.out) / "metrics.svg", "TCN, adding problem",
      {{"MSE", {"train_loss", "test_mse"}}});
  fmt::print("{}\n", plot ? "plot: " + plot->string() : std::string("plot: none (no gnuplot)"));
  // The weights with PyTorch's state_dict names (tcn.0.conv1.weight_g, ...) and the
  // hyper-parameters as metadata.
  const std::string model_path = (std::filesystem::path(a.out) / "model.safetensors").string();
  reel::save(model, model_path,
             {{"model", "tcn_adding"}, {"T", std::to_string(a.T)},
              {"levels", std::to_string(a.levels)}, {"nhid", std::to_string(a.nhid)},
              {"k", std::to_string(a.k)}, {"dropout", std::to_string(a.dropout)},
              {"steps", std::to_string(step)}, {"test_mse", std::to_string(mse)}});
  fmt::print("model: {}\n", model_path);
  if (a.distributed) distributed::destroy_process_group();
  return std::isfinite(mse) ? check : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"The TCN of Bai et al. (2018) on the adding problem (twin: "
               "examples/pytorch/tcn_adding.py)"};
  app.add_option("--T", a.T, "sequence length")->check(CLI::Range(2, 1 << 20));
  app.add_option("--n-train", a.n_train, "training sequences")->check(CLI::PositiveNumber);
  app.add_option("--n-test", a.n_test, "test sequences")->check(CLI::PositiveNumber);
  app.add_option("--batch", a.batch, "batch size")->check(CLI::PositiveNumber);
  app.add_option("--epochs", a.epochs, "passes over the training set")->check(CLI::PositiveNumber);
  app.add_option("--lr", a.lr, "Adam learning rate")->check(CLI::PositiveNumber);
  app.add_option("--levels", a.levels, "residual blocks (dilation 2^i)")->check(CLI::Range(1, 30));
  app.add_option("--nhid", a.nhid, "channels per level")->check(CLI::PositiveNumber);
  app.add_option("--k", a.k, "kernel size")->check(CLI::Range(1, 1 << 20));
  app.add_option("--dropout", a.dropout, "dropout probability")->check(CLI::Range(0.0, 1.0));
  app.add_option("--clip", a.clip, "gradient norm clip; <= 0: none");
  app.add_option("--seed", a.seed, "seed of the data and the initialisation");
  app.add_option("--threads", a.threads, "CPU threads (0: reel's default, the core count)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--workers", a.workers, "DataLoader worker threads (0: batches made inline)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-steps", a.max_steps, "stop after this many steps (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-interval", a.log_interval, "steps between test evaluations")
      ->check(CLI::PositiveNumber);
  app.add_option("--out", a.out, "output folder (metrics.csv)");
  app.add_flag("--distributed", a.distributed,
               "data-parallel over the processes of mpirun (MPI; NCCL with --device cuda); "
               "--batch is per process");
  app.add_option("--device", a.device, "where the model and its batches live: cpu or cuda")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--skip-without-gpu", a.skip_without_gpu,
               "with --device cuda and no GPU: exit with code 77 (a skipped test) instead of 1");
  app.add_flag("--check-loss-falls", a.check_loss_falls,
               "fail (exit 1) unless the test MSE after training is below the one before (smoke "
               "tests)");
  CLI11_PARSE(app, argc, argv);
  const Device device = examples::parse_device(a.device);
  if (!examples::device_available(device, "tcn_adding", a.skip_without_gpu))
    return examples::device_exit_code(a.skip_without_gpu);
  try {
    return run(a, device);
  } catch (const std::exception& e) {
    fmt::print(stderr, "tcn_adding: {}\n", e.what());
    return 1;
  }
}
