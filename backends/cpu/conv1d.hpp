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
//              (conv1d_implicit.avx512.cpp, 8 x 48 or 6 x 64 outputs in 24 zmm accumulators,
//              whichever pads fewer rows and columns)
//              loads its B operand straight from x's rows and broadcasts the weights, and adds
//              the bias in its epilogue (after the sum, as Gemm does: the same FMA chain, bit
//              for bit, where Gemm's sum is one kc block). A tile whose taps reach into the
//              padding reads a zero-padded copy of just its window. backward_input is the same
//              correlation of grad_out with the transposed, flipped weights (first offset
//              pad_left - (K-1) * dilation). Threads over (sample, group, tile of positions,
//              chunk of panels): disjoint outputs, so as deterministic as the others.
//              backward_weight (conv1d_wgrad.cpp) reads grad_out's rows and x's shifted rows
//              along the positions into vector accumulators, no im2col either. Short rows
//              (batch > 1, at most kConv1dShortRows outputs, at least kConv1dRowsMinChannels
//              output channels of the correlation per group) copy the operands channels-last
//              and run transposed tiles (6 positions x 64 output channels; grad_weight: 6
//              (channel, tap) pairs x 64 output channels) over (sample, position) pairs, so no
//              tile column is padding; Auto takes them where it would take GemmBatched. The
//              forward and grad_input keep the same FMA chains (bitwise the per-sample tiles).
//              float64 and strides > 1 run the Gemm algorithm; CPUs without AVX-512 run
//              portable micro-kernels when the algorithm is forced.
//   Fft        (conv1d_fft.cpp, issue 10) overlap-save for long kernels, stride-1 float32 with
//              any padding, dilation (the dense kernel (K-1)*d+1 long) and groups, all three
//              passes. Rows are cut into blocks of B (a power of two >= 2 (K-1)d+2, chosen by a
//              cost model) whose first B - (K-1)d outputs are exact; KissFFT's real transforms
//              of each window (per sample, input channel and block) and of each kernel (once
//              per call), then per frequency bin one real gemm of [[Hr, Hi], [-Hi, Hr]] by the
//              blocks' [Ur; Ui] (the correlation's conj(H) * U summed over the group's input
//              channels, every block of every sample at once), then an inverse transform per
//              (sample, output channel, block). backward_input is the same correlation of
//              grad_out with the flipped, transposed kernel; backward_weight sums conj(G) * U
//              over blocks per bin (a gemm over blocks) and inverts once per (co, ci). Each
//              output's error is that of a transform of its window, ~eps * sqrt(K Cin) times the
//              largest products, not one rounding per term: Auto choosing it changes results
//              beyond "bitwise equal to Gemm" but within float rounding, as PyTorch's choice of
//              algorithm does. Auto takes it where it measured >= 1.5x faster than the best
//              other algorithm (conv1d_fft_preferred; docs/benchmarks.md, "Long kernels: the
//              FFT path"). float64, strides > 1 and builds without KissFFT run Gemm.
//
//   Polyphase  (conv1d_polyphase.cpp; issue 10, the strided raw-audio front end) a float32
//              forward of stride s > 1 as a stride-1 convolution over phases: with g =
//              gcd(dilation, s) and s' = s / g, the taps k = r + j*s' of residue r read the
//              phase row z_r[u] = x[u*s + r*dilation - pad_left] at u = t + j*(dilation / g),
//              so the call becomes the Implicit algorithm's stride-1 convolution with Cin *
//              min(s', K) input channels (the phase rows: one strided gather of x, zeros where
//              the padding is), ceil(K / s') taps and no padding; weights re-ordered to
//              [Cout][Cin/G * phases][taps], zero past K. The raw-audio front end (1 -> 32,
//              k 80, stride 4) becomes a 4 -> 32, k 20, stride-1 convolution: the 6 x 64
//              register tile instead of an im2col of 80-row columns. backward_input (the
//              inner backward_input on the implicit kernel, scattered back to x) and
//              backward_weight (the inner gemm grad_weight over the phase rows, taps scattered
//              back) decompose the same way, but run only when the algorithm is forced: the
//              front end's input needs no grad (autograd then asks for grad_weight only:
//              nn/functional/conv1d.cpp), and neither measured a clear gain over Gemm. float64
//              and stride 1 run Gemm when this algorithm is forced. choose() picks it
//              (choose_forward_float32 in conv1d.cpp) for float32 strided forwards where the
//              AVX-512 kernel runs, inside the region bench_conv1d_polyphase measured a gain:
//              at least 4 outputs per group and 3 taps, and at most 16 inputs per group or at
//              most 1/8 of zero taps.
//
//   GemmBatched (issue 10, short rows) the gemm algorithm with a chunk of samples in one
//              product: im2col of several samples side by side (a column per (sample,
//              position)), one wide gemm per (chunk, group), a scatter to y with the bias
//              after; backward_input's col2im per sample; backward_weight is Gemm's (already a
//              sum over (sample, position) columns). For rows too short to fill the gemm's
//              panels alone (Fashion-MNIST's L 28/14/7). The same FMA chains as Gemm.
//
// A faster algorithm for some case (Winograd for small kernels) is a new enumerator and a line
// in choose().
#include <algorithm>
#include <cstdint>

