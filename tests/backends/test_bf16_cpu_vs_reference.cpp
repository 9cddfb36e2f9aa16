// bfloat16 matmul and Conv1d (forward and every gradient, through autograd) on the CPU backend
// against the reference backend, the oracle, which computes bfloat16 on float32 copies and
// rounds once. The CPU backend has native bfloat16 kernels for these four primitives
// (supports(op, kBFloat16)): the bf16 gemm, AVX-512 BF16 where the CPU has it (both paths run
// here), the widened direct algorithm for depthwise, and float32 copies for strided views.
//
// Tolerance, derived from the reduction length: both results are a float32 sum of `terms`
// exact products, each within E = (terms + 2) 2^-24 mag of the exact value (mag = the same
// computation on absolute values, run by the reference in float32), then rounded to bfloat16
// once (at most 2^-8 of the value each). So |cpu - ref| <= 2E + 2^-8 (|a| + |b|), bounded by
// 2^-7 (1 + 2^-7) |ref| + 2.1 E.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "backends/backend.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/gemm_bf16.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "nn/functional/conv1d.hpp"
#include "reel.hpp"

namespace {

using namespace reel;
namespace cpu = reel::backends::cpu;
namespace F = reel::nn::functional;

std::mt19937_64& rng() {
  static std::mt19937_64 g(911);
  return g;
}
std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

std::vector<double> values(const Tensor& t) { return t.to(kFloat64).contiguous().to_vector<double>(); }

void check_bf16_close(const char* what, const Tensor& got, const Tensor& want, const Tensor& mag,
                      std::int64_t terms) {
  REQUIRE(got.dtype() == kBFloat16);
  REQUIRE(want.dtype() == kBFloat16);
  const auto g = values(got), w = values(want), m = values(mag);
  REQUIRE(g.size() == w.size());
  REQUIRE(m.size() == w.size());
  std::int64_t bad = 0;
  std::string first;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double e = static_cast<double>(terms + 2) * std::ldexp(m[i], -24);
    const double bound = std::ldexp(1.0 + std::ldexp(1.0, -7), -7) * std::fabs(w[i]) + 2.1 * e;
    if (!(std::fabs(g[i] - w[i]) <= bound) && bad++ == 0)
      first = fmt::format("{}[{}]: cpu {} vs reference {} (bound {})", what, i, g[i], w[i], bound);
  }
  CHECK_MESSAGE(bad == 0, first);
}

struct Grads {
  Tensor y, gx, gw, gb;
};

// Runs the convolution and its backward on the selected CPU backend.
Grads conv_run(backends::Kind kind, const Tensor& x, const Tensor& w, const Tensor& b,
               const Tensor& gy, const F::Conv1dFuncOptions& opts) {
  backends::set_cpu_backend(kind);
  Tensor xr = x.detach().clone().requires_grad_();
  Tensor wr = w.detach().clone().requires_grad_();
  Tensor br = b.detach().clone().requires_grad_();
  Tensor y = F::conv1d(xr, wr, br, opts);
  y.backward(gy);
  backends::set_cpu_backend(backends::Kind::Cpu);
  return {y.detach(), xr.grad(), wr.grad(), br.grad()};
}

struct Restore {
  int threads = cpu::num_threads();
  ~Restore() {
    backends::set_cpu_backend(backends::Kind::Cpu);
    cpu::set_num_threads(threads);
    cpu::force_gemm_bf16_portable(false);
    cpu::force_conv1d_algorithm(cpu::Conv1dAlgorithm::Auto);
  }
};

}  // namespace

TEST_CASE("bf16 on the CPU backend: matmul, conv1d and their gradients are native kernels") {
  backends::set_cpu_backend(backends::Kind::Cpu);
  for (backends::KernelOp op : {backends::KernelOp::Matmul, backends::KernelOp::Conv1dForward,
                                backends::KernelOp::Conv1dBackwardInput,
                                backends::KernelOp::Conv1dBackwardWeight}) {
    CHECK(backends::host_backend().supports(op, kBFloat16));
  }
}

