// The parity harness: every primitive of the op table (backends/op_table.hpp) × every dtype
// the table accepts for it × every backend present, compared with the reference backend (the
// oracle) within a dtype-aware tolerance. Backends present: the CPU backend at each SIMD level
// this machine has (AVX-512, AVX2+FMA, SSE2), at 1 and 2 threads, and CUDA when a GPU is there.
//
// The rows drive the loops: a new elementwise or reduction row is covered with no new test
// code. Elementwise and reduction ops run over layouts (contiguous, transposed, broadcast
// stride-0, sliced with a storage offset, empty, 0-d); the primitives with an entry point of
// their own (KernelOp rows: copy, fill, where, matmul, indexing, random, conv1d, pad1d, the
// fused optimizer updates) each
// have an input generator below, and a check that every KernelOp row has one.
//
// A backend that has no kernel for a pair (Backend::supports says no) is not compared there;
// each case ends with a MESSAGE listing, per backend, how many pairs it lacks, so nothing is
// skipped silently. (ggml's test-backend-ops and candle's test_device! are the models.)
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "support.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "operands.hpp"

namespace {

using namespace reel;
using namespace reel::backends;
using namespace reel::test::operands;

// --- the backends under test ------------------------------------------------------------------

struct Target {
  std::string name;
  Backend* backend;
  bool device;                // memory is the backend's own: operands are uploaded/downloaded
  std::function<void()> enter;  // e.g. force a SIMD level and a thread count
};

std::vector<Target> targets() {
  std::vector<Target> out;
  for (const char* arch : {"avx512bw", "fma3+avx2", "sse2"}) {
    if (!cpu::force_simd_arch(arch)) continue;  // this CPU lacks it
    for (int threads : {1, 2}) {
      out.push_back({fmt::format("cpu[{}, {} thread{}]", arch, threads, threads > 1 ? "s" : ""),
                     &cpu_backend(), false, [arch, threads] {
                       cpu::force_simd_arch(arch);
                       cpu::set_num_threads(threads);
                     }});
    }
  }
  cpu::force_simd_arch("");
  if (cuda_available()) out.push_back({"cuda", &cuda_backend(), true, [] {}});
  else test::skip_cuda("the parity harness's CUDA target");
  return out;
}

// Restores the CPU backend's defaults however a case ends.
struct RestoreCpu {
  int threads = cpu::num_threads();
  ~RestoreCpu() {
    cpu::force_simd_arch("");
    cpu::set_num_threads(threads);
  }
};

// Per backend, the (op, dtype) pairs it has no kernel for, reported at the end of each case.
struct Missing {
  std::map<std::string, std::set<std::string>> pairs;
  void add(const Target& t, OpId op, DType dt) {
    pairs[t.name].insert(fmt::format("{}/{}", op_name(op), dt));
  }
  ~Missing() {
    for (const auto& [target, set] : pairs) {
      std::string list;
      for (const auto& p : set) list += (list.empty() ? "" : ", ") + p;
      MESSAGE(fmt::format("{}: no kernel for {} (op, dtype) pair(s), not compared there: {}",
                          target, set.size(), list));
    }
  }
};

// An operand in a target's memory: the host operand itself, or a device copy of its storage.
struct Placed {
  const Target& target;
  Operand& host;
  void* device = nullptr;
  std::size_t bytes = 0;
  Placed(const Target& t, Operand& o) : target(t), host(o) {
    if (!t.device) return;
    bytes = o.storage.size() * sizeof(std::uint64_t);
    device = t.backend->allocate(bytes);
    t.backend->copy_from_host(device, o.storage.data(), bytes);
  }
  ~Placed() {
    if (device) target.backend->deallocate(device, bytes);
  }
  Placed(const Placed&) = delete;
  View view() const {
    View v = host.view;
    if (device) v.data = static_cast<char*>(device) + host.offset * element_size(v.dtype);
    return v;
  }
  void fetch() {
    if (device) target.backend->copy_to_host(host.storage.data(), device, bytes);
  }
};

// How results are compared: exact for integers and bool; for floating types
// |got - want| <= atol + rtol * max(|want|, |bound|), bound being an error scale computed by
// the reference (sum of |x| for a sum, |a| @ |b| for matmul, |grad| for backward helpers).
struct Tolerance {
  double rtol = 0.0;
  double atol = 0.0;
};
Tolerance tolerance_for(DType t, double scale = 1.0) {
  if (!is_inexact(t)) return {};
  return {rtol_for(t) * scale, 1e-30};
}

// Runs `call` on the reference and on every target, and compares the outputs. `call` gets
// the backend and the views of (inputs..., outputs...) in that order.
using Call = std::function<void(Backend&, const std::vector<View>&)>;
void compare(OpId op, DType dtype, std::vector<Operand> inputs, std::vector<Operand> outputs,
             const Call& call, Tolerance tol, Missing& missing,
             const std::vector<Operand>* bounds = nullptr) {
  for (Operand& o : inputs) o.rebase();  // the copies' views must point at their own storage
  std::vector<Operand> want;
  for (const Operand& o : outputs) want.push_back(o.clone());
  {
    std::vector<View> views;
    for (Operand& o : inputs) views.push_back(o.view);
    for (Operand& o : want) views.push_back(o.view);
    call(reference_backend(), views);
  }
  for (const Target& target : targets()) {
    if (!target.backend->supports(op, dtype)) {
      missing.add(target, op, dtype);
      continue;
    }
    CAPTURE(target.name);
    target.enter();
    std::vector<Operand> got;
    for (const Operand& o : outputs) got.push_back(o.clone());
    std::vector<std::unique_ptr<Placed>> placed;
    std::vector<View> views;
    for (Operand& o : inputs) {
      placed.push_back(std::make_unique<Placed>(target, o));
      views.push_back(placed.back()->view());
    }
    const std::size_t first_out = placed.size();
    for (Operand& o : got) {
      placed.push_back(std::make_unique<Placed>(target, o));
      views.push_back(placed.back()->view());
    }
    call(*target.backend, views);
    for (std::size_t i = first_out; i < placed.size(); ++i) placed[i]->fetch();
    placed.clear();
    for (std::size_t i = 0; i < got.size(); ++i) {
      check_close(got[i], want[i], tol.rtol, tol.atol, bounds ? &(*bounds)[i] : nullptr);
    }
  }
}

// The shapes elementwise and reduction ops sweep: 0-d, empty, odd tails, random ones, and a
// couple large enough to be split over threads.
std::vector<Shape> sweep_shapes() {
  std::vector<Shape> shapes = {{}, {0}, {3, 0, 2}, {1}, {7}, {33}, {2, 3, 4}, {300, 257}};
  for (int i = 0; i < 3; ++i) shapes.push_back(random_shape(4, 9));
  return shapes;
}

Layout input_layout(int i) { return kInputLayouts[i % 4]; }
Layout output_layout(int i) { return kOutputLayouts[i % 3]; }

// The dtypes of the op table, each once.
std::vector<DType> all_dtypes() {
  std::vector<DType> out;
  for (int i = 0; i < kNumDTypes; ++i) out.push_back(static_cast<DType>(i));
  return out;
}

// Elements an |x| bound can be computed for (the reference's abs of real/complex types).
Operand abs_of(const Operand& o) {
  Operand a = o.clone();
  if (is_inexact(o.view.dtype) || is_signed_integral(o.view.dtype)) {
    Operand r = make_operand(to_real(o.view.dtype), o.view.shape, Layout::Contiguous);
    reference_backend().unary(UnaryOp::Abs, r.view, o.view);
    reference_backend().copy(a.view, r.view);
  }
  return a;
}

}  // namespace

