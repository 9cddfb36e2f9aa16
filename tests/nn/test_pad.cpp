// nn::functional::pad1d: values of every mode against hand-worked (and PyTorch-documented)
// cases, the gradient's "sum of every read" rule by hand, errors in PyTorch's words, and
// gradcheck in float64 and complex128 for every mode. Value tests run on both CPU backends.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "nn/functional/pad.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;
using test::check_values;
using test::on_cpu_backends;
namespace F = reel::nn::functional;

namespace {

Tensor seq(std::vector<double> v, Shape shape, DType dtype = kFloat64) {
  return tensor(v, shape, TensorOptions(dtype));
}

}  // namespace

TEST_CASE("pad1d: each mode puts the documented values at the edges") {
  on_cpu_backends([] {
    // x = [1, 2, 3, 4], pads (3, 2): torch.nn.functional.pad's documented behaviour.
    Tensor x = seq({1, 2, 3, 4}, {1, 1, 4});
    check_values(F::pad1d(x, 3, 2, kZeros), {0, 0, 0, 1, 2, 3, 4, 0, 0});
    check_values(F::pad1d(x, 3, 2, kReflect), {4, 3, 2, 1, 2, 3, 4, 3, 2});
    check_values(F::pad1d(x, 3, 2, kReplicate), {1, 1, 1, 1, 2, 3, 4, 4, 4});
    check_values(F::pad1d(x, 3, 2, kCircular), {2, 3, 4, 1, 2, 3, 4, 1, 2});
    check_values(F::pad1d(x, 0, 0, kReflect), {1, 2, 3, 4});
    // circular may wrap exactly once: pads equal to L
    check_values(F::pad1d(seq({1, 2, 3}, {1, 1, 3}), 3, 3, kCircular),
                 {1, 2, 3, 1, 2, 3, 1, 2, 3});
    // a constant other than 0
    check_values(F::pad1d(seq({1, 2}, {1, 1, 2}), 1, 2, kZeros, 2.5), {2.5, 1, 2, 2.5, 2.5});
    // zeros mode with a negative pad crops, as F.pad: pad (-1, 1) of [1, 2, 3] is [2, 3, 0]
    check_values(F::pad1d(seq({1, 2, 3}, {1, 1, 3}), -1, 1, kZeros), {2, 3, 0});
    check_values(F::pad1d(seq({1, 2, 3}, {1, 1, 3}), -1, -2, kZeros), {});
  });
}

TEST_CASE("pad1d: rows are padded independently; unbatched (C, L) input works; float32") {
  on_cpu_backends([] {
    // (N=2, C=2, L=3) = 0..11; reflect (1, 1) pads each row with its own second elements.
    Tensor x = arange(12, TensorOptions(kFloat64)).view({2, 2, 3});
    Tensor y = F::pad1d(x, 1, 1, kReflect);
    CHECK(y.sizes() == Shape{2, 2, 5});
    check_values(y, {1, 0, 1, 2, 1, 4, 3, 4, 5, 4, 7, 6, 7, 8, 7, 10, 9, 10, 11, 10});
    Tensor u = F::pad1d(x[1], 2, 1, kReplicate);  // (C, L) = (2, 3)
    CHECK(u.sizes() == Shape{2, 6});
    check_values(u, {6, 6, 6, 7, 8, 8, 9, 9, 9, 10, 11, 11});
    Tensor f = F::pad1d(x.to(kFloat32).transpose(0, 1), 1, 2, kCircular);  // strided input
    CHECK(f.dtype() == kFloat32);
    check_values(f.select(0, 0).select(0, 1),  {8, 6, 7, 8, 6, 7});
  });
}

TEST_CASE("pad1d: complex values are copied, never conjugated") {
  on_cpu_backends([] {
    Tensor z = tensor(std::vector<complex128>{{1, 1}, {2, -1}, {3, 0}}, {1, 1, 3},
                      TensorOptions(kComplex128));
    std::vector<complex128> got = F::pad1d(z, 1, 1, kReflect).to_vector<complex128>();
    std::vector<complex128> want{{2, -1}, {1, 1}, {2, -1}, {3, 0}, {2, -1}};
    CHECK(got == want);
    got = F::pad1d(z.to(kComplex64), 1, 0, kCircular).to_vector<complex128>();
    want = {{3, 0}, {1, 1}, {2, -1}, {3, 0}};
    CHECK(got == want);
  });
}

