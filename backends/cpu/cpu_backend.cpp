// The fast CPU backend (see cpu_backend.hpp for what it accelerates). Elementwise work runs over
// *coalesced* views: size-1 dims are dropped and neighbouring dims merged wherever every view is
// contiguous across them, so most tensors become one long row (or a few long rows) that a SIMD
// kernel walks in a straight loop. Rows are shared out to threads in chunks of kGrain elements;
// a tensor smaller than that runs inline, with no allocation and no synchronization.
#include "backends/cpu/cpu_backend.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <string_view>
#include <vector>

#include "backends/coalesce.hpp"
#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/gemm.hpp"
#include "backends/cpu/gemm_bf16.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/philox.hpp"

namespace reel::backends {

namespace cpu {
namespace {

// Elements per task for memory-bound loops (add, copy, fill): 64 Ki floats take ~8 us in
// cache, about what handing work to a pool thread costs, so smaller tensors stay on one
// thread. Transcendental ops (exp, tanh, ...) cost several times more per element and split
// at a quarter of that.
constexpr std::int64_t kGrain = 65536;
constexpr std::int64_t kMathGrain = kGrain / 4;

constexpr bool is_transcendental(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Log || op == UnaryOp::Tanh ||
         op == UnaryOp::Sigmoid || op == UnaryOp::Silu;
}
constexpr std::int64_t kGatherBuffer = 256;  // elements staged per strided SIMD call

// Calls row(offsets, n, first) for every row of l, in row-major order within a thread:
// offsets[k] is the row's first element in view k, n its length and `first` its row-major
// index in the whole shape. Work is shared out in chunks of about `grain` elements; a row longer
// than that is cut into pieces, so one long contiguous row is threaded too.
template <int N, class F>
void for_each_row(const Layout<N>& l, std::int64_t grain, F&& row) {
  const int outer = l.ndim - 1;
  const std::int64_t n = l.shape[outer];
  const std::int64_t piece = std::min(n, grain);
  const std::int64_t pieces = (n + piece - 1) / piece;  // per row
  std::int64_t rows = 1;
  for (int d = 0; d < outer; ++d) rows *= l.shape[d];
  const std::int64_t tasks = rows * pieces;
  parallel_for(0, tasks, std::max<std::int64_t>(1, grain / piece), [&](std::int64_t t0, std::int64_t t1) {
    std::array<std::int64_t, kMaxDims> index{};
    std::array<std::int64_t, N> off{}, piece_off{};
    std::int64_t r = t0 / pieces, p = t0 % pieces;
    for (std::int64_t d = outer - 1, q = r; d >= 0; --d) {
      index[d] = q % l.shape[d];
      q /= l.shape[d];
      for (int k = 0; k < N; ++k) off[k] += index[d] * l.strides[k][d];
    }
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t start = p * piece;
      for (int k = 0; k < N; ++k) piece_off[k] = off[k] + start * l.strides[k][outer];
      row(piece_off.data(), std::min(piece, n - start), r * n + start);
      if (++p < pieces) continue;
      p = 0;
      ++r;
      for (int d = outer - 1; d >= 0; --d) {  // the odometer of strided_loop.hpp
        for (int k = 0; k < N; ++k) off[k] += l.strides[k][d];
        if (++index[d] < l.shape[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= l.shape[d] * l.strides[k][d];
        index[d] = 0;
      }
    }
  });
}

// Same-dtype copy: memcpy for contiguous rows, else a strided loop moving raw elements (a
// fixed-size memcpy compiles to one load and one store).
template <std::size_t Bytes>
void copy_raw(const Layout<2>& l, void* dst, const void* src) {
  constexpr auto size = static_cast<std::int64_t>(Bytes);
  const std::int64_t so = l.inner_stride(0) * size, si = l.inner_stride(1) * size;
  for_each_row(l, kGrain * 2, [&](const std::int64_t* off, std::int64_t n, std::int64_t) {
    auto* d = static_cast<unsigned char*>(dst) + off[0] * size;
    const auto* s = static_cast<const unsigned char*>(src) + off[1] * size;
    if (so == size && si == size) {
      std::memcpy(d, s, static_cast<std::size_t>(n * size));
      return;
    }
    for (std::int64_t i = 0; i < n; ++i) std::memcpy(d + i * so, s + i * si, Bytes);
  });
}

// Moves n elements between a strided row and a contiguous buffer.
template <class T>
void gather(const T* src, std::int64_t stride, std::int64_t n, T* dst) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
}
template <class T>
void scatter(const T* src, std::int64_t n, T* dst, std::int64_t stride) {
  for (std::int64_t i = 0; i < n; ++i) dst[i * stride] = src[i];
}

// out = op(a, b) (or op(a) when B is null) row by row. A row whose strides are all 0 or 1 goes
// straight to the SIMD kernel; other strides are staged through small stack buffers, so the
// same kernel (and the same rounding) serves every layout.
template <class T>
void elementwise(const View& out, const View& a, const View* b, BinaryOp bop, UnaryOp uop) {
  const TypedKernels<T>& kern = simd_kernels().get<T>();
  const std::int64_t grain =
      (b ? bop == BinaryOp::SiluBackward : is_transcendental(uop)) ? kMathGrain : kGrain;
  // The common case first, without coalescing: contiguous views (b possibly one broadcast
  // scalar) are one flat row, cut into chunks only when there is enough work.
  if (is_contiguous_layout(out.shape, out.strides) && is_contiguous_layout(a.shape, a.strides)) {
    const bool b_flat = b && is_contiguous_layout(b->shape, b->strides);
    const bool b_scalar = b && !b_flat && std::all_of(b->strides.begin(), b->strides.end(),
                                                      [](std::int64_t s) { return s == 0; });
    if (!b || b_flat || b_scalar) {
      T* po = out.ptr<T>();
      const T* pa = a.ptr<T>();
      const T* pb = b ? b->ptr<T>() : nullptr;
      const std::int64_t sb = b_scalar ? 0 : 1;
      parallel_for(0, out.numel(), grain, [&](std::int64_t i0, std::int64_t i1) {
        if (b) kern.binary(bop, i1 - i0, pa + i0, 1, pb + i0 * sb, sb, po + i0);
        else kern.unary(uop, i1 - i0, pa + i0, po + i0);
      });
      return;
    }
  }
  const Layout<3> l = b ? coalesce<3>(out.shape, {&out.strides, &a.strides, &b->strides})
                        : coalesce<3>(out.shape, {&out.strides, &a.strides, &a.strides});
  T* po = out.ptr<T>();
  const T* pa = a.ptr<T>();
  const T* pb = b ? b->ptr<T>() : nullptr;
  const std::int64_t so = l.inner_stride(0), sa = l.inner_stride(1), sb = b ? l.inner_stride(2) : 1;
  auto unit = [](std::int64_t s) { return s == 0 || s == 1; };
  const bool direct = so == 1 && unit(sa) && unit(sb) && (b || sa == 1);
  auto call = [&](std::int64_t n, const T* x, std::int64_t x_step, const T* y, std::int64_t y_step, T* o) {
    if (b) kern.binary(bop, n, x, x_step, y, y_step, o);
    else kern.unary(uop, n, x, o);
  };
  for_each_row(l, grain, [&](const std::int64_t* off, std::int64_t n, std::int64_t) {
    if (direct) return call(n, pa + off[1], sa, pb ? pb + off[2] : nullptr, sb, po + off[0]);
    alignas(64) T buf_a[kGatherBuffer], buf_b[kGatherBuffer], buf_o[kGatherBuffer];
    for (std::int64_t i0 = 0; i0 < n; i0 += kGatherBuffer) {
      const std::int64_t len = std::min(kGatherBuffer, n - i0);
      const T* x = pa + off[1] + i0 * sa;
      std::int64_t x_step = sa;
      if (!unit(sa) || (!b && sa == 0)) gather(x, sa, len, buf_a), x = buf_a, x_step = 1;
      const T* y = pb ? pb + off[2] + i0 * sb : nullptr;
      std::int64_t y_step = sb;
      if (b && !unit(sb)) gather(y, sb, len, buf_b), y = buf_b, y_step = 1;
      T* o = so == 1 ? po + off[0] + i0 : buf_o;
      call(len, x, x_step, y, y_step, o);
      if (so != 1) scatter(buf_o, len, po + off[0] + i0 * so, so);
    }
  });
}

// --- issue 10: where and comparisons -----------------------------------------------------------
// Calls f(i, ia, ib) for i < n with the input offsets i*sa and i*sb; the common strides (1 and
// 0: contiguous or a broadcast scalar) get loops of their own, with constant strides the
// compiler vectorises.
template <class F>
[[gnu::always_inline]] inline void row_loop(std::int64_t n, std::int64_t sa, std::int64_t sb, F&& f) {
  if (sa == 1 && sb == 1) {
    for (std::int64_t i = 0; i < n; ++i) f(i, i, i);
  } else if (sa == 1 && sb == 0) {
    for (std::int64_t i = 0; i < n; ++i) f(i, i, std::int64_t{0});
  } else if (sa == 0 && sb == 1) {
    for (std::int64_t i = 0; i < n; ++i) f(i, std::int64_t{0}, i);
  } else {
    for (std::int64_t i = 0; i < n; ++i) f(i, i * sa, i * sb);
  }
}

// out = cond ? a : b, moving raw elements of `Bytes` bytes (a select copies, it converts
// nothing), threaded over coalesced rows.
template <class U>
void where_rows(const View& out, const View& cond, const View& a, const View& b) {
  const Layout<4> l =
      coalesce<4>(out.shape, {&out.strides, &cond.strides, &a.strides, &b.strides});
  const std::int64_t so = l.inner_stride(0), sc = l.inner_stride(1), sa = l.inner_stride(2),
                     sb = l.inner_stride(3);
  U* po = static_cast<U*>(out.data);
  const bool* pc = cond.ptr<const bool>();
  const U* pa = static_cast<const U*>(a.data);
  const U* pb = static_cast<const U*>(b.data);
  for_each_row(l, kGrain, [&](const std::int64_t* off, std::int64_t n, std::int64_t) {
    U* o = po + off[0];
    const bool* c = pc + off[1];
    const U* x = pa + off[2];
    const U* y = pb + off[3];
    if (so == 1 && sc == 1) {
      row_loop(n, sa, sb, [&](std::int64_t i, std::int64_t ia, std::int64_t ib) {
        o[i] = c[i] ? x[ia] : y[ib];
      });
    } else {
      for (std::int64_t i = 0; i < n; ++i) o[i * so] = c[i * sc] ? x[i * sa] : y[i * sb];
    }
  });
}

// out (bool) = a <op> b for float32/float64, the reference's C++ comparison (NaN: only ne is
// true), threaded over coalesced rows.
template <class T, class Cmp>
void compare_rows(const View& out, const View& a, const View& b, Cmp cmp) {
  const Layout<3> l = coalesce<3>(out.shape, {&out.strides, &a.strides, &b.strides});
  const std::int64_t so = l.inner_stride(0), sa = l.inner_stride(1), sb = l.inner_stride(2);
  bool* po = out.ptr<bool>();
  const T* pa = a.ptr<const T>();
  const T* pb = b.ptr<const T>();
  for_each_row(l, kGrain, [&](const std::int64_t* off, std::int64_t n, std::int64_t) {
    bool* o = po + off[0];
    const T* x = pa + off[1];
    const T* y = pb + off[2];
    if (so == 1) {
      row_loop(n, sa, sb, [&](std::int64_t i, std::int64_t ia, std::int64_t ib) {
        o[i] = cmp(x[ia], y[ib]);
      });
    } else {
      for (std::int64_t i = 0; i < n; ++i) o[i * so] = cmp(x[i * sa], y[i * sb]);
    }
  });
}

template <class T>
void compare(BinaryOp op, const View& out, const View& a, const View& b) {
  switch (op) {
    case BinaryOp::Eq: return compare_rows<T>(out, a, b, [](T x, T y) { return x == y; });
    case BinaryOp::Ne: return compare_rows<T>(out, a, b, [](T x, T y) { return x != y; });
    case BinaryOp::Lt: return compare_rows<T>(out, a, b, [](T x, T y) { return x < y; });
    case BinaryOp::Le: return compare_rows<T>(out, a, b, [](T x, T y) { return x <= y; });
    case BinaryOp::Gt: return compare_rows<T>(out, a, b, [](T x, T y) { return x > y; });
    default: return compare_rows<T>(out, a, b, [](T x, T y) { return x >= y; });
  }
}

constexpr bool is_comparison(BinaryOp op) {
  return op == BinaryOp::Eq || op == BinaryOp::Ne || op == BinaryOp::Lt || op == BinaryOp::Le ||
         op == BinaryOp::Gt || op == BinaryOp::Ge;
}

}  // namespace
}  // namespace cpu

using namespace cpu;

// --- memory -------------------------------------------------------------------------------------
void* CpuBackend::allocate(std::size_t nbytes) { return cached_allocate(nbytes); }
void CpuBackend::deallocate(void* ptr, std::size_t nbytes) { cached_deallocate(ptr, nbytes); }
void CpuBackend::copy_from_host(void* dst, const void* host_src, std::size_t nbytes) {
  if (nbytes != 0) std::memcpy(dst, host_src, nbytes);
}
void CpuBackend::copy_to_host(void* host_dst, const void* src, std::size_t nbytes) {
  if (nbytes != 0) std::memcpy(host_dst, src, nbytes);
}

// --- elementwise --------------------------------------------------------------------------------
void CpuBackend::copy_impl(const View& out, const View& in) {
  if (out.numel() == 0) return;
  const Layout<2> l = coalesce<2>(out.shape, {&out.strides, &in.strides});
  if (out.dtype == in.dtype) {
    switch (element_size(out.dtype)) {
      case 1: return copy_raw<1>(l, out.data, in.data);
      case 2: return copy_raw<2>(l, out.data, in.data);
      case 4: return copy_raw<4>(l, out.data, in.data);
      case 8: return copy_raw<8>(l, out.data, in.data);
      default: return copy_raw<16>(l, out.data, in.data);
    }
  }
  // A cast: the reference's cast_value, so both backends convert identically.
  visit_dtype(in.dtype, [&]<typename From>() {
    visit_dtype(out.dtype, [&]<typename To>() {
      const std::int64_t so = l.inner_stride(0), si = l.inner_stride(1);
      for_each_row(l, kGrain, [&](const std::int64_t* off, std::int64_t n, std::int64_t) {
        To* d = out.ptr<To>() + off[0];
        const From* s = in.ptr<From>() + off[1];
        if (so == 1 && si == 1) {
          for (std::int64_t i = 0; i < n; ++i) d[i] = reference::cast_value<To>(s[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i) d[i * so] = reference::cast_value<To>(s[i * si]);
        }
      });
    });
  });
}

void CpuBackend::fill_impl(const View& out, Scalar value) {
  if (out.numel() == 0) return;
  const Layout<1> l = coalesce<1>(out.shape, {&out.strides});
  visit_dtype(out.dtype, [&]<typename T>() {
    const T v = value.to<T>();
    const std::int64_t s = l.inner_stride(0);
    for_each_row(l, kGrain, [&](const std::int64_t* off, std::int64_t n, std::int64_t) {
      T* d = out.ptr<T>() + off[0];
      if (s == 1) std::fill_n(d, n, v);
      else for (std::int64_t i = 0; i < n; ++i) d[i * s] = v;
    });
  });
}

// Backend::unary/binary have checked shapes and dtypes (inputs share one; the output's follows
// the op table), so the fast paths only choose.
void CpuBackend::unary_impl(UnaryOp op, const View& out, const View& in) {
  if (!simd_has_unary(op) || !is_float32_or_64(in.dtype) || out.dtype != in.dtype) {
    return ReferenceBackend::unary_impl(op, out, in);
  }
  if (out.numel() == 0) return;
  if (in.dtype == kFloat32) elementwise<float>(out, in, nullptr, BinaryOp::Add, op);
  else elementwise<double>(out, in, nullptr, BinaryOp::Add, op);
}

void CpuBackend::binary_impl(BinaryOp op, const View& out, const View& a, const View& b) {
  if (is_comparison(op) && is_float32_or_64(a.dtype) && out.dtype == kBool) {
    if (out.numel() == 0) return;
    if (a.dtype == kFloat32) return cpu::compare<float>(op, out, a, b);
    return cpu::compare<double>(op, out, a, b);
  }
  if (!simd_has_binary(op) || !is_float32_or_64(a.dtype) || out.dtype != a.dtype) {
    return ReferenceBackend::binary_impl(op, out, a, b);
  }
  if (out.numel() == 0) return;
  if (a.dtype == kFloat32) elementwise<float>(out, a, &b, op, UnaryOp::Neg);
  else elementwise<double>(out, a, &b, op, UnaryOp::Neg);
}

// Issue 10: where of every dtype up to 8 bytes (complex128 is the reference's), raw elements.
void CpuBackend::where_impl(const View& out, const View& cond, const View& a, const View& b) {
  if (out.numel() == 0) return;
  switch (element_size(out.dtype)) {
    case 1: return where_rows<std::uint8_t>(out, cond, a, b);
    case 2: return where_rows<std::uint16_t>(out, cond, a, b);
    case 4: return where_rows<std::uint32_t>(out, cond, a, b);
    case 8: return where_rows<std::uint64_t>(out, cond, a, b);
    default: return ReferenceBackend::where_impl(out, cond, a, b);
  }
}

// --- linear algebra -----------------------------------------------------------------------------
// --- CPU bfloat16 kernels (issue 9): supports() and the bfloat16 matmul -----------------------
bool CpuBackend::supports(OpId op, DType t) const {
  if (t == kBFloat16 && (op == KernelOp::Matmul || op == KernelOp::Conv1dForward ||
                         op == KernelOp::Conv1dBackwardInput ||
                         op == KernelOp::Conv1dBackwardWeight ||
                         op == KernelOp::Conv1dBackward)) {
    return true;
  }
  return ReferenceBackend::supports(op, t);
}

namespace {
// A float32 twin of a bfloat16 view: contiguous host memory, widened exactly (copy() rounds
// nothing this way); store() rounds it back once.
struct WideView {
  std::vector<float> data;
  View view;
  WideView(Backend& be, const View& v) : view(v) {
    if (v.data == nullptr || v.dtype != kBFloat16) return;
    data.resize(static_cast<std::size_t>(v.numel()));
    view.dtype = kFloat32;
    view.strides = contiguous_strides(v.shape);
    view.data = data.data();
    if (!data.empty()) be.copy(view, v);
  }
  void store(Backend& be, const View& original) const {
    if (original.data != nullptr && original.dtype == kBFloat16 && !data.empty())
      be.copy(original, view);
  }
};
}  // namespace

void CpuBackend::conv1d_bf16_fallback(int pass, const View& v0, const View& v1, const View& v2,
                                      const View& v3, const Conv1dParams& p) {
  const WideView w0(*this, v0), w1(*this, v1), w2(*this, v2), w3(*this, v3);
  if (pass == 0) {
    conv1d_forward_impl(w0.view, w1.view, w2.view, w3.view, p);
  } else if (pass == 1) {
    conv1d_backward_input_impl(w0.view, w1.view, w2.view, p);
  } else {
    conv1d_backward_weight_impl(w0.view, w1.view, w2.view, w3.view, p);
    w1.store(*this, v1);
  }
  w0.store(*this, v0);
}

void CpuBackend::matmul_impl(const View& out, const View& a, const View& b) {
  if (out.dtype == kBFloat16) {  // Backend::matmul has checked that a and b share it
    const bool ranks = out.shape.size() == 3 && a.shape.size() == 3 && b.shape.size() == 3;
    const bool fast = ranks && a.shape[0] == out.shape[0] && b.shape[0] == out.shape[0] &&
                      a.shape[1] == out.shape[1] && b.shape[2] == out.shape[2] &&
                      a.shape[2] == b.shape[1] && !(out.shape[0] > 1 && out.strides[0] == 0);
    if (!fast) {  // the float32 path on copies: it computes, or raises the shared error
      const WideView wo(*this, out), wa(*this, a), wb(*this, b);
      matmul_impl(wo.view, wa.view, wb.view);
      wo.store(*this, out);
      return;
    }
    const std::int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
    using U = std::uint16_t;
    batched_gemm_bf16(batch, m, n, k, {a.ptr<const U>(), a.strides[1], a.strides[2]}, a.strides[0],
                      {b.ptr<const U>(), b.strides[1], b.strides[2]}, b.strides[0],
                      {out.ptr<U>(), out.strides[1], out.strides[2]}, out.strides[0]);
    return;
  }
  const bool ranks = out.shape.size() == 3 && a.shape.size() == 3 && b.shape.size() == 3;
  const bool fast = ranks && is_float32_or_64(out.dtype) && a.dtype == out.dtype &&
                    b.dtype == out.dtype && a.shape[0] == out.shape[0] &&
                    b.shape[0] == out.shape[0] && a.shape[1] == out.shape[1] &&
                    b.shape[2] == out.shape[2] && a.shape[2] == b.shape[1] &&
                    !(out.shape[0] > 1 && out.strides[0] == 0);
  if (!fast) return ReferenceBackend::matmul_impl(out, a, b);  // other dtypes, and the errors
  const std::int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
  visit_wide_dtype(out.dtype, [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      batched_gemm<T>(batch, m, n, k, {a.ptr<const T>(), a.strides[1], a.strides[2]}, a.strides[0],
                      {b.ptr<const T>(), b.strides[1], b.strides[2]}, b.strides[0],
                      {out.ptr<T>(), out.strides[1], out.strides[2]}, out.strides[0]);
    }
  });
}

// --- random -------------------------------------------------------------------------------------
// Philox is counter-based: element i's value depends on i alone (backends/philox.hpp), so the
// fill splits over threads and still matches the reference bit for bit. Specs the reference
// would reject go to it for the error.
void CpuBackend::random_impl(const View& out, const RandomSpec& spec) {
  using K = RandomSpec::Kind;
  const DType t = out.dtype;
  const bool valid = spec.kind == K::Integer ? (is_integral(t, false) || is_floating(t)) && spec.a < spec.b
                   : spec.kind == K::Uniform ? is_inexact(t) && spec.a <= spec.b
                                             : is_inexact(t) && spec.b >= 0.0;
  if (!valid) return ReferenceBackend::random_impl(out, spec);
  if (out.numel() == 0) return;
  const Layout<1> l = coalesce<1>(out.shape, {&out.strides});
  visit_wide_dtype(t, [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      const std::int64_t s = l.inner_stride(0);
      for_each_row(l, kMathGrain, [&](const std::int64_t* off, std::int64_t n, std::int64_t first) {
        T* d = out.ptr<T>() + off[0];
        // Issue 10: contiguous uniform float32/float64 rows (Dropout's masks) draw 16 Philox
        // blocks at a time in the SIMD table's kernel, bit for bit the same values.
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
          if (spec.kind == K::Uniform && s == 1) {
            simd_kernels().get<T>().uniform(spec, spec.offset + static_cast<std::uint64_t>(first), n, d);
            return;
          }
        }
        for (std::int64_t i = 0; i < n; ++i)
          d[i * s] = random_value<T>(spec, static_cast<std::uint64_t>(first + i));
      });
    }
  });
}

