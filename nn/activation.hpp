#pragma once
// The activation modules, as torch.nn's: each holds its options and calls its
// nn::functional twin (nn/functional/activation.hpp). PReLU is the one with a parameter.
//
//   reel::nn::LeakyReLU act(reel::nn::LeakyReLUOptions().negative_slope(0.2));
//   Tensor y = act(x);
//
// The in-place variants (PyTorch's inplace=True) are not offered: forward always returns a new
// tensor.
#include <cstdint>

#include "nn/functional/activation.hpp"
#include "nn/module.hpp"

namespace reel::nn {

// Modules without arguments: ReLU, SiLU, Mish, Tanh, Sigmoid.
#define REEL_NN_PLAIN_ACTIVATION(Name)                        \
  class Name##Impl : public Module {                          \
   public:                                                    \
    Tensor forward(const Tensor& input) const;                \
    std::string repr() const override { return #Name "()"; } \
  };                                                          \
  class Name : public ModuleHolder<Name##Impl> {              \
   public:                                                    \
    using ModuleHolder<Name##Impl>::ModuleHolder;             \
  };

REEL_NN_PLAIN_ACTIVATION(ReLU)
REEL_NN_PLAIN_ACTIVATION(SiLU)
REEL_NN_PLAIN_ACTIVATION(Mish)
REEL_NN_PLAIN_ACTIVATION(Tanh)
REEL_NN_PLAIN_ACTIVATION(Sigmoid)
#undef REEL_NN_PLAIN_ACTIVATION

// Modules whose options are the functional's: LeakyReLU, ELU, GELU, Softplus, Hardtanh,
// Softmax, LogSoftmax, GLU. `Name(options)`; those whose options have defaults also `Name()`
// (Softmax and LogSoftmax need their dim: `nn::Softmax sm(1)`).
#define REEL_NN_OPTIONS_ACTIVATION(Name, DEFAULT)                                        \
  class Name##Impl : public Module {                                              \
   public:                                                                        \
    explicit Name##Impl(Name##Options options DEFAULT);                              \
    Tensor forward(const Tensor& input) const;                                    \
    std::string repr() const override;                                            \
    const Name##Options& options() const { return options_; }                     \
                                                                                  \
   private:                                                                       \
    Name##Options options_;                                                       \
  };                                                                              \
  class Name : public ModuleHolder<Name##Impl> {                                  \
   public:                                                                        \
    using ModuleHolder<Name##Impl>::ModuleHolder;                                 \
  };

REEL_NN_OPTIONS_ACTIVATION(LeakyReLU, = {})
REEL_NN_OPTIONS_ACTIVATION(ELU, = {})
REEL_NN_OPTIONS_ACTIVATION(GELU, = {})
REEL_NN_OPTIONS_ACTIVATION(Softplus, = {})
REEL_NN_OPTIONS_ACTIVATION(Hardtanh, = {})
REEL_NN_OPTIONS_ACTIVATION(Softmax, )
REEL_NN_OPTIONS_ACTIVATION(LogSoftmax, )
REEL_NN_OPTIONS_ACTIVATION(GLU, = {})
#undef REEL_NN_OPTIONS_ACTIVATION

// PReLU: y = x for x > 0, weight * x otherwise, the weight learnt per channel (dim 1) or
// shared.
class PReLUImpl : public Module {
 public:
  explicit PReLUImpl(PReLUOptions options = {});
  Tensor forward(const Tensor& input) const;
  // weight <- init (PyTorch's constant init)
  void reset_parameters();
  std::string repr() const override;
  const PReLUOptions& options() const { return options_; }

  Tensor weight;  // (num_parameters)

 private:
  PReLUOptions options_;
};

class PReLU : public ModuleHolder<PReLUImpl> {
 public:
  using ModuleHolder<PReLUImpl>::ModuleHolder;
};

}  // namespace reel::nn
