// Unit scaling (issue 9): the constraints, scale_fwd_bwd, the unit-scaled conv1d / linear /
// residual / mse_loss against hand-computed scales and finite differences of the plain ops,
// the statistics at initialisation, the modules, and the u-µP optimizers' learning rates.
#include <cmath>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "reel.hpp"
#include "golden.hpp"
#include "support.hpp"

using namespace reel;
namespace us = reel::nn::unit_scaling;
namespace U = reel::nn::unit_scaling::functional;
namespace F = reel::nn::functional;
using reel::test::check_error;

namespace {

double rel_err(double got, double want) { return std::abs(got - want) / std::abs(want); }

// Standard deviation of all elements (population), in float64.
double std_of(const Tensor& t) {
  const std::vector<double> v = t.to(kFloat64).to_vector<double>();
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  return std::sqrt(var / static_cast<double>(v.size()));
}

// Central finite differences of L(t) = Σ v · f() with respect to every element of `t`
// (float64, modified in place and restored).
Tensor finite_diff(const std::function<Tensor()>& f, Tensor t, const Tensor& v,
                   double eps = 1e-6) {
  NoGradGuard no_grad;
  Tensor out = zeros(t.sizes(), TensorOptions(kFloat64));
  double* p = t.data_ptr<double>();
  double* o = out.data_ptr<double>();
  REQUIRE(t.is_contiguous());
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const double keep = p[i];
    p[i] = keep + eps;
    const double up = (f() * v).sum().item<double>();
    p[i] = keep - eps;
    const double down = (f() * v).sum().item<double>();
    p[i] = keep;
    o[i] = (up - down) / (2 * eps);
  }
  return out;
}

void check_close(const Tensor& got, const Tensor& want, double tol = 1e-7) {
  REQUIRE(got.defined());
  REQUIRE(got.sizes() == want.sizes());
  const std::vector<double> g = got.to(kFloat64).to_vector<double>();
  const std::vector<double> w = want.to(kFloat64).to_vector<double>();
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    CHECK(g[i] == doctest::Approx(w[i]).epsilon(tol).scale(1.0));
  }
}

const std::vector<us::Constraint> kAllConstraints{us::kToOutputScale, us::kToGradInputScale,
                                                  us::kGMean,         us::kHMean,
                                                  us::kAMean,         us::kNoConstraint};

}  // namespace

TEST_CASE("unit_scaling: constraints pick the pair of scales, by name") {
  const double a = 0.25, b = 1.0;  // output scale, grad_input scale
  using P = std::pair<double, double>;
  CHECK(us::apply_constraint(us::kToOutputScale, a, b) == P{0.25, 0.25});
  CHECK(us::apply_constraint(us::kToGradInputScale, a, b) == P{1.0, 1.0});
  CHECK(us::apply_constraint(us::kGMean, a, b) == P{0.5, 0.5});
  CHECK(us::apply_constraint(us::kHMean, a, b).first == doctest::Approx(0.4));  // 2/(4+1)
  CHECK(us::apply_constraint(us::kAMean, a, b) == P{0.625, 0.625});
  CHECK(us::apply_constraint(us::kNoConstraint, a, b) == P{0.25, 1.0});
  for (us::Constraint c : kAllConstraints) {
    CHECK(us::constraint_from_string(us::constraint_name(c)) == c);
  }
  CHECK(us::constraint_from_string("") == us::kNoConstraint);
  check_error([] { us::constraint_from_string("geomean"); },
              {"'geomean' is not a valid constraint", "to_output_scale", "hmean"});
  check_error([] { us::apply_constraint(us::kGMean, 0.0, 1.0, "myop"); },
              {"myop", "positive and finite", "output_scale=0"});
  check_error([] { us::apply_constraint(us::kGMean, 1.0, std::nan("")); }, {"finite"});
  check_error([] { us::Conv1dOptions(2, 2, 3).constraint("to_input_scale"); },
              {"'to_input_scale' is not a valid constraint"});
  check_error([] { U::Conv1dFuncOptions().constraint("max"); }, {"'max'"});
}

TEST_CASE("unit_scaling: scale_fwd_bwd scales the forward by a and the gradient by b") {
  test::on_cpu_backends([] {
    for (DType dt : {kFloat32, kFloat64}) {
      CAPTURE(dt);
      Tensor x = tensor(std::vector<double>{1.0, -2.0, 0.5}, TensorOptions(dt)).requires_grad_(true);
      Tensor y = U::scale_fwd_bwd(x, 3.0, 0.25);
      CHECK(y.dtype() == dt);
      test::check_values(y, {3.0, -6.0, 1.5});
      CHECK(std::string(y.grad_fn_name()) == "ScaledGradBackward");
      y.backward(tensor(std::vector<double>{1.0, 2.0, -4.0}, TensorOptions(dt)));
      test::check_values(x.grad(), {0.25, 0.5, -1.0});
      // scale_fwd / scale_bwd: the other scale is 1
      Tensor x2 = tensor(std::vector<double>{2.0}, TensorOptions(dt)).requires_grad_(true);
      Tensor z = U::scale_bwd(U::scale_fwd(x2, 5.0), 0.5);
      test::check_values(z, {10.0});
      z.backward(ones({1}, TensorOptions(dt)));
      test::check_values(x2.grad(), {0.5});
    }
    // complex: both scales are real factors
    Tensor zc = test::complex_leaf({3});
    Tensor yc = U::scale_fwd_bwd(zc, 2.0, -0.5);
    check_close(real(yc), real(zc.detach()) * 2.0, 1e-15);
    Tensor gc = test::complex_leaf({3}).detach();
    yc.backward(gc);
    check_close(real(zc.grad()), real(gc) * -0.5, 1e-15);
    check_close(imag(zc.grad()), imag(gc) * -0.5, 1e-15);
    // no grad: nothing recorded, still a new tensor
    Tensor c = tensor(std::vector<double>{1.0, 2.0});
    Tensor d = U::scale_bwd(c, 2.0);
    CHECK_FALSE(d.requires_grad());
    CHECK_FALSE(d.is_same(c));
  });
  check_error([] { U::scale_fwd_bwd(zeros({2}), INFINITY, 1.0); },
              {"scale_fwd_bwd", "finite", "fwd_scale=inf"});
  check_error([] { U::scale_fwd_bwd(zeros({2}), 1.0, std::nan("")); }, {"bwd_scale=nan"});
  check_error([] { U::scale_fwd_bwd(zeros({2}, TensorOptions(kInt64)), 1.0, 1.0); },
              {"scale_fwd_bwd", "int64"});
  check_error([] { U::scale_fwd_bwd(Tensor(), 1.0, 1.0); }, {"undefined"});
}

