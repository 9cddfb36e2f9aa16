// CPU backend, 1-D convolution: validation and the choice of algorithm per call. The
// algorithms themselves are in conv1d_gemm.cpp (dense and grouped: im2col + packed gemm) and
// conv1d_direct.cpp (depthwise: SIMD axpy / dot per kernel tap); conv1d.hpp explains both.
// backends/reference/conv1d.cpp is the oracle they are tested against, and gives the formulas.
//
// Anything unusual goes to the reference backend, which either computes it (strided views,
// empty tensors, complex dtypes) or raises the error both backends share (bad shapes, dtypes,
// parameters); the fast paths only ever see contiguous, consistent float32/float64 buffers.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string_view>
#include <type_traits>

#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/host_memory.hpp"
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace cpu {

namespace {

std::atomic<Conv1dAlgorithm> g_forced{Conv1dAlgorithm::Auto};

// Per-thread scratch, 64-byte aligned; a few independent slots (im2col columns, a staged
// grad_out, a gemm product, phase-split rows).
struct Scratch {
  static constexpr int kSlots = 4;
  void* data[kSlots] = {};
  std::size_t bytes[kSlots] = {};
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    for (void* p : data) std::free(p);
  }
};
thread_local Scratch t_scratch;

bool contiguous(const View& v) { return is_contiguous_layout(v.shape, v.strides); }

// Fills `c` from the views when the fast paths can take them: rank 3, one float dtype,
// contiguous, shapes consistent with the parameters and nothing empty. False sends the call to
// the reference backend (which computes it or raises the proper error). x: [N, Cin, L],
// y: [N, Cout, Lout], w (may be null): [Cout, Cin/G, K].
bool describe(const View& x, const View& y, const View* w, const Conv1dParams& p,
              Conv1dProblem& c) {
  if (!is_float32_or_64(x.dtype) || y.dtype != x.dtype) return false;
  if (x.shape.size() != 3 || y.shape.size() != 3 || x.strides.size() != 3 ||
      y.strides.size() != 3 || !contiguous(x) || !contiguous(y)) {
    return false;
  }
  if (p.stride < 1 || p.dilation < 1 || p.groups < 1 || p.pad_left < 0 || p.pad_right < 0) {
    return false;
  }
  c.batch = x.shape[0];
  c.in_channels = x.shape[1];
  c.length = x.shape[2];
  c.out_channels = y.shape[1];
  c.out_length = y.shape[2];
  c.stride = p.stride;
  c.pad_left = p.pad_left;
  c.dilation = p.dilation;
  c.groups = p.groups;
  if (y.shape[0] != c.batch || c.in_channels % p.groups != 0 || c.out_channels % p.groups != 0) {
    return false;
  }
  c.in_per_group = c.in_channels / p.groups;
  c.out_per_group = c.out_channels / p.groups;
  if (x.numel() == 0 || y.numel() == 0) return false;  // empty: the reference's trivial loops
  if (w != nullptr) {
    if (w->dtype != x.dtype || w->shape.size() != 3 || w->strides.size() != 3 ||
        !contiguous(*w) || w->data == nullptr) {
      return false;
    }
    if (w->shape[0] != c.out_channels || w->shape[1] != c.in_per_group || w->shape[2] < 1) {
      return false;
    }
    c.kernel = w->shape[2];
    // Raises the shared error (the reference would raise the same) on an impossible geometry.
    if (c.out_length != p.out_length(c.length, c.kernel)) return false;
  }
  // A stride longer than the row (out_length is then ~ padding / stride): the fast paths' phase
  // buffers are `stride` long per row, and their index arithmetic (offset % stride + stride)
  // assumes a stride of a row's order, so such rare calls go to the reference loops.
  if (p.stride > c.length) return false;
  return true;
}

bool bias_ok(const View& b, const View& x, std::int64_t channels) {
  return b.dtype == x.dtype && b.shape.size() == 1 && b.strides.size() == 1 &&
         b.shape[0] == channels && (channels == 1 || b.strides[0] == 1);
}

// The algorithm for one call. With one input channel per group (depthwise, any multiplier),
// each group's gemm is (Cout/G) x K by K x Lout: tiny on both inner sides unless the group has
// many outputs *and* a long kernel (a raw-audio front end: 1 -> 32 channels, k = 80), so the
// direct kernel streams those instead. Everything else is a gemm of Cout/G x (Cin/G * K)
// weights by columns of taps. (Thresholds measured on bench/conv1d's shapes and neighbours.)
Conv1dAlgorithm choose(const Conv1dProblem& c, bool backward_weight = false) {
  const Conv1dAlgorithm forced = g_forced.load(std::memory_order_relaxed);
  if (forced != Conv1dAlgorithm::Auto) return forced;
  // --- FFT (issue 10, long kernels): conv1d_fft.cpp's measured rule (per pass: the weight
  // gradient has no Implicit rival); float32 stride 1 only (float64 calls it is chosen for run
  // Gemm, bfloat16 ones too: the fft functions return false). Never under
  // use_deterministic_algorithms: its rounding is that of the transforms, not of the sum.
  if (!deterministic_algorithms() && conv1d_fft_preferred(c, backward_weight))
    return Conv1dAlgorithm::Fft;
  const bool thin_gemm = c.out_per_group < 16 || c.kernel < 16;
  if (c.in_per_group == 1 && thin_gemm) return Conv1dAlgorithm::Direct;
  // --- short rows (issue 10) --- Rows of at most kConv1dShortRows outputs: one product per chunk of
  // samples (GemmBatched) instead of one per sample, whose packing and edge panels dominate.
  // Threshold from bench_conv1d_short_rows' sweep of L at the Fashion-MNIST channel counts (one
  // thread, CPU time): forward 2.5-2.9x at L 7, 1.5x at 28, 1.1x at 64; backward_input
  // 1.6-1.8x at 7-28, 1.15-1.3x at 64; about even (1.0-1.15x) at 96-128.
  if (c.batch > 1 && c.out_length <= kConv1dShortRows) return Conv1dAlgorithm::GemmBatched;
  return Conv1dAlgorithm::Gemm;
}

// --- implicit backward_weight (issue 10, dense backward) ---
// Auto's choice for backward_weight alone: where choose() says Gemm, the implicit grad_W
// (conv1d_wgrad.cpp) runs instead when its AVX-512 kernel does, the rows are long enough for
// its vector steps and a block's x rows fit in L2 (bench_conv1d_algorithms, 2 threads: 1.8-4.2x
// the Gemm grad_W on the dense 64/128, grouped, TCN and WaveNet shapes; 0.78x on 256 input
// channels of 256 positions, which keeps Gemm).
// Short rows (where choose() says GemmBatched) with at least kConv1dRowsMinChannels outputs per
// group take its transposed short-row tiles (conv1d_wgrad.cpp): 1.1-1.3x the gemm's grad_W on
// the Fashion-MNIST shapes (same benchmark).
bool implicit_wgrad_wins(const Conv1dProblem& c, Conv1dAlgorithm algorithm) {
  if (g_forced.load(std::memory_order_relaxed) != Conv1dAlgorithm::Auto || c.stride != 1 ||
      !conv1d_implicit_native())
    return false;
  if (algorithm == Conv1dAlgorithm::GemmBatched)
    return c.out_per_group >= kConv1dRowsMinChannels;
  return algorithm == Conv1dAlgorithm::Gemm && c.out_length >= 64 && c.in_per_group <= 128;
}

// --- implicit gemm (issue 10, dense Conv1d kernel) --- The choice for float32/float64 forward
// and backward_input: where choose() says Gemm, a stride-1 float32 call takes the implicit
// gemm when the AVX-512 micro-kernel runs (bench_conv1d_algorithms: 1.0-1.8x the Gemm
// algorithm's speed on bench/conv1d's dense and grouped shapes, never slower beyond noise).
// bfloat16 keeps choose()'s answer (its gemm multiplies in bf16 pairs). Only while the SIMD
// kernels in use are AVX-512's: with another architecture forced (force_simd_arch), the gemm's
// micro-kernel rounds like that architecture, and streaming's bitwise equality (a step is a
// matmul) holds only if the full forward rounds the same way. (Both round as one FMA per
// (channel, tap) in every build since the SIMD kernels call the FMA intrinsic themselves,
// simd_detail::fused; before, the sanitizer build left xsimd's AVX-512 fma as a multiply and
// an add, and the streaming test caught the difference.)
//
// Short rows too, where choose() says GemmBatched and the correlation has enough output channels
// for the implicit gemm's transposed "rows" tiles (conv1d_implicit.cpp; `channels`: the forward's
// Cout/G, backward_input's Cin/G): bench_conv1d_algorithms (2 threads) measured them 1.1-1.4x
// GemmBatched on the Fashion-MNIST shapes' forward and 64/128-channel input gradients.
Conv1dAlgorithm choose_wide(const Conv1dProblem& c, DType dtype, std::int64_t channels) {
  const Conv1dAlgorithm algorithm = choose(c);
  const bool gemm = algorithm == Conv1dAlgorithm::Gemm ||
                    (algorithm == Conv1dAlgorithm::GemmBatched && channels >= kConv1dRowsMinChannels);
  if (gemm && g_forced.load(std::memory_order_relaxed) == Conv1dAlgorithm::Auto &&
      dtype == kFloat32 && c.stride == 1 && conv1d_implicit_native() &&
      std::string_view(simd_kernels().arch_name) == "avx512bw")
    return Conv1dAlgorithm::Implicit;
  return algorithm;
}

// --- polyphase (issue 10, strided front end) ---
// The float32 forward's choice: choose()'s, or the polyphase algorithm (conv1d_polyphase.cpp)
// for a strided convolution where the AVX-512 implicit kernel runs, with at least 4 outputs per
// group (the kernel's 6- or 8-row panels; fewer would leave most rows zero) and 3 taps, and
// either at most 16 inputs per group or at most 1/8 of zero taps (K not a multiple of s' pads
// each short phase with one). bench_conv1d_polyphase measured it 1.1x-7x faster than the best
// of Gemm and Direct over its sweep (N 8, L 16000, stride 2-8, K 10-400, Cout 16-128, Cin 1-4,
// dense and depthwise x8) and its --wide shapes (Cin 16/64, k 3/4/8, stride 2; Cout 4; k 4),
// except 64 -> 128 k 3 stride 2 (0.9: a third of its taps zero, against an efficient gemm),
// which the last condition leaves to Gemm (docs/benchmarks.md). 1x1 and depthwise convolutions
// with fewer than 4 outputs per group were not measured and keep choose()'s pick. The backward
// passes and other dtypes keep choose()'s pick too (no clear gain measured).
// Under use_deterministic_algorithms, never: its sums run over (phase, tap) instead of (channel,
// tap), a different rounding from the direct-summation algorithms.
Conv1dAlgorithm choose_forward_float32(const Conv1dProblem& c) {
  const Conv1dAlgorithm algorithm = choose_wide(c, kFloat32, c.out_per_group);
  if (g_forced.load(std::memory_order_relaxed) != Conv1dAlgorithm::Auto) return algorithm;
  if (deterministic_algorithms()) return algorithm;
  if (c.stride == 1 || c.out_per_group < 4 || c.kernel < 3 || !conv1d_implicit_native())
    return algorithm;
  const Conv1dPolyphase q = conv1d_polyphase_plan(c);
  const bool few_zero_taps = q.phases * q.taps * 8 <= c.kernel * 9;
  return c.in_per_group <= 16 || few_zero_taps ? Conv1dAlgorithm::Polyphase : algorithm;
}

// Calls per pass, a testing hook (conv1d.hpp).
std::atomic<std::int64_t> g_pass_calls[3] = {0, 0, 0};
void count_pass(Conv1dPass pass) {
  g_pass_calls[static_cast<int>(pass)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::int64_t conv1d_pass_count(int pass) {
  return pass >= 0 && pass < 3 ? g_pass_calls[pass].load(std::memory_order_relaxed) : 0;
}
void reset_conv1d_pass_counts() {
  for (auto& n : g_pass_calls) n.store(0, std::memory_order_relaxed);
}

void force_conv1d_algorithm(Conv1dAlgorithm algorithm) {
  g_forced.store(algorithm, std::memory_order_relaxed);
}

void* conv1d_scratch(int slot, std::size_t bytes) {
  Scratch& s = t_scratch;
  bytes = (bytes + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  if (bytes > s.bytes[slot]) {
    std::free(s.data[slot]);
    s.data[slot] = std::aligned_alloc(64, bytes);
    s.bytes[slot] = s.data[slot] ? bytes : 0;
    if (s.data[slot] == nullptr) fail_host_allocation(bytes);
  }
  return s.data[slot];
}

template <class T>
void conv1d_bias_grad(const Conv1dProblem& c, T* gb, const T* gy) {
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const std::int64_t grain = std::max<std::int64_t>(1, 65536 / (c.batch * c.out_length));
  // Issue 10: rows of a few positions (Fashion-MNIST's L 7-28) made one sum_kernel call per
  // (sample, channel) mostly tail handling. Instead each task adds its channels' run of
  // (c1 - c0) * Lout elements, sample after sample, into double accumulators lane by lane
  // (norm_sums with no shift, the norms' kernel), then sums each channel's Lout accumulators:
  // the whole sum in double, in an order independent of the thread count.
  parallel_for(0, c.out_channels, grain, [&](std::int64_t c0, std::int64_t c1) {
    const std::int64_t run = (c1 - c0) * c.out_length;
    CachedBuffer<double> acc(3 * run);
    double* sums = acc.data;
    double* squares = acc.data + run;  // unused
    double* zero = acc.data + 2 * run;
    std::fill_n(acc.data, 3 * run, 0.0);
    for (std::int64_t n = 0; n < c.batch; ++n)
      kern.norm_sums(run, gy + (n * c.out_channels + c0) * c.out_length, zero, sums, squares);
    for (std::int64_t co = c0; co < c1; ++co) {
      double total = 0.0;
      for (std::int64_t t = 0; t < c.out_length; ++t) total += sums[(co - c0) * c.out_length + t];
      gb[co] = static_cast<T>(total);
    }
  });
}

template void conv1d_bias_grad<float>(const Conv1dProblem&, float*, const float*);
template void conv1d_bias_grad<double>(const Conv1dProblem&, double*, const double*);

}  // namespace cpu

using namespace cpu;

// --- CPU bfloat16 kernels (issue 9) ---------------------------------------------------------
// bfloat16 views (supports() says yes for the three primitives): the gemm algorithm's bf16
// twins, the direct algorithm's depthwise bf16 kernels (conv1d_depthwise_bf16.cpp; other
// groups forced onto Direct run it on float32 copies, conv1d_bf16_widened), and anything else
// (strided, empty, odd geometry) through conv1d_bf16_fallback's float32 views, which computes
// or raises the shared error. Views of mixed dtypes go to the reference for its dtype error.
namespace {
using U16 = std::uint16_t;
bool all_bf16(std::initializer_list<const View*> views) {
  for (const View* v : views)
    if (v->data != nullptr && v->dtype != kBFloat16) return false;
  return true;
}
// describe() for bfloat16 views: it takes float32/float64 only, so ask it about a float32
// twin with the same shapes and strides.
bool describe_bf16(const View& x, const View& y, const View* w, const Conv1dParams& p,
                   Conv1dProblem& c) {
  View xf = x, yf = y, wf = w ? *w : View{};
  xf.dtype = yf.dtype = wf.dtype = kFloat32;
  return describe(xf, yf, w ? &wf : nullptr, p, c);
}
bool bias_ok_bf16(const View& b, std::int64_t channels) {
  return b.shape.size() == 1 && b.strides.size() == 1 && b.shape[0] == channels &&
         (channels == 1 || b.strides[0] == 1);
}
}  // namespace

void CpuBackend::conv1d_forward_impl(const View& out, const View& in, const View& weight,
                                const View& bias, const Conv1dParams& p) {
  count_pass(Conv1dPass::Forward);
  Conv1dProblem c;
  const bool has_bias = bias.data != nullptr;
  if (in.dtype == kBFloat16) {
    if (!all_bf16({&out, &in, &weight, &bias}))
      return ReferenceBackend::conv1d_forward_impl(out, in, weight, bias, p);
    if (!describe_bf16(in, out, &weight, p, c) || (has_bias && !bias_ok_bf16(bias, c.out_channels)))
      return conv1d_bf16_fallback(0, out, in, weight, bias, p);
    const U16* b = has_bias ? bias.ptr<const U16>() : nullptr;
    const Conv1dAlgorithm algorithm = choose(c);
    if (algorithm == Conv1dAlgorithm::Gemm || algorithm == Conv1dAlgorithm::Fft ||  // fft: float32
        algorithm == Conv1dAlgorithm::GemmBatched)
      return conv1d_gemm_forward_bf16(c, out.ptr<U16>(), in.ptr<const U16>(), weight.ptr<const U16>(), b);
    if (algorithm == Conv1dAlgorithm::Direct && c.in_per_group == 1)  // depthwise: vdpbf16ps
      return conv1d_depthwise_forward_bf16(c, out.ptr<U16>(), in.ptr<const U16>(),
                                           weight.ptr<const U16>(), b);
    if (algorithm == Conv1dAlgorithm::Direct)
      return conv1d_bf16_widened(Conv1dPass::Forward, algorithm, c, out.ptr<U16>(), nullptr,
                                 in.ptr<const U16>(), weight.ptr<const U16>(), b);
    return conv1d_bf16_fallback(0, out, in, weight, bias, p);  // forced Reference
  }
  if (!describe(in, out, &weight, p, c) || (has_bias && !bias_ok(bias, in, c.out_channels))) {
    return ReferenceBackend::conv1d_forward_impl(out, in, weight, bias, p);
  }
  const Conv1dAlgorithm algorithm =
      in.dtype == kFloat32 ? choose_forward_float32(c) : choose_wide(c, in.dtype, c.out_per_group);
  if (algorithm == Conv1dAlgorithm::Reference) {
    return ReferenceBackend::conv1d_forward_impl(out, in, weight, bias, p);
  }
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      const T* b = has_bias ? bias.ptr<const T>() : nullptr;
      if (algorithm == Conv1dAlgorithm::Direct)
        conv1d_direct_forward<T>(c, out.ptr<T>(), in.ptr<const T>(), weight.ptr<const T>(), b);
      else if (algorithm == Conv1dAlgorithm::Fft &&  // false: not float32 stride 1
               conv1d_fft_forward<T>(c, out.ptr<T>(), in.ptr<const T>(), weight.ptr<const T>(), b))
        return;
      else if (algorithm == Conv1dAlgorithm::Implicit &&  // false: not float32 stride 1
               conv1d_implicit_forward<T>(c, out.ptr<T>(), in.ptr<const T>(), weight.ptr<const T>(), b))
        return;
      else if (algorithm == Conv1dAlgorithm::Polyphase &&  // false: not float32 stride > 1
               conv1d_polyphase_forward<T>(c, out.ptr<T>(), in.ptr<const T>(), weight.ptr<const T>(), b))
        return;
      else if (algorithm == Conv1dAlgorithm::GemmBatched)  // short rows (issue 10)
        conv1d_gemm_forward_batched<T>(c, out.ptr<T>(), in.ptr<const T>(), weight.ptr<const T>(), b);
      else
        conv1d_gemm_forward<T>(c, out.ptr<T>(), in.ptr<const T>(), weight.ptr<const T>(), b);
    }
  });
}

