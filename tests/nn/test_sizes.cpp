// Size arithmetic of conv1d and pad1d on extreme parameters (dilation, padding, kernel size or
// stride up to INT64_MAX): a reel::Error naming the values, or the right answer when the sizes
// are representable, never a wrapped length (the sanitizer build checks there is no signed
// overflow on the way). Conv1dParams::out_length is the one place the output length is computed.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/conv1d.hpp"
#include "backends/host_memory.hpp"
#include "nn/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "nn/functional/pad.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;
using test::check_values;
using test::on_cpu_backends;
namespace F = reel::nn::functional;
using F::Conv1dFuncOptions;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
const std::string kMaxStr = std::to_string(kMax);

backends::Conv1dParams params(std::int64_t stride, std::int64_t left, std::int64_t right,
                              std::int64_t dilation) {
  backends::Conv1dParams p;
  p.stride = stride;
  p.pad_left = left;
  p.pad_right = right;
  p.dilation = dilation;
  return p;
}

// x = [1, 2, ..., 10] as a [1, 1, 10] float64 tensor.
Tensor ramp() { return arange(1.0, 11.0, 1.0, TensorOptions(kFloat64)).view({1, 1, 10}); }

}  // namespace

TEST_CASE("Conv1dParams::out_length: PyTorch's formula, every term checked") {
  CHECK(params(1, 0, 0, 1).out_length(10, 3) == 8);
  CHECK(params(2, 1, 1, 1).out_length(10, 3) == 5);             // (10 + 2 - 3) / 2 + 1
  CHECK(params(1, 0, 0, 2).out_length(10, 3) == 6);             // span 5
  CHECK(params(kMax, 0, 0, 1).out_length(10, 3) == 1);          // a huge stride: one output
  CHECK(params(1, kMax - 10, 0, 1).out_length(10, 1) == kMax);  // the largest length that fits
  // dilation * (kernel_size - 1) + 1 doesn't fit.
  check_error([] { params(1, 0, 0, kMax).out_length(10, 2); },
              {"conv1d: the dilated kernel size " + kMaxStr + " * (2 - 1) + 1", "overflows int64"});
  check_error([] { params(1, 0, 0, 2).out_length(10, kMax); },
              {"conv1d: the dilated kernel size 2 * (" + kMaxStr + " - 1) + 1", "overflows int64"});
  // length + pad_left + pad_right doesn't fit.
  check_error([] { params(1, kMax, 0, 1).out_length(10, 3); },
              {"conv1d: the padded input length 10 + " + kMaxStr + " + 0", "overflows int64"});
  const std::int64_t half = std::int64_t{1} << 62;
  check_error([&] { params(1, half, half, 1).out_length(10, 3); }, {"overflows int64"});
  // Representable but longer than the input: PyTorch's error, with the true values.
  check_error([] { params(1, 0, 0, 1).out_length(10, kMax); },
              {"Calculated padded input size per channel: (10). Kernel size: (" + kMaxStr + ")"});
  check_error([&] { params(1, 0, 0, half).out_length(10, 2); },
              {"Kernel size: (4611686018427387905)", "can't be greater than actual input size"});
  check_error([] { params(0, 0, 0, 1).out_length(10, 3); }, {"non-positive stride"});
  check_error([] { params(1, -1, 0, 1).out_length(10, 3); }, {"negative padding"});
}

TEST_CASE("conv1d: extreme dilation, padding or kernel size is an error, not an overflow") {
  Tensor x = randn({1, 1, 10});
  Tensor w = randn({1, 1, 3});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().dilation(kMax)); },
              {"the dilated kernel size " + kMaxStr + " * (3 - 1) + 1", "overflows int64"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().padding(kMax)); },
              {"the padded input length 10 + " + kMaxStr + " + " + kMaxStr, "overflows int64"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().padding(kSame).dilation(kMax)); },
              {"the padding for dilation=" + kMaxStr + " and kernel_size=3", "overflows int64"});
  check_error(
      [&] {
        F::conv1d(x, w, Tensor(),
                  Conv1dFuncOptions().padding(kCausal).dilation(std::int64_t{1} << 62));
      },
      {"the padding for dilation=4611686018427387904 and kernel_size=3", "overflows int64"});
  check_error(
      [&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().dilation((std::int64_t{1} << 62) - 1)); },
      {"Kernel size: (9223372036854775807)", "can't be greater than actual input size"});
  // Padding that fits in int64 but whose output doesn't fit in memory (2^62 + 8 floats).
  check_error(
      [&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().padding(std::int64_t{1} << 61)); },
      {"[1, 1, 4611686018427387912]", "bytes"});
  // The same geometry on an empty batch is a valid, exactly sized empty output.
  Tensor none =
      F::conv1d(randn({0, 1, 10}), w, Tensor(), Conv1dFuncOptions().padding(std::int64_t{1} << 61));
  CHECK(none.sizes() == Shape{0, 1, (std::int64_t{1} << 62) + 8});
  // A kernel size no weight can have: the module's weight allocation says so.
  check_error([] { nn::Conv1d(nn::Conv1dOptions(1, 1, std::int64_t{1} << 62)); },
              {"[1, 1, 4611686018427387904]", "needs more bytes than int64 can hold"});
}

