// fashion_mnist: a Conv1d network trained on Fashion-MNIST, each 28x28 image read as a sequence
// of 28 rows (L = 28) of 28 features (C_in = 28). The default run is ./scripts/demo.
//
//   Conv1d(28, 64, 3, padding=1) + BatchNorm1d + ReLU     L = 28
//   MaxPool1d(2)                                          L = 14
//   Conv1d(64, 128, 3, padding=1) + BatchNorm1d + ReLU
//   MaxPool1d(2)                                          L = 7
//   Conv1d(128, 128, 3, padding=1) + BatchNorm1d + ReLU
//   AdaptiveAvgPool1d(1), Flatten, Dropout(0.2), Linear(128, 10)
//
// trained with Adam + OneCycleLR (stepped per batch) and cross-entropy: 5 epochs of batches of
// 128 reach ~90% test accuracy. examples/pytorch/fashion_mnist.py is the same program in
// PyTorch (same network, init, data order rules, hyper-parameters), for comparison.
//
//   build/examples/fashion_mnist [--epochs 5] [--batch-size 128] [--lr 5e-3] [--seed 0]
//                                [--threads 2] [--workers 1] [--out runs/fashion_mnist] ...
//
// Writes into --out: metrics.csv (one row per epoch), metrics.svg (loss/accuracy plot, by
// gnuplot; metrics.gp is its script), model.safetensors (the trained weights, PyTorch's
// state-dict names: load them into the twin with safetensors or reel::load) and, after every
// epoch, checkpoint.safetensors: the whole training state (weights, Adam's moments, the
// schedule, the random generator, the data loader's place). --resume <checkpoint> continues an
// interrupted run from it; with the same options the result is bitwise the uninterrupted run's.
//
//   build/examples/fashion_mnist --device cuda    # on the GPU
//   mpirun -np 2 build/examples/fashion_mnist --distributed --threads 1     # data-parallel (MPI)
//
// --device cuda: the model moves to the GPU once, before its optimizer is made
// (model->to(device)), and each batch as it comes out of the loader, which builds batches on the
// CPU; the loop is the CPU's. A checkpoint holds CPU copies, so a run may resume on either device.
//
// --distributed: each process trains on its shard of every epoch (DistributedSampler, shuffled
// with the shared --seed), --batch-size images per process, and DistributedDataParallel averages
// the gradients. BatchNorm normalises with each process's own batch statistics (its running
// statistics are rank 0's, broadcast before each forward) and each process draws its own dropout
// masks, so the run is not the 1-process run with a W times larger batch (tcn_adding's is).
// Evaluation is sharded too and summed over the processes. Rank 0 alone prints and writes the
// files; --resume works as above (every process loads rank 0's checkpoint; the dropout streams
// are reseeded from (seed, rank, epoch) at each epoch, so a resumed run is still bitwise the
// uninterrupted one). With --device cuda the collectives go through NCCL instead of MPI.
#include <reel/reel.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "common.hpp"

namespace F = reel::nn::functional;
using namespace reel;

