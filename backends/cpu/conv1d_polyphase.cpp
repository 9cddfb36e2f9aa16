// conv1d of stride s > 1 as a stride-1 convolution over phases (polyphase decomposition; issue
// 10's strided raw-audio front end). Tap k of output position t reads x[t*s + k*d - P] (d the
// dilation, P the left padding). With g = gcd(d, s), s' = s/g and d' = d/g, the taps
// k = r + j*s' (r < s', j >= 0) of one residue r read
//
//   x[t*s + a_r + j*s*d']   where a_r = r*d - P,
//
// i.e. position t + j*d' of the phase row z_r[u] = x[u*s + a_r] (0 outside [0, L)). So
//
//   y[n][co][t] = bias[co] + sum over ci, r, j of w[co][ci][r + j*s'] * z[n][ci*R + r][t + j*d']
//
// is a stride-1 convolution with R = min(s', K) phases per input channel as its input
// channels, J = ceil(K/s') taps of dilation d', no padding (the phase rows hold the zeros of
// the padding), run by the implicit algorithm (conv1d_implicit.cpp: AVX-512 micro-kernel,
// weights broadcast, x rows loaded straight). The phase rows are one strided gather of x
// (N * Cin * R * Lz floats, Lz = Lout + (J-1)*d', about the size of x); the weights are
// re-ordered to [Cout][Cin/G * R][J], zero where r + j*s' >= K (K not a multiple of s': at most
// one zero tap per phase). Every dilation decomposes (when g > 1 only s' of the s residues are
// ever read). The sum for one output runs over (ci, r, j), not the gemm's (ci, k): results
// differ from the gemm algorithm's by float rounding only.
//
// Float32 only: float64 and stride 1 return false (the caller runs the gemm algorithm). The
// backward passes below run the same decomposition when the algorithm is forced; choose()
// keeps the gemm algorithm for them (no clear gain measured, docs/benchmarks.md).
#include <algorithm>
#include <cstring>
#include <numeric>
#include <type_traits>

#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

Conv1dPolyphase conv1d_polyphase_plan(const Conv1dProblem& c) {
  Conv1dPolyphase q;
  const std::int64_t g = std::gcd(c.dilation, c.stride);
  q.period = c.stride / g;
  q.phases = std::min(q.period, c.kernel);
  q.taps = ceil_div(c.kernel, q.period);
  q.dilation = c.dilation / g;
  q.phase_length = c.out_length + (q.taps - 1) * q.dilation;
  q.inner.batch = c.batch;
  q.inner.in_channels = c.in_channels * q.phases;
  q.inner.out_channels = c.out_channels;
  q.inner.length = q.phase_length;
  q.inner.out_length = c.out_length;
  q.inner.kernel = q.taps;
  q.inner.in_per_group = c.in_per_group * q.phases;
  q.inner.out_per_group = c.out_per_group;
  q.inner.stride = 1;
  q.inner.pad_left = 0;
  q.inner.dilation = q.dilation;
  q.inner.groups = c.groups;
  return q;
}

namespace {
// The phase rows: z[n][ci*R + r][u] = x[n][ci][u*s + r*d - P], 0 outside [0, L).
void gather_phases(const Conv1dProblem& c, const Conv1dPolyphase& q, const float* x, float* z) {
  const std::int64_t rows = c.batch * c.in_channels * q.phases;
  parallel_for(0, rows, std::max<std::int64_t>(1, 16384 / q.phase_length),
               [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t row = r0; row < r1; ++row) {
      const std::int64_t r = row % q.phases, nci = row / q.phases;
      const float* src = x + nci * c.length;
      float* dst = z + row * q.phase_length;
      const std::int64_t a = r * c.dilation - c.pad_left;  // x position of u = 0
      // u reads inside [0, L) for lo <= u < hi.
      const std::int64_t lo = a >= 0 ? 0 : std::min(q.phase_length, ceil_div(-a, c.stride));
      const std::int64_t hi =
          a >= c.length ? lo
                        : std::clamp<std::int64_t>(ceil_div(c.length - a, c.stride), lo, q.phase_length);
      std::fill(dst, dst + lo, 0.0f);
      const std::int64_t s = c.stride;
      if (hi > lo) {  // (the pointer is formed only where it points into the row)
        const float* p = src + a + lo * s;
        for (std::int64_t u = lo; u < hi; ++u, p += s) dst[u] = *p;
      }
      std::fill(dst + hi, dst + q.phase_length, 0.0f);
    }
  });
}

// The weights, re-ordered for the inner convolution: w'[co][ci*R + r][j] = w[co][ci][r + j*s']
// (0 past K).
void reorder_weights(const Conv1dProblem& c, const Conv1dPolyphase& q, const float* w, float* wq) {
  const std::int64_t inner_in = q.inner.in_per_group;
  for (std::int64_t co = 0; co < c.out_channels; ++co) {
    for (std::int64_t ci = 0; ci < c.in_per_group; ++ci) {
      const float* wk = w + (co * c.in_per_group + ci) * c.kernel;
      float* dst = wq + (co * inner_in + ci * q.phases) * q.taps;
      for (std::int64_t r = 0; r < q.phases; ++r) {
        for (std::int64_t j = 0; j < q.taps; ++j) {
          const std::int64_t k = r + j * q.period;
          dst[r * q.taps + j] = k < c.kernel ? wk[k] : 0.0f;
        }
      }
    }
  }
}

}  // namespace

