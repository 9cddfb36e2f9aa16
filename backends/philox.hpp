#pragma once
// Philox4x32-10, the counter-based random number generator of Salmon, Moraes, Dror & Shaw,
// "Parallel Random Numbers: As Easy as 1, 2, 3" (SC 2011), and the distributions reel draws
// from it. Header-only and shared by every backend (the functions are host+device under nvcc),
// so a draw gives bit-identical values on the reference, CPU and CUDA backends.
//
// A counter-based generator has no state to carry: the value of element i is a pure function
// random_value<T>(spec, i) of (spec.seed, a counter), so elements can be drawn in any order and
// by any number of threads.
//
// THE COUNTER RULE: a draw of n elements consumes n counters, 2n for complex.
//   real T:    element i uses counter  spec.offset + i
//   complex T: element i uses counters spec.offset + 2i     (real part)
//                                  and spec.offset + 2i + 1 (imaginary part)
// so the caller that owns the generator advances its offset by numel (real) or 2 * numel
// (complex) after each draw, and consecutive draws never reuse a counter.
//
// One counter c gives one Philox block of four 32-bit words: counter words (lo32(c), hi32(c),
// 0, 0), key words (lo32(seed), hi32(seed)). From that block:
//   Uniform [a, b):   u = top 24 bits of word 0 / 2^24 (float) or 53 bits of words 0,1 / 2^53
//                     (double), u in [0, 1); value = a + (b - a) u, computed in double. If
//                     rounding to float lands on b, the value steps down to the float below b.
//   Normal (a, b):    mean a, std b by Box–Muller with the two uniforms of the same block:
//                     u1 in (0, 1] from words 0,1 and u2 in [0, 1) from words 2,3 (53 bits
//                     each); z = sqrt(-2 ln u1) cos(2 pi u2); value = a + b z, in double.
//   Integer [a, b):   r = words 0,1 as a 64-bit number; value = a + r mod (b - a). (The modulo
//                     bias is below 2^-40 for ranges under 2^24, as in PyTorch's random_.)
//                     Into a float tensor (randint with a float dtype) the integer is rounded.
//   Complex:          real and imaginary parts are independent draws of the real type, each
//                     with its own counter (above). Uniform: each part in [a, b). Normal: as
//                     PyTorch's randn for complex, variance b^2 split equally between the parts:
//                     re, im ~ N(a, b^2 / 2), i.e. std b * sqrt(1/2) per part.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "backends/element_math.hpp"  // math::kIsComplex, REEL_HD
#include "backends/kernel_params.hpp"

namespace reel::backends::philox {

// Four 32-bit words: a counter going in, random bits coming out.
struct Block {
  std::uint32_t x[4];
};

// Philox4x32 with 10 rounds. Each round multiplies two words by fixed odd constants, keeps both
// halves of the 64-bit products and mixes them with the other two words and the key; the key
// is bumped by Weyl constants (golden ratio, sqrt(3) - 1) between rounds.
REEL_HD inline Block philox4x32_10(Block c, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * c.x[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * c.x[2];
    c = Block{{static_cast<std::uint32_t>(p1 >> 32) ^ c.x[1] ^ k0, static_cast<std::uint32_t>(p1),
               static_cast<std::uint32_t>(p0 >> 32) ^ c.x[3] ^ k1, static_cast<std::uint32_t>(p0)}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// The block of one counter under one seed (the layout described at the top).
REEL_HD inline Block block_at(std::uint64_t seed, std::uint64_t counter) {
  return philox4x32_10(Block{{static_cast<std::uint32_t>(counter),
                              static_cast<std::uint32_t>(counter >> 32), 0u, 0u}},
                       static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

REEL_HD inline std::uint64_t bits64(std::uint32_t hi, std::uint32_t lo) {
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}
// [0, 1) with 24 random bits (every such value is exact in float).
REEL_HD inline double uniform24(std::uint32_t w) { return (w >> 8) * 0x1p-24; }
// [0, 1) with 53 random bits (every such value is exact in double).
REEL_HD inline double uniform53(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(bits64(hi, lo) >> 11) * 0x1p-53;
}

// One real value of type R (float, double or int64) from `counter`; `stddev` replaces spec.b
// for Normal (complex draws scale it by sqrt(1/2)).
template <typename R>
REEL_HD R random_real(const RandomSpec& spec, double stddev, std::uint64_t counter) {
  const Block r = block_at(spec.seed, counter);
  if (std::is_integral_v<R> || spec.kind == RandomSpec::Kind::Integer) {
    // Integer types always draw integers (the backend rejects other kinds for them).
    const auto low = static_cast<std::int64_t>(spec.a);
    const auto range = static_cast<std::uint64_t>(static_cast<std::int64_t>(spec.b)) -
                       static_cast<std::uint64_t>(low);
    const std::uint64_t k = range == 0 ? 0 : bits64(r.x[0], r.x[1]) % range;
    return static_cast<R>(static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + k));
  }
  if (spec.kind == RandomSpec::Kind::Normal) {
    constexpr double kTwoPi = 6.283185307179586476925286766559;
    const double u1 = (static_cast<double>(bits64(r.x[0], r.x[1]) >> 11) + 1.0) * 0x1p-53;
    const double u2 = uniform53(r.x[2], r.x[3]);
    const double z = ::sqrt(-2.0 * ::log(u1)) * ::cos(kTwoPi * u2);  // Box–Muller
    return static_cast<R>(spec.a + stddev * z);
  }
  // Uniform.
  const double u = std::is_same_v<R, float> ? uniform24(r.x[0]) : uniform53(r.x[0], r.x[1]);
  R value = static_cast<R>(spec.a + (spec.b - spec.a) * u);
  if constexpr (std::is_same_v<R, float>) {
    // Rounding a value just below b to float can give b itself: keep the interval half-open.
    const auto high = static_cast<float>(spec.b);
    const auto low = static_cast<float>(spec.a);
    if (value >= high && low < high) value = ::nextafterf(high, low);
  }
  return value;
}

// The real and imaginary parts of complex element i (real type R), for backends that build
// their own complex type (CUDA).
template <typename R>
struct ComplexParts {
  R re, im;
};
template <typename R>
REEL_HD ComplexParts<R> random_complex_parts(const RandomSpec& spec, std::uint64_t i) {
  const double stddev = spec.b * 0.70710678118654752440;  // b * sqrt(1/2), used by Normal only
  const std::uint64_t counter = spec.offset + 2 * i;
  return {random_real<R>(spec, stddev, counter), random_real<R>(spec, stddev, counter + 1)};
}

}  // namespace reel::backends::philox

namespace reel::backends {

// Element i's value in a draw described by `spec`, for T = float, double, an integer type
// (Integer only), or a complex type of float or double (std::complex, cuda::std::complex). A
// pure function of (spec.seed, spec.offset + i).
template <typename T>
REEL_HD T random_value(const RandomSpec& spec, std::uint64_t i) {
  if constexpr (math::kIsComplex<T>) {
    const auto parts = philox::random_complex_parts<typename T::value_type>(spec, i);
    return T(parts.re, parts.im);
  } else {
    return philox::random_real<T>(spec, spec.b, spec.offset + i);
  }
}

}  // namespace reel::backends
