// --- pooling (issue 7) ---
// Pooling, interpolation and the padding modules against PyTorch 1.13's numbers
// (tests/nn/golden/pool1d/, made by make_pool1d_golden.py): forward values, max indices and
// grad_input, through the modules and the functional forms on every device. Then repr,
// errors in PyTorch's words, and gradcheck.
#include <cmath>
#include <fstream>
#include <map>
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

const std::string kDir = test::golden::dir("pool1d");

struct Case {
  std::string line, id, op;
  DType dtype = kFloat32;
  std::int64_t batch = 0, c = 0, length = 0, l_out = 0, offset = 0;
  std::map<std::string, std::string> kv;
  std::int64_t i(const std::string& k) const { return std::stoll(kv.at(k)); }
  double d(const std::string& k) const { return std::stod(kv.at(k)); }
  bool b(const std::string& k) const { return i(k) != 0; }
  Shape in_shape() const { return batch == -1 ? Shape{c, length} : Shape{batch, c, length}; }
  Shape out_shape() const { return batch == -1 ? Shape{c, l_out} : Shape{batch, c, l_out}; }
  bool has_indices() const { return op == "max_pool1d" || op == "adaptive_max_pool1d"; }
};

std::vector<Case> read_index() {
  std::vector<Case> cases;
  for (const std::string& line : test::golden::index_lines(kDir + "/index.txt")) {
    std::istringstream f(line);
    Case c;
    c.line = line;
    std::string dtype, tok;
    f >> c.id >> c.op >> dtype >> c.batch >> c.c >> c.length >> c.l_out >> c.offset;
    REQUIRE_MESSAGE(!f.fail(), "malformed index line: " << line);
    c.dtype = dtype == "float32" ? kFloat32 : kFloat64;
    while (f >> tok) {
      auto eq = tok.find('=');
      REQUIRE(eq != std::string::npos);
      c.kv[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
    cases.push_back(c);
  }
  return cases;
}

struct Golden {
  Tensor input, grad_output, output, grad_input, indices;
};

Golden cut(const Case& c, const Tensor& values) {
  test::golden::FlatReader r{values, c.offset};
  auto next = [&](const Shape& s, DType t) { return r.next(s).to(t); };
  Golden g;
  g.input = next(c.in_shape(), c.dtype);
  g.grad_output = next(c.out_shape(), c.dtype);
  g.output = next(c.out_shape(), c.dtype);
  g.grad_input = next(c.in_shape(), c.dtype);
  if (c.has_indices()) g.indices = next(c.out_shape(), kInt64);
  return g;
}

// Empty when equal within the dtype's tolerance (NaN matches NaN, infinities exactly).
std::string mismatch(const char* what, const Tensor& got, const Tensor& expected) {
  const bool single = expected.dtype() == kFloat32;
  return test::golden::mismatch(what, got, expected, single ? 1e-5 : 1e-12, single ? 1e-6 : 1e-12);
}

F::MaxPool1dFuncOptions max_options(const Case& c) {
  return F::MaxPool1dFuncOptions(c.i("kernel_size"))
      .stride(c.i("stride"))
      .padding(c.i("padding"))
      .dilation(c.i("dilation"))
      .ceil_mode(c.b("ceil_mode"));
}
F::AvgPool1dFuncOptions avg_options(const Case& c) {
  return F::AvgPool1dFuncOptions(c.i("kernel_size"))
      .stride(c.i("stride"))
      .padding(c.i("padding"))
      .ceil_mode(c.b("ceil_mode"))
      .count_include_pad(c.b("count_include_pad"));
}
F::InterpolateFuncOptions interp_options(const Case& c) {
  F::InterpolateFuncOptions o;
  o.mode(c.kv.at("mode"));
  if (c.i("size") > 0) o.size(c.i("size"));
  else o.scale_factor(c.d("scale_factor"));
  if (c.i("align_corners") >= 0) o.align_corners(c.b("align_corners"));
  if (c.b("recompute_scale_factor")) o.recompute_scale_factor(true);
  return o;
}
PaddingMode pad_mode(const Case& c) {
  const std::string& m = c.kv.at("mode");
  return m == "constant" ? kZeros : padding_mode_from_string(m);
}

// The module form of a case (a callable returning (output, indices or undefined)); empty
// std::function when the case has no module twin.
using Run = std::function<std::pair<Tensor, Tensor>(const Tensor&)>;

Run module_run(const Case& c) {
  if (c.op == "max_pool1d") {
    nn::MaxPool1d m(max_options(c));
    return [m](const Tensor& x) { auto [o, i] = m->forward_with_indices(x); return std::pair{o, i}; };
  }
  if (c.op == "avg_pool1d") {
    nn::AvgPool1d m(avg_options(c));
    return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
  }
  if (c.op == "adaptive_avg_pool1d") {
    nn::AdaptiveAvgPool1d m(nn::AdaptiveAvgPool1dOptions(c.i("output_size")));
    return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
  }
  if (c.op == "adaptive_max_pool1d") {
    nn::AdaptiveMaxPool1d m(nn::AdaptiveMaxPool1dOptions(c.i("output_size")));
    return [m](const Tensor& x) { auto [o, i] = m->forward_with_indices(x); return std::pair{o, i}; };
  }
  if (c.op == "interpolate") {
    if (c.b("recompute_scale_factor")) return {};
    nn::UpsampleOptions o;
    o.mode(c.kv.at("mode"));
    if (c.i("size") > 0) o.size(c.i("size"));
    else o.scale_factor(c.d("scale_factor"));
    if (c.i("align_corners") >= 0) o.align_corners(c.b("align_corners"));
    nn::Upsample m(o);
    return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
  }
  // pad
  const nn::Pad1dSize lr(c.i("left"), c.i("right"));
  const std::string& mode = c.kv.at("mode");
  if (mode == "constant") {
    nn::ConstantPad1d m(nn::ConstantPad1dOptions(lr, c.d("value")));
    return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
  }
  if (mode == "reflect") {
    nn::ReflectionPad1d m(lr);
    return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
  }
  if (mode == "replicate") {
    nn::ReplicationPad1d m(lr);
    return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
  }
  nn::CircularPad1d m(lr);
  return [m](const Tensor& x) { return std::pair{m(x), Tensor()}; };
}

Run functional_run(const Case& c) {
  if (c.op == "max_pool1d") {
    auto o = max_options(c);
    return [o](const Tensor& x) {
      auto [v, i] = F::max_pool1d_with_indices(x, o);
      // F::max_pool1d must give the same values
      Tensor plain = F::max_pool1d(x.detach(), o);
      REQUIRE(mismatch("max_pool1d values", plain, v.detach()).empty());
      return std::pair{v, i};
    };
  }
  if (c.op == "avg_pool1d") {
    auto o = avg_options(c);
    return [o](const Tensor& x) { return std::pair{F::avg_pool1d(x, o), Tensor()}; };
  }
  if (c.op == "adaptive_avg_pool1d") {
    F::AdaptiveAvgPool1dFuncOptions o(c.i("output_size"));
    return [o](const Tensor& x) { return std::pair{F::adaptive_avg_pool1d(x, o), Tensor()}; };
  }
  if (c.op == "adaptive_max_pool1d") {
    F::AdaptiveMaxPool1dFuncOptions o(c.i("output_size"));
    return [o](const Tensor& x) {
      auto [v, i] = F::adaptive_max_pool1d_with_indices(x, o);
      return std::pair{v, i};
    };
  }
  if (c.op == "interpolate") {
    auto o = interp_options(c);
    return [o](const Tensor& x) { return std::pair{F::interpolate(x, o), Tensor()}; };
  }
  const std::int64_t l = c.i("left"), r = c.i("right");
  const PaddingMode mode = pad_mode(c);
  const double value = c.d("value");
  return [=](const Tensor& x) { return std::pair{F::pad1d(x, l, r, mode, value), Tensor()}; };
}

std::string check_run(const Case& c, const Golden& g, const Run& run, Device device) {
  Tensor x = g.input.to(device).clone().requires_grad_(true);
  auto [out, idx] = run(x);
  out.backward(g.grad_output.to(device));
  for (auto m : {mismatch("output", out, g.output), mismatch("grad_input", x.grad(), g.grad_input)}) {
    if (!m.empty()) return m;
  }
  if (c.has_indices()) return mismatch("indices", idx, g.indices);
  return {};
}

}  // namespace

TEST_CASE("pooling, interpolate and padding modules match PyTorch 1.13 golden vectors") {
  const auto cases = read_index();
  CHECK(cases.size() >= 280);
  const Tensor values = load_npy(kDir + "/values.npy");
  std::map<std::string, int> per_op;
  std::vector<std::string> failures;
  std::size_t runs = 0;
  test::on_devices({backends::KernelOp::MaxPool1d, backends::KernelOp::AvgPool1d,
                    backends::KernelOp::AvgPool1dBackward, backends::KernelOp::AdaptiveMaxPool1d,
                    backends::KernelOp::AdaptiveAvgPool1d,
                    backends::KernelOp::AdaptiveAvgPool1dBackward, backends::KernelOp::Pad1d},
                   kFloat32, [&](Device device) {
                     for (const auto& c : cases) {
                       const Golden g = cut(c, values);
                       ++per_op[c.op];
                       for (auto [path, run] : {std::pair{"module", module_run(c)},
                                                std::pair{"functional", functional_run(c)}}) {
                         if (!run) continue;
                         ++runs;
                         const std::string r =
                             test::golden::guarded([&] { return check_run(c, g, run, device); });
                         if (!r.empty())
                           failures.push_back(fmt::format("[{} {}] {}: {}",
                                                          backends::host_backend().name(), path,
                                                          c.line, r));
                       }
                     }
                   });
  CHECK(per_op.size() == 6);
  CHECK(runs > 2 * cases.size());
  test::golden::check_no_failures(failures, runs);
}

TEST_CASE("pooling, Upsample and padding modules print like PyTorch") {
  CHECK(nn::MaxPool1d(nn::MaxPool1dOptions(3))->repr() ==
        "MaxPool1d(kernel_size=3, stride=3, padding=0, dilation=1, ceil_mode=False)");
  CHECK(nn::MaxPool1d(nn::MaxPool1dOptions(3).stride(2).padding(1).dilation(2).ceil_mode(true))->repr() ==
        "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)");
  CHECK(nn::AvgPool1d(nn::AvgPool1dOptions(3))->repr() ==
        "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))");
  CHECK(nn::AvgPool1d(nn::AvgPool1dOptions(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false))->repr() ==
        "AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))");
  CHECK(nn::AdaptiveAvgPool1d(nn::AdaptiveAvgPool1dOptions(3))->repr() == "AdaptiveAvgPool1d(output_size=3)");
  CHECK(nn::AdaptiveMaxPool1d(nn::AdaptiveMaxPool1dOptions(3))->repr() == "AdaptiveMaxPool1d(output_size=3)");
  CHECK(nn::Upsample(nn::UpsampleOptions().size(5))->repr() == "Upsample(size=5, mode=nearest)");
  CHECK(nn::Upsample(nn::UpsampleOptions().scale_factor(2))->repr() == "Upsample(scale_factor=2.0, mode=nearest)");
  CHECK(nn::Upsample(nn::UpsampleOptions().scale_factor(1.5).mode(kLinear).align_corners(true))->repr() ==
        "Upsample(scale_factor=1.5, mode=linear)");
  CHECK(nn::ConstantPad1d(nn::ConstantPad1dOptions(2, 3.5))->repr() == "ConstantPad1d(padding=(2, 2), value=3.5)");
  CHECK(nn::ConstantPad1d(nn::ConstantPad1dOptions({1, 2}, 0))->repr() == "ConstantPad1d(padding=(1, 2), value=0.0)");
  CHECK(nn::ZeroPad1d(1)->repr() == "ZeroPad1d((1, 1))");
  CHECK(nn::ReflectionPad1d(2)->repr() == "ReflectionPad1d((2, 2))");
  CHECK(nn::ReplicationPad1d(nn::Pad1dSize(1, 3))->repr() == "ReplicationPad1d((1, 3))");
  CHECK(nn::CircularPad1d(nn::Pad1dSize(2, 0))->repr() == "CircularPad1d((2, 0))");
}

TEST_CASE("pooling: hand-checked values (ties pick the first, NaN wins, ceil_mode windows)") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  Tensor x = tensor(std::vector<double>{-inf, -inf, 1, nan, 2, 2, 3, 3, -inf, -inf}, {1, 1, 10},
                    TensorOptions(kFloat64));
  test::on_cpu_backends([&] {
    auto [v, i] = F::max_pool1d_with_indices(x, F::MaxPool1dFuncOptions(2));
    test::check_values(v, {-inf, nan, 2, 3, -inf});
    CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 3, 4, 6, 8});
    // ceil_mode: L=10, k=3, s=2, p=1 -> 6 windows (starting at -1, 1, ..., 9: the last starts inside)
    auto [vc, ic] = F::max_pool1d_with_indices(x, F::MaxPool1dFuncOptions(3).stride(2).padding(1).ceil_mode(true));
    CHECK(vc.size(2) == 6);
    CHECK(ic.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 3, 3, 6, 7, 9});
    // avg, count_include_pad: [1, 2, 3, 4, 5], k=2, s=2, p=1, ceil -> windows [-1,1) [1,3) [3,5) [5,7) clipped to 6
    Tensor y = tensor(std::vector<double>{1, 2, 3, 4, 5}, {1, 1, 5}, TensorOptions(kFloat64));
    test::check_values(F::avg_pool1d(y, F::AvgPool1dFuncOptions(2).padding(1).ceil_mode(true)),
                       {0.5, 2.5, 4.5});
    test::check_values(F::avg_pool1d(y, F::AvgPool1dFuncOptions(2).padding(1).ceil_mode(true).count_include_pad(false)),
                       {1, 2.5, 4.5});
    test::check_values(F::adaptive_avg_pool1d(y, F::AdaptiveAvgPool1dFuncOptions(3)), {1.5, 3, 4.5});
  });
}