TEST_CASE("parity: every unary op on every backend, over layouts") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (UnaryOp op : op_table::kUnaryOps) {
    for (DType t : all_dtypes()) {
      if (!op_accepts(op, t)) continue;
      for (const Shape& shape : sweep_shapes()) {
        ++variant;
        const std::string ctx = fmt::format("{} {} {}", op_name(op), t, shape);
        CAPTURE(ctx);
        Operand in = make_operand(t, shape, input_layout(variant), /*specials=*/true);
        Operand out = make_operand(op_out_dtype(op, t), shape, output_layout(variant));
        // GELU is x (1 + erf(x / sqrt 2)) / 2 (PyTorch's formula): for x < -2 the sum cancels,
        // so an ulp of erf is an error of about |x| ulp(1), not of |gelu(x)|: |x| is its scale.
        const bool x_scaled = op == UnaryOp::Gelu;
        auto bounds_in = [&](const Operand& like) {
          Operand bound = like.clone();
          reference_backend().copy(bound.view, abs_of(in).view);
          return std::vector<Operand>{bound};
        };
        std::vector<Operand> bounds = x_scaled ? bounds_in(out) : std::vector<Operand>{};
        compare(op, t, {in}, {out},
                [op](Backend& b, const std::vector<View>& v) { b.unary(op, v[1], v[0]); },
                tolerance_for(t), missing, x_scaled ? &bounds : nullptr);
        // In place (out is exactly the input view), where the output dtype allows it.
        if (op_out_dtype(op, t) == t && in.view.strides == contiguous_strides(shape)) {
          std::vector<Operand> in_bounds = x_scaled ? bounds_in(in) : std::vector<Operand>{};
          compare(op, t, {}, {in},
                  [op](Backend& b, const std::vector<View>& v) { b.unary(op, v[0], v[0]); },
                  tolerance_for(t), missing, x_scaled ? &in_bounds : nullptr);
        }
      }
    }
  }
}

TEST_CASE("parity: every binary op on every backend, with broadcasting") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (BinaryOp op : op_table::kBinaryOps) {
    const bool backward = op_info(op).kind == OpKind::BackwardHelper;
    for (DType t : all_dtypes()) {
      if (!op_accepts(op, t)) continue;
      for (const Shape& shape : sweep_shapes()) {
        ++variant;
        const std::string ctx = fmt::format("{} {} {}", op_name(op), t, shape);
        CAPTURE(ctx);
        Operand a = make_operand(t, shape, input_layout(variant), true);
        Operand b = make_operand(t, shape, input_layout(variant + 1), true);
        if (variant % 5 == 0) b.view.strides = Strides::filled(shape.size(), 0);  // a scalar
        const DType out_t = op_out_dtype(op, t);
        Operand out = make_operand(out_t, shape, output_layout(variant));
        // Backward helpers multiply the gradient by a factor that may cancel (1 - t^2): |grad|
        // is their error scale.
        std::vector<Operand> bounds;
        if (backward) {
          Operand bound = out.clone();
          reference_backend().copy(bound.view, abs_of(a).view);
          bounds.push_back(bound);
        }
        compare(op, t, {a, b}, {out},
                [op](Backend& be, const std::vector<View>& v) { be.binary(op, v[2], v[0], v[1]); },
                tolerance_for(t), missing, backward ? &bounds : nullptr);
      }
    }
  }
}

TEST_CASE("parity: every reduction on every backend, over random dim subsets") {
  RestoreCpu restore;
  Missing missing;
  std::vector<Shape> shapes = {{}, {0}, {4, 0}, {1}, {37}, {100000}, {70, 600}, {2, 3, 4}};
  for (int i = 0; i < 4; ++i) shapes.push_back(random_shape(4, 9));
  int variant = 0;
  for (ReduceOp op : op_table::kReduceOps) {
    for (DType t : all_dtypes()) {
      if (!op_accepts(op, t)) continue;
      for (const Shape& shape : shapes) {
        ++variant;
        Shape out_shape = shape;
        for (int d = 0; d < shape.size(); ++d)
          if (rand_int(0, 1) == 1) out_shape[d] = 1;
        // max/min of nothing is an error, not a value: keep some element in each group.
        const bool extreme = op == ReduceOp::Max || op == ReduceOp::Min;
        if (extreme && numel_of(shape) == 0) continue;
        // A product of many elements overflows to inf or 0 either way; keep them short.
        if (op == ReduceOp::Prod && numel_of(shape) > 4096) continue;
        const std::string ctx = fmt::format("{} {} {} -> {}", op_name(op), t, shape, out_shape);
        CAPTURE(ctx);
        Operand in = make_operand(t, shape, input_layout(variant));
        Operand out = make_operand(op_out_dtype(op, t), out_shape, output_layout(variant));
        std::vector<Operand> bounds;
        if (op == ReduceOp::Sum && is_inexact(t)) {  // error scale: the sum of |x|
          Operand bound = out.clone();
          reference_backend().reduce(ReduceOp::Sum, bound.view, abs_of(in).view);
          bounds.push_back(bound);
        }
        compare(op, t, {in}, {out},
                [op](Backend& b, const std::vector<View>& v) { b.reduce(op, v[1], v[0]); },
                tolerance_for(t), missing, bounds.empty() ? nullptr : &bounds);
      }
    }
  }
}

