#pragma once
// F.dropout and F.dropout1d's twins. In training each element (dropout) or each whole channel
// (dropout1d) is zeroed with probability p, and what is kept is scaled by 1 / (1 - p), so the
// expectation is unchanged. The mask comes from reel's random stream (rand), so manual_seed
// reproduces it (not PyTorch's masks: the streams differ); `.generator(g)` draws it from g
// instead of the default generator (PyTorch's dropout has no generator argument).
#include <optional>

#include "tensor/tensor.hpp"

namespace reel::nn::functional {

struct DropoutFuncOptions {
  DropoutFuncOptions& p(double v) { p_ = v; return *this; }
  DropoutFuncOptions& training(bool v) { training_ = v; return *this; }
  // Multiply into the input's own storage and return it (PyTorch's inplace=True).
  DropoutFuncOptions& inplace(bool v) { inplace_ = v; return *this; }
  // Draw the mask from this generator (a handle: the options share its state).
  DropoutFuncOptions& generator(Generator g) { generator_ = std::move(g); return *this; }
  double p_ = 0.5;
  bool training_ = true;
  bool inplace_ = false;
  std::optional<Generator> generator_;
};
using Dropout1dFuncOptions = DropoutFuncOptions;

// p in [0, 1] (else reel::Error). Not training, p = 0 or an empty input: the input itself;
// p = 1: input * 0 (zeros, NaN stays NaN, as PyTorch).
Tensor dropout(const Tensor& input, const DropoutFuncOptions& options = {});
// input (N, C, L) or unbatched (C, L); one draw per (n, c), the same along L.
Tensor dropout1d(const Tensor& input, const Dropout1dFuncOptions& options = {});

// The p check the modules make at construction; `op` names the caller.
void check_dropout_p(double p, const char* op);

}  // namespace reel::nn::functional
