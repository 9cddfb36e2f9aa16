#pragma once
// The synthetic sequence tasks of Bai, Kolter & Koltun, "An Empirical Evaluation of Generic
// Convolutional and Recurrent Networks for Sequence Modeling" (2018), laid out exactly as their
// repository's generators (github.com/locuslab/TCN: TCN/adding_problem/utils.py and
// TCN/copy_memory/utils.py, data_generator), with the same distributions.
//
// Randomness: each task is a pure function of its arguments. The draws come from Philox4x32-10
// (backends/philox.hpp) keyed by `seed`, the generator behind reel's rand/randint, but with a
// counter stream of their own: the global generator (manual_seed) is neither read nor moved.
// The values therefore differ from the TCN repository's (torch/numpy streams), not the layout
// or the distributions. The counters used are documented in sequence_tasks.cpp.
#include <cstdint>

#include "tensor/tensor.hpp"

namespace reel::data {

struct SequenceTask {
  Tensor inputs;
  Tensor targets;
};

// The adding problem. inputs [n, 2, T] float32: row 0 holds values uniform in [0, 1) (as
// torch.rand), row 1 is 0 except for 1 at two distinct positions drawn uniformly over all T
// (np.random.choice(T, 2, replace=False), as the TCN repository; not one per half, as in some
// later descriptions). targets [n, 1] float32: the sum of the two marked values.
// n >= 1, T >= 2.
SequenceTask adding_problem(std::int64_t n, std::int64_t T, std::uint64_t seed);

// The copy memory task, with the TCN repository's memory length of 10. inputs [n, T + 20]
// int64: 10 symbols uniform in 1..8, then T - 1 zeros, then 11 nines (the first is the
// delimiter that asks for the recall). targets [n, T + 20] int64: T + 10 zeros, then the same
// 10 symbols. (The repository's inputs are float; int64 suits an embedding or a one-hot, and
// converts with .to(kFloat32).) n >= 1, T >= 1.
SequenceTask copy_memory(std::int64_t n, std::int64_t T, std::uint64_t seed);

}  // namespace reel::data
