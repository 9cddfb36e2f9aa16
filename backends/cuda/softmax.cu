// CUDA kernels for softmax / log_softmax along one dim and their gradients, and for the
// class-index losses cross_entropy and nll_loss and theirs. The host side (softmax.cpp) has
// checked the views and the targets, and planned the slices (softmax_launch.hpp).
//
// One slice (a softmax row, or the C classes of one loss position) is folded by `group`
// threads: lane k takes elements k, k + group, ... in order, and the lanes' partials are
// combined in shared memory in a fixed tree order (group_combine). A lone thread (group 1)
// folds exactly as the reference's serial loop. The loop over slices advances a whole block at
// a time, so every thread of a block meets the same __syncthreads. No atomics in the maths:
// a result is the same from run to run.
//
// Agreement with the reference (backends/reference/softmax.cpp, loss.cpp):
//  - everything is computed in the reference's acc_t (device_utils.cuh): double for every
//    floating dtype (float16 and bfloat16 too: the reference runs them as float32 copies, whose
//    kernels accumulate in double). Each result is rounded once, with cast_value, which for the
//    16-bit types goes through float32 as the reference's float32 copy is rounded back; so
//    native 16-bit views need no widened copies and give the reference's bits up to the order
//    of the double-precision sums and the last bit of the device's double exp / log.
//  - the slice maximum is the reference's m = std::max(m, x) fold from -inf: a NaN never
//    replaces m, and of equal values (0.0 and -0.0) the first one stays. The partials carry
//    each candidate's position, which makes that the result in any combining order. A NaN then
//    reaches every output through the sum (exp(NaN - m)), a +inf through inf - inf, and a slice
//    of -inf only through -inf - -inf, as in the reference (and PyTorch).
//  - sums are the reference's, from 0 in the same type, only in tree order when group > 1.
//  - a target that is ignore_index gives 0 in every output and gradient. The host raised the
//    reference's error for any other target outside [0, C) before launching; the kernels still
//    treat such a target as ignored, so a broken contract is never a wild read.
#include <cuda/std/limits>

#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/softmax_launch.hpp"

namespace reel::backends::cuda {

static_assert(kSoftmaxBlockThreads == kThreadsPerBlock);

namespace {

// --- building blocks ----------------------------------------------------------------------------
// Loads widen exactly to the accumulation type; stores round once (through float32 for the
// 16-bit types).
template <typename A, typename T>
__device__ __forceinline__ A load(const T* p) {
  return math::cast_value<A>(*p);
}
template <typename T, typename A>
__device__ __forceinline__ void store(T* p, A v) {
  *p = math::cast_value<T>(v);
}

// A candidate maximum and its position in the slice.
template <typename A>
struct Peak {
  A v;
  std::int64_t i;
};

// The reference's fold from -inf, at a position after every element (any element ties or
// beats it and wins the tie).
template <typename A>
__device__ __forceinline__ Peak<A> no_peak() {
  return Peak<A>{-::cuda::std::numeric_limits<A>::infinity(),
                 ::cuda::std::numeric_limits<std::int64_t>::max()};
}

// std::max(m, x) as the reference folds it: x replaces m only when m < x, so a NaN never does
// (partials are therefore never NaN) and of equal values the earlier position stays.
struct KeepMax {
  template <typename A>
  __device__ Peak<A> operator()(const Peak<A>& a, const Peak<A>& b) const {
    return (a.v < b.v || (a.v == b.v && b.i < a.i)) ? b : a;
  }
};

struct Add {
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return a + b;
  }
};

// Calls body(active, lane, off) once per slice for each of the slice's `group` threads, off
// holding the slice's first offset in each operand. Whole blocks advance together (a thread
// past the last slice runs with active == false and off all 0), so a body may call
// group_combine.
template <int N, typename Body>
__device__ __forceinline__ void for_each_slice(const SliceWalk<N>& w, Body&& body) {
  const int group = w.group;
  const int t = static_cast<int>(threadIdx.x);
  const std::int64_t per_block = kThreadsPerBlock / group;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * per_block;
  for (std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * per_block;
       base < w.num_slices; base += step) {
    const std::int64_t slice = base + t / group;
    const bool active = slice < w.num_slices;
    std::int64_t off[N] = {};
    if (active) offsets_of<N>(w.outer, slice, off);
    body(active, t % group, off);
  }
}

// Blocks for a slice walk, or 0 for a group the kernels do not take.
template <int N>
unsigned blocks_for(const SliceWalk<N>& w) {
  if (w.group != 1 && w.group != 32 && w.group != kThreadsPerBlock) return 0;
  const std::int64_t per_block = kThreadsPerBlock / w.group;
  std::int64_t blocks = (w.num_slices + per_block - 1) / per_block;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks);
}

