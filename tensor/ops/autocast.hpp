#pragma once
// Automatic mixed precision: PyTorch's torch.autocast("cpu", dtype=torch.bfloat16) as an RAII
// guard. While a reel::autocast is alive on a thread and enabled, the ops of the "lower
// precision" list cast their floating inputs to the autocast dtype (bfloat16, or float16) and the
// ops of the "float32" list cast 16-bit floating inputs to float32; every other op runs in the
// dtypes it is given (binary ops promote as usual: bfloat16 + float32 -> float32).
//
//   lower precision: matmul, mm, bmm, F::linear, F::conv1d, F::conv_transpose1d (and the
//                    modules built on them: Linear, Conv1d, ConvTranspose1d)
//   float32:         sum, mean, prod, softmax, log_softmax, the norms (batch, layer, group,
//                    instance) and every loss
//
// This is PyTorch's CPU policy for the ops reel has (docs/low_precision.md has the table and the
// differences). The casts are differentiable, so gradients reach float32 parameters as float32
// ("master weights"); the backward pass runs with autocast off (backward ops take the dtypes
// of the forward), as PyTorch's does.
//
//   {
//     reel::autocast guard(reel::kBFloat16);
//     Tensor loss = F::mse_loss(model(x), y);   // Linear/Conv1d in bfloat16, the loss in float32
//   }
//   loss.backward();
#include "tensor/tensor.hpp"

namespace reel {

class autocast {
 public:
  // dtype: kBFloat16 (PyTorch's CPU default) or kFloat16; anything else raises reel::Error.
  explicit autocast(DType dtype = kBFloat16, bool enabled = true);
  ~autocast();
  autocast(const autocast&) = delete;
  autocast& operator=(const autocast&) = delete;

 private:
  bool previous_enabled_;
  DType previous_dtype_;
};

// torch.is_autocast_cpu_enabled() / torch.get_autocast_cpu_dtype() for this thread.
bool is_autocast_enabled();
DType get_autocast_dtype();

namespace detail {
// For the lower-precision ops: a floating tensor cast to the autocast dtype while autocast is
// on; anything else (autocast off, integer or complex tensors, undefined) unchanged.
Tensor autocast_lower(const Tensor& t);
// For the float32 ops: a float16/bfloat16 tensor cast to float32 while autocast is on.
Tensor autocast_float32(const Tensor& t);
}  // namespace detail

}  // namespace reel
