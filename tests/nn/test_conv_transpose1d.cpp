// ConvTranspose1d: PyTorch 1.13's numbers (tests/nn/golden/conv_transpose1d/, made by
// make_conv_transpose1d_golden.py) through the module and the functional form on every device,
// repr, init statistics, errors in PyTorch's words, gradcheck (float64 and complex128), and
// that it is conv1d's adjoint.
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "golden.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;

namespace {

const std::string kDir = test::golden::dir("conv_transpose1d");

struct Config {
  std::string line, id;
  DType dtype = kFloat32;
  std::int64_t batch = 0, c_in = 0, c_out = 0, length = 0, kernel = 0, stride = 0, padding = 0,
               output_padding = 0, dilation = 0, groups = 0, l_out = 0;
  bool bias = false;
  Shape in_shape() const { return batch == -1 ? Shape{c_in, length} : Shape{batch, c_in, length}; }
  Shape out_shape() const { return batch == -1 ? Shape{c_out, l_out} : Shape{batch, c_out, l_out}; }
  Shape w_shape() const { return {c_in, c_out / groups, kernel}; }
  F::ConvTranspose1dFuncOptions func() const {
    return F::ConvTranspose1dFuncOptions()
        .stride(stride)
        .padding(padding)
        .output_padding(output_padding)
        .dilation(dilation)
        .groups(groups);
  }
};

std::vector<Config> read_index() {
  std::vector<Config> configs;
  for (const std::string& line : test::golden::index_lines(kDir + "/index.txt")) {
    std::istringstream f(line);
    Config c;
    c.line = line;
    std::string dtype;
    int bias = 0;
    f >> c.id >> dtype >> c.batch >> c.c_in >> c.c_out >> c.length >> c.kernel >> c.stride >>
        c.padding >> c.output_padding >> c.dilation >> c.groups >> bias >> c.l_out;
    REQUIRE_MESSAGE(!f.fail(), "malformed golden index line: " << line);
    c.dtype = test::golden::parse_dtype(dtype);
    c.bias = bias != 0;
    configs.push_back(c);
  }
  return configs;
}

struct Golden {
  Tensor input, weight, bias, grad_output, output, grad_input, grad_weight, grad_bias;
};

Golden load(const Config& c) {
  test::golden::FlatReader r{load_npy(kDir + "/" + c.id + ".npy")};
  REQUIRE(r.flat.dtype() == c.dtype);
  Golden g;
  g.input = r.next(c.in_shape());
  g.weight = r.next(c.w_shape());
  if (c.bias) g.bias = r.next({c.c_out});
  g.grad_output = r.next(c.out_shape());
  g.output = r.next(c.out_shape());
  g.grad_input = r.next(c.in_shape());
  g.grad_weight = r.next(c.w_shape());
  if (c.bias) g.grad_bias = r.next({c.c_out});
  REQUIRE_MESSAGE(r.done(), "config " << c.id << ": file length differs from index");
  return g;
}

std::string mismatch(const char* what, const Tensor& got, const Tensor& expected) {
  const bool single = expected.dtype() == kFloat32;
  return test::golden::mismatch(what, got, expected, single ? 1e-4 : 1e-10, single ? 1e-5 : 1e-10);
}

std::string compare(const Config& c, const Golden& g, const Tensor& out, const Tensor& gx,
                    const Tensor& gw, const Tensor& gb) {
  for (auto m : {mismatch("output", out, g.output), mismatch("grad_input", gx, g.grad_input),
                 mismatch("grad_weight", gw, g.grad_weight)}) {
    if (!m.empty()) return m;
  }
  if (c.bias) return mismatch("grad_bias", gb, g.grad_bias);
  return gb.defined() ? "grad_bias defined without a bias" : "";
}

std::string run_module(const Config& c, const Golden& g, Device device) {
  nn::ConvTranspose1d m(nn::ConvTranspose1dOptions(c.c_in, c.c_out, c.kernel)
                            .stride(c.stride)
                            .padding(c.padding)
                            .output_padding(c.output_padding)
                            .dilation(c.dilation)
                            .groups(c.groups)
                            .bias(c.bias)
                            .dtype(c.dtype));
  m->to(device);
  {
    NoGradGuard no_grad;
    m->weight.copy_(g.weight.to(device));
    if (c.bias) m->bias.copy_(g.bias.to(device));
  }
  Tensor x = g.input.to(device).clone().requires_grad_(true);
  Tensor out = m(x);
  out.backward(g.grad_output.to(device));
  return compare(c, g, out, x.grad(), m->weight.grad(), c.bias ? m->bias.grad() : Tensor());
}

std::string run_functional(const Config& c, const Golden& g, Device device) {
  Tensor x = g.input.to(device).clone().requires_grad_(true);
  Tensor w = g.weight.to(device).clone().requires_grad_(true);
  Tensor b = c.bias ? g.bias.to(device).clone().requires_grad_(true) : Tensor();
  Tensor out = F::conv_transpose1d(x, w, b, c.func());
  out.backward(g.grad_output.to(device));
  return compare(c, g, out, x.grad(), w.grad(), c.bias ? b.grad() : Tensor());
}

using test::golden::guarded;

}  // namespace

