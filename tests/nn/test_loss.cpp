// The losses against PyTorch's own numbers, gradchecks, and bad input.
//
// tests/nn/golden/loss/ holds, per case, the input, target, options and grad_output PyTorch
// 1.13 used, and the output, grad_input and grad_target it computed (make_loss_golden.py made
// them; index.txt lists the cases). Every case runs through the functional form and the module,
// on both CPU backends, in float32 and float64.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "golden.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;
using test::check_error;
using test::leaf;

namespace {

const std::string kGoldenDir = test::golden::dir("loss");

// An index line (golden.hpp's LossCase) and the case's .npy files.
struct Case : test::golden::LossCase {
  Tensor file(const std::string& name) const {
    return load_npy(kGoldenDir + "/" + id + "_" + name + ".npy");
  }
};

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  for (const auto& c : test::golden::loss_cases(kGoldenDir + "/index.txt")) cases.push_back(Case{c});
  return cases;
}

Tensor run(const Case& c, const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw,
           bool module) {
  const nn::Reduction r = c.reduction;
  const std::string& l = c.loss;
  if (l == "l1") return module ? nn::L1Loss(nn::L1LossOptions(r))(x, t) : F::l1_loss(x, t, r);
  if (l == "mse") return module ? nn::MSELoss(nn::MSELossOptions(r))(x, t) : F::mse_loss(x, t, r);
  if (l == "smooth_l1") {
    auto o = nn::SmoothL1LossOptions(r).beta(c.num("beta", 1.0));
    return module ? nn::SmoothL1Loss(o)(x, t) : F::smooth_l1_loss(x, t, o);
  }
  if (l == "huber") {
    auto o = nn::HuberLossOptions(r).delta(c.num("delta", 1.0));
    return module ? nn::HuberLoss(o)(x, t) : F::huber_loss(x, t, o);
  }
  if (l == "cross_entropy") {
    auto o = nn::CrossEntropyLossOptions()
                 .reduction(r)
                 .ignore_index(static_cast<std::int64_t>(c.num("ignore_index", -100)))
                 .label_smoothing(c.num("label_smoothing", 0.0));
    if (w.defined()) o.weight(w);
    return module ? nn::CrossEntropyLoss(o)(x, t) : F::cross_entropy(x, t, o);
  }
  if (l == "nll") {
    auto o = nn::NLLLossOptions().reduction(r).ignore_index(
        static_cast<std::int64_t>(c.num("ignore_index", -100)));
    if (w.defined()) o.weight(w);
    return module ? nn::NLLLoss(o)(x, t) : F::nll_loss(x, t, o);
  }
  if (l == "bce") {
    auto o = nn::BCELossOptions().reduction(r);
    if (w.defined()) o.weight(w);
    return module ? nn::BCELoss(o)(x, t) : F::binary_cross_entropy(x, t, o);
  }
  if (l == "bce_logits") {
    auto o = nn::BCEWithLogitsLossOptions().reduction(r);
    if (w.defined()) o.weight(w);
    if (pw.defined()) o.pos_weight(pw);
    return module ? nn::BCEWithLogitsLoss(o)(x, t) : F::binary_cross_entropy_with_logits(x, t, o);
  }
  if (l == "kl_div") {
    auto o = nn::KLDivLossOptions(r).log_target(c.num("log_target", 0) != 0);
    return module ? nn::KLDivLoss(o)(x, t) : F::kl_div(x, t, o);
  }
  FAIL("unknown loss ", l);
  return {};
}

void check_matches(const std::string& what, const Tensor& got, const Tensor& want, DType dtype) {
  CAPTURE(what);
  REQUIRE(got.defined());
  CHECK(got.sizes() == want.sizes());
  CHECK(got.dtype() == want.dtype());
  const double rtol = dtype == kFloat32 ? 1e-5 : 1e-10;
  const double atol = dtype == kFloat32 ? 1e-6 : 1e-12;
  const bool ok = allclose(got, want, rtol, atol, /*equal_nan=*/true);
  if (!ok) {
    std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
    for (std::size_t i = 0; i < g.size() && i < w.size(); ++i) {
      if (std::abs(g[i] - w[i]) > atol + rtol * std::abs(w[i])) {
        MESSAGE(fmt::format("element {}: got {:.17g}, want {:.17g}", i, g[i], w[i]));
      }
    }
  }
  CHECK(ok);
}

}  // namespace

