// The normalization layers (BatchNorm1d, InstanceNorm1d, LayerNorm, GroupNorm) and their
// functional twins:
// - against PyTorch's numbers (tests/nn/golden/norm/, made by make_norm_golden.py): output,
//   grad_input, grad_weight and grad_bias for each layer, train and eval, affine or not,
//   batched, unbatched and (N, C) inputs, float32 and float64; running statistics after
//   several training steps with momentum 0.1 and None, num_batches_tracked, then eval output;
// - gradcheck (float64) of every norm with batch and with given statistics, affine or not;
// - module naming, state_dict order, init, repr, train/eval rules, and bad input.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
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

const std::string kGoldenDir = test::golden::dir("norm");

// One line of index.txt (README.md in tests/nn/golden documents the format).
struct Case {
  std::string line, id, kind;
  DType dtype = kFloat32;
  bool affine = false;
  double eps = 1e-5;           // gradient cases
  std::int64_t extra = 0;      // gn: num_groups; ln: number of normalized dims
  std::optional<double> momentum;  // running cases
  std::int64_t steps = 0, batches_tracked = 0;
  Shape shape;

  bool running() const { return kind.rfind("run_", 0) == 0; }
  std::int64_t channels() const {
    if (kind == "in" || kind == "in_eval" || kind == "run_in") return shape[shape.size() - 2];
    return shape[1];
  }
  Shape affine_shape() const {
    if (kind == "ln") return Shape(std::span<const std::int64_t>(shape.end() - extra, extra));
    return {channels()};
  }
  std::vector<std::int64_t> normalized_shape() const {
    return std::vector<std::int64_t>(shape.end() - extra, shape.end());
  }
};

std::vector<Case> load_index() {
  std::vector<Case> cases;
  for (const std::string& line : test::golden::index_lines(kGoldenDir + "/index.txt")) {
    std::istringstream s(line);
    Case c;
    c.line = line;
    std::string dtype;
    int affine = 0;
    s >> c.id >> c.kind >> dtype >> affine;
    c.dtype = test::golden::parse_dtype(dtype);
    c.affine = affine != 0;
    if (c.running()) {
      std::string momentum;
      s >> momentum >> c.steps >> c.batches_tracked;
      if (momentum != "None") c.momentum = std::stod(momentum);
    } else {
      s >> c.eps >> c.extra;
    }
    int ndim = 0;
    s >> ndim;
    for (int i = 0; i < ndim; ++i) {
      std::int64_t d = 0;
      s >> d;
      c.shape.push_back(d);
    }
    REQUIRE_MESSAGE(!s.fail(), "bad index line: " << line);
    cases.push_back(c);
  }
  REQUIRE(cases.size() > 50);
  return cases;
}

// Cuts the next tensors of a case out of its flat .npy, in the order the script wrote them.
using Reader = test::golden::FlatReader;

Reader open_case(const Case& c) {
  Reader r{load_npy(kGoldenDir + "/" + c.id + ".npy")};
  REQUIRE_MESSAGE(r.flat.dtype() == c.dtype, "case " << c.id << ": file dtype differs from index");
  return r;
}

// Empty when got matches expected within the dtype's tolerance, else what differs.
std::string mismatch(const std::string& what, const Tensor& got, const Tensor& expected) {
  // float64 is compared elementwise, tightly. float32: PyTorch accumulates in float, reel's
  // reference in double, and where a group's values nearly coincide (variance near eps) the
  // gradient is a difference of large terms: PyTorch's float32 error there scales with the
  // tensor's magnitude, not the element's (one golden case is 1.2e-4 off the float64 truth,
  // which reel's float32 result matches). So float32 is compared against the tensor's scale.
  const bool single = expected.dtype() == kFloat32;
  double scale = 0.0;
  if (single) {
    for (double v : expected.to_vector<double>()) scale = std::max(scale, std::abs(v));
  }
  return test::golden::mismatch(what, got, expected, single ? 1e-4 : 1e-10,
                                single ? 2e-5 + 1e-4 * scale : 1e-10);
}

#define CHECK_MATCH(what, got, expected)           \
  do {                                             \
    const std::string m_ = mismatch(what, got, expected); \
    CHECK_MESSAGE(m_.empty(), m_);                 \
  } while (0)

