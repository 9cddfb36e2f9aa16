// Conv1d against PyTorch's own numbers: tests/nn/golden/conv1d/ holds, per configuration, the
// input, weight, bias and grad_output PyTorch 1.13 used and the output, grad_input, grad_weight
// and grad_bias it computed (tests/nn/golden/make_conv1d_golden.py made them; the README there
// says how). Every configuration runs through nn::Conv1d and through nn::functional::conv1d, on
// every device (test::on_devices: both CPU backends, and CUDA once it has conv1d kernels), and
// every tensor must match.
#include <complex>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include "golden.hpp"
#include "nn/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;

namespace {

const std::string kGoldenDir = test::golden::dir("conv1d");

// One line of index.txt (its format is documented in make_conv1d_golden.py).
struct GoldenConfig {
  std::string line;  // the index line, for messages
  std::string id;
  DType dtype = kFloat32;
  std::int64_t batch = 0;  // -1: unbatched input (C_in, L)
  std::int64_t c_in = 0, c_out = 0, length = 0, kernel = 0, stride = 0;
  Conv1dPadding padding = std::int64_t{0};
  std::int64_t dilation = 0, groups = 0;
  bool bias = false;
  PaddingMode mode = kZeros;
  std::int64_t l_out = 0;

  bool unbatched() const { return batch == -1; }
  Shape input_shape() const {
    return unbatched() ? Shape{c_in, length} : Shape{batch, c_in, length};
  }
  Shape output_shape() const {
    return unbatched() ? Shape{c_out, l_out} : Shape{batch, c_out, l_out};
  }
  Shape weight_shape() const { return {c_out, c_in / groups, kernel}; }
};

Conv1dPadding parse_padding(const std::string& s) {
  if (s == "valid") return kValid;
  if (s == "same") return kSame;
  if (s == "causal") return kCausal;
  return std::int64_t{std::stoll(s)};
}

PaddingMode parse_mode(const std::string& s) {
  if (s == "zeros") return kZeros;
  if (s == "reflect") return kReflect;
  if (s == "replicate") return kReplicate;
  if (s == "circular") return kCircular;
  fail("golden index: unknown padding_mode '{}'", s);
}

std::vector<GoldenConfig> read_index() {
  std::vector<GoldenConfig> configs;
  for (const std::string& line : test::golden::index_lines(kGoldenDir + "/index.txt")) {
    std::istringstream fields(line);
    GoldenConfig c;
    c.line = line;
    std::string dtype, padding, mode;
    int bias = 0;
    fields >> c.id >> dtype >> c.batch >> c.c_in >> c.c_out >> c.length >> c.kernel >> c.stride >>
        padding >> c.dilation >> c.groups >> bias >> mode >> c.l_out;
    REQUIRE_MESSAGE(!fields.fail(), "malformed golden index line: " << line);
    c.dtype = test::golden::parse_dtype(dtype);
    c.padding = parse_padding(padding);
    c.mode = parse_mode(mode);
    c.bias = bias != 0;
    configs.push_back(c);
  }
  return configs;
}

// The tensors of one configuration, cut out of its flat .npy in the order the script wrote them.
struct GoldenTensors {
  Tensor input, weight, bias, grad_output, output, grad_input, grad_weight, grad_bias;
};

GoldenTensors load_golden(const GoldenConfig& c) {
  test::golden::FlatReader r{load_npy(kGoldenDir + "/" + c.id + ".npy")};
  const Tensor& flat = r.flat;
  REQUIRE_MESSAGE(flat.dtype() == c.dtype, "config " << c.id << ": file dtype differs from index");
  std::int64_t n_in = numel_of(c.input_shape()), n_w = numel_of(c.weight_shape());
  std::int64_t expected_total = 2 * n_in + 2 * n_w + 2 * numel_of(c.output_shape()) +
                                (c.bias ? 2 * c.c_out : 0);
  REQUIRE_MESSAGE(flat.numel() == expected_total,
                  "config " << c.id << ": file holds " << flat.numel() << " values, index implies "
                            << expected_total);
  GoldenTensors g;
  g.input = r.next(c.input_shape());
  g.weight = r.next(c.weight_shape());
  if (c.bias) g.bias = r.next({c.c_out});
  g.grad_output = r.next(c.output_shape());
  g.output = r.next(c.output_shape());
  g.grad_input = r.next(c.input_shape());
  g.grad_weight = r.next(c.weight_shape());
  if (c.bias) g.grad_bias = r.next({c.c_out});
  return g;
}

// float32: PyTorch's own float32 results sit within 5% of this bound of the exact values.
std::string mismatch(const char* what, const Tensor& got, const Tensor& expected) {
  const bool single = expected.dtype() == kFloat32;
  return test::golden::mismatch(what, got, expected, single ? 1e-4 : 1e-10, single ? 1e-5 : 1e-10);
}

// Compares a run's results with PyTorch's; returns the first mismatch, or empty.
std::string compare(const GoldenTensors& g, const Tensor& out, const Tensor& grad_input,
                    const Tensor& grad_weight, const Tensor& grad_bias, bool has_bias) {
  for (auto m : {mismatch("output", out, g.output), mismatch("grad_input", grad_input, g.grad_input),
                 mismatch("grad_weight", grad_weight, g.grad_weight)}) {
    if (!m.empty()) return m;
  }
  if (has_bias) return mismatch("grad_bias", grad_bias, g.grad_bias);
  if (grad_bias.defined()) return "grad_bias is defined though the config has no bias";
  return {};
}

// The golden tensors on `device`.
GoldenTensors on(const GoldenTensors& g, Device device) {
  GoldenTensors d = g;
  for (Tensor* t : {&d.input, &d.weight, &d.bias, &d.grad_output, &d.output, &d.grad_input,
                    &d.grad_weight, &d.grad_bias}) {
    if (t->defined()) *t = t->to(device);
  }
  return d;
}

std::string run_module(const GoldenConfig& c, const GoldenTensors& g) {
  auto options = nn::Conv1dOptions(c.c_in, c.c_out, c.kernel)
                     .stride(c.stride)
                     .dilation(c.dilation)
                     .groups(c.groups)
                     .bias(c.bias)
                     .padding_mode(c.mode)
                     .dtype(c.dtype);
  std::visit([&](auto p) { options.padding(p); }, c.padding);
  nn::Conv1d conv(options);
  conv->to(g.input.device());
  {
    NoGradGuard no_grad;
    conv->weight.copy_(g.weight);
    if (c.bias) conv->bias.copy_(g.bias);
  }
  if (!c.bias && conv->bias.defined()) return "module has a bias though bias(false)";
  Tensor x = g.input.clone().requires_grad_(true);
  Tensor out = conv(x);
  out.backward(g.grad_output);
  return compare(g, out, x.grad(), conv->weight.grad(),
                 c.bias ? conv->bias.grad() : Tensor(), c.bias);
}

std::string run_functional(const GoldenConfig& c, const GoldenTensors& g) {
  auto options = F::Conv1dFuncOptions()
                     .stride(c.stride)
                     .dilation(c.dilation)
                     .groups(c.groups)
                     .padding_mode(c.mode);
  std::visit([&](auto p) { options.padding(p); }, c.padding);
  Tensor x = g.input.clone().requires_grad_(true);
  Tensor w = g.weight.clone().requires_grad_(true);
  Tensor b = c.bias ? g.bias.clone().requires_grad_(true) : Tensor();
  Tensor out = F::conv1d(x, w, b, options);
  out.backward(g.grad_output);
  return compare(g, out, x.grad(), w.grad(), c.bias ? b.grad() : Tensor(), c.bias);
}

using test::golden::guarded;

}  // namespace

