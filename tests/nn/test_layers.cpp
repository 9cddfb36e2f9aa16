// The basic layers and activations (nn/linear.hpp, nn/embedding.hpp, nn/dropout.hpp,
// nn/activation.hpp and their nn::functional twins):
//   - against PyTorch's numbers: tests/nn/golden/layers/ holds, per case, the input, the
//     parameters and grad_output PyTorch 1.13 used and the output and gradients it computed
//     (tests/nn/golden/make_layers_golden.py made them; its docstring gives the format);
//   - gradcheck of every new differentiable function;
//   - init and dropout statistically (reel's random stream is not PyTorch's);
//   - reprs (hard-coded from python3-torch 1.13's print), and bad input.
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

const std::string kGoldenDir = test::golden::dir("layers");

struct Case {
  std::string line, id, kind;
  DType dtype = kFloat32;
  Shape shape;
  std::map<std::string, std::string> params;
  double num(const std::string& k) const { return std::stod(params.at(k)); }
  std::int64_t integer(const std::string& k) const { return std::stoll(params.at(k)); }
};

std::vector<Case> read_index() {
  std::vector<Case> cases;
  for (const std::string& line : test::golden::index_lines(kGoldenDir + "/index.txt")) {
    Case c;
    c.line = line;
    std::istringstream ss(line);
    std::string dtype, shape, params;
    ss >> c.id >> c.kind >> dtype >> shape >> params;
    c.dtype = test::golden::parse_dtype(dtype);
    if (shape != "scalar") {
      std::istringstream sh(shape);
      std::string part;
      while (std::getline(sh, part, 'x')) c.shape.push_back(std::stoll(part));
    }
    if (params != "-") {
      std::istringstream ps(params);
      std::string kv;
      while (std::getline(ps, kv, ',')) {
        auto eq = kv.find('=');
        c.params[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
    }
    cases.push_back(c);
  }
  return cases;
}

std::string file_of(const Case& c, const char* suffix = "") {
  std::string id = c.id;
  while (id.size() < 3) id = "0" + id;
  return kGoldenDir + "/" + id + suffix + ".npy";
}

// Reads consecutive tensors off a flat array.
struct Reader {
  Tensor flat;
  std::int64_t offset = 0;
  Tensor next(const Shape& shape) {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    REQUIRE(offset + n <= flat.numel());
    Tensor t = flat.narrow(0, offset, n).reshape(shape).clone();
    offset += n;
    return t;
  }
};

double rtol_of(DType d) { return d == kFloat64 ? 1e-10 : 1e-5; }
double atol_of(DType d) { return d == kFloat64 ? 1e-12 : 1e-6; }

void check_close(const Tensor& got, const Tensor& want, const char* what) {
  CAPTURE(what);
  REQUIRE(got.defined());
  REQUIRE(got.sizes() == want.sizes());
  CHECK(got.dtype() == want.dtype());
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  const double rtol = rtol_of(want.dtype()), atol = atol_of(want.dtype());
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(i);
    CAPTURE(g[i]);
    CAPTURE(w[i]);
    if (std::isnan(w[i])) CHECK(std::isnan(g[i]));
    else if (std::isinf(w[i])) CHECK(g[i] == w[i]);
    else CHECK(std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i]));
  }
}

// The module of an activation case, as a callable, plus its functional twin.
std::pair<std::function<Tensor(const Tensor&)>, std::function<Tensor(const Tensor&)>> activation(
    const Case& c) {
  const std::string& k = c.kind;
  if (k == "relu") return {nn::ReLU(), [](const Tensor& x) { return F::relu(x); }};
  if (k == "leaky_relu") {
    auto o = nn::LeakyReLUOptions().negative_slope(c.num("slope"));
    return {nn::LeakyReLU(o), [o](const Tensor& x) { return F::leaky_relu(x, o); }};
  }
  if (k == "elu") {
    auto o = nn::ELUOptions().alpha(c.num("alpha"));
    return {nn::ELU(o), [o](const Tensor& x) { return F::elu(x, o); }};
  }
  if (k == "gelu") {
    auto o = nn::GELUOptions().approximate(c.params.at("approximate"));
    return {nn::GELU(o), [o](const Tensor& x) { return F::gelu(x, o); }};
  }
  if (k == "silu") return {nn::SiLU(), [](const Tensor& x) { return F::silu(x); }};
  if (k == "mish") return {nn::Mish(), [](const Tensor& x) { return F::mish(x); }};
  if (k == "tanh") return {nn::Tanh(), [](const Tensor& x) { return F::tanh(x); }};
  if (k == "sigmoid") return {nn::Sigmoid(), [](const Tensor& x) { return F::sigmoid(x); }};
  if (k == "softplus") {
    auto o = nn::SoftplusOptions().beta(c.num("beta")).threshold(c.num("threshold"));
    return {nn::Softplus(o), [o](const Tensor& x) { return F::softplus(x, o); }};
  }
  if (k == "hardtanh") {
    auto o = nn::HardtanhOptions().min_val(c.num("min")).max_val(c.num("max"));
    return {nn::Hardtanh(o), [o](const Tensor& x) { return F::hardtanh(x, o); }};
  }
  if (k == "softmax") {
    std::int64_t d = c.integer("dim");
    return {nn::Softmax(d), [d](const Tensor& x) { return F::softmax(x, d); }};
  }
  if (k == "log_softmax") {
    std::int64_t d = c.integer("dim");
    return {nn::LogSoftmax(d), [d](const Tensor& x) { return F::log_softmax(x, d); }};
  }
  if (k == "glu") {
    std::int64_t d = c.integer("dim");
    return {nn::GLU(d), [d](const Tensor& x) { return F::glu(x, F::GLUFuncOptions(d)); }};
  }
  FAIL("unknown kind " << k);
  return {};
}

