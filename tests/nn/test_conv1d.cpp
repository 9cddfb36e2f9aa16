// nn::Conv1d and nn::functional::conv1d: shapes and hand-computed values, printing as PyTorch,
// the init rule's statistics, every error case, padding forms (causal = explicit left pad +
// 'valid'), gradcheck over a random sweep in float64 and complex128, a frozen weight, and the
// Module plumbing (parameters, zero_grad, to). PyTorch's golden vectors are in
// test_conv1d_golden.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/node.hpp"
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
using nn::Conv1d;
using nn::Conv1dOptions;

namespace {

Tensor f64(std::vector<double> v, Shape shape) { return tensor(v, shape, TensorOptions(kFloat64)); }

}  // namespace

TEST_CASE("Conv1d: the seeds' example, Conv1d(16, 33, 3, stride=2) on (20, 16, 50)") {
  manual_seed(0);
  Conv1d conv(Conv1dOptions(16, 33, 3).stride(2));
  Tensor y = conv(randn({20, 16, 50}));
  CHECK(y.sizes() == Shape{20, 33, 24});
  CHECK(conv->weight.sizes() == Shape{33, 16, 3});
  CHECK(conv->bias.sizes() == Shape{33});
  CHECK(y.requires_grad());
  CHECK(conv->forward(randn({16, 50})).sizes() == Shape{33, 24});
}

TEST_CASE("conv1d: hand-computed values (stride, padding, dilation, groups, complex)") {
  on_cpu_backends([] {
    Tensor x = f64({1, 2, 3, 4, 5}, {1, 1, 5});
    Tensor w = f64({1, 0, -1}, {1, 1, 3});
    Tensor b = f64({0.5}, {1});
    // valid cross-correlation: x[t] - x[t+2] + 0.5
    check_values(F::conv1d(x, w, b), {-1.5, -1.5, -1.5});
    // padded [0 1 2 3 4 5 0], stride 2: t = 0, 2, 4
    check_values(F::conv1d(x, w, b, Conv1dFuncOptions().stride(2).padding(1)), {-1.5, -1.5, 4.5});
    // dilation 2: x[0] - x[4]
    check_values(F::conv1d(x, w, Tensor(), Conv1dFuncOptions().dilation(2)), {-4});
    // groups = 2: channel 0 sums neighbours, channel 1 differences them
    Tensor xg = f64({1, 2, 3, 10, 20, 30}, {1, 2, 3});
    Tensor wg = f64({1, 1, 1, -1}, {2, 1, 2});
    check_values(F::conv1d(xg, wg, Tensor(), Conv1dFuncOptions().groups(2)), {3, 5, -10, -10});
    // replicate mode, padding 1: [1 1 2 3 4 5 5]
    check_values(F::conv1d(x, w, Tensor(), Conv1dFuncOptions().padding(1).padding_mode(kReplicate)),
                 {-1, -2, -2, -2, -1});
    // complex: a plain multiply-accumulate, no conjugation: (1+i)*i = -1+i
    Tensor z = tensor(std::vector<complex128>{{1, 1}, {2, 0}}, {1, 1, 2}, TensorOptions(kComplex128));
    Tensor wz = tensor(std::vector<complex128>{{0, 1}}, {1, 1, 1}, TensorOptions(kComplex128));
    std::vector<complex128> got = F::conv1d(z, wz).to_vector<complex128>();
    CHECK(got == std::vector<complex128>{{-1, 1}, {0, 2}});
  });
}