// The class of a target, or -1 when it adds nothing (ignore_index; or out of range, which the
// host has already refused).
__device__ __forceinline__ std::int64_t class_of(const ClassArgs& a, std::int64_t t,
                                                 std::int64_t classes) {
  return t != a.ignore_index && t >= 0 && t < classes ? t : -1;
}

// w[c], or 1 without a weight.
template <typename T, typename A>
__device__ __forceinline__ A weight_at(const ClassArgs& a, std::int64_t c) {
  if (a.weight == nullptr) return A(1);
  return load<A>(static_cast<const T*>(a.weight) + c * a.weight_stride);
}

// --- softmax ------------------------------------------------------------------------------------
//   softmax(x)_i     = exp(x_i - m) / s,   log_softmax(x)_i = (x_i - m) - log(s),
//   m = max_j x_j,  s = sum_j exp(x_j - m)
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    softmax_kernel(SliceWalk<2> w, T* out, const T* in, std::int64_t so, std::int64_t si,
                   bool is_log) {
  using A = acc_t<T>;
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  const std::int64_t n = w.length;
  const int group = w.group;
  for_each_slice(w, [&](bool active, int lane, const std::int64_t* off) {
    const T* x = in + off[1];
    Peak<A> peak = no_peak<A>();
    if (active) {
      for (std::int64_t i = lane; i < n; i += group) {
        peak = KeepMax{}(peak, Peak<A>{load<A>(x + i * si), i});
      }
    }
    const A m = group_combine(peak, scratch, group, KeepMax{}).v;
    A s = 0;
    if (active) {
      for (std::int64_t i = lane; i < n; i += group) s += std::exp(load<A>(x + i * si) - m);
    }
    s = group_combine(s, scratch, group, Add{});
    if (!active) return;
    // Every read of this slice is behind the barriers above, so out may be in itself.
    const A log_s = std::log(s);
    T* y = out + off[0];
    for (std::int64_t i = lane; i < n; i += group) {
      const A z = load<A>(x + i * si) - m;
      store(y + i * so, is_log ? z - log_s : std::exp(z) / s);
    }
  });
}

//   softmax:      dx_i = y_i * (g_i - sum_j g_j y_j)
//   log_softmax:  dx_i = g_i - exp(y_i) * sum_j g_j
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    softmax_backward_kernel(SliceWalk<3> w, T* grad_in, const T* grad_out, const T* out,
                            std::int64_t sx, std::int64_t sg, std::int64_t sy, bool is_log) {
  using A = acc_t<T>;
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  const std::int64_t n = w.length;
  const int group = w.group;
  for_each_slice(w, [&](bool active, int lane, const std::int64_t* off) {
    const T* g = grad_out + off[1];
    const T* y = out + off[2];
    A s = 0;
    if (active) {
      for (std::int64_t i = lane; i < n; i += group) {
        s += is_log ? load<A>(g + i * sg) : load<A>(g + i * sg) * load<A>(y + i * sy);
      }
    }
    s = group_combine(s, scratch, group, Add{});
    if (!active) return;
    T* dx = grad_in + off[0];
    for (std::int64_t i = lane; i < n; i += group) {
      const A gi = load<A>(g + i * sg), yi = load<A>(y + i * sy);
      store(dx + i * sx, is_log ? gi - std::exp(yi) * s : yi * (gi - s));
    }
  });
}