// x, grad_output, output and grad_input, through the module and the functional form; the
// output has `out_shape` (the input's, but for GLU).
void run_activation_case(const Case& c, const Shape& out_shape) {
  Reader r{load_npy(file_of(c))};
  Tensor x = r.next(c.shape), g = r.next(out_shape);
  Tensor out = r.next(out_shape), gx = r.next(c.shape);
  CHECK(r.offset == r.flat.numel());
  auto [module, functional] = activation(c);
  for (int which = 0; which < 2; ++which) {
    CAPTURE(which == 0 ? "module" : "functional");
    Tensor xl = x.clone().requires_grad_(true);
    Tensor y = which == 0 ? module(xl) : functional(xl);
    check_close(y, out, "output");
    y.backward(g);
    check_close(xl.grad(), gx, "grad_input");
  }
}

Shape glu_out_shape(const Case& c) {
  Shape s = c.shape;
  std::int64_t d = c.integer("dim");
  if (d < 0) d += s.size();
  s[d] /= 2;
  return s;
}

void run_prelu_case(const Case& c) {
  Reader r{load_npy(file_of(c))};
  const std::int64_t n = c.integer("n");
  Tensor x = r.next(c.shape), g = r.next(c.shape), w = r.next({n});
  Tensor out = r.next(c.shape), gx = r.next(c.shape), gw = r.next({n});
  CHECK(r.offset == r.flat.numel());
  nn::PReLU m(nn::PReLUOptions().num_parameters(n).dtype(c.dtype));
  m->weight.detach().copy_(w);
  Tensor xl = x.clone().requires_grad_(true);
  Tensor y = m(xl);
  check_close(y, out, "output");
  y.backward(g);
  check_close(xl.grad(), gx, "grad_input");
  check_close(m->weight.grad(), gw, "grad_weight");
  // the functional form
  Tensor wl = w.clone().requires_grad_(true);
  Tensor xl2 = x.clone().requires_grad_(true);
  Tensor y2 = F::prelu(xl2, wl);
  check_close(y2, out, "F output");
  y2.backward(g);
  check_close(xl2.grad(), gx, "F grad_input");
  check_close(wl.grad(), gw, "F grad_weight");
}

void run_linear_case(const Case& c) {
  Reader r{load_npy(file_of(c))};
  const std::int64_t in = c.shape[c.shape.size() - 1], out_f = c.integer("out");
  const bool bias = c.integer("bias") == 1;
  Shape os = c.shape;
  os[os.size() - 1] = out_f;
  Tensor x = r.next(c.shape), w = r.next({out_f, in});
  Tensor b = bias ? r.next({out_f}) : Tensor();
  Tensor g = r.next(os), out = r.next(os), gx = r.next(c.shape), gw = r.next({out_f, in});
  Tensor gb = bias ? r.next({out_f}) : Tensor();
  CHECK(r.offset == r.flat.numel());
  nn::Linear m(nn::LinearOptions(in, out_f).bias(bias).dtype(c.dtype));
  m->weight.detach().copy_(w);
  if (bias) m->bias.detach().copy_(b);
  Tensor xl = x.clone().requires_grad_(true);
  Tensor y = m(xl);
  check_close(y, out, "output");
  y.backward(g);
  check_close(xl.grad(), gx, "grad_input");
  check_close(m->weight.grad(), gw, "grad_weight");
  if (bias) check_close(m->bias.grad(), gb, "grad_bias");
  else CHECK_FALSE(m->bias.defined());
  // the functional form
  Tensor wl = w.clone().requires_grad_(true);
  Tensor bl = bias ? b.clone().requires_grad_(true) : Tensor();
  Tensor xl2 = x.clone().requires_grad_(true);
  Tensor y2 = F::linear(xl2, wl, bl);
  check_close(y2, out, "F output");
  y2.backward(g);
  check_close(xl2.grad(), gx, "F grad_input");
  check_close(wl.grad(), gw, "F grad_weight");
  if (bias) check_close(bl.grad(), gb, "F grad_bias");
}

