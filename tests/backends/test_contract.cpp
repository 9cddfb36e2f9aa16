// The backend contract and the op table: a backend that implements nothing raises one clear
// error for every primitive; the table's dtype rule gives PyTorch's errors on every backend;
// supports() is the table for the reference backend and everything derived from it.
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "support.hpp"

using namespace reel;
using namespace reel::backends;

namespace {

// A backend with memory and nothing else: every primitive falls to the base class.
class EmptyBackend final : public Backend {
 public:
  std::string_view name() const override { return "empty"; }
  void* allocate(std::size_t) override { return nullptr; }
  void deallocate(void*, std::size_t) override {}
  void copy_from_host(void*, const void*, std::size_t) override {}
  void copy_to_host(void*, const void*, std::size_t) override {}
};

// A backend that claims float32 exp but forgot the kernel: still an error, never a crash.
class ClaimingBackend final : public Backend {
 public:
  std::string_view name() const override { return "claiming"; }
  bool supports(OpId op, DType t) const override { return op == OpId(UnaryOp::Exp) && t == kFloat32; }
  void* allocate(std::size_t) override { return nullptr; }
  void deallocate(void*, std::size_t) override {}
  void copy_from_host(void*, const void*, std::size_t) override {}
  void copy_to_host(void*, const void*, std::size_t) override {}
};

}  // namespace

TEST_CASE("contract: every primitive of a backend without kernels raises the one wording") {
  EmptyBackend b;
  std::vector<float> data(16);
  std::vector<std::int64_t> idx(16);
  std::vector<char> mask(16);
  const View v = test::view(data.data(), {4, 4});
  const View row = test::view(data.data(), {1, 4});
  const View i1 = test::view(idx.data(), {4});
  const View i2 = test::view(idx.data(), {1, 4});
  const View i44 = test::view(idx.data(), {4, 4});  // gather / scatter_add: index ~ out / src
  View m = test::view(reinterpret_cast<bool*>(mask.data()), {4, 4});
  const View x3 = test::view(data.data(), {1, 2, 8});
  const View w3 = test::view(data.data(), {2, 2, 1});
  const auto missing = [](const char* op) {
    return std::string(op) + " is not implemented on the empty backend (dtype float32)";
  };
  test::check_error([&] { b.copy(v, v); }, {missing("copy")});
  test::check_error([&] { b.fill(v, 1.0); }, {missing("fill")});
  test::check_error([&] { b.unary(UnaryOp::Exp, v, v); }, {missing("exp")});
  test::check_error([&] { b.binary(BinaryOp::Add, v, v, v); }, {missing("add")});
  test::check_error([&] { b.where(v, m, v, v); }, {missing("where")});
  test::check_error([&] { b.reduce(ReduceOp::Sum, row, v); }, {missing("sum")});
  test::check_error([&] { b.arg_reduce(ArgReduceOp::Max, View{}, i2, v, 0); }, {missing("argmax")});
  const View m3 = test::view(data.data(), {1, 4, 4});
  test::check_error([&] { b.matmul(m3, m3, m3); }, {missing("matmul")});
  test::check_error([&] { b.index_select(v, v, 0, i1); }, {missing("index_select")});
  test::check_error([&] { b.index_add(v, 0, i1, v); }, {missing("index_add")});
  test::check_error([&] { b.gather(v, v, 0, i44); }, {missing("gather")});
  test::check_error([&] { b.scatter_add(v, 0, i44, v); }, {missing("scatter_add")});
  test::check_error([&] { b.random(v, RandomSpec{}); }, {missing("random")});
  test::check_error([&] { b.conv1d_forward(x3, x3, w3, View{}, {}); }, {missing("conv1d")});
  test::check_error([&] { b.conv1d_backward_input(x3, x3, w3, {}); }, {missing("conv1d_backward_input")});
  test::check_error([&] { b.conv1d_backward_weight(w3, View{}, x3, x3, {}); },
                    {missing("conv1d_backward_weight")});
  test::check_error([&] { b.pad1d(x3, x3, PadMode::Reflect, 0, 0); }, {missing("pad1d")});
  test::check_error([&] { b.pad1d_backward(x3, x3, PadMode::Reflect, 0, 0); }, {missing("pad1d_backward")});

  ClaimingBackend c;
  test::check_error([&] { c.unary(UnaryOp::Exp, v, v); },
                    {"exp is not implemented on the claiming backend (dtype float32)"});
}