TEST_CASE("pooling and interpolate: errors in PyTorch's words") {
  Tensor x = randn({1, 2, 5});
  test::check_error([&] { F::max_pool1d(x, F::MaxPool1dFuncOptions(4).stride(1).padding(3)); },
                    {"max_pool1d() padding should be at most half of kernel size, but got padding=3 and kernel_size=4"});
  test::check_error([&] { F::max_pool1d(x, F::MaxPool1dFuncOptions(0)); },
                    {"max_pool1d() kernel_size must be greater than zero, but got 0"});
  test::check_error([&] { F::max_pool1d(x, F::MaxPool1dFuncOptions(2).stride(0)); },
                    {"max_pool1d() stride must be greater than zero"});
  test::check_error([&] { F::max_pool1d(x, F::MaxPool1dFuncOptions(2).dilation(0)); }, {"dilation"});
  test::check_error([&] { F::max_pool1d(randn({5}), F::MaxPool1dFuncOptions(2)); },
                    {"max_pool1d", "Expected 2D or 3D"});
  test::check_error([&] { F::max_pool1d(randn({1, 1, 2}), F::MaxPool1dFuncOptions(5).stride(1)); },
                    {"max_pool1d", "Invalid computed output size"});
  test::check_error([&] { F::max_pool1d(tensor({1, 2, 3}).view({1, 1, 3}), F::MaxPool1dFuncOptions(2)); },
                    {"max_pool1d", "float"});
  test::check_error([&] { F::avg_pool1d(x, F::AvgPool1dFuncOptions(3).padding(2)); },
                    {"pad should be at most half of kernel size, but got pad=2 and kernel_size=3"});
  test::check_error([&] { F::avg_pool1d(randn({1, 1, 2}), F::AvgPool1dFuncOptions(5)); },
                    {"Output size is too small"});
  test::check_error([&] { F::adaptive_avg_pool1d(x, F::AdaptiveAvgPool1dFuncOptions(-1)); },
                    {"adaptive_avg_pool1d", "greater than or equal to 0"});
  test::check_error([&] { nn::MaxPool1d(nn::MaxPool1dOptions(2).padding(2)); }, {"at most half"});
  test::check_error([&] { F::interpolate(x, F::InterpolateFuncOptions()); },
                    {"either size or scale_factor should be defined"});
  test::check_error([&] { F::interpolate(x, F::InterpolateFuncOptions().size(3).scale_factor(2)); },
                    {"only one of size or scale_factor should be defined"});
  test::check_error([&] { F::interpolate(x, F::InterpolateFuncOptions().size(3).align_corners(true)); },
                    {"align_corners option can only be set with the interpolating modes"});
  test::check_error([&] { F::interpolate(randn({2, 5}), F::InterpolateFuncOptions().size(3)); }, {"3D"});
  test::check_error([&] { F::interpolate(x, F::InterpolateFuncOptions().scale_factor(0.1)); },
                    {"Input and output sizes should be greater than 0"});
  test::check_error([&] { F::interpolate(x, F::InterpolateFuncOptions().size(3).mode("cubic")); }, {"mode"});
  test::check_error([&] { nn::ReflectionPad1d(5)(x); }, {"Padding size should be less than"});
}