TEST_CASE("unit_scaling: gradcheck: scale_fwd_bwd is a derivative exactly when a == b") {
  auto f = [](double a, double b) {
    return [a, b](const std::vector<Tensor>& in) { return U::scale_fwd_bwd(in[0], a, b); };
  };
  manual_seed(1);
  CHECK(autograd::gradcheck(f(0.3, 0.3), {test::leaf({3, 4})}));
  CHECK(autograd::gradcheck(f(-2.0, -2.0), {test::complex_leaf({5})}));
  // by design, not the derivative of its forward otherwise: gradcheck must see it
  CHECK_FALSE(autograd::gradcheck(f(0.3, 0.6), {test::leaf({3, 4})}));
  // scale_bwd(·, 4) after scale_fwd(·, 4): forward 4x, backward 4·dy, a true derivative
  auto g = [](const std::vector<Tensor>& in) { return U::scale_bwd(U::scale_fwd(in[0], 4.0), 4.0); };
  CHECK(autograd::gradcheck(g, {test::leaf({2, 3})}));
}

TEST_CASE("unit_scaling: without grad the layers compute the same values") {
  manual_seed(4);
  Tensor x = randn({2, 3, 10}, TensorOptions(kFloat64)), w = randn({4, 3, 3}, TensorOptions(kFloat64));
  Tensor b = randn({4}, TensorOptions(kFloat64));
  auto o = U::Conv1dFuncOptions().padding(kSame).constraint(us::kAMean);
  const double s = U::conv1d_scales(x.sizes(), w.sizes(), o).output;
  Tensor with_grad = U::conv1d(x, w.clone().requires_grad_(true), b, o);
  Tensor without;
  {
    NoGradGuard no_grad;
    without = U::conv1d(x, w, b, o);
  }
  CHECK_FALSE(without.requires_grad());
  check_close(without, F::conv1d(x, w, b, o.conv_) * s, 1e-14);
  check_close(with_grad.detach(), without, 1e-14);
}

TEST_CASE("unit_scaling: conv1d scales against hand-computed values") {
  SUBCASE("dense, stride 1, every constraint") {
    // weight (8, 6, 3): fan_in*K = 18, fan_out*K = 24; L_out = 20 - 2 = 18, batch 4*18 = 72
    const double a = 1 / std::sqrt(18.0), b = std::sqrt(1 / 24.0);
    const std::vector<std::pair<double, double>> want{
        {a, a}, {b, b}, {std::sqrt(a * b), std::sqrt(a * b)},
        {2 / (1 / a + 1 / b), 2 / (1 / a + 1 / b)}, {(a + b) / 2, (a + b) / 2}, {a, b}};
    for (std::size_t i = 0; i < kAllConstraints.size(); ++i) {
      CAPTURE(us::constraint_name(kAllConstraints[i]));
      auto s = U::conv1d_scales({4, 6, 20}, {8, 6, 3},
                                U::Conv1dFuncOptions().constraint(kAllConstraints[i]));
      CHECK(s.output == doctest::Approx(want[i].first).epsilon(1e-14));
      CHECK(s.grad_input == doctest::Approx(want[i].second).epsilon(1e-14));
      CHECK(s.grad_weight == doctest::Approx(1 / std::sqrt(72.0)).epsilon(1e-14));
      CHECK(s.grad_bias == s.grad_weight);
    }
  }
  SUBCASE("stride 2, groups 3, padding 1") {
    // weight (9, 2, 5): fan_in*K = 10; grad_input sqrt(2*3/(9*5)); L_out = (21+2-4-1)/2+1 = 10
    auto s = U::conv1d_scales({2, 6, 21}, {9, 2, 5},
                              U::Conv1dFuncOptions().stride(2).groups(3).padding(1).constraint(
                                  us::kNoConstraint));
    CHECK(s.output == doctest::Approx(1 / std::sqrt(10.0)).epsilon(1e-14));
    CHECK(s.grad_input == doctest::Approx(std::sqrt(6.0 / 45.0)).epsilon(1e-14));
    CHECK(s.grad_weight == doctest::Approx(1 / std::sqrt(20.0)).epsilon(1e-14));
    auto g = U::conv1d_scales({2, 6, 21}, {9, 2, 5},
                              U::Conv1dFuncOptions().stride(2).groups(3).padding(1).constraint(
                                  us::kGMean));
    CHECK(g.output == doctest::Approx(std::sqrt(std::sqrt(6.0 / 45.0) / std::sqrt(10.0))));
  }
  SUBCASE("unbatched, dilation 2, 'same'") {
    // weight (4, 6, 3); L_out = L = 10, batch = L_out alone
    auto s = U::conv1d_scales({6, 10}, {4, 6, 3},
                              U::Conv1dFuncOptions().dilation(2).padding(kSame).constraint(
                                  us::kToGradInputScale));
    CHECK(s.output == doctest::Approx(std::sqrt(1 / 12.0)).epsilon(1e-14));
    CHECK(s.grad_input == s.output);
    CHECK(s.grad_weight == doctest::Approx(1 / std::sqrt(10.0)).epsilon(1e-14));
  }
  SUBCASE("causal, stride 3; reflect; depthwise") {
    // pad left 3: L_out = (16+3-3-1)/3+1 = 6
    auto c = U::conv1d_scales({1, 4, 16}, {4, 4, 4},
                              U::Conv1dFuncOptions().stride(3).padding(kCausal).constraint(
                                  us::kNoConstraint));
    CHECK(c.grad_input == doctest::Approx(std::sqrt(3.0 / 16.0)).epsilon(1e-14));
    CHECK(c.grad_weight == doctest::Approx(1 / std::sqrt(6.0)).epsilon(1e-14));
    // reflect padding 2 keeps the output length of zero padding 2: 12 + 4 - 5 + 1 = 12
    auto r = U::conv1d_scales({3, 2, 12}, {2, 2, 5},
                              U::Conv1dFuncOptions().padding(2).padding_mode(kReflect));
    CHECK(r.grad_weight == doctest::Approx(1 / std::sqrt(36.0)).epsilon(1e-14));
    CHECK(r.output == doctest::Approx(1 / std::sqrt(10.0)).epsilon(1e-14));
    // depthwise x2: weight (8, 1, 3), groups 4: grad_input sqrt(4/(8*3))
    auto d = U::conv1d_scales({1, 4, 9}, {8, 1, 3},
                              U::Conv1dFuncOptions().groups(4).constraint(us::kNoConstraint));
    CHECK(d.output == doctest::Approx(1 / std::sqrt(3.0)).epsilon(1e-14));
    CHECK(d.grad_input == doctest::Approx(std::sqrt(4.0 / 24.0)).epsilon(1e-14));
    // an empty batch: weight gradients are zero whatever the scale; it is 1
    CHECK(U::conv1d_scales({0, 4, 9}, {8, 1, 3}, U::Conv1dFuncOptions().groups(4)).grad_weight ==
          1.0);
  }
}