// A layer of any of the four kinds, behind one call.
struct Layer {
  std::shared_ptr<nn::Module> module;
  std::function<Tensor(const Tensor&)> forward;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};

template <typename Holder>
Layer wrap(Holder h) {
  Layer l;
  l.module = h.ptr();
  l.forward = [h](const Tensor& x) { return h(x); };
  l.weight = h->weight;
  l.bias = h->bias;
  return l;
}

// wrap, plus the running statistics of a BatchNorm1d or InstanceNorm1d.
template <typename Holder>
Layer wrap_with_stats(Holder h) {
  Layer l = wrap(h);
  l.running_mean = h->running_mean;
  l.running_var = h->running_var;
  l.num_batches_tracked = h->num_batches_tracked;
  return l;
}

Layer make_layer(const Case& c) {
  const std::int64_t ch = c.channels();
  Layer l;
  if (c.kind == "bn_train" || c.kind == "bn_eval" || c.kind == "run_bn") {
    auto o = nn::BatchNorm1dOptions(ch).affine(c.affine);
    if (c.running()) o.momentum(c.momentum);
    else o.eps(c.eps);
    l = wrap_with_stats(nn::BatchNorm1d(o));
  } else if (c.kind == "in" || c.kind == "in_eval" || c.kind == "run_in") {
    auto o = nn::InstanceNorm1dOptions(ch).affine(c.affine).track_running_stats(c.kind != "in");
    if (c.running()) o.momentum(*c.momentum);
    else o.eps(c.eps);
    l = wrap_with_stats(nn::InstanceNorm1d(o));
  } else if (c.kind == "ln") {
    l = wrap(nn::LayerNorm(nn::LayerNormOptions(c.normalized_shape()).eps(c.eps).elementwise_affine(c.affine)));
  } else if (c.kind == "gn") {
    l = wrap(nn::GroupNorm(nn::GroupNormOptions(c.extra, ch).eps(c.eps).affine(c.affine)));
  } else {
    fail("golden index: unknown kind '{}'", c.kind);
  }
  l.module->to(c.dtype);
  return l;
}

// The functional twin of a gradient case.
Tensor run_functional(const Case& c, const Tensor& x, const Tensor& w, const Tensor& b,
                      const Tensor& rm, const Tensor& rv) {
  if (c.kind == "bn_train")
    return F::batch_norm(x, Tensor(), Tensor(),
                         F::BatchNormFuncOptions().weight(w).bias(b).training(true).eps(c.eps));
  if (c.kind == "bn_eval")
    return F::batch_norm(x, rm, rv, F::BatchNormFuncOptions().weight(w).bias(b).eps(c.eps));
  if (c.kind == "in" || c.kind == "in_eval") {
    const bool batched = x.dim() == 3;
    auto o = F::InstanceNormFuncOptions().weight(w).bias(b).eps(c.eps);
    if (c.kind == "in_eval") o.running_mean(rm).running_var(rv).use_input_stats(false);
    Tensor y = F::instance_norm(batched ? x : x.unsqueeze(0), o);
    return batched ? y : y.squeeze(0);
  }
  if (c.kind == "ln")
    return F::layer_norm(x, F::LayerNormFuncOptions(c.normalized_shape()).weight(w).bias(b).eps(c.eps));
  return F::group_norm(x, F::GroupNormFuncOptions(c.extra).weight(w).bias(b).eps(c.eps));
}

