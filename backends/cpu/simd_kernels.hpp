#pragma once
// SIMD kernels of the CPU backend on contiguous float32/float64 rows, written once with xsimd
// 8.1 and compiled once per architecture.
//
// How the runtime dispatch works (xsimd 8.1): each kernel is a template on the architecture
// tag `Arch`. simd_kernels.avx512.cpp, simd_kernels.avx2.cpp and simd_kernels.sse2.cpp include
// this header and explicitly instantiate every kernel for their architecture; each is compiled
// with that architecture's flags (CMakeLists.txt gives *.avx512.cpp and *.avx2.cpp theirs), so
// the instructions of one never leak into another. Every other file is held back from
// instantiating them by the `extern template` declarations at the end, and simd_kernels()
// (defined in cpu_backend.cpp) picks, once, through xsimd::dispatch, the table of the best
// architecture the running CPU supports. One binary thus uses AVX-512 where present and still
// runs on plain x86-64.
//
// Rule for code in this header: everything an arch file instantiates must depend on Arch (no
// plain inline helpers), or two architectures' copies of one inline function could be merged
// by the linker and an AVX-512 instruction reach an SSE2-only machine. Hence the tails below
// go through a small zero-padded batch, not a scalar loop.
#include <cstddef>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <immintrin.h>

#include <xsimd/xsimd.hpp>

#include "backends/backend.hpp"

namespace reel::backends::cpu {

// The op subsets that have SIMD kernels; the backend sends everything else elsewhere.
constexpr bool simd_has_binary(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: case BinaryOp::Sub: case BinaryOp::Mul: case BinaryOp::Div:
    case BinaryOp::Maximum: case BinaryOp::Minimum: case BinaryOp::ReluBackward:
    case BinaryOp::SiluBackward: case BinaryOp::SigmoidBackward: case BinaryOp::TanhBackward:
    case BinaryOp::GeluBackward: case BinaryOp::Pow:
      return true;
    default: return false;
  }
}
constexpr bool simd_has_unary(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: case UnaryOp::Exp: case UnaryOp::Log: case UnaryOp::Sqrt:
    case UnaryOp::Tanh: case UnaryOp::Sigmoid: case UnaryOp::Relu: case UnaryOp::Silu:
    case UnaryOp::Abs: case UnaryOp::Reciprocal: case UnaryOp::Conj: case UnaryOp::Real:
    case UnaryOp::Sin: case UnaryOp::Cos: case UnaryOp::Gelu: case UnaryOp::Erf: case UnaryOp::Sign:
      return true;
    default: return false;
  }
}

// out[i] = op(a[i * a_step], b[i * b_step]) for i < n; a_step, b_step in {0, 1} (0: a scalar
// broadcast). out may be exactly a or b (in place).
template <class Arch, class T>
void binary_kernel(BinaryOp op, std::int64_t n, const T* a, std::int64_t a_step, const T* b,
                   std::int64_t b_step, T* out);
// out[i] = op(in[i]) for i < n; out may be exactly in.
template <class Arch, class T>
void unary_kernel(UnaryOp op, std::int64_t n, const T* in, T* out);
// Sum of in[0..n), with several vector accumulators (a pairwise-like order: error grows with
// n / lanes rather than n).
template <class Arch, class T>
T sum_kernel(std::int64_t n, const T* in);
// x[0] y[0] + ... + x[n-1] y[n-1] (contiguous x, y), accumulated like sum_kernel.
template <class Arch, class T>
T dot_kernel(std::int64_t n, const T* x, const T* y);
// y[i] += alpha * x[i] for i < n (contiguous x, y): the BLAS axpy.
template <class Arch, class T>
void axpy_kernel(std::int64_t n, T alpha, const T* x, T* y);
// One row of a direct convolution over the positions where every tap reads inside its row:
// out[i] = init + w[0] * src[0][i] + w[1] * src[1][i] + ... for i < n, each tap one fma in the
// order k = 0, 1, ... (the order and rounding of `init` followed by one axpy per tap), all taps
// of a vector of outputs in registers: out is written once, never read. stream = true writes
// it with non-temporal stores (the output is larger than the caches and not read back soon:
// they skip reading each line before writing it, a third of the memory traffic) and fences.
template <class Arch, class T>
void taps_kernel(std::int64_t n, std::int64_t taps, const T* const* src, const T* w, T init,
                 T* out, bool stream);
// The gemm micro-kernel: C[mr x nr] (+)= A_panel * B_panel, where A_panel is kc columns of mr
// packed values and B_panel kc rows of nr packed values (both 64-byte aligned); C rows are ldc
// apart with unit column stride. accumulate = false overwrites C.
template <class Arch, class T>
void gemm_kernel(std::int64_t kc, const T* a_panel, const T* b_panel, T* c, std::int64_t ldc,
                 bool accumulate);

// --- fused optimizer updates (issue 10) --- The scalars of one update, cast to T the way the
// reference casts them (backends/reference/optim.cpp), and its options. Plain data: no member
// functions (see the rule above).
template <class T>
struct AdamScalars {
  T wd, decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
  bool maximize, decoupled, has_wd, amsgrad, complex_wd;
};
template <class T>
struct SgdScalars {
  T wd, momentum, one_minus_dampening, neg_lr;
  bool maximize, has_wd, has_momentum, first_step, nesterov, complex_param;
};
// One Adam/AdamW (or SGD) update of n contiguous elements, the reference's per-element
// arithmetic in the same order (same FMAs), so results agree bit for bit where the architecture
// has FMA (xsimd's SSE2 fma is a multiply then an add: an ulp apart). vmax / buf may be null when
// the options don't use them.
template <class Arch, class T>
void adam_kernel(std::int64_t n, const AdamScalars<T>& s, T* param, const T* grad, T* m, T* v,
                 T* vmax);
template <class Arch, class T>
void sgd_kernel(std::int64_t n, const SgdScalars<T>& s, T* param, const T* grad, T* buf);
// RMSprop (square_avg; grad_avg when centered, buf with momentum, else null) and Adagrad (sum),
// as adam_kernel: the reference's per-element arithmetic and FMAs (issue 10).
template <class T>
struct RmspropScalars {
  T wd, alpha, one_minus_alpha, eps, momentum, neg_lr;
  bool maximize, has_wd, centered, has_momentum, complex_param;
};
template <class T>
struct AdagradScalars {
  T wd, eps, neg_clr;
  bool maximize, has_wd, complex_param;
};
template <class Arch, class T>
void rmsprop_kernel(std::int64_t n, const RmspropScalars<T>& s, T* param, const T* grad,
                    T* square_avg, T* grad_avg, T* buf);