TEST_CASE("losses match PyTorch: forward and gradients, every reduction and option") {
  const std::vector<Case> cases = load_cases();
  REQUIRE(cases.size() > 200);
  test::on_cpu_backends([&] {
    for (const Case& c : cases) {
      CAPTURE(c.line);
      const Tensor w = c.has("weight") ? c.file("weight") : Tensor();
      const Tensor pw = c.has("pos_weight") ? c.file("pos_weight") : Tensor();
      const Tensor go = c.file("grad_output");
      const bool target_grad =
          std::ifstream(kGoldenDir + "/" + c.id + "_grad_target.npy").good();
      for (bool module : {false, true}) {
        CAPTURE(module);
        Tensor x = c.file("input").requires_grad_();
        Tensor t = c.file("target");
        if (target_grad) t.requires_grad_();
        Tensor out = run(c, x, t, w, pw, module);
        check_matches("output", out, c.file("output"), c.dtype);
        sum(mul(out, go)).backward();
        check_matches("grad_input", x.grad(), c.file("grad_input"), c.dtype);
        if (target_grad) check_matches("grad_target", t.grad(), c.file("grad_target"), c.dtype);
      }
    }
  });
}

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

void expect_gradcheck(const Fn& f, const std::vector<Tensor>& inputs) {
  auto r = autograd::gradcheck(f, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

Tensor int64s(const std::vector<std::int64_t>& v, const Shape& shape) {
  return tensor(v, shape, TensorOptions(kInt64));
}

// Values in (0.05, 0.95): BCE's probabilities away from its clamps.
Tensor probability_leaf(const Shape& shape) {
  NoGradGuard no_grad;
  return add(mul(sigmoid(leaf(shape).detach()), Scalar(0.9)), Scalar(0.05)).requires_grad_();
}

}  // namespace

TEST_CASE("gradcheck: every loss, every reduction (float64)") {
  for (nn::Reduction r : {nn::kNone, nn::kMean, nn::kSum}) {
    CAPTURE(nn::reduction_name(r));
    expect_gradcheck([r](const auto& in) { return F::l1_loss(in[0], in[1], r); },
                     {leaf({3, 4}), leaf({3, 4})});
    expect_gradcheck([r](const auto& in) { return F::mse_loss(in[0], in[1], r); },
                     {leaf({3, 4}), leaf({4})});
    for (double beta : {1.0, 0.3, 0.0}) {
      expect_gradcheck(
          [r, beta](const auto& in) {
            return F::smooth_l1_loss(in[0], in[1], nn::SmoothL1LossOptions(r).beta(beta));
          },
          {leaf({3, 4}), leaf({3, 4})});
    }
    expect_gradcheck(
        [r](const auto& in) {
          return F::huber_loss(in[0], in[1], nn::HuberLossOptions(r).delta(0.6));
        },
        {leaf({3, 4}), leaf({3, 4})});
    // Class indices: (N, C), (N, C, L), unbatched; weights, ignored targets, smoothing.
    const Tensor w = tensor({0.5, 2.0, 1.0, 1.5});
    const Tensor t2 = int64s({0, 3, -100, 1, 2}, {5});
    const Tensor t3 = int64s({0, 3, 2, -100, 1, 1}, {2, 3});
    for (double ls : {0.0, 0.25}) {
      for (bool weighted : {false, true}) {
        auto o = nn::CrossEntropyLossOptions().reduction(r).label_smoothing(ls);
        if (weighted) o.weight(w);
        expect_gradcheck([o, t2](const auto& in) { return F::cross_entropy(in[0], t2, o); },
                         {leaf({5, 4})});
        expect_gradcheck(
            [o, t3](const auto& in) { return F::cross_entropy(in[0], t3, o); },
            {leaf({2, 4, 3})});
        expect_gradcheck(
            [o](const auto& in) { return F::cross_entropy(in[0], int64s({2}, {}), o); },
            {leaf({4})});
        // Class probabilities: gradients to the input and to the target.
        expect_gradcheck([o](const auto& in) { return F::cross_entropy(in[0], in[1], o); },
                         {leaf({3, 4}), leaf({3, 4})});
      }
    }
    for (bool weighted : {false, true}) {
      auto o = nn::NLLLossOptions().reduction(r);
      if (weighted) o.weight(w);
      expect_gradcheck([o, t2](const auto& in) { return F::nll_loss(in[0], t2, o); },
                       {leaf({5, 4})});
      expect_gradcheck([o, t3](const auto& in) { return F::nll_loss(in[0], t3, o); },
                       {leaf({2, 4, 3})});
      auto b = nn::BCELossOptions().reduction(r);
      if (weighted) b.weight(tensor({0.5, 2.0, 1.0, 1.5}));
      expect_gradcheck(
          [b](const auto& in) { return F::binary_cross_entropy(in[0], in[1], b); },
          {probability_leaf({3, 4}), probability_leaf({3, 4})});
      for (bool pos : {false, true}) {
        auto bl = nn::BCEWithLogitsLossOptions().reduction(r);
        if (weighted) bl.weight(tensor({0.5, 2.0, 1.0, 1.5}));
        if (pos) bl.pos_weight(tensor({3.0, 0.5, 1.0, 2.0}));
        expect_gradcheck(
            [bl](const auto& in) {
              return F::binary_cross_entropy_with_logits(in[0], in[1], bl);
            },
            {leaf({3, 4}), probability_leaf({3, 4})});
      }
    }
  }
  for (nn::Reduction r : {nn::kNone, nn::kMean, nn::kSum, nn::kBatchMean}) {
    CAPTURE(nn::reduction_name(r));
    expect_gradcheck(
        [r](const auto& in) { return F::kl_div(in[0], in[1], nn::KLDivLossOptions(r)); },
        {leaf({3, 4}), probability_leaf({3, 4})});
    expect_gradcheck(
        [r](const auto& in) {
          return F::kl_div(in[0], in[1], nn::KLDivLossOptions(r).log_target(true));
        },
        {leaf({3, 4}), leaf({3, 4})});
  }
}

TEST_CASE("gradcheck: the softmax and log_softmax kernels along every dim") {
  for (std::int64_t d : {0, 1, 2, -1}) {
    CAPTURE(d);
    expect_gradcheck([d](const auto& in) { return softmax(in[0], d); }, {leaf({2, 3, 4})});
    expect_gradcheck([d](const auto& in) { return log_softmax(in[0], d); }, {leaf({2, 3, 4})});
    // A transposed (non-contiguous) input.
    expect_gradcheck([d](const auto& in) { return softmax(in[0].transpose(0, 2), d); },
                     {leaf({4, 3, 2})});
  }
  expect_gradcheck([](const auto& in) { return log_softmax(in[0], 0); }, {leaf({})});
}

TEST_CASE("cross_entropy: values by hand, stability, and the mean's divisor") {
  test::on_cpu_backends([] {
    // -log softmax([1, 2, 3])[2] = log(e + e^2 + e^3) - 3 = 0.40760596444438
    Tensor x = tensor({{1.0, 2.0, 3.0}});
    test::check_values(F::cross_entropy(x, int64s({2}, {1})), {0.40760596444438}, 1e-12);
    // Huge logits stay finite: shifted by the max before exp.
    Tensor big = tensor({{1e4f, -1e4f, 0.0f}});
    test::check_values(F::cross_entropy(big, int64s({0}, {1})), {0.0});
    test::check_values(F::cross_entropy(big, int64s({1}, {1})), {2e4}, 1e-6);
    // mean divides by the summed weights of the targets that count: (2*l0 + 3*l1) / (2 + 3).
    Tensor xs = tensor({{0.0, 0.0}, {0.0, 0.0}, {5.0, 0.0}});
    Tensor w = tensor({2.0, 3.0});
    auto o = nn::CrossEntropyLossOptions().weight(w);
    const double l = std::log(2.0);
    test::check_values(F::cross_entropy(xs, int64s({0, 1, -100}, {3}), o), {l}, 1e-12);
    // Every target ignored: 0 / 0, NaN as PyTorch.
    CHECK(std::isnan(F::cross_entropy(xs, int64s({-100, -100, -100}, {3})).item<double>()));
    // sum of nothing is 0; none keeps the target's shape.
    CHECK(F::cross_entropy(xs, int64s({-100, -100, -100}, {3}), nn::CrossEntropyLossOptions().reduction(nn::kSum)).item<double>() == 0.0);
    CHECK(F::cross_entropy(zeros({2, 3, 4, 5}), zeros({2, 4, 5}, TensorOptions(kInt64)),
                           nn::CrossEntropyLossOptions().reduction(nn::kNone))
              .sizes() == Shape{2, 4, 5});
  });
}

TEST_CASE("losses: bad input raises reel::Error in PyTorch's words") {
  const Tensor x = zeros({3, 4});
  const Tensor t = int64s({0, 1, 2}, {3});
  // Class indices out of range (not ignore_index), on every backend: an error, never a read.
  test::on_cpu_backends([&] {
    check_error([&] { F::cross_entropy(x, int64s({0, 4, 1}, {3})); },
                {"cross_entropy", "Target 4 is out of bounds", "[0, 4)"});
    check_error([&] { F::cross_entropy(x, int64s({0, -1, 1}, {3})); }, {"Target -1"});
    check_error([&] { F::nll_loss(x, int64s({0, 7, 1}, {3})); }, {"nll_loss", "Target 7"});
    // ignore_index itself is fine anywhere, even inside [0, C).
    CHECK_NOTHROW(F::cross_entropy(x, int64s({0, 7, 1}, {3}),
                                   nn::CrossEntropyLossOptions().ignore_index(7)));
  });
  check_error([&] { F::cross_entropy(x, int64s({0, 1}, {2})); },
              {"Expected input batch_size (3) to match target batch_size (2)."});
  check_error([&] { F::cross_entropy(x, zeros({3})); },
              {"expected scalar type Long but found float32"});
  check_error([&] { F::cross_entropy(x, t.to(kInt32)); }, {"expected scalar type Long"});
  check_error([&] { F::cross_entropy(x, zeros({3, 4}, TensorOptions(kInt64))); },
              {"Expected floating point type for target with class probabilities"});
  check_error([&] { F::cross_entropy(x, zeros({3, 4}), nn::CrossEntropyLossOptions().ignore_index(1)); },
              {"ignore_index is not supported for floating point target"});
  check_error([&] { F::cross_entropy(x, t, nn::CrossEntropyLossOptions().weight(ones({3}))); },
              {"weight tensor should be defined either for all 4 classes or no classes but got "
               "weight tensor of shape: [3]"});
  for (double ls : {-0.1, 1.5}) {
    check_error([&] { F::cross_entropy(x, t, nn::CrossEntropyLossOptions().label_smoothing(ls)); },
                {"label_smoothing must be between 0.0 and 1.0"});
  }
  check_error([&] { F::cross_entropy(zeros({2, 3, 5}), zeros({2, 4}, TensorOptions(kInt64))); },
              {"Expected target size [2, 5], got [2, 4]"});
  check_error([&] { F::cross_entropy(x, zeros({3, 2}, TensorOptions(kInt64))); },
              {"0D or 1D target tensor expected, multi-target not supported"});
  check_error([&] { F::cross_entropy(zeros({3}), int64s({1}, {1})); }, {"size mismatch"});
  check_error([&] { F::cross_entropy(scalar_tensor(1.0), int64s({0}, {})); },
              {"Expected 1 or more dimensions"});
  check_error([&] { F::cross_entropy(zeros({3, 4}, TensorOptions(kInt64)), t); },
              {"cross_entropy", "floating point"});
  check_error([&] { F::nll_loss(x, t, nn::NLLLossOptions().weight(ones({5}))); },
              {"nll_loss", "weight tensor should be defined either for all 4 classes"});
  // BCE: probabilities only, same shapes.
  check_error([] { F::binary_cross_entropy(tensor({0.5, 1.5}), tensor({1.0, 0.0})); },
              {"binary_cross_entropy", "all elements of input should be between 0 and 1"});
  check_error([] { F::binary_cross_entropy(tensor({0.5, std::nan("")}), tensor({1.0, 0.0})); },
              {"all elements of input should be between 0 and 1"});
  check_error([] { F::binary_cross_entropy(tensor({0.5, 0.5}), tensor({1.0})); },
              {"Using a target size ([1]) that is different to the input size ([2])"});
  check_error([] { F::binary_cross_entropy_with_logits(tensor({0.5, 0.5}), tensor({1.0})); },
              {"Target size ([1]) must be the same as input size ([2])"});
  check_error([] {
    F::binary_cross_entropy_with_logits(zeros({2, 3}), zeros({2, 3}),
                                        nn::BCEWithLogitsLossOptions().pos_weight(ones({4})));
  }, {"binary_cross_entropy_with_logits"});
  // Pointwise: shapes must broadcast; beta/delta ranges; reduction names.
  check_error([] { F::mse_loss(zeros({3}), zeros({4})); }, {"mse_loss"});
  check_error([] { F::l1_loss(zeros({3}), zeros({3}, TensorOptions(kInt64))); },
              {"l1_loss", "floating point target"});
  check_error([] { F::smooth_l1_loss(zeros({3}), zeros({3}), nn::SmoothL1LossOptions().beta(-1)); },
              {"smooth_l1_loss does not support negative values for beta"});
  check_error([] { F::huber_loss(zeros({3}), zeros({3}), nn::HuberLossOptions().delta(0)); },
              {"huber_loss does not support non-positive values for delta"});
  check_error([] { nn::MSELossOptions().reduction("avg"); },
              {"avg is not a valid value for reduction"});
  check_error([] { F::mse_loss(zeros({3}), zeros({3}), nn::kBatchMean); },
              {"mse_loss", "batchmean"});
}

TEST_CASE("loss modules: options, buffers, repr") {
  nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().weight(tensor({1.0, 2.0})).label_smoothing(0.1));
  CHECK(ce->repr() == "CrossEntropyLoss()");
  auto buffers = ce->named_buffers();
  REQUIRE(buffers.size() == 1);
  CHECK(buffers[0].first == "weight");
  CHECK(ce->options().label_smoothing_ == 0.1);
  // The weight moves with the module: after to(float32), float32 inputs are accepted.
  ce->to(kFloat32);
  CHECK(ce->weight.dtype() == kFloat32);
  CHECK_NOTHROW(ce(zeros({2, 2}), int64s({0, 1}, {2})));
  nn::BCEWithLogitsLoss bl(nn::BCEWithLogitsLossOptions().pos_weight(ones({3})));
  CHECK(bl->repr() == "BCEWithLogitsLoss()");
  REQUIRE(bl->named_buffers().size() == 1);
  CHECK(bl->named_buffers()[0].first == "pos_weight");
  nn::MSELoss mse;
  CHECK(mse->repr() == "MSELoss()");
  CHECK(mse->named_buffers().empty());
  CHECK(nn::KLDivLoss(nn::KLDivLossOptions(nn::kBatchMean))->options().reduction_ ==
        nn::kBatchMean);
  CHECK(nn::L1LossOptions().reduction("sum").reduction_ == nn::kSum);
}