TEST_CASE("bf16 conv1d: CPU backend vs reference, every mode, algorithm and gemm path") {
  Restore restore;
  using cpu::Conv1dAlgorithm;
  for (int i = 0; i < 48; ++i) {
    const int structure = static_cast<int>(rand_int(0, 2));
    const std::int64_t groups = structure == 0 ? 1 : rand_int(2, 3);
    const std::int64_t cin = groups * (structure == 2 ? 1 : rand_int(1, 6));
    const std::int64_t cout = groups * rand_int(1, structure == 2 ? 3 : 12);
    const std::int64_t n = rand_int(1, 3), k = rand_int(1, 5), stride = rand_int(1, 3);
    const std::int64_t dilation = rand_int(1, 2);
    const std::int64_t length = rand_int(dilation * (k - 1) + 1, 70);
    F::Conv1dFuncOptions opts;
    opts.stride(stride).dilation(dilation).groups(groups);
    const int pad = static_cast<int>(rand_int(0, 3));
    if (pad == 1) opts.padding("same");
    else if (pad == 2) opts.padding("causal");
    else if (pad == 3) opts.padding(rand_int(1, 3));
    if (pad == 1 || pad == 2) opts.stride(1);
    const Conv1dAlgorithm algorithms[] = {Conv1dAlgorithm::Auto, Conv1dAlgorithm::Gemm,
                                          Conv1dAlgorithm::Direct, Conv1dAlgorithm::Reference};
    const Conv1dAlgorithm algorithm = algorithms[i % 4];
    const bool portable = !cpu::gemm_bf16_native_supported() || (i / 4) % 2 == 1;
    const bool strided_x = i % 5 == 0;  // a transposed view: the float32-copy route
    cpu::force_conv1d_algorithm(algorithm);
    cpu::force_gemm_bf16_portable(portable);
    cpu::set_num_threads(1 + static_cast<int>(rand_int(0, 1)));
    CAPTURE(fmt::format("N={} Cin={} Cout={} L={} K={} stride={} dilation={} groups={} pad={} "
                        "algorithm={} portable={} strided_x={}", n, cin, cout, length, k,
                        stride, dilation, groups, pad, static_cast<int>(algorithm), portable,
                        strided_x));
    Tensor x32 = strided_x ? randn({n, length, cin}).transpose(1, 2) : randn({n, cin, length});
    const Tensor w32 = randn({cout, cin / groups, k});
    const Tensor b32 = randn({cout});
    const Tensor x = x32.to(kBFloat16), w = w32.to(kBFloat16), b = b32.to(kBFloat16);
    Tensor y_shape;
    {
      NoGradGuard no_grad;
      y_shape = F::conv1d(x32, w32, b32, opts);
    }
    const Tensor gy = randn(y_shape.sizes()).to(kBFloat16);
    const Grads ref = conv_run(backends::Kind::Reference, x, w, b, gy, opts);
    const Grads got = conv_run(backends::Kind::Cpu, x, w, b, gy, opts);
    // Magnitudes: the same computation on absolute values, float32, by the reference.
    backends::set_cpu_backend(backends::Kind::Reference);
    Tensor ax = x.to(kFloat32).abs().requires_grad_(), aw = w.to(kFloat32).abs().requires_grad_();
    Tensor ab = b.to(kFloat32).abs().requires_grad_();
    Tensor ay = F::conv1d(ax, aw, ab, opts);
    ay.backward(gy.to(kFloat32).abs());
    backends::set_cpu_backend(backends::Kind::Cpu);
    const std::int64_t lout = y_shape.size(2);
    check_bf16_close("y", got.y, ref.y, ay.detach(), (cin / groups) * k + 1);
    check_bf16_close("grad_x", got.gx, ref.gx, ax.grad(), (cout / groups) * k);
    check_bf16_close("grad_w", got.gw, ref.gw, aw.grad(), n * lout);
    check_bf16_close("grad_b", got.gb, ref.gb, ab.grad(), n * lout);
  }
}

TEST_CASE("bf16 matmul: CPU backend vs reference, layouts, batches and gradients") {
  Restore restore;
  for (int i = 0; i < 40; ++i) {
    const std::int64_t batch = rand_int(1, 3), m = rand_int(1, 70), k = rand_int(1, 90),
                       n = rand_int(1, 70);
    const bool portable = !cpu::gemm_bf16_native_supported() || i % 2 == 1;
    cpu::force_gemm_bf16_portable(portable);
    cpu::set_num_threads(1 + static_cast<int>(rand_int(0, 1)));
    const bool ta = rand_int(0, 1) == 1, tb = rand_int(0, 1) == 1, batched = i % 3 != 0;
    CAPTURE(fmt::format("batch={} m={} k={} n={} ta={} tb={} batched={} portable={}", batch, m,
                        k, n, ta, tb, batched, portable));
    auto make = [&](std::int64_t r, std::int64_t c, bool t) {
      Shape s = batched ? Shape{batch, r, c} : Shape{r, c};
      Shape st = batched ? Shape{batch, c, r} : Shape{c, r};
      const int d = batched ? 1 : 0;
      return (t ? randn(st).transpose(d, d + 1) : randn(s)).to(kBFloat16);
    };
    const Tensor a = make(m, k, ta), b = make(k, n, tb);
    const Tensor gy = randn(batched ? Shape{batch, m, n} : Shape{m, n}).to(kBFloat16);
    auto run = [&](backends::Kind kind) {
      backends::set_cpu_backend(kind);
      Tensor ar = a.detach().clone().requires_grad_(), br = b.detach().clone().requires_grad_();
      Tensor y = matmul(ar, br);
      y.backward(gy);
      backends::set_cpu_backend(backends::Kind::Cpu);
      return Grads{y.detach(), ar.grad(), br.grad(), Tensor()};
    };
    const Grads ref = run(backends::Kind::Reference);
    const Grads got = run(backends::Kind::Cpu);
    backends::set_cpu_backend(backends::Kind::Reference);
    Tensor aa = a.to(kFloat32).abs().requires_grad_(), ba = b.to(kFloat32).abs().requires_grad_();
    Tensor ya = matmul(aa, ba);
    ya.backward(gy.to(kFloat32).abs());
    backends::set_cpu_backend(backends::Kind::Cpu);
    check_bf16_close("out", got.y, ref.y, ya.detach(), k);
    check_bf16_close("grad_a", got.gx, ref.gx, aa.grad(), n);
    check_bf16_close("grad_b", got.gw, ref.gw, ba.grad(), m);
  }
}

TEST_CASE("bf16 conv1d on the CPU backend: mixed dtypes raise the shared error") {
  backends::set_cpu_backend(backends::Kind::Cpu);
  const Tensor x = randn({1, 2, 8}).to(kBFloat16);
  const Tensor y = randn({1, 3, 6}).to(kBFloat16);
  const Tensor w32 = randn({3, 2, 3});
  auto& be = backends::host_backend();
  const auto view = [](const Tensor& t) {
    void* data = t.dtype() == kBFloat16 ? static_cast<void*>(t.data_ptr<BFloat16>())
                                        : static_cast<void*>(t.data_ptr<float>());
    return backends::View{data, t.dtype(), t.sizes(), t.strides()};
  };
  backends::Conv1dParams p;
  CHECK_THROWS_AS(be.conv1d_forward(view(y), view(x), view(w32), backends::View{}, p),
                  reel::Error);
}
