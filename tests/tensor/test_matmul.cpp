// matmul, mm, bmm: every rank combination of torch.matmul against hand-computed products,
// batch broadcasting against a naive loop written here, transposed (strided) operands, dtype
// promotion, empty shapes and the errors naming both shapes. Run on both CPU backends.
#include <doctest/doctest.h>

#include <complex>
#include <string>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;
using test::check_values;
using test::error_of;
using test::on_cpu_backends;

namespace {

// Values that make every product distinct: t[i] = (i % 7) - 3 + 0.5 * (i % 3).
Tensor filled(const Shape& shape, DType dtype = kFloat64) {
  std::vector<double> v(static_cast<std::size_t>(numel_of(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i % 7) - 3.0 + 0.5 * double(i % 3);
  return tensor(v, shape, TensorOptions(dtype));
}

// The oracle for the broadcasting cases: out[p, i, j] = sum_k a[pa, i, k] * b[pb, k, j], with
// the batch index p of the [A0, B0, M, N] output mapped to a [A0, 1, M, K] and b [B0, K, N].
std::vector<double> naive_broadcast(const std::vector<double>& a, const std::vector<double>& b,
                                    int a0, int b0, int m, int k, int n) {
  std::vector<double> out;
  for (int p = 0; p < a0; ++p)
    for (int q = 0; q < b0; ++q)
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double acc = 0;
          for (int r = 0; r < k; ++r) acc += a[(p * m + i) * k + r] * b[(q * k + r) * n + j];
          out.push_back(acc);
        }
  return out;
}

}  // namespace

TEST_CASE("matmul: 1-D by 1-D is a 0-dim dot product") {
  on_cpu_backends([] {
    Tensor d = matmul(tensor({1.0, 2.0, 3.0}), tensor({4.0, 5.0, 6.0}));
    CHECK(d.dim() == 0);
    check_values(d, {32});
  });
}

TEST_CASE("matmul: 1-D and 2-D operands") {
  on_cpu_backends([] {
    Tensor m = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    Tensor vm = matmul(tensor({1.0, 2.0}), m);  // [2] @ [2, 3] -> [3]
    CHECK(vm.sizes() == Shape{3});
    check_values(vm, {9, 12, 15});
    Tensor mv = matmul(m, tensor({1.0, 0.0, -1.0}));  // [2, 3] @ [3] -> [2]
    CHECK(mv.sizes() == Shape{2});
    check_values(mv, {-2, -2});
  });
}

TEST_CASE("matmul and mm: 2-D by 2-D, transposed operands") {
  on_cpu_backends([] {
    Tensor a = tensor({{1.0, 2.0}, {3.0, 4.0}});
    Tensor b = tensor({{5.0, 6.0}, {7.0, 8.0}});
    check_values(matmul(a, b), {19, 22, 43, 50});
    check_values(mm(a, b), {19, 22, 43, 50});
    // a^T b and a b^T read the transposes in place (strided views).
    check_values(matmul(a.t(), b), {26, 30, 38, 44});
    check_values(matmul(a, b.t()), {17, 23, 39, 53});
    Tensor c = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    Tensor d = tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});
    Tensor cd = matmul(c, d);
    CHECK(cd.sizes() == Shape{2, 2});
    check_values(cd, {22, 28, 49, 64});
    Tensor dc = matmul(d, c);
    CHECK(dc.sizes() == Shape{3, 3});
    check_values(dc, {9, 12, 15, 19, 26, 33, 29, 40, 51});
    // A slice with a row stride of 2.
    Tensor rows = tensor({{1.0, 2.0}, {0.0, 0.0}, {3.0, 4.0}}).slice(0, 0, 3, 2);
    check_values(matmul(rows, b), {19, 22, 43, 50});
  });
}