void run_embedding_case(const Case& c) {
  Reader r{load_npy(file_of(c))};
  Tensor idx = load_npy(file_of(c, "_idx"));
  REQUIRE(idx.dtype() == kInt64);
  const std::int64_t num = c.integer("num"), dim = c.integer("dim");
  Shape os = c.shape;
  os.push_back(dim);
  Tensor w = r.next({num, dim}), g = r.next(os), out = r.next(os), gw = r.next({num, dim});
  CHECK(r.offset == r.flat.numel());
  std::optional<std::int64_t> pad;
  if (c.params.at("pad") != "none") pad = c.integer("pad");
  for (DType index_dtype : {kInt64, kInt32}) {
    CAPTURE(index_dtype);
    nn::Embedding m(nn::EmbeddingOptions(num, dim).dtype(c.dtype).padding_idx(pad));
    m->weight.detach().copy_(w);
    Tensor y = m(idx.to(index_dtype));
    check_close(y, out, "output");
    y.backward(g);
    check_close(m->weight.grad(), gw, "grad_weight");
    // the functional form
    Tensor wl = w.clone().requires_grad_(true);
    Tensor y2 = F::embedding(idx.to(index_dtype), wl, F::EmbeddingFuncOptions().padding_idx(pad));
    check_close(y2, out, "F output");
    y2.backward(g);
    check_close(wl.grad(), gw, "F grad_weight");
  }
}

}  // namespace

TEST_CASE("layers: golden values from PyTorch (forward and gradients)") {
  auto cases = read_index();
  REQUIRE(cases.size() >= 140);
  test::on_cpu_backends([&] {
    for (const auto& c : cases) {
      CAPTURE(c.line);
      if (c.kind == "prelu") run_prelu_case(c);
      else if (c.kind == "linear") run_linear_case(c);
      else if (c.kind == "embedding") run_embedding_case(c);
      else if (c.kind == "glu") run_activation_case(c, glu_out_shape(c));
      else run_activation_case(c, c.shape);
    }
  });
}

TEST_CASE("layers: gradcheck of the new differentiable functions") {
  manual_seed(7);
  auto ok = [](auto f, std::vector<Tensor> inputs) {
    auto res = autograd::gradcheck(f, inputs);
    CHECK_MESSAGE(res.ok, res.message);
  };
  // inputs away from the branch points (finite differences can't straddle a kink)
  auto away = [](Tensor x) {
    NoGradGuard ng;
    Tensor d = x.detach();
    d.copy_(where(lt(abs(d), 0.1), add(d, 0.3), d));
    return x;
  };
  Tensor x = away(test::leaf({3, 4}));
  using V = const std::vector<Tensor>&;
  ok([](V v) { return F::leaky_relu(v[0], nn::LeakyReLUOptions().negative_slope(0.2)); }, {x});
  ok([](V v) { return F::elu(v[0], nn::ELUOptions().alpha(0.7)); }, {x});
  ok([](V v) { return F::gelu(v[0], nn::GELUOptions().approximate("tanh")); }, {x});
  ok([](V v) { return F::mish(v[0]); }, {x});
  ok([](V v) { return F::softplus(v[0], nn::SoftplusOptions().beta(2).threshold(1.5)); }, {x});
  ok([](V v) { return F::softplus(v[0]); }, {x});
  ok([](V v) { return F::hardtanh(v[0], nn::HardtanhOptions().min_val(-0.8).max_val(0.9)); },
     {x});
  Tensor xg = test::leaf({4, 6});
  ok([](V v) { return F::glu(v[0], 0); }, {xg});
  ok([](V v) { return F::glu(v[0], -1); }, {xg});
  Tensor w = test::leaf({4});
  ok([](V v) { return F::prelu(v[0], v[1]); }, {x, w});
  Tensor w1 = test::leaf({1});
  ok([](V v) { return F::prelu(v[0], v[1]); }, {x, w1});
  Tensor lw = test::leaf({5, 4}), lb = test::leaf({5}), x3 = test::leaf({2, 3, 4});
  ok([](V v) { return F::linear(v[0], v[1], v[2]); }, {x3, lw, lb});
  ok([](V v) { return F::linear(v[0], v[1]); }, {test::leaf({4}), lw});
  Tensor ew = test::leaf({6, 3});
  Tensor idx = tensor(std::vector<std::int64_t>{1, 2, 2, 5, 0, 2}, {2, 3}, TensorOptions(kInt64));
  ok([idx](V v) { return F::embedding(idx, v[0]); }, {ew});
  // With a padding_idx the padding row's gradient is zero by definition, not the derivative
  // (finite differences see the row), so here the padding row is one no index reads: the
  // other rows' gradients must be untouched by the masking.
  ok([idx](V v) { return F::embedding(idx, v[0], F::EmbeddingFuncOptions().padding_idx(3)); },
     {ew});
  // Softplus beyond its threshold is the identity (gradient 1), and between the two branches
  // the derivative is the sigmoid.
  ok([](V v) { return F::softplus(v[0], nn::SoftplusOptions().threshold(-0.5)); }, {x});
}