TEST_CASE("unit_scaling: conv1d gradients are the plain op's finite differences times the scales") {
  struct Case {
    const char* name;
    U::Conv1dFuncOptions o;
    Shape x, w;
    bool bias;
  };
  const std::vector<Case> cases{
      {"dense none", U::Conv1dFuncOptions().constraint(us::kNoConstraint), {2, 3, 7}, {4, 3, 3}, true},
      {"stride 2 groups 2 gmean", U::Conv1dFuncOptions().stride(2).groups(2).padding(1).constraint(
           us::kGMean), {2, 4, 9}, {6, 2, 3}, true},
      {"causal dilation 2", U::Conv1dFuncOptions().padding(kCausal).dilation(2), {1, 2, 8}, {3, 2, 3}, false},
      {"same circular", U::Conv1dFuncOptions().padding(kSame).padding_mode(kCircular).constraint(
           us::kToGradInputScale), {2, 2, 6}, {2, 2, 4}, true},
      {"unbatched reflect hmean", U::Conv1dFuncOptions().padding(2).padding_mode(kReflect).constraint(
           us::kHMean), {3, 7}, {2, 3, 3}, true},
  };
  test::on_cpu_backends([&] {
    for (const Case& c : cases) {
      CAPTURE(c.name);
      manual_seed(7);
      Tensor x = test::leaf(c.x), w = test::leaf(c.w);
      Tensor b = c.bias ? test::leaf({c.w[0]}) : Tensor();
      const auto s = U::conv1d_scales(c.x, c.w, c.o);
      Tensor y = U::conv1d(x, w, b, c.o);
      Tensor plain = F::conv1d(x.detach(), w.detach(), c.bias ? b.detach() : Tensor(), c.o.conv_);
      check_close(y.detach(), plain * s.output, 1e-12);  // forward: output · (conv + b)
      Tensor v = randn(y.sizes(), TensorOptions(kFloat64));
      y.backward(v);
      Tensor xd = x.detach(), wd = w.detach(), bd = c.bias ? b.detach() : Tensor();
      auto f = [&] { return F::conv1d(xd, wd, bd, c.o.conv_); };
      check_close(x.grad(), finite_diff(f, xd, v) * s.grad_input, 1e-6);
      check_close(w.grad(), finite_diff(f, wd, v) * s.grad_weight, 1e-6);
      if (c.bias) check_close(b.grad(), finite_diff(f, bd, v) * s.grad_bias, 1e-6);
    }
  });
}