TEST_CASE("matmul: batched with 1-D and 2-D operands") {
  on_cpu_backends([] {
    // [2, 2, 3] @ [3] -> [2, 2]
    Tensor a = tensor(std::vector<double>{1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 1, 1},
                      Shape{2, 2, 3}, kFloat64);
    Tensor v = tensor({1.0, 0.0, -1.0});
    Tensor av = matmul(a, v);
    CHECK(av.sizes() == Shape{2, 2});
    check_values(av, {-2, -2, 0, 0});
    // [2] @ [2, 2, 3] -> [2, 3]: the row vector times each matrix.
    Tensor va = matmul(tensor({1.0, 2.0}), a);
    CHECK(va.sizes() == Shape{2, 3});
    check_values(va, {9, 12, 15, 2, 3, 2});
    // [2, 2, 3] @ [3, 2] -> [2, 2, 2] (the batch folds into the rows)
    Tensor m = tensor({{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}});
    Tensor am = matmul(a, m);
    CHECK(am.sizes() == Shape{2, 2, 2});
    check_values(am, {22, 28, 49, 64, 3, 4, 9, 12});
    // The same through a non-contiguous batch (a permuted copy of a): folding must still hold.
    Tensor ap = a.permute({1, 0, 2}).contiguous().permute({1, 0, 2});
    CHECK_FALSE(ap.is_contiguous());
    check_values(matmul(ap, m), {22, 28, 49, 64, 3, 4, 9, 12});
    // [2, 3] @ [2, 3, 2] -> [2, 2, 2] (the matrix broadcast over b's batch)
    Tensor b = tensor(std::vector<double>{1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 0, 0},
                      Shape{2, 3, 2}, kFloat64);
    Tensor c = tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
    Tensor cb = matmul(c, b);
    CHECK(cb.sizes() == Shape{2, 2, 2});
    check_values(cb, {4, 5, 10, 11, 2, 4, 8, 10});
  });
}

TEST_CASE("matmul: batch broadcasting [2, 1, 3, 4] @ [5, 4, 2] -> [2, 5, 3, 2]") {
  on_cpu_backends([] {
    Tensor a = filled({2, 1, 3, 4});
    Tensor b = filled({5, 4, 2});
    Tensor out = matmul(a, b);
    CHECK(out.sizes() == Shape{2, 5, 3, 2});
    check_values(out, naive_broadcast(a.to_vector<double>(), b.to_vector<double>(), 2, 5, 3, 4, 2));
    // bmm with equal batches equals the same loop with a0 = 1 per batch.
    Tensor x = filled({3, 2, 4}), y = filled({3, 4, 5});
    Tensor xy = bmm(x, y);
    CHECK(xy.sizes() == Shape{3, 2, 5});
    std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>(), expect;
    for (int p = 0; p < 3; ++p) {
      std::vector<double> xa(xv.begin() + p * 8, xv.begin() + (p + 1) * 8);
      std::vector<double> yb(yv.begin() + p * 20, yv.begin() + (p + 1) * 20);
      auto r = naive_broadcast(xa, yb, 1, 1, 2, 4, 5);
      expect.insert(expect.end(), r.begin(), r.end());
    }
    check_values(xy, expect);
    check_values(matmul(x, y), expect);
  });
}

TEST_CASE("matmul: dtypes") {
  on_cpu_backends([] {
    Tensor i = tensor({{1, 2}, {3, 4}});
    Tensor ii = matmul(i, i);
    CHECK(ii.dtype() == kInt64);
    CHECK(ii.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 10, 15, 22});
    Tensor f = matmul(i, tensor({{1.0f, 0.0f}, {0.0f, 1.0f}}));
    CHECK(f.dtype() == kFloat32);
    check_values(f, {1, 2, 3, 4});
    CHECK(matmul(tensor({{1.0f}}), tensor({{2.0}})).dtype() == kFloat64);
    // (1 + i)(2 - i) = 3 + i
    Tensor z = matmul(tensor(std::vector<complex128>{complex128(1, 1)}, Shape{1, 1}, kComplex128),
                      tensor(std::vector<complex128>{complex128(2, -1)}, Shape{1, 1}, kComplex128));
    CHECK(z.item<complex128>() == complex128(3, 1));
    // real @ complex promotes to complex
    Tensor rz = matmul(tensor({{2.0}}), tensor(std::vector<complex128>{complex128(0, 1)}, Shape{1, 1}, kComplex128));
    CHECK(rz.dtype() == kComplex128);
    CHECK(rz.item<complex128>() == complex128(0, 2));
  });
}

