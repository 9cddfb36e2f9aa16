// Streaming inference (Conv1d::stream_step, nn::reset_streams): every streamed step against the
// column of the full forward on the whole sequence, on the reference loops and the CPU
// kernels: bitwise (==) where both run their sums in the same order (the reference always,
// the CPU's depthwise kernel always, its gemm when the conditions docs/training.md lists hold),
// to float rounding otherwise. Then a gated WaveNet-style stack with receptive field 256,
// reset and continuation semantics, batch > 1, groups, k = 1, bias on/off, and every error.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/simd_kernels.hpp"
#include "nn/conv1d.hpp"
#include "nn/streaming.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;
using test::on_cpu_backends;
using nn::Conv1d;
using nn::Conv1dOptions;

namespace {

// Compares step t's output with column t of the full forward: exactly (== on every element,
// so -0 and +0 are equal) or within `rel` of the largest magnitude in the column.
void check_column(const Tensor& step, const Tensor& full, std::int64_t t, bool exact, double rel) {
  const std::vector<double> got = step.to_vector<double>();
  const std::vector<double> want = full.select(2, t).contiguous().to_vector<double>();
  REQUIRE(got.size() == want.size());
  double scale = 0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (exact) {
      if (got[i] != want[i]) {
        FAIL_CHECK("step ", t, " element ", i, ": streamed ", got[i], " != full ", want[i]);
        return;
      }
    } else if (std::abs(got[i] - want[i]) > rel * std::max(scale, 1.0)) {
      FAIL_CHECK("step ", t, " element ", i, ": streamed ", got[i], " vs full ", want[i]);
      return;
    }
  }
}

bool reference_backend() { return backends::cpu_backend_kind() == backends::Kind::Reference; }

struct Config {
  std::int64_t cin, cout, k, dilation, groups, batch;
  bool bias;
  DType dtype;
  bool cpu_exact;  // the CPU kernels sum both ways in one order (see docs/training.md)
};

// Runs fn under each SIMD architecture this CPU has (forced in turn), then restores the default.
template <class Fn>
void for_each_simd_arch(Fn&& fn) {
  struct Restore {
    ~Restore() { backends::cpu::force_simd_arch(""); }
  } restore;
  for (const char* arch : {"avx512bw", "fma3+avx2", "sse2"}) {
    if (!backends::cpu::force_simd_arch(arch)) continue;  // this CPU lacks it
    CAPTURE(arch);
    fn();
  }
}

}  // namespace

TEST_CASE("Conv1d streaming: each step equals the full forward's column") {
  // L = 64: the full forward's gemm tiles are 32 wide (no one-column tile, which would take
  // gemv's dot form) on any thread count. The CPU-exact configurations keep every product of
  // the step above gemm's naive threshold (batch * C_out/G * C_in/G*K > 512) or at batch 1.
  const std::int64_t length = 64;
  const std::vector<Config> configs = {
      {8, 16, 3, 2, 1, 1, true, kFloat32, true},      // dense, dilated
      {8, 16, 2, 4, 1, 3, false, kFloat32, true},     // batch 3, no bias
      {8, 8, 3, 1, 2, 1, true, kFloat32, true},       // grouped (2 groups of 4 -> 4)
      {6, 6, 3, 3, 6, 2, true, kFloat32, true},       // depthwise, dilated
      {6, 12, 2, 5, 6, 1, false, kFloat32, true},     // depthwise, channel multiplier 2
      {32, 16, 1, 1, 1, 2, true, kFloat32, true},     // 1x1
      {6, 6, 1, 1, 6, 1, true, kFloat32, true},       // 1x1 depthwise
      {5, 7, 4, 3, 1, 1, true, kFloat64, true},       // float64
      {4, 6, 5, 2, 2, 1, true, kFloat64, true},       // float64 grouped
      {3, 4, 3, 2, 1, 2, true, kComplex64, true},     // complex: the reference loops on both
      // C_in/G * K = 600 > 512: the full forward's gemm splits the sum into two blocks of 300,
      // the one-row step sums it in one chain; equal to float rounding only.
      {300, 8, 2, 3, 1, 1, true, kFloat32, false},
  };
  // On every SIMD architecture the CPU has: the claims hold for each micro-kernel.
  for_each_simd_arch([&] {
    on_cpu_backends([&] {
      for (const Config& c : configs) {
        CAPTURE(c.cin);
        CAPTURE(c.cout);
        CAPTURE(c.k);
        CAPTURE(c.dilation);
        CAPTURE(c.groups);
        CAPTURE(c.batch);
        manual_seed(7);
        Conv1d conv(Conv1dOptions(c.cin, c.cout, c.k)
                        .padding(kCausal)
                        .dilation(c.dilation)
                        .groups(c.groups)
                        .bias(c.bias)
                        .dtype(c.dtype));
        Tensor x = randn({c.batch, c.cin, length}, TensorOptions(c.dtype));
        Tensor full;
        {
          NoGradGuard g;
          full = conv(x);
        }
        const bool exact = reference_backend() || c.cpu_exact;
        const double rel = c.dtype == kFloat32 ? 1e-5 : 1e-12;
        conv->stream_reset();
        for (std::int64_t t = 0; t < length; ++t) {
          // Alternate the two accepted shapes: [N, C_in, 1] -> [N, C_out, 1], [N, C_in] -> [N, C_out].
          Tensor xt = x.narrow(2, t, 1);
          Tensor y = t % 2 == 0 ? conv->stream_step(xt) : conv->stream_step(xt.select(2, 0));
          CHECK(y.sizes() == (t % 2 == 0 ? Shape{c.batch, c.cout, 1} : Shape{c.batch, c.cout}));
          CHECK_FALSE(y.requires_grad());
          check_column(y, full, t, exact, rel);
        }
        CHECK(conv->stream_position() == length);
      }
    });
  });
}