TEST_CASE("pooling and interpolate: gradcheck (float64)") {
  manual_seed(9);
  test::on_cpu_backends([] {
    auto check = [](auto f, const Tensor& x) {
      auto r = autograd::gradcheck([f](const std::vector<Tensor>& in) { return f(in[0]); }, {x});
      CHECK_MESSAGE(r.ok, r.message);
    };
    // Distinct values (a random normal draw) keep max pooling differentiable.
    Tensor x = test::leaf({2, 3, 11});
    check([](const Tensor& t) { return F::max_pool1d(t, F::MaxPool1dFuncOptions(3).stride(2).padding(1).dilation(2).ceil_mode(true)); }, x);
    check([](const Tensor& t) { return F::avg_pool1d(t, F::AvgPool1dFuncOptions(4).stride(3).padding(2).ceil_mode(true)); }, x);
    check([](const Tensor& t) { return F::avg_pool1d(t, F::AvgPool1dFuncOptions(3).padding(1).count_include_pad(false)); }, x);
    check([](const Tensor& t) { return F::adaptive_avg_pool1d(t, F::AdaptiveAvgPool1dFuncOptions(4)); }, x);
    check([](const Tensor& t) { return F::adaptive_max_pool1d(t, F::AdaptiveMaxPool1dFuncOptions(4)); }, x);
    check([](const Tensor& t) { return F::interpolate(t, F::InterpolateFuncOptions().scale_factor(1.7).mode(kLinear)); }, x);
    check([](const Tensor& t) { return F::interpolate(t, F::InterpolateFuncOptions().size(5).mode(kLinear).align_corners(true)); }, x);
    check([](const Tensor& t) { return F::interpolate(t, F::InterpolateFuncOptions().size(7)); }, x);
    Tensor u = test::leaf({3, 11});  // unbatched
    check([](const Tensor& t) { return F::max_pool1d(t, F::MaxPool1dFuncOptions(2)); }, u);
    check([](const Tensor& t) { return F::avg_pool1d(t, F::AvgPool1dFuncOptions(2)); }, u);
    check([](const Tensor& t) { return nn::CircularPad1d(nn::Pad1dSize(2, 3))(t); }, u);
  });
}

