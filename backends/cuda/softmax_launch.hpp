#pragma once
// The seam between the host glue of softmax and the class-index losses (softmax.cpp, compiled
// by the C++ compiler) and their kernels (softmax.cu, compiled by nvcc). Plain types only (see
// launch.hpp); the launchers never throw.
//
// Every kernel here works on "slices": one softmax row along `dim`, or the C classes of one
// loss position (n, l). `group` threads share a slice: lane k takes elements k, k + group, ...
// in order, and the partials of a reduction (max, sum) are combined in shared memory in a
// fixed tree order, so results never depend on timing (no atomics in the maths). The host
// chooses the group from the shapes (softmax.cpp says how).
//
// Offsets are 64-bit throughout (one index width keeps the compile short; the int64 class
// indices need 64-bit arithmetic anyway).
#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/cuda/launch.hpp"

namespace reel::backends::cuda {

// Threads per block of these kernels (device_utils.cuh's kThreadsPerBlock, checked in
// softmax.cu): the largest group.
inline constexpr int kSoftmaxBlockThreads = 256;

// The slices of one launch, for N operands.
template <int N>
struct SliceWalk {
  // Over the slices (the views' shape with extent 1 along the slice dim, coalesced by
  // plan_walk): each operand's offset of the slice's first element.
  Indexer<N> outer;
  std::int64_t num_slices = 0;  // > 0
  std::int64_t length = 0;      // elements per slice (softmax: shape[dim]; losses: C), >= 0
  int group = 1;                // 1, 32 or kSoftmaxBlockThreads threads per slice
};

// softmax / log_softmax along one dim (in and out of dtype `type`, floating). Operands of
// w.outer: 0 out, 1 in. out_stride / in_stride: the views' strides along dim.
cudaError_t launch_softmax(DType type, void* out, const void* in, const SliceWalk<2>& w,
                           std::int64_t out_stride, std::int64_t in_stride, bool log,
                           cudaStream_t stream);

// Their gradient from grad_out and the forward's output y. Operands of w.outer: 0 grad_in,
// 1 grad_out, 2 out (y); the strides are the views' along dim, in that order.
cudaError_t launch_softmax_backward(DType type, void* grad_in, const void* grad_out,
                                    const void* out, const SliceWalk<3>& w,
                                    std::int64_t grad_in_stride, std::int64_t grad_out_stride,
                                    std::int64_t out_stride, bool log, cudaStream_t stream);

// What every loss kernel reads besides its views: the int64 class indices (addressed through
// operand 1 of each walk), the optional class weight and the options. The host has validated
// the targets (launch_find_bad_target); a target outside [0, C) that is not ignore_index is
// treated as ignored, never read through (the contract is never a wild read).
struct ClassArgs {
  const std::int64_t* target = nullptr;
  const void* weight = nullptr;  // [C] of the input's dtype, or null: every weight 1
  std::int64_t weight_stride = 0;
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;  // cross_entropy only
};

// The loss walks run over the positions [N, L]; the class dim is the slice (w.length = C).
// cross_entropy: operands 0 in, 1 target, 2 losses, 3 lse, 4 target_weight (null: strides 0,
// not written). in_class_stride: in's stride along C.
cudaError_t launch_cross_entropy(DType type, void* losses, void* lse, void* target_weight,
                                 const void* in, std::int64_t in_class_stride,
                                 const ClassArgs& args, const SliceWalk<5>& w,
                                 cudaStream_t stream);

// Bytes of device workspace launch_cross_entropy_backward needs when args.weight is not null
// and label_smoothing != 0 (the weights' sum, accumulated as the reference does).
inline constexpr std::size_t kWeightSumBytes = 16;

// cross_entropy's gradient: operands 0 grad_in, 1 target, 2 grad_losses, 3 in, 4 lse; the
// class strides are grad_in's and in's. workspace: kWeightSumBytes of device memory when
// args.weight is not null and args.label_smoothing != 0, else unused (may be null).
cudaError_t launch_cross_entropy_backward(DType type, void* grad_in,
                                          std::int64_t grad_in_class_stride,
                                          const void* grad_losses, const void* in,
                                          std::int64_t in_class_stride, const void* lse,
                                          const ClassArgs& args, const SliceWalk<5>& w,
                                          void* workspace, cudaStream_t stream);

// nll_loss: one thread per position (w.group is ignored). Operands 0 in, 1 target, 2 losses,
// 3 target_weight (null: strides 0, not written).
cudaError_t launch_nll_loss(DType type, void* losses, void* target_weight, const void* in,
                            std::int64_t in_class_stride, const ClassArgs& args,
                            const SliceWalk<4>& w, cudaStream_t stream);

// nll_loss's gradient: operands 0 grad_in, 1 target, 2 grad_losses.
cudaError_t launch_nll_loss_backward(DType type, void* grad_in, std::int64_t grad_in_class_stride,
                                     const void* grad_losses, const ClassArgs& args,
                                     const SliceWalk<3>& w, cudaStream_t stream);

// Target validation: the row-major position of the first element of `target` (walked by ix,
// numel > 0 elements) that is neither ignore_index nor in [0, classes), or UINT64_MAX when there
// is none, written to *first_bad (device memory, which the launcher initialises on the stream).
cudaError_t launch_find_bad_target(const std::int64_t* target, const Indexer<1>& ix,
                                   std::int64_t numel, std::int64_t classes,
                                   std::int64_t ignore_index, unsigned long long* first_bad,
                                   cudaStream_t stream);

}  // namespace reel::backends::cuda