template <class Arch, class T>
void adagrad_kernel(std::int64_t n, const AdagradScalars<T>& s, T* param, const T* grad, T* sum);
// --- max/min reductions (issue 10) --- The maximum (max = true) or minimum of in[0..n), n >= 1,
// with the reference's NaN rule: a NaN anywhere gives NaN. Exact (no rounding), so equal to the
// reference up to the sign of a zero tie.
template <class Arch, class T>
T extreme_kernel(bool max, std::int64_t n, const T* in);
// --- uniform random fill (issue 10: Dropout's masks) --- out[i] = the Uniform draw of counter
// `counter0 + i` under spec (spec.kind == Uniform), bit for bit backends/philox.hpp's
// random_real: Philox4x32-10 on 16 counters at a time (loops the compiler vectorises with the
// arch's flags), then the reference's scalar conversion.
template <class Arch, class T>
void uniform_kernel(const RandomSpec& spec, std::uint64_t counter0, std::int64_t n, T* out);
// --- normalization rows (issue 10: BatchNorm1d and the other norms, backends/cpu/norm.cpp) ---
// n contiguous elements of the data (T) against per-element double arrays (the statistics and
// affine of each element's channel, repeated along it): the arithmetic in double, as the
// reference's norm loops (backends/reference/norm.cpp), the products kept apart from the adds
// (no fma), so y and grad_in are the reference's bit for bit given the same statistics.
//   sums:       acc1[i] += x[i] - s[i];  acc2[i] += (x[i] - s[i])^2
//   grad_sums:  acc1[i] += gy[i];        acc2[i] += gy[i] * (x[i] - s[i])
//   apply:      y[i] = ((x[i] - s[i]) * r[i]) * w[i] + b[i]
//   grad_apply: dxhat = gy[i] * w[i], xhat = (x[i] - s[i]) * r[i];
//               gx[i] = r[i] * ((dxhat - md[i]) - xhat * mdx[i])   (stats: batch statistics)
//               gx[i] = r[i] * dxhat                                 (!stats: given statistics)
template <class Arch, class T>
void norm_sums_kernel(std::int64_t n, const T* x, const double* s, double* acc1, double* acc2);
template <class Arch, class T>
void norm_grad_sums_kernel(std::int64_t n, const T* gy, const T* x, const double* s,
                           double* acc1, double* acc2);
template <class Arch, class T>
void norm_apply_kernel(std::int64_t n, const T* x, const double* s, const double* r,
                       const double* w, const double* b, T* y);
template <class Arch, class T>
void norm_grad_apply_kernel(std::int64_t n, bool stats, const T* gy, const T* x, const double* s,
                            const double* r, const double* w, const double* md,
                            const double* mdx, T* gx);

// --- cross-entropy rows (issue 10, backends/cpu/loss.cpp) --- exp in double over T data, as
// the reference's loops (backends/reference/loss.cpp) compute it for float32 and float64:
//   exp_sum:   returns sum over i < n of exp(x[i] - shift)
//   exp_acc:   z[i] += exp(x[i] - shift[i])
//   exp_scale: out[i] = T(g[i * gs] * exp(x[i] - shift[i * ss]))      (ss, gs: 0 or 1)
// xsimd's exp, not glibc's: results agree with the reference to a few ulp of double (the sums'
// order differs too), so float32 outputs are the reference's almost always bit for bit.
template <class Arch, class T>
double exp_sum_kernel(std::int64_t n, const T* x, double shift);
template <class Arch, class T>
void exp_acc_kernel(std::int64_t n, const T* x, const double* shift, double* z);
template <class Arch, class T>
void exp_scale_kernel(std::int64_t n, const T* x, const double* shift, std::int64_t ss,
                      const double* g, std::int64_t gs, T* out);

// Register blocking of the micro-kernel: nr = two vectors, mr rows. With 32 registers
// (AVX-512) 12 x 2 accumulators fit beside the two B vectors and an A broadcast; with 16 (AVX2,
// SSE2) 6 x 2 do (the classic Haswell 6x16 kernel).
template <class Arch, class T>
constexpr int gemm_mr() { return Arch::alignment() == 64 ? 12 : 6; }
template <class Arch, class T>
constexpr int gemm_nr() { return 2 * static_cast<int>(Arch::alignment() / sizeof(T)); }

template <class T>
struct TypedKernels {
  void (*binary)(BinaryOp, std::int64_t, const T*, std::int64_t, const T*, std::int64_t, T*);
  void (*unary)(UnaryOp, std::int64_t, const T*, T*);
  T (*sum)(std::int64_t, const T*);
  T (*dot)(std::int64_t, const T*, const T*);
  void (*axpy)(std::int64_t, T, const T*, T*);
  void (*gemm)(std::int64_t, const T*, const T*, T*, std::int64_t, bool);
  void (*taps)(std::int64_t, std::int64_t, const T* const*, const T*, T, T*, bool);
  int mr, nr;
  void (*adam)(std::int64_t, const AdamScalars<T>&, T*, const T*, T*, T*, T*);
  void (*sgd)(std::int64_t, const SgdScalars<T>&, T*, const T*, T*);
  void (*rmsprop)(std::int64_t, const RmspropScalars<T>&, T*, const T*, T*, T*, T*);
  void (*adagrad)(std::int64_t, const AdagradScalars<T>&, T*, const T*, T*);
  T (*extreme)(bool, std::int64_t, const T*);
  void (*uniform)(const RandomSpec&, std::uint64_t, std::int64_t, T*);
  void (*norm_sums)(std::int64_t, const T*, const double*, double*, double*);
  void (*norm_grad_sums)(std::int64_t, const T*, const T*, const double*, double*, double*);
  void (*norm_apply)(std::int64_t, const T*, const double*, const double*, const double*,
                     const double*, T*);
  void (*norm_grad_apply)(std::int64_t, bool, const T*, const T*, const double*, const double*,
                          const double*, const double*, const double*, T*);
  double (*exp_sum)(std::int64_t, const T*, double);
  void (*exp_acc)(std::int64_t, const T*, const double*, double*);
  void (*exp_scale)(std::int64_t, const T*, const double*, std::int64_t, const double*,
                    std::int64_t, T*);
};

struct SimdKernels {
  const char* arch_name;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  template <class T> const TypedKernels<T>& get() const {
    if constexpr (std::is_same_v<T, float>) return f32;
    else return f64;
  }
};

template <class Arch, class T>
constexpr TypedKernels<T> typed_kernels_for() {
  return {&binary_kernel<Arch, T>, &unary_kernel<Arch, T>, &sum_kernel<Arch, T>,
          &dot_kernel<Arch, T>,    &axpy_kernel<Arch, T>,  &gemm_kernel<Arch, T>,
          &taps_kernel<Arch, T>,   gemm_mr<Arch, T>(),     gemm_nr<Arch, T>(),
          &adam_kernel<Arch, T>,   &sgd_kernel<Arch, T>,
          &rmsprop_kernel<Arch, T>, &adagrad_kernel<Arch, T>, &extreme_kernel<Arch, T>,
          &uniform_kernel<Arch, T>, &norm_sums_kernel<Arch, T>,
          &norm_grad_sums_kernel<Arch, T>, &norm_apply_kernel<Arch, T>,
          &norm_grad_apply_kernel<Arch, T>, &exp_sum_kernel<Arch, T>, &exp_acc_kernel<Arch, T>,
          &exp_scale_kernel<Arch, T>};
}
template <class Arch>
constexpr SimdKernels kernels_for() {
  return {Arch::name(), typed_kernels_for<Arch, float>(), typed_kernels_for<Arch, double>()};
}

// The architectures reel compiles kernels for, best first (xsimd::dispatch takes the first one
// the CPU supports).
using SimdArchs = xsimd::arch_list<xsimd::avx512bw, xsimd::fma3<xsimd::avx2>, xsimd::sse2>;

// The table for the running CPU (chosen once), and a testing hook: force one architecture by
// xsimd's name ("avx512bw", "fma3+avx2", "sse2"), returning false when the CPU lacks it; ""
// restores the automatic choice. Defined in cpu_backend.cpp.
const SimdKernels& simd_kernels();
bool force_simd_arch(const char* name);

