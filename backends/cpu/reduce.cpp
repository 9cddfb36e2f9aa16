// CPU backend, reductions. Sum over float32/float64 has three fast shapes, found after merging
// neighbouring dims that are contiguous and reduced alike:
//   row sums     the innermost dim is reduced and contiguous: each output is a SIMD sum of
//                contiguous runs (softmax denominators, losses, .sum() of everything);
//   column sums  the innermost dim is kept and contiguous: output rows accumulate input rows
//                with the SIMD add (bias gradients: [N, C] -> [1, C], [N, C, L] -> [1, C, L]);
//   all          one output and one contiguous run: partial sums of fixed parts, spread over
//                threads and added in a fixed order.
// Sums accumulate in the element type, with several vector accumulators (PyTorch does the
// same in float32). Max and Min (issue 10) take the same three shapes: the SIMD extreme of a
// run, the NaN-propagating maximum/minimum binary kernel between rows; they are exact, so they
// equal the reference's (NaN anywhere gives NaN). Everything else is the reference backend's.
#include <algorithm>
#include <array>
#include <cstring>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/dims.hpp"
#include "backends/strided_loop.hpp"
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace cpu {
namespace {

constexpr std::int64_t kGrain = 131072;       // elements per task: summing only reads, fast
constexpr std::int64_t kColumnChunk = 2048;   // output elements kept hot in L1 per task
constexpr int kMaxParts = 64;                 // partial sums of an all-reduce

// A merged dim: extent and strides; out_stride is 0 on a reduced dim.
struct Dim {
  std::int64_t n, in_stride, out_stride;
};
struct DimList {
  std::array<Dim, kMaxDims> d{};
  int size = 0;
  std::int64_t numel() const {
    std::int64_t p = 1;
    for (int i = 0; i < size; ++i) p *= d[i].n;
    return p;
  }
  // Offsets of the linear index `i` (row-major over these dims).
  void offsets(std::int64_t i, std::int64_t& in, std::int64_t& out) const {
    in = out = 0;
    for (int k = size - 1; k >= 0; --k) {
      const std::int64_t idx = i % d[k].n;
      i /= d[k].n;
      in += idx * d[k].in_stride;
      out += idx * d[k].out_stride;
    }
  }
};

// Calls f(in_offset) for every index of `dims` (an odometer, as in strided_loop.hpp).
template <class F>
void for_each_in(const DimList& dims, F&& f) {
  std::array<std::int64_t, kMaxDims> index{};
  std::int64_t off = 0;
  for (;;) {
    f(off);
    int k = dims.size - 1;
    for (; k >= 0; --k) {
      off += dims.d[k].in_stride;
      if (++index[k] < dims.d[k].n) break;
      off -= dims.d[k].n * dims.d[k].in_stride;
      index[k] = 0;
    }
    if (k < 0) return;
  }
}

// The fold of one reduction: Sum, Max or Min of a contiguous run (n >= 1 for Max/Min), and
// the combination of two partial results (NaN wins for Max/Min, as in the reference).
template <class T>
struct Fold {
  ReduceOp op;
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  T run(std::int64_t n, const T* in) const {
    return op == ReduceOp::Sum ? kern.sum(n, in) : kern.extreme(op == ReduceOp::Max, n, in);
  }
  T combine(T acc, T x) const {
    if (op == ReduceOp::Sum) return acc + x;
    if (acc != acc) return acc;
    return (x != x || (op == ReduceOp::Max ? x > acc : x < acc)) ? x : acc;
  }
  BinaryOp rows_op() const {
    return op == ReduceOp::Sum ? BinaryOp::Add
         : op == ReduceOp::Max ? BinaryOp::Maximum : BinaryOp::Minimum;
  }
};

// *out = in[0] + ... + in[n-1] (or their max/min). A long run is cut into parts of at least
// kGrain elements whose partial results are combined in a fixed order; the cut does not depend
// on the number of threads, so neither does the result.
template <class T>
void sum_run(const Fold<T>& fold, const T* in, std::int64_t n, T* out) {
  const std::int64_t parts = std::min<std::int64_t>(n / kGrain, kMaxParts);
  if (parts <= 1) {
    *out = fold.run(n, in);
    return;
  }
  std::array<T, kMaxParts> partial;
  parallel_for(0, parts, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t b = n * p / parts, e = n * (p + 1) / parts;
      partial[p] = fold.run(e - b, in + b);
    }
  });
  T total = partial[0];
  for (std::int64_t p = 1; p < parts; ++p) total = fold.combine(total, partial[p]);
  *out = total;
}