TEST_CASE("layers: the branch points' gradients are PyTorch's") {
  auto grad_at = [](auto f, std::vector<double> xs) {
    Tensor x = tensor(xs, {static_cast<std::int64_t>(xs.size())}, TensorOptions(kFloat64))
                   .requires_grad_(true);
    f(x).backward(ones_like(x));
    return x.grad().to_vector<double>();
  };
  // leaky_relu: slope at 0; elu: alpha at 0
  CHECK(grad_at([](const Tensor& x) { return F::leaky_relu(x); }, {0.0})[0] == 0.01);
  CHECK(grad_at([](const Tensor& x) { return F::elu(x, nn::ELUOptions().alpha(0.7)); },
                {0.0})[0] == 0.7);
  // hardtanh passes the gradient strictly inside (min, max) only
  auto h = grad_at([](const Tensor& x) { return F::hardtanh(x); }, {-1.0, 1.0, -0.999, 0.999, 2.0});
  CHECK(h == std::vector<double>{0, 0, 1, 1, 0});
  // softplus at exactly the threshold: the sigmoid branch; above: 1
  auto s = grad_at([](const Tensor& x) { return F::softplus(x); }, {20.0, 20.5, 0.0});
  CHECK(s[0] == doctest::Approx(1.0 / (1.0 + std::exp(-20.0))));
  CHECK(s[1] == 1.0);
  CHECK(s[2] == 0.5);
  // relu and prelu at 0
  CHECK(grad_at([](const Tensor& x) { return F::relu(x); }, {0.0})[0] == 0.0);
  // elu, mish, softplus at large |x|: no NaN from the branch not taken
  for (double v : {-800.0, 800.0}) {
    CAPTURE(v);
    CHECK(std::isfinite(grad_at([](const Tensor& x) { return F::elu(x); }, {v})[0]));
    CHECK(std::isfinite(grad_at([](const Tensor& x) { return F::softplus(x); }, {v})[0]));
    CHECK(std::isfinite(grad_at([](const Tensor& x) { return F::mish(x); }, {v})[0]));
  }
}

TEST_CASE("layers: log1p and expm1 helpers are accurate near 0 and at the extremes") {
  auto rel_ok = [](double got, double want, double tol) {
    CAPTURE(got);
    CAPTURE(want);
    CHECK(std::fabs(got - want) <= tol * std::fabs(want));
  };
  std::vector<double> xs{0.0, 1e-300, -1e-20, 1e-10, -3e-8, 1e-3, -0.5, 0.7, 5.0, 100.0, -1.0};
  Tensor x = tensor(xs, {static_cast<std::int64_t>(xs.size())}, TensorOptions(kFloat64));
  auto l = F::log1p_nograd(x).to_vector<double>();
  auto e = F::expm1_nograd(x).to_vector<double>();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    CAPTURE(xs[i]);
    if (xs[i] == -1.0) CHECK(l[i] == -INFINITY);
    else rel_ok(l[i], std::log1p(xs[i]), 1e-15);
    rel_ok(e[i], std::expm1(xs[i]), 1e-15);
  }
  Tensor big = tensor(std::vector<double>{INFINITY, -INFINITY, 1000.0}, {3}, TensorOptions(kFloat64));
  auto eb = F::expm1_nograd(big).to_vector<double>();
  CHECK(eb[0] == INFINITY);
  CHECK(eb[1] == -1.0);
  CHECK(eb[2] == INFINITY);
  CHECK(F::log1p_nograd(big).to_vector<double>()[0] == INFINITY);
  // float32 too: relative to the exact value of the float input
  std::vector<float> xf{1e-7f, -2e-6f, 0.25f, -0.01f};
  Tensor tf = tensor(xf, {4}, TensorOptions(kFloat32));
  auto lf = F::log1p_nograd(tf).to_vector<double>();
  auto ef = F::expm1_nograd(tf).to_vector<double>();
  for (std::size_t i = 0; i < xf.size(); ++i) {
    CAPTURE(xf[i]);
    rel_ok(lf[i], std::log1p(double(xf[i])), 1e-6);
    rel_ok(ef[i], std::expm1(double(xf[i])), 1e-6);
  }
}

