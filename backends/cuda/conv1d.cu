// reel's own CUDA conv1d kernels: a generic family (any groups, stride, dilation, padding and
// strides) and a depthwise family (in_per_group == 1) built on shared-memory tiles. The host
// side (conv1d.cpp) has checked the views and the geometry (check_conv1d) and packed them into
// a ConvRows (conv1d_launch.hpp).
//
// The maths is backends/reference/conv1d.cpp's, and so is its vocabulary: a cross-correlation,
//   y[n][co][t] = bias[co] + sum_j sum_k w[co][j][k] * x[n][g*Cin/G + j][t*stride + k*dilation - pad_left],
// where a term whose input position falls outside [0, L) is skipped. That skip *is* the zero
// padding: no padded copy of x is ever made, and a weight that is inf or NaN never meets a
// padded zero (the reference's rule; inf * 0 would be NaN).
//
// Generic kernels (one thread per output element, grid-stride loops, no shared memory):
// - forward: a thread per y element, or per 4 consecutive output channels of one group at one
//   position when out_per_group is a multiple of 4 (each x load then feeds 4 accumulators).
//   Threads of a warp hold consecutive positions t of the same (n, co): the weight loads are
//   the same address for the whole warp (one transaction) and the x loads are consecutive.
//   The taps k whose input position lies inside [0, L) are worked out once per thread (k_lo,
//   k_hi), so the inner loop has no bounds test.
// - backward_input: a *gather*, one thread per grad_x element. Input position i met tap k of
//   output t exactly when t*stride = i + pad_left - k*dilation, i.e. when that number is a
//   non-negative multiple of stride with quotient < Lout (the reference's rule). Each thread
//   sums its own terms and writes once: no atomics, no scatter, no read-modify-write.
//   The remainder (i + pad_left - k*dilation) mod stride is carried from tap to tap by a
//   subtraction instead of a 64-bit division per tap.
// - backward_weight: one item per (co, j, k) (and one per co for the bias) reduces over the
//   (n, t) of the batch, folded by `group` threads (1, 32 or a block of 256 depending on
//   N*Lout) that take elements lane, lane + group, ... of the row-major (n, t) walk; the lanes'
//   partials are combined in shared memory in a fixed tree order (group_combine). The order
//   depends on the geometry only, so grad_w and grad_b are the same bits from run to run
//   (reel::use_deterministic_algorithms relies on it).
//
// Depthwise kernels (in_per_group == 1: output channel co = ci*M + m reads input channel ci,
// M = out_per_group the depth multiplier):
// - forward: a block per (n, ci, tile of Lout). The block stages the input segment its tile
//   reads (the tile's span times stride, plus the halo dilation*(K-1)) and the M*K weights of
//   ci in shared memory, widened to the accumulation type, then computes the tile for each of
//   the M output channels: every x element is loaded from global memory once per tile instead
//   of K*M times. Positions outside [0, L) are staged as 0, but only tiles that touch the
//   border test them, to keep the reference's skip.
// - fused backward: a block per (n, ci, tile of TT = blockDim output positions). It stages
//   grad_y of the M output channels for its tile plus a left halo of floor(dilation*(K-1) /
//   stride) positions, the M*K weights and the x segment, then
//     * grad_x for the input positions the tile owns (a gather as above, over the M output
//       channels of ci), and
//     * the partial sums of grad_w[co][0][k] (and grad_b[co]) over the TT positions it owns:
//       warp-shuffle trees, then the 8 (or fewer) warp sums added in warp order,
//   so grad_y is read from global memory once for all three gradients. The partials go to a
//   workspace ([Cout][K + 1][N * tiles]); a second kernel (a warp per (co, k)) adds them in a
//   fixed order. No atomics: deterministic.
//   The tiles partition the output positions, [b*TT, (b+1)*TT), for grad_w / grad_b, and the
//   input positions, [clamp(b*TT*stride - pad_left, 0, L), the same for b+1) with the first
//   tile starting at 0 and the last ending at L, for grad_x. An input position of tile b only
//   meets outputs t in [b*TT - floor(dilation*(K-1)/stride), (b+1)*TT) (t*stride <= i + pad_left
//   < (b+1)*TT*stride, and t*stride >= i + pad_left - dilation*(K-1)), which is the staged range.
// Where a tile's shared memory would not fit the default 48 KiB (huge stride, dilation or
// multiplier), the depthwise launchers run the generic kernels, which work for any geometry.
//
// Precision: sums accumulate in math::opmath_t<T>: float for float32 (and for float16 and
// bfloat16, loaded natively and widened exactly), double for float64, complex<float> for
// complex64, complex<double> for complex128; each result is rounded once at its store. The
// reference accumulates in double, so results agree with it up to float32 rounding of the sums
// (tests compare with a tolerance). Complex products are plain products, never conjugated (the
// op layer passes conj(w) / conj(x) in).
//
// Offsets are 64-bit throughout; grids are capped and every kernel loops over its work, so any
// N*C*L fits CUDA's grid limits.
#include <cuda/std/complex>