// --- cross_entropy ------------------------------------------------------------------------------
//   lse = m + log(sum_c exp(x_c - m)),  loss = w_t (lse - x_t), and with label smoothing s
//   loss = (1 - s) loss + s / C * sum_c w_c (lse - x_c)
// Operands: 0 in, 1 target, 2 losses, 3 lse, 4 target_weight.
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    cross_entropy_kernel(SliceWalk<5> w, ClassArgs a, T* losses, T* lse, T* target_weight,
                         const T* in, std::int64_t sc) {
  using A = acc_t<T>;
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  const std::int64_t classes = w.length;
  const int group = w.group;
  const A s = a.label_smoothing;
  for_each_slice(w, [&](bool active, int lane, const std::int64_t* off) {
    // The same for the whole group (one position), so the lanes skip the folds together; the
    // barriers inside group_combine are still met by every thread.
    const std::int64_t t = active ? class_of(a, a.target[off[1]], classes) : -1;
    const bool counted = t >= 0;
    const T* x = in + off[0];
    Peak<A> peak = no_peak<A>();
    if (counted) {
      for (std::int64_t c = lane; c < classes; c += group) {
        peak = KeepMax{}(peak, Peak<A>{load<A>(x + c * sc), c});
      }
    }
    const A m = group_combine(peak, scratch, group, KeepMax{}).v;
    A z = 0;
    if (counted) {
      for (std::int64_t c = lane; c < classes; c += group) z += std::exp(load<A>(x + c * sc) - m);
    }
    z = group_combine(z, scratch, group, Add{});
    const A log_z = m + std::log(z);
    const A wt = counted ? weight_at<T, A>(a, t) : A(0);
    A loss = counted ? wt * (log_z - load<A>(x + t * sc)) : A(0);
    // Without smoothing the term is not formed at all (a -inf logit would make it inf, and
    // 0 * inf NaN), as the reference and PyTorch skip it. s is the same for the whole grid.
    if (s != 0) {
      A smooth = 0;
      if (counted) {
        for (std::int64_t c = lane; c < classes; c += group) {
          smooth += weight_at<T, A>(a, c) * (log_z - load<A>(x + c * sc));
        }
      }
      smooth = group_combine(smooth, scratch, group, Add{});
      if (counted) loss = (1 - s) * loss + s / A(classes) * smooth;
    }
    if (!active || lane != 0) return;
    store(losses + off[2], loss);
    store(lse + off[3], counted ? log_z : A(0));
    if (target_weight != nullptr) store(target_weight + off[4], wt);
  });
}

// sum_c w_c in the reference's type, by one block (the smoothing term of the gradient).
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    weight_sum_kernel(ClassArgs a, std::int64_t classes, acc_t<T>* sum) {
  using A = acc_t<T>;
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * kGroupSlotBytes];
  A acc = 0;
  for (std::int64_t c = threadIdx.x; c < classes; c += kThreadsPerBlock) {
    acc += weight_at<T, A>(a, c);
  }
  acc = group_combine(acc, scratch, kThreadsPerBlock, Add{});
  if (threadIdx.x == 0) *sum = acc;
}

//   dx_c = g ((1 - s) w_t (p_c - [c == t]) + s / C (p_c sum_k w_k - w_c)),  p_c = exp(x_c - lse)
// (the smoothing term only when s != 0). Each element on its own: no reduction, no barrier.
// Operands: 0 grad_in, 1 target, 2 grad_losses, 3 in, 4 lse. weight_sum: null without a weight
// (sum_k 1 = C) or without smoothing (unused).
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    cross_entropy_backward_kernel(SliceWalk<5> w, ClassArgs a, T* grad_in, std::int64_t sd,
                                  const T* grad_losses, const T* in, std::int64_t sc,
                                  const T* lse, const acc_t<T>* weight_sum) {
  using A = acc_t<T>;
  const std::int64_t classes = w.length;
  const int group = w.group;
  const A s = a.label_smoothing;
  const A w_sum = weight_sum != nullptr ? *weight_sum : A(classes);
  for_each_slice(w, [&](bool active, int lane, const std::int64_t* off) {
    if (!active) return;
    T* dx = grad_in + off[0];
    const std::int64_t t = class_of(a, a.target[off[1]], classes);
    if (t < 0) {
      for (std::int64_t c = lane; c < classes; c += group) store(dx + c * sd, A(0));
      return;
    }
    const A g = load<A>(grad_losses + off[2]);
    const T* x = in + off[3];
    const A log_z = load<A>(lse + off[4]);
    const A wt = weight_at<T, A>(a, t);
    for (std::int64_t c = lane; c < classes; c += group) {
      const A pc = std::exp(load<A>(x + c * sc) - log_z);
      A d = wt * (pc - A(c == t ? 1 : 0));
      if (s != 0) d = (1 - s) * d + s / A(classes) * (pc * w_sum - weight_at<T, A>(a, c));
      store(dx + c * sd, g * d);
    }
  });
}

