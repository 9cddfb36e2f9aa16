#pragma once
// Random generators, as torch.Generator / at::Generator. reel draws from Philox4x32-10, a
// counter-based generator (backends/philox.hpp): a draw's values are a pure function of a seed
// and the counters it uses, so a generator's whole state is (seed, offset), the seed and the
// first counter not yet used. A draw of n values reserves n consecutive counters (2n for
// complex) and advances the offset past them.
//
// A Generator is a handle, as in PyTorch: copies share one state (a draw through any copy
// advances all of them); clone() makes an independent one. The global default_generator() is
// what every draw without an explicit generator uses; manual_seed(s) seeds it.
//
// Differences from PyTorch: get_state() is a GeneratorState (two integers), not a ByteTensor,
// and the values drawn differ from PyTorch's streams (another generator and other
// transforms). A generator isn't tied to a device: the same state gives the same values on
// every backend.
#include <cstdint>
#include <memory>

namespace reel {

// The seed of the default generator, and of a Generator constructed without one.
inline constexpr std::uint64_t kDefaultSeed = 0x5eed'0000'2026ULL;

struct GeneratorState {
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;  // the first Philox counter not yet used
  friend bool operator==(const GeneratorState&, const GeneratorState&) = default;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed = kDefaultSeed);

  // seed = s, offset = 0 (torch.Generator.manual_seed).
  void manual_seed(std::uint64_t seed);
  // The seed of the current stream (the last manual_seed or set_state).
  std::uint64_t initial_seed() const;
  GeneratorState get_state() const;
  void set_state(const GeneratorState& state);
  // An independent generator starting from this one's current state.
  Generator clone() const;
  // Reserves n consecutive counters atomically: returns the state before the reservation (the
  // seed and the first of the n counters) and advances the offset by n. Two threads reserving
  // from one generator never get overlapping counters. Raises reel::Error when the counters
  // would pass 2^64 (they would wrap around and repeat earlier values).
  GeneratorState reserve(std::uint64_t n);

  // Whether two handles share one state.
  bool is_same(const Generator& other) const { return impl_ == other.impl_; }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// The global generator behind every draw that names none.
Generator& default_generator();
// Seeds the default generator: every later draw without a generator is a pure function of s and
// the sequence of draws.
void manual_seed(std::uint64_t seed);
// The default generator's state, to replay its draws (set_rng_state(get_rng_state())).
GeneratorState get_rng_state();
void set_rng_state(const GeneratorState& state);

}  // namespace reel