#include "backends/cuda/conv1d_launch.hpp"
#include "backends/cuda/device_utils.cuh"

namespace reel::backends::cuda {

namespace {

using i64 = std::int64_t;

// The accumulation type of element type T (see the header comment).
template <typename T>
using Acc = math::opmath_t<T>;

// Loads widen exactly to the accumulation type; stores round once.
template <typename A, typename T>
__device__ __forceinline__ A load(const T* p) {
  return math::cast_value<A>(*p);
}
template <typename T, typename A>
__device__ __forceinline__ void store(T* p, A v) {
  *p = math::cast_value<T>(v);
}

__device__ __forceinline__ i64 min64(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 max64(i64 a, i64 b) { return a > b ? a : b; }
__device__ __forceinline__ i64 clamp64(i64 v, i64 lo, i64 hi) { return min64(max64(v, lo), hi); }

struct Add {
  template <typename A>
  __device__ A operator()(const A& a, const A& b) const {
    return a + b;
  }
};

// --- warp sums (depthwise kernels) -------------------------------------------------------------
// A fixed shuffle tree (lane l adds lane l + 16, then l + 8, ...): the result, in lane 0, is
// the same bits every run. Every lane of the warp must call it.
__device__ __forceinline__ float shfl_down(float v, int o) {
  return __shfl_down_sync(0xffffffffu, v, o);
}
__device__ __forceinline__ double shfl_down(double v, int o) {
  return __shfl_down_sync(0xffffffffu, v, o);
}
template <typename R>
__device__ __forceinline__ ::cuda::std::complex<R> shfl_down(::cuda::std::complex<R> v, int o) {
  return {shfl_down(v.real(), o), shfl_down(v.imag(), o)};
}
template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  REEL_UNROLL
  for (int o = 16; o > 0; o /= 2) v = v + shfl_down(v, o);
  return v;
}

// --- generic forward ---------------------------------------------------------------------------
// One thread per (n, block of CB output channels, t); CB consecutive channels never straddle a
// group (the launcher picks CB = 4 only when 4 divides out_per_group), so they read the same x.
template <typename T, int CB>
__global__ void conv1d_forward_kernel(ConvRows g, i64 total, T* y, const T* x, const T* w,
                                      const T* bias) {
  using A = Acc<T>;
  const i64 blocks_of_co = g.out_channels / CB;
  const i64 lout = g.out_length, len = g.length, dil = g.dilation;
  for (i64 e = grid_start<i64>(); e < total; e += grid_step<i64>()) {
    const i64 t = e % lout;
    const i64 rest = e / lout;
    const i64 co0 = (rest % blocks_of_co) * CB;
    const i64 n = rest / blocks_of_co;
    const i64 ci0 = (co0 / g.out_per_group) * g.in_per_group;  // the group's first input channel

    A acc[CB];
    REEL_UNROLL
    for (int c = 0; c < CB; ++c) {
      acc[c] = bias != nullptr ? load<A>(bias + (co0 + c) * g.bias_stride) : A(0);
    }
    // Taps k with 0 <= i0 + k*dil < L, i0 the position of tap 0 (written so that nothing
    // overflows even for a huge dilation).
    const i64 i0 = t * g.stride - g.pad_left;
    const i64 k_lo = i0 >= 0 ? 0 : (-i0 - 1) / dil + 1;
    const i64 room = len - i0;
    const i64 k_hi = room <= 0 ? 0 : min64(g.kernel, (room - 1) / dil + 1);

    const i64 x_base = n * g.x_strides[0] + ci0 * g.x_strides[1];
    const i64 w_base = co0 * g.w_strides[0];
    for (i64 j = 0; j < g.in_per_group; ++j) {
      const T* xj = x + x_base + j * g.x_strides[1];
      const T* wj = w + w_base + j * g.w_strides[1];
      for (i64 k = k_lo; k < k_hi; ++k) {
        const A xv = load<A>(xj + (i0 + k * dil) * g.x_strides[2]);
        REEL_UNROLL
        for (int c = 0; c < CB; ++c) {
          acc[c] = acc[c] + load<A>(wj + c * g.w_strides[0] + k * g.w_strides[2]) * xv;
        }
      }
    }
    const i64 y_base = n * g.y_strides[0] + t * g.y_strides[2];
    REEL_UNROLL
    for (int c = 0; c < CB; ++c) store(y + y_base + (co0 + c) * g.y_strides[1], acc[c]);
  }
}

// --- generic backward_input (gather) -----------------------------------------------------------
template <typename T>
__global__ void conv1d_backward_input_kernel(ConvRows g, i64 total, T* gx, const T* gy,
                                             const T* w) {
  using A = Acc<T>;
  const i64 len = g.length, s = g.stride, dil = g.dilation;
  const i64 dil_mod = dil % s;
  for (i64 e = grid_start<i64>(); e < total; e += grid_step<i64>()) {
    const i64 i = e % len;
    const i64 rest = e / len;
    const i64 ci = rest % g.in_channels;
    const i64 n = rest / g.in_channels;
    const i64 group = ci / g.in_per_group;
    const i64 j = ci - group * g.in_per_group;  // ci's index inside its group
    const i64 co0 = group * g.out_per_group;

    const i64 base = i + g.pad_left;  // tap k met output t when t*s == base - k*dil
    i64 rem = base % s;               // (base - k*dil) mod s, carried from k to k + 1
    A acc = A(0);
    for (i64 k = 0; k < g.kernel; ++k) {
      const i64 shifted = base - k * dil;
      if (shifted < 0) break;  // and so for every larger k
      if (rem == 0) {
        const i64 t = shifted / s;
        if (t < g.out_length) {
          const T* wk = w + j * g.w_strides[1] + k * g.w_strides[2];
          const T* gyt = gy + n * g.y_strides[0] + t * g.y_strides[2];
          for (i64 co = co0; co < co0 + g.out_per_group; ++co) {
            acc = acc + load<A>(wk + co * g.w_strides[0]) * load<A>(gyt + co * g.y_strides[1]);
          }
        }
      }
      rem -= dil_mod;
      if (rem < 0) rem += s;
    }
    store(gx + n * g.x_strides[0] + ci * g.x_strides[1] + i * g.x_strides[2], acc);
  }
}

// --- generic backward_weight (deterministic reductions) ----------------------------------------
// Calls body(active, lane, item) once per item for each of the item's `group` threads. Whole
// blocks advance together (a thread past the last item runs with active == false), so a body
// may call group_combine (norm.cu's loop).
template <typename Body>
__device__ __forceinline__ void for_each_item(i64 items, int group, Body&& body) {
  const int t = static_cast<int>(threadIdx.x);
  const i64 per_block = kThreadsPerBlock / group;
  const i64 step = static_cast<i64>(gridDim.x) * per_block;
  for (i64 base = static_cast<i64>(blockIdx.x) * per_block; base < items; base += step) {
    const i64 item = base + t / group;
    body(item < items, t % group, item);
  }
}

// Calls f(n, u) for the elements lane, lane + group, ... of the row-major walk over
// [0, batch) x [0, len): one division to start, then additions only.
template <typename F>
__device__ __forceinline__ void walk_rows(i64 batch, i64 len, int lane, int group, F&& f) {
  if (len <= 0) return;
  i64 n = lane / len, u = lane % len;
  const i64 dn = group / len, du = group % len;
  while (n < batch) {
    f(n, u);
    u += du;
    n += dn;
    if (u >= len) {  // u + du < 2 * len: one wrap at most
      u -= len;
      ++n;
    }
  }
}

// kBias: items are the output channels co, each summing grad_y[n][co][t]. Otherwise items are
// (co, j, k), row-major, each summing grad_y[n][co][t] * x[n][ci][t*s + k*dil - pad_left] over
// the t whose position lies in [0, L) (the others are the padding's zeros: skipped).
template <typename T, bool kBias>
__global__ void __launch_bounds__(kThreadsPerBlock)
    conv1d_wgrad_kernel(ConvRows g, i64 items, int group, T* out, const T* gy, const T* x) {
  using A = Acc<T>;
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  for_each_item(items, group, [&](bool active, int lane, i64 item) {
    A acc = A(0);
    if (active) {
      if constexpr (kBias) {
        const T* row = gy + item * g.y_strides[1];
        walk_rows(g.batch, g.out_length, lane, group, [&](i64 n, i64 t) {
          acc = acc + load<A>(row + n * g.y_strides[0] + t * g.y_strides[2]);
        });
      } else {
        const i64 k = item % g.kernel;
        const i64 rest = item / g.kernel;
        const i64 j = rest % g.in_per_group;
        const i64 co = rest / g.in_per_group;
        const i64 ci = (co / g.out_per_group) * g.in_per_group + j;
        // Positions t*s + off with off = k*dil - pad_left; the t keeping them in [0, L).
        const i64 s = g.stride;
        const i64 off = k * g.dilation - g.pad_left;
        const i64 t_lo = off >= 0 ? 0 : (-off - 1) / s + 1;
        const i64 last = g.length - 1 - off;  // t*s <= last
        const i64 t_hi = last < 0 ? 0 : min64(g.out_length, last / s + 1);
        const T* gy_row = gy + co * g.y_strides[1];
        const T* x_row = x + ci * g.x_strides[1];
        walk_rows(g.batch, t_hi - t_lo, lane, group, [&](i64 n, i64 u) {
          const i64 t = t_lo + u;
          acc = acc + load<A>(gy_row + n * g.y_strides[0] + t * g.y_strides[2]) *
                          load<A>(x_row + n * g.x_strides[0] + (t * s + off) * g.x_strides[2]);
        });
      }
    }
    acc = group_combine(acc, scratch, group, Add{});
    if (!active || lane != 0) return;
    if constexpr (kBias) {
      store(out + item * g.bias_stride, acc);
    } else {
      const i64 k = item % g.kernel;
      const i64 rest = item / g.kernel;
      const i64 j = rest % g.in_per_group;
      const i64 co = rest / g.in_per_group;
      store(out + co * g.w_strides[0] + j * g.w_strides[1] + k * g.w_strides[2], acc);
    }
  });
}

// Threads per item for a reduction over `count` elements: a lone thread for a short walk, a
// warp, or the whole block. A function of the geometry only, so results are reproducible.
int wgrad_group(i64 count) {
  if (count <= 32) return 1;
  if (count < 4096) return 32;
  return kThreadsPerBlock;
}

unsigned item_blocks(i64 items, int group) {
  const i64 per_block = kThreadsPerBlock / group;
  i64 blocks = (items + per_block - 1) / per_block;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks);
}

// --- depthwise plans ---------------------------------------------------------------------------
// Shared memory a depthwise tile may use: the default per-block limit, so no opt-in attribute
// is needed. A geometry whose tile does not fit runs the generic kernels.
constexpr std::size_t kDepthwiseSmemLimit = 48 * 1024;

// Stride, dilation and K above this never get a tile (and keep the size arithmetic far from
// overflow).
constexpr i64 kDepthwiseMaxStep = i64{1} << 20;

// Threads of a depthwise block: a short row does not need 256 idle threads.
int depthwise_threads(i64 out_length) {
  if (out_length <= 64) return 64;
  if (out_length <= 128) return 128;
  return kThreadsPerBlock;
}

bool depthwise_shape_ok(const ConvRows& g) {
  return g.in_per_group == 1 && g.kernel >= 1 && g.kernel <= kDepthwiseMaxStep &&
         g.stride <= kDepthwiseMaxStep && g.dilation <= kDepthwiseMaxStep &&
         g.out_per_group <= kDepthwiseMaxStep;
}

struct DwForwardPlan {
  bool ok = false;
  int threads = 0;
  i64 tile = 0;   // outputs per tile (threads * outputs per thread)
  i64 tiles = 0;  // tiles per row: ceil(Lout / tile)
  i64 seg = 0;    // staged input positions: (tile - 1) * stride + dilation * (K - 1) + 1
  std::size_t smem = 0;
};

DwForwardPlan dw_forward_plan(const ConvRows& g, std::size_t acc_bytes) {
  DwForwardPlan p;
  if (!depthwise_shape_ok(g) || g.out_length < 1) return p;
  p.threads = depthwise_threads(g.out_length);
  // Long rows take 2 or 4 outputs per thread, so the halo is staged for fewer, longer tiles.
  const i64 per = g.out_length >= 4096 ? 4 : g.out_length >= 2048 ? 2 : 1;
  for (i64 q = per; q >= 1; q /= 2) {
    const i64 tile = p.threads * q;
    const i64 seg = (tile - 1) * g.stride + g.dilation * (g.kernel - 1) + 1;
    const i64 elems = seg + g.out_per_group * g.kernel;
    if (static_cast<std::size_t>(elems) * acc_bytes <= kDepthwiseSmemLimit) {
      p.ok = true;
      p.tile = tile;
      p.tiles = (g.out_length + tile - 1) / tile;
      p.seg = seg;
      p.smem = static_cast<std::size_t>(elems) * acc_bytes;
      return p;
    }
  }
  return p;
}

struct DwBackwardPlan {
  bool ok = false;
  int threads = 0;  // also TT, the output positions a tile owns
  i64 tiles = 0;    // ceil(Lout / TT)
  i64 halo = 0;     // floor(dilation * (K - 1) / stride)
  i64 width = 0;    // staged grad_y positions per output channel: TT + halo
  i64 seg = 0;      // staged x positions: (TT - 1) * stride + dilation * (K - 1) + 1
  std::size_t smem = 0;
};

DwBackwardPlan dw_backward_plan(const ConvRows& g, std::size_t acc_bytes) {
  DwBackwardPlan p;
  if (!depthwise_shape_ok(g) || g.out_length < 1) return p;
  const i64 tt = depthwise_threads(g.out_length);
  const i64 m = g.out_per_group, k = g.kernel;
  const i64 span = g.dilation * (k - 1);
  const i64 halo = span / g.stride;
  const i64 width = tt + halo;
  const i64 seg = (tt - 1) * g.stride + span + 1;
  // grad_y [M][width], weights [M][K], x [seg], warp partials [M][K + 1][warps].
  const i64 elems = m * width + m * k + seg + m * (k + 1) * (tt / 32);
  if (static_cast<std::size_t>(elems) * acc_bytes > kDepthwiseSmemLimit) return p;
  p.ok = true;
  p.threads = static_cast<int>(tt);
  p.tiles = (g.out_length + tt - 1) / tt;
  p.halo = halo;
  p.width = width;
  p.seg = seg;
  p.smem = static_cast<std::size_t>(elems) * acc_bytes;
  return p;
}

unsigned tile_blocks(i64 items) {
  return static_cast<unsigned>(items < kMaxBlocks ? items : kMaxBlocks);
}

// --- depthwise forward -------------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    conv1d_dw_forward_kernel(ConvRows g, DwForwardPlan p, T* y, const T* x, const T* w,
                             const T* bias) {
  using A = Acc<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  A* xs = reinterpret_cast<A*>(smem);  // [seg]: input positions P0 .. P0 + seg - 1
  A* ws = xs + p.seg;                  // [M][K]: the weights of ci's output channels
  const i64 chans = g.in_channels, mult = g.out_per_group, taps = g.kernel;
  const i64 len = g.length, s = g.stride, dil = g.dilation;
  const i64 tid = threadIdx.x, nthreads = blockDim.x;
  const i64 items = g.batch * chans * p.tiles;
  for (i64 item = blockIdx.x; item < items; item += gridDim.x) {  // block-uniform
    const i64 b = item % p.tiles;
    const i64 rest = item / p.tiles;
    const i64 ci = rest % chans;
    const i64 n = rest / chans;
    const i64 t0 = b * p.tile;
    const i64 p0 = t0 * s - g.pad_left;  // the input position of tap 0 of output t0

    __syncthreads();  // the previous item is done with xs and ws
    const T* x_row = x + n * g.x_strides[0] + ci * g.x_strides[1];
    for (i64 q = tid; q < p.seg; q += nthreads) {
      const i64 pos = p0 + q;
      xs[q] = pos >= 0 && pos < len ? load<A>(x_row + pos * g.x_strides[2]) : A(0);
    }
    for (i64 q = tid; q < mult * taps; q += nthreads) {
      const i64 m = q / taps;
      ws[q] = load<A>(w + (ci * mult + m) * g.w_strides[0] + (q - m * taps) * g.w_strides[2]);
    }
    __syncthreads();

    const i64 count = min64(p.tile, g.out_length - t0);
    // Whether every tap of every output of the tile reads inside [0, L): then no test.
    const bool inside = p0 >= 0 && p0 + (count - 1) * s + (taps - 1) * dil < len;
    for (i64 m = 0; m < mult; ++m) {
      const i64 co = ci * mult + m;
      const A* wk = ws + m * taps;
      const A b0 = bias != nullptr ? load<A>(bias + co * g.bias_stride) : A(0);
      T* y_row = y + n * g.y_strides[0] + co * g.y_strides[1];
      for (i64 u = tid; u < count; u += nthreads) {
        const A* xu = xs + u * s;
        A acc = b0;
        if (inside) {
          for (i64 k = 0; k < taps; ++k) acc = acc + wk[k] * xu[k * dil];
        } else {
          const i64 pos0 = p0 + u * s;
          for (i64 k = 0; k < taps; ++k) {
            const i64 pos = pos0 + k * dil;
            if (pos >= 0 && pos < len) acc = acc + wk[k] * xu[k * dil];
          }
        }
        store(y_row + (t0 + u) * g.y_strides[2], acc);
      }
    }
  }
}