TEST_CASE("Conv1d: printed like PyTorch") {
  // Expected strings are torch 1.13's repr(nn.Conv1d(...)) for the same arguments.
  auto repr = [](const Conv1dOptions& o) { return Conv1d(o)->repr(); };
  CHECK(repr(Conv1dOptions(16, 33, 3).stride(2)) == "Conv1d(16, 33, kernel_size=(3,), stride=(2,))");
  CHECK(repr(Conv1dOptions(16, 33, 3)) == "Conv1d(16, 33, kernel_size=(3,), stride=(1,))");
  CHECK(repr(Conv1dOptions(16, 33, 3).padding(kSame).padding_mode(kReflect).bias(false).dilation(2)) ==
        "Conv1d(16, 33, kernel_size=(3,), stride=(1,), padding=same, dilation=(2,), bias=False, "
        "padding_mode=reflect)");
  CHECK(repr(Conv1dOptions(16, 32, 3).padding(kValid).groups(4)) ==
        "Conv1d(16, 32, kernel_size=(3,), stride=(1,), padding=valid, groups=4)");
  CHECK(repr(Conv1dOptions(16, 32, 3).padding(0).padding_mode(kCircular)) ==
        "Conv1d(16, 32, kernel_size=(3,), stride=(1,), padding_mode=circular)");
  CHECK(repr(Conv1dOptions(16, 32, 3).padding(2).dilation(3)) ==
        "Conv1d(16, 32, kernel_size=(3,), stride=(1,), padding=(2,), dilation=(3,))");
  CHECK(repr(Conv1dOptions(4, 8, 5).padding(1).padding_mode(kReplicate).groups(2).stride(3)) ==
        "Conv1d(4, 8, kernel_size=(5,), stride=(3,), padding=(1,), groups=2, padding_mode=replicate)");
  // causal is reel's own: printed like the other rules
  CHECK(repr(Conv1dOptions(16, 33, 3).stride(2).padding(kCausal)) ==
        "Conv1d(16, 33, kernel_size=(3,), stride=(2,), padding=causal)");
  // string setters, and operator<<
  Conv1d c(Conv1dOptions(2, 4, 3).padding("same").padding_mode("circular"));
  std::ostringstream os;
  os << *c;
  CHECK(os.str() ==
        "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=same, padding_mode=circular)");
}