#include "backends/backend.hpp"

namespace reel::backends::cpu {

enum class Conv1dAlgorithm : std::uint8_t {
  Auto, Gemm, Direct, Reference, Implicit, Polyphase, Fft, GemmBatched
};

// Testing hooks, process-wide: force every conv1d primitive onto one algorithm (Auto restores
// the choice per case), so a test can run each algorithm over every configuration; and cap the
// gemm algorithm's im2col tiles at `bytes` (0 restores the default), so small problems cross
// tile boundaries too.
void force_conv1d_algorithm(Conv1dAlgorithm algorithm);
void set_conv1d_tile_bytes(std::int64_t bytes);
// And: the direct kernels write outputs of at least `bytes` with non-temporal stores (0
// restores the default, twice the L3; 1 streams every output).
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

// --- short rows (issue 10) --- conv1d_gemm.cpp: the GemmBatched algorithm. When one sample's
// columns exceed the chunk budget (a long row), each runs the per-sample gemm algorithm.
template <class T>
void conv1d_gemm_forward_batched(const Conv1dProblem& c, T* y, const T* x, const T* w,
                                 const T* b);
template <class T>
void conv1d_gemm_backward_input_batched(const Conv1dProblem& c, T* gx, const T* gy, const T* w);

// --- implicit gemm (issue 10, dense Conv1d kernel) --- conv1d_implicit.cpp. Stride-1 float32
// forward and backward_input; false (nothing computed) for anything else (float64, stride > 1),
// and the caller runs the gemm algorithm instead (backward_weight: below).
template <class T>
bool conv1d_implicit_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b);
template <class T>
bool conv1d_implicit_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w);
// Short rows (at most kConv1dShortRows outputs, batch > 1) with at least
// kConv1dRowsMinChannels outputs per group of the correlation (the forward's output channels,
// backward_input's input channels) run the transposed "rows" tiles where the AVX-512 kernel
// runs, over (sample, position) pairs; others run the tiles per sample.
constexpr std::int64_t kConv1dShortRows = 64, kConv1dRowsMinChannels = 48;
// The short-row tiles' input layout, channels-last with zero margins (threaded over samples):
//   out[(n * (left + len + right) + left + j) * channels + ch] = in[(n * channels + ch) * len + j]
// for j < len, and zero rows in each sample's `left` and `right` margins.
struct Conv1dMargins {
  std::int64_t left, right;
};
void conv1d_channels_last(const float* in, std::int64_t batch, std::int64_t channels,
                          std::int64_t len, Conv1dMargins margins, float* out);