TEST_CASE("layers: reprs are PyTorch's") {
  // Each expected string is what python3-torch 1.13 prints for the corresponding torch.nn module.
  auto r = [](const auto& holder) { return holder->repr(); };
  CHECK(r(nn::Linear(3, 4)) == "Linear(in_features=3, out_features=4, bias=True)");
  CHECK(r(nn::Linear(nn::LinearOptions(3, 4).bias(false))) ==
        "Linear(in_features=3, out_features=4, bias=False)");
  CHECK(r(nn::Identity()) == "Identity()");
  CHECK(r(nn::Flatten()) == "Flatten(start_dim=1, end_dim=-1)");
  CHECK(r(nn::Flatten(nn::FlattenOptions().start_dim(0).end_dim(2))) ==
        "Flatten(start_dim=0, end_dim=2)");
  CHECK(r(nn::Unflatten(nn::UnflattenOptions(1, {2, 3}))) ==
        "Unflatten(dim=1, unflattened_size=(2, 3))");
  CHECK(r(nn::Unflatten(nn::UnflattenOptions(0, {5}))) == "Unflatten(dim=0, unflattened_size=(5,))");
  CHECK(r(nn::Embedding(10, 3)) == "Embedding(10, 3)");
  CHECK(r(nn::Embedding(nn::EmbeddingOptions(10, 3).padding_idx(-2))) ==
        "Embedding(10, 3, padding_idx=8)");
  CHECK(r(nn::Embedding(nn::EmbeddingOptions(10, 3).padding_idx(2))) ==
        "Embedding(10, 3, padding_idx=2)");
  CHECK(r(nn::Dropout()) == "Dropout(p=0.5, inplace=False)");
  CHECK(r(nn::Dropout(nn::DropoutOptions(0.2).inplace(true))) == "Dropout(p=0.2, inplace=True)");
  CHECK(r(nn::Dropout(0.123456789)) == "Dropout(p=0.123456789, inplace=False)");
  CHECK(r(nn::Dropout1d(0.3)) == "Dropout1d(p=0.3, inplace=False)");
  CHECK(r(nn::ReLU()) == "ReLU()");
  CHECK(r(nn::LeakyReLU()) == "LeakyReLU(negative_slope=0.01)");
  CHECK(r(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2))) ==
        "LeakyReLU(negative_slope=0.2)");
  CHECK(r(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(1e-3))) ==
        "LeakyReLU(negative_slope=0.001)");
  CHECK(r(nn::PReLU()) == "PReLU(num_parameters=1)");
  CHECK(r(nn::PReLU(nn::PReLUOptions().num_parameters(3).init(0.1))) == "PReLU(num_parameters=3)");
  CHECK(r(nn::ELU()) == "ELU(alpha=1.0)");
  CHECK(r(nn::ELU(nn::ELUOptions().alpha(0.5))) == "ELU(alpha=0.5)");
  CHECK(r(nn::ELU(nn::ELUOptions().alpha(1.5))) == "ELU(alpha=1.5)");
  CHECK(r(nn::GELU()) == "GELU(approximate='none')");
  CHECK(r(nn::GELU(nn::GELUOptions().approximate("tanh"))) == "GELU(approximate='tanh')");
  CHECK(r(nn::SiLU()) == "SiLU()");
  CHECK(r(nn::Mish()) == "Mish()");
  CHECK(r(nn::Tanh()) == "Tanh()");
  CHECK(r(nn::Sigmoid()) == "Sigmoid()");
  // torch 1.13's Softplus defaults are Python ints: nn.Softplus() prints "beta=1, threshold=20";
  // nn.Softplus(2, 10) and nn.Softplus(0.5, 20.5) as below.
  CHECK(r(nn::Softplus()) == "Softplus(beta=1, threshold=20)");
  CHECK(r(nn::Softplus(nn::SoftplusOptions().beta(2).threshold(10))) ==
        "Softplus(beta=2, threshold=10)");
  CHECK(r(nn::Softplus(nn::SoftplusOptions().beta(0.5).threshold(20.5))) ==
        "Softplus(beta=0.5, threshold=20.5)");
  CHECK(r(nn::Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)");
  CHECK(r(nn::Hardtanh(nn::HardtanhOptions().min_val(-2.5).max_val(3.5))) ==
        "Hardtanh(min_val=-2.5, max_val=3.5)");
  CHECK(r(nn::Softmax(1)) == "Softmax(dim=1)");
  CHECK(r(nn::LogSoftmax(-1)) == "LogSoftmax(dim=-1)");
  CHECK(r(nn::GLU()) == "GLU(dim=-1)");
  CHECK(r(nn::GLU(1)) == "GLU(dim=1)");
}

