// The CUDA backend's conv1d, host side: which algorithm runs each call, and the views handed to
// it. Backend's entry points have checked every view and parameter (check_conv1d in
// backend.cpp); what is left here is the CUDA backend's own sanity check of each view.
//
// Three algorithms, chosen per call as the CPU backend's choose() does:
//
//   depthwise  reel's own kernels (conv1d.cu) when every input channel is its own group
//              (in_per_group == 1: depthwise, with any channel multiplier) and the views are
//              contiguous, for real dtypes. This is where cuDNN is weak: a depthwise conv is
//              memory-bound, and a kernel that stages each row and its halo in shared memory
//              once moves each byte once. The short causal convolutions of sequence models
//              (Mamba's causal_conv1d: depthwise, K = 2..4, all padding on the left) are this
//              case too: the padding is index arithmetic, never a padded copy. The backward is
//              one fused pass that reads grad_out once for grad_input and grad_weight.
//   cuDNN      (cudnn.cpp) for everything dense or grouped that cuDNN takes: float32 (TF32
//              when reel::cuda::set_allow_tf32_conv allows it, as torch.backends.cudnn), float64,
//              float16 and bfloat16, contiguous views. Asymmetric padding (causal, 'same' with
//              an even kernel) goes through a zero-padded copy, since cuDNN pads symmetrically.
//              Under use_deterministic_algorithms(true) only cuDNN's deterministic algorithms.
//   generic    reel's own direct kernels (conv1d.cu) for the rest: complex dtypes, strided
//              views, builds without cuDNN. Deterministic (gathers and fixed-order block sums,
//              no atomics).
//
// complex32 runs on complex64 copies (Backend's widening), as on the reference backend.
#include <cstdint>

#include "backends/cuda/conv1d_launch.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/cudnn.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

// The kernels' geometry: sizes from the shared check, strides from the views (x-shaped,
// y-shaped and w-shaped; a view not given leaves zeros).
cuda::ConvRows conv_rows(const Conv1dShape& s, const Conv1dParams& p, const View& x,
                         const View& y, const View& w, const View& bias) {
  cuda::ConvRows g{};
  g.batch = s.batch;
  g.in_channels = s.in_channels;
  g.out_channels = s.out_channels;
  g.length = s.length;
  g.out_length = s.out_length;
  g.kernel = s.kernel;
  g.in_per_group = s.in_per_group;
  g.out_per_group = s.out_per_group;
  g.stride = p.stride;
  g.dilation = p.dilation;
  g.pad_left = p.pad_left;
  for (int d = 0; d < 3; ++d) {
    g.x_strides[d] = x.data != nullptr ? x.strides[d] : 0;
    g.y_strides[d] = y.data != nullptr ? y.strides[d] : 0;
    g.w_strides[d] = w.data != nullptr ? w.strides[d] : 0;
  }
  g.bias_stride = bias.data != nullptr ? bias.strides[0] : 0;
  return g;
}

bool contiguous_or_absent(const View& v) {
  return v.data == nullptr || is_contiguous_layout(v.shape, v.strides);
}

// The depthwise kernels take real dtypes and dense views (bias: any stride).
bool depthwise_fits(const Conv1dShape& s, DType t, std::initializer_list<const View*> views) {
  if (s.in_per_group != 1 || is_complex(t)) return false;
  for (const View* v : views)
    if (!contiguous_or_absent(*v)) return false;
  return true;
}

// A read-only operand in a dense layout: the view itself when it already is, else a contiguous
// copy in `buffer` (PyTorch makes conv inputs contiguous the same way). A gradient expanded by
// sum().backward() (stride 0) or a transposed input would otherwise keep cuDNN and the
// depthwise kernels away, for the price of one copy.
View dense(const View& v, cuda::DeviceBuffer& buffer) {
  if (v.data == nullptr || is_contiguous_layout(v.shape, v.strides)) return v;
  buffer = cuda::DeviceBuffer(static_cast<std::size_t>(v.numel()) * element_size(v.dtype));
  View d = v;
  d.data = buffer.get();
  d.strides = contiguous_strides(v.shape);
  cuda_backend().copy(d, v);
  return d;
}