// Values of convolutions whose geometry is extreme but representable (see the test below).
static void check_extreme_geometry() {
  Tensor x = ramp().requires_grad_(true);
  Tensor w =
      tensor(std::vector<double>{1, 2, 3}, {1, 1, 3}, TensorOptions(kFloat64)).requires_grad_(true);
  // stride INT64_MAX, padding 2: one output, whose only in-range tap is w[2] * x[0].
  Tensor y = F::conv1d(x, w, Tensor(), Conv1dFuncOptions().stride(kMax).padding(2));
  CHECK(y.sizes() == Shape{1, 1, 1});
  check_values(y, {3});
  y.sum().backward();
  check_values(x.grad(), {3, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  check_values(w.grad(), {0, 0, 1});

  // Causal with dilation 2^61: the left padding is 2^62, and only tap 2 (offset 0) reads the
  // input, so y = w[2] * x: the index arithmetic ran near int64's range without wrapping.
  x.zero_grad();
  w.zero_grad();
  Tensor z = F::conv1d(x, w, Tensor(),
                       Conv1dFuncOptions().padding(kCausal).dilation(std::int64_t{1} << 61));
  CHECK(z.sizes() == Shape{1, 1, 10});
  check_values(z, {3, 6, 9, 12, 15, 18, 21, 24, 27, 30});
  z.sum().backward();
  check_values(x.grad(), std::vector<double>(10, 3.0));
  check_values(w.grad(), {0, 0, 55});

  // A large padding and a stride longer than the kernel (the CPU kernels' phase arithmetic).
  Tensor big = F::conv1d(ramp(), w.detach(), Tensor(), Conv1dFuncOptions().stride(7).padding(1000));
  CHECK(big.size(2) == (10 + 2000 - 3) / 7 + 1);
  std::vector<double> values = big.to_vector<double>();
  double total = 0;
  for (double v : values) total += v;
  // Outputs t read x[7t + k - 1000]: t = 143 covers positions 1, 2, 3 (k = 0, 1, 2) and
  // t = 144 position 8, 9 (k = 0, 1); everything else is padding.
  CHECK(total == doctest::Approx(1 * 2 + 2 * 3 + 3 * 4 + 1 * 9 + 2 * 10));
}

TEST_CASE("conv1d: extreme strides and paddings that fit give PyTorch's values on every backend") {
  using backends::cpu::Conv1dAlgorithm;
  struct Restore {
    ~Restore() { backends::cpu::force_conv1d_algorithm(Conv1dAlgorithm::Auto); }
  } restore;
  // Each CPU algorithm, so the fast kernels' index arithmetic runs on these geometries too.
  for (auto algorithm : {Conv1dAlgorithm::Auto, Conv1dAlgorithm::Gemm, Conv1dAlgorithm::Direct,
                         Conv1dAlgorithm::GemmBatched}) {
    CAPTURE(static_cast<int>(algorithm));
    backends::cpu::force_conv1d_algorithm(algorithm);
    on_cpu_backends(check_extreme_geometry);
  }
}

TEST_CASE("conv1d backends: impossible parameters raise instead of overflowing") {
  std::vector<float> xb(10, 1.0f), wb(3, 1.0f), yb(1, 0.0f);
  auto x = test::view(xb.data(), {1, 1, 10});
  auto w = test::view(wb.data(), {1, 1, 3});
  auto y = test::view(yb.data(), {1, 1, 1});
  for (backends::Backend* b : {&backends::reference_backend(), &backends::cpu_backend()}) {
    CAPTURE(b->name());
    check_error([&] { b->conv1d_forward(y, x, w, backends::View{}, params(1, kMax, 0, 1)); },
                {"padded input length", "overflows int64"});
    check_error([&] { b->conv1d_forward(y, x, w, backends::View{}, params(1, 0, 0, kMax)); },
                {"dilated kernel size", "overflows int64"});
    check_error([&] { b->conv1d_backward_input(x, y, w, params(1, 0, kMax, 1)); },
                {"padded input length", "overflows int64"});
  }
}

TEST_CASE("pad1d: huge pads are an error naming them, never a wrapped length") {
  Tensor x = ramp();
  check_error([&] { F::pad1d(x, kMax, 1, kZeros); },
              {"pad1d: the padded length 10 + " + kMaxStr + " + 1", "overflows int64"});
  check_error([&] { F::pad1d(x, 1, kMax, kZeros, 2.5); }, {"pad1d: the padded length"});
  check_error([&] { F::pad1d(x, kMax, kMax, kReplicate); }, {"pad1d: the padded length"});
  // Crops: -INT64_MIN doesn't exist, and two huge crops used to overflow when added.
  check_error([&] { F::pad1d(x, kMin, 0, kZeros); },
              {"pad1d: negative padding", "would remove more"});
  check_error([&] { F::pad1d(x, -kMax, -kMax, kZeros); },
              {"would remove more than the 10 elements"});
  check_error([&] { F::pad1d(x, -6, -5, kZeros); }, {"would remove more than the 10 elements"});
  check_values(F::pad1d(x, -6, -4, kZeros), {});
  // Fits in int64, not in memory: the allocator's error (8 TiB of float64).
  const std::int64_t pad = std::int64_t{1} << 40;
  if (backends::max_host_allocation() < static_cast<std::size_t>(8 * pad)) {
    check_error([&] { F::pad1d(x, pad, 0, kZeros); },
                {"cannot allocate", "bytes", "out of memory"});
  }
  // The backends check the same sum themselves.
  std::vector<double> xb(10), yb(10);
  auto xv = test::view(xb.data(), {1, 1, 10});
  auto yv = test::view(yb.data(), {1, 1, 10});
  check_error(
      [&] { backends::reference_backend().pad1d(yv, xv, backends::PadMode::Replicate, kMax, 1); },
      {"pad1d: the padded length 10 + " + kMaxStr + " + 1 overflows int64"});
}
