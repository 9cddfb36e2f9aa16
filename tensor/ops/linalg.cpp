// matmul (torch.matmul's rules), mm and bmm. One backend primitive does all of them: the
// batched product out[B, M, N] = a[B, M, K] @ b[B, K, N] over strided views, so transposed
// and broadcast operands are passed as views, never copied first.
//
// Backward (conjugate Wirtinger, as PyTorch): grad_a = g @ conj(b)^T, grad_b = conj(a)^T @ g,
// each summed back over the batch dims its input was broadcast along.
#include <string>

#include "tensor/ops/autocast.hpp"
#include "tensor/ops/elementwise_core.hpp"

namespace reel {

namespace {

// The last two dims of a matrix operand (a 1-D one shown as a row or column), as "2x3".
std::string mat_str(std::int64_t rows, std::int64_t cols) { return fmt::format("{}x{}", rows, cols); }

// A [B, M, K] backend view of a 2-D tensor that every batch shares (batch stride 0).
backends::View shared_3d(const Tensor& t) {
  return backends::View{t.raw_data(), t.dtype(), Shape{1, t.size(0), t.size(1)},
                        Strides{0, t.stride(0), t.stride(1)}};
}

// The shapes of one product: a as [batch..., M, K], b as [batch..., K, N] once 1-D operands are
// made matrices (a: a row, b: a column), and the output's shape with those dims dropped again.
struct MatmulShapes {
  Shape batch_a, batch_b, batch;
  std::int64_t m = 0, k = 0, n = 0;
  Shape out;
};

MatmulShapes plan(const Tensor& a, const Tensor& b, const char* op) {
  check(a.dim() >= 1 && b.dim() >= 1,
        "{}: both arguments to matmul need to be at least 1D, but they are {}D and {}D", op,
        a.dim(), b.dim());
  MatmulShapes s;
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  s.m = a_vec ? 1 : a.size(-2);
  s.k = a.size(-1);
  std::int64_t kb = b_vec ? b.size(0) : b.size(-2);
  s.n = b_vec ? 1 : b.size(-1);
  if (a_vec && b_vec) {
    check(s.k == kb,
          "{}: inconsistent tensor size, expected tensor [{}] and src [{}] to have the same "
          "number of elements, but got {} and {} elements respectively",
          op, s.k, kb, s.k, kb);
  } else if (a.dim() == 2 && b.dim() == 2) {
    check(s.k == kb, "{}: mat1 and mat2 shapes cannot be multiplied ({} and {})", op,
          mat_str(s.m, s.k), mat_str(kb, s.n));
  } else {
    check(s.k == kb, "{}: mat1 and mat2 shapes cannot be multiplied ({} and {}) for inputs of "
          "shapes {} and {}", op, mat_str(s.m, s.k), mat_str(kb, s.n), a.sizes(), b.sizes());
  }
  for (int i = 0; i + 2 < a.dim(); ++i) s.batch_a.push_back(a.size(i));
  for (int i = 0; i + 2 < b.dim(); ++i) s.batch_b.push_back(b.size(i));
  s.batch = broadcast_shapes(s.batch_a, s.batch_b, op);
  s.out = s.batch;
  if (!a_vec) s.out.push_back(s.m);
  if (!b_vec) s.out.push_back(s.n);
  return s;
}

// a [M, K] or [K] -> a matrix [.., M, K]; b [K, N] or [K] -> [.., K, N]. Views, no autograd.
Tensor as_lhs(const Tensor& a) { return a.dim() == 1 ? a.unsqueeze(0) : a; }
Tensor as_rhs(const Tensor& b) { return b.dim() == 1 ? b.unsqueeze(1) : b; }

// out = a @ b in dtype t, no autograd.
Tensor matmul_kernel(const Tensor& a0, const Tensor& b0, const MatmulShapes& s, DType t) {
  NoGradGuard no_grad;  // the casts and views below are plumbing, not part of the tape
  Tensor a = as_lhs(a0.to(t));
  Tensor b = as_rhs(b0.to(t));
  Tensor out = empty(s.out, TensorOptions(t).device(a.device()));
  if (out.numel() == 0) return out;
  backends::Backend& backend = backend_for(a.device());
  if (s.k == 0) {  // an empty sum: zeros
    backend.fill(view_of(out), Scalar(0));
    return out;
  }
  const std::int64_t batch = numel_of(s.batch);
  auto out_3d = [&](std::int64_t bsz, std::int64_t rows) {
    Shape shape{bsz, rows, s.n};
    return backends::View{out.raw_data(), t, shape, contiguous_strides(shape)};
  };
  if (s.batch.empty()) {  // two matrices: no batch to arrange
    backend.matmul(out_3d(1, s.m), shared_3d(a), shared_3d(b));
    return out;
  }
  if (s.batch_b.empty()) {
    // A batch of matrices times one matrix: fold the batch into M, one [B*M, K] @ [K, N]
    // product (a view when a's batch dims are contiguous with its rows).
    Tensor a2 = a.reshape({batch * s.m, s.k});
    backend.matmul(out_3d(1, batch * s.m), shared_3d(a2), shared_3d(b));
    return out;
  }
  // Broadcast both to the batch shape and flatten it to one dim: a view (stride 0 where an
  // operand is broadcast) unless the batch strides don't collapse, then reshape copies.
  auto batched = [&](const Tensor& x, std::int64_t rows, std::int64_t cols) {
    Shape full = s.batch;
    full.push_back(rows);
    full.push_back(cols);
    return x.expand(full).reshape({batch, rows, cols});
  };
  backend.matmul(out_3d(batch, s.m), view_of(batched(a, s.m, s.k)), view_of(batched(b, s.k, s.n)));
  return out;
}

Tensor matmul_impl(const Tensor& a0, const Tensor& b0, const char* op, const char* node) {
  // Autocast's lower-precision list (tensor/ops/autocast.hpp).
  const Tensor a = detail::autocast_lower(a0);
  const Tensor b = detail::autocast_lower(b0);
  detail::check_same_device(a, b, op);
  MatmulShapes s = plan(a, b, op);
  DType t = result_type(a, b);
  check(t != kBool, "{}: \"addmm\" not implemented for 'Bool' (inputs of dtype bool)", op);
  Tensor out = matmul_kernel(a, b, s, t);
  if (autograd::needs_grad(a, b)) {
    // Each gradient needs only the other operand: save just what a needed gradient reads.
    autograd::SavedTensor sa = b.requires_grad() ? autograd::SavedTensor(a) : autograd::SavedTensor();
    autograd::SavedTensor sb = a.requires_grad() ? autograd::SavedTensor(b) : autograd::SavedTensor();
    Shape shape_a = a.sizes(), shape_b = b.sizes();
    Shape lhs = a.dim() == 1 ? Shape{1, s.k} : shape_a;  // as_lhs(a)'s shape
    Shape rhs = b.dim() == 1 ? Shape{s.k, 1} : shape_b;  // as_rhs(b)'s shape
    DType da = a.dtype(), db = b.dtype();
    Shape g_full = s.batch;  // the output's shape with the dropped vector dims put back
    g_full.push_back(s.m);
    g_full.push_back(s.n);
    autograd::record(
        node, {&a, &b}, out,
        [=](std::span<const Tensor> g, autograd::GradMask need) -> std::vector<Tensor> {
          Tensor gm = g[0].reshape(g_full);
          Tensor ga, gb;
          if (need[0]) {
            Tensor bm = as_rhs(sb.unpack());
            ga = detail::grad_for(matmul(gm, conj(bm).mT()), lhs, da).reshape(shape_a);
          }
          if (need[1]) {
            Tensor am = as_lhs(sa.unpack());
            if (rhs.size() == 2 && lhs.size() > 2) {
              // b broadcast over a's batch: fold the batch into the reduction, one matmul
              // (A^T G over all rows), as PyTorch does. One rounding for 16-bit dtypes, where a
              // per-batch product summed afterwards would round twice.
              const std::int64_t rows = numel_of(lhs) / s.k;
              gb = matmul(conj(am).reshape({rows, s.k}).mT(), gm.reshape({rows, s.n}))
                       .reshape(shape_b);
            } else {
              gb = detail::grad_for(matmul(conj(am).mT(), gm), rhs, db).reshape(shape_b);
            }
          }
          return {ga, gb};
        });
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  return matmul_impl(a, b, "matmul", "MatmulBackward");
}

Tensor mm(const Tensor& a, const Tensor& b) {
  check(a.dim() == 2, "mm: self must be a matrix (got a {}-D tensor of shape {})", a.dim(),
        a.sizes());
  check(b.dim() == 2, "mm: mat2 must be a matrix (got a {}-D tensor of shape {})", b.dim(),
        b.sizes());
  return matmul_impl(a, b, "mm", "MmBackward");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check(a.dim() == 3, "bmm: batch1 must be a 3D tensor (got shape {})", a.sizes());
  check(b.dim() == 3, "bmm: batch2 must be a 3D tensor (got shape {})", b.sizes());
  check(a.size(0) == b.size(0),
        "bmm: batch1 and batch2 must have same number of batches, got {} and {} (shapes {} and "
        "{})",
        a.size(0), b.size(0), a.sizes(), b.sizes());
  check(a.size(2) == b.size(1),
        "bmm: Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: "
        "[{}, {}] (shapes {} and {})",
        a.size(0), a.size(2), b.size(0), b.size(1), a.sizes(), b.sizes());
  return matmul_impl(a, b, "bmm", "BmmBackward");
}

}  // namespace reel