// --- definitions (instantiated only in the arch files) ----------------------------------------
namespace simd_detail {

// A value the compiler must take as computed: GCC contracts a product feeding an add — even
// the addend of an explicit fma, fma(a, b, c * d) -> fma(c, d, a * b) — under the default
// -ffp-contract=fast, which would round differently from the reference's loop (compiled
// without FMA). An empty asm hides the product's origin and costs nothing.
template <class B>
B rounded(B x) {
  typename B::register_type r = x;
  asm("" : "+x"(r));
  return B(r);
}
// a * b + c rounded once. xsimd 8.1 has no AVX-512 fma kernel (its generic fallback is a
// multiply and an add, which the compiler may or may not contract), so AVX-512 gets the
// intrinsic; FMA3+AVX2 gets vfmadd from xsimd; SSE2 has no FMA (a multiply, then an add).
// Every multiply-accumulate of these kernels goes through it: whether GCC contracted
// xsimd::fma's multiply and add on AVX-512 depended on the build (the Release build did, the
// sanitizer build did not), and kernels with explicit FMA intrinsics (the implicit conv1d)
// must round as these do for streaming's bitwise equality (docs/training.md).
template <class B>
B fused(B a, B b, B c) {
  using A = typename B::arch_type;
  if constexpr (std::is_base_of_v<xsimd::avx512f, A>) {
    if constexpr (std::is_same_v<typename B::value_type, float>) return B(_mm512_fmadd_ps(a, b, c));
    else return B(_mm512_fmadd_pd(a, b, c));
  } else {
    return xsimd::fma(a, b, c);
  }
}
// Applies f batch by batch; the last partial batch goes through zero-padded buffers (so every
// element of a row takes the same code path and gets the same rounding).
template <class Arch, class T, class F>
void map_binary(std::int64_t n, const T* a, std::int64_t sa, const T* b, std::int64_t sb, T* out,
                F f) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  const std::int64_t full = n - n % W;
  std::int64_t i = 0;
  if (sa == 1 && sb == 1) {
    for (; i < full; i += W) f(B::load_unaligned(a + i), B::load_unaligned(b + i)).store_unaligned(out + i);
  } else if (sb == 1) {
    const B va(*a);
    for (; i < full; i += W) f(va, B::load_unaligned(b + i)).store_unaligned(out + i);
  } else if (sa == 1) {
    const B vb(*b);
    for (; i < full; i += W) f(B::load_unaligned(a + i), vb).store_unaligned(out + i);
  } else {
    const B r = f(B(*a), B(*b));
    for (; i < full; i += W) r.store_unaligned(out + i);
  }
  if (i < n) {
    alignas(64) T ta[W] = {}, tb[W] = {}, to[W];
    for (std::int64_t j = 0; i + j < n; ++j) ta[j] = a[(i + j) * sa], tb[j] = b[(i + j) * sb];
    f(B::load_aligned(ta), B::load_aligned(tb)).store_aligned(to);
    for (std::int64_t j = 0; i + j < n; ++j) out[i + j] = to[j];
  }
}

template <class Arch, class T, class F>
void map_unary(std::int64_t n, const T* in, T* out, F f) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  const std::int64_t full = n - n % W;
  std::int64_t i = 0;
  for (; i < full; i += W) f(B::load_unaligned(in + i)).store_unaligned(out + i);
  if (i < n) {
    alignas(64) T t[W] = {};
    for (std::int64_t j = 0; i + j < n; ++j) t[j] = in[i + j];
    f(B::load_aligned(t)).store_aligned(t);
    for (std::int64_t j = 0; i + j < n; ++j) out[i + j] = t[j];
  }
}

// sigmoid(x) = 1 / (1 + e^-x): saturates to 0 (e^-x = inf) and 1 without NaN.
template <class B>
B sigmoid(B x) { return B(1) / (B(1) + xsimd::exp(-x)); }
// erf for the exact GELU. PyTorch (and the reference, element_math.hpp) write Phi(x) as
// (1 + erf(x / sqrt 2)) / 2, which cancels for x < -2: there an ulp of erf is a large relative
// error of the result, so two good erf implementations (glibc's, xsimd's) give visibly different
// GELUs in the tail, and float16/bfloat16 results (rounded from these) lose their match with
// PyTorch. float32 therefore takes erf in double, rounded once to float: the correctly rounded
// erf, which is what glibc's erff (the reference) and Sleef's (PyTorch) return almost always.
// float64 takes xsimd's erf (its tail differences are far below float64's tolerances).
template <class B>
B erf_accurate(B x) {
  using T = typename B::value_type;
  if constexpr (std::is_same_v<T, float>) {
    using A = typename B::arch_type;
    using D = xsimd::batch<double, A>;
    constexpr std::size_t W = B::size, H = D::size;
    alignas(64) float f[W];
    alignas(64) double d[W];
    x.store_aligned(f);
    for (std::size_t i = 0; i < W; ++i) d[i] = f[i];
    for (std::size_t i = 0; i < W; i += H) xsimd::erf(D::load_aligned(d + i)).store_aligned(d + i);
    for (std::size_t i = 0; i < W; ++i) f[i] = static_cast<float>(d[i]);
    return B::load_aligned(f);
  } else {
    return xsimd::erf(x);
  }
}
// The standard normal's CDF and density, in element_math.hpp's normal_cdf / normal_pdf order
// of operations (exact GELU and its derivative).
template <class B>
B normal_cdf(B x) {
  using T = typename B::value_type;
  return B(T(0.5)) * (B(T(1)) + erf_accurate(x * B(T(0.70710678118654752440))));
}
template <class B>
B normal_pdf(B x) {
  using T = typename B::value_type;
  return B(T(0.39894228040143267794)) * xsimd::exp(B(T(-0.5)) * x * x);
}

// pow(a, b). A scalar exponent PyTorch's pow_tensor_scalar special-cases (2, 3, -1, 0.5) is
// products, a division or a square root; 2 and -1 are correctly rounded, as std::pow, so equal
// to it; 3 is within an ulp or two. 0.5 keeps std::pow's answers where sqrt differs (-0 -> +0,
// -inf -> +inf). Anything else is std::pow element by element (xsimd's exp(b log a) loses
// |b log a| ulps), which is the reference's own arithmetic.
template <class Arch, class T>
void pow_kernel(std::int64_t n, const T* a, std::int64_t sa, const T* b, std::int64_t sb, T* out) {
  using B = xsimd::batch<T, Arch>;
  if (sb == 0 && sa == 1) {
    const T e = *b;
    auto run = [&](auto f) { map_unary<Arch>(n, a, out, f); };
    if (e == T(2)) return run([](B x) { return x * x; });
    if (e == T(3)) return run([](B x) { return x * x * x; });
    if (e == T(-1)) return run([](B x) { return B(T(1)) / x; });
    if (e == T(0.5)) {
      const B inf(std::numeric_limits<T>::infinity());
      return run([inf](B x) {
        return xsimd::select(x == B(T(0)), B(T(0)), xsimd::select(x == -inf, inf, xsimd::sqrt(x)));
      });
    }
  }
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::pow(a[i * sa], b[i * sb]);
}

}  // namespace simd_detail