// --- depthwise fused backward ------------------------------------------------------------------
// partials: [Cout][K + 1][N * tiles], slot K the bias; written only for the wanted slots.
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    conv1d_dw_backward_kernel(ConvRows g, DwBackwardPlan p, T* gx, bool want_w, bool want_b,
                              Acc<T>* partials, const T* gy, const T* x, const T* w) {
  using A = Acc<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  const i64 chans = g.in_channels, mult = g.out_per_group, taps = g.kernel;
  const i64 len = g.length, lout = g.out_length, s = g.stride, dil = g.dilation;
  const i64 pad = g.pad_left;
  const i64 tt = blockDim.x;  // == p.threads: the outputs a tile owns
  const int nwarps = static_cast<int>(blockDim.x / 32);
  const i64 slots = taps + 1;
  A* gys = reinterpret_cast<A*>(smem);  // [M][width]: grad_y positions tb .. te - 1
  A* wsm = gys + mult * p.width;        // [M][K]
  A* xs = wsm + mult * taps;            // [seg]: x positions P0 .. P0 + seg - 1
  A* wpart = xs + p.seg;                // [M][K + 1][warps]: warp sums

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % 32, warp = tid / 32;
  const i64 dil_mod = dil % s;
  const i64 partial_count = g.batch * p.tiles;  // partials per (co, slot)
  const i64 items = g.batch * chans * p.tiles;
  for (i64 item = blockIdx.x; item < items; item += gridDim.x) {  // block-uniform
    const i64 b = item % p.tiles;
    const i64 rest = item / p.tiles;
    const i64 ci = rest % chans;
    const i64 n = rest / chans;
    const i64 t0 = b * tt;                     // owned outputs: t0 .. t0 + tt - 1 (< Lout)
    const i64 tb = max64(0, t0 - p.halo);      // staged grad_y: tb .. te - 1
    const i64 te = min64(lout, t0 + tt);
    const i64 p0 = t0 * s - pad;               // input position of tap 0 of output t0

    __syncthreads();  // the previous item is done with every shared array
    const i64 staged = te - tb;
    for (i64 q = tid; q < mult * staged; q += tt) {
      const i64 m = q / staged, u = q - m * staged;
      gys[m * p.width + u] = load<A>(gy + n * g.y_strides[0] + (ci * mult + m) * g.y_strides[1] +
                                     (tb + u) * g.y_strides[2]);
    }
    if (gx != nullptr) {
      for (i64 q = tid; q < mult * taps; q += tt) {
        const i64 m = q / taps;
        wsm[q] = load<A>(w + (ci * mult + m) * g.w_strides[0] + (q - m * taps) * g.w_strides[2]);
      }
    }
    if (want_w) {
      const T* x_row = x + n * g.x_strides[0] + ci * g.x_strides[1];
      for (i64 q = tid; q < p.seg; q += tt) {
        const i64 pos = p0 + q;
        xs[q] = pos >= 0 && pos < len ? load<A>(x_row + pos * g.x_strides[2]) : A(0);
      }
    }
    __syncthreads();

    // grad_x over the input positions this tile owns (see the header comment).
    if (gx != nullptr) {
      const i64 i_lo = b == 0 ? 0 : clamp64(p0, 0, len);
      const i64 i_hi = b == p.tiles - 1 ? len : clamp64(p0 + tt * s, 0, len);
      T* gx_row = gx + n * g.x_strides[0] + ci * g.x_strides[1];
      for (i64 i = i_lo + tid; i < i_hi; i += tt) {
        const i64 base = i + pad;
        i64 rem = base % s;
        A acc = A(0);
        for (i64 k = 0; k < taps; ++k) {
          const i64 shifted = base - k * dil;
          if (shifted < 0) break;
          if (rem == 0) {
            const i64 t = shifted / s;
            if (t < lout) {
              const i64 u = t - tb;  // in [0, te - tb): the staged range covers it
              for (i64 m = 0; m < mult; ++m) acc = acc + wsm[m * taps + k] * gys[m * p.width + u];
            }
          }
          rem -= dil_mod;
          if (rem < 0) rem += s;
        }
        store(gx_row + i * g.x_strides[2], acc);
      }
    }

    // Partial grad_w / grad_b over the owned outputs: thread tid owns output t0 + tid.
    if (want_w || want_b) {
      const i64 t = t0 + tid;
      const bool owned = t < lout;
      const i64 u = t - tb;
      const i64 pos0 = p0 + tid * s;  // the position of tap 0 of output t
      const bool inside = p0 >= 0 && p0 + (tt - 1) * s + (taps - 1) * dil < len;
      for (i64 m = 0; m < mult; ++m) {
        const A gv = owned ? gys[m * p.width + u] : A(0);
        A* part = wpart + m * slots * nwarps;
        if (want_w) {
          for (i64 k = 0; k < taps; ++k) {
            const i64 pos = pos0 + k * dil;
            const bool tap = owned && (inside || (pos >= 0 && pos < len));
            const A v = warp_sum(tap ? gv * xs[tid * s + k * dil] : A(0));
            if (lane == 0) part[k * nwarps + warp] = v;
          }
        }
        if (want_b) {
          const A v = warp_sum(gv);
          if (lane == 0) part[taps * nwarps + warp] = v;
        }
      }
      __syncthreads();
      for (i64 q = tid; q < mult * slots; q += tt) {
        const i64 slot = q % slots;
        if (slot < taps ? !want_w : !want_b) continue;
        const A* sums = wpart + q * nwarps;
        A acc = sums[0];
        for (int v = 1; v < nwarps; ++v) acc = acc + sums[v];
        partials[(ci * mult * slots + q) * partial_count + n * p.tiles + b] = acc;
      }
    }
  }
}