// PyTorch's numbers: make_unit_scaling_golden.py transcribes the original library's functional
// conv1d / linear / residual / mse_loss (scale.py's _ScaledGrad on PyTorch's autograd).
TEST_CASE("unit_scaling: golden values of the original library, run by PyTorch") {
  const std::string dir = test::golden::dir("unit_scaling");
  test::on_cpu_backends([&] {
    for (const std::string& line : test::golden::index_lines(dir + "/index.txt")) {
      CAPTURE(line);
      std::istringstream in(line);
      std::string name, kind, kv;
      in >> name >> kind;
      std::map<std::string, std::string> opt;
      while (in >> kv) opt[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
      auto load = [&](const std::string& t) { return load_npy(dir + "/" + name + "_" + t + ".npy"); };
      auto leaf = [&](const std::string& t) { return load(t).requires_grad_(true); };
      std::map<std::string, Tensor> in_t;
      Tensor y;
      if (kind == "conv1d") {
        in_t = {{"x", leaf("x")}, {"w", leaf("w")}};
        if (opt.at("bias") == "1") in_t["b"] = leaf("b");
        auto o = U::Conv1dFuncOptions()
                     .stride(std::stoll(opt.at("stride")))
                     .padding(std::stoll(opt.at("padding")))
                     .dilation(std::stoll(opt.at("dilation")))
                     .groups(std::stoll(opt.at("groups")))
                     .constraint(opt.at("constraint"));
        y = U::conv1d(in_t["x"], in_t["w"], in_t.count("b") ? in_t["b"] : Tensor(), o);
      } else if (kind == "linear") {
        in_t = {{"x", leaf("x")}, {"w", leaf("w")}, {"b", leaf("b")}};
        y = U::linear(in_t["x"], in_t["w"], in_t["b"], us::constraint_from_string(opt.at("constraint")));
      } else if (kind == "residual") {
        in_t = {{"x", leaf("x")}};
        const double tau = std::stod(opt.at("tau"));
        auto [r, skip] = U::residual_split(in_t["x"], tau);
        y = U::residual_add(r * 2.0, skip, tau);
      } else if (kind == "mse") {
        in_t = {{"x", leaf("x")}, {"t", leaf("t")}};
        y = U::mse_loss(in_t["x"], in_t["t"],
                        F::MSELossFuncOptions().reduction(opt.at("reduction")));
      } else {
        FAIL("unknown kind " << kind);
      }
      check_close(y.detach(), load("output"), 1e-12);
      y.backward(load("grad_output"));
      for (auto& [k, t] : in_t) {
        CAPTURE(k);
        check_close(t.grad(), load("grad_" + k), 1e-12);
      }
    }
  });
}

TEST_CASE("unit_scaling: linear, residual and mse_loss against their formulas") {
  test::on_cpu_backends([] {
    manual_seed(3);
    // linear: weight (5, 4), input (2, 3, 4): batch_size 6
    Tensor x = test::leaf({2, 3, 4}), w = test::leaf({5, 4}), b = test::leaf({5});
    for (us::Constraint c : kAllConstraints) {
      CAPTURE(us::constraint_name(c));
      auto s = U::linear_scales(x.sizes(), w.sizes(), c);
      auto [o, gi] = us::apply_constraint(c, 0.5, 1 / std::sqrt(5.0));
      CHECK(s.output == doctest::Approx(o).epsilon(1e-14));
      CHECK(s.grad_input == doctest::Approx(gi).epsilon(1e-14));
      CHECK(s.grad_weight == doctest::Approx(1 / std::sqrt(6.0)).epsilon(1e-14));
      x.zero_grad(); w.zero_grad(); b.zero_grad();
      Tensor y = U::linear(x, w, b, c);
      Tensor xd = x.detach(), wd = w.detach(), bd = b.detach();
      auto f = [&] { return F::linear(xd, wd, bd); };
      check_close(y.detach(), f() * s.output, 1e-12);
      Tensor v = randn(y.sizes(), TensorOptions(kFloat64));
      y.backward(v);
      check_close(x.grad(), finite_diff(f, xd, v) * s.grad_input, 1e-6);
      check_close(w.grad(), finite_diff(f, wd, v) * s.grad_weight, 1e-6);
      check_close(b.grad(), finite_diff(f, bd, v) * s.grad_bias, 1e-6);
    }

    // residual: tau = 0.75, denom = 1.25: residual gets 0.6, skip 0.8, both ways
    Tensor r_in = test::leaf({4});
    auto [res, skip] = U::residual_split(r_in, 0.75);
    check_close(res.detach(), r_in.detach(), 1e-15);
    check_close(skip.detach(), r_in.detach(), 1e-15);
    Tensor branch = res * 2.0;  // a branch of derivative 2
    Tensor out = U::residual_add(branch, skip, 0.75);
    check_close(out.detach(), r_in.detach() * (0.6 * 2.0 + 0.8), 1e-14);
    out.backward(ones({4}, TensorOptions(kFloat64)));
    // through the branch: 2 · 0.6 (split's gradient scale); through the skip: 0.8
    test::check_values(r_in.grad(), std::vector<double>(4, 2.0 * 0.6 + 0.8), 1e-14);
    Tensor r2 = test::leaf({4});
    Tensor out2 = U::residual_apply([](const Tensor& t) { return t * 2.0; }, r2, 0.75);
    check_close(out2.detach(), r2.detach() * (0.6 * 2.0 + 0.8), 1e-14);
    out2.backward(ones({4}, TensorOptions(kFloat64)));
    test::check_values(r2.grad(), std::vector<double>(4, 2.0 * 0.6 + 0.8), 1e-14);
    check_error([] { U::residual_apply(nullptr, zeros({2})); }, {"residual_apply"});
    check_error([] { U::residual_split(zeros({2}), -1.0); }, {"residual_split", "tau", "-1"});
    check_error([] { U::residual_add(zeros({2}), zeros({2}), INFINITY); }, {"residual_add"});

    // mse_loss: sum of squares, gradients 2(x - t) · 8^-1/2 (not divided by numel for mean)
    Tensor in = test::leaf({2, 3}), tg = test::leaf({2, 3});
    Tensor d = in.detach() - tg.detach();
    Tensor l_sum = U::mse_loss(in, tg, F::MSELossFuncOptions(nn::kSum));
    CHECK(l_sum.item<double>() == doctest::Approx((d * d).sum().item<double>()));
    Tensor l_mean = U::mse_loss(in, tg);
    CHECK(l_mean.item<double>() == doctest::Approx((d * d).sum().item<double>() / 6));
    l_mean.backward();
    check_close(in.grad(), d * (2 / std::sqrt(8.0)), 1e-14);
    check_close(tg.grad(), d * (-2 / std::sqrt(8.0)), 1e-14);
  });
  check_error([] { U::mse_loss(zeros({2, 3}), zeros({3})); },
              {"unit_scaling.mse_loss", "input.shape == target.shape", "[2, 3]", "[3]"});
  check_error([] { U::mse_loss(zeros({2}), zeros({2}), F::MSELossFuncOptions(nn::kNone)); },
              {"'none'"});
  check_error([] {
    U::mse_loss(zeros({2}), zeros({2}),
                F::MSELossFuncOptions().mask(ones({2}, TensorOptions(kBool))));
  }, {"mask"});
  CHECK(std::isnan(U::mse_loss(zeros({0}), zeros({0})).item<double>()));
  check_error([] { U::linear(zeros({2, 3}), zeros({4, 2})); }, {"unit_scaling.linear", "[2, 3]"});
  check_error([] { U::linear(zeros({2, 0}), zeros({4, 0})); }, {"no input or output features"});
}

TEST_CASE("unit_scaling: conv1d bad input") {
  check_error([] { U::conv1d(zeros({2, 3, 8}), zeros({4, 2, 3})); },
              {"unit_scaling.conv1d", "expected input[2, 3, 8] to have 2 channels"});
  check_error([] { U::conv1d(zeros({3}), zeros({4, 3, 3})); }, {"2-D (unbatched) or 3-D"});
  check_error([] { U::conv1d(zeros({1, 3, 8}), zeros({4, 3})); }, {"3-D weight"});
  check_error([] { U::conv1d(zeros({1, 0, 8}), zeros({4, 0, 3})); }, {"no input or output"});
  check_error([] { U::conv1d(zeros({1, 3, 2}), zeros({4, 3, 3})); }, {"conv1d"});
  check_error([] { U::conv1d(zeros({1, 3, 8}), zeros({4, 3, 3}), Tensor(),
                             U::Conv1dFuncOptions().stride(2).padding(kSame)); },
              {"unit_scaling.conv1d", "'same'", "stride=2"});
  check_error([] { U::conv1d(zeros({1, 3, 8}), zeros({4, 3, 3}), zeros({3})); }, {"bias"});
  check_error([] { U::conv1d(Tensor(), zeros({4, 3, 3})); }, {"defined"});
}

TEST_CASE("unit_scaling: Conv1d and Linear modules") {
  manual_seed(11);
  us::Conv1d conv(us::Conv1dOptions(64, 32, 5));
  CHECK_FALSE(conv->bias.defined());  // bias=false by default, as the original
  CHECK(conv->weight.sizes() == Shape{32, 64, 5});
  CHECK(std::abs(std_of(conv->weight) - 1.0) < 0.03);  // N(0, 1): 10240 draws
  CHECK(std::abs(conv->weight.mean().item<double>()) < 0.03);
  CHECK(conv->repr() == "Conv1d(64, 32, kernel_size=(5,), stride=(1,), bias=False)");

  us::Conv1d c2(us::Conv1dOptions(4, 6, 3).bias(true).groups(2).padding(kCausal).stride(1)
                    .padding_mode("reflect").constraint("gmean").weight_mup_type("output")
                    .dtype(kFloat64));
  CHECK(c2->repr() == "Conv1d(4, 6, kernel_size=(3,), stride=(1,), padding=causal, groups=2, "
                      "padding_mode=reflect, constraint=gmean, weight_mup_type=output)");
  test::check_values(c2->bias, std::vector<double>(6, 0.0));
  REQUIRE(c2->mup_tag("weight") != nullptr);
  CHECK(c2->mup_tag("weight")->type == us::MupType::Output);
  CHECK(c2->mup_tag("bias")->type == us::MupType::Bias);
  CHECK(c2->mup_tag("nothing") == nullptr);
  // forward = the functional form with the module's options; reflect padding applied once:
  // the same as padding the input by hand and convolving without padding
  Tensor x = randn({2, 4, 9}, TensorOptions(kFloat64));
  Tensor y = c2(x);
  CHECK(y.sizes() == Shape{2, 6, 9});
  auto s = U::conv1d_scales(x.sizes(), c2->weight.sizes(), c2->func_options());
  Tensor manual = F::conv1d(F::pad1d(x, 2, 0, kReflect),
                            c2->weight, c2->bias, F::Conv1dFuncOptions().groups(2));
  check_close(y.detach(), manual.detach() * s.output, 1e-12);
  CHECK(c2(randn({4, 9}, TensorOptions(kFloat64))).sizes() == Shape{6, 9});  // unbatched

  us::Linear lin(us::LinearOptions(16, 25));
  CHECK(lin->repr() == "Linear(in_features=16, out_features=25, bias=False)");
  us::Linear lin2(us::LinearOptions(3, 2).bias(true).constraint(us::kNoConstraint));
  CHECK(lin2->repr() == "Linear(in_features=3, out_features=2, bias=True, constraint=none)");
  CHECK(lin2->mup_tag("bias")->type == us::MupType::Bias);
  CHECK(lin2(zeros({5, 3})).sizes() == Shape{5, 2});

  check_error([] { us::Conv1d(us::Conv1dOptions(0, 2, 3)); },
              {"unit_scaling.Conv1d", "in_channels must be positive"});
  check_error([] { us::Conv1d(us::Conv1dOptions(3, 2, 3).groups(2)); }, {"unit_scaling.Conv1d"});
  check_error([] { us::Conv1d(us::Conv1dOptions(2, 2, 3).dtype(kInt64)); }, {"unit_scaling.Conv1d"});
  check_error([] { us::Conv1dOptions(2, 2, 3).weight_mup_type("hidden"); },
              {"'hidden' is not a valid mup_type"});
  check_error([] { us::Linear(us::LinearOptions(0, 2)); }, {"unit_scaling.Linear"});
  check_error([] { us::Conv1d c(us::Conv1dOptions(2, 3, 3)); c(zeros({1, 3, 8})); },
              {"unit_scaling.conv1d"});
}

// At initialisation with unit-variance input (stride 1, L >> K): the output's std is 1 under
// to_output_scale and none, grad_input's under to_grad_input_scale and none; every constraint
// gives (its output scale / the ideal one) and (its grad scale / the ideal one). A plain
// Conv1d's kaiming-uniform init gives std 1/√3 both ways (W's variance is 1/(3·fan_in·K)).
TEST_CASE("unit_scaling: unit output and grad_input std at init, over channels and kernels") {
  manual_seed(2024);
  for (std::int64_t ch : {32, 128, 256}) {
    for (std::int64_t k : {1, 3, 9}) {
      CAPTURE(ch);
      CAPTURE(k);
      const std::int64_t c_out = ch, c_in = ch;
      Tensor x = randn({2, c_in, 1024}).requires_grad_(true);
      for (us::Constraint c : kAllConstraints) {
        CAPTURE(us::constraint_name(c));
        us::Conv1d conv(us::Conv1dOptions(c_in, c_out, k).constraint(c));
        x.zero_grad();
        Tensor y = conv(x);
        Tensor gy = randn(y.sizes());
        y.backward(gy);
        const double out_std = std_of(y), grad_std = std_of(x.grad());
        const auto ideal = U::conv1d_scales(x.sizes(), conv->weight.sizes(),
                                            U::Conv1dFuncOptions().constraint(us::kNoConstraint));
        const auto got = U::conv1d_scales(x.sizes(), conv->weight.sizes(), conv->func_options());
        if (c == us::kToOutputScale || c == us::kNoConstraint) CHECK(std::abs(out_std - 1) < 0.1);
        if (c == us::kToGradInputScale || c == us::kNoConstraint) {
          CHECK(std::abs(grad_std - 1) < 0.1);
        }
        CHECK(rel_err(out_std, got.output / ideal.output) < 0.1);
        CHECK(rel_err(grad_std, got.grad_input / ideal.grad_input) < 0.1);
      }
      nn::Conv1d plain(nn::Conv1dOptions(c_in, c_out, k));
      x.zero_grad();
      Tensor y = plain(x);
      y.backward(randn(y.sizes()));
      CHECK(rel_err(std_of(y), 1 / std::sqrt(3.0)) < 0.1);  // far from 1
      CHECK(rel_err(std_of(x.grad()), 1 / std::sqrt(3.0)) < 0.1);
      CHECK(std_of(y) < 0.7);
    }
  }
}

// The table in docs/unit_scaling.md: C_in ≠ C_out and stride 2, where the constraints differ.
// Prints the measured stds (doctest MESSAGEs).
TEST_CASE("unit_scaling: the constraints' measured stds (the table in docs/unit_scaling.md)") {
  manual_seed(99);
  struct Shape3 {
    std::int64_t c_in, c_out, k, stride;
  };
  for (Shape3 sh : {Shape3{64, 256, 3, 1}, Shape3{256, 64, 3, 1}, Shape3{128, 128, 4, 2}}) {
    Tensor x = randn({4, sh.c_in, 1024}).requires_grad_(true);
    for (us::Constraint c : kAllConstraints) {
      us::Conv1d conv(us::Conv1dOptions(sh.c_in, sh.c_out, sh.k).stride(sh.stride).constraint(c));
      x.zero_grad();
      Tensor y = conv(x);
      y.backward(randn(y.sizes()));
      const auto ideal = U::conv1d_scales(x.sizes(), conv->weight.sizes(),
                                          U::Conv1dFuncOptions().stride(sh.stride).constraint(
                                              us::kNoConstraint));
      const auto got = U::conv1d_scales(x.sizes(), conv->weight.sizes(), conv->func_options());
      const double out_std = std_of(y), grad_std = std_of(x.grad());
      MESSAGE("C_in=", sh.c_in, " C_out=", sh.c_out, " K=", sh.k, " stride=", sh.stride, " ",
              us::constraint_name(c), ": output std ", out_std, " (predicted ",
              got.output / ideal.output, "), grad_input std ", grad_std, " (predicted ",
              got.grad_input / ideal.grad_input, ")");
      CHECK(rel_err(out_std, got.output / ideal.output) < 0.1);
      CHECK(rel_err(grad_std, got.grad_input / ideal.grad_input) < 0.1);
    }
  }
}

TEST_CASE("unit_scaling: tagged_parameters and set_mup_scaling_depth") {
  nn::Sequential net(us::Conv1d(us::Conv1dOptions(4, 8, 3).bias(true)),
                     nn::Conv1d(nn::Conv1dOptions(8, 8, 1)),
                     us::Linear(us::LinearOptions(8, 2).weight_mup_type(us::MupType::Output)));
  auto params = us::tagged_parameters(*net);
  REQUIRE(params.size() == 5);
  CHECK(params[0].name == "0.weight");
  CHECK(params[0].tag->type == us::MupType::Weight);
  CHECK(params[1].name == "0.bias");
  CHECK(params[1].tag->type == us::MupType::Bias);
  CHECK(params[2].name == "1.weight");
  CHECK_FALSE(params[2].tag.has_value());  // a plain module's parameter
  CHECK_FALSE(params[3].tag.has_value());
  CHECK(params[4].name == "2.weight");
  CHECK(params[4].tag->type == us::MupType::Output);
  CHECK(params[4].tensor.is_same(net->ptr<us::LinearImpl>(2)->weight));

  check_error([&] { us::set_mup_scaling_depth(*net, 3); },
              {"set_mup_scaling_depth", "1.weight", "not a unit-scaling parameter"});
  CHECK_FALSE(us::tagged_parameters(*net)[0].tag->scaling_depth.has_value());  // atomic
  nn::Sequential stack(us::Linear(4, 4), us::Linear(4, 4));
  us::set_mup_scaling_depth(*stack, 2);
  for (const auto& p : us::tagged_parameters(*stack)) CHECK(*p.tag->scaling_depth == 2);
  check_error([&] { us::set_mup_scaling_depth(*stack, 2); }, {"already has mup_scaling_depth=2"});
  check_error([&] { us::set_mup_scaling_depth(*stack, 0); }, {"positive"});
}

TEST_CASE("unit_scaling: optimizer learning rates per mup_type, by hand") {
  // The original's test_scaled_parameters: a stack of depth 3, base lr 0.1, weight decay 1e-3.
  nn::Sequential stack(us::Linear(us::LinearOptions(16, 16).bias(true)),
                       us::Linear(us::LinearOptions(16, 16).bias(true)),
                       us::Linear(us::LinearOptions(16, 16).bias(true)));
  us::set_mup_scaling_depth(*stack, 3);
  nn::Sequential model(us::Conv1d(us::Conv1dOptions(4, 16, 3)),  // weight (16, 4, 3): fan_in 12
                       stack, us::Linear(us::LinearOptions(16, 1024).weight_mup_type("output")));
  const double lr = 0.1, wd = 1e-3, sqrt_d = std::sqrt(3.0);
  auto lrs = [](const optim::Optimizer& opt) {
    std::vector<double> out;
    for (const auto& g : opt.param_groups()) out.push_back(g.options().get("lr"));
    return out;
  };
  auto wds = [](const optim::Optimizer& opt) {
    std::vector<double> out;
    for (const auto& g : opt.param_groups()) out.push_back(g.options().get("weight_decay"));
    return out;
  };
  // conv weight, 3 × (weight, bias) at depth 3, readout
  const std::vector<double> adam{lr / std::sqrt(12.0), lr / 4 / sqrt_d, lr / sqrt_d,
                                 lr / 4 / sqrt_d,      lr / sqrt_d,     lr / 4 / sqrt_d,
                                 lr / sqrt_d,          lr};
  us::Adam a(*model, optim::AdamOptions(lr).weight_decay(wd));
  REQUIRE(a.param_groups().size() == adam.size());
  auto got = lrs(a), got_wd = wds(a);
  for (std::size_t i = 0; i < adam.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(adam[i]).epsilon(1e-14));
    CHECK(got_wd[i] == doctest::Approx(wd / adam[i]).epsilon(1e-14));  // independent
  }
  us::AdamW aw(*model, optim::AdamWOptions(lr));
  CHECK(lrs(aw) == lrs(a));
  for (double d : wds(aw)) CHECK(d == 0.0);  // the original's AdamW default: 0
  us::AdamW aw2(*model, optim::AdamWOptions(lr).weight_decay(0.01),
                us::UnitScalingOptions().independent_weight_decay(false));
  for (double d : wds(aw2)) CHECK(d == 0.01);

  // SGD, readout_constraint=to_output_scale: weight lr·fan_in^1/2, bias lr·shape[0], output lr
  const std::vector<double> sgd{lr * std::sqrt(12.0), lr * 4 / sqrt_d, lr * 16 / sqrt_d,
                                lr * 4 / sqrt_d,      lr * 16 / sqrt_d, lr * 4 / sqrt_d,
                                lr * 16 / sqrt_d,     lr};
  us::SGD s(*model, optim::SGDOptions(lr),
            us::UnitScalingOptions().readout_constraint(us::kToOutputScale));
  got = lrs(s);
  for (std::size_t i = 0; i < sgd.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(sgd[i]).epsilon(1e-14));
  }
  us::SGD s_none(*model, optim::SGDOptions(lr));  // no readout constraint: Adam's rule
  CHECK(lrs(s_none) == lrs(a));
  us::SGD s_none2(*model, optim::SGDOptions(lr),
                  us::UnitScalingOptions().readout_constraint(us::kNoConstraint));
  CHECK(lrs(s_none2) == lrs(a));

  // fan_in by rank
  CHECK(us::mup_fan_in({7}) == 7);
  CHECK(us::mup_fan_in({7, 5}) == 5);
  CHECK(us::mup_fan_in({7, 5, 3}) == 15);
  check_error([] { us::mup_fan_in({1, 2, 3, 4}); }, {"4-D", "[1, 2, 3, 4]"});
  check_error([] { us::mup_fan_in({}); }, {"0-D"});
}

