// Streaming inference for causal Conv1d: one output column per step from a ring buffer of the
// last dilation * (kernel_size - 1) inputs (WaveNet's "fast generation", Paine et al. 2016,
// "Fast Wavenet Generation Algorithm"), and nn::reset_streams over a module tree.
//
// A step gathers the kernel's taps, x[t - dilation*(K-1)], ..., x[t - dilation], x[t], into a
// window [N, C_in, K] and computes the one output column from it. Which kernel computes it is
// chosen so that its sums run in the order the full forward's run (docs/training.md,
// "Streaming inference", says when that makes the two bitwise equal):
//   - the reference backend, CUDA, and the CPU's depthwise (direct) convolutions: conv1d itself
//     on the window with dilation 1 and no padding. Output t of the full forward sums the same
//     taps in the same order, bias first; its padded taps are skipped where the window's are
//     zeros, and acc + w*0 == acc.
//   - the CPU's dense and grouped convolutions: a matrix product of the window with the
//     transposed weight. The full forward's gemm micro-kernel accumulates each output as one
//     chain of FMAs over (channel, tap) from zero and adds the bias after; a one-row product
//     against a [C_in/G*K, C_out/G] matrix runs exactly that chain (gemv's axpy form), where
//     conv1d on a one-column window would take gemv's dot form (four partial sums per lane).
#include <cstdint>
#include <optional>

#include "autograd/grad_mode.hpp"
#include "backends/backend.hpp"
#include "backends/checked_math.hpp"
#include "nn/conv1d.hpp"
#include "nn/streaming.hpp"
#include "tensor/ops.hpp"