TEST_CASE("Conv1d: init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups * k") {
  manual_seed(5);
  auto check_uniform = [](const std::vector<double>& v, double bound, double tol) {
    double sum = 0, sq = 0, lo = 1e9, hi = -1e9;
    for (double x : v) {
      sum += x;
      sq += x * x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    double n = static_cast<double>(v.size());
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(hi > 0.99 * bound);  // the range is used, not a narrower one
    CHECK(lo < -0.99 * bound);
    CHECK(std::abs(sum / n) < 4 * bound / std::sqrt(3 * n));  // mean 0 within 4 sigma
    CHECK(sq / n == doctest::Approx(bound * bound / 3).epsilon(tol));
  };
  // 40960 weights: the sample variance is within ~0.5% (1 sigma) of bound^2/3
  Conv1d a(Conv1dOptions(64, 128, 5));
  double bound_a = 1 / std::sqrt(64.0 * 5);
  check_uniform(a->weight.to_vector<double>(), bound_a, 0.03);
  check_uniform(a->bias.to_vector<double>(), bound_a, 0.25);
  // groups shrink fan_in: (64/16) * 3 = 12
  Conv1d g(Conv1dOptions(64, 8192, 3).groups(16).dtype(kFloat64));
  double bound_g = 1 / std::sqrt(12.0);
  check_uniform(g->weight.to_vector<double>(), bound_g, 0.03);
  check_uniform(g->bias.to_vector<double>(), bound_g, 0.05);
  // complex: real and imaginary parts independent, each U(-bound, bound)
  Conv1d z(Conv1dOptions(64, 128, 5).dtype(kComplex128));
  std::vector<complex128> w = z->weight.to_vector<complex128>();
  std::vector<double> re, im;
  double cross = 0;
  for (auto c : w) {
    re.push_back(c.real());
    im.push_back(c.imag());
    cross += c.real() * c.imag();
  }
  check_uniform(re, bound_a, 0.03);
  check_uniform(im, bound_a, 0.03);
  double corr = cross / static_cast<double>(w.size()) / (bound_a * bound_a / 3);
  CHECK(std::abs(corr) < 0.03);  // independent: correlation ~ 0 (1 sigma ~ 0.005)
  // reset_parameters draws anew, in place: the handle held outside sees the new values
  Tensor held = a->weight;
  std::vector<double> before = held.to_vector<double>();
  std::uint32_t version = held.version();
  a->reset_parameters();
  CHECK(held.version() > version);
  CHECK(held.to_vector<double>() != before);
  CHECK(held.requires_grad());
}

TEST_CASE("conv1d: every error names the parameter and the values") {
  Tensor w = randn({33, 16, 3});
  Tensor x = randn({20, 16, 50});
  check_error([&] { F::conv1d(randn({20, 15, 50}), w); },
              {"Given groups=1, weight of size [33, 16, 3], expected input[20, 15, 50] to have 16 "
               "channels, but got 15 channels instead"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().groups(3)); },
              {"Given groups=3", "to have 48 channels, but got 16 channels"});
  check_error([&] { F::conv1d(x, randn({33, 8, 3}), Tensor(), Conv1dFuncOptions().groups(2)); },
              {"Given groups=2, expected weight to be divisible by 2 at dimension 0", "[33, 8, 3]"});
  check_error([&] { F::conv1d(randn({20, 16, 4}), randn({33, 16, 5})); },
              {"Calculated padded input size per channel: (4). Kernel size: (5). Kernel size can't "
               "be greater than actual input size"});
  check_error([&] { F::conv1d(randn({2, 4, 6}), randn({3, 4, 3}), Tensor(),
                              Conv1dFuncOptions().dilation(3)); },
              {"padded input size per channel: (6). Kernel size: (7)"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().stride(0)); },
              {"non-positive stride", "stride=0"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().stride(-2)); }, {"stride=-2"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().dilation(0)); },
              {"non-positive dilation", "dilation=0"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().groups(0)); },
              {"non-positive groups", "groups=0"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().padding(-1)); },
              {"negative padding", "padding=-1"});
  check_error([&] { F::conv1d(x, w, Tensor(), Conv1dFuncOptions().padding(kSame).stride(2)); },
              {"padding='same' is not supported for strided convolutions", "stride=2"});
  check_error([&] { Conv1dFuncOptions().padding("foo"); },
              {"Invalid padding string 'foo'", "'valid', 'same', 'causal'"});
  check_error([&] { Conv1dOptions(1, 1, 1).padding_mode("mirror"); },
              {"padding_mode must be one of", "padding_mode='mirror'"});
  check_error([&] { F::conv1d(randn({1, 20, 16, 50}), w); },
              {"Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: "
               "[1, 20, 16, 50]"});
  check_error([&] { F::conv1d(randn({50}), w); }, {"input of size: [50]"});
  check_error([&] { F::conv1d(x, randn({33, 16})); }, {"weight", "[33, 16]"});
  check_error([&] { F::conv1d(x, randn({33, 16, 0})); }, {"kernel_size", "[33, 16, 0]"});
  check_error([&] { F::conv1d(x, w, randn({31})); },
              {"Given weight of size [33, 16, 3], expected bias to be 1-dimensional with 33 "
               "elements, but got bias of size [31] instead"});
  check_error([&] { F::conv1d(x, w, randn({33, 1})); }, {"bias of size [33, 1]"});
  check_error([&] { F::conv1d(x, w, randn({33}, TensorOptions(kFloat64))); },
              {"expected input, weight and bias to have the same dtype", "float64"});
  check_error([&] { F::conv1d(x.to(kFloat64), w); },
              {"expected input, weight and bias to have the same dtype", "float64", "float32"});
  check_error([&] { F::conv1d(zeros({2, 16, 5}, TensorOptions(kInt64)), w.to(kInt64)); },
              {"int64"});
  check_error([&] { F::conv1d(Tensor(), w); }, {"conv1d", "input", "undefined"});
  // reflect needs each pad < L (resolved 'same' pads 2 + 2 here), in pad1d's words
  check_error([&] { F::conv1d(randn({1, 1, 2}), randn({1, 1, 5}), Tensor(),
                              Conv1dFuncOptions().padding(kSame).padding_mode(kReflect)); },
              {"Padding size should be less than the corresponding input dimension", "(2, 2)"});
  check_error([&] { F::conv1d(randn({1, 1, 2}), randn({1, 1, 4}), Tensor(),
                              Conv1dFuncOptions().padding(3).padding_mode(kCircular)); },
              {"wrapping around more than once"});
  // the module checks its options at construction, as torch.nn.Conv1d
  check_error([] { Conv1d(Conv1dOptions(16, 33, 3).groups(3)); },
              {"in_channels must be divisible by groups", "in_channels=16", "groups=3"});
  check_error([] { Conv1d(Conv1dOptions(16, 33, 3).groups(2)); },
              {"out_channels must be divisible by groups", "out_channels=33", "groups=2"});
  check_error([] { Conv1d(Conv1dOptions(16, 32, 3).groups(0)); },
              {"groups must be a positive integer", "groups=0"});
  check_error([] { Conv1d(Conv1dOptions(16, 32, 3).padding(kSame).stride(2)); },
              {"padding='same' is not supported for strided convolutions"});
  check_error([] { Conv1d(Conv1dOptions(16, 32, 0)); }, {"kernel_size", "kernel_size=0"});
  check_error([] { Conv1d(Conv1dOptions(16, 32, 3).stride(0)); }, {"stride", "stride=0"});
  check_error([] { Conv1d(Conv1dOptions(16, 32, 3).dilation(-1)); }, {"dilation=-1"});
  check_error([] { Conv1d(Conv1dOptions(16, 32, 3).padding(-1)); }, {"padding", "padding=-1"});
  check_error([] { Conv1d(Conv1dOptions(0, 32, 3)); }, {"in_channels=0"});
  check_error([] { Conv1d(Conv1dOptions(4, 4, 3).dtype(kInt64)); }, {"dtype", "int64"});
  Conv1d c(Conv1dOptions(16, 33, 3));
  check_error([&] { c(randn({20, 15, 50})); }, {"expected input[20, 15, 50] to have 16 channels"});
  check_error([&] { c(randn({20, 16, 50}, TensorOptions(kFloat64))); }, {"same dtype"});
}

