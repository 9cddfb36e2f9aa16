// char_lm: a WaveNet-style character language model on the fortunes corpus, trained with reel,
// scored in bits per character on held-out text, then sampled with streaming inference.
//
//   embedding -> [causal dilated Conv1d (C -> 2C, kernel 2, dilation 2^i), tanh(a) * sigmoid(b),
//   1x1 Conv1d, residual add] x layers -> ReLU, 1x1 Conv1d, ReLU, 1x1 Conv1d -> logits
//
// With kernel 2 and dilations 1, 2, ..., 2^(layers-1) the receptive field is 2^layers
// characters (256 for the default 8 layers). Training draws random windows of `window` + 1
// characters (inputs and next-character targets), Adam with a cosine-annealed learning rate.
// The held-out score runs the first --eval-chars held-out characters in windows, each with
// the receptive field's worth of preceding context, as examples/pytorch/char_lm.py (the same
// model in PyTorch) does, so the two figures compare.
//
// Sampling: each Conv1d keeps a ring buffer of its last inputs (Conv1d::stream_step), so one
// new character costs one column of every convolution. The example also generates the same
// number of characters the naive way, re-running the whole stack on the last receptive field
// of text for every character, and prints the speed-up.
//
//   build/examples/char_lm                         (defaults: 1000 steps, ~3.5 minutes on one free core; see --help)
//   build/examples/char_lm --steps 50 --channels 32 --sample-chars 300
//   build/examples/char_lm --device cuda          (on the GPU)
//
// --device cuda: the model moves to the GPU once, before its optimizer is made; the training
// windows are cut on the CPU (the same windows on either device) and moved, and so are the
// held-out text and each sampled character. The next character is drawn on the CPU, from the
// CPU generator, so the sampled text does not depend on the device's random numbers.
//
// The corpus is Debian's fortunes package (scripts/setup installs it; REEL_FORTUNES_DIR
// points elsewhere). Writes <out>/metrics.csv (and <out>/char_lm.svg with gnuplot) and
// <out>/sample.txt and the weights, <out>/model.safetensors.
#include <reel/reel.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "common.hpp"

namespace {

using namespace reel;
namespace F = reel::nn::functional;
using nn::Conv1d;
using nn::Conv1dOptions;

// One residual block: a gated, dilated causal convolution and a 1x1 mix.
struct GatedBlockImpl : nn::Module {
  Conv1d conv{nullptr}, proj{nullptr};
  std::int64_t channels;

  GatedBlockImpl(std::int64_t c, std::int64_t dilation) : channels(c) {
    conv = register_module(
        "conv", Conv1d(Conv1dOptions(c, 2 * c, 2).padding(kCausal).dilation(dilation)));
    proj = register_module("proj", Conv1d(Conv1dOptions(c, c, 1)));
  }
  // WaveNet's gate: the first half of the channels through tanh, times the sigmoid of the
  // second half.
  Tensor gate(const Tensor& h) const {
    return mul(tanh(h.narrow(1, 0, channels)), sigmoid(h.narrow(1, channels, channels)));
  }
  Tensor forward(const Tensor& x) { return add(x, proj(gate(conv(x)))); }  // [N, C, L]
  Tensor step(const Tensor& x_t) {                                          // [N, C, 1]
    return add(x_t, proj->stream_step(gate(conv->stream_step(x_t))));
  }
};
struct GatedBlock : nn::ModuleHolder<GatedBlockImpl> {
  using nn::ModuleHolder<GatedBlockImpl>::ModuleHolder;
};

// The parameter names are the PyTorch twin's (embed.weight, blocks.0.conv.weight, head.1.bias,
// ...), so a state dict moves between the two.
struct CharWaveNetImpl : nn::Module {
  nn::Embedding embed{nullptr};
  nn::ModuleList blocks{nullptr};
  nn::Sequential head{nullptr};
  Conv1d head1{nullptr}, head2{nullptr};  // head's two convolutions, for streaming
  std::vector<GatedBlock> block_list;