// --- nll_loss -----------------------------------------------------------------------------------
// loss = -w_t x_t: one thread per position. Operands: 0 in, 1 target, 2 losses, 3 target_weight.
template <typename T>
__global__ void nll_loss_kernel(SliceWalk<4> w, ClassArgs a, T* losses, T* target_weight,
                                const T* in, std::int64_t sc) {
  using A = acc_t<T>;
  for (std::int64_t p = grid_start<std::int64_t>(); p < w.num_slices;
       p += grid_step<std::int64_t>()) {
    std::int64_t off[4];
    offsets_of<4>(w.outer, p, off);
    const std::int64_t t = class_of(a, a.target[off[1]], w.length);
    const A wt = t >= 0 ? weight_at<T, A>(a, t) : A(0);
    store(losses + off[2], t >= 0 ? -wt * load<A>(in + off[0] + t * sc) : A(0));
    if (target_weight != nullptr) store(target_weight + off[3], wt);
  }
}

// dx_c = -g w_t [c == t]. Operands: 0 grad_in, 1 target, 2 grad_losses.
template <typename T>
__global__ void __launch_bounds__(kThreadsPerBlock)
    nll_loss_backward_kernel(SliceWalk<3> w, ClassArgs a, T* grad_in, std::int64_t sd,
                             const T* grad_losses) {
  using A = acc_t<T>;
  const std::int64_t classes = w.length;
  const int group = w.group;
  for_each_slice(w, [&](bool active, int lane, const std::int64_t* off) {
    if (!active) return;
    const std::int64_t t = class_of(a, a.target[off[1]], classes);
    const T zero = math::cast_value<T>(A(0));
    const T value =
        t >= 0 ? math::cast_value<T>(-load<A>(grad_losses + off[2]) * weight_at<T, A>(a, t))
               : zero;
    T* dx = grad_in + off[0];
    for (std::int64_t c = lane; c < classes; c += group) dx[c * sd] = c == t ? value : zero;
  });
}

// --- target validation --------------------------------------------------------------------------
// atomicMin of the row-major position keeps the first bad target, the one the reference's
// serial loop stops at, whatever order the threads run in (indexing.cu's pattern).
__global__ void find_bad_target_kernel(Indexer<1> ix, std::int64_t n, const std::int64_t* target,
                                       std::int64_t classes, std::int64_t ignore_index,
                                       unsigned long long* first_bad) {
  for (std::int64_t i = grid_start<std::int64_t>(); i < n; i += grid_step<std::int64_t>()) {
    std::int64_t off[1];
    offsets_of<1>(ix, i, off);
    const std::int64_t t = target[off[0]];
    if (t != ignore_index && (t < 0 || t >= classes)) {
      atomicMin(first_bad, static_cast<unsigned long long>(i));
    }
  }
}

}  // namespace

cudaError_t launch_softmax(DType type, void* out, const void* in, const SliceWalk<2>& w,
                           std::int64_t out_stride, std::int64_t in_stride, bool log,
                           cudaStream_t stream) {
  const unsigned blocks = blocks_for(w);
  if (blocks == 0) return cudaErrorInvalidValue;
  return visit_floating(log ? KernelOp::LogSoftmax : KernelOp::Softmax, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(
        w, static_cast<T*>(out), static_cast<const T*>(in), out_stride, in_stride, log);
    return cudaGetLastError();
  });
}

cudaError_t launch_softmax_backward(DType type, void* grad_in, const void* grad_out,
                                    const void* out, const SliceWalk<3>& w,
                                    std::int64_t grad_in_stride, std::int64_t grad_out_stride,
                                    std::int64_t out_stride, bool log, cudaStream_t stream) {
  const unsigned blocks = blocks_for(w);
  if (blocks == 0) return cudaErrorInvalidValue;
  const KernelOp op = log ? KernelOp::LogSoftmaxBackward : KernelOp::SoftmaxBackward;
  return visit_floating(op, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(
        w, static_cast<T*>(grad_in), static_cast<const T*>(grad_out),
        static_cast<const T*>(out), grad_in_stride, grad_out_stride, out_stride, log);
    return cudaGetLastError();
  });
}