void CpuBackend::conv1d_backward_input_impl(const View& grad_in, const View& grad_out,
                                       const View& weight, const Conv1dParams& p) {
  count_pass(Conv1dPass::BackwardInput);
  Conv1dProblem c;
  if (grad_out.dtype == kBFloat16) {
    if (!all_bf16({&grad_in, &grad_out, &weight}))
      return ReferenceBackend::conv1d_backward_input_impl(grad_in, grad_out, weight, p);
    if (!describe_bf16(grad_in, grad_out, &weight, p, c))
      return conv1d_bf16_fallback(1, grad_in, grad_out, weight, View{}, p);
    const Conv1dAlgorithm algorithm = choose(c);
    if (algorithm == Conv1dAlgorithm::Gemm || algorithm == Conv1dAlgorithm::Fft ||  // fft: float32
        algorithm == Conv1dAlgorithm::GemmBatched)
      return conv1d_gemm_backward_input_bf16(c, grad_in.ptr<U16>(), grad_out.ptr<const U16>(),
                                             weight.ptr<const U16>());
    if (algorithm == Conv1dAlgorithm::Direct && c.in_per_group == 1)
      return conv1d_depthwise_backward_input_bf16(c, grad_in.ptr<U16>(), grad_out.ptr<const U16>(),
                                                  weight.ptr<const U16>());
    if (algorithm == Conv1dAlgorithm::Direct)
      return conv1d_bf16_widened(Conv1dPass::BackwardInput, algorithm, c, grad_in.ptr<U16>(),
                                 nullptr, grad_out.ptr<const U16>(), weight.ptr<const U16>(),
                                 nullptr);
    return conv1d_bf16_fallback(1, grad_in, grad_out, weight, View{}, p);
  }
  if (!describe(grad_in, grad_out, &weight, p, c)) {
    return ReferenceBackend::conv1d_backward_input_impl(grad_in, grad_out, weight, p);
  }
  const Conv1dAlgorithm algorithm = choose_wide(c, grad_in.dtype, c.in_per_group);
  if (algorithm == Conv1dAlgorithm::Reference) {
    return ReferenceBackend::conv1d_backward_input_impl(grad_in, grad_out, weight, p);
  }
  visit_wide_dtype(grad_in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      if (algorithm == Conv1dAlgorithm::Direct)
        conv1d_direct_backward_input<T>(c, grad_in.ptr<T>(), grad_out.ptr<const T>(), weight.ptr<const T>());
      else if (algorithm == Conv1dAlgorithm::Fft &&
               conv1d_fft_backward_input<T>(c, grad_in.ptr<T>(), grad_out.ptr<const T>(),
                                            weight.ptr<const T>()))
        return;
      else if (algorithm == Conv1dAlgorithm::Implicit &&  // false: not float32 stride 1
               conv1d_implicit_backward_input<T>(c, grad_in.ptr<T>(), grad_out.ptr<const T>(),
                                                 weight.ptr<const T>()))
        return;
      else if (algorithm == Conv1dAlgorithm::Polyphase &&  // false: not float32 stride > 1
               conv1d_polyphase_backward_input<T>(c, grad_in.ptr<T>(), grad_out.ptr<const T>(),
                                                  weight.ptr<const T>()))
        return;
      else if (algorithm == Conv1dAlgorithm::GemmBatched)  // short rows (issue 10)
        conv1d_gemm_backward_input_batched<T>(c, grad_in.ptr<T>(), grad_out.ptr<const T>(),
                                              weight.ptr<const T>());
      else
        conv1d_gemm_backward_input<T>(c, grad_in.ptr<T>(), grad_out.ptr<const T>(), weight.ptr<const T>());
    }
  });
}

