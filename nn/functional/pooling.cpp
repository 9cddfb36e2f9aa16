// --- pooling (issue 7) ---
// The pooling functions: PyTorch's checks and words, the unbatched (C, L) form, and one tape
// entry each. Max pools save their indices and scatter grad_output back through them
// (scatter_add, itself differentiable); the avg pools' backwards are the backend's primitives.
#include "nn/functional/pooling.hpp"

#include "autograd/record.hpp"
#include "nn/functional/internal.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::functional {

namespace {

// The input checks every pool makes: 2-D or 3-D, float, non-empty C and L (PyTorch allows an
// empty batch only).
Tensor batched_input(const Tensor& input, const char* op) {
  check(input.defined(), "{}: the input tensor is undefined", op);
  check((input.dim() == 2 || input.dim() == 3) && input.size(-1) > 0 && input.size(-2) > 0,
        "{}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but "
        "got: {}",
        op, input.sizes());
  check(is_floating(input.dtype()), "{}: expected a float32 or float64 input, but got {}", op,
        input.dtype());
  return input.dim() == 3 ? input : input.unsqueeze(0);
}

Tensor unbatch(const Tensor& t, const Tensor& input) { return input.dim() == 3 ? t : t.squeeze(0); }

using detail::contiguous_no_grad;

// Records the backward of a max pool: grad_input = zeros.scatter_add(2, indices, grad_out).
void record_max_backward(const char* name, const Tensor& x, Tensor& out, const Tensor& indices) {
  if (!autograd::needs_grad(x)) return;
  const Shape in_shape = x.sizes();
  autograd::record(name, {&x}, out,
                   [in_shape, indices](std::span<const Tensor> g,
                                       autograd::GradMask) -> std::vector<Tensor> {
                     // A double backward (grad_out on the tape) needs the differentiable op;
                     // otherwise scatter straight into the zeros (issue 10: the op's copy of
                     // them was a whole extra pass over grad_input each step). The indices are
                     // the forward's own, in bounds; the backend checks them again anyway.
                     if (autograd::needs_grad(g[0]))
                       return {scatter_add(zeros(in_shape, g[0].options()), 2, indices, g[0])};
                     Tensor gi = zeros(in_shape, g[0].options());
                     if (indices.numel() > 0)  // g[0] is out's gradient: indices' shape
                       backend_for(gi.device()).scatter_add(view_of(gi), 2, view_of(indices), view_of(g[0]));
                     return {gi};
                   });
}

backends::Pool1dParams max_params(const MaxPool1dFuncOptions& o) {
  backends::Pool1dParams p;
  p.kernel_size = o.kernel_size_;
  p.stride = o.stride_;
  p.padding = o.padding_;
  p.dilation = o.dilation_;
  p.ceil_mode = o.ceil_mode_;
  return p;
}

backends::Pool1dParams avg_params(const AvgPool1dFuncOptions& o) {
  backends::Pool1dParams p;
  p.kernel_size = o.kernel_size_;
  p.stride = o.stride_;
  p.padding = o.padding_;
  p.ceil_mode = o.ceil_mode_;
  p.count_include_pad = o.count_include_pad_;
  return p;
}

}  // namespace

void check_max_pool1d_options(const MaxPool1dFuncOptions& o) {
  check(o.kernel_size_ > 0, "max_pool1d() kernel_size must be greater than zero, but got {}",
        o.kernel_size_);
  check(o.stride_ > 0, "max_pool1d() stride must be greater than zero, but got {}", o.stride_);
  check(o.padding_ >= 0, "max_pool1d() padding must be non-negative, but got {}", o.padding_);
  check(o.padding_ <= o.kernel_size_ / 2,
        "max_pool1d() padding should be at most half of kernel size, but got padding={} and "
        "kernel_size={}",
        o.padding_, o.kernel_size_);
  check(o.dilation_ > 0, "max_pool1d() dilation must be greater than zero, but got {}",
        o.dilation_);
}

void check_avg_pool1d_options(const AvgPool1dFuncOptions& o) {
  check(o.kernel_size_ > 0, "avg_pool1d: kernel_size must be greater than zero, but got {}",
        o.kernel_size_);
  check(o.stride_ > 0, "avg_pool1d: stride must be greater than zero, but got {}", o.stride_);
  check(o.padding_ >= 0, "avg_pool1d: padding must be non-negative, but got {}", o.padding_);
  check(o.padding_ <= o.kernel_size_ / 2,
        "avg_pool1d: pad should be at most half of kernel size, but got pad={} and "
        "kernel_size={}",
        o.padding_, o.kernel_size_);
}

