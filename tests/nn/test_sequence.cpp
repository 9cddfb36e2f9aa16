// Variable-length sequences (issue 8): nn::utils::rnn::pad_sequence and sequence_mask, and the
// losses' masks, against PyTorch 1.13 (tests/nn/golden/sequence/, made by
// make_sequence_golden.py), gradchecks, and bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "golden.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;
namespace rnn = reel::nn::utils::rnn;
using test::check_error;
using test::leaf;

namespace {

const std::string kDir = test::golden::dir("sequence");

Tensor file(const std::string& id, const std::string& name) {
  return load_npy(kDir + "/" + id + "_" + name + ".npy");
}
bool has_file(const std::string& id, const std::string& name) {
  return std::ifstream(kDir + "/" + id + "_" + name + ".npy").good();
}

void check_matches(const std::string& what, const Tensor& got, const Tensor& want, DType dtype) {
  const double rtol = dtype == kFloat32 ? 1e-5 : 1e-10;
  const double atol = dtype == kFloat32 ? 1e-6 : 1e-12;
  const std::string m = test::golden::mismatch(what, got, want, rtol, atol);
  CHECK_MESSAGE(m.empty(), m);
}

Tensor int64s(const std::vector<std::int64_t>& v, const Shape& shape) {
  return tensor(v, shape, TensorOptions(kInt64));
}
Tensor bools(const std::vector<std::int64_t>& v, const Shape& shape) {
  return ne(int64s(v, shape), Scalar(0));
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
void expect_gradcheck(const Fn& f, const std::vector<Tensor>& inputs) {
  auto r = autograd::gradcheck(f, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace

// --- pad_sequence ---------------------------------------------------------------------------

TEST_CASE("pad_sequence matches PyTorch: output and each sequence's gradient") {
  const auto lines = test::golden::index_lines(kDir + "/pad_index.txt");
  REQUIRE(lines.size() == 5);
  test::on_cpu_backends([&] {
    for (const std::string& line : lines) {
      CAPTURE(line);
      std::istringstream in(line);
      std::string id, dtype;
      int batch_first = 0, n = 0;
      double padding = 0;
      in >> id >> dtype >> batch_first >> padding >> n;
      const DType dt = test::golden::parse_dtype(dtype);
      std::vector<Tensor> seqs;
      for (int i = 0; i < n; ++i) seqs.push_back(file(id, "seq" + std::to_string(i)).requires_grad_());
      Tensor out = rnn::pad_sequence(seqs, batch_first != 0, padding);
      check_matches("output", out, file(id, "output"), dt);
      sum(mul(out, file(id, "grad_output"))).backward();
      for (int i = 0; i < n; ++i) {
        check_matches("grad of sequence " + std::to_string(i), seqs[i].grad(),
                      file(id, "grad_seq" + std::to_string(i)), dt);
      }
    }
  });
}

TEST_CASE("pad_sequence: layouts and padding by hand") {
  Tensor a = tensor({1.0, 2.0, 3.0}), b = tensor({4.0});
  Tensor t = rnn::pad_sequence({a, b});  // [3, 2]: time first
  CHECK(t.sizes() == Shape{3, 2});
  test::check_values(t, {1, 4, 2, 0, 3, 0});
  Tensor bf = rnn::pad_sequence({a, b}, true, -1.0);
  CHECK(bf.sizes() == Shape{2, 3});
  test::check_values(bf, {1, 2, 3, 4, -1, -1});
  // The first sequence's dtype, the others cast (PyTorch's copy_).
  Tensor mixed = rnn::pad_sequence({tensor({1.0f, 2.0f}), tensor({3.5})}, true);
  CHECK(mixed.dtype() == kFloat32);
  test::check_values(mixed, {1, 2, 3.5, 0});
  Tensor ints = rnn::pad_sequence({int64s({5, 6}, {2}), int64s({7}, {1})}, true, 9);
  CHECK(ints.dtype() == kInt64);
  CHECK(ints.to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 6, 7, 9});
  // Empty sequences, and all of them empty.
  Tensor e = rnn::pad_sequence({zeros({0, 2}), ones({1, 2})}, true, 3.0);
  CHECK(e.sizes() == Shape{2, 1, 2});
  test::check_values(e, {3, 3, 1, 1});
  CHECK(rnn::pad_sequence({zeros({0, 2}), zeros({0, 2})}).sizes() == Shape{0, 2, 2});
}

TEST_CASE("pad_sequence: gradcheck (float64)") {
  Tensor a = leaf({3, 2}), b = leaf({1, 2}), c = leaf({4, 2});
  expect_gradcheck([](const auto& in) { return rnn::pad_sequence(in, false, 0.5); }, {a, b, c});
  expect_gradcheck([](const auto& in) { return rnn::pad_sequence(in, true); }, {a, b, c});
  // A broadcast trailing dim: its gradient is summed.
  Tensor d = leaf({2, 1});
  expect_gradcheck([](const auto& in) { return rnn::pad_sequence(in, true); }, {a, d});
}

TEST_CASE("pad_sequence: bad input raises reel::Error naming pad_sequence") {
  check_error([] { rnn::pad_sequence({}); }, {"pad_sequence", "empty list"});
  check_error([] { rnn::pad_sequence({zeros({2, 3}), zeros({2, 4})}); },
              {"pad_sequence", "must match", "(3)", "(4)", "sequence 1"});
  check_error([] { rnn::pad_sequence({zeros({2, 3}), zeros({2})}); },
              {"pad_sequence", "sequence 1"});
  check_error([] { rnn::pad_sequence({zeros({2}), zeros({2, 1})}); },
              {"pad_sequence", "sequence 1"});
  check_error([] { rnn::pad_sequence({scalar_tensor(1.0), scalar_tensor(2.0)}); },
              {"pad_sequence", "0-dim"});
  check_error([] { rnn::pad_sequence({zeros({2}), Tensor()}); },
              {"pad_sequence", "undefined"});
}

// --- sequence_mask ----------------------------------------------------------------------------

TEST_CASE("sequence_mask: true on the real steps") {
  Tensor m = rnn::sequence_mask(int64s({3, 0, 1}, {3}));
  CHECK(m.dtype() == kBool);
  CHECK(m.sizes() == Shape{3, 3});
  CHECK(equal(m, bools({1, 1, 1, 0, 0, 0, 1, 0, 0}, {3, 3})));
  Tensor wide = rnn::sequence_mask(tensor({2}, TensorOptions(kInt32)), 4);
  CHECK(equal(wide, bools({1, 1, 0, 0}, {1, 4})));
  CHECK(rnn::sequence_mask(int64s({}, {0})).sizes() == Shape{0, 0});
  check_error([] { rnn::sequence_mask(int64s({2, -1}, {2})); }, {"sequence_mask", "-1"});
  check_error([] { rnn::sequence_mask(int64s({2, 5}, {2}), 4); },
              {"sequence_mask", "max_len", "4", "5"});
  check_error([] { rnn::sequence_mask(tensor({2.0})); }, {"sequence_mask", "integer"});
  check_error([] { rnn::sequence_mask(int64s({2, 1}, {1, 2})); }, {"sequence_mask", "1-D"});
}

// --- masked losses ----------------------------------------------------------------------------

namespace {

using test::golden::LossCase;

std::vector<LossCase> loss_cases() { return test::golden::loss_cases(kDir + "/loss_index.txt"); }

// The case's masked loss through F (module = false: the mask in the options) or the module
// (the mask as forward's third argument).
Tensor run_masked(const LossCase& c, const Tensor& x, const Tensor& t, const Tensor& m,
                  bool module) {
  const nn::Reduction r = c.reduction;
  const Tensor w = c.opts.count("weight") ? file(c.id, "weight") : Tensor();
  const Tensor pw = c.opts.count("pos_weight") ? file(c.id, "pos_weight") : Tensor();
  const std::string& l = c.loss;
  if (l == "mse_loss") {
    return module ? nn::MSELoss(nn::MSELossOptions(r))(x, t, m)
                  : F::mse_loss(x, t, F::MSELossFuncOptions(r).mask(m));
  }
  if (l == "l1_loss") {
    return module ? nn::L1Loss(nn::L1LossOptions(r))(x, t, m)
                  : F::l1_loss(x, t, F::L1LossFuncOptions(r).mask(m));
  }
  if (l == "smooth_l1_loss") {
    auto o = nn::SmoothL1LossOptions(r).beta(c.num("beta", 1.0));
    return module ? nn::SmoothL1Loss(o)(x, t, m) : F::smooth_l1_loss(x, t, o.mask(m));
  }
  if (l == "huber_loss") {
    auto o = nn::HuberLossOptions(r).delta(c.num("delta", 1.0));
    return module ? nn::HuberLoss(o)(x, t, m) : F::huber_loss(x, t, o.mask(m));
  }
  if (l == "binary_cross_entropy") {
    auto o = nn::BCELossOptions().reduction(r);
    if (w.defined()) o.weight(w);
    return module ? nn::BCELoss(o)(x, t, m) : F::binary_cross_entropy(x, t, o.mask(m));
  }
  if (l == "binary_cross_entropy_with_logits") {
    auto o = nn::BCEWithLogitsLossOptions().reduction(r);
    if (w.defined()) o.weight(w);
    if (pw.defined()) o.pos_weight(pw);
    return module ? nn::BCEWithLogitsLoss(o)(x, t, m)
                  : F::binary_cross_entropy_with_logits(x, t, o.mask(m));
  }
  if (l == "cross_entropy" || l == "cross_entropy_probs") {
    auto o = nn::CrossEntropyLossOptions().reduction(r).label_smoothing(
        c.num("label_smoothing", 0.0));
    if (w.defined()) o.weight(w);
    return module ? nn::CrossEntropyLoss(o)(x, t, m) : F::cross_entropy(x, t, o.mask(m));
  }
  if (l == "nll_loss") {
    auto o = nn::NLLLossOptions().reduction(r);
    if (w.defined()) o.weight(w);
    return module ? nn::NLLLoss(o)(x, t, m) : F::nll_loss(x, t, o.mask(m));
  }
  FAIL("unknown loss ", l);
  return {};
}

}  // namespace

TEST_CASE("masked losses match PyTorch's explicit masking: forward and gradients") {
  const std::vector<LossCase> cases = loss_cases();
  REQUIRE(cases.size() == 66);
  test::on_cpu_backends([&] {
    for (const LossCase& c : cases) {
      CAPTURE(c.line);
      const bool target_grad = has_file(c.id, "grad_target");
      for (bool module : {false, true}) {
        CAPTURE(module);
        Tensor x = file(c.id, "input").requires_grad_();
        Tensor t = file(c.id, "target");
        if (target_grad) t.requires_grad_();
        Tensor out = run_masked(c, x, t, file(c.id, "mask"), module);
        check_matches("output", out, file(c.id, "output"), c.dtype);
        sum(mul(out, file(c.id, "grad_output"))).backward();
        check_matches("grad_input", x.grad(), file(c.id, "grad_input"), c.dtype);
        if (target_grad) check_matches("grad_target", t.grad(), file(c.id, "grad_target"), c.dtype);
      }
    }
  });
}

TEST_CASE("masked losses: a masked step's value does not matter") {
  // Padded steps holding NaN / inf losses and out-of-range class indices: the masked loss is
  // the loss of the real steps alone.
  Tensor m = bools({1, 1, 0}, {3});
  Tensor x = tensor({1.0, 2.0, 0.0}), y = tensor({0.0, 4.0, std::numeric_limits<double>::infinity()});
  // ((1 - 0)^2 + (2 - 4)^2) / 2 = 2.5
  test::check_values(F::mse_loss(x, y, F::MSELossFuncOptions().mask(m)), {2.5});
  test::check_values(F::mse_loss(x, y, F::MSELossFuncOptions(nn::kNone).mask(m)), {1, 4, 0});
  // Class targets: the padded step's target is 7 with 2 classes; masked, it is never read.
  Tensor logits = tensor({{0.0, 0.0}, {0.0, 0.0}, {0.0, 0.0}}).requires_grad_();
  Tensor target = int64s({0, 1, 7}, {3});
  Tensor ce = F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().mask(m));
  test::check_values(ce, {std::log(2.0)});
  ce.backward();
  test::check_values(logits.grad(), {-0.25, 0.25, 0.25, -0.25, 0, 0});
  // Without the mask the bad target is an error, as in PyTorch.
  CHECK_THROWS_AS(F::cross_entropy(logits, target), reel::Error);
}

TEST_CASE("masked losses: a fully masked batch") {
  Tensor none = bools({0, 0}, {2});
  Tensor x = tensor({1.0, 2.0}).requires_grad_(), y = tensor({0.0, 0.0});
  Tensor mean = F::mse_loss(x, y, F::MSELossFuncOptions().mask(none));
  CHECK(std::isnan(mean.item<double>()));  // 0 / 0, as PyTorch's all-ignored cross_entropy
  mean.backward();
  test::check_values(x.grad(), {0, 0});
  test::check_values(F::mse_loss(x, y, F::MSELossFuncOptions(nn::kSum).mask(none)), {0});
  Tensor logits = zeros({2, 3}).requires_grad_();
  Tensor ce = F::cross_entropy(logits, int64s({0, 1}, {2}), F::CrossEntropyFuncOptions().mask(none));
  CHECK(std::isnan(ce.item<double>()));
  ce.backward();
  test::check_values(logits.grad(), {0, 0, 0, 0, 0, 0});
}

TEST_CASE("masked losses: the options' mask and the module's") {
  Tensor x = tensor({1.0, 3.0}), y = tensor({0.0, 0.0});
  nn::MSELoss masked(nn::MSELossOptions().mask(bools({1, 0}, {2})));
  test::check_values(masked(x, y), {1});
  test::check_values(masked(x, y, bools({0, 1}, {2})), {9});  // forward's mask wins
  test::check_values(nn::MSELoss()(x, y), {5});
}

TEST_CASE("masked losses: gradcheck (float64)") {
  Tensor m = bools({1, 1, 0, 1, 0, 0}, {2, 3});
  for (nn::Reduction r : {nn::kMean, nn::kSum, nn::kNone}) {
    CAPTURE(nn::reduction_name(r));
    Tensor x = leaf({2, 3, 2}), y = leaf({2, 3, 2});
    Tensor mb = m.unsqueeze(-1);
    expect_gradcheck([&](const auto& in) {
      return F::mse_loss(in[0], in[1], F::MSELossFuncOptions(r).mask(mb));
    }, {x, y});
    expect_gradcheck([&](const auto& in) {
      return F::smooth_l1_loss(in[0], in[1], F::SmoothL1LossFuncOptions(r).beta(0.5).mask(mb));
    }, {x, y});
    Tensor p = leaf({2, 3, 2});
    expect_gradcheck([&](const auto& in) {
      return F::binary_cross_entropy_with_logits(
          in[0], in[1], F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(r).mask(mb));
    }, {x, p});
    Tensor logits = leaf({2, 4, 3});
    Tensor target = int64s({0, 3, 9, 2, -5, 1}, {2, 3});  // masked steps: invalid classes
    expect_gradcheck([&](const auto& in) {
      return F::cross_entropy(in[0], target,
                              F::CrossEntropyFuncOptions().reduction(r).label_smoothing(0.1).mask(m));
    }, {logits});
  }
}

TEST_CASE("masked losses: a bad mask raises reel::Error naming the loss") {
  Tensor x = zeros({2, 3}), y = zeros({2, 3});
  // Not bool.
  check_error([&] { F::mse_loss(x, y, F::MSELossFuncOptions().mask(ones({2, 3}))); },
              {"mse_loss", "bool", "mask"});
  // Not broadcastable, or enlarging the loss.
  check_error([&] { F::l1_loss(x, y, F::L1LossFuncOptions().mask(bools({1, 0}, {2}))); },
              {"l1_loss", "mask", "[2]", "[2, 3]"});
  check_error([&] {
    F::huber_loss(x, y, F::HuberLossFuncOptions().mask(bools({1, 1, 1, 1, 1, 1}, {1, 2, 3})));
  }, {"huber_loss", "mask"});
  // Class-index cross_entropy: the mask is of the target's shape, not the input's.
  Tensor logits = zeros({2, 4, 3});
  Tensor target = zeros({2, 3}, TensorOptions(kInt64));
  check_error([&] {
    F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().mask(ones({2, 4, 3}).to(kBool)));
  }, {"cross_entropy", "mask"});
  check_error([&] {
    F::nll_loss(logits, target, F::NLLLossFuncOptions().mask(zeros({2, 3}, TensorOptions(kInt64))));
  }, {"nll_loss", "bool"});
  check_error([&] {
    F::binary_cross_entropy(x, y, F::BinaryCrossEntropyFuncOptions().mask(bools({1}, {1}).expand({3, 1})));
  }, {"binary_cross_entropy", "mask"});
}
