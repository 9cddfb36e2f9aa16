#pragma once
// The maths of one element, written once for every backend: PyTorch's dtype conversions, the
// integer rules (wrapping arithmetic, integer pow), and each elementwise op of the table
// (backends/op_table.hpp) as apply_unary<op> / apply_binary<op>. The reference backend calls
// these from its loops on the host, the CUDA kernels from the device, so the two agree by
// construction; the CPU backend's SIMD paths are checked against them by the parity harness.
//
// Plain C++17 without fmt (nvcc includes it). Complex numbers are std::complex on the host and
// cuda::std::complex on the device; the code below is generic over both: it only uses
// value_type, real(), imag(), arithmetic, and exp/log/... found by argument-dependent lookup.
// Maths on a (dtype, op) pair the table refuses is never instantiated: callers check
// op_accepts() first (at compile time in the kernels).
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#if !defined(__CUDACC__)
#include <complex>  // opmath<ComplexHalf> names std::complex
#endif

#include "backends/half.hpp"
#include "backends/host_device.hpp"
#include "backends/op_table.hpp"

namespace reel::backends::math {

// --- element types ------------------------------------------------------------------------------
template <typename T, typename = void>
struct is_complex_like : std::false_type {};
template <typename T>
struct is_complex_like<T, std::void_t<typename T::value_type, decltype(std::declval<T>().imag())>>
    : std::true_type {};
template <typename T> inline constexpr bool kIsComplex = is_complex_like<T>::value;

template <typename T, bool = kIsComplex<T>> struct real_of { using type = T; };
template <typename T> struct real_of<T, true> { using type = typename T::value_type; };
// float for complex64, double for complex128, T itself for real types.
template <typename T> using real_t = typename real_of<T>::type;

template <typename T> inline constexpr bool kIsBool = std::is_same_v<T, bool>;
template <typename T> inline constexpr bool kIsInteger = std::is_integral_v<T> && !kIsBool<T>;
template <typename T> inline constexpr bool kIsFloating = std::is_floating_point_v<T>;

// The 16-bit storage types (backends/half.hpp) compute in their "opmath" type: float32 for
// float16 and bfloat16, complex64 for complex32 (each backend names its complex type: the CUDA
// kernels specialise `opmath` for their device twin of ComplexHalf). A kernel widens each
// input, computes, and rounds the result once with cast_value.
template <typename T> struct opmath { using type = T; };
template <> struct opmath<Half> { using type = float; };
template <> struct opmath<BFloat16> { using type = float; };
#if !defined(__CUDACC__)
template <> struct opmath<ComplexHalf> { using type = std::complex<float>; };
#endif
template <typename T> using opmath_t = typename opmath<T>::type;
// Whether T is a storage type that computes in a wider opmath type.
template <typename T> inline constexpr bool kIsHalfLike = !std::is_same_v<opmath_t<T>, T>;

template <typename T>
REEL_HD opmath_t<T> widen(T x) {
  if constexpr (!kIsHalfLike<T>) return x;
  else if constexpr (kIsComplex<T>) {
    return opmath_t<T>(static_cast<float>(x.real()), static_cast<float>(x.imag()));
  } else {
    return static_cast<float>(x);
  }
}

template <typename T>
REEL_HD bool is_nan(T x) {
  if constexpr (kIsHalfLike<T>) return is_nan(widen(x));
  else
  if constexpr (kIsComplex<T>) return x.real() != x.real() || x.imag() != x.imag();
  else if constexpr (kIsFloating<T>) return x != x;
  else return false;
}

// x != 0 for every element type (a complex number is nonzero when either part is).
template <typename T>
REEL_HD bool nonzero(T x) {
  if constexpr (kIsHalfLike<T>) return nonzero(widen(x));
  else if constexpr (kIsComplex<T>) return x.real() != 0 || x.imag() != 0;
  else return x != T(0);
}

// The conjugate; the identity on real numbers (std::conj of a real returns a complex).
template <typename T>
REEL_HD T conj(T x) {
  if constexpr (kIsComplex<T>) return T(x.real(), -x.imag());
  else return x;
}

// --- conversions ------------------------------------------------------------------------------
// PyTorch's rules: anything -> bool is (x != 0); complex -> real drops the imaginary part; real
// -> complex has imaginary part 0; bool -> number is 0 or 1; integer -> narrower integer wraps
// (two's complement, as static_cast in C++20). Floating -> integer truncates toward zero; C++
// leaves NaN and out-of-range values undefined, so they are pinned to what x86's cvtt*2si
// instructions (and so PyTorch on x86) give: int64 targets convert through int64 and get
// INT64_MIN, narrower targets convert through int32 (INT32_MIN) and then wrap.
template <typename To, typename From>
REEL_HD To cast_value(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (kIsHalfLike<To>) {  // through float32 / complex64, rounded once there
    return To(cast_value<opmath_t<To>>(x));
  } else if constexpr (kIsHalfLike<From>) {  // exact widening, then the float32 rules
    return cast_value<To>(widen(x));
  } else if constexpr (kIsBool<To>) {
    return nonzero(x);
  } else if constexpr (kIsComplex<To>) {
    using R = typename To::value_type;
    if constexpr (kIsComplex<From>) return To(static_cast<R>(x.real()), static_cast<R>(x.imag()));
    else return To(cast_value<R>(x), R(0));
  } else if constexpr (kIsComplex<From>) {
    return cast_value<To>(x.real());
  } else if constexpr (kIsInteger<To> && kIsFloating<From>) {
    if constexpr (sizeof(To) == 8) {
      constexpr From limit = From(9223372036854775808.0);  // 2^63
      if (!(x >= -limit && x < limit)) return static_cast<To>(std::uint64_t{1} << 63);
      return static_cast<To>(static_cast<std::int64_t>(x));
    } else {
      constexpr From limit = From(2147483648.0);  // 2^31
      if (!(x >= -limit && x < limit)) return static_cast<To>(std::int32_t(-2147483647 - 1));
      return static_cast<To>(static_cast<std::int32_t>(x));
    }
  } else {
    return static_cast<To>(x);
  }
}

// --- integer rules ----------------------------------------------------------------------------
// Integers wrap around on overflow (two's complement), as PyTorch's do, instead of being
// undefined behaviour: the arithmetic runs in uint64 and is truncated back. On bool, + is `or`
// and * is `and`.
template <typename T>
REEL_HD T wrap(std::uint64_t x) {
  return static_cast<T>(x);
}
template <typename T>
REEL_HD std::uint64_t bits(T x) {
  return static_cast<std::uint64_t>(x);
}
template <typename T>
REEL_HD T plus(T a, T b) {
  if constexpr (kIsBool<T>) return a || b;
  else if constexpr (kIsInteger<T>) return wrap<T>(bits(a) + bits(b));
  else return a + b;
}
template <typename T>
REEL_HD T minus(T a, T b) {
  if constexpr (kIsInteger<T>) return wrap<T>(bits(a) - bits(b));
  else return a - b;
}
template <typename T>
REEL_HD T times(T a, T b) {
  if constexpr (kIsBool<T>) return a && b;
  else if constexpr (kIsInteger<T>) return wrap<T>(bits(a) * bits(b));
  else return a * b;
}
template <typename T>
REEL_HD T negate(T x) {
  if constexpr (kIsInteger<T>) return wrap<T>(std::uint64_t{0} - bits(x));
  else return -x;
}

// a ** b on integers, PyTorch's powi: repeated squaring in wrapping arithmetic; a negative
// exponent gives what the real result truncates to (1 for 1, +-1 for -1, else 0). The error
// "Integers to negative integer powers are not allowed" is PyTorch's for a *scalar* exponent
// and is raised above the backends (tensor/ops/binary.cpp), where the scalar is known.
template <typename T>
REEL_HD T int_pow(T a, T b) {
  if constexpr (std::is_signed_v<T>) {
    if (b < 0) {
      if (a == 1) return 1;
      if (a == -1) return (b & 1) ? T(-1) : T(1);
      return 0;
    }
  }
  std::uint64_t result = 1;
  std::uint64_t base = bits(a);
  for (std::uint64_t e = bits(b); e != 0; e >>= 1) {
    if (e & 1) result *= base;
    base *= base;
  }
  return wrap<T>(result);
}

// --- the elementwise ops ----------------------------------------------------------------------
template <UnaryOp op, typename T>
using UnaryOut = std::conditional_t<op_info(op).out == OutRule::Bool, bool,
                 std::conditional_t<op_info(op).out == OutRule::Real, real_t<T>, T>>;
template <BinaryOp op, typename T>
using BinaryOut = std::conditional_t<op_info(op).out == OutRule::Bool, bool, T>;

// The normal distribution's CDF Phi and density phi: GELU is x * Phi(x).
template <typename R>
REEL_HD R normal_cdf(R x) {
  using std::erf;
  return R(0.5) * (R(1) + erf(x * R(0.70710678118654752440)));  // x / sqrt(2)
}
template <typename R>
REEL_HD R normal_pdf(R x) {
  using std::exp;
  return R(0.39894228040143267794) * exp(R(-0.5) * x * x);  // e^(-x^2/2) / sqrt(2 pi)
}

// out = op(x) for a type that computes in itself (not a 16-bit storage type).
template <UnaryOp op, typename T>
REEL_HD UnaryOut<op, T> apply_unary_wide(T x) {
  using std::abs, std::cos, std::erf, std::exp, std::log, std::sin, std::sqrt, std::tanh;
  using R = real_t<T>;
  if constexpr (op == UnaryOp::Neg) {
    return negate(x);
  } else if constexpr (op == UnaryOp::Exp) {
    return exp(x);
  } else if constexpr (op == UnaryOp::Log) {
    return log(x);
  } else if constexpr (op == UnaryOp::Sqrt) {
    return sqrt(x);
  } else if constexpr (op == UnaryOp::Sin) {
    return sin(x);
  } else if constexpr (op == UnaryOp::Cos) {
    return cos(x);
  } else if constexpr (op == UnaryOp::Tanh) {
    return tanh(x);
  } else if constexpr (op == UnaryOp::Sigmoid) {
    return T(1) / (T(1) + exp(-x));  // 1 / (1 + e^-x)
  } else if constexpr (op == UnaryOp::Relu) {
    if constexpr (kIsBool<T> || std::is_unsigned_v<T>) return x;
    else return x < T(0) ? T(0) : x;  // clamp_min(x, 0): NaN and -0.0 pass through, as PyTorch
  } else if constexpr (op == UnaryOp::Gelu) {  // exact GELU (Hendrycks & Gimpel): x Phi(x)
    return x * normal_cdf(x);
  } else if constexpr (op == UnaryOp::Silu) {  // x * sigmoid(x)
    return x / (T(1) + exp(-x));
  } else if constexpr (op == UnaryOp::Erf) {
    return erf(x);
  } else if constexpr (op == UnaryOp::Sign) {
    if constexpr (kIsComplex<T>) return x == T(0) ? T(0) : x / T(abs(x));  // torch.sgn: x / |x|
    else if constexpr (kIsBool<T>) return x;
    else if constexpr (kIsFloating<T>) return is_nan(x) ? x : T((x > 0) - (x < 0));  // sign(nan) = nan
    else if constexpr (std::is_unsigned_v<T>) return T(x > 0);
    else return T((x > 0) - (x < 0));
  } else if constexpr (op == UnaryOp::Conj) {
    return conj(x);
  } else if constexpr (op == UnaryOp::Reciprocal) {
    return T(1) / x;
  } else if constexpr (op == UnaryOp::Abs) {
    if constexpr (kIsComplex<T>) return abs(x);  // |x| = hypot(re, im)
    else if constexpr (kIsFloating<T>) return abs(x);
    else if constexpr (std::is_signed_v<T>) return x < 0 ? negate(x) : x;  // wraps at INT_MIN
    else return x;  // bool, uint8
  } else if constexpr (op == UnaryOp::Real) {
    if constexpr (kIsComplex<T>) return x.real();
    else return x;
  } else if constexpr (op == UnaryOp::Imag) {
    if constexpr (kIsComplex<T>) return x.imag();
    else return R(0);
  } else if constexpr (op == UnaryOp::LogicalNot) {
    return !nonzero(x);
  } else {
    static_assert(op == UnaryOp::IsNan, "a unary op without maths");
    return is_nan(x);
  }
}

// out = op(x), for a (op, T) pair the table accepts. The 16-bit types compute in float32 /
// complex64 and round once.
template <UnaryOp op, typename T>
REEL_HD UnaryOut<op, T> apply_unary(T x) {
  if constexpr (kIsHalfLike<T>) return cast_value<UnaryOut<op, T>>(apply_unary_wide<op>(widen(x)));
  else return apply_unary_wide<op>(x);
}

// out = op(a, b) for a type that computes in itself (not a 16-bit storage type).
template <BinaryOp op, typename T>
REEL_HD BinaryOut<op, T> apply_binary_wide(T a, T b) {
  using std::exp, std::pow;
  if constexpr (op == BinaryOp::Add) {
    return plus(a, b);
  } else if constexpr (op == BinaryOp::Sub) {
    return minus(a, b);
  } else if constexpr (op == BinaryOp::Mul) {
    return times(a, b);
  } else if constexpr (op == BinaryOp::Div) {
    return a / b;  // floating or complex: true division of integers promotes above us
  } else if constexpr (op == BinaryOp::Pow) {
    if constexpr (kIsInteger<T>) return int_pow(a, b);
    else return pow(a, b);
  } else if constexpr (op == BinaryOp::Maximum || op == BinaryOp::Minimum) {
    constexpr bool kMax = op == BinaryOp::Maximum;
    if constexpr (kIsBool<T>) return kMax ? (a || b) : (a && b);
    else {
      if (is_nan(a)) return a;  // NaN propagates from either side, as torch.maximum
      if (is_nan(b)) return b;
      return kMax ? (a > b ? a : b) : (a < b ? a : b);
    }
  } else if constexpr (op == BinaryOp::ReluBackward) {
    return b > T(0) ? a : T(0);
  } else if constexpr (op == BinaryOp::GeluBackward) {  // d/dx [x Phi(x)] = Phi(x) + x phi(x)
    return a * (normal_cdf(b) + b * normal_pdf(b));
  } else if constexpr (op == BinaryOp::SiluBackward) {  // d/dx [x s(x)] = s (1 + x (1 - s))
    const T s = T(1) / (T(1) + exp(-b));
    return a * s * (T(1) + b * (T(1) - s));
  } else if constexpr (op == BinaryOp::SigmoidBackward) {  // s (1 - s), conjugated (Wirtinger)
    return a * conj(b * (T(1) - b));
  } else if constexpr (op == BinaryOp::TanhBackward) {  // 1 - t^2, conjugated (Wirtinger)
    return a * conj(T(1) - b * b);
  } else if constexpr (op == BinaryOp::Eq) {
    return a == b;
  } else if constexpr (op == BinaryOp::Ne) {
    return a != b;
  } else if constexpr (op == BinaryOp::Lt) {
    return a < b;
  } else if constexpr (op == BinaryOp::Le) {
    return a <= b;
  } else if constexpr (op == BinaryOp::Gt) {
    return a > b;
  } else if constexpr (op == BinaryOp::Ge) {
    return a >= b;
  } else if constexpr (op == BinaryOp::LogicalAnd) {
    return nonzero(a) && nonzero(b);
  } else {
    static_assert(op == BinaryOp::LogicalOr, "a binary op without maths");
    return nonzero(a) || nonzero(b);
  }
}

// out = op(a, b), for a (op, T) pair the table accepts. The 16-bit types compute in float32 /
// complex64 and round once.
template <BinaryOp op, typename T>
REEL_HD BinaryOut<op, T> apply_binary(T a, T b) {
  if constexpr (kIsHalfLike<T>) {
    return cast_value<BinaryOut<op, T>>(apply_binary_wide<op>(widen(a), widen(b)));
  } else {
    return apply_binary_wide<op>(a, b);
  }
}

// --- from a runtime op to a compile-time one ---------------------------------------------------
template <auto V> struct OpConstant {
  static constexpr auto value = V;
};

// Calls f(OpConstant<op>{}) with the runtime `op` as a compile-time constant, so a kernel is
// instantiated per op (one switch, generated from the table). Host code only.
template <typename F>
decltype(auto) visit_op(UnaryOp op, F&& f) {
  switch (op) {
#define REEL_VISIT_CASE(e, name, kind, set, out, hint) \
  case UnaryOp::e: return f(OpConstant<UnaryOp::e>{});
    REEL_UNARY_OPS(REEL_VISIT_CASE)
#undef REEL_VISIT_CASE
  }
  return f(OpConstant<UnaryOp::Neg>{});  // unreachable for a valid enumerator
}
template <typename F>
decltype(auto) visit_op(BinaryOp op, F&& f) {
  switch (op) {
#define REEL_VISIT_CASE(e, name, kind, set, out, hint) \
  case BinaryOp::e: return f(OpConstant<BinaryOp::e>{});
    REEL_BINARY_OPS(REEL_VISIT_CASE)
#undef REEL_VISIT_CASE
  }
  return f(OpConstant<BinaryOp::Add>{});  // unreachable for a valid enumerator
}

}  // namespace reel::backends::math
