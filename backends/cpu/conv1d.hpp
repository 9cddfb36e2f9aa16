#pragma once
// The CPU backend's conv1d, split by algorithm. CpuBackend::conv1d_* (conv1d.cpp) validate the
// views, describe the problem as a Conv1dProblem and pick an algorithm per call:
//
//   Gemm       im2col of one tile of output positions per (sample, group) into a small
//              per-thread buffer, then the packed gemm (gemm.hpp); backward_input is the
//              transposed gemm followed by col2im (a scatter-add); backward_weight multiplies
//              grad_out by im2col(x)^T, summed over samples. Dense and grouped convolutions.
//   Direct     one SIMD axpy (forward, backward_input) or dot product (backward_weight) per
//              kernel tap over a whole row of positions, threaded over (sample, group). For
//              depthwise convolutions (one input channel per group), where each group's gemm
//              would be a few rows deep and a few taps wide.
//   Reference  the reference backend's loops: complex dtypes.
//   Implicit   (conv1d_implicit.cpp) an implicit gemm for stride-1 float32 dense and grouped
//              convolutions, forward and backward_input: no im2col, because for stride 1 tap k
//              of output position t reads x[t + offset(k)], so the forward is a sum of K gemms
//              over shifted views of x. The weights are packed once per call into panels of
//              mr output channels ordered (input channel, tap); an AVX-512 micro-kernel
//              (conv1d_implicit.avx512.cpp, 8 x 48 or 6 x 64 outputs in 24 zmm accumulators)
//              loads its B operand straight from x's rows and broadcasts the weights, and adds
//              the bias in its epilogue (after the sum, as Gemm does: the same FMA chain, bit
//              for bit, where Gemm's sum is one kc block). A tile whose taps reach into the
//              padding reads a zero-padded copy of just its window. backward_input is the same
//              correlation of grad_out with the transposed, flipped weights (first offset
//              pad_left - (K-1) * dilation). Threads over (sample, group, tile of positions,
//              chunk of panels): disjoint outputs, so as deterministic as the others.
//              backward_weight (conv1d_wgrad.cpp) reads grad_out's rows and x's shifted rows
//              along the positions into vector accumulators, no im2col either. float64 and
//              strides > 1 run the Gemm algorithm; CPUs without AVX-512 run portable
//              micro-kernels when the algorithm is forced.
//
// A faster algorithm for some case (Winograd for small kernels, FFT for long ones) is a new
// enumerator and a line in choose().
#include <cstdint>

#include "backends/backend.hpp"

namespace reel::backends::cpu {

enum class Conv1dAlgorithm : std::uint8_t { Auto, Gemm, Direct, Reference, Implicit };

// Testing hooks, process-wide: force every conv1d primitive onto one algorithm (Auto restores
// the choice per case), so a test can run each algorithm over every configuration; and cap the
// gemm algorithm's im2col tiles at `bytes` (0 restores the default), so small problems cross
// tile boundaries too.
void force_conv1d_algorithm(Conv1dAlgorithm algorithm);
void set_conv1d_tile_bytes(std::int64_t bytes);
// And: the direct kernels write outputs of at least `bytes` with non-temporal stores (0
// restores the default, half the L3; 1 streams every output).
void set_conv1d_stream_bytes(std::int64_t bytes);

// The sizes of one conv1d call, checked against the views (and contiguous buffers): x is
// [batch, in_channels, length], y is [batch, out_channels, out_length], w is
// [out_channels, in_per_group, kernel].
struct Conv1dProblem {
  std::int64_t batch = 0;
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t length = 0;
  std::int64_t out_length = 0;
  std::int64_t kernel = 0;
  std::int64_t in_per_group = 0;
  std::int64_t out_per_group = 0;
  std::int64_t stride = 1;
  std::int64_t pad_left = 0;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;

  // Tap k reads input position t * stride + offset(k) for output position t.
  std::int64_t offset(std::int64_t k) const { return k * dilation - pad_left; }
  // The output positions [lo, hi) whose tap k reads inside [0, length): every other position
  // reads a zero of the padding (zero padding is this index arithmetic, never a padded copy).
  std::int64_t valid_lo(std::int64_t k) const {
    const std::int64_t off = offset(k);
    return off >= 0 ? 0 : (-off + stride - 1) / stride;
  }
  std::int64_t valid_hi(std::int64_t k) const {
    const std::int64_t last = length - 1 - offset(k);  // t * stride <= last
    if (last < 0) return 0;
    const std::int64_t hi = last / stride + 1;
    return hi < out_length ? hi : out_length;
  }
};

// The algorithms, on contiguous buffers (float and double). Outputs are overwritten; a null
// output pointer (backward_weight's grad_w or grad_b) is not computed.
template <class T>
void conv1d_gemm_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b);
template <class T>
void conv1d_gemm_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w);
template <class T>
void conv1d_gemm_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy, const T* x);

template <class T>
void conv1d_direct_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b);
template <class T>
void conv1d_direct_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w);
template <class T>
void conv1d_direct_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy,
                                   const T* x);

// --- implicit gemm (issue 10, dense Conv1d kernel) --- conv1d_implicit.cpp. Stride-1 float32
// forward and backward_input; false (nothing computed) for anything else (float64, stride > 1),
// and the caller runs the gemm algorithm instead (backward_weight: below).
template <class T>
bool conv1d_implicit_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b);
template <class T>
bool conv1d_implicit_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w);
// True when the AVX-512 micro-kernel runs (the CPU has AVX-512 F/BW/DQ/CD/VL and the hook below
// is off); otherwise the implicit algorithm runs a portable micro-kernel (correct, slow).
bool conv1d_implicit_native();
// Testing hook, process-wide: run the portable micro-kernel even on an AVX-512 CPU.
void force_conv1d_implicit_portable(bool portable);