namespace reel::nn {

namespace {

constexpr const char* kOp = "Conv1d.stream_step";

// Whether the step is a matrix product (the CPU backend's gemm convolutions) rather than
// conv1d on the window. Mirrors the CPU backend's own choice (backends/cpu/conv1d.cpp,
// choose(): depthwise with few outputs per group or a short kernel runs the direct kernel).
bool step_by_matmul(const Tensor& weight, std::int64_t groups) {
  if (weight.device().is_cuda() || backends::cpu_backend_kind() != backends::Kind::Cpu) return false;
  if (weight.dtype() != kFloat32 && weight.dtype() != kFloat64) return false;  // reference loops
  const std::int64_t in_per_group = weight.size(1), out_per_group = weight.size(0) / groups;
  const std::int64_t kernel = weight.size(2);
  const bool direct = in_per_group == 1 && (out_per_group < 16 || kernel < 16);
  return !direct;
}

}  // namespace

void Conv1dImpl::check_streamable() const {
  const auto& o = options_;
  const auto& f = o.func_;
  check(f.stride_ == 1, "{}: only stride 1 convolutions stream, got stride={}", kOp, f.stride_);
  check(f.padding_mode_ == kZeros,
        "{}: only padding_mode='zeros' streams (the buffer starts as the causal zero padding), "
        "got padding_mode='{}'",
        kOp, padding_mode_name(f.padding_mode_));
  const std::optional<std::int64_t> reach = checked_mul(f.dilation_, o.kernel_size_ - 1);
  check(reach.has_value(), "{}: dilation * (kernel_size - 1) overflows for dilation={} and kernel_size={}",
        kOp, f.dilation_, o.kernel_size_);
  const auto [left, right] = functional::resolve_padding(f, o.kernel_size_);
  check(left == *reach && right == 0,
        "{}: only causal convolutions stream (padding='causal', or no padding at kernel_size=1: "
        "left padding dilation * (kernel_size - 1) = {} and none on the right), got padding={} "
        "(left {}, right {}) with kernel_size={} and dilation={}",
        kOp, *reach, padding_name(f.padding_), left, right, o.kernel_size_, f.dilation_);
}

void Conv1dImpl::stream_reset() {
  // Never raises: reset_streams resets every Conv1d in a model, streamable or not; the first
  // step says why one can't stream. The weight cache stays (it is checked on each step).
  stream_.ring = Tensor();
  stream_.window = Tensor();
  stream_.batch = -1;
  stream_.steps = 0;
}

Tensor Conv1dImpl::stream_step(const Tensor& x_t) {
  const auto& o = options_;
  check(x_t.defined(), "{}: x_t is an undefined tensor", kOp);
  check(x_t.dim() == 2 || (x_t.dim() == 3 && x_t.size(2) == 1),
        "{}: expected x_t of shape [N, C_in] or [N, C_in, 1] (in_channels={}), got {}", kOp,
        o.in_channels_, x_t.sizes());
  check(x_t.size(1) == o.in_channels_,
        "{}: expected x_t with {} channels (in_channels={}), got {} in x_t of shape {}", kOp,
        o.in_channels_, o.in_channels_, x_t.size(1), x_t.sizes());
  check(x_t.dtype() == weight.dtype(), "{}: expected x_t of dtype {} (the module's), got {}", kOp,
        dtype_name(weight.dtype()), dtype_name(x_t.dtype()));
  check(x_t.device() == weight.device(),
        "{}: expected x_t on {} (the module's device), got {}", kOp, weight.device().str(),
        x_t.device().str());
  check(!(GradMode::is_enabled() && x_t.requires_grad()),
        "{}: streaming is inference only, but x_t requires grad; run it under NoGradGuard or "
        "pass x_t.detach()",
        kOp);
  const std::int64_t n = x_t.size(0);
  // Module::to() after the first step: the buffer holds the old dtype or device.
  const Tensor& buffer = stream_.window;
  if (buffer.defined() && (buffer.dtype() != weight.dtype() || buffer.device() != weight.device())) {
    fail("{}: the module moved to {} {} after this stream's first step (its buffer is {} {}); "
         "call stream_reset()",
         kOp, dtype_name(weight.dtype()), weight.device().str(), dtype_name(buffer.dtype()),
         buffer.device().str());
  }
  if (stream_.batch < 0) {
    check_streamable();
  } else {
    check(n == stream_.batch,
          "{}: this stream's batch size is {} (fixed by its first step after stream_reset()), "
          "got x_t of shape {}; call stream_reset() to start a stream of another batch size",
          kOp, stream_.batch, x_t.sizes());
  }

  NoGradGuard no_grad;
  const std::int64_t k = o.kernel_size_, d = o.func_.dilation_, groups = o.func_.groups_;
  const std::int64_t reach = d * (k - 1);  // checked by check_streamable
  const Tensor x = x_t.dim() == 3 ? x_t.select(2, 0) : x_t;  // [N, C_in]
  const TensorOptions opts = weight.options();
  if (stream_.batch < 0) {
    stream_.batch = n;
    if (reach > 0) {
      stream_.ring = zeros({n, o.in_channels_, reach}, opts);
      stream_.window = empty({n, o.in_channels_, k}, opts);
    }
  }

  // The taps, oldest first: tap j reads the input of step t - d*(K-1-j); before the stream's
  // start that is a slot never written since the reset, still zero.
  Tensor window;
  if (reach == 0) {
    window = x.unsqueeze(2);  // [N, C_in, 1]
  } else {
    window = stream_.window;
    const std::int64_t t = stream_.steps;
    for (std::int64_t j = 0; j + 1 < k; ++j) {
      const std::int64_t slot = ((t - d * (k - 1 - j)) % reach + reach) % reach;
      window.select(2, j).copy_(stream_.ring.select(2, slot));
    }
    window.select(2, k - 1).copy_(x);
  }

  Tensor y;  // [N, C_out]
  if (step_by_matmul(weight, groups)) {
    const std::int64_t rows = o.in_channels_ / groups * k, out_per_group = o.out_channels_ / groups;
    auto& s = stream_;
    if (!s.weight_t.defined() || !s.weight_src.is_same(weight) ||
        s.weight_version != weight.version()) {
      s.weight_t = weight.view({groups, out_per_group, rows}).transpose(1, 2).contiguous();
      s.weight_src = weight;
      s.weight_version = weight.version();
    }
    if (groups == 1) {
      y = matmul(window.reshape({n, rows}), s.weight_t.select(0, 0));
    } else {
      const Tensor a = window.reshape({n, groups, rows}).transpose(0, 1);  // [G, N, rows]
      y = matmul(a, s.weight_t).transpose(0, 1).reshape({n, o.out_channels_});
    }
    if (bias.defined()) y = add(y, bias);
  } else {
    y = functional::conv1d(window, weight, bias, functional::Conv1dFuncOptions().groups(groups))
            .select(2, 0);
  }

  if (reach > 0) stream_.ring.select(2, stream_.steps % reach).copy_(x);
  ++stream_.steps;
  return x_t.dim() == 3 ? y.unsqueeze(2) : y;
}

std::int64_t reset_streams(Module& module) {
  std::int64_t count = 0;
  module.apply([&count](Module& m) {
    if (auto* conv = dynamic_cast<Conv1dImpl*>(&m)) {
      conv->stream_reset();
      ++count;
    }
  });
  return count;
}

}  // namespace reel::nn