TEST_CASE("conv_transpose1d matches PyTorch 1.13 golden vectors (module and functional)") {
  const auto configs = read_index();
  CHECK(configs.size() >= 60);
  std::vector<Golden> golden;
  for (const auto& c : configs) golden.push_back(load(c));
  std::vector<std::string> failures;
  std::size_t runs = 0;
  test::on_devices({backends::KernelOp::Conv1dForward, backends::KernelOp::Conv1dBackwardInput,
                    backends::KernelOp::Conv1dBackwardWeight},
                   kFloat32, [&](Device device) {
                     for (std::size_t i = 0; i < configs.size(); ++i) {
                       const auto& c = configs[i];
                       for (auto [path, r] :
                            {std::pair{"module", guarded([&] { return run_module(c, golden[i], device); })},
                             std::pair{"functional",
                                       guarded([&] { return run_functional(c, golden[i], device); })}}) {
                         ++runs;
                         if (!r.empty())
                           failures.push_back(fmt::format("[{} {} {}] {}: {}", device.str(),
                                                          backends::host_backend().name(), path,
                                                          c.line, r));
                       }
                     }
                   });
  CHECK(runs >= 4 * configs.size());
  test::golden::check_no_failures(failures, runs);
}

TEST_CASE("ConvTranspose1d: printed like PyTorch") {
  using nn::ConvTranspose1d, nn::ConvTranspose1dOptions;
  CHECK(ConvTranspose1d(ConvTranspose1dOptions(4, 6, 3))->repr() ==
        "ConvTranspose1d(4, 6, kernel_size=(3,), stride=(1,))");
  CHECK(ConvTranspose1d(ConvTranspose1dOptions(4, 6, 3)
                            .stride(2)
                            .padding(1)
                            .output_padding(1)
                            .groups(2)
                            .dilation(2)
                            .bias(false))
            ->repr() ==
        "ConvTranspose1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), "
        "output_padding=(1,), groups=2, bias=False)");
}

TEST_CASE("ConvTranspose1d: weight (in, out/groups, K), init bound 1/sqrt((out/groups) * K)") {
  manual_seed(3);
  nn::ConvTranspose1d m(nn::ConvTranspose1dOptions(64, 96, 5).groups(2).dtype(kFloat64));
  CHECK(m->weight.sizes() == Shape{64, 48, 5});
  CHECK(m->bias.sizes() == Shape{96});
  const double bound = 1.0 / std::sqrt(48.0 * 5);
  for (const Tensor& t : {m->weight, m->bias}) {
    auto v = t.to_vector<double>();
    double lo = 1e9, hi = -1e9, sq = 0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sq += x * x;
    }
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(hi > 0.9 * bound);
    CHECK(lo < -0.9 * bound);
    if (v.size() > 1000) CHECK(sq / v.size() == doctest::Approx(bound * bound / 3).epsilon(0.03));
  }
  CHECK(!nn::ConvTranspose1d(nn::ConvTranspose1dOptions(2, 2, 1).bias(false))->bias.defined());
}

