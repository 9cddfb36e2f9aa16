// bench/conv1d_streaming: sampling from a char-LM-shaped causal stack, two ways. The model is
// the char_lm example's: embedding -> [causal dilated conv (C -> 2C, k = 2), tanh(a) *
// sigmoid(b), 1x1 conv, residual add] x 8 with dilations 1, 2, ..., 128 (receptive field 256)
// -> 1x1 conv, ReLU, 1x1 conv -> logits; each next character is the argmax of the last
// logits (greedy: both ways then generate the same text, which is checked).
//
//   window:    each character re-runs the whole stack on the last 256 characters and keeps the
//              last column of logits (what sampling costs without streaming state);
//   streaming: each character is one stream_step per convolution (Conv1d's ring buffers).
//
//   bench_conv1d_streaming [--quick] [--threads N] [--chars N] [--rounds R] [--channels C]
// Prints the time per character both ways and the speed-up. No thresholds: this reports.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace reel;
using nn::Conv1d;
using nn::Conv1dOptions;

struct CharStackImpl : nn::Module {
  nn::Embedding embed{nullptr};
  std::vector<Conv1d> dilated, mix;
  Conv1d head1{nullptr}, head2{nullptr};
  std::int64_t channels;

  CharStackImpl(std::int64_t vocab, std::int64_t c, int layers) : channels(c) {
    embed = register_module("embed", nn::Embedding(nn::EmbeddingOptions(vocab, c)));
    for (int i = 0; i < layers; ++i) {
      dilated.push_back(register_module(
          "dilated" + std::to_string(i),
          Conv1d(Conv1dOptions(c, 2 * c, 2).padding(kCausal).dilation(std::int64_t{1} << i))));
      mix.push_back(register_module("mix" + std::to_string(i), Conv1d(Conv1dOptions(c, c, 1))));
    }
    head1 = register_module("head1", Conv1d(Conv1dOptions(c, c, 1)));
    head2 = register_module("head2", Conv1d(Conv1dOptions(c, vocab, 1)));
  }
  Tensor gate(const Tensor& h) const {
    return mul(tanh(h.narrow(1, 0, channels)), sigmoid(h.narrow(1, channels, channels)));
  }
  // ids [1, L] -> logits [1, vocab, L]
  Tensor forward(const Tensor& ids) {
    Tensor x = embed(ids).transpose(1, 2);  // [1, C, L]
    for (std::size_t i = 0; i < dilated.size(); ++i) x = add(x, mix[i](gate(dilated[i](x))));
    return head2(relu(head1(x)));
  }
  // id [1, 1] -> logits [1, vocab, 1]
  Tensor step(const Tensor& id) {
    Tensor x = embed(id).transpose(1, 2);  // [1, C, 1]
    for (std::size_t i = 0; i < dilated.size(); ++i)
      x = add(x, mix[i]->stream_step(gate(dilated[i]->stream_step(x))));
    return head2->stream_step(relu(head1->stream_step(x)));
  }
};

std::int64_t argmax_last(const Tensor& logits) {  // [1, V, L] -> argmax over V at L - 1
  return argmax(logits.select(2, logits.size(2) - 1).select(0, 0)).item<std::int64_t>();
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t chars = 256, channels = 64;
  int rounds = 5;
  const std::int64_t vocab = 96, window = 256;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) chars = 16, rounds = 1;
    if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = std::max(1, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) set_num_threads(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--chars") == 0 && i + 1 < argc) chars = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--channels") == 0 && i + 1 < argc) channels = std::atoll(argv[i + 1]);
  }
  manual_seed(0);
  auto model = std::make_shared<CharStackImpl>(vocab, channels, 8);
  NoGradGuard no_grad;
  const TensorOptions ids_opts(kInt64);

  // A prompt of `window` characters (the window then always holds a full receptive field).
  std::vector<std::int64_t> prompt(static_cast<std::size_t>(window));
  for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<std::int64_t>(i * 7 % vocab);

  // Rounds of both ways, interleaved, each from the same prompt; the median round of each is
  // reported, so a burst of load on a shared machine moves neither figure much.
  std::vector<double> window_times, stream_times;
  std::vector<std::int64_t> window_text, streamed;
  model->forward(tensor(prompt, {1, window}, ids_opts));  // warm-up
  for (int round = 0; round < rounds; ++round) {
    // Window: re-run the stack on the last `window` characters for each new one.
    std::vector<std::int64_t> text = prompt;
    auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t c = 0; c < chars; ++c) {
      std::vector<std::int64_t> last(text.end() - window, text.end());
      text.push_back(argmax_last(model->forward(tensor(last, {1, window}, ids_opts))));
    }
    window_times.push_back(seconds_since(t0));
    window_text.assign(text.begin() + window, text.end());

    // Streaming: feed the prompt through the streams, then one step per character. Only the
    // generation is timed (the prompt costs the same one step per character).
    nn::reset_streams(*model);
    Tensor logits;
    for (std::int64_t id : prompt)
      logits = model->step(tensor(std::vector<std::int64_t>{id}, {1, 1}, ids_opts));
    streamed.clear();
    t0 = std::chrono::steady_clock::now();
    for (std::int64_t c = 0; c < chars; ++c) {
      const std::int64_t next = argmax_last(logits);
      streamed.push_back(next);
      logits = model->step(tensor(std::vector<std::int64_t>{next}, {1, 1}, ids_opts));
    }
    stream_times.push_back(seconds_since(t0));
  }
  const double window_s = median(window_times), stream_s = median(stream_times);

  const bool same = streamed == window_text;
  fmt::print("conv1d streaming: char-LM stack, {} layers (dilations 1..128, receptive field {}), "
             "C = {}, vocab {}, {} threads, {} characters, median of {} rounds\n",
             8, window, channels, vocab, get_num_threads(), chars, rounds);
  fmt::print("| way | µs / character |\n|---|---:|\n");
  fmt::print("| re-run the {}-character window | {:.1f} |\n", window, 1e6 * window_s / static_cast<double>(chars));
  fmt::print("| streaming (stream_step) | {:.1f} |\n", 1e6 * stream_s / static_cast<double>(chars));
  // Greedy decoding amplifies any rounding difference into another character, so "no" is
  // possible where the two ways sum in different orders (docs/training.md, "Streaming inference").
  fmt::print("speed-up: {:.1f}x; same generated text both ways: {}\n", window_s / stream_s,
             same ? "yes" : "no");
  return 0;
}