void run_gradient_case(const Case& c) {
  Reader r = open_case(c);
  const Tensor x0 = r.next(c.shape);
  Tensor w0, b0, rm0, rv0;
  if (c.affine) {
    w0 = r.next(c.affine_shape());
    b0 = r.next(c.affine_shape());
  }
  if (c.kind == "bn_eval" || c.kind == "in_eval") {
    rm0 = r.next({c.channels()});
    rv0 = r.next({c.channels()});
  }
  const Tensor gy = r.next(c.shape), y_want = r.next(c.shape), gx_want = r.next(c.shape);
  Tensor gw_want, gb_want;
  if (c.affine) {
    gw_want = r.next(c.affine_shape());
    gb_want = r.next(c.affine_shape());
  }
  REQUIRE(r.done());

  // The module.
  {
    Layer l = make_layer(c);
    CHECK(l.weight.defined() == c.affine);
    {
      NoGradGuard no_grad;
      if (c.affine) {
        l.weight.copy_(w0);
        l.bias.copy_(b0);
      }
      if (rm0.defined()) {
        l.running_mean.copy_(rm0);
        l.running_var.copy_(rv0);
      }
    }
    if (rm0.defined()) l.module->eval();
    Tensor x = x0.clone().requires_grad_(true);
    Tensor y = l.forward(x);
    y.backward(gy);
    CHECK_MATCH("module output", y, y_want);
    CHECK_MATCH("module grad_input", x.grad(), gx_want);
    if (c.affine) {
      CHECK_MATCH("module grad_weight", l.weight.grad(), gw_want);
      CHECK_MATCH("module grad_bias", l.bias.grad(), gb_want);
    }
    if (rm0.defined()) {  // eval mode leaves the running statistics alone
      CHECK_MATCH("running_mean after eval", l.running_mean, rm0);
      CHECK_MATCH("running_var after eval", l.running_var, rv0);
    }
  }
  // The functional twin.
  {
    Tensor x = x0.clone().requires_grad_(true);
    Tensor w = c.affine ? w0.clone().requires_grad_(true) : Tensor();
    Tensor b = c.affine ? b0.clone().requires_grad_(true) : Tensor();
    Tensor y = run_functional(c, x, w, b, rm0, rv0);
    y.backward(gy);
    CHECK_MATCH("functional output", y, y_want);
    CHECK_MATCH("functional grad_input", x.grad(), gx_want);
    if (c.affine) {
      CHECK_MATCH("functional grad_weight", w.grad(), gw_want);
      CHECK_MATCH("functional grad_bias", b.grad(), gb_want);
    }
  }
}

void run_running_case(const Case& c) {
  Reader r = open_case(c);
  const std::int64_t ch = c.channels();
  Layer l = make_layer(c);
  if (c.affine) {
    NoGradGuard no_grad;
    l.weight.copy_(r.next({ch}));
    l.bias.copy_(r.next({ch}));
  }
  l.module->train();
  for (std::int64_t step = 0; step < c.steps; ++step) {
    CAPTURE(step);
    const Tensor x = r.next(c.shape), y_want = r.next(c.shape);
    const Tensor rm_want = r.next({ch}), rv_want = r.next({ch});
    CHECK_MATCH("training output", l.forward(x), y_want);
    CHECK_MATCH("running_mean", l.running_mean, rm_want);
    CHECK_MATCH("running_var", l.running_var, rv_want);
  }
  l.module->eval();
  const Tensor xe = r.next(c.shape), ye_want = r.next(c.shape);
  REQUIRE(r.done());
  CHECK_MATCH("eval output", l.forward(xe), ye_want);
  REQUIRE(l.num_batches_tracked.defined());
  CHECK(l.num_batches_tracked.dtype() == kInt64);
  CHECK(l.num_batches_tracked.item<std::int64_t>() == c.batches_tracked);
}

}  // namespace

TEST_CASE("norm: every layer matches PyTorch's forward and gradients (golden)") {
  const std::vector<Case> cases = load_index();
  test::on_cpu_backends([&] {
    for (const Case& c : cases) {
      if (c.running()) continue;
      CAPTURE(c.line);
      run_gradient_case(c);
    }
  });
}

TEST_CASE("norm: running statistics, num_batches_tracked and eval output match PyTorch (golden)") {
  const std::vector<Case> cases = load_index();
  int seen = 0;
  test::on_cpu_backends([&] {
    for (const Case& c : cases) {
      if (!c.running()) continue;
      CAPTURE(c.line);
      run_running_case(c);
      ++seen;
    }
  });
  CHECK(seen >= 2 * 12);
}

// --- gradcheck ---------------------------------------------------------------------------------

