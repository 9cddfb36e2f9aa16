#pragma once
// reel::nn::unit_scaling::Conv1d: a Conv1d whose output and gradients have unit scale at
// initialisation (Graphcore's unit_scaling.Conv1d, done right: see docs/unit_scaling.md).
//
//   namespace us = reel::nn::unit_scaling;
//   us::Conv1d conv(us::Conv1dOptions(16, 33, 3).padding(reel::kCausal)
//                       .constraint(us::kGMean));
//   Tensor y = conv(x);   // conv->weight ~ N(0, 1), tagged "weight" for the optimizers
//
// Options are nn::Conv1dOptions' plus constraint and weight_mup_type; defaults as the
// original: bias=false, constraint=to_output_scale, weight_mup_type=weight. The forward is
// unit_scaling::functional::conv1d (the formulas are there).
#include <cstdint>
#include <string>
#include <string_view>

#include "nn/conv1d.hpp"
#include "nn/module.hpp"
#include "nn/unit_scaling/functional.hpp"
#include "nn/unit_scaling/parameter.hpp"

namespace reel::nn::unit_scaling {

struct Conv1dOptions {
  Conv1dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
      : conv_(in_channels, out_channels, kernel_size) {
    conv_.bias(false);
  }
  Conv1dOptions& stride(std::int64_t v) { conv_.stride(v); return *this; }
  Conv1dOptions& padding(std::int64_t v) { conv_.padding(v); return *this; }
  Conv1dOptions& padding(PaddingRule v) { conv_.padding(v); return *this; }
  Conv1dOptions& padding(std::string_view v) { conv_.padding(v); return *this; }
  Conv1dOptions& dilation(std::int64_t v) { conv_.dilation(v); return *this; }
  Conv1dOptions& groups(std::int64_t v) { conv_.groups(v); return *this; }
  Conv1dOptions& padding_mode(PaddingMode v) { conv_.padding_mode(v); return *this; }
  Conv1dOptions& padding_mode(std::string_view v) { conv_.padding_mode(v); return *this; }
  Conv1dOptions& bias(bool v) { conv_.bias(v); return *this; }
  Conv1dOptions& dtype(DType v) { conv_.dtype(v); return *this; }
  Conv1dOptions& device(Device v) { conv_.device(v); return *this; }
  Conv1dOptions& constraint(Constraint v) { constraint_ = v; return *this; }
  Conv1dOptions& constraint(std::string_view v) {
    constraint_ = constraint_from_string(v);
    return *this;
  }
  Conv1dOptions& weight_mup_type(MupType v) { weight_mup_type_ = v; return *this; }
  Conv1dOptions& weight_mup_type(std::string_view v) {
    weight_mup_type_ = mup_type_from_string(v);
    return *this;
  }

  nn::Conv1dOptions conv_;  // channels, kernel size, F::conv1d's options, bias, dtype, device
  Constraint constraint_ = kToOutputScale;
  MupType weight_mup_type_ = MupType::Weight;
};

class Conv1dImpl : public Module, public MupTagged {
 public:
  explicit Conv1dImpl(Conv1dOptions options);
  Conv1dImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
      : Conv1dImpl(Conv1dOptions(in_channels, out_channels, kernel_size)) {}
  // input (N, C_in, L) or (C_in, L) -> (N, C_out, L_out) or (C_out, L_out)
  Tensor forward(const Tensor& input) const;
  // weight ~ N(0, 1), bias = 0 (the scales make the output unit, not the init).
  void reset_parameters();
  // nn.Conv1d's repr with this class's name (the original's own repr raises: it stores
  // padding as an int, which nn.Conv1d's extra_repr takes the len() of), plus
  // constraint / weight_mup_type when they are not the defaults.
  std::string repr() const override;
  const Conv1dOptions& options() const { return options_; }
  // The functional options forward() passes to unit_scaling::functional::conv1d.
  functional::Conv1dFuncOptions func_options() const;

  Tensor weight;  // (out_channels, in_channels / groups, kernel_size), tagged weight_mup_type
  Tensor bias;    // (out_channels), tagged bias; undefined unless options.bias(true)

 private:
  Conv1dOptions options_;
};

class Conv1d : public ModuleHolder<Conv1dImpl> {
 public:
  using ModuleHolder<Conv1dImpl>::ModuleHolder;
};

}  // namespace reel::nn::unit_scaling
