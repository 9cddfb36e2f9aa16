// The SIMD kernels instantiated for SSE2, the x86-64 baseline (no extra flags). This file is compiled with that architecture's
// flags (see CMakeLists.txt) and holds nothing but the instantiations: simd_kernels() only
// calls into it when the running CPU supports the architecture.
#include "backends/cpu/simd_kernels.hpp"

namespace reel::backends::cpu {
REEL_SIMD_KERNELS(, xsimd::sse2)
}  // namespace reel::backends::cpu
