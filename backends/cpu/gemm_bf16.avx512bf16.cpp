// The bfloat16 gemm micro-kernel for AVX-512 BF16 (vdpbf16ps). This file is compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512bf16 (CMakeLists.txt, *.avx512bf16.cpp) and holds only
// this function, called by gemm_bf16.cpp after cpuid said the CPU has the instructions. It
// includes no standard-library header on purpose: an inline function instantiated here would
// be compiled with these flags, and the linker could keep this copy for every caller, letting
// an AVX-512 instruction reach a CPU without it.
//
// Register blocking: 12 rows x 32 columns of C = 24 zmm accumulators, plus the two B vectors of
// a k-pair and one A broadcast: 27 of the 32 registers. Per k-pair: 2 loads, 12 broadcasts,
// 24 vdpbf16ps, each 16 lanes x 2 multiply-adds (the pair) in float32.
#include <immintrin.h>

#include <cstdint>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's avx512fintrin.h initializes its "undefined" registers as `__m512 __Y = __Y;`, which
// -Wuninitialized reports once inlined (GCC bug 105593), as in simd_kernels.avx512.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace reel::backends::cpu::detail {

// Declared in gemm_bf16.hpp, which is not included here: its inline helpers must not be
// compiled with this file's flags. gemm_bf16.cpp checks kBf16Mr == 12 and kBf16Nr == 32.
void gemm_bf16_kernel_avx512bf16(std::int64_t kp, const std::uint32_t* a_panel,
                                 const std::uint32_t* b_panel, float* c, std::int64_t ldc,
                                 bool accumulate);
constexpr int kMr = 12;
constexpr int kNr = 32;

void gemm_bf16_kernel_avx512bf16(std::int64_t kp, const std::uint32_t* a_panel,
                                 const std::uint32_t* b_panel, float* c, std::int64_t ldc,
                                 bool accumulate) {
#define REEL_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define REEL_DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
  REEL_ROWS(REEL_DECL)
#undef REEL_DECL
  for (std::int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(b_panel);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(b_panel + 16);
#define REEL_STEP(r)                                                                     \
  {                                                                                      \
    const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(a_panel[r]));        \
    c##r##0 = _mm512_dpbf16_ps(c##r##0, a, b0);                                          \
    c##r##1 = _mm512_dpbf16_ps(c##r##1, a, b1);                                          \
  }
    REEL_ROWS(REEL_STEP)
#undef REEL_STEP
    a_panel += kMr;
    b_panel += kNr;
  }
  if (accumulate) {
#define REEL_ADD(r)                                                              \
  c##r##0 = _mm512_add_ps(c##r##0, _mm512_loadu_ps(c + r * ldc));                \
  c##r##1 = _mm512_add_ps(c##r##1, _mm512_loadu_ps(c + r * ldc + 16));
    REEL_ROWS(REEL_ADD)
#undef REEL_ADD
  }
#define REEL_STORE(r)                              \
  _mm512_storeu_ps(c + r * ldc, c##r##0);          \
  _mm512_storeu_ps(c + r * ldc + 16, c##r##1);
  REEL_ROWS(REEL_STORE)
#undef REEL_STORE
#undef REEL_ROWS
}

}  // namespace reel::backends::cpu::detail
