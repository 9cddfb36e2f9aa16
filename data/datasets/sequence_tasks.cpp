// The adding problem and the copy memory task (see sequence_tasks.hpp).
//
// Counter streams (Philox4x32-10 keyed by the seed; one counter gives one 128-bit block):
//   adding_problem: value (i, t) uses counter i*T + t, drawn exactly as reel's rand does for a
//                   float32 tensor (backends::random_value<float>, uniform [0, 1));
//                   sample i's two positions use the block of counter n*T + i: words 0-1 pick
//                   the first position among T, words 2-3 the second among the other T - 1.
//   copy_memory:    symbol (i, j) uses counter i*10 + j, drawn as reel's randint(1, 9).
#include "data/datasets/sequence_tasks.hpp"

#include "backends/checked_math.hpp"
#include "backends/philox.hpp"

namespace reel::data {

SequenceTask adding_problem(std::int64_t n, std::int64_t T, std::uint64_t seed) {
  check(n >= 1, "adding_problem: n (the number of sequences) must be positive, got {}", n);
  check(T >= 2, "adding_problem: T (the sequence length) must be at least 2 to mark two "
        "positions, got {}", T);
  const auto values = checked_mul(n, T);
  const auto counters = values ? checked_add(*values, n) : std::nullopt;
  const auto elements = values ? checked_mul(*values, 2) : std::nullopt;
  check(counters && elements, "adding_problem: n = {} sequences of length T = {} are too many "
        "elements", n, T);

  SequenceTask task;
  task.inputs = zeros({n, 2, T}, kFloat32);
  task.targets = empty({n, 1}, kFloat32);
  float* x = task.inputs.data_ptr<float>();
  float* y = task.targets.data_ptr<float>();
  backends::RandomSpec uniform;  // Uniform [0, 1)
  uniform.seed = seed;
  const auto t_count = static_cast<std::uint64_t>(T);
  for (std::int64_t i = 0; i < n; ++i) {
    float* row_values = x + i * 2 * T;
    float* row_mask = row_values + T;
    for (std::int64_t t = 0; t < T; ++t) {
      row_values[t] =
          backends::random_value<float>(uniform, static_cast<std::uint64_t>(i * T + t));
    }
    // Two distinct positions, uniform over ordered pairs (np.random.choice without
    // replacement). The modulo bias is below 2^-40 for T < 2^24.
    const auto block = backends::philox::block_at(seed, static_cast<std::uint64_t>(*values + i));
    const std::uint64_t first = backends::philox::bits64(block.x[0], block.x[1]) % t_count;
    std::uint64_t second = backends::philox::bits64(block.x[2], block.x[3]) % (t_count - 1);
    if (second >= first) ++second;
    row_mask[first] = 1.0f;
    row_mask[second] = 1.0f;
    y[i] = row_values[first] + row_values[second];  // in float32, as the repository's tensors
  }
  return task;
}

SequenceTask copy_memory(std::int64_t n, std::int64_t T, std::uint64_t seed) {
  constexpr std::int64_t kMemory = 10;  // the repository's mem_length
  check(n >= 1, "copy_memory: n (the number of sequences) must be positive, got {}", n);
  check(T >= 1, "copy_memory: T (the blank length) must be at least 1, got {}", T);
  const auto length = checked_add(T, 2 * kMemory);
  const auto elements = length ? checked_mul(n, *length) : std::nullopt;
  check(elements.has_value(), "copy_memory: n = {} sequences of length T + 20 (T = {}) are too "
        "many elements", n, T);
  const std::int64_t L = *length;

  SequenceTask task;
  task.inputs = zeros({n, L}, kInt64);
  task.targets = zeros({n, L}, kInt64);
  std::int64_t* x = task.inputs.data_ptr<std::int64_t>();
  std::int64_t* y = task.targets.data_ptr<std::int64_t>();
  backends::RandomSpec symbols;
  symbols.kind = backends::RandomSpec::Kind::Integer;
  symbols.a = 1;  // np.random.randint(1, 9): 1..8
  symbols.b = 9;
  symbols.seed = seed;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t* xi = x + i * L;
    std::int64_t* yi = y + i * L;
    for (std::int64_t j = 0; j < kMemory; ++j) {
      const std::int64_t s = backends::random_value<std::int64_t>(
          symbols, static_cast<std::uint64_t>(i * kMemory + j));
      xi[j] = s;                    // the sequence to remember, at the start
      yi[T + kMemory + j] = s;      // recalled in the last 10 steps
    }
    // x: the symbols, T - 1 zeros, then mem_length + 1 nines (the first is the delimiter).
    for (std::int64_t j = kMemory + T - 1; j < L; ++j) xi[j] = 9;
  }
  return task;
}

}  // namespace reel::data
