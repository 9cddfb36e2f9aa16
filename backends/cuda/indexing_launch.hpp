#pragma once
// The launchers of the indexing kernels (indexing.cu), called by their host side (indexing.cpp).
// Plain types only, as launch.hpp: nvcc compiles the kernels, the C++ compiler the checks.
//
// Every indexing op is written as a walk over one shape with three operands, one of which is
// addressed "along dim" through an int64 index value j:
//   gather-like (index_select, gather):     out[x] = in[x with x[dim] = index[x]]
//   scatter-like (index_add, scatter_add):  out[x with x[dim] = index[x]] += src[x]
// The operand addressed through j takes part in the walk with its stride on dim set to 0, and
// j * stride is added by hand (the reference's formulation). index_select and index_add use
// the same kernels as gather and scatter_add: their 1-d index is "broadcast" over the walk (its
// stride is 0 on every dim but dim).
//
// Offsets are 64-bit throughout (one index width keeps the compile short; the int64 index
// values need 64-bit arithmetic anyway). Launchers never throw; they return the cudaError_t of
// the launch.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"

namespace reel::backends::cuda {

// The operand addressed through the index: its extent along dim (valid j are [0, size)) and
// its stride there, in elements.
struct AlongDim {
  std::int64_t size = 0;
  std::int64_t stride = 0;
};

// Whether scatter-like accumulation of `t` has an atomic path: the dtypes CUDA has a native
// atomicAdd for (int32, int64, float32, float64, and complex64/128 as two adds on the parts),
// and the 16-bit floating dtypes, which accumulate atomically in a float32 (complex64) buffer
// (see indexing.cpp). bool, uint8, int8 and int16 have no atomics: they take the ordered path.
constexpr bool has_atomic_accumulate(DType t) {
  switch (t) {
    case DType::Int32: case DType::Int64: case DType::Float32: case DType::Float64:
    case DType::Complex64: case DType::Complex128: case DType::Float16: case DType::BFloat16:
    case DType::Complex32:
      return true;
    default:
      return false;
  }
}

// Index validation: the row-major position of the first element of `index` (walked by ix, one
// operand, numel > 0 elements) outside [0, size), or UINT64_MAX when there is none, written to
// *first_bad (device memory, which the launcher initialises on the stream).
cudaError_t launch_find_bad_index(const std::int64_t* index, const Indexer<1>& ix,
                                  std::int64_t numel, std::int64_t size,
                                  unsigned long long* first_bad, cudaStream_t stream);

// Gather-like: out[o] = in[r + j * in_dim.stride] with j = index[x], over numel > 0 elements
// of element size elem_bytes (1, 2, 4, 8 or 16: a copy, so only the size matters). Operand
// order in ix: out, index, in (its stride on dim set to 0). An index outside [0, in_dim.size)
// leaves its out element unwritten (never a wild read; the host validates where the contract
// asks it to).
cudaError_t launch_index_gather(std::size_t elem_bytes, void* out, const std::int64_t* index,
                                const void* in, const Indexer<3>& ix, std::int64_t numel,
                                AlongDim in_dim, cudaStream_t stream);

// Scatter-like, atomic (has_atomic_accumulate(type)): target[t + j * target_dim.stride] +=
// src[s] with j = index[x], over numel > 0 elements; src has dtype `type` and target its
// opmath dtype (float32 / complex64 for the 16-bit dtypes, `type` itself otherwise). Operand
// order in ix: target (its stride on dim set to 0), index, src. The order in which repeated
// targets are added is the hardware's: floating-point results vary run to run.
cudaError_t launch_index_scatter_atomic(DType type, void* target, const std::int64_t* index,
                                        const void* src, const Indexer<3>& ix,
                                        std::int64_t numel, AlongDim target_dim,
                                        cudaStream_t stream);

// Scatter-like, ordered (every dtype; deterministic): one thread per owned out element, which
// walks the `count` positions k along dim of index and src in order, adding src where
// index == its own j: bitwise the reference's serial loop. `rest` walks the other dims (the
// walk's shape with extent 1 on dim, rest_numel elements); operand order: out, index, src.
// Owners: out_dim.size * rest_numel > 0 elements (j outermost).
cudaError_t launch_index_scatter_ordered(DType type, void* out, const std::int64_t* index,
                                         const void* src, const Indexer<3>& rest,
                                         std::int64_t rest_numel, AlongDim out_dim,
                                         std::int64_t count, std::int64_t index_dim_stride,
                                         std::int64_t src_dim_stride, cudaStream_t stream);

}  // namespace reel::backends::cuda