void check_views(const char* op, std::initializer_list<std::pair<const View*, const char*>> views) {
  for (const auto& [v, what] : views) cuda::check_view_if_given(*v, op, what);
}

// Backward input: cuDNN where it takes the problem, the generic gather otherwise.
void backward_input(const View& grad_in, const View& grad_out, const View& weight,
                    const Conv1dShape& s, const Conv1dParams& p) {
  const char* name = "conv1d_backward_input";
  if (grad_in.numel() == 0) return;
  if (grad_out.numel() == 0) {  // no output reads the input (Lout == 0 or Cout == 0): all zero
    cuda_backend().fill(grad_in, Scalar(0.0));
    return;
  }
  cuda::DeviceBuffer gy_buffer, w_buffer;
  const View gy = dense(grad_out, gy_buffer);
  const View w = dense(weight, w_buffer);
  if (cuda::cudnn_conv1d_backward_input(grad_in, gy, w, p)) return;
  cuda::check_cuda(cuda::launch_conv1d_backward_input(grad_in.dtype, grad_in.data, gy.data, w.data,
                                                      conv_rows(s, p, grad_in, gy, w, {}),
                                                      cuda::stream()),
                   name);
}

// Backward weight and bias: cuDNN where it takes the problem, the generic kernels otherwise.
void backward_weight(const View& grad_weight, const View& grad_bias, const View& grad_out,
                     const View& in, const Conv1dShape& s, const Conv1dParams& p) {
  const char* name = "conv1d_backward_weight";
  const bool want_weight = grad_weight.data != nullptr && grad_weight.numel() != 0;
  const bool want_bias = grad_bias.data != nullptr && grad_bias.numel() != 0;
  if (!want_weight && !want_bias) return;
  if (grad_out.numel() == 0) {  // empty sums: zero gradients
    if (want_weight) cuda_backend().fill(grad_weight, Scalar(0.0));
    if (want_bias) cuda_backend().fill(grad_bias, Scalar(0.0));
    return;
  }
  const View gw = want_weight ? grad_weight : View{};
  const View gb = want_bias ? grad_bias : View{};
  cuda::DeviceBuffer gy_buffer, x_buffer;
  const View gy = dense(grad_out, gy_buffer);
  const View x = dense(in, x_buffer);
  if (cuda::cudnn_conv1d_backward_weight(gw, gb, gy, x, p)) return;
  cuda::check_cuda(cuda::launch_conv1d_backward_weight(in.dtype, gw.data, gb.data, gy.data, x.data,
                                                       conv_rows(s, p, x, gy, gw, gb),
                                                       cuda::stream()),
                   name);
}

}  // namespace

void CudaBackend::conv1d_forward_impl(const View& out, const View& in, const View& weight,
                                      const View& bias, const Conv1dParams& p) {
  const char* name = "conv1d";
  check_views(name, {{&out, "out"}, {&in, "the input"}, {&weight, "weight"}, {&bias, "bias"}});
  const Conv1dShape s =
      check_conv1d(name, in, out, &weight, bias.data != nullptr ? &bias : nullptr, p);
  if (out.numel() == 0) return;
  if (in.numel() == 0 || weight.numel() == 0) {  // no products: the output is the bias (or 0)
    if (bias.data == nullptr) return fill(out, Scalar(0.0));
    View b = bias;  // [Cout] seen as [1, Cout, 1], broadcast over N and Lout
    b.shape = out.shape;
    b.strides = {0, bias.strides[0], 0};
    return copy(out, b);
  }
  cuda::DeviceBuffer in_buffer, weight_buffer;
  const View x = dense(in, in_buffer);
  const View w = dense(weight, weight_buffer);
  const cuda::ConvRows g = conv_rows(s, p, x, out, w, bias);
  if (depthwise_fits(s, in.dtype, {&out, &x, &w})) {
    cuda::check_cuda(cuda::launch_conv1d_depthwise_forward(in.dtype, out.data, x.data, w.data,
                                                           bias.data, g, cuda::stream()),
                     name);
    return;
  }
  if (cuda::cudnn_conv1d_forward(out, x, w, bias, p)) return;
  cuda::check_cuda(cuda::launch_conv1d_forward(in.dtype, out.data, x.data, w.data, bias.data, g,
                                               cuda::stream()),
                   name);
}

