// The CUDA backend's softmax / log_softmax along one dim and their gradients, and the
// class-index losses cross_entropy and nll_loss and theirs, host side: the slices handed to the
// kernels (softmax.cu; softmax_launch.hpp is the seam) and the check of the target values.
//
// Backend's entry points have checked the shapes, dtypes, dim and label_smoothing. What they
// cannot check is the targets' values, which live on the device: a small kernel finds the first
// target that is neither ignore_index nor a class in [0, C), and the host reads its position
// back, so every loss call waits for the stream once (the price of the reference's error
// instead of a wild read; backends/cuda/indexing.cpp checks index values the same way). On a bad
// target nothing has been written yet (the reference has written the positions before it).
//
// A slice is one softmax row along dim (every other index fixed), or the C classes of one loss
// position (n, l). How many threads share one (the kernels' `group`), by the shapes only:
//  - short slices (< 32 elements): one thread per slice, which folds as the reference's loop;
//  - also one thread per slice when neighbouring slices are neighbours in memory (softmax over
//    dim 0 of a row-major matrix, a loss over [N, C, L] with L contiguous) and there are enough
//    of them to fill the GPU: a warp then reads 32 neighbouring elements at each step;
//  - otherwise a warp per slice below 4096 elements, a block of 256 above, reading neighbours
//    lane by lane and combining the lanes' partials in a fixed tree order.
// 16-bit views are computed natively (in double, rounded through float32: softmax.cu says why
// that is the reference's result), so no widened copies.
#include <cstdint>

#include "backends/cuda/allocator.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/cuda/softmax_launch.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

namespace {

// Fewer slices than this leave the GPU short of threads at one thread per slice (about half
// the threads an H100/H200 keeps in flight, 132 SMs x 2048, are 2^17).
constexpr std::int64_t kManySlices = std::int64_t{1} << 16;

// Threads per slice (see the file comment); `read` is the operand whose layout decides.
template <int N>
int plan_group(const cuda::Indexer<N>& outer, int read, std::int64_t length,
               std::int64_t slices) {
  const bool neighbours = outer.strides[read][0] == 1 && outer.sizes[0] >= 32;
  if (length < 32 || (neighbours && slices >= kManySlices)) return 1;
  return length < 4096 ? 32 : cuda::kSoftmaxBlockThreads;
}

// --- target values ------------------------------------------------------------------------------
// Raises the reference's error (backends/reference/loss.cpp, class_of) for the first target,
// in row-major order over [N, L] as the reference walks them, that is neither ignore_index nor
// in [0, classes). (Inside a CUDA graph capture, at each replay.)
void check_targets(const char* name, const View& target, std::int64_t classes,
                   std::int64_t ignore_index) {
  cuda::check_device_values(
      name, target,
      [&](const cuda::Indexer<1>& ix, std::int64_t n, unsigned long long* flag) {
        return cuda::launch_find_bad_target(target.ptr<const std::int64_t>(), ix, n, classes,
                                            ignore_index, flag, cuda::stream());
      },
      [name, classes, ignore_index](std::int64_t bad) {
        fail("{}: Target {} is out of bounds: expected a class index in [0, {}) or "
             "ignore_index {}",
             name, bad, classes, ignore_index);
      });
}

// --- loss views ---------------------------------------------------------------------------------
// The positions [N, L] of an [N, C, L] view, and its strides over them.
Shape positions_of(const View& v) { return Shape{v.shape[0], v.shape[2]}; }
Strides position_strides(const View& v) { return Strides{v.strides[0], v.strides[2]}; }

// A null [N, L] view walks with zero strides (it is never written).
Strides strides_or_zero(const View& v) { return v.data ? v.strides : Strides{0, 0}; }

cuda::ClassArgs class_args(const View& target, const View& weight, const CrossEntropyParams& p) {
  cuda::ClassArgs a;
  a.target = target.ptr<const std::int64_t>();
  a.weight = weight.data;
  a.weight_stride = weight.data != nullptr ? weight.strides[0] : 0;
  a.ignore_index = p.ignore_index;
  a.label_smoothing = p.label_smoothing;
  return a;
}

// The views every loss reads: target, and weight when given.
void check_class_device_views(const char* name, const View& target, const View& weight) {
  cuda::check_view(target, name, "target");
  cuda::check_view_if_given(weight, name, "weight");
}

}  // namespace

