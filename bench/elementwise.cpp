// bench/elementwise: memory bandwidth of the CPU backend's elementwise, reduction and optimizer
// kernels on one large float32 tensor (64 MiB; 16 MiB with --quick), beside a copy of the same
// bytes in the same run. Each op runs on the backend's primitives directly (outputs allocated
// once), so what is timed is the kernel, not allocation or dispatch.
//
//   bench_elementwise [--quick] [--threads N] [--reference]
// --reference runs the same calls on the reference backend (single-threaded scalar loops): the
// "before" of the CPU paths.
//
// GB/s counts the bytes each op must read and write (an add: two inputs and one output of
// 4 bytes per element; where: a 1-byte condition too; Adam: param, grad, exp_avg and
// exp_avg_sq read, param, exp_avg and exp_avg_sq written), never write-allocate traffic. The
// copy is the best of std::memcpy on one thread and the backend's own (threaded) copy; "% of
// copy" is each op's GB/s over it. No thresholds: this reports, it does not judge.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "timer.hpp"

namespace {

using namespace reel;
using namespace reel::backends;

struct Row {
  std::string name;
  double bytes_per_element;
  std::function<void()> run;
};

}  // namespace

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::config_from_args(argc, argv);
  bool quick = false, reference = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--reference") == 0) reference = true;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      reel::set_num_threads(std::atoi(argv[i + 1]));
  }
  const std::int64_t n = (quick ? 16 : 64) * (std::int64_t{1} << 20) / 4;  // float32 elements
  const Shape shape{n};
  const Strides strides{1};
  const Shape one{1};

  // Values in [-1, 1) from a fixed formula (no generator needed), first touched here.
  std::vector<float> a(n), b(n), out(n), p(n), g(n), m(n, 0.f), v(n, 0.f);
  std::vector<unsigned char> cond(n);
  for (std::int64_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>((i * 7919) % 2000) / 1000.f - 1.f;
    b[i] = static_cast<float>((i * 104729) % 2000) / 1000.f - 1.f;
    p[i] = a[i];
    g[i] = b[i] * 0.01f;
    cond[i] = (i * 31) % 3 == 0;
  }
  float scalar = 0.f;
  auto view = [&](void* data, DType t = kFloat32) { return View{data, t, shape, strides}; };
  const View va = view(a.data()), vb = view(b.data()), vo = view(out.data());
  const View vc = view(cond.data(), kBool);
  const View vs{&scalar, kFloat32, one, {1}};
  Backend& be = reference ? reference_backend() : cpu_backend();
  // pow's exponent: a scalar broadcast (Tensor::pow(2) reaches the backend as this).
  float two_value = 2.f;
  const View two{&two_value, kFloat32, shape, {0}};
  // argmax over rows of 1000 (a classifier's predictions, at bandwidth scale); indices only.
  const std::int64_t classes = 1000;
  std::vector<std::int64_t> arg_out(static_cast<std::size_t>(n / classes));
  const View arg_in{a.data(), kFloat32, {n / classes, classes}, {classes, 1}};
  const View arg_indices{arg_out.data(), kInt64, {n / classes, 1}, {1, 1}};

  // cross_entropy over the tensor as logits: char_lm's layout ([N, 96 classes, 256 positions])
  // and a classifier's ([N, 1000 classes, 1]); the outputs are per position (small).
  auto ce_views = [&](std::int64_t classes_n, std::int64_t len) {
    const std::int64_t samples = n / (classes_n * len);
    return std::make_pair(View{a.data(), kFloat32, {samples, classes_n, len},
                               {classes_n * len, len, 1}},
                          Shape{samples, len});
  };
  const auto [ce_seq, ce_seq_pos] = ce_views(96, 256);
  const auto [ce_cls, ce_cls_pos] = ce_views(1000, 1);
  std::vector<std::int64_t> ce_target(static_cast<std::size_t>(n / 96));
  for (std::size_t i = 0; i < ce_target.size(); ++i) ce_target[i] = static_cast<std::int64_t>(i * 7 % 96);
  std::vector<float> ce_loss(ce_target.size()), ce_lse(ce_target.size()), ce_g(ce_target.size(), 1.f);
  auto positions = [&](void* data, const Shape& pos, DType t = kFloat32) {
    return View{data, t, pos, {pos[1], 1}};
  };
  const CrossEntropyParams ce_params;
  // index_add of the tensor's rows of 256 into a 1000-row table (Embedding's backward).
  const std::int64_t ia_rows = n / 256;
  std::vector<float> ia_table(1000 * 256, 0.f);
  std::vector<std::int64_t> ia_index(static_cast<std::size_t>(ia_rows));
  for (std::int64_t i = 0; i < ia_rows; ++i) ia_index[static_cast<std::size_t>(i)] = i * 7 % 1000;

  AdamStepParams adam;
  adam.step_size = adam.lr / (1 - 0.9);
  adam.bias_correction2_sqrt = std::sqrt(1 - 0.999);

  const std::vector<Row> rows = {
      {"copy (std::memcpy, 1 thread)", 8,
       [&] { std::memcpy(out.data(), a.data(), static_cast<std::size_t>(n) * 4); }},
      {"copy (backend, threaded)", 8, [&] { be.copy(vo, va); }},
      {"add", 12, [&] { be.binary(BinaryOp::Add, vo, va, vb); }},
      {"mul", 12, [&] { be.binary(BinaryOp::Mul, vo, va, vb); }},
      {"relu", 8, [&] { be.unary(UnaryOp::Relu, vo, va); }},
      {"where", 13, [&] { be.where(vo, vc, va, vb); }},
      {"maximum", 12, [&] { be.binary(BinaryOp::Maximum, vo, va, vb); }},
      {"lt (bool out)", 9,
       [&] { be.binary(BinaryOp::Lt, view(cond.data(), kBool), va, vb); }},
      {"sum (all)", 4, [&] { be.reduce(ReduceOp::Sum, vs, va); }},
      {"max (all)", 4, [&] { be.reduce(ReduceOp::Max, vs, va); }},
      {"gelu", 8, [&] { be.unary(UnaryOp::Gelu, vo, va); }},
      {"gelu backward", 12, [&] { be.binary(BinaryOp::GeluBackward, vo, vb, va); }},
      {"pow (x^2)", 8, [&] { be.binary(BinaryOp::Pow, vo, va, two); }},
      {"sign", 8, [&] { be.unary(UnaryOp::Sign, vo, va); }},
      {"argmax (rows of 1000)", 4,
       [&] { be.arg_reduce(ArgReduceOp::Max, View{}, arg_indices, arg_in, 1); }},
      {"cross_entropy, [N, 96, 256] logits", 4,
       [&] {
         be.cross_entropy(positions(ce_loss.data(), ce_seq_pos), positions(ce_lse.data(), ce_seq_pos),
                          View{}, ce_seq, positions(ce_target.data(), ce_seq_pos, kInt64), View{},
                          ce_params);
       }},
      {"cross_entropy backward, [N, 96, 256]", 8,
       [&] {
         be.cross_entropy_backward(View{out.data(), kFloat32, ce_seq.shape, ce_seq.strides},
                                   positions(ce_g.data(), ce_seq_pos), ce_seq,
                                   positions(ce_lse.data(), ce_seq_pos),
                                   positions(ce_target.data(), ce_seq_pos, kInt64), View{},
                                   ce_params);
       }},
      {"cross_entropy, [N, 1000, 1] logits", 4,
       [&] {
         be.cross_entropy(positions(ce_loss.data(), ce_cls_pos), positions(ce_lse.data(), ce_cls_pos),
                          View{}, ce_cls, positions(ce_target.data(), ce_cls_pos, kInt64), View{},
                          ce_params);
       }},
      {"index_add (rows of 256 into 1000)", 4,
       [&] {
         be.index_add(View{ia_table.data(), kFloat32, {1000, 256}, {256, 1}}, 0,
                      View{ia_index.data(), kInt64, {ia_rows}, {1}},
                      View{a.data(), kFloat32, {ia_rows, 256}, {256, 1}});
       }},
      {"adam update", 28,
       [&] { be.adam_step(view(p.data()), view(g.data()), view(m.data()), view(v.data()), View{}, adam); }},
  };

  fmt::print("Elementwise and reductions: one {} MiB float32 tensor ({} elements), {} backend, "
             "{} thread(s), median of {} runs.\n\n",
             n * 4 >> 20, n, be.name(), reel::get_num_threads(), config.batches);
  std::vector<double> gbps;
  for (const Row& r : rows) {
    const double ns = reel_bench::median_ns_per_call(r.run, config);
    gbps.push_back(r.bytes_per_element * static_cast<double>(n) / ns);  // bytes/ns = GB/s
  }
  const double copy = std::max(gbps[0], gbps[1]);
  fmt::print("| op | bytes/element | ms | GB/s | % of copy |\n|---|---|---|---|---|\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const double ms = rows[i].bytes_per_element * static_cast<double>(n) / gbps[i] / 1e6;
    fmt::print("| {} | {} | {:.2f} | {:.1f} | {:.0f}% |\n", rows[i].name,
               rows[i].bytes_per_element, ms, gbps[i], 100.0 * gbps[i] / copy);
  }
  reel_bench::keep(scalar);
  reel_bench::keep(out);
  return 0;
}