TEST_CASE("layers: Linear, PReLU and Embedding initialise as PyTorch") {
  manual_seed(11);
  nn::Linear lin(nn::LinearOptions(50, 40).dtype(kFloat64));
  const double bound = 1.0 / std::sqrt(50.0);
  auto w = lin->weight.to_vector<double>();
  auto b = lin->bias.to_vector<double>();
  double lo = 1, hi = -1, mean = 0;
  for (double v : w) { lo = std::min(lo, v); hi = std::max(hi, v); mean += v; }
  mean /= w.size();
  CHECK(lo >= -bound);
  CHECK(hi < bound);
  CHECK(lo < -0.95 * bound);  // 2000 draws cover the range
  CHECK(hi > 0.95 * bound);
  CHECK(std::fabs(mean) < 4 * bound / std::sqrt(3.0 * w.size()));
  for (double v : b) CHECK(std::fabs(v) <= bound);
  CHECK(lin->weight.requires_grad());
  CHECK(lin->parameters().size() == 2);
  CHECK(nn::Linear(nn::LinearOptions(3, 2).bias(false))->parameters().size() == 1);

  nn::PReLU p(nn::PReLUOptions().num_parameters(3));
  CHECK(p->weight.sizes() == Shape{3});
  CHECK(p->weight.to_vector<double>() == std::vector<double>{0.25, 0.25, 0.25});
  CHECK(p->weight.requires_grad());

  nn::Embedding e(nn::EmbeddingOptions(400, 50).padding_idx(-1).dtype(kFloat64));
  CHECK(e->padding_idx() == 399);
  auto ev = e->weight.to_vector<double>();
  double m = 0, m2 = 0;
  const std::size_t n = 399 * 50;
  for (std::size_t i = 0; i < n; ++i) { m += ev[i]; m2 += ev[i] * ev[i]; }
  m /= n;
  m2 /= n;
  CHECK(std::fabs(m) < 4.0 / std::sqrt(double(n)));
  CHECK(std::fabs(m2 - 1.0) < 4.0 * std::sqrt(2.0 / n));
  for (std::size_t i = n; i < ev.size(); ++i) CHECK(ev[i] == 0.0);
}

TEST_CASE("layers: Embedding from_pretrained shares the data; freeze") {
  Tensor vectors = tensor(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2}, TensorOptions(kFloat64));
  auto e = nn::Embedding::from_pretrained(vectors);
  CHECK_FALSE(e->weight.requires_grad());
  CHECK_FALSE(vectors.requires_grad());
  Tensor idx = tensor(std::vector<std::int64_t>{2, 0}, {2}, TensorOptions(kInt64));
  CHECK(e(idx).to_vector<double>() == std::vector<double>{5, 6, 1, 2});
  vectors.fill_(7.0);  // shared storage
  CHECK(e->weight.to_vector<double>()[0] == 7.0);
  CHECK(e->repr() == "Embedding(3, 2)");
  auto t = nn::Embedding::from_pretrained(vectors, /*freeze=*/false, /*padding_idx=*/1);
  CHECK(t->weight.requires_grad());
  CHECK(t->repr() == "Embedding(3, 2, padding_idx=1)");
  // the padding row keeps its pretrained values (not zeroed) but gets no gradient
  CHECK(t->weight.to_vector<double>()[2] == 7.0);
  t(tensor(std::vector<std::int64_t>{1, 1, 0}, {3}, TensorOptions(kInt64))).sum().backward();
  CHECK(t->weight.grad().to_vector<double>() == std::vector<double>{1, 1, 0, 0, 0, 0});
  CHECK_THROWS_AS(nn::Embedding::from_pretrained(zeros({3})), Error);
}

TEST_CASE("layers: Identity, Flatten, Unflatten") {
  Tensor x = arange(24, TensorOptions(kFloat64)).reshape({2, 3, 4});
  nn::Identity id;
  CHECK(id(x).is_same(x));
  nn::Flatten fl;
  CHECK(fl(x).sizes() == Shape{2, 12});
  CHECK(nn::Flatten(nn::FlattenOptions().start_dim(0))(x).sizes() == Shape{24});
  CHECK(nn::Flatten(nn::FlattenOptions().start_dim(0).end_dim(1))(x).sizes() == Shape{6, 4});
  CHECK(equal(fl(x).reshape({24}), x.reshape({24})));
  nn::Unflatten un(nn::UnflattenOptions(1, {2, 6}));
  Tensor y = un(fl(x));
  CHECK(y.sizes() == Shape{2, 2, 6});
  CHECK(equal(y.reshape({24}), x.reshape({24})));
  CHECK(nn::Unflatten(nn::UnflattenOptions(-1, {2, -1}))(x).sizes() == Shape{2, 3, 2, 2});
  test::check_error([&] { un(x); }, {"unflatten", "don't multiply up"});
  test::check_error([&] { nn::Unflatten(nn::UnflattenOptions(5, {2, 2}))(x); }, {"unflatten"});
  CHECK_THROWS_AS(nn::Unflatten(nn::UnflattenOptions(1, {-1, -1})), Error);
  CHECK_THROWS_AS(nn::Unflatten(nn::UnflattenOptions(1, {})), Error);
  CHECK_THROWS_AS(nn::Flatten(nn::FlattenOptions().start_dim(3))(x), Error);
  // gradient flows through
  Tensor xl = x.clone().requires_grad_(true);
  un(fl(xl)).sum().backward();
  CHECK(equal(xl.grad(), ones_like(x)));
}