namespace {

// Mean and standard deviation of the training pixels in [0, 1] (the PyTorch twin uses the same).
constexpr float kMean = 0.2860f, kStd = 0.3530f;

// [N, rows, cols] pixels in [0, 1] -> normalised [N, C = cols, L = rows]: each image is a
// sequence over its rows. Done once for the whole set, so batches need no copy of their own.
Tensor to_sequences(const Tensor& images) {
  return ((images - kMean) / kStd).transpose(1, 2).contiguous();
}

nn::Sequential make_model(double dropout) {
  nn::Sequential net;
  std::int64_t c_in = 28;
  int block = 0;
  for (std::int64_t c_out : {64, 128, 128}) {
    net->push_back(nn::Conv1d(nn::Conv1dOptions(c_in, c_out, 3).padding(1)));
    net->push_back(nn::BatchNorm1d(nn::BatchNorm1dOptions(c_out)));
    net->push_back(nn::ReLU());
    if (++block < 3) net->push_back(nn::MaxPool1d(nn::MaxPool1dOptions(2)));
    c_in = c_out;
  }
  net->push_back(nn::AdaptiveAvgPool1d(nn::AdaptiveAvgPool1dOptions(1)));
  net->push_back(nn::Flatten());
  net->push_back(nn::Dropout(nn::DropoutOptions(dropout)));
  net->push_back(nn::Linear(c_in, 10));
  return net;
}

struct Evaluation {
  double loss, accuracy;
};

// Sums a loss total and two counts over the processes of a distributed run (in place). The
// tensor is on the training device: NCCL (--device cuda) reduces CUDA tensors, MPI CPU ones.
void sum_over_processes(double& loss_sum, std::int64_t& correct, std::int64_t& seen,
                        const Device& device) {
  Tensor sums =
      tensor({loss_sum, static_cast<double>(correct), static_cast<double>(seen)}).to(device);
  reel::distributed::all_reduce(sums);
  std::vector<double> v = sums.to_vector<double>();
  loss_sum = v[0];
  correct = static_cast<std::int64_t>(v[1]);
  seen = static_cast<std::int64_t>(v[2]);
}

// Loss and accuracy over the loader's batches (the first max_batches of them when > 0), each
// moved to `device`; with `distributed`, summed over the processes (each evaluates its shard).
Evaluation evaluate(nn::Sequential& model, data::DataLoader& loader, std::int64_t max_batches,
                    bool distributed, const Device& device) {
  NoGradGuard no_grad;
  model->eval();
  double loss_sum = 0;
  std::int64_t correct = 0, seen = 0, batches = 0;
  for (data::Example& batch : loader) {
    if (max_batches > 0 && batches++ == max_batches) break;
    const Tensor x = batch[0].to(device), y = batch[1].to(device);
    Tensor out = model(x);
    loss_sum += F::cross_entropy(out, y, F::CrossEntropyFuncOptions().reduction(nn::kSum)).item<double>();
    correct += eq(out.argmax(1), y).sum().item<std::int64_t>();
    seen += y.size(0);
  }
  model->train();
  if (distributed) sum_over_processes(loss_sum, correct, seen, device);
  return {loss_sum / static_cast<double>(seen), static_cast<double>(correct) / static_cast<double>(seen)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trains a Conv1d network on Fashion-MNIST (each image a sequence of 28 rows)."};
  int epochs = 5, threads = 2, workers = 1;
  std::int64_t batch_size = 128, max_steps = 0, eval_batches = 0;
  double lr = 5e-3, dropout = 0.2;
  std::uint64_t seed = 0;
  std::string out_dir = "runs/fashion_mnist";
  std::string data_dir = data::fashion_mnist_default_dir();
  std::string resume;
  std::int64_t limit = 0;
  bool no_plot = false;
  bool distributed = false;
  std::string device_name = "cpu";
  bool skip_without_gpu = false, check_loss_falls = false;
  app.add_option("--epochs", epochs, "training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", batch_size, "samples per batch")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "OneCycleLR's max_lr (Adam)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--dropout", dropout, "dropout before the classifier")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", seed, "seed of the init, the dropout masks and the data order")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads for the ops")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--workers", workers, "data loader threads (0: batches made by the training thread)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--out", out_dir, "output folder: metrics.csv, metrics.svg, model.safetensors")->capture_default_str();
  app.add_option("--data-dir", data_dir, "folder of the gzip IDX files")->capture_default_str();
  app.add_option("--max-steps", max_steps, "stop after this many training steps (0: no limit; smoke tests)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--eval-batches", eval_batches, "evaluate on this many test batches of 1000 (0: the whole test set)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--no-plot", no_plot, "skip the gnuplot plot (the CSV is written anyway)");
  app.add_option("--resume", resume, "continue from a checkpoint.safetensors of an earlier run (same options)");
  app.add_option("--limit", limit, "train on the first N training images only (0: all; tests)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_flag("--distributed", distributed,
               "data-parallel over the processes of mpirun (MPI; NCCL with --device cuda); "
               "--batch-size is per process");
  app.add_option("--device", device_name, "where the model and its batches live: cpu or cuda")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--skip-without-gpu", skip_without_gpu,
               "with --device cuda and no GPU: exit with code 77 (a skipped test) instead of 1");
  app.add_flag("--check-loss-falls", check_loss_falls,
               "fail (exit 1) unless the test loss after training is below the one before (smoke "
               "tests)");
  CLI11_PARSE(app, argc, argv);
  const Device device = examples::parse_device(device_name);
  if (!examples::device_available(device, "fashion_mnist", skip_without_gpu))
    return examples::device_exit_code(skip_without_gpu);

  try {
    set_num_threads(threads);
    manual_seed(seed);
    int rank = 0, world = 1;
    if (distributed) {
      // MPI for CPU tensors, NCCL for CUDA ones (before the first CUDA tensor: it picks the GPU).
      reel::distributed::init_process_group(device.is_cuda() ? reel::distributed::Backend::kNCCL
                                                             : reel::distributed::Backend::kMPI);
      rank = reel::distributed::get_rank();
      world = reel::distributed::get_world_size();
    }
    const bool lead = rank == 0;  // the one process that prints and writes files
    std::filesystem::create_directories(out_dir);
    const std::filesystem::path out(out_dir);

    data::ImageSet train_set = data::load_fashion_mnist(data_dir, /*train=*/true);
    data::ImageSet test_set = data::load_fashion_mnist(data_dir, /*train=*/false);
    if (limit > 0 && limit < train_set.labels.size(0)) {
      train_set.images = train_set.images.narrow(0, 0, limit);
      train_set.labels = train_set.labels.narrow(0, 0, limit);
    }
    // drop_last: every step sees a full batch (as the PyTorch twin; BatchNorm dislikes tiny ones).
    data::DataLoaderOptions train_options =
        data::DataLoaderOptions().batch_size(batch_size).drop_last(true).seed(seed).num_workers(workers);
    data::DataLoaderOptions test_options = data::DataLoaderOptions().batch_size(1000).num_workers(workers);
    if (distributed) {
      // Each rank its shard: of a permutation shared through the seed (train), in order (test).
      train_options.sampler(std::make_shared<data::DistributedSampler>(
          train_set.labels.size(0), data::DistributedSamplerOptions().seed(seed)));
      test_options.sampler(std::make_shared<data::DistributedSampler>(
          test_set.labels.size(0), data::DistributedSamplerOptions().shuffle(false)));
    } else {
      train_options.shuffle(true);
    }
    data::DataLoader train_loader(
        std::make_shared<data::TensorDataset>(
            std::vector<Tensor>{to_sequences(train_set.images), train_set.labels}),
        train_options);
    data::DataLoader test_loader(
        std::make_shared<data::TensorDataset>(
            std::vector<Tensor>{to_sequences(test_set.images), test_set.labels}),
        test_options);

    nn::Sequential model = make_model(dropout);
    model->to(device);  // in place: parameters and BatchNorm's running statistics
    std::int64_t n_params = 0;
    for (const Tensor& p : model->parameters()) n_params += p.numel();
    if (lead) {
      fmt::print("{} training, {} test images; {} parameters on {}; {} threads, {} loader workers{}\n{}\n",
                 train_set.labels.size(0), test_set.labels.size(0), n_params, device, threads, workers,
                 distributed ? fmt::format("; {} processes ({}), batch {} per process", world,
                                           reel::distributed::backend_name(reel::distributed::get_backend()),
                                           batch_size)
                             : std::string(),
                 model->pretty());
    }
    // Data-parallel: rank 0's weights and buffers everywhere, averaged gradients.
    std::optional<nn::parallel::DistributedDataParallel<nn::Sequential>> ddp;
    if (distributed) ddp.emplace(model);

    const std::int64_t steps_per_epoch = train_loader.size();
    optim::Adam optimizer(model->parameters(), optim::AdamOptions(lr));  // after the move
    optim::OneCycleLR scheduler(
        optimizer, optim::OneCycleLROptions::from_epochs(lr, epochs, steps_per_epoch));

    // Everything a resumed run needs, in one file (serialize/checkpoint.hpp): the model, Adam's
    // state, the schedule, the default generator (dropout) and the loader's place and shuffle
    // generator, plus the step and our own counters.
    serialize::TrainingState state;
    state.model = model.get();
    state.optimizer = &optimizer;
    state.scheduler = &scheduler;
    state.loader = &train_loader;
    int first_epoch = 1;
    std::int64_t step = 0, samples = 0;
    double train_seconds = 0;
    if (!resume.empty()) {
      serialize::load_checkpoint(resume, state);
      step = state.step;
      first_epoch = static_cast<int>(state.scalars.at("epoch")) + 1;
      samples = static_cast<std::int64_t>(state.scalars.at("samples"));
      train_seconds = state.scalars.at("train_seconds");
      if (lead) fmt::print("resumed from {}: {} epochs, {} steps done\n", resume, first_epoch - 1, step);
    }
    const std::filesystem::path checkpoint_path = out / "checkpoint.safetensors";
    // --check-loss-falls: the test loss before this run's training, to compare with the last.
    const double loss_before =
        check_loss_falls ? evaluate(model, test_loader, eval_batches, distributed, device).loss : 0.0;

    std::optional<examples::MetricsCsv> csv;
    if (lead) {
      csv.emplace(out / "metrics.csv",
                  std::vector<std::string>{"epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                                           "lr", "samples_per_s", "epoch_s", "data_wait_pct"},
                  /*append=*/!resume.empty());
    }
    examples::StepTimer total_timer;
    Evaluation test{0, 0};
    for (int epoch = first_epoch; epoch <= epochs; ++epoch) {
      // Distributed: each process's dropout stream from (seed, rank, epoch), so the ranks' masks
      // differ and a run resumed at an epoch boundary draws what the uninterrupted one drew.
      if (distributed) {
        manual_seed(seed + 1000003u * static_cast<std::uint64_t>(rank) +
                    7919u * static_cast<std::uint64_t>(epoch));
      }
      examples::ProgressBar bar(epoch, epochs, steps_per_epoch, lead ? std::nullopt : std::optional<bool>(false));
      examples::StepTimer timer;
      double loss_sum = 0;
      std::int64_t correct = 0, seen = 0;
      timer.start();
      for (data::Example& batch : train_loader) {
        // The loader builds batches on the CPU; their copy to the device counts as waiting for
        // data (on the CPU, to(device) is the tensor itself).
        const Tensor x = batch[0].to(device), y = batch[1].to(device);
        timer.begin_step();
        Tensor logits = ddp ? (*ddp)(x) : model(x);
        Tensor loss = F::cross_entropy(logits, y);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        scheduler.step();
        {
          NoGradGuard no_grad;
          const std::int64_t n = y.size(0);
          loss_sum += loss.item<double>() * static_cast<double>(n);
          correct += eq(logits.argmax(1), y).sum().item<std::int64_t>();
          seen += n;
        }
        ++step;
        timer.end_step();
        bar.update(timer.steps(), loss_sum / static_cast<double>(seen),
                   static_cast<double>(correct) / static_cast<double>(seen), seen);
        if (max_steps > 0 && step >= max_steps) break;
      }
      bar.stop();  // the epoch's time and samples/s are training only, not the evaluation
      const double epoch_seconds = bar.elapsed();
      train_seconds += epoch_seconds;
      test = evaluate(model, test_loader, eval_batches, distributed, device);
      if (distributed) {
        // The epoch's training figures over all processes.
        sum_over_processes(loss_sum, correct, seen, device);
        bar.update(timer.steps(), loss_sum / static_cast<double>(seen),
                   static_cast<double>(correct) / static_cast<double>(seen), seen);
      }
      samples += seen;
      if (lead) {
        bar.finish(fmt::format("test loss {:.4f}  test acc {:.2f}%", test.loss, 100 * test.accuracy));
        csv->row({static_cast<double>(epoch), loss_sum / static_cast<double>(seen),
                  static_cast<double>(correct) / static_cast<double>(seen), test.loss, test.accuracy,
                  scheduler.get_last_lr().front(), static_cast<double>(seen) / epoch_seconds,
                  epoch_seconds, timer.wait_percent()});
      }
      total_timer.add(timer);
      state.step = step;
      state.scalars = {{"epoch", epoch}, {"samples", static_cast<double>(samples)},
                       {"train_seconds", train_seconds}};
      // Atomic: a kill leaves the last one. Rank 0's state is every rank's (the same weights,
      // gradients and optimizer state), so rank 0 alone writes it.
      if (lead) serialize::save_checkpoint(checkpoint_path.string(), state);
      if (max_steps > 0 && step >= max_steps) break;
    }

    if (!lead) {
      reel::distributed::destroy_process_group();
      return 0;
    }
    fmt::print("test accuracy {:.2f}%  training {:.1f} s  {:.0f} samples/s\n",
               100 * test.accuracy, train_seconds, static_cast<double>(samples) / train_seconds);
    fmt::print("{}\n", total_timer.report());

    const std::filesystem::path model_path = out / "model.safetensors";
    // The weights with PyTorch's state-dict names (load them with reel::load or, in Python,
    // model.load_state_dict(safetensors.torch.load_file(path))); the metadata says what made them.
    save(*model, model_path.string(),
         {{"example", "fashion_mnist"}, {"epochs", std::to_string(epochs)},
          {"seed", std::to_string(seed)}, {"steps", std::to_string(step)},
          {"test_accuracy", fmt::format("{:.4f}", test.accuracy)}});
    fmt::print("metrics:    {}\n", csv->path().string());
    if (no_plot) {
      fmt::print("plot:       skipped (--no-plot)\n");
    } else if (auto image = examples::plot_metrics(
                   csv->path(), out / "metrics.svg", "Fashion-MNIST, Conv1d over rows (reel)",
                   {{"loss", {"train_loss", "test_loss"}}, {"accuracy", {"train_acc", "test_acc"}}})) {
      fmt::print("plot:       {}\n", image->string());
    } else {
      fmt::print("plot:       not made ({}); the CSV has the numbers\n",
                 examples::gnuplot_available() ? "gnuplot failed" : "gnuplot is not installed");
    }
    fmt::print("weights:    {}\n", model_path.string());
    fmt::print("checkpoint: {} (--resume it to continue)\n", checkpoint_path.string());
    if (distributed) reel::distributed::destroy_process_group();
    if (check_loss_falls)
      return examples::check_loss_falls("fashion_mnist", "test loss", loss_before, test.loss);
  } catch (const std::exception& e) {
    fmt::print(stderr, "fashion_mnist: {}\n", e.what());
    return 1;
  }
  return 0;
}
