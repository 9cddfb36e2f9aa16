#pragma once
// The shapes bench/conv1d measures, shared by reel's side (conv1d.cpp) and LibTorch's
// (conv1d_torch.cpp) so both time exactly the same convolutions. Header-only, plain C++17 (the
// LibTorch side compiles as C++17), independent of both libraries.
#include <chrono>
#include <cstdint>

#include "timer.hpp"

namespace reel_bench {

struct Conv1dCase {
  const char* key;    // "key_fwd" / "key_fwdbwd" in the LibTorch results file
  const char* label;  // the table's first column
  std::int64_t n, cin, cout, length, kernel, stride, padding, dilation, groups;

  std::int64_t out_length() const {
    return (length + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
  }
  // Multiply-adds count 2 flops; the forward pass does N * Cout * Lout * (Cin/groups) * K of
  // them, and each backward product (input, weight) as many again.
  double forward_flops() const {
    return 2.0 * static_cast<double>(n * cout * out_length() * (cin / groups) * kernel);
  }
};

// The suite: (N, Cin, Cout, L, K, stride, padding, dilation, groups).
inline constexpr Conv1dCase kConv1dCases[] = {
    {"dense64", "dense 64→64, L 1024, k 3", 32, 64, 64, 1024, 3, 1, 1, 1, 1},
    {"dense128k9", "dense 128→128, L 512, k 9", 32, 128, 128, 512, 9, 1, 4, 1, 1},
    {"dense256dil2", "dense 256→256, L 256, k 3, dilation 2", 16, 256, 256, 256, 3, 1, 2, 2, 1},
    {"depthwise", "depthwise 128, L 1024, k 3", 32, 128, 128, 1024, 3, 1, 1, 1, 128},
    {"audio", "raw audio 1→32, L 16000, k 80, stride 4", 8, 1, 32, 16000, 80, 4, 0, 1, 1},
    {"grouped", "grouped 32→64, L 784, k 7, groups 4", 64, 32, 64, 784, 7, 1, 3, 1, 4},
    {"tiny", "tiny 4→4, L 16, k 3", 1, 4, 4, 16, 3, 1, 1, 1, 1},
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