template <class Arch, class T>
void binary_kernel(BinaryOp op, std::int64_t n, const T* a, std::int64_t a_step, const T* b,
                   std::int64_t b_step, T* out) {
  using B = xsimd::batch<T, Arch>;
  auto run = [&](auto f) { simd_detail::map_binary<Arch>(n, a, a_step, b, b_step, out, f); };
  switch (op) {
    case BinaryOp::Add: return run([](B x, B y) { return x + y; });
    case BinaryOp::Sub: return run([](B x, B y) { return x - y; });
    case BinaryOp::Mul: return run([](B x, B y) { return x * y; });
    case BinaryOp::Div: return run([](B x, B y) { return x / y; });
    // torch.maximum / minimum propagate NaN from either side; the max/min instructions don't.
    case BinaryOp::Maximum:
      return run([](B x, B y) { return xsimd::select((x > y) | xsimd::isnan(x), x, y); });
    case BinaryOp::Minimum:
      return run([](B x, B y) { return xsimd::select((x < y) | xsimd::isnan(x), x, y); });
    // b > 0 ? a : 0 (a select: a NaN gradient where the input was <= 0 becomes 0, as in the
    // reference and PyTorch's threshold_backward).
    case BinaryOp::ReluBackward:
      return run([](B x, B y) { return xsimd::select(y > B(0), x, B(0)); });
    case BinaryOp::SiluBackward:
      return run([](B x, B y) {
        B s = simd_detail::sigmoid(y);
        return x * s * (B(1) + y * (B(1) - s));
      });
    case BinaryOp::SigmoidBackward: return run([](B x, B y) { return x * (y * (B(1) - y)); });
    case BinaryOp::TanhBackward: return run([](B x, B y) { return x * (B(1) - y * y); });
    // d/dx [x Phi(x)] = Phi(x) + x phi(x), as the reference.
    case BinaryOp::GeluBackward:
      return run([](B g, B x) {
        return g * (simd_detail::normal_cdf(x) + x * simd_detail::normal_pdf(x));
      });
    case BinaryOp::Pow: return simd_detail::pow_kernel<Arch>(n, a, a_step, b, b_step, out);
    default: return;  // the backend only sends simd_has_binary ops
  }
}

template <class Arch, class T>
void unary_kernel(UnaryOp op, std::int64_t n, const T* in, T* out) {
  using B = xsimd::batch<T, Arch>;
  auto run = [&](auto f) { simd_detail::map_unary<Arch>(n, in, out, f); };
  switch (op) {
    case UnaryOp::Neg: return run([](B x) { return -x; });
    case UnaryOp::Exp: return run([](B x) { return xsimd::exp(x); });
    case UnaryOp::Log: return run([](B x) { return xsimd::log(x); });
    case UnaryOp::Sqrt: return run([](B x) { return xsimd::sqrt(x); });
    case UnaryOp::Tanh: return run([](B x) { return xsimd::tanh(x); });
    case UnaryOp::Sigmoid: return run([](B x) { return simd_detail::sigmoid(x); });
    // x < 0 ? 0 : x: NaN and -0.0 pass through (PyTorch's clamp_min(x, 0)).
    case UnaryOp::Relu:
      return run([](B x) { return xsimd::select(x < B(0), B(0), x); });
    // silu(x) = x * sigmoid(x) = x / (1 + e^-x)
    case UnaryOp::Silu: return run([](B x) { return x / (B(1) + xsimd::exp(-x)); });
    case UnaryOp::Abs: return run([](B x) { return xsimd::abs(x); });
    // A true division: xsimd::reciprocal may use the approximate rcp instruction.
    case UnaryOp::Reciprocal: return run([](B x) { return B(1) / x; });
    case UnaryOp::Conj:
    case UnaryOp::Real: return run([](B x) { return x; });
    case UnaryOp::Sin: return run([](B x) { return xsimd::sin(x); });
    case UnaryOp::Cos: return run([](B x) { return xsimd::cos(x); });
    case UnaryOp::Erf: return run([](B x) { return simd_detail::erf_accurate(x); });
    // Exact GELU: x Phi(x), as the reference (nn.GELU's default approximate='none').
    case UnaryOp::Gelu: return run([](B x) { return x * simd_detail::normal_cdf(x); });
    // 1, -1; 0 for either zero (+0, as the reference's (x > 0) - (x < 0)); NaN stays NaN.
    case UnaryOp::Sign:
      return run([](B x) {
        return xsimd::select(x > B(0), B(1),
                             xsimd::select(x < B(0), B(-1), xsimd::select(xsimd::isnan(x), x, B(0))));
      });
    default: return;
  }
}

template <class Arch, class T>
T sum_kernel(std::int64_t n, const T* in) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  // Four accumulators hide the add latency and split the rounding error four ways.
  B acc0(T(0)), acc1(T(0)), acc2(T(0)), acc3(T(0));
  std::int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    acc0 += B::load_unaligned(in + i);
    acc1 += B::load_unaligned(in + i + W);
    acc2 += B::load_unaligned(in + i + 2 * W);
    acc3 += B::load_unaligned(in + i + 3 * W);
  }
  for (; i + W <= n; i += W) acc0 += B::load_unaligned(in + i);
  if (i < n) {
    alignas(64) T t[W] = {};
    for (std::int64_t j = 0; i + j < n; ++j) t[j] = in[i + j];
    acc1 += B::load_aligned(t);
  }
  return xsimd::hadd((acc0 + acc1) + (acc2 + acc3));
}

template <class Arch, class T>
T dot_kernel(std::int64_t n, const T* x, const T* y) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  B acc0(T(0)), acc1(T(0)), acc2(T(0)), acc3(T(0));
  std::int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    acc0 = simd_detail::fused(B::load_unaligned(x + i), B::load_unaligned(y + i), acc0);
    acc1 = simd_detail::fused(B::load_unaligned(x + i + W), B::load_unaligned(y + i + W), acc1);
    acc2 = simd_detail::fused(B::load_unaligned(x + i + 2 * W), B::load_unaligned(y + i + 2 * W), acc2);
    acc3 = simd_detail::fused(B::load_unaligned(x + i + 3 * W), B::load_unaligned(y + i + 3 * W), acc3);
  }
  for (; i + W <= n; i += W) acc0 = simd_detail::fused(B::load_unaligned(x + i), B::load_unaligned(y + i), acc0);
  if (i < n) {
    alignas(64) T tx[W] = {}, ty[W] = {};
    for (std::int64_t j = 0; i + j < n; ++j) tx[j] = x[i + j], ty[j] = y[i + j];
    acc1 = simd_detail::fused(B::load_aligned(tx), B::load_aligned(ty), acc1);
  }
  return xsimd::hadd((acc0 + acc1) + (acc2 + acc3));
}

template <class Arch, class T>
void axpy_kernel(std::int64_t n, T alpha, const T* x, T* y) {
  using B = xsimd::batch<T, Arch>;
  const B a(alpha);
  simd_detail::map_binary<Arch>(n, x, 1, y, 1, y, [a](B xv, B yv) { return simd_detail::fused(a, xv, yv); });
}

// The register-blocked outer product of BLIS (Van Zee & van de Geijn, "BLIS: A Framework for
// Rapidly Instantiating BLAS Functionality", 2015): per k, one broadcast of A[i][k] times two
// vectors of B[k][0..nr) accumulates into 2 * mr registers that never leave the core.
template <class Arch, class T>
void gemm_kernel(std::int64_t kc, const T* a_panel, const T* b_panel, T* c, std::int64_t ldc,
                 bool accumulate) {
  using B = xsimd::batch<T, Arch>;
  constexpr int MR = gemm_mr<Arch, T>();
  constexpr std::size_t W = B::size;
  B c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = B(T(0));
  for (std::int64_t k = 0; k < kc; ++k) {
    const B b0 = B::load_aligned(b_panel), b1 = B::load_aligned(b_panel + W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const B ai(a_panel[i]);
      c0[i] = simd_detail::fused(ai, b0, c0[i]);
      c1[i] = simd_detail::fused(ai, b1, c1[i]);
    }
    a_panel += MR;
    b_panel += 2 * W;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    T* row = c + i * ldc;
    if (accumulate) {
      c0[i] += B::load_unaligned(row);
      c1[i] += B::load_unaligned(row + W);
    }
    c0[i].store_unaligned(row);
    c1[i].store_unaligned(row + W);
  }
}

