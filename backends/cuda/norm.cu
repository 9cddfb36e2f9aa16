// CUDA kernels for the normalization primitives (BatchNorm1d, InstanceNorm1d, GroupNorm,
// LayerNorm): norm_stats, norm_forward and the two halves of norm_backward. The host side
// (norm.cpp) has checked the views and chosen how many threads fold a slot (norm_launch.hpp).
//
// With M the elements of a slot (backends/reference/norm.cpp):
//   mean = sum x / M,   var = sum (x - mean)^2 / M,   rstd = 1 / sqrt(var + eps)
//   xhat = (x - mean) * rstd,   y = xhat * weight + bias
//   grad_bias = sum_{n,l} gy,   grad_weight = sum_{n,l} gy * xhat      (per channel)
//   grad_x = rstd * (dxhat - mean_slot(dxhat) - xhat * mean_slot(dxhat * xhat)),  dxhat = gy*w
//          = rstd * dxhat                                               (given statistics)
//
// - norm_stats: `group` threads per slot, two passes as the reference (the mean, then the
//   squared deviations from it), each folded lane by lane and combined in a fixed tree order.
// - norm_forward: one thread per element.
// - norm_backward: a kernel per channel for grad_weight / grad_bias (a fold over (n, l)), then
//   a kernel per slot for grad_in: the slot's two means (only with input statistics), then the
//   elementwise pass. The channel kernel runs first, so it has read grad_out and in before
//   grad_in is written, whatever aliases what.
// No atomics: a result is the same from run to run.
//
// Agreement with the reference: everything is computed in double, as the reference does for
// every floating dtype (float16 and bfloat16 too: it runs them as exact float32 copies). Loads
// widen exactly; each result is rounded once with cast_value, which for the 16-bit types goes
// through float32 as the reference's float32 copy is rounded back. So native 16-bit views need
// no widened copies, and results differ from the reference's only by the order of the double
// sums (a tree instead of a serial loop when group > 1).
#include <cuda/std/limits>

#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/norm_launch.hpp"

