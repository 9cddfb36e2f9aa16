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

}  // namespace

void ReferenceBackend::reduce_impl(ReduceOp op, const View& out, const View& in) {
  const Shape reduced = reduced_shape(out.shape, in.shape);

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
  const Shape out_shape = with_extent(in.shape, dim, 1);
  const bool want_values = values.data != nullptr;  // a null view: only the indices are wanted
  const std::int64_t n = in.shape[dim];
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
