// bfloat16 depthwise conv1d (one input channel per group, any channel multiplier) with AVX-512
// BF16 (conv1d.hpp, "bfloat16"): the rows and tap tables around the vdpbf16ps kernels of
// conv1d_depthwise_bf16.avx512bf16.cpp. Where the native path is not active (a CPU without
// avx512_bf16, or force_gemm_bf16_portable / REEL_BF16_GEMM=portable) each pass runs the float32
// direct algorithm on widened copies instead (conv1d_bf16_widened): the same contract, every
// product accumulated in float32 and each output rounded to bfloat16 once.
//
// The three passes, for one input row x (channel ci of sample n) and its m = Cout / Cin output
// rows co = ci * m + j:
//
//   forward          y[co][t] = b[co] + sum_k w[co][k] * x[t*s + k*dil - pad_left]. The row is
//                    copied once into a zero-padded bfloat16 buffer, split into its s phases
//                    (phase r holds padded positions r, r + s, ...), so tap k reads phase
//                    (k*dil) % s from slot t + (k*dil) / s: contiguous in t for any stride. The
//                    kernel pairs taps (k, k+1) per vdpbf16ps. Padding is the buffer's zeros.
//   backward_input   grad_x[i] = sum_{j,k} w[ci*m+j][k] * grad_y[ci*m+j][t] over the (t, k)
//                    with t*s = i + pad_left - k*dil: a correlation of the zero-padded grad_y
//                    rows with the flipped taps. For s > 1 it splits by the phase of i (i % s):
//                    only the taps whose residue matches reach a phase, each contiguous in
//                    i / s, and the phase's outputs are interleaved back into grad_x.
//   backward_weight  grad_w[co][k] = sum_n sum_t grad_y[n][co][t] * x[n][ci][t*s + off(k)]:
//                    one dot product per (sample, tap) over the valid positions (those of the
//                    float32 direct algorithm, with x's phases for s > 1), pairing consecutive
//                    t straight from memory; float32 within a row, double over samples, rounded
//                    once. grad_bias in the same pass: each grad_y row's float32 sum (a
//                    vdpbf16ps against pairs of 1.0), double over samples, rounded once.
//
// Threads: over (sample, input channel) rows for forward and backward_input, over input
// channels for backward_weight (the sum over samples stays inside a task), as conv1d_direct.cpp.
#include <algorithm>
#include <cstring>

#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/gemm_bf16.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

using U = std::uint16_t;

constexpr std::int64_t kTaskElements = 1 << 15;  // fewest multiply-adds worth a task (as direct)
constexpr std::int64_t kVec = 32;                // bfloat16 positions per kernel step

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
constexpr std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }
// a / b rounded towards minus infinity (b > 0).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

std::int64_t task_grain(std::int64_t work_per_item) {
  return std::max<std::int64_t>(1, kTaskElements / std::max<std::int64_t>(1, work_per_item));
}

// The s phases of a row of `length` values seen through `pad` leading zeros (and zeros after
// its end): out[r * plen + q] = row[q*s + r - pad], or +0 outside [0, length); plen slots each.
void padded_phases(const U* row, std::int64_t length, std::int64_t pad, std::int64_t s,
                   std::int64_t plen, U* out) {
  for (std::int64_t r = 0; r < s; ++r) {
    U* dst = out + r * plen;
    // q*s + r - pad in [0, length)  <=>  q in [ceil((pad - r) / s), ceil((length + pad - r) / s))
    const std::int64_t lo = std::clamp(-floor_div(r - pad, s), std::int64_t{0}, plen);
    const std::int64_t hi = std::clamp(-floor_div(r - pad - length, s), lo, plen);
    std::fill(dst, dst + lo, U{0});
    if (s == 1) {
      if (hi > lo) std::memcpy(dst + lo, row + lo - pad, static_cast<std::size_t>(hi - lo) * sizeof(U));
    } else {
      for (std::int64_t q = lo; q < hi; ++q) dst[q] = row[q * s + r - pad];
    }
    std::fill(dst + hi, dst + plen, U{0});
  }
}

bool native() { return gemm_bf16_native_active(); }

}  // namespace

void conv1d_depthwise_forward_bf16(const Conv1dProblem& c, U* y, const U* x, const U* w,
                                   const U* b) {
  if (!native())
    return conv1d_bf16_widened(Conv1dPass::Forward, Conv1dAlgorithm::Direct, c, y, nullptr, x, w, b);
  const std::int64_t s = c.stride, K = c.kernel, m = c.out_per_group;
  // Tap k reads padded position t*s + k*dil: phase (k*dil) % s, slot t + (k*dil) / s, for t up
  // to out_length rounded up to the kernel's 32 (the slots past out_length feed lanes that are
  // not stored).
  const std::int64_t plen = round_up(c.out_length, kVec) + (K - 1) * c.dilation / s;
  parallel_for(0, c.batch * c.in_channels, task_grain(m * K * c.out_length),
               [&](std::int64_t u0, std::int64_t u1) {
    U* rows = scratch<U>(0, s * plen);
    const U** src = scratch<const U*>(1, K);
    for (std::int64_t k = 0; k < K; ++k) {
      const std::int64_t off = k * c.dilation;
      src[k] = rows + off % s * plen + off / s;
    }
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / c.in_channels, ci = u % c.in_channels;
      padded_phases(x + u * c.length, c.length, c.pad_left, s, plen, rows);
      for (std::int64_t j = 0; j < m; ++j) {
        const std::int64_t co = ci * m + j;
        const float bias = b ? bf16_bits_to_f32(b[co]) : 0.0f;
        detail::dw_bf16_correlate_avx512bf16(c.out_length, K, src, w + co * K, bias,
                                             y + (n * c.out_channels + co) * c.out_length);
      }
    }
  });
}