namespace reel::backends::cuda {

static_assert(kNormBlockThreads == kThreadsPerBlock);

namespace {

// --- building blocks ----------------------------------------------------------------------------
// Loads widen exactly to double; stores round once (through float32 for the 16-bit types).
template <typename T>
__device__ __forceinline__ double load(const void* base, std::int64_t offset) {
  return math::cast_value<double>(static_cast<const T*>(base)[offset]);
}
template <typename T>
__device__ __forceinline__ void store(void* base, std::int64_t offset, double v) {
  static_cast<T*>(base)[offset] = math::cast_value<T>(v);
}

__device__ __forceinline__ std::int64_t at4(const std::int64_t (&s)[4], std::int64_t n,
                                            std::int64_t g, std::int64_t d, std::int64_t l) {
  return n * s[0] + g * s[1] + d * s[2] + l * s[3];
}
__device__ __forceinline__ std::int64_t at2(const std::int64_t (&s)[2], std::int64_t i,
                                            std::int64_t j) {
  return i * s[0] + j * s[1];
}

// weight[g, d], or 1 without a weight (the reference's read_or).
template <typename T>
__device__ __forceinline__ double weight_at(const NormArgs& a, std::int64_t g, std::int64_t d) {
  return a.weight == nullptr ? 1.0 : load<T>(a.weight, at2(a.weight_strides, g, d));
}

// The statistics of slot (row, g): its mean and rstd = 1 / sqrt(var + eps).
struct Stats {
  double mean;
  double rstd;
};
template <typename T>
__device__ __forceinline__ Stats stats_at(const NormArgs& a, std::int64_t row, std::int64_t g) {
  const double mu = load<T>(a.mean, at2(a.mean_strides, row, g));
  const double var = load<T>(a.var, at2(a.var_strides, row, g));
  return Stats{mu, 1.0 / std::sqrt(var + a.eps)};
}

// Two sums folded together.
struct Pair {
  double a;
  double b;
};

struct Add {
  __device__ double operator()(double x, double y) const { return x + y; }
  __device__ Pair operator()(const Pair& x, const Pair& y) const {
    return Pair{x.a + y.a, x.b + y.b};
  }
};

// Calls body(active, lane, item) once per item (slot or channel) for each of the item's `group`
// threads. Whole blocks advance together (a thread past the last item runs with active ==
// false), so a body may call group_combine.
template <typename Body>
__device__ __forceinline__ void for_each_item(std::int64_t items, int group, Body&& body) {
  const int t = static_cast<int>(threadIdx.x);
  const std::int64_t per_block = kThreadsPerBlock / group;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * per_block;
  for (std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * per_block; base < items;
       base += step) {
    const std::int64_t item = base + t / group;
    body(item < items, t % group, item);
  }
}

// Blocks for `items` items of `group` threads, or 0 for a group the kernels do not take.
unsigned blocks_for(std::int64_t items, int group) {
  if (group != 1 && group != 32 && group != kThreadsPerBlock) return 0;
  const std::int64_t per_block = kThreadsPerBlock / group;
  std::int64_t blocks = (items + per_block - 1) / per_block;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks);
}

// Element j of slot (row, g) as (n, d, l), in the reference's order (l fastest, then d, then
// n when the slot spans the batch). j < the slot's count, so l and d are > 0.
struct Elem {
  std::int64_t n, d, l;
};
__device__ __forceinline__ Elem slot_elem(const NormArgs& a, std::int64_t row, std::int64_t j) {
  const std::int64_t l = j % a.l;
  const std::int64_t rest = j / a.l;
  return Elem{a.shared ? rest / a.d : row, rest % a.d, l};
}

// --- norm_stats ---------------------------------------------------------------------------------
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    norm_stats_kernel(NormArgs a, std::int64_t slots, std::int64_t count, int group) {
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  const double m = static_cast<double>(count);
  for_each_item(slots, group, [&](bool active, int lane, std::int64_t slot) {
    const std::int64_t row = slot / a.g, g = slot % a.g;
    double sum = 0.0;
    if (active) {
      for (std::int64_t j = lane; j < count; j += group) {
        const Elem e = slot_elem(a, row, j);
        sum += load<T>(a.in, at4(a.in_strides, e.n, g, e.d, e.l));
      }
    }
    const double mu = group_combine(sum, scratch, group, Add{}) / m;
    double sq = 0.0;
    if (active) {
      for (std::int64_t j = lane; j < count; j += group) {
        const Elem e = slot_elem(a, row, j);
        const double dev = load<T>(a.in, at4(a.in_strides, e.n, g, e.d, e.l)) - mu;
        sq += dev * dev;
      }
    }
    sq = group_combine(sq, scratch, group, Add{});
    if (!active || lane != 0) return;
    // An empty slot's statistics are NaN (the reference's, and 0 / 0 would give it too).
    const double nan = ::cuda::std::numeric_limits<double>::quiet_NaN();
    store<T>(a.mean, at2(a.mean_strides, row, g), count > 0 ? mu : nan);
    store<T>(a.var, at2(a.var_strides, row, g), count > 0 ? sq / m : nan);
  });
}

// --- norm_forward -------------------------------------------------------------------------------
template <typename T>
__global__ void norm_forward_kernel(NormArgs a, std::int64_t numel) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < numel; i += grid_step<std::int64_t>()) {
    // Row-major over [N, G, D, L].
    const std::int64_t l = i % a.l;
    std::int64_t rest = i / a.l;
    const std::int64_t d = rest % a.d;
    rest /= a.d;
    const std::int64_t g = rest % a.g;
    const std::int64_t n = rest / a.g;
    const Stats s = stats_at<T>(a, a.shared ? 0 : n, g);
    const double xhat = (load<T>(a.in, at4(a.in_strides, n, g, d, l)) - s.mean) * s.rstd;
    // Formed as the reference does even without weight or bias (xhat * 1 + 0: a -0 becomes +0).
    const double b = a.bias == nullptr ? 0.0 : load<T>(a.bias, at2(a.bias_strides, g, d));
    store<T>(a.out, at4(a.out_strides, n, g, d, l), xhat * weight_at<T>(a, g, d) + b);
  }
}

// --- norm_backward ------------------------------------------------------------------------------
// grad_bias[g, d] = sum gy, grad_weight[g, d] = sum gy * xhat over (n, l), n-major as the
// reference adds them. One item per channel (g, d).
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    norm_backward_channels_kernel(NormArgs a, std::int64_t channels, std::int64_t count,
                                  int group) {
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  for_each_item(channels, group, [&](bool active, int lane, std::int64_t c) {
    const std::int64_t g = c / a.d, d = c % a.d;
    Pair sums{0.0, 0.0};  // a: sum gy, b: sum gy * xhat
    if (active) {
      for (std::int64_t j = lane; j < count; j += group) {
        const std::int64_t n = j / a.l, l = j % a.l;
        const Stats s = stats_at<T>(a, a.shared ? 0 : n, g);
        const double go = load<T>(a.grad_out, at4(a.grad_out_strides, n, g, d, l));
        const double xhat = (load<T>(a.in, at4(a.in_strides, n, g, d, l)) - s.mean) * s.rstd;
        sums.a += go;
        sums.b += go * xhat;
      }
    }
    sums = group_combine(sums, scratch, group, Add{});
    if (!active || lane != 0) return;
    if (a.grad_weight != nullptr) store<T>(a.grad_weight, at2(a.grad_weight_strides, g, d), sums.b);
    if (a.grad_bias != nullptr) store<T>(a.grad_bias, at2(a.grad_bias_strides, g, d), sums.a);
  });
}