namespace {

Tensor input64(const Shape& shape) {
  // Values with a spread of their own per position, so no group is near-constant.
  return randn(shape, TensorOptions(kFloat64)) * 1.5 + 0.3;
}

void gradcheck_norm(const std::string& what, const Tensor& x, bool affine, const Shape& affine_shape,
                    const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& f) {
  CAPTURE(what);
  CAPTURE(affine);
  std::vector<Tensor> inputs{x.clone().requires_grad_(true)};
  if (affine) {
    inputs.push_back((rand(affine_shape, TensorOptions(kFloat64)) + 0.5).requires_grad_(true));
    inputs.push_back(randn(affine_shape, TensorOptions(kFloat64)).requires_grad_(true));
  }
  auto r = autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return f(in[0], affine ? in[1] : Tensor(), affine ? in[2] : Tensor());
      },
      inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace

TEST_CASE("norm: gradcheck of every norm, batch and given statistics, affine or not") {
  manual_seed(7);
  test::on_cpu_backends([] {
    for (bool affine : {true, false}) {
      for (const Shape& shape : {Shape{4, 3, 5}, Shape{5, 3}}) {
        gradcheck_norm("batch_norm train", input64(shape), affine, {3},
                       [](const Tensor& x, const Tensor& w, const Tensor& b) {
                         return F::batch_norm(x, Tensor(), Tensor(),
                                              F::BatchNormFuncOptions().weight(w).bias(b).training(true));
                       });
        const Tensor rm = randn({3}, TensorOptions(kFloat64)), rv = rand({3}, TensorOptions(kFloat64)) + 0.5;
        gradcheck_norm("batch_norm eval", input64(shape), affine, {3},
                       [&](const Tensor& x, const Tensor& w, const Tensor& b) {
                         return F::batch_norm(x, rm, rv,
                                              F::BatchNormFuncOptions().weight(w).bias(b).eps(1e-3));
                       });
      }
      gradcheck_norm("instance_norm", input64({2, 3, 6}), affine, {3},
                     [](const Tensor& x, const Tensor& w, const Tensor& b) {
                       return F::instance_norm(x, F::InstanceNormFuncOptions().weight(w).bias(b));
                     });
      const Tensor rm = randn({3}, TensorOptions(kFloat64)), rv = rand({3}, TensorOptions(kFloat64)) + 0.5;
      gradcheck_norm("instance_norm with running stats", input64({2, 3, 6}), affine, {3},
                     [&](const Tensor& x, const Tensor& w, const Tensor& b) {
                       return F::instance_norm(x, F::InstanceNormFuncOptions()
                                                      .running_mean(rm)
                                                      .running_var(rv)
                                                      .use_input_stats(false)
                                                      .weight(w)
                                                      .bias(b));
                     });
      gradcheck_norm("layer_norm (last dim)", input64({3, 2, 5}), affine, {5},
                     [](const Tensor& x, const Tensor& w, const Tensor& b) {
                       return F::layer_norm(x, F::LayerNormFuncOptions({5}).weight(w).bias(b));
                     });
      gradcheck_norm("layer_norm (last two dims)", input64({3, 2, 4}), affine, {2, 4},
                     [](const Tensor& x, const Tensor& w, const Tensor& b) {
                       return F::layer_norm(x, F::LayerNormFuncOptions({2, 4}).weight(w).bias(b));
                     });
      gradcheck_norm("group_norm", input64({2, 6, 4}), affine, {6},
                     [](const Tensor& x, const Tensor& w, const Tensor& b) {
                       return F::group_norm(x, F::GroupNormFuncOptions(3).weight(w).bias(b));
                     });
      gradcheck_norm("group_norm (N, C)", input64({3, 4}), affine, {4},
                     [](const Tensor& x, const Tensor& w, const Tensor& b) {
                       return F::group_norm(x, F::GroupNormFuncOptions(2).weight(w).bias(b));
                     });
    }
  });
}

TEST_CASE("norm: a non-contiguous input, and one tape entry per call") {
  manual_seed(11);
  // A transposed (N, C, L) view gives the same numbers as its contiguous copy.
  Tensor base = randn({4, 6, 3}, TensorOptions(kFloat64));
  Tensor xt = base.transpose(1, 2);  // (4, 3, 6), non-contiguous
  REQUIRE_FALSE(xt.is_contiguous());
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(3));
  bn->to(kFloat64);
  Tensor a = F::batch_norm(xt, Tensor(), Tensor(), F::BatchNormFuncOptions().training(true));
  Tensor b = F::batch_norm(xt.contiguous(), Tensor(), Tensor(), F::BatchNormFuncOptions().training(true));
  CHECK(mismatch("transposed", a, b).empty());
  Tensor g = F::group_norm(xt, F::GroupNormFuncOptions(3));
  Tensor gc = F::group_norm(xt.contiguous(), F::GroupNormFuncOptions(3));
  CHECK(mismatch("group_norm transposed", g, gc).empty());