TEST_CASE("unit_scaling: optimizer errors and untagged parameters") {
  nn::Sequential net(us::Linear(4, 4), nn::Linear(4, 2));
  check_error([&] { us::Adam(*net, optim::AdamOptions(0.1)); },
              {"unit_scaling::Adam", "1.weight", "[2, 4]", "not a unit-scaling parameter",
               "allow_non_unit_scaling_params"});
  check_error([&] { us::SGD(*net, optim::SGDOptions(0.1)); }, {"unit_scaling::SGD", "1.weight"});
  us::Adam allowed(*net, optim::AdamOptions(0.1).weight_decay(0.2),
                   us::UnitScalingOptions().allow_non_unit_scaling_params(true));
  REQUIRE(allowed.param_groups().size() == 3);
  CHECK(allowed.param_groups()[0].options().get("lr") == doctest::Approx(0.05));
  CHECK(allowed.param_groups()[1].options().get("lr") == 0.1);  // untagged: the base lr
  CHECK(allowed.param_groups()[1].options().get("weight_decay") == doctest::Approx(2.0));
  check_error([&] {
    us::Adam(*net, optim::AdamOptions(0.1),
             us::UnitScalingOptions().readout_constraint(us::kToOutputScale));
  }, {"unit_scaling::Adam", "readout_constraint", "SGD only"});
  us::Linear l(4, 4);
  check_error([&] {
    us::SGD(*l, optim::SGDOptions(0.1), us::UnitScalingOptions().readout_constraint(us::kGMean));
  }, {"unhandled readout_constraint gmean"});
  check_error([&] { us::SGD(*l, optim::SGDOptions()); }, {"unit_scaling::SGD", "lr"});
  check_error([&] { us::Adam(*l, optim::AdamOptions(0.0).weight_decay(0.1)); },
              {"independent_weight_decay", "weight_decay=0.1", "weight", "which is 0"});
  us::Adam zero_lr(*l, optim::AdamOptions(0.0));  // no weight decay: nothing to divide
  check_error([&] { us::Adam(*l, optim::AdamOptions(-1.0)); }, {"Invalid learning rate"});
  // a 4-D weight has no fan_in; a 0-D bias no shape[0] (SGD)
  std::vector<us::TaggedParameter> four{{"w", zeros({2, 2, 2, 2}).requires_grad_(true),
                                         us::MupTag{us::MupType::Weight, std::nullopt}}};
  check_error([&] { us::Adam(four, optim::AdamOptions(0.1)); }, {"4-D"});
  std::vector<us::TaggedParameter> scalar{{"b", zeros({}).requires_grad_(true),
                                           us::MupTag{us::MupType::Bias, std::nullopt}}};
  us::Adam ok(scalar, optim::AdamOptions(0.1));
  check_error([&] {
    us::SGD(scalar, optim::SGDOptions(0.1),
            us::UnitScalingOptions().readout_constraint(us::kToOutputScale));
  }, {"0-D"});
  std::vector<us::TaggedParameter> deep{{"w", zeros({2, 2}).requires_grad_(true),
                                         us::MupTag{us::MupType::Weight, 0}}};
  check_error([&] { us::Adam(deep, optim::AdamOptions(0.1)); }, {"mup_scaling_depth", "0"});
}

