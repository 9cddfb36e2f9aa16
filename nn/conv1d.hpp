#pragma once
// nn::Conv1d: the module around nn::functional::conv1d, mirroring torch.nn.Conv1d.
//
//   reel::nn::Conv1d conv(reel::nn::Conv1dOptions(16, 33, 3).stride(2).padding(reel::kSame)
//                             .padding_mode(reel::kReflect).dtype(reel::kFloat64));
//   Tensor y = conv(x);   // or conv->forward(x); conv->weight, conv->bias
#include <cstdint>
#include <string_view>

#include "nn/functional/conv1d.hpp"
#include "nn/module.hpp"

namespace reel::nn {

// torch.nn.Conv1d's arguments. What F::conv1d needs (stride, padding, dilation, groups,
// padding_mode) is held as the functional options themselves, so forward() passes them on
// as they are and there is one set of fields and one validation for both.
struct Conv1dOptions {
  Conv1dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  Conv1dOptions& stride(std::int64_t v) { func_.stride(v); return *this; }
  Conv1dOptions& padding(std::int64_t v) { func_.padding(v); return *this; }
  Conv1dOptions& padding(PaddingRule v) { func_.padding(v); return *this; }
  Conv1dOptions& padding(std::string_view v) { func_.padding(v); return *this; }
  Conv1dOptions& dilation(std::int64_t v) { func_.dilation(v); return *this; }
  Conv1dOptions& groups(std::int64_t v) { func_.groups(v); return *this; }
  Conv1dOptions& padding_mode(PaddingMode v) { func_.padding_mode(v); return *this; }
  Conv1dOptions& padding_mode(std::string_view v) { func_.padding_mode(v); return *this; }
  Conv1dOptions& bias(bool v) { bias_ = v; return *this; }
  Conv1dOptions& dtype(DType v) { dtype_ = v; return *this; }
  Conv1dOptions& device(Device v) { device_ = v; return *this; }

  std::int64_t in_channels_, out_channels_, kernel_size_;
  functional::Conv1dFuncOptions func_;  // stride 1, padding 0, dilation 1, groups 1, zeros
  bool bias_ = true;
  DType dtype_ = kFloat32;
  Device device_{};
};

class Conv1dImpl : public Module {
 public:
  explicit Conv1dImpl(Conv1dOptions options);
  // input (N, C_in, L) or (C_in, L) -> (N, C_out, L_out) or (C_out, L_out)
  Tensor forward(const Tensor& input) const;
  // weight ~ U(-sqrt(k), sqrt(k)), bias ~ U(-sqrt(k), sqrt(k)), k = groups / (C_in * kernel_size)
  // (kaiming_uniform with a = sqrt(5), as PyTorch); complex: real and imaginary parts
  // independently.
  void reset_parameters();
  std::string repr() const override;
  const Conv1dOptions& options() const { return options_; }

  // --- streaming inference (nn/conv1d_streaming.cpp; docs/training.md "Streaming inference") ---
  // A causal convolution computed one time step at a time: the module keeps a ring buffer of
  // its last dilation * (kernel_size - 1) inputs, so each step costs one output column instead
  // of a whole window. From a reset the buffer holds zeros (the causal zero padding), so steps
  // t = 0, 1, ... reproduce forward() on the whole sequence column by column.
  //
  // Streams only causal convolutions: stride 1, padding 'causal' (or none at kernel_size 1),
  // padding_mode zeros; any dilation, groups, bias. Anything else raises reel::Error.
  // Inference only: the step runs without recording (its output never requires grad) and
  // refuses an input that requires grad.
  //
  // stream_reset() empties the buffer and forgets the batch size; the first step after it fixes
  // the batch size (a later step with another raises). x_t is [N, C_in] or [N, C_in, 1]; the
  // result has the same rank ([N, C_out] or [N, C_out, 1]) and the module's dtype and device.
  void stream_reset();
  Tensor stream_step(const Tensor& x_t);
  // Steps taken since the last reset.
  std::int64_t stream_position() const { return stream_.steps; }

  Tensor weight;  // (out_channels, in_channels / groups, kernel_size)
  Tensor bias;    // (out_channels), undefined when options.bias(false)

 private:
  // The streaming state: inputs of the last `reach` steps, input of step s at ring[:, :, s % reach].
  struct StreamState {
    Tensor ring;            // [N, C_in, reach]; undefined until the first step (or reach == 0)
    Tensor window;          // [N, C_in, kernel_size]: the taps of the current step
    std::int64_t batch = -1;  // fixed by the first step after a reset
    std::int64_t steps = 0;
    // The weight as the CPU step's matrix product wants it ([G, C_in/G * K, C_out/G]),
    // rebuilt when the weight tensor or its version changes.
    Tensor weight_t;
    Tensor weight_src;
    std::uint32_t weight_version = 0;
  };
  void check_streamable() const;
  Conv1dOptions options_;
  StreamState stream_;
};

class Conv1d : public ModuleHolder<Conv1dImpl> {
 public:
  using ModuleHolder<Conv1dImpl>::ModuleHolder;
};

}  // namespace reel::nn