// grad_in (a.out), one item per slot (row, g). a.input_stats is the same for the whole grid,
// so every thread meets group_combine's barriers or none does.
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    norm_backward_input_kernel(NormArgs a, std::int64_t slots, std::int64_t count, int group) {
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  const double m = static_cast<double>(count);
  for_each_item(slots, group, [&](bool active, int lane, std::int64_t slot) {
    const std::int64_t row = slot / a.g, g = slot % a.g;
    const Stats s = active ? stats_at<T>(a, row, g) : Stats{0.0, 0.0};
    Pair means{0.0, 0.0};  // the slot's means of dxhat and of dxhat * xhat
    if (a.input_stats) {
      if (active) {
        for (std::int64_t j = lane; j < count; j += group) {
          const Elem e = slot_elem(a, row, j);
          const double dxhat = load<T>(a.grad_out, at4(a.grad_out_strides, e.n, g, e.d, e.l)) *
                               weight_at<T>(a, g, e.d);
          const double xhat =
              (load<T>(a.in, at4(a.in_strides, e.n, g, e.d, e.l)) - s.mean) * s.rstd;
          means.a += dxhat;
          means.b += dxhat * xhat;
        }
      }
      means = group_combine(means, scratch, group, Add{});
      if (count > 0) {
        means.a /= m;
        means.b /= m;
      }
    }
    if (!active) return;
    // Every read of this slot's means is behind the barriers above; each element is read and
    // written by the same thread, so grad_in may be grad_out or in itself.
    for (std::int64_t j = lane; j < count; j += group) {
      const Elem e = slot_elem(a, row, j);
      const double dxhat = load<T>(a.grad_out, at4(a.grad_out_strides, e.n, g, e.d, e.l)) *
                           weight_at<T>(a, g, e.d);
      double v;
      if (a.input_stats) {
        const double xhat =
            (load<T>(a.in, at4(a.in_strides, e.n, g, e.d, e.l)) - s.mean) * s.rstd;
        v = s.rstd * (dxhat - means.a - xhat * means.b);
      } else {
        v = s.rstd * dxhat;
      }
      store<T>(a.out, at4(a.out_strides, e.n, g, e.d, e.l), v);
    }
  });
}

}  // namespace

cudaError_t launch_norm_stats(DType type, const NormArgs& a, std::int64_t slots,
                              std::int64_t count, int group, cudaStream_t stream) {
  const unsigned blocks = blocks_for(slots, group);
  if (blocks == 0 || slots <= 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::NormStats, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    norm_stats_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(a, slots, count, group);
    return cudaGetLastError();
  });
}

cudaError_t launch_norm_forward(DType type, const NormArgs& a, std::int64_t numel,
                                cudaStream_t stream) {
  if (numel <= 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::NormForward, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    norm_forward_kernel<T><<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(a, numel);
    return cudaGetLastError();
  });
}

cudaError_t launch_norm_backward_channels(DType type, const NormArgs& a, std::int64_t channels,
                                          std::int64_t count, int group, cudaStream_t stream) {
  const unsigned blocks = blocks_for(channels, group);
  if (blocks == 0 || channels <= 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::NormBackward, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    norm_backward_channels_kernel<T>
        <<<blocks, kThreadsPerBlock, 0, stream>>>(a, channels, count, group);
    return cudaGetLastError();
  });
}

cudaError_t launch_norm_backward_input(DType type, const NormArgs& a, std::int64_t slots,
                                       std::int64_t count, int group, cudaStream_t stream) {
  const unsigned blocks = blocks_for(slots, group);
  if (blocks == 0 || slots <= 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::NormBackward, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    norm_backward_input_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(a, slots, count, group);
    return cudaGetLastError();
  });
}

}  // namespace reel::backends::cuda