void conv1d_depthwise_backward_input_bf16(const Conv1dProblem& c, U* gx, const U* gy,
                                          const U* w) {
  if (!native()) {
    return conv1d_bf16_widened(Conv1dPass::BackwardInput, Conv1dAlgorithm::Direct, c, gx,
                               nullptr, gy, w, nullptr);
  }
  const std::int64_t s = c.stride, K = c.kernel, m = c.out_per_group;
  // grad_x[q*s + rho] reads grad_y[q + (rho + pad_left - k*dil) / s] for the taps whose
  // numerator is a multiple of s. `front` leading zeros keep the smallest index >= 0; the
  // length covers the largest (rho = s - 1, k = 0) over q rounded up to 32.
  const std::int64_t front = std::max<std::int64_t>(0, ceil_div((K - 1) * c.dilation - c.pad_left, s));
  const std::int64_t phase_len = ceil_div(c.length, s);  // positions of phase 0, the longest
  const std::int64_t glen = round_up(phase_len, kVec) + front + (s - 1 + c.pad_left) / s + 1;
  parallel_for(0, c.batch * c.in_channels, task_grain(m * K * c.out_length),
               [&](std::int64_t u0, std::int64_t u1) {
    U* rows = scratch<U>(0, m * glen);
    const U** src = scratch<const U*>(1, m * K);
    U* wt = scratch<U>(2, m * K);
    U* tmp = s == 1 ? nullptr : scratch<U>(3, phase_len);
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t n = u / c.in_channels, ci = u % c.in_channels;
      for (std::int64_t j = 0; j < m; ++j) {
        padded_phases(gy + (n * c.out_channels + ci * m + j) * c.out_length, c.out_length, front,
                      1, glen, rows + j * glen);
      }
      U* dst = gx + u * c.length;
      for (std::int64_t rho = 0; rho < s; ++rho) {
        std::int64_t taps = 0;
        for (std::int64_t j = 0; j < m; ++j) {
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t d = rho + c.pad_left - k * c.dilation;
            if (floor_div(d, s) * s != d) continue;  // tap k never lands on this phase
            src[taps] = rows + j * glen + front + d / s;
            wt[taps++] = w[(ci * m + j) * K + k];
          }
        }
        const std::int64_t count = ceil_div(c.length - rho, s);
        if (s == 1) {
          detail::dw_bf16_correlate_avx512bf16(count, taps, src, wt, 0.0f, dst);
          continue;
        }
        detail::dw_bf16_correlate_avx512bf16(count, taps, src, wt, 0.0f, tmp);
        for (std::int64_t q = 0; q < count; ++q) dst[q * s + rho] = tmp[q];
      }
    }
  });
}

void conv1d_depthwise_backward_weight_bf16(const Conv1dProblem& c, U* gw, U* gb, const U* gy,
                                           const U* x) {
  if (!native()) {
    return conv1d_bf16_widened(Conv1dPass::BackwardWeight, Conv1dAlgorithm::Direct, c, gw, gb,
                               gy, x, nullptr);
  }
  const std::int64_t s = c.stride, K = c.kernel, m = c.out_per_group;
  const std::int64_t plen = ceil_div(c.length, s);  // x's phases (s > 1), unpadded
  parallel_for(0, c.in_channels, task_grain(c.batch * m * K * c.out_length),
               [&](std::int64_t c0, std::int64_t c1) {
    double* acc = scratch<double>(1, m * K + m);  // grad_w's m * K, then grad_b's m
    double* bias_acc = acc + m * K;
    U* phases = s == 1 ? nullptr : scratch<U>(0, s * plen);
    for (std::int64_t ci = c0; ci < c1; ++ci) {
      std::fill_n(acc, m * K + m, 0.0);
      for (std::int64_t n = 0; n < c.batch; ++n) {
        const U* xrow = x + (n * c.in_channels + ci) * c.length;
        if (s > 1) padded_phases(xrow, c.length, 0, s, plen, phases);
        for (std::int64_t j = 0; j < m; ++j) {
          const U* grad = gy + (n * c.out_channels + ci * m + j) * c.out_length;
          // grad_b here, while the row is in cache (as the float32 direct kernel does).
          if (gb != nullptr)
            bias_acc[j] += static_cast<double>(detail::dw_bf16_sum_avx512bf16(c.out_length, grad));
          for (std::int64_t k = 0; k < K; ++k) {
            // Positions t whose tap reads inside x; tap k reads x[t*s + off] = phase
            // off mod s at t + floor(off / s).
            const std::int64_t lo = c.valid_lo(k), hi = std::max(c.valid_hi(k), lo);
            if (hi == lo) continue;
            const std::int64_t off = c.offset(k);
            const std::int64_t q = floor_div(off, s);
            const U* in = s == 1 ? xrow + (lo + off) : phases + (off - q * s) * plen + (lo + q);
            acc[j * K + k] += static_cast<double>(
                detail::dw_bf16_dot_avx512bf16(hi - lo, grad + lo, in));
          }
        }
      }
      for (std::int64_t q = 0; q < m * K; ++q)
        gw[ci * m * K + q] = f32_to_bf16_bits(static_cast<float>(acc[q]));
      if (gb != nullptr)
        for (std::int64_t j = 0; j < m; ++j)
          gb[ci * m + j] = f32_to_bf16_bits(static_cast<float>(bias_acc[j]));
    }
  });
}

}  // namespace reel::backends::cpu
