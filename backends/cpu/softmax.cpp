// CPU backend, softmax and log_softmax along one dim and their gradients (issue 7), for
// float32/float64 when every view is contiguous; everything else is the reference's loops.
//
// A contiguous tensor seen along `dim` is [outer, n, inner]: `outer` independent blocks, each
// n slices of `inner` contiguous elements. The kernels run the SIMD row kernels of
// simd_kernels.hpp over whole rows: with inner == 1 each block is one contiguous row (the
// classes of [N, C]); otherwise the n rows of a block are combined elementwise, `inner` lanes
// at a time (the channels of [N, C, L] along C). Per block, in the formulas of
// backends/reference/softmax.cpp:
//
//   m = max_i x_i;  e_i = exp(x_i - m);  s = sum_i e_i
//   softmax: y_i = e_i / s;   log_softmax: y_i = x_i - (m + log s)
//
// Sums accumulate in the element type (as PyTorch's kernels do); blocks run on the thread pool.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends {

namespace cpu {
namespace {

constexpr std::int64_t kSoftmaxGrain = 32768;  // elements per task

struct Blocks {
  std::int64_t outer = 1, n = 1, inner = 1;
  std::int64_t block() const { return n * inner; }  // the elements of one outer index
  // The outer indices per parallel task: about kSoftmaxGrain elements, at least one.
  std::int64_t grain() const {
    return std::max<std::int64_t>(1, kSoftmaxGrain / std::max<std::int64_t>(block(), 1));
  }
};

Blocks blocks_of(const Shape& shape, int dim) {
  Blocks b;
  for (int d = 0; d < dim; ++d) b.outer *= shape[d];
  b.n = shape[dim];
  for (int d = dim + 1; d < static_cast<int>(shape.size()); ++d) b.inner *= shape[d];
  return b;
}

bool contiguous(const View& v) { return is_contiguous_layout(v.shape, v.strides); }

// One contiguous row of n elements (inner == 1): whole-row SIMD calls.
template <class T>
void softmax_row(const TypedKernels<T>& k, const T* x, T* y, std::int64_t n, bool log) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);  // a NaN reaches s below
  k.binary(BinaryOp::Sub, n, x, 1, &m, 0, y);
  k.unary(UnaryOp::Exp, n, y, y);
  const T s = k.sum(n, y);
  if (log) {
    const T shift = m + std::log(s);
    k.binary(BinaryOp::Sub, n, x, 1, &shift, 0, y);
  } else {
    k.binary(BinaryOp::Div, n, y, 1, &s, 0, y);
  }
}

// n rows of `inner` contiguous lanes: the rows are combined elementwise. m and s are scratch
// of `inner` elements.
template <class T>
void softmax_lanes(const TypedKernels<T>& k, const T* x, T* y, std::int64_t n, std::int64_t inner,
                   bool log, T* m, T* s) {
  std::copy(x, x + inner, m);
  for (std::int64_t i = 1; i < n; ++i) {
    k.binary(BinaryOp::Maximum, inner, m, 1, x + i * inner, 1, m);  // NaN propagates
  }
  std::fill(s, s + inner, T(0));
  for (std::int64_t i = 0; i < n; ++i) {
    T* yi = y + i * inner;
    k.binary(BinaryOp::Sub, inner, x + i * inner, 1, m, 1, yi);
    k.unary(UnaryOp::Exp, inner, yi, yi);
    k.binary(BinaryOp::Add, inner, s, 1, yi, 1, s);
  }
  if (log) {
    for (std::int64_t j = 0; j < inner; ++j) m[j] += std::log(s[j]);
    for (std::int64_t i = 0; i < n; ++i) {
      k.binary(BinaryOp::Sub, inner, x + i * inner, 1, m, 1, y + i * inner);
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) {
      k.binary(BinaryOp::Div, inner, y + i * inner, 1, s, 1, y + i * inner);
    }
  }
}

template <class T>
void softmax_blocks(const T* x, T* y, const Blocks& b, bool log) {
  const auto& k = simd_kernels().get<T>();
  const std::int64_t block = b.block();
  parallel_for(0, b.outer, b.grain(), [&](std::int64_t o0, std::int64_t o1) {
    std::vector<T> m(b.inner), s(b.inner);
    for (std::int64_t o = o0; o < o1; ++o) {
      if (b.inner == 1) {
        softmax_row(k, x + o * block, y + o * block, b.n, log);
      } else {
        softmax_lanes(k, x + o * block, y + o * block, b.n, b.inner, log, m.data(), s.data());
      }
    }
  });
}

