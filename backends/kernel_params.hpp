#pragma once
// Parameters of the backend contract that the CUDA kernels need too, in a header without fmt
// (nvcc includes it): a random fill's RandomSpec (with backends/philox.hpp) and pad1d's modes
// with the one rule of which input element a padded position reads.
#include <cstdint>

#include "backends/host_device.hpp"

namespace reel::backends {

// Random distributions. Values are a pure function of (seed, offset + element index), so a
// draw is reproducible and identical on every backend (a counter-based generator, Philox).
struct RandomSpec {
  enum class Kind : std::uint8_t { Uniform, Normal, Integer } kind = Kind::Uniform;
  double a = 0.0;  // uniform: low;  normal: mean;  integer: low (inclusive)
  double b = 1.0;  // uniform: high; normal: std;   integer: high (exclusive)
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;  // counter of the first element
};

enum class PadMode : std::uint8_t { Zeros, Reflect, Replicate, Circular };

// The input index that padded position i (i in [-left, L + right)) reads in `mode`, or -1 for a
// zero (Zeros mode). For x = [1, 2, 3, 4] padded by (2, 1):
//   Zeros      0 0 | 1 2 3 4 | 0      nothing to read: the value is 0
//   Reflect    3 2 | 1 2 3 4 | 3      mirror about the edge, which is not repeated:
//                                       x[-i] = x[i], x[L-1+i] = x[L-1-i]
//   Replicate  1 1 | 1 2 3 4 | 4      clamp to the edge element
//   Circular   3 4 | 1 2 3 4 | 1      wrap around: x[-i] = x[L-i], x[L+i] = x[i]
// The result is in [0, L) for the pads Backend::pad1d accepts (reflect: each pad < L; circular:
// each pad <= L; replicate: L > 0).
REEL_HD inline std::int64_t pad_source(PadMode mode, std::int64_t i, std::int64_t length) {
  if (i >= 0 && i < length) return i;
  switch (mode) {
    case PadMode::Zeros: return -1;
    case PadMode::Reflect: return i < 0 ? -i : 2 * (length - 1) - i;
    case PadMode::Replicate: return i < 0 ? 0 : length - 1;
    case PadMode::Circular: return i < 0 ? i + length : i - length;
  }
  return -1;
}

}  // namespace reel::backends
