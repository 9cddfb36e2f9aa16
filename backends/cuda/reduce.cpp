// The CUDA backend's reductions, host side (Backend's entry points have checked the shapes, with
// PyTorch's messages for max/min/argmax/argmin of nothing): the two walks handed to the
// kernels, and how the work is split across threads. The kernels are in reduce.cu
// (reduce_launch.hpp is the seam).
//
// The walks are the reference's (backends/reference/reduce.cpp): the outer one over the output
// (out's shape, with out's and in's strides), the inner one over the reduced part of in's shape
// (kept dims set to extent 1), each coalesced like every other kernel's walk (plan_walk).
//
// How many threads fold one output (the kernels' `group`), by where the data is contiguous:
//  - few reduced elements (< 32), or an innermost kept dim that is contiguous in the input and
//    at least a warp wide (sum over dim 0 of a row-major matrix): one thread per output, so a
//    warp reads 32 neighbouring elements at each step;
//  - otherwise (reducing along the contiguous dim, or scattered data): a warp per output below
//    4096 reduced elements, a block of 256 above, reading neighbours lane by lane.
// When that leaves the GPU short of threads (few outputs, many elements each: a full sum), the
// reduced range is cut into slices folded in parallel into a small workspace, and a second
// kernel folds each output's slices in order. All of it depends on the shapes only, never on
// timing, so results are the same from run to run.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "backends/cuda/allocator.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/reduce_launch.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

namespace {

// About the threads an H100/H200 keeps in flight (132 SMs x 2048): fewer than this and the
// reduced range is sliced.
constexpr std::int64_t kTargetThreads = std::int64_t{1} << 18;
// A slice gives each of its threads at least this many elements (fewer is not worth a pass).
constexpr std::int64_t kMinPerThread = 16;
// The second pass folds an output's slices serially in one thread: keep that short.
constexpr std::int64_t kMaxSplits = 1024;

// Chooses group, splits and chunk for a geometry whose walks are set (see the file comment).
void plan_threads(cuda::ReduceGeometry& g) {
  const bool kept_contiguous = g.outer.strides[2][0] == 1 && g.outer.sizes[0] >= 32;
  if (g.num_red < 32 || kept_contiguous) g.group = 1;
  else if (g.num_red < 4096) g.group = 32;
  else g.group = cuda::kReduceBlockThreads;

  std::int64_t splits = 1;
  if (g.num_out < kTargetThreads / g.group) {
    const std::int64_t threads = g.num_out * g.group;
    splits = (kTargetThreads + threads - 1) / threads;
    splits = std::min(splits, g.num_red / (g.group * kMinPerThread));
    splits = std::min(splits, kMaxSplits);
    splits = std::max<std::int64_t>(splits, 1);
  }
  // Equal slices, none empty: chunk * splits >= num_red > chunk * (splits - 1).
  g.chunk = (g.num_red + splits - 1) / splits;
  g.splits = g.chunk == 0 ? 1 : (g.num_red + g.chunk - 1) / g.chunk;
}

// The slices' partial results (splits * num_out of kReducePartialBytes), when there are slices.
cuda::DeviceBuffer partials_for(const cuda::ReduceGeometry& g) {
  if (g.splits <= 1) return {};
  return cuda::DeviceBuffer(static_cast<std::size_t>(g.splits * g.num_out) *
                            cuda::kReducePartialBytes);
}

}  // namespace

void CudaBackend::reduce_impl(ReduceOp op, const View& out, const View& in) {
  const char* name = op_name(op);
  const Shape reduced = reduced_shape(out.shape, in.shape);
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "the input");

  cuda::ReduceGeometry g;
  g.num_out = numel_of(out.shape);
  if (g.num_out == 0) return;
  g.num_red = numel_of(reduced);
  // On a reduced dim out's extent is 1, so the outer walk drops it; on a kept dim reduced's
  // extent is 1, so the inner walk drops it. Operand 1 (indices) is unused: out's strides.
  g.outer = cuda::plan_walk<3>(out.shape, {&out.strides, &out.strides, &in.strides}).ix;
  g.inner = cuda::plan_walk<1>(reduced, {&in.strides}).ix;
  plan_threads(g);

  const cuda::DeviceBuffer partials = partials_for(g);
  cuda::check_cuda(
      cuda::launch_reduce(op, in.dtype, out.data, in.data, g, partials.get(), cuda::stream()),
      name);
}

void CudaBackend::arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices,
                                  const View& in, int dim) {
  const char* name = op_name(op);
  const Shape out_shape = with_extent(in.shape, dim, 1);
  const bool want_values = values.data != nullptr;  // a null view: only the indices are wanted
  const std::int64_t n = in.shape[dim];
  cuda::check_view(in, name, "the input");
  cuda::check_view(indices, name, "indices");
  cuda::check_view_if_given(values, name, "values");
  const Strides& value_strides = want_values ? values.strides : indices.strides;

  cuda::ReduceGeometry g;
  g.num_out = numel_of(out_shape);
  if (g.num_out == 0) return;
  g.num_red = n;
  g.outer = cuda::plan_walk<3>(out_shape, {&value_strides, &indices.strides, &in.strides}).ix;
  g.inner.ndim = 1;  // the one reduced dim: its positions are the indices
  g.inner.sizes[0] = n;
  g.inner.strides[0][0] = in.strides[dim];
  plan_threads(g);

  const cuda::DeviceBuffer partials = partials_for(g);
  cuda::check_cuda(cuda::launch_arg_reduce(op, in.dtype, values.data,
                                           indices.ptr<std::int64_t>(), in.data, g,
                                           partials.get(), cuda::stream()),
                   name);
}

}  // namespace reel::backends