TEST_CASE("parity: argmax and argmin on every backend") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (ArgReduceOp op : op_table::kArgReduceOps) {
    for (DType t : all_dtypes()) {
      if (!op_accepts(op, t)) continue;
      for (const Shape& shape : {Shape{5}, Shape{3, 7}, Shape{2, 9, 4}, Shape{1, 1}}) {
        for (int dim = 0; dim < shape.size(); ++dim) {
          ++variant;
          const std::string ctx = fmt::format("{} {} {} dim {}", op_name(op), t, shape, dim);
          CAPTURE(ctx);
          Shape out_shape = shape;
          out_shape[dim] = 1;
          Operand in = make_operand(t, shape, input_layout(variant), true);
          Operand values = make_operand(t, out_shape, output_layout(variant));
          Operand indices = make_operand(kInt64, out_shape, output_layout(variant + 1));
          compare(op, t, {in}, {values, indices},
                  [op, dim](Backend& b, const std::vector<View>& v) {
                    b.arg_reduce(op, v[1], v[2], v[0], dim);
                  },
                  {}, missing);
        }
      }
    }
  }
}

TEST_CASE("parity: copy (every dtype pair), fill and where on every backend") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (const Shape& shape : sweep_shapes()) {
    for (DType from : all_dtypes()) {
      for (DType to : all_dtypes()) {
        ++variant;
        const std::string ctx = fmt::format("copy {} -> {} {}", from, to, shape);
        CAPTURE(ctx);
        Operand in = make_operand(from, shape, input_layout(variant), true);
        Operand out = make_operand(to, shape, output_layout(variant));
        compare(KernelOp::Copy, to, {in}, {out},
                [](Backend& b, const std::vector<View>& v) { b.copy(v[1], v[0]); }, {}, missing);
      }
      const Scalar values[] = {Scalar(2.5), Scalar(-3), Scalar(true), Scalar(complex128(1.5, -2))};
      for (const Scalar& value : values) {
        ++variant;
        Operand out = make_operand(from, shape, output_layout(variant));
        compare(KernelOp::Fill, from, {}, {out},
                [value](Backend& b, const std::vector<View>& v) { b.fill(v[0], value); }, {},
                missing);
      }
      Operand cond = make_operand(kBool, shape, input_layout(variant));
      Operand a = make_operand(from, shape, input_layout(variant + 1), true);
      Operand b = make_operand(from, shape, input_layout(variant + 2), true);
      Operand out = make_operand(from, shape, output_layout(variant));
      compare(KernelOp::Where, from, {cond, a, b}, {out},
              [](Backend& be, const std::vector<View>& v) { be.where(v[3], v[0], v[1], v[2]); },
              {}, missing);
    }
  }
}

TEST_CASE("parity: matmul on every backend, random (B, M, K, N) and layouts") {
  RestoreCpu restore;
  Missing missing;
  struct Case { std::int64_t b, m, k, n; };
  std::vector<Case> cases = {{1, 1, 1, 1},  {1, 5, 3, 7},     {2, 13, 17, 31}, {3, 33, 65, 47},
                             {4, 64, 64, 64}, {1, 1, 300, 200}, {1, 200, 300, 1}, {2, 7, 0, 5},
                             {2, 0, 3, 4},  {1, 3000, 40, 1},  {2, 1, 40, 2500}};
  for (int i = 0; i < 3; ++i) cases.push_back({rand_int(1, 3), rand_int(1, 40), rand_int(1, 40), rand_int(1, 40)});
  int variant = 0;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::Matmul, t)) continue;
    for (const Case& c : cases) {
      // The integer dtypes only need to agree on small cases (wrapping arithmetic is exact).
      if (!is_inexact(t) && c.m * c.k * c.n > 100000) continue;
      ++variant;
      const std::string ctx = fmt::format("matmul {} B={} M={} K={} N={}", t, c.b, c.m, c.k, c.n);
      CAPTURE(ctx);
      Operand a = make_operand(t, {c.b, c.m, c.k}, input_layout(variant));
      Operand b = make_operand(t, {c.b, c.k, c.n}, input_layout(variant + 1));
      Operand out = make_operand(t, {c.b, c.m, c.n}, output_layout(variant));
      std::vector<Operand> bounds;
      if (is_inexact(t)) {  // sum_k |a_ik| |b_kj|
        Operand bound = out.clone();
        reference_backend().matmul(bound.view, abs_of(a).view, abs_of(b).view);
        bounds.push_back(bound);
      }
      compare(KernelOp::Matmul, t, {a, b}, {out},
              [](Backend& be, const std::vector<View>& v) { be.matmul(v[2], v[0], v[1]); },
              tolerance_for(t, 10.0), missing, bounds.empty() ? nullptr : &bounds);
    }
  }
}