namespace simd_detail {

// A non-temporal store of one vector to `p`, aligned to the vector's size.
template <class Arch, class T>
void store_stream(T* p, xsimd::batch<T, Arch> v) {
  if constexpr (std::is_same_v<Arch, xsimd::avx512bw>) {
    if constexpr (std::is_same_v<T, float>) _mm512_stream_ps(p, v);
    else _mm512_stream_pd(p, v);
  } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) {
    if constexpr (std::is_same_v<T, float>) _mm256_stream_ps(p, v);
    else _mm256_stream_pd(p, v);
  } else {
    if constexpr (std::is_same_v<T, float>) _mm_stream_ps(p, v);
    else _mm_stream_pd(p, v);
  }
}

}  // namespace simd_detail

template <class Arch, class T>
void taps_kernel(std::int64_t n, std::int64_t taps, const T* const* src, const T* w, T init,
                 T* out, bool stream) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  // Outputs [i, i + count), count <= W, through zero-padded buffers (head and tail).
  auto partial = [&](std::int64_t i, std::int64_t count) {
    alignas(64) T t[W] = {}, acc[W];
    B a(init);
    for (std::int64_t k = 0; k < taps; ++k) {
      for (std::int64_t j = 0; j < count; ++j) t[j] = src[k][i + j];
      a = simd_detail::fused(B(w[k]), B::load_aligned(t), a);
    }
    a.store_aligned(acc);
    for (std::int64_t j = 0; j < count; ++j) out[i + j] = acc[j];
  };
  std::int64_t i = 0;
  if (stream) {  // non-temporal stores need aligned addresses: the head goes the partial way
    const auto misaligned = reinterpret_cast<std::uintptr_t>(out) % (W * sizeof(T));
    if (misaligned % sizeof(T) != 0) {
      stream = false;
    } else if (misaligned != 0) {
      i = std::min<std::int64_t>(n, W - static_cast<std::int64_t>(misaligned / sizeof(T)));
      partial(0, i);
    }
  }
  const std::int64_t full = i + (n - i) / W * W;
  for (; i < full; i += W) {
    B a(init);
    for (std::int64_t k = 0; k < taps; ++k)
      a = simd_detail::fused(B(w[k]), B::load_unaligned(src[k] + i), a);
    if (stream) simd_detail::store_stream<Arch, T>(out + i, a);
    else a.store_unaligned(out + i);
  }
  if (i < n) partial(i, n - i);
  if (stream) _mm_sfence();  // order the streamed lines before whoever reads the row next
}

// --- fused optimizer updates (issue 10) ---
namespace simd_detail {
// x.add_(y, alpha=a): fused for real tensors, the product rounded first for complex ones.
template <class B>
B add_alpha(B x, B y, B alpha, bool complex_tensor) {
  return complex_tensor ? x + rounded(alpha * y) : fused(y, alpha, x);
}
// An update of K contiguous arrays element by element: f(b) gets the K loaded batches (a null
// array loads zeros) and changes them in place; the arrays with bit k of `written` set and not
// null are stored back. The tail goes through zero-padded buffers, so every element takes the
// same code path.
template <class Arch, class T, std::size_t K, class F>
void update_arrays(std::int64_t n, const std::array<T*, K>& a, unsigned written, F f) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  std::array<B, K> b;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    for (std::size_t k = 0; k < K; ++k) b[k] = a[k] ? B::load_unaligned(a[k] + i) : B(T(0));
    f(b);
    for (std::size_t k = 0; k < K; ++k)
      if (a[k] && (written >> k & 1u)) b[k].store_unaligned(a[k] + i);
  }
  if (i < n) {
    alignas(64) T t[K][W] = {};
    for (std::size_t k = 0; k < K; ++k)
      for (std::int64_t j = 0; a[k] && i + j < n; ++j) t[k][j] = a[k][i + j];
    for (std::size_t k = 0; k < K; ++k) b[k] = B::load_aligned(t[k]);
    f(b);
    for (std::size_t k = 0; k < K; ++k) {
      if (!a[k] || !(written >> k & 1u)) continue;
      b[k].store_aligned(t[k]);
      for (std::int64_t j = 0; i + j < n; ++j) a[k][i + j] = t[k][j];
    }
  }
}
}  // namespace simd_detail

template <class Arch, class T>
void adam_kernel(std::int64_t n, const AdamScalars<T>& s, T* param, const T* grad, T* m, T* v,
                 T* vmax) {
  using B = xsimd::batch<T, Arch>;
  const B wd(s.wd), decay(s.decay), beta1(s.beta1), omb1(s.one_minus_beta1), beta2(s.beta2),
      omb2(s.one_minus_beta2), bc2(s.bc2_sqrt), eps(s.eps), neg_step(s.neg_step_size);
  // p, g, m, v, vmax in; p, m, v, vmax out (the reference's adam_loop, per lane).
  const std::array<T*, 5> arrays{param, const_cast<T*>(grad), m, v, vmax};
  simd_detail::update_arrays<Arch>(n, arrays, 0b11101u, [&](std::array<B, 5>& a) {
    B& p = a[0];
    B g = a[1];
    B& mv = a[2];
    B& vv = a[3];
    B& xv = a[4];
    if (s.maximize) g = -g;
    B x = p;
    if (s.decoupled) x = simd_detail::rounded(x * decay);
    else if (s.has_wd) g = simd_detail::add_alpha(g, x, wd, s.complex_wd);
    mv = simd_detail::fused(g, omb1, simd_detail::rounded(mv * beta1));
    vv = simd_detail::fused(simd_detail::rounded(omb2 * g), g, simd_detail::rounded(vv * beta2));
    B second = vv;
    if (s.amsgrad) {  // torch.maximum: a NaN in either propagates
      second = xsimd::select(xsimd::isnan(xv) | xsimd::isnan(vv), xv + vv,
                             xsimd::select(xv < vv, vv, xv));
      xv = second;
    }
    const B denom = xsimd::sqrt(second) / bc2 + eps;
    p = x + neg_step * mv / denom;
  });
}

template <class Arch, class T>
void sgd_kernel(std::int64_t n, const SgdScalars<T>& s, T* param, const T* grad, T* buf) {
  using B = xsimd::batch<T, Arch>;
  const B wd(s.wd), momentum(s.momentum), omd(s.one_minus_dampening), neg_lr(s.neg_lr);
  const bool c = s.complex_param;
  // p, d, buf in; p, buf out (the reference's sgd_loop, per lane).
  const std::array<T*, 3> arrays{param, const_cast<T*>(grad), buf};
  simd_detail::update_arrays<Arch>(n, arrays, 0b101u, [&](std::array<B, 3>& a) {
    B& p = a[0];
    B d = a[1];
    B& bv = a[2];
    if (s.maximize) d = -d;
    if (s.has_wd) d = simd_detail::add_alpha(d, p, wd, c);
    if (s.has_momentum) {
      bv = s.first_step ? d : simd_detail::add_alpha(simd_detail::rounded(bv * momentum), d, omd, c);
      d = s.nesterov ? simd_detail::add_alpha(d, bv, momentum, c) : bv;
    }
    p = simd_detail::add_alpha(p, d, neg_lr, c);
  });
}