namespace {

// The char-LM's body: [causal dilated conv (C -> 2C), tanh(a) * sigmoid(b), 1x1 conv, residual
// add] x L, then a 1x1 head. forward() runs whole sequences, step() one position of a stream.
struct GatedStackImpl : nn::Module {
  std::vector<Conv1d> dilated, mix;
  Conv1d head{nullptr};
  std::int64_t channels;

  GatedStackImpl(std::int64_t c, std::int64_t classes, int layers, DType dtype) : channels(c) {
    for (int i = 0; i < layers; ++i) {
      dilated.push_back(register_module(
          "dilated" + std::to_string(i),
          Conv1d(Conv1dOptions(c, 2 * c, 2).padding(kCausal).dilation(std::int64_t{1} << i).dtype(dtype))));
      mix.push_back(register_module("mix" + std::to_string(i),
                                    Conv1d(Conv1dOptions(c, c, 1).dtype(dtype))));
    }
    head = register_module("head", Conv1d(Conv1dOptions(c, classes, 1).dtype(dtype)));
  }
  Tensor gate(const Tensor& h) const {
    return mul(tanh(h.narrow(1, 0, channels)), sigmoid(h.narrow(1, channels, channels)));
  }
  Tensor forward(Tensor x) {
    for (std::size_t i = 0; i < dilated.size(); ++i) x = add(x, mix[i](gate(dilated[i](x))));
    return head(x);
  }
  Tensor step(Tensor x) {  // x [N, C, 1]
    for (std::size_t i = 0; i < dilated.size(); ++i)
      x = add(x, mix[i]->stream_step(gate(dilated[i]->stream_step(x))));
    return head->stream_step(x);
  }
};

}  // namespace

namespace {

// Streams the stack over 300 positions (past the receptive field, so late steps read a full
// ring of real inputs) and compares every step with the full forward, bitwise.
void check_stack_streams(DType dtype, std::int64_t batch) {
  const std::int64_t length = 300, channels = 32, classes = 12;
  CAPTURE(batch);
  manual_seed(3);
  auto stack = std::make_shared<GatedStackImpl>(channels, classes, 8, dtype);
  Tensor x = randn({batch, channels, length}, TensorOptions(dtype));
  NoGradGuard g;
  Tensor full = stack->forward(x);
  CHECK(nn::reset_streams(*stack) == 17);
  for (std::int64_t t = 0; t < length; ++t) {
    Tensor y = stack->step(x.narrow(2, t, 1));
    check_column(y, full, t, true, 0);
  }
}

}  // namespace

