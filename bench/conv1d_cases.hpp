#pragma once
// The shapes bench/conv1d measures: the one list. reel's side (conv1d.cpp) and LibTorch's
// (conv1d_torch.cpp) include it; python3-torch's (conv1d_torch.py) reads what
// `bench_conv1d --list-cases` prints from it. Header-only, plain C++17 (the LibTorch side
// compiles as C++17), independent of both libraries.
#include <chrono>
#include <cstdint>

#include "timer.hpp"

namespace reel_bench {

struct Conv1dCase {
  const char* key;    // "key_fwd" / "key_fwdbwd" in the results files
  const char* label;  // the table's first column
  std::int64_t n, cin, cout, length, kernel, stride;
  // Zero padding on each side. Equal: Conv1d's `padding`. Causal: left = dilation * (K - 1),
  // right 0 (reel: padding = kCausal; PyTorch has no causal padding, so its side pads with
  // F.pad first, as its users do).
  std::int64_t pad_left, pad_right, dilation, groups;

  bool symmetric() const { return pad_left == pad_right; }
  bool causal() const { return pad_right == 0 && pad_left > 0 && pad_left == dilation * (kernel - 1); }
  std::int64_t out_length() const {
    return (length + pad_left + pad_right - dilation * (kernel - 1) - 1) / stride + 1;
  }
  // Multiply-adds count 2 flops; the forward pass does N * Cout * Lout * (Cin/groups) * K of
  // them, and each backward product (input, weight) as many again.
  double forward_flops() const {
    return 2.0 * static_cast<double>(n * cout * out_length() * (cin / groups) * kernel);
  }
  bool depthwise() const { return groups > 1 && groups == cin; }
};

// The suite: (N, Cin, Cout, L, K, stride, pad left, pad right, dilation, groups). The first
// seven are the Conv1d performance issue's; the rest (issue 10) are the shapes real models run:
// the Fashion-MNIST example's three convolutions (examples/fashion_mnist.cpp: Conv1d(28→64),
// (64→128), (128→128), k 3, padding 1, at L 28, 14, 7 after each MaxPool1d(2); batch 128), a TCN
// block's convolution at each dilation, a WaveNet layer, batch-1 latency and a long kernel.
inline constexpr Conv1dCase kConv1dCases[] = {
    {"dense64", "dense 64→64, L 1024, k 3", 32, 64, 64, 1024, 3, 1, 1, 1, 1, 1},
    {"dense128k9", "dense 128→128, L 512, k 9", 32, 128, 128, 512, 9, 1, 4, 4, 1, 1},
    {"dense256dil2", "dense 256→256, L 256, k 3, dilation 2", 16, 256, 256, 256, 3, 1, 2, 2, 2, 1},
    {"depthwise", "depthwise 128, L 1024, k 3", 32, 128, 128, 1024, 3, 1, 1, 1, 1, 128},
    {"audio", "raw audio 1→32, L 16000, k 80, stride 4", 8, 1, 32, 16000, 80, 4, 0, 0, 1, 1},
    {"grouped", "grouped 32→64, L 784, k 7, groups 4", 64, 32, 64, 784, 7, 1, 3, 3, 1, 4},
    {"tiny", "tiny 4→4, L 16, k 3", 1, 4, 4, 16, 3, 1, 1, 1, 1, 1},
    {"fmnist1", "Fashion-MNIST conv1 28→64, L 28, k 3", 128, 28, 64, 28, 3, 1, 1, 1, 1, 1},
    {"fmnist2", "Fashion-MNIST conv2 64→128, L 14, k 3", 128, 64, 128, 14, 3, 1, 1, 1, 1, 1},
    {"fmnist3", "Fashion-MNIST conv3 128→128, L 7, k 3", 128, 128, 128, 7, 3, 1, 1, 1, 1, 1},
    {"tcn_d1", "TCN 64→64, L 256, k 7, causal, dilation 1", 32, 64, 64, 256, 7, 1, 6, 0, 1, 1},
    {"tcn_d2", "TCN 64→64, L 256, k 7, causal, dilation 2", 32, 64, 64, 256, 7, 1, 12, 0, 2, 1},
    {"tcn_d4", "TCN 64→64, L 256, k 7, causal, dilation 4", 32, 64, 64, 256, 7, 1, 24, 0, 4, 1},
    {"tcn_d8", "TCN 64→64, L 256, k 7, causal, dilation 8", 32, 64, 64, 256, 7, 1, 48, 0, 8, 1},
    {"wavenet", "WaveNet 64→128, L 4096, k 2, causal, dilation 256", 4, 64, 128, 4096, 2, 1, 256, 0, 256, 1},
    {"batch1", "batch-1 latency 64→64, L 256, k 3", 1, 64, 64, 256, 3, 1, 1, 1, 1, 1},
    {"longk", "long kernel 32→32, L 8192, k 63", 8, 32, 32, 8192, 63, 1, 31, 31, 1, 1},
};

// --quick (a smoke run): batch 1 and sequences of at most 256 (the audio one keeps its kernel).
inline Conv1dCase quick_case(Conv1dCase c) {
  c.n = 1;
  if (c.length > 256) c.length = 256;
  return c;
}

// The timing for convolutions: a call lasts milliseconds, so batches of about 20 ms and the
// median of 11 of them (timer.hpp's defaults suit microsecond ops); --quick keeps timer.hpp's.
inline TimerConfig conv1d_timer_config(int argc, char** argv) {
  TimerConfig c = config_from_args(argc, argv);
  if (c.batches == TimerConfig{}.batches) {
    c.batches = 11;
    c.target_batch = std::chrono::milliseconds(20);
  }
  return c;
}

}  // namespace reel_bench