// The margins for a correlation whose output t (t < len_out) reads input positions
// t + off0 .. t + off0 + reach of a row of len_in: as wide as those reads reach past the row,
// so that a tap never reads another sample's block.
inline Conv1dMargins conv1d_channels_last_margins(std::int64_t len_in, std::int64_t len_out,
                                                  std::int64_t off0, std::int64_t reach) {
  return {std::max<std::int64_t>(0, -off0),
          std::max<std::int64_t>(0, len_out + off0 + reach - len_in)};
}
// True when the AVX-512 micro-kernel runs (the CPU has AVX-512 F/BW/DQ/CD/VL and the hook below
// is off); otherwise the implicit algorithm runs a portable micro-kernel (correct, slow).
bool conv1d_implicit_native();
// Testing hook, process-wide: run the portable micro-kernel even on an AVX-512 CPU.
void force_conv1d_implicit_portable(bool portable);

// --- polyphase (issue 10, strided front end) --- conv1d_polyphase.cpp. A stride-s float32
// pass as a stride-1 convolution over phase rows (the plan below): forward and backward_input
// on the implicit algorithm, backward_weight (grad_w required) on the gemm one; false (nothing
// computed) for float64 or stride 1, and the caller runs the gemm algorithm.
struct Conv1dPolyphase {
  std::int64_t period = 1;        // s' = s / gcd(d, s): taps r + j*s' share residue r
  std::int64_t phases = 1;        // R = min(s', K) phase rows per input channel
  std::int64_t taps = 1;          // J = ceil(K / s') taps per phase (zero past K)
  std::int64_t dilation = 1;      // d' = d / gcd(d, s), the dilation between a phase's taps
  std::int64_t phase_length = 0;  // Lz = Lout + (J - 1) * d'
  Conv1dProblem inner;            // the stride-1 convolution over [N, Cin * R, Lz]
};
Conv1dPolyphase conv1d_polyphase_plan(const Conv1dProblem& c);
template <class T>
bool conv1d_polyphase_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b);
template <class T>
bool conv1d_polyphase_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w);
template <class T>
bool conv1d_polyphase_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy,
                                      const T* x);
// Testing hook: how many times CpuBackend ran each float conv1d pass (Conv1dPass order:
// forward, backward_input, backward_weight; the fused conv1d_backward counts as its two
// passes), since the last reset. Lets a test prove that a pass was never asked for.
std::int64_t conv1d_pass_count(int pass);
void reset_conv1d_pass_counts();

// --- FFT, overlap-save (issue 10, long kernels) --- conv1d_fft.cpp. Stride-1 float32, any
// padding, dilation and groups; false (nothing computed) for anything else (float64: KissFFT
// computes in float only; stride > 1; a dense kernel over 2^15 taps; a build without KissFFT),
// and the caller runs the gemm algorithm instead. backward_weight also computes grad_b.
template <class T>
bool conv1d_fft_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b);
template <class T>
bool conv1d_fft_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w);
template <class T>
bool conv1d_fft_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy, const T* x);
// True when reel was built with KissFFT (CMake option REEL_FFT).
bool conv1d_fft_available();
// The overlap-save block length (a power of two) for a correlation of in_channels rows into
// out_channels rows with a dense kernel of `dense_kernel` taps (dilation included), out_length
// outputs per row and `batch` samples; 0 when none fits. Testing hook: set_conv1d_fft_block(b) forces
// block b (even, > dense kernel; 0 restores the model), so small problems span many blocks.
std::int64_t conv1d_fft_block(std::int64_t in_channels, std::int64_t out_channels,
                              std::int64_t groups, std::int64_t dense_kernel,
                              std::int64_t out_length, std::int64_t batch);
void set_conv1d_fft_block(std::int64_t block);
// Auto's rule: true where the FFT algorithm was measured >= 1.5x faster than the others, for
// the forward and backward_input passes or (backward_weight true) for backward_weight.
bool conv1d_fft_preferred(const Conv1dProblem& c, bool backward_weight);
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