TEST_CASE("Conv1d streaming: a gated stack with dilations 1..128 (receptive field 256)") {
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    on_cpu_backends([&] {
      for (std::int64_t batch : {1, 2}) check_stack_streams(dtype, batch);
    });
  }
}

TEST_CASE("Conv1d streaming: the stack is bitwise on every SIMD architecture the CPU has") {
  // The step and the full forward must agree under each micro-kernel (FMA or not, vector width).
  for_each_simd_arch([] {
    for (DType dtype : {kFloat32, kFloat64})
      for (std::int64_t batch : {1, 2}) check_stack_streams(dtype, batch);
  });
}

TEST_CASE("Conv1d streaming: reset restarts from the zero padding, no reset continues") {
  on_cpu_backends([] {
    manual_seed(11);
    // Sizes that keep the CPU step's product on the packed gemm (docs/training.md).
    Conv1d conv(Conv1dOptions(8, 16, 3).padding(kCausal).dilation(2).dtype(kFloat64));
    Tensor x = randn({2, 8, 20}, TensorOptions(kFloat64));
    NoGradGuard g;
    Tensor full = conv(x);
    std::vector<Tensor> first;
    for (std::int64_t t = 0; t < 10; ++t) first.push_back(conv->stream_step(x.narrow(2, t, 1)));
    // Without a reset the stream continues: steps 10.. are the full forward's columns 10..
    for (std::int64_t t = 10; t < 20; ++t) check_column(conv->stream_step(x.narrow(2, t, 1)), full, t, true, 0);
    // After one, it starts over from zeros: the same outputs as the first time.
    conv->stream_reset();
    CHECK(conv->stream_position() == 0);
    for (std::int64_t t = 0; t < 10; ++t) {
      Tensor y = conv->stream_step(x.narrow(2, t, 1));
      CHECK(equal(y, first[static_cast<std::size_t>(t)]));
    }
    // A reset also frees the batch size.
    conv->stream_reset();
    CHECK(conv->stream_step(x.narrow(0, 0, 1).narrow(2, 0, 1)).sizes() == Shape{1, 16, 1});
  });
}

TEST_CASE("Conv1d streaming: the weights may change between steps") {
  // The CPU step caches the transposed weight; an in-place update (an optimizer step) must show.
  manual_seed(5);
  Conv1d conv(Conv1dOptions(8, 16, 2).padding(kCausal));
  Tensor x = randn({1, 8, 4});
  NoGradGuard g;
  conv->stream_step(x.narrow(2, 0, 1));
  conv->weight.mul_(2.0);
  conv->bias.zero_();
  Tensor y = conv->stream_step(x.narrow(2, 1, 1));
  Tensor full = conv(x);
  check_column(y, full, 1, false, 1e-5);
}

TEST_CASE("Conv1d streaming: grad mode and autograd") {
  manual_seed(2);
  Conv1d conv(Conv1dOptions(2, 3, 2).padding(kCausal));
  Tensor x = randn({1, 2, 1});
  // Grad mode on, parameters requiring grad: the step records nothing.
  Tensor y = conv->stream_step(x);
  CHECK_FALSE(y.requires_grad());
  // An input that requires grad is refused while grad mode is on, accepted under NoGradGuard.
  Tensor xg = randn({1, 2, 1}).set_requires_grad(true);
  check_error([&] { conv->stream_step(xg); }, {"Conv1d.stream_step", "inference only", "requires grad"});
  NoGradGuard g;
  CHECK(conv->stream_step(xg).sizes() == Shape{1, 3, 1});
}

