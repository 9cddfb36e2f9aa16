// Conv1d, matmul and Linear in float16 / bfloat16 against PyTorch 1.13: the inputs, weights and
// grad_outputs PyTorch used and its output and gradients, in tests/nn/golden/low_precision/
// (conv_index.txt, mm_index.txt; made by tests/nn/golden/make_low_precision_golden.py, whose
// docstring says where the reference is PyTorch's own half result and where its float64 result
// rounded, and how each tolerance is derived). The tolerances are read from the index: one ulp
// of the dtype plus the float32-accumulation bound for the case's reduction lengths.
// Every case runs through the module and the functional form on both CPU backends.
#include <cstdint>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include "golden.hpp"
#include "nn/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "nn/functional/linear.hpp"
#include "nn/linear.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;
namespace golden = reel::test::golden;

namespace {

const std::string kDir = golden::dir("low_precision");

Shape parse_shape(const std::string& s) {
  Shape shape;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, 'x');) shape.push_back(std::stoll(part));
  return shape;
}

// Tolerances of one case (from the index): rtol, then atol per tensor in file order.
struct Tol {
  double rtol = 0;
  std::vector<double> atol;  // output, grad of each input in order, grad_bias (0 when no bias)
};

std::string mismatch(const char* what, const Tensor& got, const Tensor& expected, double rtol,
                     double atol) {
  return golden::mismatch(what, got, expected, rtol, atol);
}

// --- Conv1d ------------------------------------------------------------------------------------------

struct ConvCase {
  std::string line, id, source;
  DType dtype = kFloat32;
  std::int64_t batch = 0, c_in = 0, c_out = 0, length = 0, kernel = 0, stride = 0;
  Conv1dPadding padding = std::int64_t{0};
  std::int64_t dilation = 0, groups = 0, l_out = 0;
  bool bias = false;
  PaddingMode mode = kZeros;
  Tol tol;
  Shape input_shape() const { return batch == -1 ? Shape{c_in, length} : Shape{batch, c_in, length}; }
  Shape output_shape() const { return batch == -1 ? Shape{c_out, l_out} : Shape{batch, c_out, l_out}; }
  Shape weight_shape() const { return {c_out, c_in / groups, kernel}; }
};

Conv1dPadding parse_padding(const std::string& s) {
  if (s == "same") return kSame;
  if (s == "valid") return kValid;
  return std::int64_t{std::stoll(s)};
}

PaddingMode parse_mode(const std::string& s) {
  if (s == "zeros") return kZeros;
  if (s == "reflect") return kReflect;
  if (s == "replicate") return kReplicate;
  if (s == "circular") return kCircular;
  fail("golden index: unknown padding_mode '{}'", s);
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases;
  for (const std::string& line : golden::index_lines(kDir + "/conv_index.txt")) {
    std::istringstream in(line);
    ConvCase c;
    c.line = line;
    std::string dtype, padding, mode;
    int bias = 0;
    c.tol.atol.resize(4);
    in >> c.id >> dtype >> c.batch >> c.c_in >> c.c_out >> c.length >> c.kernel >> c.stride >>
        padding >> c.dilation >> c.groups >> bias >> mode >> c.l_out >> c.source >> c.tol.rtol >>
        c.tol.atol[0] >> c.tol.atol[1] >> c.tol.atol[2] >> c.tol.atol[3];
    REQUIRE_MESSAGE(!in.fail(), "malformed index line: " << line);
    c.dtype = golden::parse_dtype(dtype);
    c.padding = parse_padding(padding);
    c.mode = parse_mode(mode);
    c.bias = bias != 0;
    cases.push_back(c);
  }
  return cases;
}

struct ConvTensors {
  Tensor input, weight, bias, grad_output, output, grad_input, grad_weight, grad_bias;
};

ConvTensors load_conv(const ConvCase& c) {
  golden::FlatReader r{load_npy(kDir + "/conv_" + c.id + ".npy")};
  auto next = [&](const Shape& s) { return golden::from_bits16(r.next(s), c.dtype, s); };
  ConvTensors g;
  g.input = next(c.input_shape());
  g.weight = next(c.weight_shape());
  if (c.bias) g.bias = next({c.c_out});
  g.grad_output = next(c.output_shape());
  g.output = next(c.output_shape());
  g.grad_input = next(c.input_shape());
  g.grad_weight = next(c.weight_shape());
  if (c.bias) g.grad_bias = next({c.c_out});
  REQUIRE_MESSAGE(r.done(), "case " << c.id << ": the file holds more values than the index implies");
  return g;
}