// The second pass: a warp per (co, slot) adds its N * tiles partials, lane l taking partials
// l, l + 32, ..., then the warp tree. Fixed order: deterministic.
template <typename T>
__global__ void conv1d_dw_reduce_kernel(ConvRows g, i64 partial_count, bool want_w, bool want_b,
                                        const Acc<T>* partials, T* gw, T* gb) {
  using A = Acc<T>;
  const i64 slots = g.kernel + 1;
  const i64 items = g.out_channels * slots;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const i64 warps = blockDim.x / 32;
  for (i64 item = blockIdx.x * warps + threadIdx.x / 32; item < items;
       item += static_cast<i64>(gridDim.x) * warps) {  // warp-uniform
    const i64 co = item / slots, slot = item - co * slots;
    if (slot < g.kernel ? !want_w : !want_b) continue;
    const A* row = partials + item * partial_count;
    A acc = A(0);
    for (i64 q = lane; q < partial_count; q += 32) acc = acc + row[q];
    acc = warp_sum(acc);
    if (lane != 0) continue;
    if (slot < g.kernel) {
      store(gw + co * g.w_strides[0] + slot * g.w_strides[2], acc);
    } else {
      store(gb + co * g.bias_stride, acc);
    }
  }
}

// --- dispatch ----------------------------------------------------------------------------------
// Calls f(Tag<T>{}) for the dtypes conv1d runs; cudaErrorNotSupported for the rest (nothing is
// instantiated for them).
template <typename F>
cudaError_t visit_conv(DType type, F&& f) {
  switch (type) {
    case DType::Float32: return f(Tag<float>{});
    case DType::Float64: return f(Tag<double>{});
    case DType::Complex64: return f(Tag<c64>{});
    case DType::Complex128: return f(Tag<c128>{});
    case DType::Float16: return f(Tag<Half>{});
    case DType::BFloat16: return f(Tag<BFloat16>{});
    default: return cudaErrorNotSupported;
  }
}