TEST_CASE("softmax kernels: PyTorch's values for infinities and NaN, rows and lanes") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  // torch.softmax / log_softmax of each row (1.13, float32 and float64 alike).
  struct Row {
    std::vector<double> x, softmax, log_softmax;
  };
  const std::vector<Row> rows = {
      {{1.0, inf}, {nan, nan}, {nan, nan}},
      {{-inf, -inf}, {nan, nan}, {nan, nan}},
      {{1.0, nan}, {nan, nan}, {nan, nan}},
      {{-inf, 0.0}, {0.0, 1.0}, {-inf, 0.0}},
  };
  test::on_cpu_backends([&] {
    for (DType dt : {kFloat32, kFloat64}) {
      for (const Row& r : rows) {
        CAPTURE(r.x);
        // Repeated to 2 x 40 rows, so the SIMD paths see full vectors: along dim 1 each row is
        // one contiguous run; transposed (and made contiguous) the same values are lanes.
        std::vector<double> flat;
        for (int rep = 0; rep < 2; ++rep) {
          for (int k = 0; k < 20; ++k) flat.insert(flat.end(), r.x.begin(), r.x.end());
        }
        // Each of the 2 rows holds 20 copies of the pattern: every entry of the pattern's
        // expected result scales: softmax of repeated values divides by 20.
        Tensor x = tensor(flat, Shape{2, static_cast<std::int64_t>(flat.size() / 2)},
                          TensorOptions(dt));
        for (bool lanes : {false, true}) {
          CAPTURE(lanes);
          Tensor xin = lanes ? x.t().contiguous() : x;
          const std::int64_t d = lanes ? 0 : 1;
          std::vector<double> sm = softmax(xin, d).to_vector<double>();
          std::vector<double> lsm = log_softmax(xin, d).to_vector<double>();
          for (std::size_t i = 0; i < sm.size(); ++i) {
            // The element's position in the pattern.
            const std::size_t col = lanes ? i / 2 : i % (flat.size() / 2);
            const std::size_t j = col % r.x.size();
            if (std::isnan(r.softmax[j])) {
              CHECK(std::isnan(sm[i]));
              CHECK(std::isnan(lsm[i]));
            } else {
              CHECK(sm[i] == doctest::Approx(r.softmax[j] / 20.0));
              if (std::isinf(r.log_softmax[j])) CHECK(lsm[i] == r.log_softmax[j]);
              else CHECK(lsm[i] == doctest::Approx(r.log_softmax[j] - std::log(20.0)));
            }
          }
        }
      }
    }
  });
  CHECK(softmax(zeros({0, 3}), 1).sizes() == Shape{0, 3});
  CHECK(log_softmax(zeros({3, 0}), 1).sizes() == Shape{3, 0});
}