// --- implicit backward_weight (issue 10, dense backward) --- conv1d_wgrad.cpp. Stride-1
// float32 grad_W (+ grad_b) with no im2col: both operands read along the positions straight
// from grad_out and shifted rows of x (AVX-512 micro-kernel, or the portable one as above);
// bitwise independent of the thread count. False (nothing computed) for float64 or stride > 1.
template <class T>
bool conv1d_implicit_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy,
                                     const T* x);

// --- bfloat16 (issue 9) --- The gemm algorithm on bfloat16 buffers (raw bits): im2col in
// bfloat16, the bfloat16 gemm (gemm_bf16.hpp: AVX-512 BF16 where the CPU has it), and everything
// after the products in float32 (bias, col2im's scatter-add, the sum of partial grad_W over
// threads); each output element is rounded to bfloat16 once, on store. conv1d_bf16_widened runs
// any algorithm (Direct, for depthwise) on float32 copies and rounds once, the same contract.
void conv1d_gemm_forward_bf16(const Conv1dProblem& c, std::uint16_t* y, const std::uint16_t* x,
                              const std::uint16_t* w, const std::uint16_t* b);
void conv1d_gemm_backward_input_bf16(const Conv1dProblem& c, std::uint16_t* gx,
                                     const std::uint16_t* gy, const std::uint16_t* w);
void conv1d_gemm_backward_weight_bf16(const Conv1dProblem& c, std::uint16_t* gw,
                                      std::uint16_t* gb, const std::uint16_t* gy,
                                      const std::uint16_t* x);
// Depthwise (in_per_group == 1, any multiplier) in bfloat16 with AVX-512 BF16 (vdpbf16ps):
// conv1d_depthwise_bf16.cpp. The same contract; where gemm_bf16_native_active() is false (no
// avx512_bf16, or the portable path forced) each runs conv1d_bf16_widened's direct algorithm.
void conv1d_depthwise_forward_bf16(const Conv1dProblem& c, std::uint16_t* y,
                                   const std::uint16_t* x, const std::uint16_t* w,
                                   const std::uint16_t* b);
void conv1d_depthwise_backward_input_bf16(const Conv1dProblem& c, std::uint16_t* gx,
                                          const std::uint16_t* gy, const std::uint16_t* w);
void conv1d_depthwise_backward_weight_bf16(const Conv1dProblem& c, std::uint16_t* gw,
                                           std::uint16_t* gb, const std::uint16_t* gy,
                                           const std::uint16_t* x);
namespace detail {
// The row kernels (conv1d_depthwise_bf16.avx512bf16.cpp; call only when the native path is
// active). correlate: out[t] = bf16(bias + sum_{k < taps} w[k] * src[k][t]) for t < count,
// accumulated in float32, rounded once (half.hpp's rounding); each src[k] readable for count
// rounded up to 32 elements. dot: sum_{t < count} a[t] * b[t] in float32, reading only count.
void dw_bf16_correlate_avx512bf16(std::int64_t count, std::int64_t taps,
                                  const std::uint16_t* const* src, const std::uint16_t* w,
                                  float bias, std::uint16_t* out);
float dw_bf16_dot_avx512bf16(std::int64_t count, const std::uint16_t* a, const std::uint16_t* b);
// sum: sum_{t < count} a[t] in float32, reading only count.
float dw_bf16_sum_avx512bf16(std::int64_t count, const std::uint16_t* a);
}  // namespace detail
// grad_bias of bfloat16 grad_out: summed in double over float32 widenings, rounded once.
void conv1d_bias_grad_bf16(const Conv1dProblem& c, std::uint16_t* gb, const std::uint16_t* gy);
enum class Conv1dPass : std::uint8_t { Forward, BackwardInput, BackwardWeight };
// The float32 `algorithm` (Gemm or Direct) on widened copies of the bfloat16 operands, each
// output rounded once. Operands as the pass's float32 function takes them (null: absent).
void conv1d_bf16_widened(Conv1dPass pass, Conv1dAlgorithm algorithm, const Conv1dProblem& c,
                         std::uint16_t* out0, std::uint16_t* out1, const std::uint16_t* in0,
                         const std::uint16_t* in1, const std::uint16_t* in2);

// grad_bias[co] = sum over samples and positions of grad_out[n][co][t] (shared by both
// algorithms), accumulated in double.
template <class T>
void conv1d_bias_grad(const Conv1dProblem& c, T* gb, const T* gy);

// A per-thread scratch buffer, grown on demand and kept: steady-state calls allocate nothing.
// `slot` (0-3) picks one of four independent buffers per thread: 0 im2col columns or phase
// rows of the direct kernel, 1 staged grad_out or double sums, 2 a gemm product or the direct
// kernel's tap pointers, 3 phase windows or the direct backward_input's tap weights.
void* conv1d_scratch(int slot, std::size_t bytes);
template <class T>
T* scratch(int slot, std::int64_t count) {
  return static_cast<T*>(conv1d_scratch(slot, static_cast<std::size_t>(count) * sizeof(T)));
}

}  // namespace reel::backends::cpu