// --- softmax ------------------------------------------------------------------------------------
void CudaBackend::softmax_impl(const View& out, const View& in, int dim, bool log) {
  const char* name = op_name(log ? KernelOp::LogSoftmax : KernelOp::Softmax);
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "the input");
  if (in.numel() == 0) return;

  const Shape slices = with_extent(in.shape, dim, 1);
  cuda::SliceWalk<2> w;
  w.outer = cuda::plan_walk<2>(slices, {&out.strides, &in.strides}).ix;
  w.num_slices = numel_of(slices);
  w.length = in.shape[dim];
  w.group = plan_group(w.outer, 1, w.length, w.num_slices);
  cuda::check_cuda(cuda::launch_softmax(in.dtype, out.data, in.data, w, out.strides[dim],
                                        in.strides[dim], log, cuda::stream()),
                   name);
}

void CudaBackend::softmax_backward_impl(const View& grad_in, const View& grad_out,
                                        const View& out, int dim, bool log) {
  const char* name = op_name(log ? KernelOp::LogSoftmaxBackward : KernelOp::SoftmaxBackward);
  cuda::check_view(grad_in, name, "grad_in");
  cuda::check_view(grad_out, name, "grad_out");
  cuda::check_view(out, name, "out");
  if (out.numel() == 0) return;

  const Shape slices = with_extent(out.shape, dim, 1);
  cuda::SliceWalk<3> w;
  w.outer =
      cuda::plan_walk<3>(slices, {&grad_in.strides, &grad_out.strides, &out.strides}).ix;
  w.num_slices = numel_of(slices);
  w.length = out.shape[dim];
  w.group = plan_group(w.outer, 1, w.length, w.num_slices);
  cuda::check_cuda(cuda::launch_softmax_backward(out.dtype, grad_in.data, grad_out.data, out.data,
                                                 w, grad_in.strides[dim], grad_out.strides[dim],
                                                 out.strides[dim], log, cuda::stream()),
                   name);
}

// --- cross_entropy ------------------------------------------------------------------------------
void CudaBackend::cross_entropy_impl(const View& losses, const View& lse,
                                     const View& target_weight, const View& in,
                                     const View& target, const View& weight,
                                     const CrossEntropyParams& p) {
  const char* name = "cross_entropy";
  cuda::check_view(in, name, "the input");
  cuda::check_view(losses, name, "losses");
  cuda::check_view(lse, name, "lse");
  cuda::check_view_if_given(target_weight, name, "target_weight");
  check_class_device_views(name, target, weight);
  const Shape positions = positions_of(in);
  if (numel_of(positions) == 0) return;
  const std::int64_t classes = in.shape[1];
  check_targets(name, target, classes, p.ignore_index);

  const Strides in_strides = position_strides(in);
  const Strides tw_strides = strides_or_zero(target_weight);
  cuda::SliceWalk<5> w;
  w.outer = cuda::plan_walk<5>(positions, {&in_strides, &target.strides, &losses.strides,
                                           &lse.strides, &tw_strides})
                .ix;
  w.num_slices = numel_of(positions);
  w.length = classes;
  w.group = plan_group(w.outer, 0, classes, w.num_slices);
  cuda::check_cuda(cuda::launch_cross_entropy(in.dtype, losses.data, lse.data, target_weight.data,
                                              in.data, in.strides[1], class_args(target, weight, p),
                                              w, cuda::stream()),
                   name);
}

