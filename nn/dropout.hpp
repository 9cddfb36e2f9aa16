#pragma once
// nn::Dropout, nn::Dropout1d: F::dropout / F::dropout1d in training mode, the identity after
// eval() (Module::is_training()).
//
//   reel::nn::Dropout drop(0.2);   // or DropoutOptions().p(0.2).inplace(true)
//
// DropoutOptions().generator(g) draws the masks from g (a reel extension: torch.nn.Dropout
// has no generator); repr() doesn't show it.
#include <optional>

#include "nn/functional/dropout.hpp"
#include "nn/module.hpp"

namespace reel::nn {

struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT: implicit as LibTorch's
  DropoutOptions& p(double v) { p_ = v; return *this; }
  DropoutOptions& inplace(bool v) { inplace_ = v; return *this; }
  DropoutOptions& generator(Generator g) { generator_ = std::move(g); return *this; }
  double p_;
  bool inplace_ = false;
  std::optional<Generator> generator_;
};
using Dropout1dOptions = DropoutOptions;

class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(DropoutOptions options = {});
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
};

class Dropout : public ModuleHolder<DropoutImpl> {
 public:
  using ModuleHolder<DropoutImpl>::ModuleHolder;
};

// Zeroes whole channels of (N, C, L) or unbatched (C, L) input.
class Dropout1dImpl : public Module {
 public:
  explicit Dropout1dImpl(Dropout1dOptions options = {});
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  const Dropout1dOptions& options() const { return options_; }

 private:
  Dropout1dOptions options_;
};

class Dropout1d : public ModuleHolder<Dropout1dImpl> {
 public:
  using ModuleHolder<Dropout1dImpl>::ModuleHolder;
};

}  // namespace reel::nn