TEST_CASE("layers: Dropout keeps each element with probability 1 - p, scaled by 1 / (1 - p)") {
  for (DType dt : {kFloat32, kFloat64}) {
    CAPTURE(dt);
    for (double p : {0.2, 0.5, 0.9}) {
      CAPTURE(p);
      manual_seed(123);
      const std::int64_t n = 200000;
      Tensor x = add(rand({n}, TensorOptions(dt)), 0.5).requires_grad_(true);
      nn::Dropout d(p);
      Tensor y = d(x);
      auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
      const double scale = 1.0 / (1.0 - p);
      std::int64_t kept = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        if (yv[i] != 0.0) {
          ++kept;
          // scaled exactly as PyTorch: x * (1/(1-p) rounded to the dtype)
          double s = dt == kFloat32 ? double(float(xv[i]) * float(scale)) : xv[i] * scale;
          if (yv[i] != s) { CHECK(yv[i] == s); break; }
        }
      }
      // keep count ~ Binomial(n, 1 - p): within 5 standard deviations
      const double mu = n * (1 - p), sd = std::sqrt(n * p * (1 - p));
      CHECK(std::fabs(kept - mu) < 5 * sd);
      // gradient: the mask over (1 - p)
      y.backward(ones_like(y));
      auto gv = x.grad().to_vector<double>();
      for (std::int64_t i = 0; i < 1000; ++i) {
        CHECK(gv[i] == (yv[i] != 0.0 ? double(dt == kFloat32 ? float(scale) : scale) : 0.0));
      }
      // manual_seed reproduces the mask
      manual_seed(123);
      Tensor x2 = add(rand({n}, TensorOptions(dt)), 0.5);
      CHECK(equal(d(x2), y.detach()));
      // eval: the identity
      d->eval();
      CHECK(d(x).is_same(x));
      d->train();
    }
  }
}

TEST_CASE("layers: Dropout edge cases: p = 0, p = 1, inplace, functional training flag") {
  Tensor x = tensor(std::vector<float>{1, -2, NAN, 4}, {4}, TensorOptions(kFloat32));
  CHECK(nn::Dropout(0.0)(x).is_same(x));
  Tensor z = nn::Dropout(1.0)(x);
  auto zv = z.to_vector<double>();
  CHECK(zv[0] == 0.0);
  CHECK(zv[1] == 0.0);  // -0.0 == 0.0
  CHECK(std::isnan(zv[2]));  // NaN * 0, as PyTorch
  CHECK(F::dropout(x, F::DropoutFuncOptions().training(false)).is_same(x));
  // inplace writes into the input's storage
  manual_seed(5);
  Tensor a = ones({1000}, TensorOptions(kFloat64));
  Tensor b = nn::Dropout(nn::DropoutOptions(0.5).inplace(true))(a);
  CHECK(b.is_same(a));
  double s = sum(a).item<double>();
  CHECK(s != 1000.0);
  for (double v : a.to_vector<double>()) CHECK((v == 0.0 || v == 2.0));
  // bad p
  test::check_error([] { nn::Dropout(-0.1); }, {"Dropout", "between 0 and 1", "-0.1"});
  test::check_error([] { nn::Dropout(1.5); }, {"Dropout", "between 0 and 1"});
  test::check_error([] { nn::Dropout1d(-1.0); }, {"Dropout1d", "between 0 and 1"});
  test::check_error([&] { F::dropout(x, F::DropoutFuncOptions().p(2)); }, {"dropout"});
  test::check_error([] { F::dropout(ones({3}, TensorOptions(kInt64))); }, {"dropout", "floating"});
}

TEST_CASE("layers: Dropout1d zeroes whole channels, the same along L") {
  for (bool batched : {true, false}) {
    CAPTURE(batched);
    manual_seed(99);
    const std::int64_t N = 50, C = 40, L = 7;
    const double p = 0.3;
    Shape shape = batched ? Shape{N, C, L} : Shape{C * 10, L};
    Tensor x = add(rand(shape, TensorOptions(kFloat64)), 1.0).requires_grad_(true);
    nn::Dropout1d d(p);
    Tensor y = d(x);
    CHECK(y.sizes() == shape);
    const std::int64_t rows = batched ? N * C : C * 10;
    auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
    std::int64_t kept = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      bool k = yv[r * L] != 0.0;
      kept += k;
      for (std::int64_t l = 0; l < L; ++l) {
        double want = k ? xv[r * L + l] / (1 - p) : 0.0;
        if (std::fabs(yv[r * L + l] - want) > 1e-15 * std::fabs(want)) {
          CHECK(yv[r * L + l] == doctest::Approx(want));
          break;
        }
      }
    }
    const double mu = rows * (1 - p), sd = std::sqrt(rows * p * (1 - p));
    CHECK(std::fabs(kept - mu) < 5 * sd);
    y.sum().backward();
    auto gv = x.grad().to_vector<double>();
    for (std::int64_t i = 0; i < rows * L; ++i) {
      CHECK(gv[i] == doctest::Approx(yv[i] != 0.0 ? 1.0 / (1 - p) : 0.0));
    }
    d->eval();
    CHECK(d(x).is_same(x));
  }
  test::check_error([] { nn::Dropout1d()(ones({2, 3, 4, 5})); }, {"dropout1d", "Expected 2D or 3D", "4D"});
  test::check_error([] { nn::Dropout1d()(ones({5})); }, {"dropout1d", "1D"});
}