TEST_CASE("parity: index_select, index_add, gather, scatter_add on every backend") {
  RestoreCpu restore;
  Missing missing;
  // An int64 index operand with values in [0, bound).
  auto index_operand = [](const Shape& shape, std::int64_t bound) {
    Operand o = make_operand(kInt64, shape, Layout::Contiguous);
    auto* p = reinterpret_cast<std::int64_t*>(o.storage.data());
    for (std::int64_t i = 0; i < o.elements; ++i) p[i] = rand_int(0, bound - 1);
    return o;
  };
  int variant = 0;
  for (DType t : all_dtypes()) {
    for (int dim = 0; dim < 3; ++dim) {
      ++variant;
      const Shape in_shape{4, 5, 6};
      const std::string ctx = fmt::format("{} dim {}", t, dim);
      CAPTURE(ctx);
      Operand in = make_operand(t, in_shape, input_layout(variant), true);
      Operand index = index_operand({7}, in_shape[dim]);
      Shape selected = in_shape;
      selected[dim] = 7;
      Operand out = make_operand(t, selected, output_layout(variant));
      compare(KernelOp::IndexSelect, t, {in, index}, {out},
              [dim](Backend& b, const std::vector<View>& v) { b.index_select(v[2], v[0], dim, v[1]); },
              {}, missing);
      // index_add: out[index[i]] += src[i], repeated indices accumulate.
      Operand src = make_operand(t, selected, input_layout(variant + 1));
      Operand target = make_operand(t, in_shape, output_layout(variant + 1));
      // Accumulation order may differ (CUDA's atomics): the error scale is |target| plus the
      // sum of |src| added into each element.
      auto sum_bound = [&](const Operand& dst, const Operand& idx, const Operand& from,
                           bool scatter) {
        std::vector<Operand> bounds;
        if (!is_inexact(t)) return bounds;
        Operand bound = abs_of(dst);
        const Operand abs_src = abs_of(from);
        if (scatter) reference_backend().scatter_add(bound.view, dim, idx.view, abs_src.view);
        else reference_backend().index_add(bound.view, dim, idx.view, abs_src.view);
        bounds.push_back(bound);
        return bounds;
      };
      const std::vector<Operand> add_bounds = sum_bound(target, index, src, false);
      compare(KernelOp::IndexAdd, t, {index, src}, {target},
              [dim](Backend& b, const std::vector<View>& v) { b.index_add(v[2], dim, v[0], v[1]); },
              tolerance_for(t, 10.0), missing, add_bounds.empty() ? nullptr : &add_bounds);
      // gather / scatter_add: an index of the output's shape (smaller than in along other dims).
      Shape gathered{3, 4, 5};
      Operand gindex = index_operand(gathered, in_shape[dim]);
      Operand gout = make_operand(t, gathered, output_layout(variant + 2));
      compare(KernelOp::Gather, t, {in, gindex}, {gout},
              [dim](Backend& b, const std::vector<View>& v) { b.gather(v[2], v[0], dim, v[1]); },
              {}, missing);
      Operand ssrc = make_operand(t, gathered, input_layout(variant + 2));
      Operand starget = make_operand(t, in_shape, output_layout(variant + 2));
      const std::vector<Operand> scatter_bounds = sum_bound(starget, gindex, ssrc, true);
      compare(KernelOp::ScatterAdd, t, {gindex, ssrc}, {starget},
              [dim](Backend& b, const std::vector<View>& v) { b.scatter_add(v[2], dim, v[0], v[1]); },
              tolerance_for(t, 10.0), missing,
              scatter_bounds.empty() ? nullptr : &scatter_bounds);
    }
  }
}

TEST_CASE("parity: random fill is identical on every backend") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::Random, t)) continue;
    std::vector<RandomSpec> specs = {{RandomSpec::Kind::Integer, -5.0, 120.0, 7, 3}};
    if (is_inexact(t)) {
      specs.push_back({RandomSpec::Kind::Uniform, -1.0, 2.0, 11, 0});
      specs.push_back({RandomSpec::Kind::Normal, 0.5, 2.0, 42, 1000});
    }
    for (const RandomSpec& spec : specs) {
      if (spec.kind == RandomSpec::Kind::Integer && is_complex(t)) continue;
      for (const Shape& shape : {Shape{}, Shape{0}, Shape{3, 70, 50}}) {
        ++variant;
        const std::string ctx = fmt::format("random kind {} {} {}", static_cast<int>(spec.kind), t, shape);
        CAPTURE(ctx);
        Operand out = make_operand(t, shape, output_layout(variant));
        compare(KernelOp::Random, t, {}, {out},
                [spec](Backend& b, const std::vector<View>& v) { b.random(v[0], spec); }, {},
                missing);
      }
    }
  }
}