TEST_CASE("conv1d: padding forms — 'same' keeps L, causal is left padding + 'valid'") {
  manual_seed(3);
  on_cpu_backends([] {
    for (std::int64_t k : {1, 2, 3, 4}) {
      for (std::int64_t d : {1, 2}) {
        CAPTURE(k);
        CAPTURE(d);
        Tensor x = randn({2, 3, 11}, TensorOptions(kFloat64));
        Tensor w = randn({4, 3, k}, TensorOptions(kFloat64));
        Tensor b = randn({4}, TensorOptions(kFloat64));
        std::int64_t total = d * (k - 1);
        // 'same': L_out = L, the odd pad element on the right
        Tensor same = F::conv1d(x, w, b, Conv1dFuncOptions().padding(kSame).dilation(d));
        CHECK(same.size(2) == 11);
        Tensor manual = F::conv1d(F::pad1d(x, total / 2, total - total / 2, kZeros), w, b,
                                  Conv1dFuncOptions().padding(kValid).dilation(d));
        CHECK(allclose(same, manual, 1e-12, 1e-12));
        for (std::int64_t s : {1, 2, 3}) {
          CAPTURE(s);
          Tensor causal = F::conv1d(x, w, b, Conv1dFuncOptions().padding(kCausal).stride(s).dilation(d));
          CHECK(causal.size(2) == (11 + s - 1) / s);  // ceil(L / stride)
          Tensor left = F::conv1d(F::pad1d(x, total, 0, kZeros), w, b,
                                  Conv1dFuncOptions().padding(kValid).stride(s).dilation(d));
          CHECK(allclose(causal, left, 1e-12, 1e-12));
          // causality: output t depends on inputs up to t*stride only
          Tensor x2 = x.clone();
          x2.narrow(2, 7, 4).fill_(100.0);
          Tensor changed = F::conv1d(x2, w, b, Conv1dFuncOptions().padding(kCausal).stride(s).dilation(d));
          std::int64_t unaffected = (7 + s - 1) / s;  // outputs t with t*stride < 7
          CHECK(equal(changed.narrow(2, 0, unaffected), causal.narrow(2, 0, unaffected)));
          CHECK(!equal(changed, causal));
          // non-zero modes pad the resolved (left, right) in that mode, then convolve
          for (PaddingMode m : {kReflect, kReplicate, kCircular}) {
            CAPTURE(padding_mode_name(m));
            Tensor y = F::conv1d(x, w, b, Conv1dFuncOptions().padding(kCausal).stride(s).dilation(d).padding_mode(m));
            Tensor e = F::conv1d(F::pad1d(x, total, 0, m), w, b, Conv1dFuncOptions().stride(s).dilation(d));
            CHECK(allclose(y, e, 1e-12, 1e-12));
          }
        }
        for (PaddingMode m : {kReflect, kReplicate, kCircular}) {
          Tensor y = F::conv1d(x, w, b, Conv1dFuncOptions().padding(kSame).dilation(d).padding_mode(m));
          Tensor e = F::conv1d(F::pad1d(x, total / 2, total - total / 2, m), w, b,
                               Conv1dFuncOptions().dilation(d));
          CHECK(allclose(y, e, 1e-12, 1e-12));
          Tensor yi = F::conv1d(x, w, b, Conv1dFuncOptions().padding(2).dilation(d).padding_mode(m));
          Tensor ei = F::conv1d(F::pad1d(x, 2, 2, m), w, b, Conv1dFuncOptions().dilation(d));
          CHECK(allclose(yi, ei, 1e-12, 1e-12));
        }
        // 'valid' is padding 0
        CHECK(equal(F::conv1d(x, w, b, Conv1dFuncOptions().padding(kValid).dilation(d)),
                    F::conv1d(x, w, b, Conv1dFuncOptions().padding(0).dilation(d))));
      }
    }
  });
}