TEST_CASE("layers: bad input raises reel::Error naming the op") {
  nn::Linear lin(4, 3);
  test::check_error([&] { lin(ones({2, 5})); }, {"linear", "in_features=4"});
  test::check_error([&] { lin(ones({})); }, {"linear"});
  test::check_error([&] { lin(ones({2, 4}, TensorOptions(kFloat64))); }, {"linear", "dtype"});
  test::check_error([] { F::linear(ones({2, 4}), ones({4})); }, {"linear", "2-D"});
  test::check_error([] { F::linear(ones({2, 4}), ones({3, 4}), ones({4})); }, {"linear", "bias"});

  nn::Embedding e(10, 3);
  test::check_error([&] { e(tensor(std::vector<float>{1, 2}, {2}, TensorOptions(kFloat32))); },
                    {"embedding", "Long, Int", "float32"});
  test::check_error([&] { e(tensor(std::vector<std::int64_t>{1, 10}, {2}, TensorOptions(kInt64))); },
                    {"embedding", "10", "out of range"});
  test::check_error([&] { e(tensor(std::vector<std::int64_t>{-1}, {1}, TensorOptions(kInt64))); }, {"embedding", "-1"});
  test::check_error([] { nn::Embedding(nn::EmbeddingOptions(10, 3).padding_idx(10)); },
                    {"Embedding", "Padding_idx"});
  test::check_error([] { nn::Embedding(nn::EmbeddingOptions(10, 3).padding_idx(-11)); },
                    {"Embedding", "Padding_idx"});
  test::check_error([] {
    F::embedding(tensor(std::vector<std::int64_t>{1}, {1}, TensorOptions(kInt64)), ones({4, 2}),
                 F::EmbeddingFuncOptions().padding_idx(4));
  }, {"embedding", "Padding_idx"});

  test::check_error([] { F::glu(ones({2, 5})); }, {"glu", "even", "size 5"});
  test::check_error([] { nn::GLU(0)(ones({3, 4})); }, {"glu", "even"});
  test::check_error([] { F::glu(ones({})); }, {"glu", "scalars"});
  test::check_error([] { F::glu(ones({2, 4}), 2); }, {"glu", "range"});

  nn::PReLU p3(nn::PReLUOptions().num_parameters(3));
  test::check_error([&] { p3(ones({2, 4, 5})); }, {"prelu", "parameter numbers = 3", "channel size = 4"});
  test::check_error([&] { p3(ones({3})); }, {"prelu", "channel size = 1"});
  CHECK(nn::PReLU()(ones({3})).sizes() == Shape{3});
  CHECK(nn::PReLU()(ones({})).sizes() == Shape{});

  test::check_error([] { nn::GELU(nn::GELUOptions().approximate("fast")); }, {"GELU", "fast"});
  test::check_error([] { F::gelu(ones({2}), nn::GELUOptions().approximate("x")); }, {"gelu"});
  test::check_error([] { nn::Hardtanh(nn::HardtanhOptions().min_val(1).max_val(-1)); },
                    {"Hardtanh", "max_val"});
  for (auto f : std::vector<std::function<Tensor(const Tensor&)>>{
           [](const Tensor& x) { return F::leaky_relu(x); },
           [](const Tensor& x) { return F::elu(x); },
           [](const Tensor& x) { return F::softplus(x); },
           [](const Tensor& x) { return F::mish(x); },
           [](const Tensor& x) { return F::hardtanh(x); },
           [](const Tensor& x) { return F::gelu(x, nn::GELUOptions().approximate("tanh")); }}) {
    CHECK_THROWS_AS(f(ones({2}, TensorOptions(kInt64))), Error);
    CHECK_THROWS_AS(f(ones({2}, TensorOptions(kComplex64))), Error);
  }
}

TEST_CASE("layers: modules hold their parameters under PyTorch's names") {
  nn::Linear lin(3, 2);
  auto names = lin->named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "weight");
  CHECK(names[1].first == "bias");
  auto pn = nn::PReLU()->named_parameters();
  REQUIRE(pn.size() == 1);
  CHECK(pn[0].first == "weight");
  CHECK(nn::Embedding(4, 2)->named_parameters()[0].first == "weight");
  CHECK(nn::Dropout()->parameters().empty());
  CHECK(nn::ReLU()->parameters().empty());
}