  CharWaveNetImpl(std::int64_t vocab, std::int64_t c, int layers) {
    embed = register_module("embed", nn::Embedding(nn::EmbeddingOptions(vocab, c)));
    blocks = register_module("blocks", nn::ModuleList());
    for (int i = 0; i < layers; ++i) {
      block_list.emplace_back(c, std::int64_t{1} << i);
      blocks->push_back(block_list.back());
    }
    head1 = Conv1d(Conv1dOptions(c, c, 1));
    head2 = Conv1d(Conv1dOptions(c, vocab, 1));
    head = register_module("head", nn::Sequential(nn::ReLU(), head1, nn::ReLU(), head2));
  }
  // ids [N, L] (int64) -> logits [N, vocab, L]
  Tensor forward(const Tensor& ids) {
    Tensor x = embed(ids).transpose(1, 2);
    for (GatedBlock& b : block_list) x = b(x);
    return head(x);
  }
  // ids [N, 1] -> logits [N, vocab, 1]: one step of every stream (nn::reset_streams first).
  Tensor step(const Tensor& ids) {
    Tensor x = embed(ids).transpose(1, 2);
    for (GatedBlock& b : block_list) x = b->step(x);
    return head2->stream_step(relu(head1->stream_step(relu(x))));
  }
};
struct CharWaveNet : nn::ModuleHolder<CharWaveNetImpl> {
  using nn::ModuleHolder<CharWaveNetImpl>::ModuleHolder;
};

// Sum of the per-character cross entropies (nats) of the held-out text `ids` [n], scored in
// chunks of `window` characters, each chunk run with up to rf - 1 characters before it as
// context (what the receptive field can see), as examples/pytorch/char_lm.py does.
std::pair<double, std::int64_t> heldout_nll(CharWaveNet& model, const Tensor& ids,
                                            std::int64_t window, std::int64_t rf) {
  NoGradGuard no_grad;
  const std::int64_t n = ids.size(0);
  double nll = 0;
  std::int64_t count = 0;
  for (std::int64_t s = 0; s + 1 < n; s += window) {
    const std::int64_t lo = std::max<std::int64_t>(0, s - (rf - 1));
    const std::int64_t e = std::min(s + window, n - 1);
    Tensor logits = model(ids.narrow(0, lo, e - lo).unsqueeze(0));  // [1, V, e - lo]
    Tensor target = ids.narrow(0, lo + 1, e - lo).unsqueeze(0);      // [1, e - lo]
    Tensor ce = F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().reduction(nn::kNone));
    nll += ce.narrow(1, s - lo, e - s).sum().item<double>();
    count += e - s;
  }
  return {nll, count};
}

// A draw from softmax(logits / temperature) with torch.multinomial's semantics, from the
// sampling generator. logits [1, V, L]: the last column is used, copied to the CPU (a no-op
// there): the draw is the CPU generator's on every device, and the id must come back to the
// host anyway to be the next input.
std::int64_t sample_next(const Tensor& logits, double temperature, Generator& gen) {
  Tensor last = logits.select(2, logits.size(2) - 1).select(0, 0).cpu();  // [V]
  return multinomial(softmax(div(last, temperature), 0), 1, false, gen).item<std::int64_t>();
}

// ids [1, n] (int64) on `device`.
Tensor ids_tensor(const std::vector<std::int64_t>& ids, const Device& device) {
  return tensor(ids, {1, static_cast<std::int64_t>(ids.size())}, TensorOptions(kInt64)).to(device);
}