  Tensor x = randn({2, 3, 4}, TensorOptions(kFloat64)).requires_grad_(true);
  CHECK(std::string(bn(x).grad_fn_name()) == "NativeBatchNormBackward");
  nn::LayerNorm ln(nn::LayerNormOptions({4}));
  ln->to(kFloat64);
  CHECK(std::string(ln(x).grad_fn_name()) == "NativeLayerNormBackward");
  nn::GroupNorm gn(nn::GroupNormOptions(3, 3));
  gn->to(kFloat64);
  CHECK(std::string(gn(x).grad_fn_name()) == "NativeGroupNormBackward");
  // A frozen input with trainable parameters: only the parameter gradients are computed.
  Tensor frozen = randn({2, 3, 4}, TensorOptions(kFloat64));
  bn(frozen).sum().backward();
  CHECK(bn->weight.grad().defined());
  CHECK(bn->bias.grad().defined());
  CHECK_FALSE(frozen.grad().defined());
}

// --- modules: names, init, repr, modes ---------------------------------------------------------

TEST_CASE("norm: parameters and buffers have PyTorch's names, order and initial values") {
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(4));
  std::vector<std::string> keys;
  for (const auto& [k, t] : bn->state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"});
  test::check_values(bn->weight, {1, 1, 1, 1});
  test::check_values(bn->bias, {0, 0, 0, 0});
  test::check_values(bn->running_mean, {0, 0, 0, 0});
  test::check_values(bn->running_var, {1, 1, 1, 1});
  CHECK(bn->num_batches_tracked.dim() == 0);
  CHECK(bn->num_batches_tracked.dtype() == kInt64);
  CHECK(bn->weight.requires_grad());
  CHECK_FALSE(bn->running_mean.requires_grad());
  CHECK(bn->parameters().size() == 2);

  nn::BatchNorm1d plain(nn::BatchNorm1dOptions(4).affine(false).track_running_stats(false));
  CHECK(plain->state_dict().empty());
  CHECK(plain->parameters().empty());

  nn::InstanceNorm1d in(nn::InstanceNorm1dOptions(3));
  CHECK(in->state_dict().empty());
  nn::InstanceNorm1d in_t(nn::InstanceNorm1dOptions(3).affine(true).track_running_stats(true));
  keys.clear();
  for (const auto& [k, t] : in_t->state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"});

  nn::LayerNorm ln(nn::LayerNormOptions({2, 3}));
  CHECK(ln->weight.sizes() == Shape{2, 3});
  test::check_values(ln->weight, {1, 1, 1, 1, 1, 1});
  test::check_values(ln->bias, {0, 0, 0, 0, 0, 0});
  nn::GroupNorm gn(nn::GroupNormOptions(2, 4).affine(false));
  CHECK(gn->parameters().empty());

  // to(kFloat64) casts the statistics and keeps the counter int64.
  bn->to(kFloat64);
  CHECK(bn->running_mean.dtype() == kFloat64);
  CHECK(bn->num_batches_tracked.dtype() == kInt64);
}

TEST_CASE("norm: repr as PyTorch's") {
  CHECK(nn::BatchNorm1d(nn::BatchNorm1dOptions(4))->repr() ==
        "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  CHECK(nn::BatchNorm1d(nn::BatchNorm1dOptions(3).eps(1.0).momentum(std::nullopt).affine(false))
            ->repr() ==
        "BatchNorm1d(3, eps=1.0, momentum=None, affine=False, track_running_stats=True)");
  CHECK(nn::BatchNorm1d(nn::BatchNorm1dOptions(3).momentum(1e-3).track_running_stats(false))
            ->repr() ==
        "BatchNorm1d(3, eps=1e-05, momentum=0.001, affine=True, track_running_stats=False)");
  CHECK(nn::InstanceNorm1d(nn::InstanceNorm1dOptions(4))->repr() ==
        "InstanceNorm1d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  CHECK(nn::LayerNorm(nn::LayerNormOptions({3, 4}))->repr() ==
        "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)");
  CHECK(nn::LayerNorm(nn::LayerNormOptions({8}).eps(1e-6).elementwise_affine(false))->repr() ==
        "LayerNorm((8,), eps=1e-06, elementwise_affine=False)");
  CHECK(nn::GroupNorm(nn::GroupNormOptions(2, 4))->repr() ==
        "GroupNorm(2, 4, eps=1e-05, affine=True)");
}

TEST_CASE("norm: BatchNorm1d train/eval rules") {
  manual_seed(3);
  const Tensor x = randn({6, 2, 5}) * 3.0 + 1.0;
  // track_running_stats=false: batch statistics in eval too.
  nn::BatchNorm1d untracked(nn::BatchNorm1dOptions(2).track_running_stats(false));
  const Tensor train_out = untracked(x);
  untracked->eval();
  CHECK(mismatch("eval output without running stats", untracked(x), train_out).empty());
  // Eval with fresh running statistics (0, 1) is x / sqrt(1 + eps).
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(2).affine(false));
  bn->eval();
  CHECK(mismatch("eval output", bn(x), x / std::sqrt(1.0 + 1e-5)).empty());
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 0);  // eval doesn't count
  // Training counts batches and moves the statistics; reset_running_stats restores them.
  bn->train();
  bn(x);
  bn(x);
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 2);
  CHECK(bn->running_var.to_vector<float>()[0] != 1.0f);
  bn->reset_running_stats();
  test::check_values(bn->running_mean, {0, 0});
  test::check_values(bn->running_var, {1, 1});
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 0);
  // Functional: momentum=None can't update running statistics.
  Tensor rm = zeros({2}), rv = ones({2});
  test::check_error(
      [&] {
        F::batch_norm(x, rm, rv, F::BatchNormFuncOptions().training(true).momentum(std::nullopt));
      },
      {"batch_norm", "momentum"});
  test::check_error([&] { F::batch_norm(x, Tensor(), Tensor()); },
                    {"batch_norm", "running_mean must be defined in evaluation mode"});
}