// sizeof the accumulation type (0: a dtype conv1d does not run).
std::size_t acc_bytes(DType type) {
  std::size_t bytes = 0;
  visit_conv(type, [&](auto tag) {
    bytes = sizeof(Acc<typename decltype(tag)::type>);
    return cudaSuccess;
  });
  return bytes;
}

}  // namespace

// --- generic launchers -------------------------------------------------------------------------

cudaError_t launch_conv1d_forward(DType type, void* y, const void* x, const void* w,
                                  const void* bias, const ConvRows& g, cudaStream_t s) {
  if (g.batch <= 0 || g.out_channels <= 0 || g.out_length <= 0) return cudaSuccess;
  return visit_conv(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto* yp = static_cast<T*>(y);
    const auto* xp = static_cast<const T*>(x);
    const auto* wp = static_cast<const T*>(w);
    const auto* bp = static_cast<const T*>(bias);
    if (g.out_per_group % 4 == 0) {
      const i64 total = g.batch * (g.out_channels / 4) * g.out_length;
      conv1d_forward_kernel<T, 4><<<grid_for(total), kThreadsPerBlock, 0, s>>>(g, total, yp, xp,
                                                                               wp, bp);
    } else {
      const i64 total = g.batch * g.out_channels * g.out_length;
      conv1d_forward_kernel<T, 1><<<grid_for(total), kThreadsPerBlock, 0, s>>>(g, total, yp, xp,
                                                                               wp, bp);
    }
    return cudaGetLastError();
  });
}