std::string printable(std::string s) {  // a one-line preview
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"char_lm: a WaveNet-style character language model with streaming sampling"};
  std::int64_t steps = 1000, channels = 64, window = 256, batch = 32, eval_chars = 50000;
  std::int64_t sample_chars = 400, max_steps = -1, log_every = 50;
  int layers = 8, threads = 2;
  double lr = 3e-3, temperature = 0.8;
  std::uint64_t seed = 0;
  std::string prompt, out = "runs/char_lm";
  std::string device_name = "cpu";
  bool skip_without_gpu = false, check_loss_falls = false;
  app.add_option("--steps", steps, "training steps (the cosine schedule's length)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--channels", channels, "residual channels C")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--layers", layers, "gated blocks; receptive field 2^layers")->capture_default_str()->check(CLI::Range(1, 16));
  app.add_option("--window", window, "training window (characters)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "windows per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate (cosine-annealed to 0)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of initialization, batches and sampling")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--eval-chars", eval_chars, "held-out characters scored")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--sample-chars", sample_chars, "characters sampled (and generated both ways for the timing)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--temperature", temperature, "sampling temperature")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--prompt", prompt, "text to continue (default: the first receptive field of held-out text)");
  app.add_option("--max-steps", max_steps, "stop training after this many steps (smoke runs; the schedule still spans --steps)");
  app.add_option("--log-every", log_every, "steps between log lines")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--out", out, "output folder (metrics.csv, char_lm.svg, sample.txt, model.safetensors)")->capture_default_str();
  app.add_option("--device", device_name, "where the model and its batches live: cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_flag("--skip-without-gpu", skip_without_gpu, "with --device cuda and no GPU: exit with code 77 (a skipped test) instead of 1");
  app.add_flag("--check-loss-falls", check_loss_falls, "fail (exit 1) unless the held-out loss after training is below the one before (smoke tests)");
  CLI11_PARSE(app, argc, argv);
  const Device device = examples::parse_device(device_name);
  if (!examples::device_available(device, "char_lm", skip_without_gpu))
    return examples::device_exit_code(skip_without_gpu);

  try {
    set_num_threads(threads);
    const data::CharCorpus corpus = data::CharCorpus::from_files(data::fortunes_default_files(), 0.1);
    const Tensor train = corpus.train(), heldout = corpus.heldout();
    const std::int64_t vocab = corpus.vocab_size(), n_train = train.size(0);
    const std::int64_t rf = std::int64_t{1} << layers;
    check(n_train > window + 1, "char_lm: --window {} needs more than {} training characters",
          window, n_train);
    check(heldout.size(0) >= 2, "char_lm: the held-out text has under 2 characters");
    // The twin prints the same line: equal sizes and first ids mean the same corpus and split.
    fmt::print("corpus: {} train + {} held-out characters, vocabulary {}; held-out starts {}\n",
               n_train, heldout.size(0), vocab,
               fmt::join(heldout.narrow(0, 0, std::min<std::int64_t>(8, heldout.size(0))).to_vector<std::int64_t>(), " "));

    manual_seed(seed);
    CharWaveNet model(vocab, channels, layers);
    model->to(device);  // in place, before the optimizer is made
    std::int64_t n_params = 0;
    for (const Tensor& p : model->parameters()) n_params += p.numel();
    fmt::print("model: {} gated blocks, {} channels, receptive field {}, {} parameters on {}; "
               "{} threads\n", layers, channels, rf, n_params, device, get_num_threads());

    optim::Adam optimizer(model->parameters(), optim::AdamOptions(lr));
    // The held-out text scored after training (and, for --check-loss-falls, before it too),
    // moved to the device once.
    const Tensor eval_text = heldout.narrow(0, 0, std::min(eval_chars + 1, heldout.size(0))).to(device);
    double bpc_before = 0;
    if (check_loss_falls) {
      const auto [nll0, count0] = heldout_nll(model, eval_text, window, rf);
      bpc_before = nll0 / static_cast<double>(count0) / std::numbers::ln2;
    }
    optim::CosineAnnealingLR scheduler(optimizer, steps);
    std::filesystem::create_directories(out);
    examples::MetricsCsv csv(std::filesystem::path(out) / "metrics.csv",
                             {"step", "train_bpc", "lr", "samples_per_s"});

    // Training: random windows of window + 1 characters; inputs are the first `window`, targets
    // the next character of each.
    const Tensor offsets = arange(window + 1, TensorOptions(kInt64)).unsqueeze(0);  // [1, W + 1]
    const std::int64_t last_step = max_steps >= 0 ? std::min(steps, max_steps) : steps;
    const double ln2 = std::numbers::ln2;
    const auto t_train = examples::Clock::now();
    auto t_log = t_train;
    std::int64_t logged_step = 0;
    double loss_sum = 0;
    // The batches are cut on the training thread (a gather of B windows, no loader): their
    // making counts as waiting for data.
    examples::StepTimer timer;
    timer.start();
    for (std::int64_t step = 1; step <= last_step; ++step) {
      Tensor starts = randint(0, n_train - window - 1, {batch}).unsqueeze(1);  // [B, 1]
      Tensor chunk = index_select(train, 0, add(starts, offsets).reshape({-1})).reshape({batch, window + 1});
      chunk = chunk.to(device);  // cut on the CPU, so both devices train on the same windows
      timer.begin_step();
      Tensor logits = model(chunk.narrow(1, 0, window));  // [B, V, W]
      Tensor loss = F::cross_entropy(logits, chunk.narrow(1, 1, window));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      scheduler.step();
      loss_sum += loss.item<double>();
      timer.end_step();
      if (step % log_every == 0 || step == last_step) {
        const double dt = examples::seconds_since(t_log);
        const double rate = static_cast<double>((step - logged_step) * batch) / dt;
        const double bpc = loss_sum / static_cast<double>(step - logged_step) / ln2;
        fmt::print("step {:5d}/{}  train {:.3f} bpc  lr {:.2e}  {:.1f} samples/s ({:.0f} chars/s)\n",
                   step, steps, bpc, scheduler.get_last_lr().front(), rate,
                   rate * static_cast<double>(window));
        std::fflush(stdout);
        csv.row({static_cast<double>(step), bpc, scheduler.get_last_lr().front(), rate});
        loss_sum = 0;
        logged_step = step;
        t_log = examples::Clock::now();
        timer.start();  // the log line counts as neither wait nor compute
      }
    }
    const double train_wall = examples::seconds_since(t_train);
    fmt::print("trained {} steps in {:.1f} s: {:.1f} samples/s\n", last_step, train_wall,
               static_cast<double>(last_step * batch) / train_wall);
    fmt::print("{}\n", timer.report());
    std::fflush(stdout);  // the held-out pass and the timing take a while
    if (auto svg = examples::plot_metrics(csv.path(), std::filesystem::path(out) / "char_lm.svg",
                                          "char_lm", {{"train bits per character", {"train_bpc"}}}))
      fmt::print("plot: {}\n", svg->string());

    model->eval();
    const auto t_eval = examples::Clock::now();
    const auto [nll, count] = heldout_nll(model, eval_text, window, rf);
    const double bpc_after = nll / static_cast<double>(count) / ln2;
    fmt::print("held-out: {:.4f} bpc over {} characters ({:.1f} s)\n", bpc_after, count,
               examples::seconds_since(t_eval));
    // The weights, with the names the PyTorch twin's state_dict uses (embed.weight, blocks.0...).
    const std::string model_path = (std::filesystem::path(out) / "model.safetensors").string();
    reel::save(model, model_path, {{"model", "char_lm"}, {"vocabulary_size", std::to_string(corpus.vocab_size())}});
    fmt::print("model: {}\n", model_path);
    std::fflush(stdout);

    // Sampling. The context is the prompt, or the first receptive field of held-out text.
    NoGradGuard no_grad;
    std::vector<std::int64_t> context =
        prompt.empty()
            ? heldout.narrow(0, 0, std::min(rf, heldout.size(0))).to_vector<std::int64_t>()
            : corpus.encode(prompt);
    check(!context.empty(), "char_lm: --prompt is empty");

    // Streaming: the context through the streams once, then one step per new character.
    nn::reset_streams(*model);
    // A generator of its own for the sampling, reset to the same state for both ways below so
    // they draw the same random numbers.
    Generator sampler(seed + 1);
    const auto t_prime = examples::Clock::now();
    Tensor logits;
    for (std::int64_t id : context) logits = model->step(ids_tensor({id}, device));
    const double prime_s = examples::seconds_since(t_prime);
    std::vector<std::int64_t> streamed;
    const auto t_stream = examples::Clock::now();
    for (std::int64_t c = 0; c < sample_chars; ++c) {
      const std::int64_t next = sample_next(logits, temperature, sampler);
      streamed.push_back(next);
      logits = model->step(ids_tensor({next}, device));  // (the last one too: equal work both ways)
    }
    const double stream_s = examples::seconds_since(t_stream);

    // Re-running the window: the whole stack on the last receptive field of text per character.
    sampler.manual_seed(seed + 1);
    std::vector<std::int64_t> text = context, rerun;
    const auto t_window = examples::Clock::now();
    for (std::int64_t c = 0; c < sample_chars; ++c) {
      const auto keep = static_cast<std::ptrdiff_t>(std::min<std::size_t>(text.size(), static_cast<std::size_t>(rf)));
      const std::vector<std::int64_t> last(text.end() - keep, text.end());
      const std::int64_t next = sample_next(model(ids_tensor(last, device)), temperature, sampler);
      rerun.push_back(next);
      text.push_back(next);
    }
    const double window_s = examples::seconds_since(t_window);

    const std::string sample = corpus.decode(tensor(streamed, {static_cast<std::int64_t>(streamed.size())}, TensorOptions(kInt64)));
    const std::string shown_context = corpus.decode(ids_tensor(context, Device(kCPU)));
    fmt::print("sample (temperature {}, after the context ending \"{}\"):\n{}\n", temperature,
               printable(shown_context.substr(shown_context.size() - std::min<std::size_t>(60, shown_context.size()))),
               sample);
    std::ofstream(std::filesystem::path(out) / "sample.txt") << sample;
    const double per_char_stream = 1e6 * stream_s / static_cast<double>(sample_chars);
    const double per_char_window = 1e6 * window_s / static_cast<double>(sample_chars);
    fmt::print("sampling {} characters: streaming {:.1f} µs/char (priming {} context characters "
               "{:.3f} s), re-running the {}-character window {:.1f} µs/char: speed-up {:.1f}x; "
               "same text both ways: {}\n",
               sample_chars, per_char_stream, context.size(), prime_s, rf, per_char_window,
               window_s / stream_s, streamed == rerun ? "yes" : "no");
    if (check_loss_falls)
      return examples::check_loss_falls("char_lm", "held-out bpc", bpc_before, bpc_after);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "char_lm: {}\n", e.what());
    return 1;
  }
}