TEST_CASE("unit_scaling: a unit-scaled model trains with its optimizers") {
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    manual_seed(5);
    nn::Sequential model(us::Conv1d(us::Conv1dOptions(2, 8, 3).padding(kCausal).bias(true)),
                         nn::ReLU(),
                         us::Conv1d(us::Conv1dOptions(8, 1, 1).weight_mup_type("output")));
    Tensor x = randn({4, 2, 32}), target = randn({4, 1, 32});
    std::unique_ptr<optim::Optimizer> opt;
    if (which == 0) opt = std::make_unique<us::Adam>(*model, optim::AdamOptions(0.05));
    if (which == 1) opt = std::make_unique<us::AdamW>(*model, optim::AdamWOptions(0.05));
    if (which == 2) opt = std::make_unique<us::SGD>(*model, optim::SGDOptions(0.05));
    double first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
      opt->zero_grad();
      Tensor loss = U::mse_loss(model->forward(x), target);
      if (step == 0) first = loss.item<double>();
      last = loss.item<double>();
      loss.backward();
      opt->step();
    }
    CHECK(last < first);
  }
}

// The layers assume no dtype: in bfloat16 (computed in float32, rounded once per op) the
// unit-scaled Conv1d gives float32's results on the same bf16 values, to bf16's precision.
TEST_CASE("unit_scaling: Conv1d forward and backward in bfloat16") {
  test::on_cpu_backends([] {
    manual_seed(8);
    us::Conv1d conv(us::Conv1dOptions(16, 32, 3).padding(kCausal).dilation(2).bias(true)
                        .constraint(us::kNoConstraint).dtype(kBFloat16));
    REQUIRE(conv->weight.dtype() == kBFloat16);
    {
      NoGradGuard no_grad;
      conv->bias.copy_(randn({32}).to(kBFloat16));  // a non-zero bias, to see its gradient
    }
    Tensor x = randn({2, 16, 64}).to(kBFloat16).requires_grad_(true);
    Tensor y = conv(x);
    REQUIRE(y.dtype() == kBFloat16);
    Tensor gy = randn(y.sizes()).to(kBFloat16);
    y.backward(gy);
    REQUIRE(x.grad().dtype() == kBFloat16);
    REQUIRE(conv->weight.grad().dtype() == kBFloat16);
    REQUIRE(conv->bias.grad().dtype() == kBFloat16);

    // float32 on the same (already bf16) values
    Tensor xr = x.detach().to(kFloat32).requires_grad_(true);
    Tensor wr = conv->weight.detach().to(kFloat32).requires_grad_(true);
    Tensor br = conv->bias.detach().to(kFloat32).requires_grad_(true);
    Tensor yr = U::conv1d(xr, wr, br, conv->func_options());
    yr.backward(gy.to(kFloat32));
    // two roundings to bf16 (the op's result, then the scale): 2 · 2^-9 relative, plus the
    // rounding of values near 0 after the bias
    auto close = [](const Tensor& got, const Tensor& want) {
      const std::vector<double> g = got.to(kFloat64).to_vector<double>();
      const std::vector<double> w = want.to(kFloat64).to_vector<double>();
      REQUIRE(g.size() == w.size());
      double max_abs = 0;
      for (double v : w) max_abs = std::max(max_abs, std::abs(v));
      int bad = 0;
      for (std::size_t i = 0; i < g.size(); ++i) {
        if (std::abs(g[i] - w[i]) > 0x1p-7 * std::abs(w[i]) + 0x1p-8 * max_abs) ++bad;
      }
      CHECK(bad == 0);
    };
    close(y, yr);
    close(x.grad(), xr.grad());
    close(conv->weight.grad(), wr.grad());
    close(conv->bias.grad(), br.grad());
    // and it is unit-scaled: output and grad_input std near 1 even in bf16
    CHECK(std::abs(std_of(x.grad()) - 1) < 0.25);
  });
}