cudaError_t launch_conv1d_backward_input(DType type, void* grad_x, const void* grad_y,
                                         const void* w, const ConvRows& g, cudaStream_t s) {
  const i64 total = g.batch * g.in_channels * g.length;
  if (total <= 0) return cudaSuccess;
  return visit_conv(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv1d_backward_input_kernel<T><<<grid_for(total), kThreadsPerBlock, 0, s>>>(
        g, total, static_cast<T*>(grad_x), static_cast<const T*>(grad_y),
        static_cast<const T*>(w));
    return cudaGetLastError();
  });
}

cudaError_t launch_conv1d_backward_weight(DType type, void* grad_w, void* grad_b,
                                          const void* grad_y, const void* x, const ConvRows& g,
                                          cudaStream_t s) {
  // Every item is reduced over N * Lout elements (fewer for a weight tap that reads padding;
  // the group is chosen for the largest, a function of the geometry only).
  const int group = wgrad_group(g.batch * g.out_length);
  return visit_conv(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    const auto* gyp = static_cast<const T*>(grad_y);
    const auto* xp = static_cast<const T*>(x);
    if (grad_w != nullptr) {
      const i64 items = g.out_channels * g.in_per_group * g.kernel;
      if (items > 0) {
        conv1d_wgrad_kernel<T, false><<<item_blocks(items, group), kThreadsPerBlock, 0, s>>>(
            g, items, group, static_cast<T*>(grad_w), gyp, xp);
        const cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) return err;
      }
    }
    if (grad_b != nullptr && g.out_channels > 0) {
      conv1d_wgrad_kernel<T, true>
          <<<item_blocks(g.out_channels, group), kThreadsPerBlock, 0, s>>>(
              g, g.out_channels, group, static_cast<T*>(grad_b), gyp, xp);
    }
    return cudaGetLastError();
  });
}

