#pragma once
// The 1-D padding modules of torch.nn: ConstantPad1d, ZeroPad1d, ReflectionPad1d,
// ReplicationPad1d and CircularPad1d (PyTorch 2.x's; 1.13 has none), each a thin module over
// nn::functional::pad1d on the last dim of a (C, L) or (N, C, L) tensor.
//
//   reel::nn::ReflectionPad1d pad(2);                        // 2 on each side
//   reel::nn::ConstantPad1d cpad(reel::nn::ConstantPad1dOptions({1, 3}, 0.5));
#include <array>
#include <cstdint>

#include "nn/module.hpp"
#include "nn/padding.hpp"

namespace reel::nn {

// (left, right), from an int (both sides) or a pair, as PyTorch's `padding` argument.
struct Pad1dSize {
  Pad1dSize(std::int64_t both) : left(both), right(both) {}  // NOLINT: implicit, as PyTorch's int
  Pad1dSize(std::int64_t l, std::int64_t r) : left(l), right(r) {}
  Pad1dSize(std::array<std::int64_t, 2> lr) : left(lr[0]), right(lr[1]) {}  // NOLINT
  std::int64_t left, right;
};

struct ConstantPad1dOptions {
  ConstantPad1dOptions(Pad1dSize padding, double value) : padding_(padding), value_(value) {}
  ConstantPad1dOptions& padding(Pad1dSize v) { padding_ = v; return *this; }
  ConstantPad1dOptions& value(double v) { value_ = v; return *this; }
  Pad1dSize padding_;
  double value_;
};

// The options of the modules without a value.
struct Pad1dOptions {
  Pad1dOptions(Pad1dSize padding) : padding_(padding) {}       // NOLINT: ReflectionPad1d({1, 2})
  Pad1dOptions(std::int64_t padding) : padding_(padding) {}    // NOLINT: ReflectionPad1d(2)
  Pad1dOptions& padding(Pad1dSize v) { padding_ = v; return *this; }
  Pad1dSize padding_;
};
using ZeroPad1dOptions = Pad1dOptions;
using ReflectionPad1dOptions = Pad1dOptions;
using ReplicationPad1dOptions = Pad1dOptions;
using CircularPad1dOptions = Pad1dOptions;

// One implementation for the five: a mode, the padding, the constant.
class Pad1dImpl : public Module {
 public:
  Pad1dImpl(PaddingMode mode, Pad1dSize padding, double value, const char* name);
  Tensor forward(const Tensor& input) const;
  std::string repr() const override;
  PaddingMode mode() const { return mode_; }
  Pad1dSize padding() const { return padding_; }
  double value() const { return value_; }

 private:
  PaddingMode mode_;
  Pad1dSize padding_;
  double value_;
  const char* name_;
};

class ConstantPad1dImpl : public Pad1dImpl {
 public:
  explicit ConstantPad1dImpl(ConstantPad1dOptions o)
      : Pad1dImpl(kZeros, o.padding_, o.value_, "ConstantPad1d") {}
};
class ZeroPad1dImpl : public Pad1dImpl {
 public:
  explicit ZeroPad1dImpl(ZeroPad1dOptions o) : Pad1dImpl(kZeros, o.padding_, 0.0, "ZeroPad1d") {}
};
class ReflectionPad1dImpl : public Pad1dImpl {
 public:
  explicit ReflectionPad1dImpl(ReflectionPad1dOptions o)
      : Pad1dImpl(kReflect, o.padding_, 0.0, "ReflectionPad1d") {}
};
class ReplicationPad1dImpl : public Pad1dImpl {
 public:
  explicit ReplicationPad1dImpl(ReplicationPad1dOptions o)
      : Pad1dImpl(kReplicate, o.padding_, 0.0, "ReplicationPad1d") {}
};
class CircularPad1dImpl : public Pad1dImpl {
 public:
  explicit CircularPad1dImpl(CircularPad1dOptions o)
      : Pad1dImpl(kCircular, o.padding_, 0.0, "CircularPad1d") {}
};

#define REEL_PAD1D_HOLDER(Name)                     \
  class Name : public ModuleHolder<Name##Impl> {    \
   public:                                          \
    using ModuleHolder<Name##Impl>::ModuleHolder;   \
  };
REEL_PAD1D_HOLDER(ConstantPad1d)
REEL_PAD1D_HOLDER(ZeroPad1d)
REEL_PAD1D_HOLDER(ReflectionPad1d)
REEL_PAD1D_HOLDER(ReplicationPad1d)
REEL_PAD1D_HOLDER(CircularPad1d)
#undef REEL_PAD1D_HOLDER

}  // namespace reel::nn