TEST_CASE("conv1d: unbatched (C, L) input gives what a batch of one gives") {
  manual_seed(4);
  for (PaddingMode m : {kZeros, kReflect, kReplicate, kCircular}) {
    for (DType dt : {kFloat32, kComplex64}) {
      CAPTURE(padding_mode_name(m));
      Conv1d c(Conv1dOptions(4, 6, 3).padding(1).groups(2).padding_mode(m).dtype(dt));
      Tensor x = randn({4, 9}, TensorOptions(dt));
      Tensor u = c(x);
      CHECK(u.sizes() == Shape{6, 9});
      CHECK(equal(u, c(x.unsqueeze(0)).squeeze(0)));
    }
  }
  // a strided (non-contiguous) input gives what its contiguous copy gives
  Tensor w = randn({3, 2, 2}), x = randn({5, 2, 4}).transpose(0, 2);  // (4, 2, 5)
  CHECK(!x.is_contiguous());
  CHECK(equal(F::conv1d(x, w), F::conv1d(x.contiguous(), w)));
  // an empty batch, as PyTorch: (0, 16, 50) -> (0, 32, 48); the weight's gradient is zero
  Tensor we = randn({32, 8, 3}).requires_grad_(true);
  Tensor ye = F::conv1d(zeros({0, 16, 50}), we, Tensor(), Conv1dFuncOptions().groups(2));
  CHECK(ye.sizes() == Shape{0, 32, 48});
  ye.sum().backward();
  CHECK(equal(we.grad(), zeros_like(we)));
}