// softmax:      dx_i = y_i * (g_i - sum_j g_j y_j)
// log_softmax:  dx_i = g_i - exp(y_i) * sum_j g_j
// with s (one value, or one per lane) the sum; step 0 broadcasts a single s over a row.
template <class T>
void softmax_backward_apply(const TypedKernels<T>& k, const T* g, const T* y, T* dx,
                            std::int64_t len, const T* s, std::int64_t step, bool log) {
  if (log) {
    k.unary(UnaryOp::Exp, len, y, dx);
    k.binary(BinaryOp::Mul, len, dx, 1, s, step, dx);
    k.binary(BinaryOp::Sub, len, g, 1, dx, 1, dx);
  } else {
    k.binary(BinaryOp::Sub, len, g, 1, s, step, dx);
    k.binary(BinaryOp::Mul, len, dx, 1, y, 1, dx);
  }
}

template <class T>
void softmax_backward_blocks(const T* g, const T* y, T* dx, const Blocks& b, bool log) {
  const auto& k = simd_kernels().get<T>();
  const std::int64_t block = b.block();
  parallel_for(0, b.outer, b.grain(), [&](std::int64_t o0, std::int64_t o1) {
    std::vector<T> s(b.inner), t(b.inner);
    for (std::int64_t o = o0; o < o1; ++o) {
      const T* gb = g + o * block;
      const T* yb = y + o * block;
      T* db = dx + o * block;
      if (b.inner == 1) {
        const T s1 = log ? k.sum(b.n, gb) : k.dot(b.n, gb, yb);
        softmax_backward_apply(k, gb, yb, db, b.n, &s1, 0, log);
        continue;
      }
      std::fill(s.begin(), s.end(), T(0));
      for (std::int64_t i = 0; i < b.n; ++i) {
        const T* gi = gb + i * b.inner;
        if (log) {
          k.binary(BinaryOp::Add, b.inner, s.data(), 1, gi, 1, s.data());
        } else {
          k.binary(BinaryOp::Mul, b.inner, gi, 1, yb + i * b.inner, 1, t.data());
          k.binary(BinaryOp::Add, b.inner, s.data(), 1, t.data(), 1, s.data());
        }
      }
      for (std::int64_t i = 0; i < b.n; ++i) {
        softmax_backward_apply(k, gb + i * b.inner, yb + i * b.inner, db + i * b.inner, b.inner,
                               s.data(), 1, log);
      }
    }
  });
}

}  // namespace
}  // namespace cpu

void CpuBackend::softmax_impl(const View& out, const View& in, int dim, bool log) {
  if (!is_float32_or_64(in.dtype) || !cpu::contiguous(in) || !cpu::contiguous(out) ||
      in.numel() == 0) {
    return ReferenceBackend::softmax_impl(out, in, dim, log);
  }
  const cpu::Blocks b = cpu::blocks_of(in.shape, dim);
  if (in.dtype == kFloat32) cpu::softmax_blocks(in.ptr<float>(), out.ptr<float>(), b, log);
  else cpu::softmax_blocks(in.ptr<double>(), out.ptr<double>(), b, log);
}

void CpuBackend::softmax_backward_impl(const View& grad_in, const View& grad_out,
                                       const View& out, int dim, bool log) {
  if (!is_float32_or_64(out.dtype) || !cpu::contiguous(grad_in) || !cpu::contiguous(grad_out) ||
      !cpu::contiguous(out) || out.numel() == 0) {
    return ReferenceBackend::softmax_backward_impl(grad_in, grad_out, out, dim, log);
  }
  const cpu::Blocks b = cpu::blocks_of(out.shape, dim);
  if (out.dtype == kFloat32) {
    cpu::softmax_backward_blocks(grad_out.ptr<float>(), out.ptr<float>(), grad_in.ptr<float>(), b,
                                 log);
  } else {
    cpu::softmax_backward_blocks(grad_out.ptr<double>(), out.ptr<double>(),
                                 grad_in.ptr<double>(), b, log);
  }
}

}  // namespace reel::backends