TEST_CASE("conv_transpose1d: errors in PyTorch's words") {
  using nn::ConvTranspose1dOptions;
  Tensor x = randn({1, 4, 5}), w = randn({4, 3, 3});
  test::check_error([&] { F::conv_transpose1d(x, w, Tensor(), F::ConvTranspose1dFuncOptions().stride(2).output_padding(2)); },
                    {"conv_transpose1d", "output padding must be smaller than either stride or dilation"});
  test::check_error([&] { nn::ConvTranspose1d(ConvTranspose1dOptions(4, 4, 3).output_padding(1)); },
                    {"ConvTranspose1d", "output padding must be smaller"});
  test::check_error([&] { F::conv_transpose1d(x, w, Tensor(), F::ConvTranspose1dFuncOptions().padding(5)); },
                    {"Output size is too small"});
  test::check_error([&] { F::conv_transpose1d(randn({1, 3, 5}), w); },
                    {"expected input[1, 3, 5] to have 4 channels"});
  test::check_error([&] { F::conv_transpose1d(x, w, randn({4})); }, {"bias", "3 elements"});
  test::check_error([&] { F::conv_transpose1d(x, w, Tensor(), F::ConvTranspose1dFuncOptions().groups(3)); },
                    {"groups=3", "divisible"});
  test::check_error([&] { F::conv_transpose1d(randn({5}), w); }, {"2D (unbatched) or 3D"});
  test::check_error([&] { F::conv_transpose1d(x, randn({4, 3})); }, {"3-dimensional"});
  test::check_error([&] { F::conv_transpose1d(x, w, Tensor(), F::ConvTranspose1dFuncOptions().stride(0)); },
                    {"stride"});
  test::check_error([&] { F::conv_transpose1d(x, w, Tensor(), F::ConvTranspose1dFuncOptions().padding(-1)); },
                    {"padding"});
  test::check_error([&] { F::conv_transpose1d(x, w.to(kFloat64)); }, {"dtype"});
  test::check_error([&] { nn::ConvTranspose1d(ConvTranspose1dOptions(4, 4, 3).padding_mode(kReflect)); },
                    {"zeros"});
  test::check_error([&] { nn::ConvTranspose1d(ConvTranspose1dOptions(4, 6, 3).groups(4)); },
                    {"out_channels must be divisible by groups"});
}

TEST_CASE("conv_transpose1d: the adjoint of conv1d (<conv1d(u), v> == <u, conv_transpose1d(v)>)") {
  manual_seed(11);
  for (auto [s, p, d, g] : std::vector<std::array<std::int64_t, 4>>{{1, 0, 1, 1}, {2, 1, 2, 2}, {3, 2, 1, 3}}) {
    Tensor w = randn({6, 6 / g, 3}, TensorOptions(kFloat64));  // conv1d: (Cout=6, Cin/g, K)
    Tensor u = randn({2, 6, 17}, TensorOptions(kFloat64));
    Tensor cu = F::conv1d(u, w, Tensor(), F::Conv1dFuncOptions().stride(s).padding(p).dilation(d).groups(g));
    Tensor v = randn(cu.sizes(), TensorOptions(kFloat64));
    // output_padding restores the length conv1d's floor dropped.
    const std::int64_t op = 17 - ((cu.size(2) - 1) * s - 2 * p + d * 2 + 1);
    REQUIRE(op >= 0);
    REQUIRE((op < s || op < d));
    Tensor tv = F::conv_transpose1d(v, w, Tensor(),
                                    F::ConvTranspose1dFuncOptions().stride(s).padding(p).dilation(d).groups(g).output_padding(op));
    REQUIRE(tv.sizes() == u.sizes());
    CHECK((cu * v).sum().item<double>() == doctest::Approx((u * tv).sum().item<double>()).epsilon(1e-12));
  }
}