TEST_CASE("parity: conv1d forward and gradients, pad1d and its gradient, on every backend") {
  RestoreCpu restore;
  Missing missing;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::Conv1dForward, t)) continue;
    for (int trial = 0; trial < 12; ++trial) {
      const std::int64_t groups = rand_int(1, 3);
      const std::int64_t cin = groups * rand_int(1, 3), cout = groups * rand_int(1, 3);
      Conv1dParams p;
      p.groups = groups;
      p.stride = rand_int(1, 3);
      p.dilation = rand_int(1, 3);
      p.pad_left = rand_int(0, 3);
      p.pad_right = rand_int(0, 3);
      const std::int64_t k = rand_int(1, 4), n = rand_int(1, 3);
      const std::int64_t length = rand_int(p.dilation * (k - 1) + 1, 40);
      const std::int64_t lout =
          (length + p.pad_left + p.pad_right - p.dilation * (k - 1) - 1) / p.stride + 1;
      const std::string ctx = fmt::format("conv1d {} N={} Cin={} Cout={} G={} K={} L={} s={} d={} pad=({}, {})",
                                          t, n, cin, cout, groups, k, length, p.stride,
                                          p.dilation, p.pad_left, p.pad_right);
      CAPTURE(ctx);
      Operand x = make_operand(t, {n, cin, length}, input_layout(trial % 3));
      Operand w = make_operand(t, {cout, cin / groups, k}, Layout::Contiguous);
      Operand bias = make_operand(t, {cout}, Layout::Contiguous);
      Operand y = make_operand(t, {n, cout, lout}, Layout::Contiguous);
      const Tolerance tol = tolerance_for(t, 100.0);
      compare(KernelOp::Conv1dForward, t, {x, w, bias}, {y},
              [p](Backend& b, const std::vector<View>& v) { b.conv1d_forward(v[3], v[0], v[1], v[2], p); },
              tol, missing);
      Operand gy = make_operand(t, {n, cout, lout}, Layout::Contiguous);
      Operand gx = make_operand(t, {n, cin, length}, Layout::Contiguous);
      compare(KernelOp::Conv1dBackwardInput, t, {gy, w}, {gx},
              [p](Backend& b, const std::vector<View>& v) { b.conv1d_backward_input(v[2], v[0], v[1], p); },
              tol, missing);
      Operand gw = make_operand(t, {cout, cin / groups, k}, Layout::Contiguous);
      Operand gb = make_operand(t, {cout}, Layout::Contiguous);
      compare(KernelOp::Conv1dBackwardWeight, t, {gy, x}, {gw, gb},
              [p](Backend& b, const std::vector<View>& v) {
                b.conv1d_backward_weight(v[2], v[3], v[0], v[1], p);
              },
              tol, missing);
      Operand gx2 = make_operand(t, {n, cin, length}, Layout::Contiguous);
      compare(KernelOp::Conv1dBackward, t, {gy, x, w}, {gx2, gw, gb},
              [p](Backend& b, const std::vector<View>& v) {
                b.conv1d_backward(v[3], v[4], v[5], v[0], v[1], v[2], p);
              },
              tol, missing);
    }
  }
  for (DType t : all_dtypes()) {
    for (PadMode mode : {PadMode::Zeros, PadMode::Reflect, PadMode::Replicate, PadMode::Circular}) {
      const std::int64_t length = rand_int(3, 12);
      const std::int64_t left = rand_int(0, 2), right = rand_int(0, 2);
      const std::string ctx = fmt::format("pad1d {} mode {} L={} ({}, {})", t,
                                          static_cast<int>(mode), length, left, right);
      CAPTURE(ctx);
      Operand x = make_operand(t, {2, 3, length}, input_layout(static_cast<int>(mode)), true);
      Operand y = make_operand(t, {2, 3, length + left + right}, Layout::Contiguous);
      if (op_accepts(KernelOp::Pad1d, t)) {
        compare(KernelOp::Pad1d, t, {x}, {y},
                [=](Backend& b, const std::vector<View>& v) { b.pad1d(v[1], v[0], mode, left, right); },
                {}, missing);
      }
      if (op_accepts(KernelOp::Pad1dBackward, t)) {
        Operand gy = make_operand(t, {2, 3, length + left + right}, Layout::Contiguous);
        Operand gx = make_operand(t, {2, 3, length}, Layout::Contiguous);
        compare(KernelOp::Pad1dBackward, t, {gy}, {gx},
                [=](Backend& b, const std::vector<View>& v) {
                  b.pad1d_backward(v[1], v[0], mode, left, right);
                },
                tolerance_for(t, 10.0), missing);
      }
    }
  }
}

// --- normalization (issue 7) ---
// Random [N, G, D, L] geometries, per-sample (group/instance/layer norm) and batch-shared
// (batch norm) statistics, optional weight and bias, input and given statistics, over layouts.
TEST_CASE("parity: norm statistics, normalization and its gradient on every backend") {
  RestoreCpu restore;
  Missing missing;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::NormStats, t)) continue;
    for (int trial = 0; trial < 12; ++trial) {
      const std::int64_t n = rand_int(1, 3), g = rand_int(1, 3), d = rand_int(1, 3),
                         l = rand_int(trial == 0 ? 0 : 1, 7);
      const bool shared = rand_int(0, 1) == 1, affine = trial % 3 != 2;
      NormParams p;
      p.eps = trial % 2 == 0 ? 1e-5 : 1e-3;
      p.input_stats = trial % 4 != 3;
      const std::string ctx = fmt::format("norm {} [{}, {}, {}, {}] shared={} affine={} input_stats={}",
                                          t, n, g, d, l, shared, affine, p.input_stats);
      CAPTURE(ctx);
      const Shape shape{n, g, d, l};
      Operand x = make_operand(t, shape, input_layout(trial));
      Operand mean = make_operand(t, {shared ? 1 : n, g}, Layout::Contiguous);
      Operand var = make_operand(t, {shared ? 1 : n, g}, Layout::Contiguous);
      const Tolerance tol = tolerance_for(t, 100.0);
      compare(KernelOp::NormStats, t, {x}, {mean, var},
              [](Backend& b, const std::vector<View>& v) { b.norm_stats(v[1], v[2], v[0]); }, tol,
              missing);
      if (l == 0) continue;
      x.rebase();
      mean.rebase();
      var.rebase();
      reference_backend().norm_stats(mean.view, var.view, x.view);  // consistent inputs
      Operand w = make_operand(t, {g, d}, input_layout(trial + 1));
      Operand bias = make_operand(t, {g, d}, Layout::Contiguous);
      Operand y = make_operand(t, shape, output_layout(trial));
      compare(KernelOp::NormForward, t, {x, mean, var, w, bias}, {y},
              [affine, p](Backend& b, const std::vector<View>& v) {
                b.norm_forward(v[5], v[0], v[1], v[2], affine ? v[3] : View{},
                               affine ? v[4] : View{}, p);
              },
              tol, missing);
      Operand gy = make_operand(t, shape, input_layout(trial + 2));
      Operand gx = make_operand(t, shape, output_layout(trial + 1));
      Operand gw = make_operand(t, {g, d}, Layout::Contiguous);
      Operand gb = make_operand(t, {g, d}, Layout::Contiguous);
      compare(KernelOp::NormBackward, t, {gy, x, mean, var, w}, {gx, gw, gb},
              [affine, p](Backend& b, const std::vector<View>& v) {
                b.norm_backward(v[5], v[6], v[7], v[0], v[1], v[2], v[3], affine ? v[4] : View{},
                                p);
              },
              tolerance_for(t, 1000.0), missing);
    }
  }
}