// --- SIMD dispatch ------------------------------------------------------------------------------
namespace cpu {
namespace {
std::atomic<const SimdKernels*> g_forced_kernels{nullptr};

const SimdKernels& detected_kernels() {
  // xsimd::dispatch walks SimdArchs best first and calls the lambda with the first
  // architecture the running CPU supports; the table it returns is kept for the process.
  static const SimdKernels table =
      xsimd::dispatch<SimdArchs>([](auto arch) { return kernels_for<decltype(arch)>(); })();
  return table;
}
}  // namespace

const SimdKernels& simd_kernels() {
  const SimdKernels* forced = g_forced_kernels.load(std::memory_order_acquire);
  return forced ? *forced : detected_kernels();
}

bool force_simd_arch(const char* name) {
  static constexpr std::array<SimdKernels, 3> tables{
      kernels_for<xsimd::avx512bw>(), kernels_for<xsimd::fma3<xsimd::avx2>>(),
      kernels_for<xsimd::sse2>()};
  static constexpr std::array<unsigned, 3> versions{
      xsimd::avx512bw::version(), xsimd::fma3<xsimd::avx2>::version(), xsimd::sse2::version()};
  const std::string_view wanted = name ? name : "";
  if (wanted.empty()) {
    g_forced_kernels.store(nullptr, std::memory_order_release);
    return true;
  }
  const unsigned best = xsimd::available_architectures().best;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    if (wanted != tables[i].arch_name) continue;
    if (versions[i] > best) return false;  // the CPU lacks it
    g_forced_kernels.store(&tables[i], std::memory_order_release);
    return true;
  }
  return false;
}
}  // namespace cpu

Backend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

void set_num_threads(int n) { cpu::set_num_threads(n); }
int get_num_threads() { return cpu::num_threads(); }

}  // namespace reel::backends