TEST_CASE("norm: bad input raises reel::Error naming the layer") {
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(4));
  test::check_error([&] { bn(zeros({2, 3, 5})); }, {"BatchNorm1d", "4 channels", "got 3"});
  test::check_error([&] { bn(zeros({4})); }, {"BatchNorm1d", "expected 2D or 3D input (got 1D input)"});
  test::check_error([&] { bn(zeros({2, 4, 3, 3})); }, {"BatchNorm1d", "got 4D input"});
  test::check_error([&] { bn(zeros({1, 4})); },
                    {"BatchNorm1d", "Expected more than 1 value per channel when training, got input size [1, 4]"});
  test::check_error([&] { bn(zeros({1, 4, 1})); }, {"Expected more than 1 value per channel"});
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 0);  // the failed calls didn't count
  bn->eval();
  CHECK(bn(zeros({1, 4})).sizes() == Shape{1, 4});  // eval: one value is fine
  test::check_error([&] { bn(zeros({2, 4}, TensorOptions(kInt64))); }, {"batch_norm", "float32 or float64"});
  test::check_error([&] { bn(zeros({2, 4}, TensorOptions(kFloat64))); }, {"batch_norm", "dtype"});
  CHECK_THROWS_AS(nn::BatchNorm1d(nn::BatchNorm1dOptions(0)), reel::Error);

  nn::InstanceNorm1d in(nn::InstanceNorm1dOptions(3).affine(true));
  test::check_error([&] { in(zeros({2, 4, 5})); },
                    {"InstanceNorm1d", "expected input's size at dim=1 to match num_features (3), but got: 4."});
  test::check_error([&] { in(zeros({4, 5})); }, {"InstanceNorm1d", "dim=0"});
  test::check_error([&] { in(zeros({2, 3, 4, 5})); }, {"InstanceNorm1d", "got 4D input"});
  test::check_error([&] { in(zeros({2, 3, 1})); },
                    {"instance_norm", "Expected more than 1 spatial element when training"});

  nn::LayerNorm ln(nn::LayerNormOptions({4}));
  test::check_error([&] { ln(zeros({2, 3})); },
                    {"layer_norm", "Given normalized_shape=[4], expected input with shape [*, 4], but got input of size[2, 3]"});
  CHECK_THROWS_AS(nn::LayerNorm(nn::LayerNormOptions({})), reel::Error);
  test::check_error([] { F::layer_norm(zeros({2, 4}), F::LayerNormFuncOptions({4}).weight(ones({3}))); },
                    {"layer_norm", "weight"});

  test::check_error([] { nn::GroupNorm(nn::GroupNormOptions(3, 4)); },
                    {"GroupNorm", "num_channels must be divisible by num_groups"});
  test::check_error([] { nn::GroupNorm(nn::GroupNormOptions(0, 4)); }, {"GroupNorm", "num_groups"});
  nn::GroupNorm gn(nn::GroupNormOptions(2, 4));
  test::check_error([&] { gn(zeros({2, 6, 3})); }, {"GroupNorm", "4 channels", "got 6"});
  test::check_error([&] { gn(zeros({4})); }, {"GroupNorm", "at least 2 dimensions"});
  test::check_error([] { F::group_norm(zeros({2, 6, 3}), F::GroupNormFuncOptions(4)); },
                    {"group_norm", "divisible by num_groups"});
}