// The reference's rmsprop_loop per lane (backends/reference/optim.cpp): addcmul(x, y, z, v) is
// fma(v * y, z, x), add_alpha(x, y, a) fma(y, a, x).
template <class Arch, class T>
void rmsprop_kernel(std::int64_t n, const RmspropScalars<T>& s, T* param, const T* grad,
                    T* square_avg, T* grad_avg, T* buf) {
  using B = xsimd::batch<T, Arch>;
  using simd_detail::fused;
  using simd_detail::rounded;
  const B wd(s.wd), alpha(s.alpha), oma(s.one_minus_alpha), eps(s.eps), momentum(s.momentum),
      neg_lr(s.neg_lr);
  const std::array<T*, 5> arrays{param, const_cast<T*>(grad), square_avg,
                                 s.centered ? grad_avg : nullptr, s.has_momentum ? buf : nullptr};
  simd_detail::update_arrays<Arch>(n, arrays, 0b11101u, [&](std::array<B, 5>& v) {
    B& p = v[0];
    B g = s.maximize ? -v[1] : v[1];
    if (s.has_wd) g = simd_detail::add_alpha(g, p, wd, s.complex_param);
    const B sq = fused(rounded(oma * g), g, rounded(v[2] * alpha));
    v[2] = sq;
    B avg;
    if (s.centered) {
      const B a = fused(g, oma, rounded(v[3] * alpha));
      v[3] = a;
      avg = xsimd::sqrt(fused(-a, a, sq));
    } else {
      avg = xsimd::sqrt(sq);
    }
    avg = avg + eps;
    if (s.has_momentum) {
      const B b = rounded(v[4] * momentum) + g / avg;
      v[4] = b;
      p = fused(b, neg_lr, p);
    } else {
      p = p + rounded(neg_lr * g) / avg;
    }
  });
}

// The reference's adagrad_loop per lane.
template <class Arch, class T>
void adagrad_kernel(std::int64_t n, const AdagradScalars<T>& s, T* param, const T* grad, T* sum) {
  using B = xsimd::batch<T, Arch>;
  const B wd(s.wd), eps(s.eps), neg_clr(s.neg_clr);
  const std::array<T*, 3> arrays{param, const_cast<T*>(grad), sum};
  simd_detail::update_arrays<Arch>(n, arrays, 0b101u, [&](std::array<B, 3>& v) {
    B& p = v[0];
    B g = s.maximize ? -v[1] : v[1];
    if (s.has_wd) g = simd_detail::add_alpha(g, p, wd, s.complex_param);
    const B sm = simd_detail::fused(g, g, v[2]);
    v[2] = sm;
    p = p + simd_detail::rounded(neg_clr * g) / (xsimd::sqrt(sm) + eps);
  });
}

// --- max/min reductions (issue 10) ---
template <class Arch, class T>
T extreme_kernel(bool max, std::int64_t n, const T* in) {
  using B = xsimd::batch<T, Arch>;
  constexpr std::int64_t W = B::size;
  // acc takes x when x is more extreme or NaN; a NaN acc compares false and stays.
  auto run = [&](auto better) {
    auto fold = [&](B acc, B x) { return xsimd::select(better(x, acc) | xsimd::isnan(x), x, acc); };
    B acc0(in[0]), acc1(in[0]), acc2(in[0]), acc3(in[0]);
    std::int64_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
      acc0 = fold(acc0, B::load_unaligned(in + i));
      acc1 = fold(acc1, B::load_unaligned(in + i + W));
      acc2 = fold(acc2, B::load_unaligned(in + i + 2 * W));
      acc3 = fold(acc3, B::load_unaligned(in + i + 3 * W));
    }
    for (; i + W <= n; i += W) acc0 = fold(acc0, B::load_unaligned(in + i));
    if (i < n) {  // padded with in[0], which changes no extreme
      alignas(64) T t[W];
      for (std::int64_t j = 0; j < W; ++j) t[j] = i + j < n ? in[i + j] : in[0];
      acc1 = fold(acc1, B::load_aligned(t));
    }
    alignas(64) T lanes[W];
    fold(fold(acc0, acc1), fold(acc2, acc3)).store_aligned(lanes);
    T r = lanes[0];
    for (std::int64_t j = 1; j < W; ++j) {
      const T x = lanes[j];
      if (r != r) break;
      if (x != x || (max ? x > r : x < r)) r = x;
    }
    return r;
  };
  if (max) return run([](B x, B acc) { return x > acc; });
  return run([](B x, B acc) { return x < acc; });
}

// --- uniform random fill (issue 10) ---
template <class Arch, class T>
void uniform_kernel(const RandomSpec& spec, std::uint64_t counter0, std::int64_t n, T* out) {
  constexpr int L = 16;
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  const auto seed0 = static_cast<std::uint32_t>(spec.seed);
  const auto seed1 = static_cast<std::uint32_t>(spec.seed >> 32);
  for (std::int64_t i0 = 0; i0 < n; i0 += L) {
    const int m = n - i0 < L ? static_cast<int>(n - i0) : L;
    alignas(64) std::uint32_t x0[L], x1[L], x2[L], x3[L];
    for (int j = 0; j < L; ++j) {
      const std::uint64_t c = counter0 + static_cast<std::uint64_t>(i0 + j);
      x0[j] = static_cast<std::uint32_t>(c), x1[j] = static_cast<std::uint32_t>(c >> 32);
      x2[j] = 0u, x3[j] = 0u;
    }
    std::uint32_t k0 = seed0, k1 = seed1;
    for (int round = 0; round < 10; ++round) {  // philox::philox4x32_10, lane by lane
      for (int j = 0; j < L; ++j) {
        const std::uint64_t p0 = static_cast<std::uint64_t>(kMul0) * x0[j];
        const std::uint64_t p1 = static_cast<std::uint64_t>(kMul1) * x2[j];
        const std::uint32_t y0 = static_cast<std::uint32_t>(p1 >> 32) ^ x1[j] ^ k0;
        const std::uint32_t y2 = static_cast<std::uint32_t>(p0 >> 32) ^ x3[j] ^ k1;
        x0[j] = y0, x1[j] = static_cast<std::uint32_t>(p1), x2[j] = y2;
        x3[j] = static_cast<std::uint32_t>(p0);
      }
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    for (int j = 0; j < m; ++j) {  // philox::random_real's Uniform branch
      double u;
      if constexpr (std::is_same_v<T, float>) {
        u = (x0[j] >> 8) * 0x1p-24;
      } else {
        const std::uint64_t bits = (static_cast<std::uint64_t>(x0[j]) << 32) | x1[j];
        u = static_cast<double>(bits >> 11) * 0x1p-53;
      }
      double scaled = (spec.b - spec.a) * u;
      asm("" : "+x"(scaled));  // no contraction into an fma: the reference rounds the product
      T value = static_cast<T>(spec.a + scaled);
      if constexpr (std::is_same_v<T, float>) {
        const auto high = static_cast<float>(spec.b);
        const auto low = static_cast<float>(spec.a);
        if (value >= high && low < high) value = ::nextafterf(high, low);
      }
      out[i0 + j] = value;
    }
  }
}

// --- normalization rows (issue 10) ---
namespace simd_detail {

// T values at p as a batch of doubles (the batch's width: 8, 4 or 2 of them), and back
// (rounded to nearest, as static_cast).
template <class Arch, class T>
xsimd::batch<double, Arch> load_wide(const T* p) {
  using D = xsimd::batch<double, Arch>;
  if constexpr (std::is_same_v<T, double>) {
    return D::load_unaligned(p);
  } else if constexpr (std::is_same_v<Arch, xsimd::avx512bw>) {
    return D(_mm512_cvtps_pd(_mm256_loadu_ps(p)));
  } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) {
    return D(_mm256_cvtps_pd(_mm_loadu_ps(p)));
  } else {
    // Two floats (only 4-byte aligned): loadlps, a builtin, where _mm_load_sd dereferences a
    // double* (a misaligned load to the sanitizers).
    return D(_mm_cvtps_pd(_mm_loadl_pi(_mm_setzero_ps(), reinterpret_cast<const __m64*>(p))));
  }
}
template <class Arch, class T>
void store_narrow(T* p, xsimd::batch<double, Arch> v) {
  if constexpr (std::is_same_v<T, double>) {
    v.store_unaligned(p);
  } else if constexpr (std::is_same_v<Arch, xsimd::avx512bw>) {
    _mm256_storeu_ps(p, _mm512_cvtpd_ps(v));
  } else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) {
    _mm_storeu_ps(p, _mm256_cvtpd_ps(v));
  } else {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), _mm_cvtpd_ps(v));
  }
}
// A scalar product kept rounded (no contraction into an fma), as rounded() for batches; a
// template on Arch so each architecture's file has its own copy (the rule at the top).
template <class Arch>
double kept(double v) {
  asm("" : "+x"(v));
  return v;
}

}  // namespace simd_detail