TEST_CASE("padding modules: ZeroPad1d, CircularPad1d by hand; errors from F::pad1d") {
  Tensor x = tensor(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, TensorOptions(kFloat64));
  test::on_cpu_backends([&] {
    test::check_values(nn::ZeroPad1d(nn::Pad1dSize(1, 2))(x), {0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0});
    test::check_values(nn::CircularPad1d(nn::Pad1dSize(2, 1))(x), {2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4});
    test::check_values(nn::ReplicationPad1d(1)(x), {1, 1, 2, 3, 3, 4, 4, 5, 6, 6});
    test::check_values(nn::ReflectionPad1d(nn::Pad1dSize(2, 0))(x), {3, 2, 1, 2, 3, 6, 5, 4, 5, 6});
    test::check_values(nn::ConstantPad1d(nn::ConstantPad1dOptions({-1, 1}, 9))(x), {2, 3, 9, 5, 6, 9});
    // integer input with a constant
    Tensor xi = tensor({1, 2}).view({1, 2});
    CHECK(nn::ConstantPad1d(nn::ConstantPad1dOptions(1, 7))(xi).to_vector<std::int64_t>() ==
          std::vector<std::int64_t>{7, 1, 2, 7});
  });
  test::check_error([&] { nn::CircularPad1d(4)(x); }, {"wrapping around more than once"});
  test::check_error([&] { nn::ReplicationPad1d(nn::Pad1dSize(-1, 0))(x); }, {"negative padding"});
  test::check_error([&] { nn::ZeroPad1d(1)(randn({5})); }, {"pad1d", "2-D"});
}