TEST_CASE("norm: the primitives' shared checks") {
  using backends::View;
  backends::Backend& be = backends::reference_backend();
  Tensor x = zeros({2, 3, 1, 4}), mean = zeros({2, 3}), var = zeros({2, 3}), out = zeros({2, 3, 1, 4});
  Tensor bad_stats = zeros({3, 3});
  test::check_error([&] { be.norm_stats(view_of(bad_stats), view_of(bad_stats), view_of(x)); },
                    {"norm_stats", "statistics of shape"});
  test::check_error([&] { be.norm_stats(view_of(mean), view_of(var), view_of(zeros({2, 3, 4}))); },
                    {"norm_stats", "4-d"});
  Tensor xi = zeros({2, 3, 1, 4}, TensorOptions(kInt64));
  Tensor mi = zeros({2, 3}, TensorOptions(kInt64));
  test::check_error([&] { be.norm_stats(view_of(mi), view_of(mi), view_of(xi)); }, {"norm_stats"});
  Tensor w = zeros({3, 2});
  test::check_error([&] { be.norm_forward(view_of(out), view_of(x), view_of(mean), view_of(var), view_of(w), View{}, {}); },
                    {"norm_forward", "weight"});
}

TEST_CASE("norm: empty inputs give empty outputs and zero parameter gradients, as PyTorch") {
  // torch 1.13: BatchNorm1d(3) on a (0, 3) batch returns (0, 3), leaves the running statistics
  // alone but counts the batch; the parameter gradients are zeros.
  nn::BatchNorm1d bn(nn::BatchNorm1dOptions(3));
  Tensor x = zeros({0, 3}).requires_grad_(true);
  Tensor y = bn(x);
  CHECK(y.sizes() == Shape{0, 3});
  test::check_values(bn->running_mean, {0, 0, 0});
  test::check_values(bn->running_var, {1, 1, 1});
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 1);
  y.sum().backward();
  CHECK(x.grad().sizes() == Shape{0, 3});
  test::check_values(bn->weight.grad(), {0, 0, 0});
  test::check_values(bn->bias.grad(), {0, 0, 0});
  CHECK(nn::LayerNorm(nn::LayerNormOptions({4}))(zeros({0, 4})).sizes() == Shape{0, 4});
  CHECK(nn::GroupNorm(nn::GroupNormOptions(2, 4))(zeros({0, 4, 3})).sizes() == Shape{0, 4, 3});
  CHECK(nn::InstanceNorm1d(nn::InstanceNorm1dOptions(3))(zeros({2, 3, 0})).sizes() ==
        Shape{2, 3, 0});
}