template <class Arch, class T>
void norm_sums_kernel(std::int64_t n, const T* x, const double* s, double* acc1, double* acc2) {
  using D = xsimd::batch<double, Arch>;
  constexpr std::int64_t W = D::size;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const D e = simd_detail::load_wide<Arch>(x + i) - D::load_unaligned(s + i);
    (D::load_unaligned(acc1 + i) + e).store_unaligned(acc1 + i);
    (D::load_unaligned(acc2 + i) + e * e).store_unaligned(acc2 + i);
  }
  for (; i < n; ++i) {
    const double e = static_cast<double>(x[i]) - s[i];
    acc1[i] += e;
    acc2[i] += e * e;
  }
}

template <class Arch, class T>
void norm_grad_sums_kernel(std::int64_t n, const T* gy, const T* x, const double* s,
                           double* acc1, double* acc2) {
  using D = xsimd::batch<double, Arch>;
  constexpr std::int64_t W = D::size;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const D g = simd_detail::load_wide<Arch>(gy + i);
    const D e = simd_detail::load_wide<Arch>(x + i) - D::load_unaligned(s + i);
    (D::load_unaligned(acc1 + i) + g).store_unaligned(acc1 + i);
    (D::load_unaligned(acc2 + i) + g * e).store_unaligned(acc2 + i);
  }
  for (; i < n; ++i) {
    const double g = static_cast<double>(gy[i]);
    acc1[i] += g;
    acc2[i] += g * (static_cast<double>(x[i]) - s[i]);
  }
}

template <class Arch, class T>
void norm_apply_kernel(std::int64_t n, const T* x, const double* s, const double* r,
                       const double* w, const double* b, T* y) {
  using D = xsimd::batch<double, Arch>;
  using simd_detail::rounded;
  constexpr std::int64_t W = D::size;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const D xhat = rounded((simd_detail::load_wide<Arch>(x + i) - D::load_unaligned(s + i)) *
                           D::load_unaligned(r + i));
    simd_detail::store_narrow<Arch>(
        y + i, rounded(xhat * D::load_unaligned(w + i)) + D::load_unaligned(b + i));
  }
  for (; i < n; ++i) {
    const double xhat = simd_detail::kept<Arch>((static_cast<double>(x[i]) - s[i]) * r[i]);
    y[i] = static_cast<T>(simd_detail::kept<Arch>(xhat * w[i]) + b[i]);
  }
}

template <class Arch, class T>
void norm_grad_apply_kernel(std::int64_t n, bool stats, const T* gy, const T* x, const double* s,
                            const double* r, const double* w, const double* md,
                            const double* mdx, T* gx) {
  using D = xsimd::batch<double, Arch>;
  using simd_detail::kept;
  using simd_detail::rounded;
  constexpr std::int64_t W = D::size;
  std::int64_t i = 0;
  if (stats) {
    for (; i + W <= n; i += W) {
      const D rv = D::load_unaligned(r + i);
      const D dxhat = rounded(simd_detail::load_wide<Arch>(gy + i) * D::load_unaligned(w + i));
      const D xhat = rounded((simd_detail::load_wide<Arch>(x + i) - D::load_unaligned(s + i)) * rv);
      const D t = rounded(xhat * D::load_unaligned(mdx + i));
      simd_detail::store_narrow<Arch>(gx + i, rv * ((dxhat - D::load_unaligned(md + i)) - t));
    }
    for (; i < n; ++i) {
      const double dxhat = kept<Arch>(static_cast<double>(gy[i]) * w[i]);
      const double xhat = kept<Arch>((static_cast<double>(x[i]) - s[i]) * r[i]);
      const double t = kept<Arch>(xhat * mdx[i]);
      gx[i] = static_cast<T>(r[i] * ((dxhat - md[i]) - t));
    }
  } else {
    for (; i + W <= n; i += W) {
      const D dxhat = rounded(simd_detail::load_wide<Arch>(gy + i) * D::load_unaligned(w + i));
      simd_detail::store_narrow<Arch>(gx + i, D::load_unaligned(r + i) * dxhat);
    }
    for (; i < n; ++i)
      gx[i] = static_cast<T>(r[i] * kept<Arch>(static_cast<double>(gy[i]) * w[i]));
  }
}

// --- cross-entropy rows (issue 10) ---
namespace simd_detail {
// The n < W trailing elements of x as a batch of doubles (the other lanes repeat x[0]).
template <class Arch, class T>
xsimd::batch<double, Arch> load_wide_tail(const T* x, std::int64_t n) {
  constexpr std::int64_t W = xsimd::batch<double, Arch>::size;
  alignas(64) T tmp[W];
  for (std::int64_t i = 0; i < W; ++i) tmp[i] = x[i < n ? i : 0];
  return load_wide<Arch>(tmp);
}
}  // namespace simd_detail

template <class Arch, class T>
double exp_sum_kernel(std::int64_t n, const T* x, double shift) {
  using D = xsimd::batch<double, Arch>;
  constexpr std::int64_t W = D::size;
  const D s(shift);
  D acc(0.0);
  std::int64_t i = 0;
  for (; i + W <= n; i += W) acc += xsimd::exp(simd_detail::load_wide<Arch>(x + i) - s);
  double total = xsimd::hadd(acc);
  if (i < n) {
    alignas(64) double e[W];
    xsimd::exp(simd_detail::load_wide_tail<Arch>(x + i, n - i) - s).store_aligned(e);
    for (std::int64_t j = 0; j < n - i; ++j) total += e[j];
  }
  return total;
}

template <class Arch, class T>
void exp_acc_kernel(std::int64_t n, const T* x, const double* shift, double* z) {
  using D = xsimd::batch<double, Arch>;
  constexpr std::int64_t W = D::size;
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const D e = xsimd::exp(simd_detail::load_wide<Arch>(x + i) - D::load_unaligned(shift + i));
    (D::load_unaligned(z + i) + e).store_unaligned(z + i);
  }
  if (i < n) {
    alignas(64) double sh[W], e[W];
    for (std::int64_t j = 0; j < W; ++j) sh[j] = shift[i + (j < n - i ? j : 0)];
    xsimd::exp(simd_detail::load_wide_tail<Arch>(x + i, n - i) - D::load_aligned(sh)).store_aligned(e);
    for (std::int64_t j = 0; j < n - i; ++j) z[i + j] += e[j];
  }
}