TEST_CASE("conv1d matches PyTorch 1.13 golden vectors (module and functional, every device)") {
  const auto configs = read_index();
  // An empty or truncated index must fail, not pass vacuously.
  CHECK(configs.size() >= 150);

  std::vector<GoldenTensors> golden;
  golden.reserve(configs.size());
  for (const auto& c : configs) golden.push_back(load_golden(c));

  std::vector<std::string> failures;
  std::size_t runs = 0, devices = 0;
  const std::initializer_list<backends::OpId> needs = {
      backends::KernelOp::Conv1dForward, backends::KernelOp::Conv1dBackwardInput,
      backends::KernelOp::Conv1dBackwardWeight, backends::KernelOp::Conv1dBackward,
      backends::KernelOp::Pad1d,
      backends::KernelOp::Pad1dBackward};
  test::on_devices(needs, kFloat32, [&](Device device) {
    ++devices;
    const std::string where = device.is_cuda() ? std::string("cuda")
                                               : std::string(backends::host_backend().name());
    for (std::size_t i = 0; i < configs.size(); ++i) {
      const auto& c = configs[i];
      const GoldenTensors g = on(golden[i], device);
      for (auto [path, result] :
           {std::pair{"nn::Conv1d", guarded([&] { return run_module(c, g); })},
            std::pair{"functional::conv1d", guarded([&] { return run_functional(c, g); })}}) {
        ++runs;
        if (!result.empty()) {
          failures.push_back(fmt::format("[{} backend, {}] config {}: {}\n    index line: {}",
                                         where, path, c.id, result, c.line));
        }
      }
    }
  });

  CHECK(devices >= 2);
  CHECK(runs == 2 * devices * configs.size());
  test::golden::check_no_failures(failures, runs);
}