cudaError_t launch_cross_entropy(DType type, void* losses, void* lse, void* target_weight,
                                 const void* in, std::int64_t in_class_stride,
                                 const ClassArgs& args, const SliceWalk<5>& w,
                                 cudaStream_t stream) {
  const unsigned blocks = blocks_for(w);
  if (blocks == 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::CrossEntropy, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(
        w, args, static_cast<T*>(losses), static_cast<T*>(lse), static_cast<T*>(target_weight),
        static_cast<const T*>(in), in_class_stride);
    return cudaGetLastError();
  });
}

cudaError_t launch_cross_entropy_backward(DType type, void* grad_in,
                                          std::int64_t grad_in_class_stride,
                                          const void* grad_losses, const void* in,
                                          std::int64_t in_class_stride, const void* lse,
                                          const ClassArgs& args, const SliceWalk<5>& w,
                                          void* workspace, cudaStream_t stream) {
  const unsigned blocks = blocks_for(w);
  if (blocks == 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::CrossEntropyBackward, type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    using A = acc_t<T>;
    static_assert(sizeof(A) <= kWeightSumBytes);
    A* weight_sum = nullptr;
    if (args.weight != nullptr && args.label_smoothing != 0) {
      if (workspace == nullptr) return cudaErrorInvalidValue;
      weight_sum = static_cast<A*>(workspace);
      weight_sum_kernel<T><<<1, kThreadsPerBlock, 0, stream>>>(args, w.length, weight_sum);
      const cudaError_t err = cudaGetLastError();
      if (err != cudaSuccess) return err;
    }
    cross_entropy_backward_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(
        w, args, static_cast<T*>(grad_in), grad_in_class_stride,
        static_cast<const T*>(grad_losses), static_cast<const T*>(in), in_class_stride,
        static_cast<const T*>(lse), weight_sum);
    return cudaGetLastError();
  });
}

cudaError_t launch_nll_loss(DType type, void* losses, void* target_weight, const void* in,
                            std::int64_t in_class_stride, const ClassArgs& args,
                            const SliceWalk<4>& w, cudaStream_t stream) {
  return visit_floating(KernelOp::NllLoss, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    nll_loss_kernel<T><<<grid_for(w.num_slices), kThreadsPerBlock, 0, stream>>>(
        w, args, static_cast<T*>(losses), static_cast<T*>(target_weight),
        static_cast<const T*>(in), in_class_stride);
    return cudaGetLastError();
  });
}

cudaError_t launch_nll_loss_backward(DType type, void* grad_in, std::int64_t grad_in_class_stride,
                                     const void* grad_losses, const ClassArgs& args,
                                     const SliceWalk<3>& w, cudaStream_t stream) {
  const unsigned blocks = blocks_for(w);
  if (blocks == 0) return cudaErrorInvalidValue;
  return visit_floating(KernelOp::NllLossBackward, type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    nll_loss_backward_kernel<T><<<blocks, kThreadsPerBlock, 0, stream>>>(
        w, args, static_cast<T*>(grad_in), grad_in_class_stride,
        static_cast<const T*>(grad_losses));
    return cudaGetLastError();
  });
}

cudaError_t launch_find_bad_target(const std::int64_t* target, const Indexer<1>& ix,
                                   std::int64_t numel, std::int64_t classes,
                                   std::int64_t ignore_index, unsigned long long* first_bad,
                                   cudaStream_t stream) {
  // All bits set: UINT64_MAX, "none found".
  const cudaError_t err = cudaMemsetAsync(first_bad, 0xFF, sizeof(unsigned long long), stream);
  if (err != cudaSuccess) return err;
  find_bad_target_kernel<<<grid_for(numel), kThreadsPerBlock, 0, stream>>>(
      ix, numel, target, classes, ignore_index, first_bad);
  return cudaGetLastError();
}

}  // namespace reel::backends::cuda