template <class T>
bool conv1d_polyphase_forward(const Conv1dProblem& c, T* y, const T* x, const T* w, const T* b) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (c.stride == 1) return false;
    const Conv1dPolyphase q = conv1d_polyphase_plan(c);
    const Conv1dProblem& inner = q.inner;
    const std::int64_t rows = c.batch * c.in_channels * q.phases;
    CachedBuffer<float> z(rows * q.phase_length);
    gather_phases(c, q, x, z.data);
    CachedBuffer<float> wq(c.out_channels * inner.in_per_group * q.taps);
    reorder_weights(c, q, w, wq.data);
    return conv1d_implicit_forward<float>(inner, y, z.data, wq.data, b);
  }
}

// backward_input by the same decomposition: the phase rows' gradient is the inner stride-1
// convolution's backward_input (the implicit algorithm), gz[n][ci*R + r][u]; each x position
// q = u*s + a_r belongs to at most one (r, u) (the a_r are distinct modulo s), so grad_x is gz
// scattered back, and zero where no tap reads x (phase positions in the padding are dropped).
template <class T>
bool conv1d_polyphase_backward_input(const Conv1dProblem& c, T* gx, const T* gy, const T* w) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (c.stride == 1) return false;
    const Conv1dPolyphase q = conv1d_polyphase_plan(c);
    const Conv1dProblem& inner = q.inner;
    CachedBuffer<float> wq(c.out_channels * inner.in_per_group * q.taps);
    reorder_weights(c, q, w, wq.data);
    const std::int64_t rows = c.batch * c.in_channels * q.phases;
    CachedBuffer<float> gz(rows * q.phase_length);
    if (!conv1d_implicit_backward_input<float>(inner, gz.data, gy, wq.data)) return false;
    // Scatter: one x row per (n, ci) gathers its R phase rows.
    parallel_for(0, c.batch * c.in_channels, std::max<std::int64_t>(1, 16384 / c.length),
                 [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t nci = r0; nci < r1; ++nci) {
        float* dst = gx + nci * c.length;
        std::fill(dst, dst + c.length, 0.0f);
        for (std::int64_t r = 0; r < q.phases; ++r) {
          const float* src = gz.data + (nci * q.phases + r) * q.phase_length;
          const std::int64_t a = r * c.dilation - c.pad_left;
          const std::int64_t lo = a >= 0 ? 0 : std::min(q.phase_length, ceil_div(-a, c.stride));
          const std::int64_t hi =
              a >= c.length ? lo
                            : std::clamp<std::int64_t>(ceil_div(c.length - a, c.stride), lo, q.phase_length);
          const std::int64_t s = c.stride;
          if (hi <= lo) continue;
          float* p = dst + a + lo * s;
          for (std::int64_t u = lo; u < hi; ++u, p += s) *p = src[u];
        }
      }
    });
    return true;
  }
}

// backward_weight: grad_w'[co][ci*R + r][j] = sum over n, t of gy[n][co][t] * z[n][ci*R + r][t +
// j*d'] is the inner stride-1 convolution's backward_weight on the phase rows (the gemm
// algorithm, whose im2col is then a contiguous copy instead of a strided gather); grad_w[co][ci]
// [r + j*s'] is its entry, the zero taps past K dropped. grad_bias is the same sum either way.
template <class T>
bool conv1d_polyphase_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy,
                                      const T* x) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (c.stride == 1 || gw == nullptr) return false;
    const Conv1dPolyphase q = conv1d_polyphase_plan(c);
    const Conv1dProblem& inner = q.inner;
    const std::int64_t rows = c.batch * c.in_channels * q.phases;
    CachedBuffer<float> z(rows * q.phase_length);
    gather_phases(c, q, x, z.data);
    CachedBuffer<float> gwq(c.out_channels * inner.in_per_group * q.taps);
    conv1d_gemm_backward_weight<float>(inner, gwq.data, gb, gy, z.data);
    for (std::int64_t co = 0; co < c.out_channels; ++co) {
      for (std::int64_t ci = 0; ci < c.in_per_group; ++ci) {
        float* dst = gw + (co * c.in_per_group + ci) * c.kernel;
        const float* src = gwq.data + (co * inner.in_per_group + ci * q.phases) * q.taps;
        for (std::int64_t r = 0; r < q.phases; ++r) {
          for (std::int64_t j = 0; j < q.taps; ++j) {
            const std::int64_t k = r + j * q.period;
            if (k < c.kernel) dst[k] = src[r * q.taps + j];
          }
        }
      }
    }
    return true;
  }
}

template bool conv1d_polyphase_backward_weight<float>(const Conv1dProblem&, float*, float*,
                                                      const float*, const float*);
template bool conv1d_polyphase_backward_weight<double>(const Conv1dProblem&, double*, double*,
                                                       const double*, const double*);
template bool conv1d_polyphase_backward_input<float>(const Conv1dProblem&, float*, const float*,
                                                     const float*);
template bool conv1d_polyphase_backward_input<double>(const Conv1dProblem&, double*,
                                                      const double*, const double*);
template bool conv1d_polyphase_forward<float>(const Conv1dProblem&, float*, const float*,
                                              const float*, const float*);
template bool conv1d_polyphase_forward<double>(const Conv1dProblem&, double*, const double*,
                                               const double*, const double*);

}  // namespace reel::backends::cpu