// --- depthwise launchers -----------------------------------------------------------------------

cudaError_t launch_conv1d_depthwise_forward(DType type, void* y, const void* x, const void* w,
                                            const void* bias, const ConvRows& g,
                                            cudaStream_t s) {
  if (g.batch <= 0 || g.out_channels <= 0 || g.out_length <= 0) return cudaSuccess;
  const DwForwardPlan plan = dw_forward_plan(g, acc_bytes(type));
  if (!plan.ok) return launch_conv1d_forward(type, y, x, w, bias, g, s);
  const i64 items = g.batch * g.in_channels * plan.tiles;
  if (items <= 0) return cudaSuccess;
  return visit_conv(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    conv1d_dw_forward_kernel<T><<<tile_blocks(items), plan.threads, plan.smem, s>>>(
        g, plan, static_cast<T*>(y), static_cast<const T*>(x), static_cast<const T*>(w),
        static_cast<const T*>(bias));
    return cudaGetLastError();
  });
}

std::size_t conv1d_depthwise_backward_workspace(DType type, const ConvRows& g) {
  const std::size_t bytes = acc_bytes(type);
  const DwBackwardPlan plan = dw_backward_plan(g, bytes);
  if (!plan.ok || g.batch <= 0) return 0;  // the generic kernels need no workspace
  return static_cast<std::size_t>(g.out_channels) * static_cast<std::size_t>(g.kernel + 1) *
         static_cast<std::size_t>(g.batch * plan.tiles) * bytes;
}