TEST_CASE("Conv1d streaming: configurations that can't stream, and bad steps") {
  auto first_step = [](Conv1dOptions o) {
    Conv1d conv(o);
    conv->stream_reset();  // never raises
    conv->stream_step(zeros({1, o.in_channels_}));
  };
  check_error([&] { first_step(Conv1dOptions(2, 2, 3).padding(kCausal).stride(2)); },
              {"Conv1d.stream_step", "stride=2"});
  check_error([&] { first_step(Conv1dOptions(2, 2, 3).padding(kCausal).padding_mode(kReflect)); },
              {"Conv1d.stream_step", "padding_mode='reflect'"});
  check_error([&] { first_step(Conv1dOptions(2, 2, 3).padding(kCausal).padding_mode(kCircular)); },
              {"Conv1d.stream_step", "padding_mode='circular'"});
  check_error([&] { first_step(Conv1dOptions(2, 2, 3)); },
              {"Conv1d.stream_step", "causal", "padding=0", "left 0, right 0"});
  check_error([&] { first_step(Conv1dOptions(2, 2, 3).padding(2)); },
              {"Conv1d.stream_step", "padding=2", "left 2, right 2"});
  check_error([&] { first_step(Conv1dOptions(2, 2, 3).padding(kSame)); },
              {"Conv1d.stream_step", "padding=same"});
  check_error([&] { first_step(Conv1dOptions(2, 2, 3).padding(kValid).dilation(2)); },
              {"Conv1d.stream_step", "padding=valid", "dilation=2"});
  // kernel_size 1 streams with any padding rule that adds nothing.
  for (auto o : {Conv1dOptions(2, 3, 1), Conv1dOptions(2, 3, 1).padding(kSame),
                 Conv1dOptions(2, 3, 1).padding(kValid), Conv1dOptions(2, 3, 1).padding(kCausal)}) {
    CHECK_NOTHROW(first_step(o));
  }

  Conv1d conv(Conv1dOptions(2, 3, 2).padding(kCausal));
  check_error([&] { conv->stream_step(Tensor()); }, {"Conv1d.stream_step", "undefined"});
  check_error([&] { conv->stream_step(zeros({2})); }, {"Conv1d.stream_step", "[N, C_in]", "[2]"});
  check_error([&] { conv->stream_step(zeros({1, 2, 2})); }, {"Conv1d.stream_step", "[1, 2, 2]"});
  check_error([&] { conv->stream_step(zeros({1, 2, 1, 1})); }, {"Conv1d.stream_step", "[1, 2, 1, 1]"});
  check_error([&] { conv->stream_step(zeros({1, 3})); },
              {"Conv1d.stream_step", "2 channels", "got 3"});
  check_error([&] { conv->stream_step(zeros({1, 2}, TensorOptions(kFloat64))); },
              {"Conv1d.stream_step", "float32", "float64"});
  CHECK(conv->stream_step(zeros({3, 2})).sizes() == Shape{3, 3});
  check_error([&] { conv->stream_step(zeros({2, 2})); },
              {"Conv1d.stream_step", "batch size is 3", "[2, 2]", "stream_reset"});
  conv->stream_reset();
  CHECK(conv->stream_step(zeros({2, 2, 1})).sizes() == Shape{2, 3, 1});
  // Moved to another dtype after the first step: the buffer is stale.
  conv->to(kFloat64);
  check_error([&] { conv->stream_step(zeros({2, 2}, TensorOptions(kFloat64))); },
              {"Conv1d.stream_step", "moved to float64", "stream_reset"});
  conv->stream_reset();
  CHECK(conv->stream_step(zeros({2, 2}, TensorOptions(kFloat64))).dtype() == kFloat64);
  // An empty batch streams (as forward() takes one).
  conv->stream_reset();
  CHECK(conv->stream_step(zeros({0, 2}, TensorOptions(kFloat64))).sizes() == Shape{0, 3});
  CHECK(conv->stream_step(zeros({0, 2}, TensorOptions(kFloat64))).sizes() == Shape{0, 3});
}

TEST_CASE("Conv1d streaming: reset_streams walks a module tree") {
  nn::Sequential seq(Conv1d(Conv1dOptions(2, 4, 3).padding(kCausal)), nn::Tanh(),
                     Conv1d(Conv1dOptions(4, 4, 3)));  // not causal: reset, never stepped
  CHECK(nn::reset_streams(*seq) == 2);
  auto first = std::dynamic_pointer_cast<nn::Conv1dImpl>(seq->children()[0]);
  REQUIRE(first);
  NoGradGuard g;
  first->stream_step(zeros({1, 2}));
  first->stream_step(zeros({1, 2}));
  CHECK(first->stream_position() == 2);
  CHECK(nn::reset_streams(*seq) == 2);
  CHECK(first->stream_position() == 0);
  Conv1d lone(Conv1dOptions(1, 1, 1));
  CHECK(nn::reset_streams(*lone) == 1);
}