std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input,
                                                   const MaxPool1dFuncOptions& o) {
  const Tensor x = batched_input(input, "max_pool1d");
  check_max_pool1d_options(o);
  const backends::Pool1dParams p = max_params(o);
  const std::int64_t l_out = p.out_length(x.size(2), "max_pool1d");
  // F.max_pool1d allows an empty result (a window longer than the input with stride >= it).
  check(l_out >= 0, "max_pool1d() Invalid computed output size: {}", l_out);
  Tensor out = empty({x.size(0), x.size(1), l_out}, x.options());
  Tensor indices = empty({x.size(0), x.size(1), l_out}, TensorOptions(kInt64).device(x.device()));
  if (out.numel() > 0) {
    const Tensor xc = contiguous_no_grad(x);
    backend_for(x.device()).max_pool1d(view_of(out), view_of(indices), view_of(xc), p);
  }
  record_max_backward("MaxPool1DWithIndicesBackward", x, out, indices);
  return {unbatch(out, input), unbatch(indices, input)};
}

Tensor max_pool1d(const Tensor& input, const MaxPool1dFuncOptions& o) {
  return std::get<0>(max_pool1d_with_indices(input, o));
}

Tensor avg_pool1d(const Tensor& input, const AvgPool1dFuncOptions& o) {
  const Tensor x = batched_input(input, "avg_pool1d");
  check_avg_pool1d_options(o);
  const backends::Pool1dParams p = avg_params(o);
  const std::int64_t l_out = p.out_length(x.size(2), "avg_pool1d");
  check(l_out >= 1,
        "avg_pool1d: Given input size: ({}x1x{}). Calculated output size: ({}x1x{}). Output size "
        "is too small",
        x.size(1), x.size(2), x.size(1), l_out);
  Tensor out = empty({x.size(0), x.size(1), l_out}, x.options());
  if (out.numel() > 0) {
    const Tensor xc = contiguous_no_grad(x);
    backend_for(x.device()).avg_pool1d(view_of(out), view_of(xc), p);
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.sizes();
    autograd::record("AvgPool1DBackward", {&x}, out,
                     [in_shape, p](std::span<const Tensor> g,
                                   autograd::GradMask) -> std::vector<Tensor> {
                       const Tensor go = g[0].contiguous();
                       Tensor gi = empty(in_shape, go.options());
                       if (gi.numel() > 0)
                         backend_for(go.device()).avg_pool1d_backward(view_of(gi), view_of(go), p);
                       return {gi};
                     });
  }
  return unbatch(out, input);
}

namespace {
void check_output_size(std::int64_t size, const char* op) {
  check(size >= 0,
        "{}: elements of output_size must be greater than or equal to 0 but received {}", op,
        size);
}
}  // namespace

Tensor adaptive_avg_pool1d(const Tensor& input, const AdaptiveAvgPool1dFuncOptions& o) {
  const Tensor x = batched_input(input, "adaptive_avg_pool1d");
  check_output_size(o.output_size_, "adaptive_avg_pool1d");
  Tensor out = empty({x.size(0), x.size(1), o.output_size_}, x.options());
  if (out.numel() > 0) {
    const Tensor xc = contiguous_no_grad(x);
    backend_for(x.device()).adaptive_avg_pool1d(view_of(out), view_of(xc));
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.sizes();
    autograd::record("AdaptiveAvgPool1DBackward", {&x}, out,
                     [in_shape](std::span<const Tensor> g,
                                autograd::GradMask) -> std::vector<Tensor> {
                       const Tensor go = g[0].contiguous();
                       Tensor gi = empty(in_shape, go.options());
                       if (gi.numel() == 0) return {gi};
                       if (go.numel() == 0) return {gi.zero_()};
                       backend_for(go.device())
                           .adaptive_avg_pool1d_backward(view_of(gi), view_of(go));
                       return {gi};
                     });
  }
  return unbatch(out, input);
}

std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(
    const Tensor& input, const AdaptiveMaxPool1dFuncOptions& o) {
  const Tensor x = batched_input(input, "adaptive_max_pool1d");
  check_output_size(o.output_size_, "adaptive_max_pool1d");
  Tensor out = empty({x.size(0), x.size(1), o.output_size_}, x.options());
  Tensor indices =
      empty({x.size(0), x.size(1), o.output_size_}, TensorOptions(kInt64).device(x.device()));
  if (out.numel() > 0) {
    const Tensor xc = contiguous_no_grad(x);
    backend_for(x.device()).adaptive_max_pool1d(view_of(out), view_of(indices), view_of(xc));
  }
  record_max_backward("AdaptiveMaxPool1DBackward", x, out, indices);
  return {unbatch(out, input), unbatch(indices, input)};
}

Tensor adaptive_max_pool1d(const Tensor& input, const AdaptiveMaxPool1dFuncOptions& o) {
  return std::get<0>(adaptive_max_pool1d_with_indices(input, o));
}

}  // namespace reel::nn::functional
