// CUDA kernels for the reductions (sum, prod, max, min, any, all) and argmax / argmin over
// strided views. The host glue (reduce.cpp) has validated the views and planned the two walks
// and the work split (reduce_launch.hpp describes the geometry).
//
// Each op is a small "reducer": an accumulator type, its identity, how one element enters it
// (load), how two partial accumulators combine, and how the result is rounded to the output.
// One kernel serves them all: `group` threads fold one output's reduced elements (thread `lane`
// takes every group-th element, in order), then halve their partials in shared memory in a fixed
// tree order; with several slices a second kernel folds each output's slice partials in slice
// order. A lone thread (group 1, one slice) folds exactly as the reference's serial loop does.
//
// Agreement with the reference (backends/reference/reduce.cpp):
//  - sum / prod accumulate in the reference's acc_t: double for float32 (and for float16 and
//    bfloat16, which the reference reduces as float32 copies), complex128 for complex64 and
//    complex32, int64 counting for bool, the type itself otherwise; integers wrap, and wrapping
//    addition and multiplication are associative, so integer results are exact in any order.
//    The result is rounded once (to float32 and then to the 16-bit type for those, as the
//    reference's float32 copy is rounded back).
//  - max / min / argmax / argmin carry (value, position): a NaN beats every number, the smaller
//    position wins between two NaNs and between equal values, otherwise the larger (smaller)
//    value wins. That order is total, so any combining order gives the serial loop's answer:
//    the first NaN, else the first extreme. Values compare in opmath (float32 for 16-bit types).
//  - any / all fold nonzero(x) (complex: either part nonzero) with || / &&.
#include <cuda/std/limits>

#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/reduce_launch.hpp"

namespace reel::backends::cuda {

static_assert(kReduceBlockThreads == kThreadsPerBlock);

namespace {

// --- reducers ---------------------------------------------------------------------------------
template <typename T>
struct SumProd {
  using Elem = T;
  using Acc = acc_t<T>;  // the reference's sum / prod accumulator
  using Out = T;
  static constexpr bool kIndexed = false;
  bool sum;  // else prod

  __device__ Acc identity() const { return math::cast_value<Acc>(sum ? 0 : 1); }
  __device__ Acc load(T x, std::int64_t) const { return math::cast_value<Acc>(x); }
  __device__ Acc combine(Acc a, Acc b) const {
    return sum ? math::plus(a, b) : math::times(a, b);
  }
  __device__ Out finish(Acc a) const { return math::cast_value<Out>(a); }
};

// A candidate extreme: its value (in opmath) and its position in the fold order.
template <typename W>
struct Ranked {
  W v;
  std::int64_t i;
};

template <typename T>
struct Extreme {
  using Elem = T;
  using W = math::opmath_t<T>;
  using Acc = Ranked<W>;
  using Out = T;
  static constexpr bool kIndexed = true;
  bool max;  // else min

  // The reference's starting value (-inf / +inf, or the type's extremes), at a position after
  // every element: any element beats or ties it, and wins the tie.
  __device__ Acc identity() const {
    using L = ::cuda::std::numeric_limits<W>;
    constexpr std::int64_t kNowhere = ::cuda::std::numeric_limits<std::int64_t>::max();
    if constexpr (L::has_infinity) {
      return Acc{max ? -L::infinity() : L::infinity(), kNowhere};
    } else {
      return Acc{max ? L::lowest() : L::max(), kNowhere};
    }
  }
  __device__ Acc load(T x, std::int64_t position) const { return Acc{math::widen(x), position}; }
  __device__ Acc combine(const Acc& a, const Acc& b) const {
    const bool a_nan = math::is_nan(a.v);
    const bool b_nan = math::is_nan(b.v);
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.i <= b.i ? a : b;
      return a_nan ? a : b;
    }
    if (max ? b.v > a.v : b.v < a.v) return b;
    if (max ? a.v > b.v : a.v < b.v) return a;
    return a.i <= b.i ? a : b;  // equal values (0.0 and -0.0 too): the first
  }
  __device__ Out finish(const Acc& a) const { return math::cast_value<Out>(a.v); }
};

template <typename T>
struct AnyAll {
  using Elem = T;
  using Acc = bool;
  using Out = bool;
  static constexpr bool kIndexed = false;
  bool any;  // else all