cudaError_t launch_conv1d_depthwise_backward(DType type, void* grad_x, void* grad_w,
                                             void* grad_b, const void* grad_y, const void* x,
                                             const void* w, void* workspace, const ConvRows& g,
                                             cudaStream_t s) {
  const bool want_w = grad_w != nullptr, want_b = grad_b != nullptr;
  if (grad_x == nullptr && !want_w && !want_b) return cudaSuccess;
  // The generic kernels, for every case the tiles do not cover (the same cases for which
  // conv1d_depthwise_backward_workspace said 0): grad_b alone (one cheap reduction, and K may
  // be unknown), no tile plan, or an empty batch (grad_w and grad_b are then zeros).
  const DwBackwardPlan plan = dw_backward_plan(g, acc_bytes(type));
  if (!plan.ok || g.batch <= 0 || (grad_x == nullptr && !want_w)) {
    if (grad_x != nullptr) {
      const cudaError_t err = launch_conv1d_backward_input(type, grad_x, grad_y, w, g, s);
      if (err != cudaSuccess) return err;
    }
    if (!want_w && !want_b) return cudaSuccess;
    return launch_conv1d_backward_weight(type, grad_w, grad_b, grad_y, x, g, s);
  }
  if ((want_w || want_b) && workspace == nullptr) return cudaErrorInvalidValue;
  const i64 items = g.batch * g.in_channels * plan.tiles;
  if (items <= 0) return cudaSuccess;  // no channels: nothing to write
  return visit_conv(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    using A = Acc<T>;
    auto* partials = static_cast<A*>(workspace);
    conv1d_dw_backward_kernel<T><<<tile_blocks(items), plan.threads, plan.smem, s>>>(
        g, plan, static_cast<T*>(grad_x), want_w, want_b, partials,
        static_cast<const T*>(grad_y), static_cast<const T*>(x), static_cast<const T*>(w));
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess || (!want_w && !want_b)) return err;
    const i64 reduce_items = g.out_channels * (g.kernel + 1);
    constexpr int kWarpsPerBlock = kThreadsPerBlock / 32;
    i64 blocks = (reduce_items + kWarpsPerBlock - 1) / kWarpsPerBlock;
    if (blocks > kMaxBlocks) blocks = kMaxBlocks;
    conv1d_dw_reduce_kernel<T><<<static_cast<unsigned>(blocks), kThreadsPerBlock, 0, s>>>(
        g, g.batch * plan.tiles, want_w, want_b, partials, static_cast<T*>(grad_w),
        static_cast<T*>(grad_b));
    return cudaGetLastError();
  });
}

}  // namespace reel::backends::cuda
