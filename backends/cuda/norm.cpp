// The CUDA backend's normalization primitives (BatchNorm1d, InstanceNorm1d, GroupNorm,
// LayerNorm), host side: norm_stats, norm_forward and norm_backward over the [N, G, D, L]
// geometry of NormParams (backend.hpp). The kernels are in norm.cu (norm_launch.hpp is the
// seam).
//
// Backend's entry points have checked the ranks, shapes and dtypes of every view; here the
// views are sanity-checked (check_view) and the operands packed for the kernels. A slot (one
// set of statistics) or a channel (one grad_weight / grad_bias element) is folded by `group`
// threads chosen by its element count only: one thread below 32 elements, a warp below 4096,
// a block of 256 above. So results depend on the shapes alone, never on timing.
//
// 16-bit views are computed natively (in double, rounded through float32: norm.cu says why
// that is the reference's result), so no widened copies.
#include <cstdint>

#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/norm_launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

// Threads per slot or channel of `count` elements (see the file comment).
int plan_group(std::int64_t count) {
  if (count < 32) return 1;
  return count < 4096 ? 32 : cuda::kNormBlockThreads;
}

void copy_strides4(std::int64_t (&to)[4], const View& v) {
  for (int k = 0; k < 4; ++k) to[k] = v.strides[k];
}
void copy_strides2(std::int64_t (&to)[2], const View& v) {
  for (int k = 0; k < 2; ++k) to[k] = v.strides[k];
}

// The geometry of a call (the reference's Slots): statistics are shared by the batch when
// their views have extent 1 in dim 0 and N > 1.
cuda::NormArgs norm_args(const View& in, const View& mean, const View& var) {
  cuda::NormArgs a;
  a.n = in.shape[0];
  a.g = in.shape[1];
  a.d = in.shape[2];
  a.l = in.shape[3];
  a.shared = mean.shape[0] == 1 && in.shape[0] != 1;
  a.in = in.data;
  copy_strides4(a.in_strides, in);
  a.mean = mean.data;
  copy_strides2(a.mean_strides, mean);
  a.var = var.data;
  copy_strides2(a.var_strides, var);
  return a;
}

// Slots (sets of statistics) and the elements of each.
std::int64_t slots_of(const cuda::NormArgs& a) { return (a.shared ? 1 : a.n) * a.g; }
std::int64_t slot_count(const cuda::NormArgs& a) { return (a.shared ? a.n : 1) * a.d * a.l; }

}  // namespace

void CudaBackend::norm_stats_impl(const View& mean, const View& var, const View& in) {
  const char* name = "norm_stats";
  cuda::check_view(mean, name, "mean");
  cuda::check_view(var, name, "var");
  cuda::check_view(in, name, "the input");
  const cuda::NormArgs a = norm_args(in, mean, var);
  const std::int64_t slots = slots_of(a);
  if (slots == 0) return;
  // An empty slot (count 0) still gets its statistics written: NaN, as the reference's.
  const std::int64_t count = slot_count(a);
  cuda::check_cuda(cuda::launch_norm_stats(in.dtype, a, slots, count, plan_group(count),
                                           cuda::stream()),
                   name);
}

void CudaBackend::norm_forward_impl(const View& out, const View& in, const View& mean,
                                    const View& var, const View& weight, const View& bias,
                                    const NormParams& p) {
  const char* name = "norm_forward";
  cuda::check_view(out, name, "the output");
  cuda::check_view(in, name, "the input");
  cuda::check_view(mean, name, "mean");
  cuda::check_view(var, name, "var");
  cuda::check_view_if_given(weight, name, "weight");
  cuda::check_view_if_given(bias, name, "bias");
  if (in.numel() == 0) return;

  cuda::NormArgs a = norm_args(in, mean, var);
  a.eps = p.eps;
  a.out = out.data;
  copy_strides4(a.out_strides, out);
  a.weight = weight.data;
  if (weight.data != nullptr) copy_strides2(a.weight_strides, weight);
  a.bias = bias.data;
  if (bias.data != nullptr) copy_strides2(a.bias_strides, bias);
  cuda::check_cuda(cuda::launch_norm_forward(in.dtype, a, in.numel(), cuda::stream()), name);
}

void CudaBackend::norm_backward_impl(const View& grad_in, const View& grad_weight,
                                     const View& grad_bias, const View& grad_out, const View& in,
                                     const View& mean, const View& var, const View& weight,
                                     const NormParams& p) {
  const char* name = "norm_backward";
  cuda::check_view_if_given(grad_in, name, "grad_in");
  cuda::check_view_if_given(grad_weight, name, "grad_weight");
  cuda::check_view_if_given(grad_bias, name, "grad_bias");
  cuda::check_view(grad_out, name, "grad_out");
  cuda::check_view(in, name, "the input");
  cuda::check_view(mean, name, "mean");
  cuda::check_view(var, name, "var");
  cuda::check_view_if_given(weight, name, "weight");

  cuda::NormArgs a = norm_args(in, mean, var);
  a.eps = p.eps;
  a.input_stats = p.input_stats;
  a.grad_out = grad_out.data;
  copy_strides4(a.grad_out_strides, grad_out);
  a.weight = weight.data;
  if (weight.data != nullptr) copy_strides2(a.weight_strides, weight);

  // grad_weight and grad_bias first: they read grad_out and in, which grad_in may alias. With
  // no elements over (n, l) they are sums of nothing, 0, as the reference writes them.
  const std::int64_t channels = a.g * a.d;
  if ((grad_weight.data != nullptr || grad_bias.data != nullptr) && channels > 0) {
    a.grad_weight = grad_weight.data;
    if (grad_weight.data != nullptr) copy_strides2(a.grad_weight_strides, grad_weight);
    a.grad_bias = grad_bias.data;
    if (grad_bias.data != nullptr) copy_strides2(a.grad_bias_strides, grad_bias);
    const std::int64_t count = a.n * a.l;
    cuda::check_cuda(cuda::launch_norm_backward_channels(in.dtype, a, channels, count,
                                                         plan_group(count), cuda::stream()),
                     name);
  }

  if (grad_in.data == nullptr || in.numel() == 0) return;
  a.out = grad_in.data;
  copy_strides4(a.out_strides, grad_in);
  const std::int64_t count = slot_count(a);
  cuda::check_cuda(cuda::launch_norm_backward_input(in.dtype, a, slots_of(a), count,
                                                    plan_group(count), cuda::stream()),
                   name);
}

}  // namespace reel::backends