  __device__ Acc identity() const { return !any; }
  __device__ Acc load(T x, std::int64_t) const { return math::nonzero(x); }
  __device__ Acc combine(Acc a, Acc b) const { return any ? (a || b) : (a && b); }
  __device__ Out finish(Acc a) const { return a; }
};

// --- kernels ----------------------------------------------------------------------------------
struct Operands {
  void* out;              // Out elements at outer offset 0; null: not written (argmax's values)
  std::int64_t* indices;  // at outer offset 1; null: not written (every reduce)
  const void* in;         // at outer offset 2 plus inner offset
  void* partials;         // splits * num_out accumulators, slice-major
};

template <typename Red>
__device__ __forceinline__ void store(const Red& red, const Operands& p,
                                      const std::int64_t (&off)[3],
                                      const typename Red::Acc& acc) {
  if (p.out != nullptr) static_cast<typename Red::Out*>(p.out)[off[0]] = red.finish(acc);
  if constexpr (Red::kIndexed) {
    if (p.indices != nullptr) p.indices[off[1]] = acc.i;
  }
}

// Work item v = slice * num_out + output: with a thread per output, neighbouring threads take
// neighbouring outputs of one slice, whose inputs are neighbours when the kept dim is the
// contiguous one. The loop over work items advances a whole block at a time, so every thread
// of a block meets the same __syncthreads.
template <typename Red>
__global__ void __launch_bounds__(kThreadsPerBlock)
    reduce_kernel(Red red, ReduceGeometry g, Operands p) {
  using T = typename Red::Elem;
  using Acc = typename Red::Acc;
  // Raw storage: an accumulator such as complex128 has constructors, which __shared__
  // variables may not.
  __shared__ __align__(16) unsigned char scratch[kThreadsPerBlock * sizeof(Acc)];
  Acc* shared = reinterpret_cast<Acc*>(scratch);

  const int t = static_cast<int>(threadIdx.x);
  const int group = g.group;
  const int lane = t % group;
  const int per_block = kThreadsPerBlock / group;
  const std::int64_t total = g.num_out * g.splits;
  const std::int64_t step = static_cast<std::int64_t>(gridDim.x) * per_block;
  for (std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * per_block; base < total;
       base += step) {
    const std::int64_t v = base + t / group;
    const bool active = v < total;
    std::int64_t off[3] = {0, 0, 0};
    Acc acc = red.identity();
    if (active) {
      const std::int64_t slice = v / g.num_out;
      offsets_of<3>(g.outer, v - slice * g.num_out, off);
      const T* src = static_cast<const T*>(p.in) + off[2];
      const std::int64_t begin = slice * g.chunk;
      const std::int64_t end = g.num_red - begin < g.chunk ? g.num_red : begin + g.chunk;
      for (std::int64_t r = begin + lane; r < end; r += group) {
        std::int64_t at[1];
        offsets_of<1>(g.inner, r, at);
        acc = red.combine(acc, red.load(src[at[0]], r));
      }
    }
    if (group > 1) {  // uniform over the block
      // Each thread writes only its own slot outside the tree, and the tree's last step ends
      // with a barrier, so the next round's writes cannot race with this round's reads.
      shared[t] = acc;
      __syncthreads();
      for (int half = group / 2; half > 0; half /= 2) {
        if (lane < half) shared[t] = red.combine(shared[t], shared[t + half]);
        __syncthreads();
      }
      acc = shared[t];
    }
    if (active && lane == 0) {
      if (g.splits > 1) static_cast<Acc*>(p.partials)[v] = acc;
      else store(red, p, off, acc);
    }
  }
}

// Folds each output's slice partials in slice order.
template <typename Red>
__global__ void finish_kernel(Red red, ReduceGeometry g, Operands p) {
  using Acc = typename Red::Acc;
  const Acc* partials = static_cast<const Acc*>(p.partials);
  for (std::int64_t o = grid_start<std::int64_t>(); o < g.num_out;
       o += grid_step<std::int64_t>()) {
    Acc acc = partials[o];
    for (std::int64_t s = 1; s < g.splits; ++s) acc = red.combine(acc, partials[s * g.num_out + o]);
    std::int64_t off[3];
    offsets_of<3>(g.outer, o, off);
    store(red, p, off, acc);
  }
}

template <typename Red>
cudaError_t launch(const Red& red, const ReduceGeometry& g, const Operands& p,
                   cudaStream_t stream) {
  using Acc = typename Red::Acc;
  static_assert(sizeof(Acc) <= kReducePartialBytes && alignof(Acc) <= 16,
                "a reduction accumulator must fit one partial slot");
  if (g.group != 1 && g.group != 32 && g.group != kThreadsPerBlock) return cudaErrorInvalidValue;
  const std::int64_t per_block = kThreadsPerBlock / g.group;
  std::int64_t blocks = (g.num_out * g.splits + per_block - 1) / per_block;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  if (blocks < 1) blocks = 1;
  reduce_kernel<Red><<<dim3(static_cast<unsigned>(blocks)), kThreadsPerBlock, 0, stream>>>(
      red, g, p);
  if (g.splits > 1) {
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    finish_kernel<Red><<<grid_for(g.num_out), kThreadsPerBlock, 0, stream>>>(red, g, p);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_reduce(ReduceOp op, DType type, void* out, const void* in,
                          const ReduceGeometry& g, void* partials, cudaStream_t stream) {
  const Operands p{out, nullptr, in, partials};
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    constexpr DType dt = kDTypeOf<T>;
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Prod:
        if constexpr (op_accepts(ReduceOp::Sum, dt) && op_accepts(ReduceOp::Prod, dt)) {
          return launch(SumProd<T>{op == ReduceOp::Sum}, g, p, stream);
        }
        break;
      case ReduceOp::Max:
      case ReduceOp::Min:
        if constexpr (op_accepts(ReduceOp::Max, dt) && op_accepts(ReduceOp::Min, dt)) {
          return launch(Extreme<T>{op == ReduceOp::Max}, g, p, stream);
        }
        break;
      case ReduceOp::Any:
      case ReduceOp::All:
        if constexpr (op_accepts(ReduceOp::Any, dt) && op_accepts(ReduceOp::All, dt)) {
          return launch(AnyAll<T>{op == ReduceOp::Any}, g, p, stream);
        }
        break;
    }
    return cudaErrorNotSupported;
  });
}

cudaError_t launch_arg_reduce(ArgReduceOp op, DType type, void* values, std::int64_t* indices,
                              const void* in, const ReduceGeometry& g, void* partials,
                              cudaStream_t stream) {
  const Operands p{values, indices, in, partials};
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    constexpr DType dt = kDTypeOf<T>;
    // The same reducer (and kernels) as max / min: the position rides along with the value.
    if constexpr (op_accepts(ArgReduceOp::Max, dt) && op_accepts(ArgReduceOp::Min, dt)) {
      return launch(Extreme<T>{op == ArgReduceOp::Max}, g, p, stream);
    } else {
      (void)op;
      return cudaErrorNotSupported;
    }
  });
}

}  // namespace reel::backends::cuda
