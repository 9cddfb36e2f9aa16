// The SIMD kernels instantiated for AVX-512 (F, BW, DQ, CD, VL) with FMA. This file is compiled with that architecture's
// flags (see CMakeLists.txt) and holds nothing but the instantiations: simd_kernels() only
// calls into it when the running CPU supports the architecture.
// GCC 12's avx512fintrin.h initializes its "undefined" registers as `__m512 __Y = __Y;`, which
// -Wuninitialized reports once inlined into our code (GCC bug 105593): silence just that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "backends/cpu/simd_kernels.hpp"

namespace reel::backends::cpu {
REEL_SIMD_KERNELS(, xsimd::avx512bw)
}  // namespace reel::backends::cpu
