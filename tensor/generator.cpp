// Generators: a (seed, offset) pair behind a mutex, shared by the handles that copy it.
#include "tensor/generator.hpp"

#include <limits>
#include <mutex>

#include "backends/error.hpp"

namespace reel {

struct Generator::Impl {
  mutable std::mutex mutex;
  GeneratorState state;
};

Generator::Generator(std::uint64_t seed) : impl_(std::make_shared<Impl>()) {
  impl_->state = {seed, 0};
}

void Generator::manual_seed(std::uint64_t seed) { set_state({seed, 0}); }

std::uint64_t Generator::initial_seed() const { return get_state().seed; }

GeneratorState Generator::get_state() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->state;
}

void Generator::set_state(const GeneratorState& state) {
  std::lock_guard lock(impl_->mutex);
  impl_->state = state;
}

Generator Generator::clone() const {
  const GeneratorState s = get_state();
  Generator copy(s.seed);
  copy.impl_->state = s;
  return copy;
}

GeneratorState Generator::reserve(std::uint64_t n) {
  std::lock_guard lock(impl_->mutex);
  const GeneratorState before = impl_->state;
  check(n <= std::numeric_limits<std::uint64_t>::max() - before.offset,
        "Generator: reserving {} counters at offset {} would pass 2^64 and reuse counters "
        "(seed {}); reseed the generator",
        n, before.offset, before.seed);
  impl_->state.offset += n;
  return before;
}

Generator& default_generator() {
  static Generator gen(kDefaultSeed);
  return gen;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }
GeneratorState get_rng_state() { return default_generator().get_state(); }
void set_rng_state(const GeneratorState& state) { default_generator().set_state(state); }

}  // namespace reel