// out[o] = sum of contiguous runs of `inner` elements, one run per index of `reduced`.
template <class T>
void row_sums(const Fold<T>& fold, const T* in, T* out, const DimList& kept,
              const DimList& reduced, std::int64_t inner) {
  const std::int64_t outputs = kept.numel();
  if (outputs == 1 && reduced.size == 0) return sum_run(fold, in, inner, out);
  const std::int64_t per_output = reduced.numel() * inner;
  parallel_for(0, outputs, std::max<std::int64_t>(1, kGrain / per_output),
               [&](std::int64_t o0, std::int64_t o1) {
                 for (std::int64_t o = o0; o < o1; ++o) {
                   std::int64_t in_off, out_off;
                   kept.offsets(o, in_off, out_off);
                   T acc = T(0);
                   bool first = true;
                   for_each_in(reduced, [&](std::int64_t r) {
                     const T x = fold.run(inner, in + in_off + r);
                     acc = first ? x : fold.combine(acc, x);
                     first = false;
                   });
                   out[out_off] = acc;
                 }
               });
}

// out rows (contiguous, `inner` long) = sum over `reduced` of the matching input rows.
template <class T>
void column_sums(const Fold<T>& fold, const T* in, T* out, const DimList& kept,
                 const DimList& reduced, std::int64_t inner) {
  const auto binary = fold.kern.binary;
  const BinaryOp op = fold.rows_op();
  const std::int64_t chunks = (inner + kColumnChunk - 1) / kColumnChunk;
  const std::int64_t tasks = kept.numel() * chunks;
  const std::int64_t per_task = reduced.numel() * std::min(inner, kColumnChunk);
  parallel_for(0, tasks, std::max<std::int64_t>(1, kGrain / per_task),
               [&](std::int64_t t0, std::int64_t t1) {
                 for (std::int64_t t = t0; t < t1; ++t) {
                   std::int64_t in_off, out_off;
                   kept.offsets(t / chunks, in_off, out_off);
                   const std::int64_t c0 = (t % chunks) * kColumnChunk;
                   const std::int64_t len = std::min(kColumnChunk, inner - c0);
                   T* o = out + out_off + c0;
                   const T* src = in + in_off + c0;
                   bool first = true;
                   for_each_in(reduced, [&](std::int64_t r) {
                     if (first) std::memcpy(o, src + r, sizeof(T) * static_cast<std::size_t>(len));
                     else binary(op, len, o, 1, src + r, 1, o);
                     first = false;
                   });
                 }
               });
}

// Returns false when the reduction is not one of the fast shapes (the caller then delegates).
template <class T>
bool sum_fast(ReduceOp op, const View& out, const View& in) {
  const Fold<T> fold{op};
  if (numel_of(out.shape) == 1 && is_contiguous_layout(in.shape, in.strides)) {
    sum_run(fold, in.ptr<const T>(), in.numel(), out.ptr<T>());  // .sum() of a contiguous tensor
    return true;
  }
  // Split in's dims into kept and reduced, merging neighbours that are alike and contiguous.
  Dim all[kMaxDims]{};
  bool is_reduced[kMaxDims]{};
  int nd = 0;
  bool any_reduced = false;
  for (int d = 0; d < in.shape.size(); ++d) {
    const bool reduced = out.shape[d] == 1 && in.shape[d] != 1;
    if (!reduced && out.shape[d] != in.shape[d]) return false;
    if (in.shape[d] == 1) continue;
    any_reduced = any_reduced || reduced;
    const Dim x{in.shape[d], in.strides[d], reduced ? 0 : out.strides[d]};
    if (nd > 0 && is_reduced[nd - 1] == reduced && all[nd - 1].in_stride == x.in_stride * x.n &&
        all[nd - 1].out_stride == x.out_stride * x.n) {
      all[nd - 1] = {all[nd - 1].n * x.n, x.in_stride, x.out_stride};
      continue;
    }
    all[nd] = x;
    is_reduced[nd++] = reduced;
  }
  if (!any_reduced) return false;
  const Dim last = all[nd - 1];
  const bool rows = is_reduced[nd - 1] && last.in_stride == 1;
  const bool columns = !is_reduced[nd - 1] && last.in_stride == 1 && last.out_stride == 1;
  if (!rows && !columns) return false;
  DimList kept, reduced;
  for (int i = 0; i + 1 < nd; ++i) {
    DimList& to = is_reduced[i] ? reduced : kept;
    to.d[to.size++] = all[i];
  }
  if (rows) row_sums(fold, in.ptr<const T>(), out.ptr<T>(), kept, reduced, last.n);
  else column_sums(fold, in.ptr<const T>(), out.ptr<T>(), kept, reduced, last.n);
  return true;
}

}  // namespace

