// Reference backend, reductions. `out` has in's rank; a dim with out.shape[d] == 1 while
// in.shape[d] != 1 is reduced, every other dim is kept (out.shape[d] == in.shape[d]).
//
// The loop is two nested walks: the outer one over out's shape visits one output element and,
// with in's strides, the offset of the first input element that feeds it (on a reduced dim the
// outer index is always 0); the inner one walks the reduced part of in's shape (kept dims set
// to extent 1) and folds the elements it meets.
#include <limits>

#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::acc_t;
using reference::cast_value;
using reference::is_nan;

namespace {

// in's shape with every kept dim set to 1: the part a single output element folds over.
Shape reduced_shape(const char* name, const View& out, const View& in) {
  check(out.shape.size() == in.shape.size(),
        "{}: output rank {} must equal input rank {} (reduced dims have extent 1)", name,
        out.shape.size(), in.shape.size());
  Shape reduced = in.shape;
  for (int d = 0; d < in.shape.size(); ++d) {
    const bool is_reduced = out.shape[d] == 1 && in.shape[d] != 1;
    check(is_reduced || out.shape[d] == in.shape[d],
          "{}: output shape {} is not a reduction of input shape {}", name, out.shape, in.shape);
    if (!is_reduced) reduced[d] = 1;
  }
  return reduced;
}

// Calls fold(out_offset, [&](auto visit) { ... }) once per output element; `visit(f)` calls
// f(in_offset) for every input element that feeds it.
template <typename Fold>
void for_each_reduction(const View& out, const View& in, const Shape& reduced, Fold fold) {
  for_each_offset(
      out.shape,
      [&](std::int64_t o, std::int64_t first) {
        fold(o, [&](auto f) {
          for_each_offset(reduced, [&](std::int64_t i) { f(first + i); }, in.strides);
        });
      },
      out.strides, in.strides);
}

// max/min of nothing has no value: PyTorch's messages.
void check_not_empty(const char* name, const View& out, const Shape& reduced) {
  if (numel_of(reduced) != 0 || numel_of(out.shape) == 0) return;
  if (numel_of(out.shape) == 1) {
    fail("{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
         "reduction dim with the 'dim' argument.", name);
  }
  int dim = 0;
  while (reduced[dim] != 0) ++dim;
  fail("{}(): Expected reduction dim {} to have non-zero size.", name, dim);
}

}  // namespace

void ReferenceBackend::reduce_impl(ReduceOp op, const View& out, const View& in) {
  const char* name = op_name(op);
  const Shape reduced = reduced_shape(name, out, in);
  if (op == ReduceOp::Max || op == ReduceOp::Min) check_not_empty(name, out, reduced);

  visit_wide_dtype(in.dtype, [&]<typename T>() {
    const T* src = in.ptr<T>();
    switch (op) {
      case ReduceOp::Sum:
      case ReduceOp::Prod: {
        // Accumulate in acc_t<T> (double for float32, complex128 for complex64), then round
        // once: an empty sum is 0 and an empty product is 1.
        using A = acc_t<T>;
        const bool sum = op == ReduceOp::Sum;
        for_each_reduction(out, in, reduced, [&](std::int64_t o, auto visit) {
          A acc = sum ? A(0) : A(1);
          visit([&](std::int64_t i) {
            const A x = cast_value<A>(src[i]);
            acc = sum ? reference::plus(acc, x) : reference::times(acc, x);
          });
          out.ptr<T>()[o] = cast_value<T>(acc);
        });
        break;
      }
      case ReduceOp::Max:
      case ReduceOp::Min: {
        if constexpr (!is_complex_v<T>) {
          // Start from the identity (-inf / +inf, or the type's extremes). A NaN, once met,
          // wins and stays: is_nan(acc) blocks every later update.
          const bool max = op == ReduceOp::Max;
          using L = std::numeric_limits<T>;
          const T init = L::has_infinity ? (max ? -L::infinity() : L::infinity())
                                         : (max ? L::lowest() : L::max());
          for_each_reduction(out, in, reduced, [&](std::int64_t o, auto visit) {
            T acc = init;
            visit([&](std::int64_t i) {
              const T x = src[i];
              if (is_nan(acc)) return;
              if (is_nan(x) || (max ? x > acc : x < acc)) acc = x;
            });
            out.ptr<T>()[o] = acc;
          });
        }
        break;
      }
      case ReduceOp::Any:
      case ReduceOp::All: {
        // any: is some element nonzero (false when empty); all: are all nonzero (true when empty).
        const bool any = op == ReduceOp::Any;
        for_each_reduction(out, in, reduced, [&](std::int64_t o, auto visit) {
          bool acc = !any;
          visit([&](std::int64_t i) {
            const bool x = cast_value<bool>(src[i]);
            acc = any ? (acc || x) : (acc && x);
          });
          out.ptr<bool>()[o] = acc;
        });
        break;
      }
    }
  });
}

void ReferenceBackend::arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices,
                                  const View& in, int dim) {
  const char* name = op_name(op);
  check(dim >= 0 && dim < in.shape.size(), "{}: dim {} out of range for input of rank {}", name,
        dim, in.shape.size());
  const Shape out_shape = with_extent(in.shape, dim, 1);
  check(indices.shape == out_shape, "{}: expected indices of shape {}, got {}", name, out_shape,
        indices.shape);
  // `values` may be a null view (data == nullptr) when only the indices are wanted.
  const bool want_values = values.data != nullptr;
  check(!want_values || (values.shape == out_shape && values.dtype == in.dtype),
        "{}: expected values of shape {} and dtype {}, got {} and {}", name, out_shape,
        in.dtype, values.shape, values.dtype);
  const std::int64_t n = in.shape[dim];
  check(n > 0, "{}(): Expected reduction dim {} to have non-zero size.", name, dim);
  const std::int64_t step = in.strides[dim];
  const Strides& value_strides = want_values ? values.strides : indices.strides;

  visit_wide_dtype(in.dtype, [&]<typename T>() {
    if constexpr (!is_complex_v<T>) {
      const T* src = in.ptr<T>();
      for_each_offset(
          out_shape,
          [&](std::int64_t v, std::int64_t k, std::int64_t first) {
            // Only a strictly better element replaces the best so far, so ties keep the first
            // index; the first NaN is the extreme and ends the search.
            T best = src[first];
            std::int64_t best_index = 0;
            for (std::int64_t j = 1; j < n && !is_nan(best); ++j) {
              const T x = src[first + j * step];
              const bool better = op == ArgReduceOp::Max ? x > best : x < best;
              if (is_nan(x) || better) {
                best = x;
                best_index = j;
              }
            }
            if (want_values) values.ptr<T>()[v] = best;
            indices.ptr<std::int64_t>()[k] = best_index;
          },
          value_strides, indices.strides, in.strides);
    }
  });
}

}  // namespace reel::backends