// --- pooling (issue 7) ---
TEST_CASE("parity: max/avg/adaptive pooling and the avg backwards, on every backend") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::MaxPool1d, t)) continue;
    for (int trial = 0; trial < 8; ++trial) {
      ++variant;
      Pool1dParams p;
      p.kernel_size = rand_int(1, 4);
      p.stride = rand_int(1, 3);
      p.padding = rand_int(0, p.kernel_size / 2);
      p.dilation = rand_int(1, 2);
      p.ceil_mode = trial % 2 == 1;
      p.count_include_pad = trial % 3 != 0;
      const std::int64_t n = rand_int(1, 2), c = rand_int(1, 3);
      const std::int64_t length = rand_int(p.dilation * (p.kernel_size - 1) + 1, 20);
      const std::string ctx = fmt::format("pool1d {} N={} C={} L={} k={} s={} p={} d={} ceil={}", t,
                                          n, c, length, p.kernel_size, p.stride, p.padding,
                                          p.dilation, p.ceil_mode);
      CAPTURE(ctx);
      Operand x = make_operand(t, {n, c, length}, input_layout(variant), true);
      const std::int64_t lmax = p.out_length(length, "max_pool1d");
      Operand y = make_operand(t, {n, c, lmax}, output_layout(variant));
      Operand idx = make_operand(kInt64, {n, c, lmax}, Layout::Contiguous);
      compare(KernelOp::MaxPool1d, t, {x}, {y, idx},
              [p](Backend& b, const std::vector<View>& v) { b.max_pool1d(v[1], v[2], v[0], p); },
              {}, missing);
      Pool1dParams a = p;
      a.dilation = 1;
      const std::int64_t lavg = a.out_length(length, "avg_pool1d");
      Operand ya = make_operand(t, {n, c, lavg}, output_layout(variant + 1));
      compare(KernelOp::AvgPool1d, t, {x}, {ya},
              [a](Backend& b, const std::vector<View>& v) { b.avg_pool1d(v[1], v[0], a); },
              tolerance_for(t, 10.0), missing);
      Operand gy = make_operand(t, {n, c, lavg}, input_layout(variant + 1));
      Operand gx = make_operand(t, {n, c, length}, output_layout(variant + 2));
      compare(KernelOp::AvgPool1dBackward, t, {gy}, {gx},
              [a](Backend& b, const std::vector<View>& v) { b.avg_pool1d_backward(v[1], v[0], a); },
              tolerance_for(t, 10.0), missing);
      const std::int64_t lad = rand_int(1, 2 * length);
      Operand yad = make_operand(t, {n, c, lad}, output_layout(variant));
      Operand iad = make_operand(kInt64, {n, c, lad}, Layout::Contiguous);
      compare(KernelOp::AdaptiveMaxPool1d, t, {x}, {yad, iad},
              [](Backend& b, const std::vector<View>& v) { b.adaptive_max_pool1d(v[1], v[2], v[0]); },
              {}, missing);
      compare(KernelOp::AdaptiveAvgPool1d, t, {x}, {yad},
              [](Backend& b, const std::vector<View>& v) { b.adaptive_avg_pool1d(v[1], v[0]); },
              tolerance_for(t, 10.0), missing);
      Operand gad = make_operand(t, {n, c, lad}, input_layout(variant + 2));
      compare(KernelOp::AdaptiveAvgPool1dBackward, t, {gad}, {gx},
              [](Backend& b, const std::vector<View>& v) { b.adaptive_avg_pool1d_backward(v[1], v[0]); },
              tolerance_for(t, 10.0), missing);
    }
  }
}

