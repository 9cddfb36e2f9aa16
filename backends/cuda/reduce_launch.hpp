#pragma once
// The seam between the reductions' host glue (reduce.cpp, compiled by the C++ compiler) and
// their kernels (reduce.cu, compiled by nvcc): the geometry of one reduction and the two
// launchers. Plain types only (see launch.hpp); the launchers never throw.
//
// A reduction is two walks, as in the reference (backends/reference/reduce.cpp): the outer one
// visits each output element, the inner one the input elements that fold into it. The host
// also chooses how the device splits the work (reduce.cpp says why):
//  - `group` threads cooperate on one output element (1: a thread per output; 32 or 256: a
//    warp or a block, combining their partials in shared memory in a fixed tree order);
//  - with `splits` > 1 the reduced range is cut into `splits` slices of `chunk` elements,
//    each folded on its own into `partials` (splits * num_out partials of kReducePartialBytes),
//    and a second kernel folds each output's slices in slice order.
// Nothing depends on timing (no atomics), so a result is the same from run to run.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"
#include "backends/op_table.hpp"

namespace reel::backends::cuda {

// Bytes of one partial result in the workspace: enough for every accumulator (complex128, or
// a value widened to float64 paired with an int64 index); reduce.cu checks each against it.
inline constexpr std::size_t kReducePartialBytes = 16;
// Threads per block of the reduction kernels (device_utils.cuh's kThreadsPerBlock, checked in
// reduce.cu): the largest group.
inline constexpr int kReduceBlockThreads = 256;

struct ReduceGeometry {
  // Over the kept dims (innermost first), three operands: 0 the output (reduce: out;
  // arg_reduce: values, or the indices' strides when values is null), 1 the indices (arg_reduce;
  // reduce passes out's strides, unused), 2 the input at the first element of each group.
  Indexer<3> outer;
  // Over the reduced dims (innermost first): the input's offset of each reduced element,
  // relative to the outer offset. Its linear index is the element's position in the reference's
  // (row-major) fold order, which is what max/min/argmax/argmin break ties by.
  Indexer<1> inner;
  std::int64_t num_out = 0;  // > 0
  std::int64_t num_red = 0;  // >= 0 (0: every output is the op's identity)
  int group = 1;             // 1, 32 or kReduceBlockThreads threads per output element
  std::int64_t splits = 1;   // >= 1 slices of the reduced range
  std::int64_t chunk = 0;    // elements per slice: splits * chunk >= num_red
};

// out[o] = op over in's group o. in has dtype `type`, out op_out_dtype(op, type). partials:
// splits * num_out * kReducePartialBytes bytes of device memory when splits > 1, else unused.
// Returns cudaErrorNotSupported for a pair the op table refuses.
cudaError_t launch_reduce(ReduceOp op, DType type, void* out, const void* in,
                          const ReduceGeometry& g, void* partials, cudaStream_t stream);

// indices[o] = the position of the first extreme of in's group o (the first NaN if any);
// values[o] = that element (values may be null). The inner walk is the one reduced dim.
cudaError_t launch_arg_reduce(ArgReduceOp op, DType type, void* values, std::int64_t* indices,
                              const void* in, const ReduceGeometry& g, void* partials,
                              cudaStream_t stream);

}  // namespace reel::backends::cuda