TEST_CASE("conv_transpose1d: gradcheck, float64 and complex128") {
  manual_seed(5);
  struct C { std::int64_t s, p, op, d, g; bool batched; };
  for (C c : {C{1, 0, 0, 1, 1, true}, C{2, 1, 1, 1, 2, true}, C{1, 0, 2, 3, 1, false}, C{3, 2, 2, 2, 3, true}}) {
    CAPTURE(c.s);
    CAPTURE(c.op);
    auto o = F::ConvTranspose1dFuncOptions().stride(c.s).padding(c.p).output_padding(c.op).dilation(c.d).groups(c.g);
    for (bool complex : {false, true}) {
      auto make = [&](const Shape& s) { return complex ? test::complex_leaf(s) : test::leaf(s); };
      Tensor x = make(c.batched ? Shape{2, 6, 4} : Shape{6, 4});
      Tensor w = make({6, 2, 3});
      Tensor b = make({2 * c.g});
      test::on_cpu_backends([&] {
        auto r = autograd::gradcheck(
            [o](const std::vector<Tensor>& in) { return F::conv_transpose1d(in[0], in[1], in[2], o); },
            {x, w, b});
        CHECK_MESSAGE(r.ok, r.message);
      });
    }
  }
}

TEST_CASE("conv_transpose1d: outputs no input reaches hold the bias; empty batch; frozen weight") {
  test::on_cpu_backends([] {
    // L=1, K=1, padding=1, output_padding=2 (< dilation 3): L_out = 1, and the only input
    // position lands at output index -1 (cropped): the output is the bias (PyTorch agrees).
    Tensor x = test::leaf({2, 3, 1});
    Tensor w = test::leaf({3, 2, 1});
    Tensor b = test::leaf({2});
    auto o = F::ConvTranspose1dFuncOptions().padding(1).output_padding(2).dilation(3);
    Tensor y = F::conv_transpose1d(x, w, b, o);
    REQUIRE(y.sizes() == Shape{2, 2, 1});
    const auto bv = b.to_vector<double>();
    test::check_values(y, {bv[0], bv[1], bv[0], bv[1]});
    y.sum().backward();
    test::check_values(x.grad(), std::vector<double>(6, 0.0));
    test::check_values(w.grad(), std::vector<double>(6, 0.0));
    test::check_values(b.grad(), {2.0, 2.0});

    // An empty batch gives an empty output of the right shape.
    CHECK(F::conv_transpose1d(randn({0, 3, 4}), randn({3, 2, 2})).sizes() == Shape{0, 2, 5});

    // Only the input requires grad: the weight is neither saved nor differentiated.
    Tensor xi = test::leaf({1, 3, 4});
    Tensor wf = randn({3, 2, 2}, TensorOptions(kFloat64));
    F::conv_transpose1d(xi, wf, Tensor(), F::ConvTranspose1dFuncOptions().stride(2)).sum().backward();
    CHECK(xi.grad().defined());
    CHECK(!wf.grad().defined());
    // Each input element feeds K=2 outputs with weights summed over the 2 output channels.
    auto wv = wf.to_vector<double>();
    std::vector<double> expected;
    for (int c = 0; c < 3; ++c) {
      double s = wv[c * 4 + 0] + wv[c * 4 + 1] + wv[c * 4 + 2] + wv[c * 4 + 3];
      for (int i = 0; i < 4; ++i) expected.push_back(s);
    }
    test::check_values(xi.grad(), expected, 1e-12);
  });
}