// --- softmax and losses (issue 7) ---
TEST_CASE("parity: softmax, log_softmax, cross_entropy, nll_loss and gradients on every backend") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::Softmax, t)) continue;
    // Dense (every view contiguous: the CPU backend's SIMD path) and strided layouts; rows long
    // enough for several SIMD widths and a thread split.
    std::vector<std::pair<Shape, bool>> cases;
    for (const Shape& shape : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4}, Shape{4, 0, 3},
                               Shape{5, 37, 19}, Shape{300, 129}}) {
      for (bool dense : {true, false}) cases.emplace_back(shape, dense);
    }
    for (const auto& [shape, dense] : cases) {
      auto in_layout = [dense = dense](int v) {
        return dense ? Layout::Contiguous : input_layout(v);
      };
      auto out_layout = [dense = dense](int v) {
        return dense ? Layout::Contiguous : output_layout(v);
      };
      for (int dim = 0; dim < static_cast<int>(shape.size()); ++dim) {
        for (bool log : {false, true}) {
          ++variant;
          const std::string ctx =
              fmt::format("{} {} dim {} log {} dense {}", t, shape, dim, log, dense);
          CAPTURE(ctx);
          Operand x = make_operand(t, shape, in_layout(variant));
          Operand y = make_operand(t, shape, out_layout(variant));
          // The reference's output, which the backward is run from.
          Operand fy = make_operand(t, shape, Layout::Contiguous);
          reference_backend().softmax(fy.view, x.view, dim, log);
          // Error scales where the result cancels. log_softmax: y = x - (m + log s), so
          // |x| + |x - y|. The backward: its formula on |grad_out| with the subtraction made an
          // addition (2|g| - (|g| - exp(y) S) = |g| + exp(y) S; softmax: 2 y|g| - y (|g| - S')).
          Operand fwd_bound = y.clone();
          {
            Operand ax = abs_of(x), diff = fy.clone();
            reference_backend().binary(BinaryOp::Sub, diff.view, x.view, fy.view);
            Operand adiff = abs_of(diff), sum = fy.clone();
            reference_backend().binary(BinaryOp::Add, sum.view, ax.view, adiff.view);
            reference_backend().copy(fwd_bound.view, sum.view);
          }
          const std::vector<Operand> fwd_bounds{fwd_bound};
          compare(log ? KernelOp::LogSoftmax : KernelOp::Softmax, t, {x}, {y},
                  [=](Backend& b, const std::vector<View>& v) { b.softmax(v[1], v[0], dim, log); },
                  tolerance_for(t, 10.0), missing, log ? &fwd_bounds : nullptr);
          Operand gy = make_operand(t, shape, in_layout(variant + 1));
          Operand gx = make_operand(t, shape, out_layout(variant + 1));
          Operand bwd_bound = gx.clone();
          {
            Operand ag = abs_of(gy), minus = fy.clone(), twice = fy.clone(), bound = fy.clone();
            reference_backend().softmax_backward(minus.view, ag.view, fy.view, dim, log);
            if (log) {
              reference_backend().binary(BinaryOp::Add, twice.view, ag.view, ag.view);
            } else {
              Operand prod = fy.clone();
              reference_backend().binary(BinaryOp::Mul, prod.view, ag.view, fy.view);
              reference_backend().binary(BinaryOp::Add, twice.view, prod.view, prod.view);
            }
            reference_backend().binary(BinaryOp::Sub, bound.view, twice.view, minus.view);
            reference_backend().copy(bwd_bound.view, bound.view);
          }
          const std::vector<Operand> bwd_bounds{bwd_bound};
          compare(log ? KernelOp::LogSoftmaxBackward : KernelOp::SoftmaxBackward, t, {gy, fy},
                  {gx},
                  [=](Backend& b, const std::vector<View>& v) {
                    b.softmax_backward(v[2], v[0], v[1], dim, log);
                  },
                  tolerance_for(t, 10.0), missing, &bwd_bounds);
        }
      }
    }
    for (int trial = 0; trial < 8; ++trial) {
      const std::int64_t n = rand_int(1, 3), c = rand_int(1, 6), l = rand_int(1, 4);
      CrossEntropyParams p;
      p.ignore_index = trial % 2 == 0 ? -100 : rand_int(0, c - 1);
      p.label_smoothing = trial % 3 == 0 ? 0.0 : 0.25;
      const bool weighted = trial % 4 < 2;
      const std::string ctx = fmt::format("cross_entropy {} N={} C={} L={} ignore={} ls={} w={}",
                                          t, n, c, l, p.ignore_index, p.label_smoothing, weighted);
      CAPTURE(ctx);
      Operand x = make_operand(t, {n, c, l}, input_layout(trial));
      Operand target = make_operand(kInt64, {n, l}, Layout::Contiguous);
      auto* tp = reinterpret_cast<std::int64_t*>(target.storage.data());
      for (std::int64_t i = 0; i < target.elements; ++i) {
        tp[i] = rand_int(0, 4) == 0 ? p.ignore_index : rand_int(0, c - 1);
      }
      Operand w = make_operand(t, {c}, Layout::Contiguous);
      // Weights are positive in practice; the kernels don't care, so any values do.
      Operand losses = make_operand(t, {n, l}, Layout::Contiguous);
      Operand lse = make_operand(t, {n, l}, Layout::Contiguous);
      Operand tw = make_operand(t, {n, l}, Layout::Contiguous);
      const Tolerance tol = tolerance_for(t, 100.0);
      compare(KernelOp::CrossEntropy, t, {x, target, w}, {losses, lse, tw},
              [=](Backend& b, const std::vector<View>& v) {
                b.cross_entropy(v[3], v[4], v[5], v[0], v[1], weighted ? v[2] : View{}, p);
              },
              tol, missing);
      Operand flse = make_operand(t, {n, l}, Layout::Contiguous);
      Operand scratch = make_operand(t, {n, l}, Layout::Contiguous);
      reference_backend().cross_entropy(scratch.view, flse.view, View{}, x.view, target.view,
                                        weighted ? w.view : View{}, p);
      Operand gl = make_operand(t, {n, l}, input_layout(trial + 1));
      Operand gx = make_operand(t, {n, c, l}, output_layout(trial));
      compare(KernelOp::CrossEntropyBackward, t, {gl, x, flse, target, w}, {gx},
              [=](Backend& b, const std::vector<View>& v) {
                b.cross_entropy_backward(v[5], v[0], v[1], v[2], v[3], weighted ? v[4] : View{},
                                         p);
              },
              tol, missing);
      CrossEntropyParams pn = p;
      pn.label_smoothing = 0.0;
      compare(KernelOp::NllLoss, t, {x, target, w}, {losses, tw},
              [=](Backend& b, const std::vector<View>& v) {
                b.nll_loss(v[3], v[4], v[0], v[1], weighted ? v[2] : View{}, pn);
              },
              tol, missing);
      compare(KernelOp::NllLossBackward, t, {gl, target, w}, {gx},
              [=](Backend& b, const std::vector<View>& v) {
                b.nll_loss_backward(v[3], v[0], v[1], weighted ? v[2] : View{}, pn);
              },
              tol, missing);
    }
  }
}
// --- end softmax and losses ---

// --- optimizer updates (issue 7) ---
// Each fused update over every layout the harness sweeps (the gradient may be a broadcast view;
// what is written may not), with the options that switch parts of the update on and off.
namespace {

// Second-moment state is a running mean of squares: keep it non-negative, as in use.
void make_nonnegative(Operand& o) {
  visit_dtype(o.view.dtype, [&]<typename T>() {
    T* p = reinterpret_cast<T*>(o.storage.data());
    if constexpr (std::is_floating_point_v<T>) {
      for (std::int64_t i = 0; i < o.elements; ++i) p[i] = std::abs(p[i]);
    } else if constexpr (kIsHalfType<T>) {
      for (std::int64_t i = 0; i < o.elements; ++i) p[i] = T(std::abs(static_cast<float>(p[i])));
    }
  });
}

}  // namespace