std::string compare_conv(const ConvCase& c, const ConvTensors& g, const Tensor& out,
                         const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  const double rt = c.tol.rtol;
  for (auto m : {mismatch("output", out, g.output, rt, c.tol.atol[0]),
                 mismatch("grad_input", gx, g.grad_input, rt, c.tol.atol[1]),
                 mismatch("grad_weight", gw, g.grad_weight, rt, c.tol.atol[2])}) {
    if (!m.empty()) return m;
  }
  if (c.bias) return mismatch("grad_bias", gb, g.grad_bias, rt, c.tol.atol[3]);
  return gb.defined() ? "grad_bias is defined though the case has no bias" : "";
}

std::string run_conv_module(const ConvCase& c, const ConvTensors& g) {
  auto options = nn::Conv1dOptions(c.c_in, c.c_out, c.kernel)
                     .stride(c.stride)
                     .dilation(c.dilation)
                     .groups(c.groups)
                     .bias(c.bias)
                     .padding_mode(c.mode)
                     .dtype(c.dtype);
  std::visit([&](auto p) { options.padding(p); }, c.padding);
  nn::Conv1d conv(options);
  if (conv->weight.dtype() != c.dtype)
    return fmt::format("the module's weight is {}, asked for {}", conv->weight.dtype(), c.dtype);
  {
    NoGradGuard no_grad;
    conv->weight.copy_(g.weight);
    if (c.bias) conv->bias.copy_(g.bias);
  }
  Tensor x = g.input.clone().requires_grad_(true);
  Tensor out = conv(x);
  out.backward(g.grad_output);
  return compare_conv(c, g, out, x.grad(), conv->weight.grad(), c.bias ? conv->bias.grad() : Tensor());
}

std::string run_conv_functional(const ConvCase& c, const ConvTensors& g) {
  auto options =
      F::Conv1dFuncOptions().stride(c.stride).dilation(c.dilation).groups(c.groups).padding_mode(c.mode);
  std::visit([&](auto p) { options.padding(p); }, c.padding);
  Tensor x = g.input.clone().requires_grad_(true);
  Tensor w = g.weight.clone().requires_grad_(true);
  Tensor b = c.bias ? g.bias.clone().requires_grad_(true) : Tensor();
  Tensor out = F::conv1d(x, w, b, options);
  out.backward(g.grad_output);
  return compare_conv(c, g, out, x.grad(), w.grad(), c.bias ? b.grad() : Tensor());
}

// --- matmul / Linear -------------------------------------------------------------------------------

struct MmCase {
  std::string line, id, kind, source;
  DType dtype = kFloat32;
  Shape a, b;
  bool bias = false;
  Tol tol;
};

std::vector<MmCase> mm_cases() {
  std::vector<MmCase> cases;
  for (const std::string& line : golden::index_lines(kDir + "/mm_index.txt")) {
    std::istringstream in(line);
    MmCase c;
    c.line = line;
    std::string dtype, sa, sb;
    int bias = 0;
    c.tol.atol.resize(4);
    in >> c.id >> c.kind >> dtype >> sa >> sb >> bias >> c.source >> c.tol.rtol >> c.tol.atol[0] >>
        c.tol.atol[1] >> c.tol.atol[2] >> c.tol.atol[3];
    REQUIRE_MESSAGE(!in.fail(), "malformed index line: " << line);
    c.dtype = golden::parse_dtype(dtype);
    c.a = parse_shape(sa);
    c.b = parse_shape(sb);
    c.bias = bias != 0;
    cases.push_back(c);
  }
  return cases;
}

struct MmTensors {
  Tensor a, b, bias, grad_output, output, grad_a, grad_b, grad_bias;
};

MmTensors load_mm(const MmCase& c) {
  golden::FlatReader r{load_npy(kDir + "/mm_" + c.id + ".npy")};
  auto next = [&](const Shape& s) { return golden::from_bits16(r.next(s), c.dtype, s); };
  MmTensors g;
  g.a = next(c.a);
  g.b = next(c.b);
  if (c.bias) g.bias = next({c.b[0]});
  // the output's shape: matmul (..., M, K) @ (..., K, N) -> (..., M, N) with the longer batch
  // prefix (the cases need no other broadcasting); linear (..., in) -> (..., out)
  Shape out_shape;
  if (c.kind == "matmul") {
    const Shape& longer = c.a.size() >= c.b.size() ? c.a : c.b;
    for (int d = 0; d + 2 < longer.size(); ++d) out_shape.push_back(longer[d]);
    out_shape.push_back(c.a[c.a.size() - 2]);
    out_shape.push_back(c.b.back());
  } else {
    for (int d = 0; d + 1 < c.a.size(); ++d) out_shape.push_back(c.a[d]);
    out_shape.push_back(c.b[0]);
  }
  g.grad_output = next(out_shape);
  g.output = next(out_shape);
  g.grad_a = next(c.a);
  g.grad_b = next(c.b);
  if (c.bias) g.grad_bias = next({c.b[0]});
  REQUIRE_MESSAGE(r.done(), "case " << c.id << ": the file holds more values than the index implies");
  return g;
}