template <class Arch, class T>
void exp_scale_kernel(std::int64_t n, const T* x, const double* shift, std::int64_t ss,
                      const double* g, std::int64_t gs, T* out) {
  using D = xsimd::batch<double, Arch>;
  constexpr std::int64_t W = D::size;
  auto at = [](const double* p, std::int64_t stride, std::int64_t i) {
    return stride == 0 ? D(*p) : D::load_unaligned(p + i);
  };
  std::int64_t i = 0;
  for (; i + W <= n; i += W) {
    const D e = xsimd::exp(simd_detail::load_wide<Arch>(x + i) - at(shift, ss, i));
    simd_detail::store_narrow<Arch>(out + i, at(g, gs, i) * e);
  }
  if (i < n) {
    alignas(64) double sh[W], gv[W], e[W];
    for (std::int64_t j = 0; j < W; ++j) {
      const std::int64_t k = i + (j < n - i ? j : 0);
      sh[j] = shift[k * ss];
      gv[j] = g[k * gs];
    }
    (D::load_aligned(gv) * xsimd::exp(simd_detail::load_wide_tail<Arch>(x + i, n - i) -
                                      D::load_aligned(sh))).store_aligned(e);
    for (std::int64_t j = 0; j < n - i; ++j) out[i + j] = static_cast<T>(e[j]);
  }
}

#define REEL_SIMD_KERNELS(EXTERN, ARCH)                                                        \
  EXTERN template void binary_kernel<ARCH, float>(BinaryOp, std::int64_t, const float*,       \
                                                  std::int64_t, const float*, std::int64_t,   \
                                                  float*);                                     \
  EXTERN template void binary_kernel<ARCH, double>(BinaryOp, std::int64_t, const double*,     \
                                                   std::int64_t, const double*, std::int64_t, \
                                                   double*);                                   \
  EXTERN template void unary_kernel<ARCH, float>(UnaryOp, std::int64_t, const float*, float*); \
  EXTERN template void unary_kernel<ARCH, double>(UnaryOp, std::int64_t, const double*,       \
                                                  double*);                                    \
  EXTERN template float sum_kernel<ARCH, float>(std::int64_t, const float*);                  \
  EXTERN template double sum_kernel<ARCH, double>(std::int64_t, const double*);               \
  EXTERN template float dot_kernel<ARCH, float>(std::int64_t, const float*, const float*);     \
  EXTERN template double dot_kernel<ARCH, double>(std::int64_t, const double*, const double*); \
  EXTERN template void axpy_kernel<ARCH, float>(std::int64_t, float, const float*, float*);    \
  EXTERN template void axpy_kernel<ARCH, double>(std::int64_t, double, const double*, double*); \
  EXTERN template void taps_kernel<ARCH, float>(std::int64_t, std::int64_t, const float* const*, \
                                                const float*, float, float*, bool);            \
  EXTERN template void taps_kernel<ARCH, double>(std::int64_t, std::int64_t,                   \
                                                 const double* const*, const double*, double,  \
                                                 double*, bool);                               \
  EXTERN template void gemm_kernel<ARCH, float>(std::int64_t, const float*, const float*,     \
                                                float*, std::int64_t, bool);                   \
  EXTERN template void gemm_kernel<ARCH, double>(std::int64_t, const double*, const double*,  \
                                                 double*, std::int64_t, bool);                 \
  EXTERN template void adam_kernel<ARCH, float>(std::int64_t, const AdamScalars<float>&,       \
                                                float*, const float*, float*, float*, float*); \
  EXTERN template void adam_kernel<ARCH, double>(std::int64_t, const AdamScalars<double>&,     \
                                                 double*, const double*, double*, double*,     \
                                                 double*);                                     \
  EXTERN template void sgd_kernel<ARCH, float>(std::int64_t, const SgdScalars<float>&, float*, \
                                               const float*, float*);                          \
  EXTERN template void sgd_kernel<ARCH, double>(std::int64_t, const SgdScalars<double>&,       \
                                                double*, const double*, double*);              \
  EXTERN template void rmsprop_kernel<ARCH, float>(std::int64_t, const RmspropScalars<float>&,  \
                                                   float*, const float*, float*, float*, float*); \
  EXTERN template void rmsprop_kernel<ARCH, double>(std::int64_t, const RmspropScalars<double>&, \
                                                    double*, const double*, double*, double*,  \
                                                    double*);                                  \
  EXTERN template void adagrad_kernel<ARCH, float>(std::int64_t, const AdagradScalars<float>&,  \
                                                   float*, const float*, float*);              \
  EXTERN template void adagrad_kernel<ARCH, double>(std::int64_t, const AdagradScalars<double>&, \
                                                    double*, const double*, double*);          \
  EXTERN template float extreme_kernel<ARCH, float>(bool, std::int64_t, const float*);         \
  EXTERN template double extreme_kernel<ARCH, double>(bool, std::int64_t, const double*);       \
  EXTERN template void uniform_kernel<ARCH, float>(const RandomSpec&, std::uint64_t,             \
                                                   std::int64_t, float*);                        \
  EXTERN template void uniform_kernel<ARCH, double>(const RandomSpec&, std::uint64_t,            \
                                                    std::int64_t, double*); \
  EXTERN template void norm_sums_kernel<ARCH, float>(std::int64_t, const float*, const double*,  \
                                                     double*, double*);                          \
  EXTERN template void norm_sums_kernel<ARCH, double>(std::int64_t, const double*,               \
                                                      const double*, double*, double*);          \
  EXTERN template void norm_grad_sums_kernel<ARCH, float>(std::int64_t, const float*,            \
                                                          const float*, const double*, double*,  \
                                                          double*);                              \
  EXTERN template void norm_grad_sums_kernel<ARCH, double>(std::int64_t, const double*,          \
                                                           const double*, const double*,         \
                                                           double*, double*);                    \
  EXTERN template void norm_apply_kernel<ARCH, float>(std::int64_t, const float*, const double*, \
                                                      const double*, const double*,              \
                                                      const double*, float*);                    \
  EXTERN template void norm_apply_kernel<ARCH, double>(std::int64_t, const double*,              \
                                                       const double*, const double*,             \
                                                       const double*, const double*, double*);   \
  EXTERN template void norm_grad_apply_kernel<ARCH, float>(std::int64_t, bool, const float*,     \
                                                           const float*, const double*,          \
                                                           const double*, const double*,         \
                                                           const double*, const double*, float*); \
  EXTERN template void norm_grad_apply_kernel<ARCH, double>(std::int64_t, bool, const double*,   \
                                                            const double*, const double*,        \
                                                            const double*, const double*,        \
                                                            const double*, const double*,        \
                                                            double*);                      \
  EXTERN template double exp_sum_kernel<ARCH, float>(std::int64_t, const float*, double);       \
  EXTERN template double exp_sum_kernel<ARCH, double>(std::int64_t, const double*, double);     \
  EXTERN template void exp_acc_kernel<ARCH, float>(std::int64_t, const float*, const double*,   \
                                                   double*);                                    \
  EXTERN template void exp_acc_kernel<ARCH, double>(std::int64_t, const double*, const double*, \
                                                    double*);                                   \
  EXTERN template void exp_scale_kernel<ARCH, float>(std::int64_t, const float*, const double*, \
                                                     std::int64_t, const double*, std::int64_t, \
                                                     float*);                                   \
  EXTERN template void exp_scale_kernel<ARCH, double>(std::int64_t, const double*,              \
                                                      const double*, std::int64_t,              \
                                                      const double*, std::int64_t, double*);

REEL_SIMD_KERNELS(extern, xsimd::avx512bw)
REEL_SIMD_KERNELS(extern, xsimd::fma3<xsimd::avx2>)
REEL_SIMD_KERNELS(extern, xsimd::sse2)

}  // namespace reel::backends::cpu