TEST_CASE("parity: fused optimizer updates (sgd, adam/adamw, rmsprop, adagrad) on every backend") {
  RestoreCpu restore;
  Missing missing;
  int variant = 0;
  for (DType t : all_dtypes()) {
    if (!op_accepts(KernelOp::SgdStep, t)) continue;
    for (const Shape& shape : sweep_shapes()) {
      if (numel_of(shape) == 0) continue;  // the optimizers never call a kernel on no elements
      ++variant;
      const std::string ctx = fmt::format("optimizer updates {} {} variant {}", t, shape, variant);
      CAPTURE(ctx);
      auto out = [&](bool nonneg = false) {
        Operand o = make_operand(t, shape, output_layout(variant));
        if (nonneg) make_nonnegative(o);
        return o;
      };
      Operand grad = make_operand(t, shape, input_layout(variant));
      const Tolerance tol = tolerance_for(t, 10.0);
      for (int k = 0; k < 4; ++k) {
        SgdStepParams p;
        p.lr = 0.1;
        p.momentum = k == 0 ? 0.0 : 0.9;
        p.dampening = k == 2 ? 0.25 : 0.0;
        p.weight_decay = k >= 2 ? 0.01 : 0.0;
        p.nesterov = k == 3;
        p.maximize = k == 1 || k == 3;
        p.first_step = k == 2;
        p.complex_param = k == 3;
        if (p.momentum == 0.0) {
          compare(KernelOp::SgdStep, t, {grad}, {out()},
                  [p](Backend& b, const std::vector<View>& v) { b.sgd_step(v[1], v[0], View{}, p); },
                  tol, missing);
        } else {
          compare(KernelOp::SgdStep, t, {grad}, {out(), out()},
                  [p](Backend& b, const std::vector<View>& v) { b.sgd_step(v[1], v[0], v[2], p); },
                  tol, missing);
        }
      }
      for (int k = 0; k < 4; ++k) {
        AdamStepParams p;
        p.lr = 0.01;
        p.weight_decay = k == 0 ? 0.0 : 0.05;
        p.amsgrad = k == 1 || k == 3;
        p.maximize = k == 2;
        p.decoupled_weight_decay = k >= 2;
        p.complex_param = k == 1;
        p.step_size = p.lr / (1 - std::pow(p.beta1, 3.0));
        p.bias_correction2_sqrt = std::sqrt(1 - std::pow(p.beta2, 3.0));
        if (p.amsgrad) {
          compare(KernelOp::AdamStep, t, {grad}, {out(), out(), out(true), out(true)},
                  [p](Backend& b, const std::vector<View>& v) {
                    b.adam_step(v[1], v[0], v[2], v[3], v[4], p);
                  },
                  tol, missing);
        } else {
          compare(KernelOp::AdamStep, t, {grad}, {out(), out(), out(true)},
                  [p](Backend& b, const std::vector<View>& v) {
                    b.adam_step(v[1], v[0], v[2], v[3], View{}, p);
                  },
                  tol, missing);
        }
      }
      for (int k = 0; k < 4; ++k) {
        RmspropStepParams p;
        p.centered = k == 1 || k == 3;
        p.momentum = k >= 2 ? 0.5 : 0.0;
        p.weight_decay = k == 3 ? 0.1 : 0.0;
        p.maximize = k == 2;
        p.complex_param = k == 3;
        // Centered: square_avg - grad_avg^2 after the update must stay >= 0, so grad_avg
        // starts at 0 (as it does in use) and square_avg non-negative.
        Operand grad_avg = out();
        std::fill(grad_avg.storage.begin(), grad_avg.storage.end(), 0);
        std::vector<Operand> outs = {out(), out(true)};
        if (p.centered) outs.push_back(grad_avg);
        if (p.momentum > 0.0) outs.push_back(out());
        compare(KernelOp::RmspropStep, t, {grad}, outs,
                [p](Backend& b, const std::vector<View>& v) {
                  std::size_t at = 3;
                  const View ga = p.centered ? v[at++] : View{};
                  const View buf = p.momentum > 0.0 ? v[at++] : View{};
                  b.rmsprop_step(v[1], v[0], v[2], ga, buf, p);
                },
                tol, missing);
      }
      for (int k = 0; k < 2; ++k) {
        AdagradStepParams p;
        p.clr = 0.05;
        p.weight_decay = k == 1 ? 0.1 : 0.0;
        p.maximize = k == 1;
        p.complex_param = k == 1;
        compare(KernelOp::AdagradStep, t, {grad}, {out(), out(true)},
                [p](Backend& b, const std::vector<View>& v) { b.adagrad_step(v[1], v[0], v[2], p); },
                tol, missing);
      }
    }
  }
}

// Every KernelOp row needs a generator above; this list is the harness's half of that promise,
// checked against the table so a new row without one fails here.
TEST_CASE("parity: every primitive of the table has an input generator") {
  const std::set<KernelOp> covered = {
      KernelOp::Copy,          KernelOp::Fill,          KernelOp::Where,
      KernelOp::Matmul,        KernelOp::IndexSelect,   KernelOp::IndexAdd,
      KernelOp::Gather,        KernelOp::ScatterAdd,    KernelOp::Random,
      KernelOp::Conv1dForward, KernelOp::Conv1dBackwardInput, KernelOp::Conv1dBackwardWeight,
      KernelOp::Conv1dBackward,
      KernelOp::Pad1d,         KernelOp::Pad1dBackward,
      // --- normalization (issue 7) ---
      KernelOp::NormStats,     KernelOp::NormForward,   KernelOp::NormBackward,
      // --- pooling (issue 7) ---
      KernelOp::MaxPool1d, KernelOp::AvgPool1d, KernelOp::AvgPool1dBackward,
      KernelOp::AdaptiveMaxPool1d, KernelOp::AdaptiveAvgPool1d,
      KernelOp::AdaptiveAvgPool1dBackward,
      // --- softmax and losses (issue 7) ---
      KernelOp::Softmax, KernelOp::LogSoftmax, KernelOp::SoftmaxBackward,
      KernelOp::LogSoftmaxBackward, KernelOp::CrossEntropy, KernelOp::CrossEntropyBackward,
      KernelOp::NllLoss, KernelOp::NllLossBackward,
      // --- optimizer updates (issue 7) ---
      KernelOp::SgdStep,       KernelOp::AdamStep,      KernelOp::RmspropStep,
      KernelOp::AdagradStep};
  for (KernelOp op : op_table::kKernelOps) {
    CAPTURE(op_name(op));
    CHECK(covered.count(op) == 1);
  }
  CHECK(covered.size() == std::size(op_table::kKernelOps));
}