std::string compare_mm(const MmCase& c, const MmTensors& g, const Tensor& out, const Tensor& ga,
                       const Tensor& gb, const Tensor& gbias) {
  const double rt = c.tol.rtol;
  for (auto m : {mismatch("output", out, g.output, rt, c.tol.atol[0]),
                 mismatch("grad_a", ga, g.grad_a, rt, c.tol.atol[1]),
                 mismatch("grad_b", gb, g.grad_b, rt, c.tol.atol[2])}) {
    if (!m.empty()) return m;
  }
  if (c.bias) return mismatch("grad_bias", gbias, g.grad_bias, rt, c.tol.atol[3]);
  return {};
}

std::string run_mm_functional(const MmCase& c, const MmTensors& g) {
  Tensor a = g.a.clone().requires_grad_(true);
  Tensor b = g.b.clone().requires_grad_(true);
  Tensor bias = c.bias ? g.bias.clone().requires_grad_(true) : Tensor();
  Tensor out = c.kind == "matmul" ? matmul(a, b) : F::linear(a, b, bias);
  out.backward(g.grad_output);
  return compare_mm(c, g, out, a.grad(), b.grad(), c.bias ? bias.grad() : Tensor());
}

std::string run_linear_module(const MmCase& c, const MmTensors& g) {
  nn::Linear linear(nn::LinearOptions(c.b[1], c.b[0]).bias(c.bias).dtype(c.dtype));
  {
    NoGradGuard no_grad;
    linear->weight.copy_(g.b);
    if (c.bias) linear->bias.copy_(g.bias);
  }
  Tensor x = g.a.clone().requires_grad_(true);
  Tensor out = linear(x);
  out.backward(g.grad_output);
  return compare_mm(c, g, out, x.grad(), linear->weight.grad(), c.bias ? linear->bias.grad() : Tensor());
}

using golden::guarded;

}  // namespace

TEST_CASE("conv1d in float16 / bfloat16 matches PyTorch 1.13 (module and functional, CPU backends)") {
  const auto cases = conv_cases();
  CHECK(cases.size() >= 24);
  std::vector<ConvTensors> data;
  for (const auto& c : cases) data.push_back(load_conv(c));
  std::vector<std::string> failures;
  std::size_t runs = 0;
  test::on_cpu_backends([&] {
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      for (auto [path, result] :
           {std::pair{"nn::Conv1d", guarded([&] { return run_conv_module(c, data[i]); })},
            std::pair{"functional::conv1d", guarded([&] { return run_conv_functional(c, data[i]); })}}) {
        ++runs;
        if (!result.empty())
          failures.push_back(fmt::format("[{} backend, {}] case {}: {}\n    index line: {}",
                                         backends::host_backend().name(), path, c.id, result, c.line));
      }
    }
  });
  CHECK(runs == 4 * cases.size());
  golden::check_no_failures(failures, runs);
}

namespace {

// Two cases these files once caught, both a second rounding inside what PyTorch computes as one
// float32 accumulation: F::linear with a bias (PyTorch's addmm adds the bias in the float32
// accumulator; reel rounded x·Wᵀ first: case 11) and the gradient of an operand broadcast over
// a batch (PyTorch folds the batch into one matmul; reel summed rounded per-batch products:
// case 08). Both are fixed (nn/functional/linear.cpp, tensor/ops/linalg.cpp).
// Runs every case on both CPU backends.
void run_mm_cases() {
  const auto cases = mm_cases();
  REQUIRE(cases.size() >= 14);
  std::vector<MmTensors> data;
  for (const auto& c : cases) data.push_back(load_mm(c));
  std::vector<std::string> failures;
  std::size_t runs = 0;
  test::on_cpu_backends([&] {
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      std::vector<std::pair<const char*, std::string>> results = {
          {c.kind == "matmul" ? "matmul" : "functional::linear",
           guarded([&] { return run_mm_functional(c, data[i]); })}};
      if (c.kind == "linear")
        results.emplace_back("nn::Linear", guarded([&] { return run_linear_module(c, data[i]); }));
      for (const auto& [path, result] : results) {
        ++runs;
        if (!result.empty())
          failures.push_back(fmt::format("[{} backend, {}] case {}: {}\n    index line: {}",
                                         backends::host_backend().name(), path, c.id, result, c.line));
      }
    }
  });
  golden::check_no_failures(failures, runs);
}

}  // namespace

TEST_CASE("matmul and Linear in float16 / bfloat16 match PyTorch 1.13 (CPU backends)") {
  run_mm_cases();
}