namespace {

// One random configuration of the gradcheck sweep.
struct SweepConfig {
  Conv1dFuncOptions options;
  std::int64_t n, c_in, c_out, k, length;
  bool bias, batched;
  std::string describe() const {
    return fmt::format("N={} Cin={} Cout={} K={} L={} stride={} padding={} dilation={} groups={} "
                       "mode={} bias={} batched={}",
                       n, c_in, c_out, k, length, options.stride_, padding_name(options.padding_),
                       options.dilation_, options.groups_, padding_mode_name(options.padding_mode_),
                       bias, batched);
  }
};

SweepConfig random_config(std::mt19937& rng) {
  auto pick = [&](std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  SweepConfig c;
  // groups: 1, 2, or depthwise (groups = C_in) with channel multiplier 1 or 2
  std::int64_t kind = pick(0, 2), per_group = pick(1, 2), groups = kind == 0 ? 1 : pick(2, 3);
  c.c_in = groups * per_group;
  if (kind == 2) c.c_in = groups;  // depthwise: one input channel per group
  c.c_out = groups * pick(1, 2);
  c.k = pick(1, 3);
  c.n = pick(1, 2);
  c.bias = pick(0, 1) == 1;
  c.batched = pick(0, 3) != 0;
  std::int64_t dilation = pick(1, 2), stride = pick(1, 3);
  const PaddingMode modes[] = {kZeros, kReflect, kReplicate, kCircular};
  PaddingMode mode = modes[pick(0, 3)];
  std::int64_t form = pick(0, 3), pad = 0, total = dilation * (c.k - 1);
  c.options = Conv1dFuncOptions().dilation(dilation).groups(groups).padding_mode(mode);
  if (form == 0) {
    pad = pick(0, 2);
    c.options.padding(pad);
  } else if (form == 1) {
    c.options.padding(kValid);
  } else if (form == 2) {
    c.options.padding(kSame);
    stride = 1;
    pad = total - total / 2;
  } else {
    c.options.padding(kCausal);
    pad = total;
  }
  c.options.stride(stride);
  // long enough for the kernel and for reflect's pad < L
  c.length = std::max(total + 1, pad + 1) + pick(0, 3);
  return c;
}

void gradcheck_config(const SweepConfig& c, DType dt, Device device) {
  CAPTURE(c.describe());
  CAPTURE(dt);
  const TensorOptions o_dt = TensorOptions(dt).device(device);
  Shape xs = c.batched ? Shape{c.n, c.c_in, c.length} : Shape{c.c_in, c.length};
  Tensor x = randn(xs, o_dt).requires_grad_(true);
  Tensor w = randn({c.c_out, c.c_in / c.options.groups_, c.k}, o_dt).requires_grad_(true);
  Tensor b = c.bias ? randn({c.c_out}, o_dt).requires_grad_(true) : Tensor();
  Conv1dFuncOptions o = c.options;
  auto r = autograd::gradcheck(
      [o](const std::vector<Tensor>& in) { return F::conv1d(in[0], in[1], in[2], o); }, {x, w, b});
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace

TEST_CASE("conv1d: gradcheck over a random sweep, float64 and complex128") {
  manual_seed(7);
  std::mt19937 rng(2024);
  const std::initializer_list<backends::OpId> needs = {
      backends::KernelOp::Conv1dForward, backends::KernelOp::Conv1dBackwardInput,
      backends::KernelOp::Conv1dBackwardWeight, backends::KernelOp::Conv1dBackward,
      backends::KernelOp::Pad1d,
      backends::KernelOp::Pad1dBackward, backends::KernelOp::Random};
  test::on_devices(needs, kComplex128, [&](Device device) {
    for (int i = 0; i < 40; ++i) {
      SweepConfig c = random_config(rng);
      gradcheck_config(c, kFloat64, device);
      gradcheck_config(c, kComplex128, device);
    }
  });
}

TEST_CASE("conv1d: one tape entry; a frozen weight costs no weight gradient") {
  manual_seed(8);
  Tensor x = randn({2, 4, 7}, TensorOptions(kFloat64)).requires_grad_(true);
  Tensor w = randn({6, 2, 3}, TensorOptions(kFloat64));  // frozen
  Tensor b = randn({6}, TensorOptions(kFloat64)).requires_grad_(true);
  Tensor y = F::conv1d(x, w, b, Conv1dFuncOptions().groups(2).padding(1));
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name) == "Conv1dBackward");
  REQUIRE(y.grad_fn()->next_edges.size() == 3);
  CHECK(y.grad_fn()->next_edges[0].leaf == x.impl_ptr());  // straight to the leaves
  CHECK(!y.grad_fn()->next_edges[1].is_valid());           // the weight gets no edge
  CHECK(y.grad_fn()->next_edges[2].leaf == b.impl_ptr());
  y.backward(ones_like(y));
  CHECK(!w.grad().defined());
  REQUIRE(x.grad().defined());
  CHECK(x.grad().sizes() == x.sizes());
  // d(sum y)/d bias = N * L_out
  check_values(b.grad(), std::vector<double>(6, 2.0 * 7));
  // with only the bias trainable (weight and input frozen), its gradient is still right
  Tensor b2 = b.detach().clone().requires_grad_(true);
  Tensor y2 = F::conv1d(x.detach(), w, b2, Conv1dFuncOptions().stride(2).groups(2));
  y2.backward(ones_like(y2));
  check_values(b2.grad(), std::vector<double>(6, 2.0 * 3));
  // grad mode off: nothing recorded
  {
    NoGradGuard no_grad;
    Tensor z = F::conv1d(x, w, b, Conv1dFuncOptions().groups(2));
    CHECK(!z.requires_grad());
    CHECK(z.grad_fn() == nullptr);
  }
  // modifying the saved weight in place before backward is caught
  Tensor wt = randn({6, 2, 3}, TensorOptions(kFloat64));
  Tensor y3 = F::conv1d(x, wt, Tensor(), Conv1dFuncOptions().groups(2));
  wt.mul_(2.0);
  check_error([&] { y3.backward(ones_like(y3)); }, {"modified by an inplace operation"});
}