TEST_CASE("cross_entropy: non-contiguous input, gradcheck through the reshape") {
  const Tensor t = int64s({0, 2, 1}, {3});
  expect_gradcheck([t](const auto& in) { return F::cross_entropy(in[0].t(), t); },
                   {leaf({4, 3})});
  expect_gradcheck(
      [](const auto& in) {
        return F::cross_entropy(in[0].permute({0, 2, 1}), int64s({0, 3, 1, 2, 2, 0}, {2, 3}),
                                nn::CrossEntropyLossOptions().label_smoothing(0.3));
      },
      {leaf({2, 3, 4})});
}

TEST_CASE("cross_entropy and nll_loss: (N, C, d1, d2) inputs equal the flattened (N, C, L) ones") {
  manual_seed(11);
  Tensor x = randn({2, 3, 4, 5}, kFloat64);
  Tensor t = randint(0, 3, {2, 4, 5});
  {
    NoGradGuard no_grad;
    t = where(eq(t, Scalar(1)), Scalar(-100), t.to(kFloat64)).to(kInt64);  // some ignored
  }
  Tensor w = tensor({0.5, 1.0, 2.0});
  for (nn::Reduction r : {nn::kNone, nn::kMean, nn::kSum}) {
    auto o = nn::CrossEntropyLossOptions().weight(w).label_smoothing(0.1).reduction(r);
    Tensor a = F::cross_entropy(x, t, o);
    Tensor b = F::cross_entropy(x.reshape({2, 3, 20}), t.reshape({2, 20}), o);
    CHECK(a.sizes() == (r == nn::kNone ? Shape{2, 4, 5} : Shape{}));
    CHECK(allclose(a.reshape({-1}), b.reshape({-1}), 1e-12, 1e-14));
    auto on = nn::NLLLossOptions().weight(w).reduction(r);
    Tensor c = F::nll_loss(log_softmax(x, 1), t, on);
    Tensor d = F::nll_loss(log_softmax(x, 1).reshape({2, 3, 20}), t.reshape({2, 20}), on);
    CHECK(allclose(c.reshape({-1}), d.reshape({-1}), 1e-12, 1e-14));
  }
}
