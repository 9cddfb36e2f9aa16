#pragma once
// The CPU backend's bfloat16 matrix product: C[m, n] (float32) = A[m, k] @ B[k, n] with A and B
// bfloat16 (raw bit patterns, so this needs no tensor dtype), every product accumulated in
// float32. Two paths, picked at run time:
//
//   native    AVX-512 BF16 (vdpbf16ps, `_mm512_dpbf16_ps`): A and B are packed with pairs of
//             consecutive k interleaved (one 32-bit lane holds A[i, 2p], A[i, 2p+1]), and a
//             12 x 32 register-blocked micro-kernel (gemm_bf16.avx512bf16.cpp, the only file
//             compiled with -mavx512bf16) does 32 multiply-adds per instruction. Used when cpuid
//             reports avx512_bf16 (leaf 7 subleaf 1, EAX bit 5) with AVX-512 F/BW/VL and the OS
//             saves the AVX-512 registers (xgetbv).
//   portable  widens A and B to float32 (exact) and runs the float32 gemm (gemm.hpp).
//
// Both give the float32-accumulated product: |C - exact| <= (k + 1) * 2^-24 * sum |a||b| (for
// the one extra addition of accumulate). vdpbf16ps treats subnormal inputs and results as zero
// (its DAZ/FTZ behaviour does not follow MXCSR); bfloat16 subnormals are below 1.2e-38, so this
// only matters for values already at the edge of float32's range.
#include <cstdint>

#include "backends/cpu/gemm.hpp"
#include "backends/half.hpp"

namespace reel::backends::cpu {

// C = A @ B (accumulate = false) or C += A @ B (accumulate = true); k == 0 gives zeros (or
// leaves C). Any strides (transposed, sliced); C must not overlap A or B. Threads through the
// pool unless called from inside a pool task.
void gemm_bf16(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const std::uint16_t> a,
               MatrixRef<const std::uint16_t> b, MatrixRef<float> c, bool accumulate = false);

// For p < batch: C_p = A_p @ B_p with C bfloat16: each product accumulated in float32 (in a
// per-thread buffer) and rounded to nearest even once on store. Batch strides as batched_gemm
// (0 broadcasts A or B); threads over the batch or inside each product as batched_gemm does.
void batched_gemm_bf16(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                       MatrixRef<const std::uint16_t> a, std::int64_t a_batch_stride,
                       MatrixRef<const std::uint16_t> b, std::int64_t b_batch_stride,
                       MatrixRef<std::uint16_t> c, std::int64_t c_batch_stride);

// True when the running CPU (and OS) can run the native path.
bool gemm_bf16_native_supported();
// True when gemm_bf16 currently takes the native path: supported and not forced portable.
bool gemm_bf16_native_active();
// Testing and benchmarking hook, process-wide: force the portable path (true) or restore the
// automatic choice (false). The environment variable REEL_BF16_GEMM=portable sets it at start.
void force_gemm_bf16_portable(bool portable);

// bfloat16 <-> float32 on bit patterns (backends/half.hpp's, so that every kernel rounds alike):
// the widening is exact (the top 16 bits of a float32); the narrowing rounds to nearest, ties
// to even, and gives NaN as 0x7FC0 (c10's rule).
inline float bf16_bits_to_f32(std::uint16_t bits) { return bf16_bits_to_float(bits); }
inline std::uint16_t f32_to_bf16_bits(float f) { return float_to_bf16_bits(f); }

namespace detail {
// The micro-kernel of the native path (gemm_bf16.avx512bf16.cpp): C[12 x 32] (+)= A_panel *
// B_panel over kp pairs of k. A_panel: for each pair p, 12 uint32 (row r's A[r, 2p], A[r, 2p+1]);
// B_panel: for each pair p, 32 uint32 (column j's B[2p, j], B[2p+1, j]); both 64-byte aligned.
// C rows are ldc apart, unit column stride.
constexpr int kBf16Mr = 12;
constexpr int kBf16Nr = 32;
void gemm_bf16_kernel_avx512bf16(std::int64_t kp, const std::uint32_t* a_panel,
                                 const std::uint32_t* b_panel, float* c, std::int64_t ldc,
                                 bool accumulate);
}  // namespace detail

}  // namespace reel::backends::cpu