// Issue 10: argmax/argmin along the innermost dim of contiguous float32/float64 (a classifier's
// predictions over [N, classes]). Rows threaded; each row's extreme by the SIMD extreme kernel
// (exact, NaN-propagating), then the first index holding it, or the first NaN when it is NaN:
// the reference's answer (ties keep the first index; -0 and +0 tie). Other layouts, and every
// shape error, are the reference's (false: not taken).
template <class T>
bool arg_rows(ArgReduceOp op, const View& values, const View& indices, const View& in, int dim) {
  const int rank = in.shape.size();
  if (rank == 0 || dim != rank - 1 || in.shape[dim] == 0 ||
      !is_contiguous_layout(in.shape, in.strides)) {
    return false;
  }
  const Shape out_shape = with_extent(in.shape, dim, 1);
  const bool want_values = values.data != nullptr;
  if (indices.shape != out_shape || !is_contiguous_layout(indices.shape, indices.strides) ||
      (want_values && (values.shape != out_shape || values.dtype != in.dtype ||
                       !is_contiguous_layout(values.shape, values.strides)))) {
    return false;
  }
  const std::int64_t n = in.shape[dim];
  const std::int64_t rows = in.numel() / n;
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const bool max = op == ArgReduceOp::Max;
  const T* src = in.ptr<T>();
  std::int64_t* idx = indices.ptr<std::int64_t>();
  T* val = want_values ? values.ptr<T>() : nullptr;
  parallel_for(0, rows, std::max<std::int64_t>(1, kGrain / n), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* row = src + r * n;
      const T best = kern.extreme(max, n, row);
      std::int64_t j = 0;
      if (best != best) {
        while (row[j] == row[j]) ++j;  // the first NaN
      } else {
        while (!(row[j] == best)) ++j;
      }
      idx[r] = j;
      if (val != nullptr) val[r] = row[j];
    }
  });
  return true;
}

}  // namespace cpu

void CpuBackend::reduce_impl(ReduceOp op, const View& out, const View& in) {
  const bool fast = (op == ReduceOp::Sum || op == ReduceOp::Max || op == ReduceOp::Min) &&
                    is_float32_or_64(in.dtype) && out.dtype == in.dtype &&
                    out.shape.size() == in.shape.size() && in.numel() != 0;
  if (fast) {
    const bool done = in.dtype == kFloat32 ? cpu::sum_fast<float>(op, out, in)
                                           : cpu::sum_fast<double>(op, out, in);
    if (done) return;
  }
  // Nothing reduced (every reduced dim had extent 1): the sum, product, max or min of one
  // element is the element.
  if (op != ReduceOp::Any && op != ReduceOp::All && is_float32_or_64(in.dtype) &&
      out.dtype == in.dtype && out.shape == in.shape) {
    return copy(out, in);
  }
  ReferenceBackend::reduce_impl(op, out, in);
}

void CpuBackend::arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices,
                                 const View& in, int dim) {
  if (in.dtype == kFloat32 && cpu::arg_rows<float>(op, values, indices, in, dim)) return;
  if (in.dtype == kFloat64 && cpu::arg_rows<double>(op, values, indices, in, dim)) return;
  ReferenceBackend::arg_reduce_impl(op, values, indices, in, dim);
}

}  // namespace reel::backends