TEST_CASE("contract: the table's dtype rule raises PyTorch's errors on every backend") {
  std::vector<std::int64_t> ints(4);
  std::vector<char> bools(4);
  std::vector<complex64> zs(4);
  const View i = test::view(ints.data(), {4});
  const View bv = test::view(reinterpret_cast<bool*>(bools.data()), {4});
  const View z = test::view(zs.data(), {4});
  for (Backend* b : {&reference_backend(), &cpu_backend()}) {
    CAPTURE(b->name());
    test::check_error([&] { b->unary(UnaryOp::Neg, bv, bv); },
                      {"neg: not supported for bool dtype bool", "use the `~` or `logical_not()`"});
    test::check_error([&] { b->binary(BinaryOp::Sub, bv, bv, bv); },
                      {"sub: not supported for bool dtype bool", "logical_xor()"});
    test::check_error([&] { b->unary(UnaryOp::Relu, z, z); },
                      {"relu: not supported for complex dtype complex64"});
    test::check_error([&] { b->unary(UnaryOp::Exp, i, i); },
                      {"exp: not supported for integer dtype int64",
                       "integer inputs must be promoted to a floating dtype first"});
    test::check_error([&] { b->binary(BinaryOp::Maximum, z, z, z); },
                      {"maximum: not supported for complex dtype complex64"});
    // The output dtype follows the row's rule: lt gives bool.
    test::check_error([&] { b->binary(BinaryOp::Lt, i, i, i); },
                      {"lt: expected an output of dtype bool for input dtype int64, got int64"});
  }
}

TEST_CASE("contract: supports() is the table for the reference backend and the CPU one") {
  // The 16-bit dtypes have native kernels for elementwise maths and data movement; the other
  // ops run on float32 copies (Backend::run), which supports() reports as "no kernel".
  for (int d = 0; d < kNumDTypes; ++d) {
    const auto t = static_cast<DType>(d);
    for (UnaryOp op : op_table::kUnaryOps) {
      CHECK(reference_backend().supports(op, t) == op_accepts(op, t));
      CHECK(cpu_backend().supports(op, t) == op_accepts(op, t));
    }
    for (KernelOp op : op_table::kKernelOps) {
      CAPTURE(op_name(op));
      CAPTURE(t);
      const bool native = !is_reduced_float(t) || has_half_kernel(op);
      const bool want = op_accepts(op, t) && native;
      CHECK(reference_backend().supports(op, t) == want);
      // The CPU backend adds bfloat16 matmul and conv1d kernels where it has them.
      if (is_reduced_float(t) && !native && cpu_backend().supports(op, t)) {
        CHECK(t == kBFloat16);
        const OpKind kind = op_info(op).kind;
        CHECK((kind == OpKind::Linalg || kind == OpKind::Convolution));
        continue;
      }
      CHECK(cpu_backend().supports(op, t) == want);
    }
  }
  CHECK_FALSE(reference_backend().supports(BinaryOp::Div, kInt32));
  CHECK(reference_backend().supports(BinaryOp::Div, kFloat64));
}

TEST_CASE("op table: names are unique, dtype sets non-empty, output rules consistent") {
  std::set<std::string> names;
  std::size_t rows = 0;
  auto visit = [&](OpId op) {
    ++rows;
    const OpInfo& info = op_info(op);
    CAPTURE(info.name);
    CHECK_FALSE(info.dtypes.empty());
    CHECK(returns_bool(op) == (info.out == OutRule::Bool));
    if (info.kind == OpKind::Comparison || info.kind == OpKind::Logical) CHECK(returns_bool(op));
    names.insert(std::string(info.name));
  };
  for (auto op : op_table::kUnaryOps) visit(op);
  for (auto op : op_table::kBinaryOps) visit(op);
  for (auto op : op_table::kReduceOps) visit(op);
  for (auto op : op_table::kArgReduceOps) visit(op);
  for (auto op : op_table::kKernelOps) visit(op);
  // Every name once, across every table (reduce "max" and binary "maximum" differ).
  CHECK(names.size() == rows);
  CHECK(op_out_dtype(UnaryOp::Abs, kComplex128) == kFloat64);
  CHECK(op_out_dtype(BinaryOp::Eq, kInt8) == kBool);
  CHECK(op_out_dtype(BinaryOp::Add, kUInt8) == kUInt8);
}