void CudaBackend::cross_entropy_backward_impl(const View& grad_in, const View& grad_losses,
                                              const View& in, const View& lse,
                                              const View& target, const View& weight,
                                              const CrossEntropyParams& p) {
  const char* name = "cross_entropy_backward";
  cuda::check_view(grad_in, name, "grad_in");
  cuda::check_view(grad_losses, name, "grad_losses");
  cuda::check_view(in, name, "the input");
  cuda::check_view(lse, name, "lse");
  check_class_device_views(name, target, weight);
  const Shape positions = positions_of(in);
  if (numel_of(positions) == 0) return;
  const std::int64_t classes = in.shape[1];
  check_targets(name, target, classes, p.ignore_index);
  if (classes == 0) return;  // every target was ignored; nothing to write

  const Strides gi_strides = position_strides(grad_in);
  const Strides in_strides = position_strides(in);
  cuda::SliceWalk<5> w;
  w.outer = cuda::plan_walk<5>(positions, {&gi_strides, &target.strides, &grad_losses.strides,
                                           &in_strides, &lse.strides})
                .ix;
  w.num_slices = numel_of(positions);
  w.length = classes;
  w.group = plan_group(w.outer, 3, classes, w.num_slices);
  // sum_k w_k for the smoothing term, computed on the device when there are weights.
  const bool weight_sum = weight.data != nullptr && p.label_smoothing != 0.0;
  const cuda::DeviceBuffer workspace(weight_sum ? cuda::kWeightSumBytes : 0);
  cuda::check_cuda(
      cuda::launch_cross_entropy_backward(in.dtype, grad_in.data, grad_in.strides[1],
                                          grad_losses.data, in.data, in.strides[1], lse.data,
                                          class_args(target, weight, p), w, workspace.get(),
                                          cuda::stream()),
      name);
}

// --- nll_loss -----------------------------------------------------------------------------------
void CudaBackend::nll_loss_impl(const View& losses, const View& target_weight, const View& in,
                                const View& target, const View& weight,
                                const CrossEntropyParams& p) {
  const char* name = "nll_loss";
  cuda::check_view(in, name, "the input");
  cuda::check_view(losses, name, "losses");
  cuda::check_view_if_given(target_weight, name, "target_weight");
  check_class_device_views(name, target, weight);
  const Shape positions = positions_of(in);
  if (numel_of(positions) == 0) return;
  const std::int64_t classes = in.shape[1];
  check_targets(name, target, classes, p.ignore_index);

  const Strides in_strides = position_strides(in);
  const Strides tw_strides = strides_or_zero(target_weight);
  cuda::SliceWalk<4> w;
  w.outer = cuda::plan_walk<4>(positions,
                               {&in_strides, &target.strides, &losses.strides, &tw_strides})
                .ix;
  w.num_slices = numel_of(positions);
  w.length = classes;
  w.group = 1;  // one element read per position
  cuda::check_cuda(cuda::launch_nll_loss(in.dtype, losses.data, target_weight.data, in.data,
                                         in.strides[1], class_args(target, weight, p), w,
                                         cuda::stream()),
                   name);
}

void CudaBackend::nll_loss_backward_impl(const View& grad_in, const View& grad_losses,
                                         const View& target, const View& weight,
                                         const CrossEntropyParams& p) {
  const char* name = "nll_loss_backward";
  cuda::check_view(grad_in, name, "grad_in");
  cuda::check_view(grad_losses, name, "grad_losses");
  check_class_device_views(name, target, weight);
  const Shape positions = positions_of(grad_in);
  if (numel_of(positions) == 0) return;
  const std::int64_t classes = grad_in.shape[1];
  check_targets(name, target, classes, p.ignore_index);
  if (classes == 0) return;  // every target was ignored; nothing to write

  const Strides gi_strides = position_strides(grad_in);
  cuda::SliceWalk<3> w;
  w.outer =
      cuda::plan_walk<3>(positions, {&gi_strides, &target.strides, &grad_losses.strides}).ix;
  w.num_slices = numel_of(positions);
  w.length = classes;
  w.group = plan_group(w.outer, 0, classes, w.num_slices);
  cuda::check_cuda(cuda::launch_nll_loss_backward(grad_in.dtype, grad_in.data, grad_in.strides[1],
                                                  grad_losses.data,
                                                  class_args(target, weight, p), w,
                                                  cuda::stream()),
                   name);
}

}  // namespace reel::backends