void CudaBackend::conv1d_backward_input_impl(const View& grad_in, const View& grad_out,
                                             const View& weight, const Conv1dParams& p) {
  const char* name = "conv1d_backward_input";
  check_views(name, {{&grad_in, "grad_in"}, {&grad_out, "grad_out"}, {&weight, "weight"}});
  backward_input(grad_in, grad_out, weight,
                 check_conv1d(name, grad_in, grad_out, &weight, nullptr, p), p);
}

void CudaBackend::conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                              const View& grad_out, const View& in,
                                              const Conv1dParams& p) {
  const char* name = "conv1d_backward_weight";
  check_views(name, {{&grad_weight, "grad_weight"}, {&grad_bias, "grad_bias"},
                     {&grad_out, "grad_out"}, {&in, "the input"}});
  const bool want_weight = grad_weight.data != nullptr;
  const bool want_bias = grad_bias.data != nullptr;
  if (!want_weight && !want_bias) return;
  const Conv1dShape s = check_conv1d(name, in, grad_out, want_weight ? &grad_weight : nullptr,
                                     want_bias ? &grad_bias : nullptr, p);
  backward_weight(grad_weight, grad_bias, grad_out, in, s, p);
}

// Every gradient of one conv1d: the depthwise kernels in one fused pass (grad_out read once for
// grad_input and grad_weight), every other case as the two calls above.
void CudaBackend::conv1d_backward_impl(const View& grad_in, const View& grad_weight,
                                       const View& grad_bias, const View& grad_out,
                                       const View& in, const View& weight,
                                       const Conv1dParams& p) {
  const char* name = "conv1d_backward";
  check_views(name, {{&grad_in, "grad_in"}, {&grad_weight, "grad_weight"}, {&grad_bias, "grad_bias"},
                     {&grad_out, "grad_out"}, {&in, "the input"}, {&weight, "weight"}});
  const bool want_in = grad_in.data != nullptr;
  const bool want_weight = grad_weight.data != nullptr;
  const bool want_bias = grad_bias.data != nullptr;
  // The fused pass needs the input view's geometry even when only grad_in is wanted, and the
  // input itself only for grad_weight; the entry point has checked what was given.
  const View& x_shaped = want_in ? grad_in : in;
  const Conv1dShape s = check_conv1d(name, x_shaped, grad_out, &weight, nullptr, p);
  const bool fused = (want_weight || want_in) && grad_out.numel() != 0 &&
                     x_shaped.numel() != 0 && weight.numel() != 0 &&
                     depthwise_fits(s, grad_out.dtype, {&grad_in, &grad_weight});
  if (!fused) {
    if (want_in) backward_input(grad_in, grad_out, weight, s, p);
    if (want_weight || want_bias) {
      const Conv1dShape sw = check_conv1d(name, in, grad_out, want_weight ? &grad_weight : nullptr,
                                          want_bias ? &grad_bias : nullptr, p);
      backward_weight(grad_weight, grad_bias, grad_out, in, sw, p);
    }
    return;
  }
  // grad_in and the (dense) input are both contiguous [N, Cin, L] here: one set of x strides
  // serves both.
  cuda::DeviceBuffer gy_buffer, x_buffer, w_buffer;
  const View gy = dense(grad_out, gy_buffer);
  const View x = want_weight ? dense(in, x_buffer) : View{};
  const View w = dense(weight, w_buffer);
  const View& x_view = want_in ? grad_in : x;
  const cuda::ConvRows g = conv_rows(s, p, x_view, gy, w, grad_bias);
  const cuda::DeviceBuffer workspace(cuda::conv1d_depthwise_backward_workspace(grad_out.dtype, g));
  cuda::check_cuda(cuda::launch_conv1d_depthwise_backward(grad_out.dtype, grad_in.data,
                                                          grad_weight.data, grad_bias.data, gy.data,
                                                          x.data, w.data, workspace.get(), g,
                                                          cuda::stream()),
                   name);
}

}  // namespace reel::backends