void CpuBackend::conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                        const View& grad_out, const View& in,
                                        const Conv1dParams& p) {
  count_pass(Conv1dPass::BackwardWeight);
  const bool want_weight = grad_weight.data != nullptr;
  const bool want_bias = grad_bias.data != nullptr;
  if (!want_weight && !want_bias) return;  // nothing requested, nothing computed
  Conv1dProblem c;
  if (grad_out.dtype == kBFloat16) {
    if (!all_bf16({&grad_weight, &grad_bias, &grad_out, &in}))
      return ReferenceBackend::conv1d_backward_weight_impl(grad_weight, grad_bias, grad_out, in, p);
    if (!describe_bf16(in, grad_out, want_weight ? &grad_weight : nullptr, p, c) ||
        (want_bias && !bias_ok_bf16(grad_bias, c.out_channels)))
      return conv1d_bf16_fallback(2, grad_weight, grad_bias, grad_out, in, p);
    U16* gb = want_bias ? grad_bias.ptr<U16>() : nullptr;
    if (!want_weight) return conv1d_bias_grad_bf16(c, gb, grad_out.ptr<const U16>());
    const Conv1dAlgorithm algorithm = choose(c);
    if (algorithm == Conv1dAlgorithm::Gemm || algorithm == Conv1dAlgorithm::Fft ||  // fft: float32
        algorithm == Conv1dAlgorithm::GemmBatched)
      return conv1d_gemm_backward_weight_bf16(c, grad_weight.ptr<U16>(), gb,
                                              grad_out.ptr<const U16>(), in.ptr<const U16>());
    if (algorithm == Conv1dAlgorithm::Direct && c.in_per_group == 1)
      return conv1d_depthwise_backward_weight_bf16(c, grad_weight.ptr<U16>(), gb,
                                                   grad_out.ptr<const U16>(), in.ptr<const U16>());
    if (algorithm == Conv1dAlgorithm::Direct)
      return conv1d_bf16_widened(Conv1dPass::BackwardWeight, algorithm, c, grad_weight.ptr<U16>(),
                                 gb, grad_out.ptr<const U16>(), in.ptr<const U16>(), nullptr);
    return conv1d_bf16_fallback(2, grad_weight, grad_bias, grad_out, in, p);
  }
  if (!describe(in, grad_out, want_weight ? &grad_weight : nullptr, p, c) ||
      (want_bias && !bias_ok(grad_bias, in, c.out_channels))) {
    return ReferenceBackend::conv1d_backward_weight_impl(grad_weight, grad_bias, grad_out, in, p);
  }
  const Conv1dAlgorithm algorithm = choose(c, /*backward_weight=*/true);
  if (algorithm == Conv1dAlgorithm::Reference) {
    return ReferenceBackend::conv1d_backward_weight_impl(grad_weight, grad_bias, grad_out, in, p);
  }
  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      T* gw = want_weight ? grad_weight.ptr<T>() : nullptr;
      T* gb = want_bias ? grad_bias.ptr<T>() : nullptr;
      if (gw == nullptr) return conv1d_bias_grad<T>(c, gb, grad_out.ptr<const T>());
      if (algorithm == Conv1dAlgorithm::Direct)
        conv1d_direct_backward_weight<T>(c, gw, gb, grad_out.ptr<const T>(), in.ptr<const T>());
      else if (algorithm == Conv1dAlgorithm::Polyphase &&  // false: not float32 stride > 1
               conv1d_polyphase_backward_weight<T>(c, gw, gb, grad_out.ptr<const T>(), in.ptr<const T>()))
        return;
      else if (algorithm == Conv1dAlgorithm::Fft &&
               conv1d_fft_backward_weight<T>(c, gw, gb, grad_out.ptr<const T>(), in.ptr<const T>()))
        return;
      else if ((algorithm == Conv1dAlgorithm::Implicit || implicit_wgrad_wins(c, algorithm)) &&
               conv1d_implicit_backward_weight<T>(c, gw, gb, grad_out.ptr<const T>(),
                                                  in.ptr<const T>()))  // false: not float32 stride 1
        return;
      else
        conv1d_gemm_backward_weight<T>(c, gw, gb, grad_out.ptr<const T>(), in.ptr<const T>());
    }
  });
}

}  // namespace reel::backends