TEST_CASE("matmul: empty shapes") {
  on_cpu_backends([] {
    Tensor z = matmul(ones({2, 0}), ones({0, 3}));  // K = 0: a sum of nothing
    CHECK(z.sizes() == Shape{2, 3});
    check_values(z, {0, 0, 0, 0, 0, 0});
    CHECK(matmul(ones({0, 4}), ones({4, 3})).sizes() == Shape{0, 3});
    CHECK(matmul(ones({0, 2, 4}), ones({4, 3})).sizes() == Shape{0, 2, 3});
    check_values(matmul(ones({0}), ones({0})), {0});
  });
}

TEST_CASE("matmul, mm, bmm: errors name the shapes") {
  CHECK(error_of([] { mm(ones({2, 3}), ones({4, 5})); }) ==
        "mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  CHECK(error_of([] { matmul(ones({2, 3}), ones({4, 5})); }) ==
        "matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)");
  std::string batched = error_of([] { matmul(ones({7, 2, 3}), ones({4, 5})); });
  CHECK(batched.find("(2x3 and 4x5)") != std::string::npos);
  CHECK(batched.find("[7, 2, 3]") != std::string::npos);
  CHECK(error_of([] { matmul(ones({3}), ones({4})); }).find("[3] and src [4]") !=
        std::string::npos);
  CHECK(error_of([] { matmul(ones({3}), scalar_tensor(1.0)); }) ==
        "matmul: both arguments to matmul need to be at least 1D, but they are 1D and 0D");
  std::string bc = error_of([] { matmul(ones({2, 3, 4}), ones({3, 4, 5})); });
  CHECK(bc.find("matmul") != std::string::npos);
  CHECK(bc.find("must match") != std::string::npos);
  CHECK(error_of([] { mm(ones({2, 3, 4}), ones({4, 5})); }).find("mm: self must be a matrix") !=
        std::string::npos);
  CHECK(error_of([] { bmm(ones({2, 3}), ones({2, 3, 4})); }).find("batch1 must be a 3D tensor") !=
        std::string::npos);
  CHECK(error_of([] { bmm(ones({2, 3, 4}), ones({3, 4, 5})); })
            .find("same number of batches, got 2 and 3") != std::string::npos);
  CHECK(error_of([] { bmm(ones({2, 3, 4}), ones({2, 5, 6})); }).find("[2, 4] but got: [2, 5]") !=
        std::string::npos);
  CHECK(error_of([] { matmul(tensor({{true}}), tensor({{true}})); }).find("Bool") !=
        std::string::npos);
}

TEST_CASE("matmul: the fast backend agrees with the reference on larger strided operands") {
  struct Restore {
    ~Restore() { backends::set_cpu_backend(backends::Kind::Cpu); }
  } restore;
  manual_seed(22);
  for (DType t : {kFloat32, kFloat64, kComplex64, kInt64}) {
    CAPTURE(t);
    Tensor a = t == kInt64 ? randint(-5, 5, {3, 37, 29}) : randn({3, 37, 29}, t);
    Tensor b = t == kInt64 ? randint(-5, 5, {41, 29}) : randn({41, 29}, t);
    Tensor c = t == kInt64 ? randint(-5, 5, {3, 1, 29, 19}) : randn({3, 1, 29, 19}, t);
    std::vector<Tensor> results[2];
    int slot = 0;
    for (auto kind : {backends::Kind::Reference, backends::Kind::Cpu}) {
      backends::set_cpu_backend(kind);
      results[slot++] = {matmul(a, b.t()),            // batch folded into rows, b transposed
                         matmul(a.mT().mT(), c),      // broadcast batch [3] x [3, 1]
                         matmul(a[0], b.t()),         // plain 2-D
                         bmm(a, a.mT()),              // transposed batch operand
                         matmul(a, b[0])};            // matrix-vector
    }
    for (std::size_t i = 0; i < results[0].size(); ++i) {
      CAPTURE(i);
      double tol = t == kFloat32 || t == kComplex64 ? 1e-4 : 1e-10;
      CHECK(allclose(results[0][i], results[1][i], tol, tol));
    }
  }
}