TEST_CASE("pad1d: each input element gets the sum of the gradients of the positions that read it") {
  on_cpu_backends([] {
    auto grad_of = [](PaddingMode mode, std::int64_t l, std::int64_t r, std::int64_t length) {
      Tensor x = zeros({1, 1, length}, TensorOptions(kFloat64)).requires_grad_(true);
      Tensor y = F::pad1d(x, l, r, mode);
      Tensor g = arange(1, y.size(2) + 1, 1, TensorOptions(kFloat64)).view({1, 1, -1});
      y.backward(g);
      return x.grad();
    };
    // reflect (2, 1), L = 4: y = [x2 x1 x0 x1 x2 x3 x2], g = 1..7
    check_values(grad_of(kReflect, 2, 1, 4), {3, 2 + 4, 1 + 5 + 7, 6});
    // replicate (2, 1), L = 3: y = [x0 x0 x0 x1 x2 x2], g = 1..6
    check_values(grad_of(kReplicate, 2, 1, 3), {1 + 2 + 3, 4, 5 + 6});
    // circular (2, 1), L = 3: y = [x1 x2 x0 x1 x2 x0], g = 1..6
    check_values(grad_of(kCircular, 2, 1, 3), {3 + 6, 1 + 4, 2 + 5});
    // zeros (2, 1), L = 2: y = [0 0 x0 x1 0]
    check_values(grad_of(kZeros, 2, 1, 2), {3, 4});
  });
}

TEST_CASE("pad1d: errors in PyTorch's words") {
  Tensor x = randn({1, 1, 3});
  check_error([&] { F::pad1d(x, 3, 3, kReflect); },
              {"Argument #4: Padding size should be less than the corresponding input dimension, "
               "but got: padding (3, 3) at dimension 2 of input [1, 1, 3]"});
  check_error([&] { F::pad1d(x.squeeze(0), 0, 3, kReflect); },
              {"padding (0, 3) at dimension 1 of input [1, 3]"});
  check_error([&] { F::pad1d(x, 4, 0, kCircular); },
              {"Padding value causes wrapping around more than once.", "(4, 0)", "[1, 1, 3]"});
  check_error([&] { F::pad1d(x, -1, 0, kReflect); },
              {"negative padding (-1, 0)", "padding_mode=reflect"});
  check_error([&] { F::pad1d(x, 0, -1, kCircular); }, {"negative padding (0, -1)", "circular"});
  check_error([&] { F::pad1d(x, -2, -2, kZeros); }, {"(-2, -2)", "3 elements", "[1, 1, 3]"});
  check_error([&] { F::pad1d(randn({3}), 1, 1, kZeros); },
              {"expected a 2-D (C, L) or 3-D (N, C, L) input", "[3]"});
  check_error([&] { F::pad1d(randn({2, 1, 1, 3}), 1, 1, kReflect); }, {"[2, 1, 1, 3]"});
  check_error([&] { F::pad1d(randn({1, 1, 0}), 1, 1, kReplicate); },
              {"non-zero dimensions", "[1, 1, 0]"});
  check_error([&] { F::pad1d(randn({1, 1, 0}), 1, 1, kCircular); },
              {"wrapping around more than once"});
  check_error([&] { F::pad1d(x, 1, 1, kReflect, 1.0); }, {"doesn't take in value argument"});
  check_error([&] { F::pad1d(Tensor(), 1, 1, kZeros); }, {"pad1d", "undefined"});
  // zeros mode accepts an empty length (and any dtype)
  check_values(F::pad1d(zeros({1, 1, 0}), 1, 1, kZeros), {0, 0});
  CHECK(F::pad1d(arange(3).view({1, 3}), 1, 0, kZeros).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{0, 0, 1, 2});
}

TEST_CASE("pad1d: gradcheck of every mode, float64 and complex128") {
  manual_seed(11);
  struct Case {
    PaddingMode mode;
    std::int64_t l, r, length;
    bool batched;
  };
  const Case cases[] = {
      {kZeros, 2, 1, 4, true},     {kZeros, -1, 2, 4, true},   {kZeros, 0, 3, 3, false},
      {kReflect, 2, 1, 4, true},   {kReflect, 3, 3, 4, false}, {kReflect, 0, 1, 2, true},
      {kReplicate, 3, 2, 2, true}, {kReplicate, 1, 4, 1, false},
      {kCircular, 2, 1, 4, true},  {kCircular, 3, 3, 3, false}, {kCircular, 0, 2, 5, true},
  };
  for (const auto& c : cases) {
    for (DType dt : {kFloat64, kComplex128}) {
      CAPTURE(padding_mode_name(c.mode));
      CAPTURE(c.l);
      CAPTURE(c.r);
      CAPTURE(dt);
      Shape shape = c.batched ? Shape{2, 3, c.length} : Shape{3, c.length};
      Tensor x = randn(shape, TensorOptions(dt)).requires_grad_(true);
      auto r = autograd::gradcheck(
          [&](const std::vector<Tensor>& in) { return F::pad1d(in[0], c.l, c.r, c.mode); }, {x});
      CHECK_MESSAGE(r.ok, r.message);
    }
  }
  // a non-zero constant: its gradient is the interior
  Tensor x = randn({2, 2, 3}, TensorOptions(kFloat64)).requires_grad_(true);
  auto r = autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return F::pad1d(in[0], 1, 2, kZeros, -3.0); }, {x});
  CHECK_MESSAGE(r.ok, r.message);
}
