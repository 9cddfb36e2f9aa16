#pragma once
// The 16-bit floating element types: float16 (IEEE binary16: 1 sign, 5 exponent, 10 mantissa
// bits), bfloat16 (the top half of a float32: 1, 8, 7) and complex32 (two float16). They are
// storage types: arithmetic converts to float32 (the "opmath" type, as PyTorch's CPU kernels
// do), computes there and rounds once on store. Every conversion is written here once, with
// integer operations, so that it is exact and the same on every backend: plain C++17 without
// fmt, usable from CUDA device code (nvcc includes this header).
//
// Rounding is to nearest, ties to even. The conversions are explicit: a kernel that forgot to
// widen a half input fails to compile instead of rounding after every operation.
//
// PyTorch's conventions, which the golden tests check (tests/nn/golden/low_precision/):
//  - float64 -> half goes through float32 (c10::Half and c10::BFloat16 construct from float),
//    so it can round twice; integers -> half likewise go through float32.
//  - A NaN becomes float16's quiet NaN 0x7E00 with the input's sign (c10's
//    fp16_ieee_from_fp32_value), and bfloat16's canonical NaN 0x7FC0 (c10's
//    round_to_nearest_even).
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define REEL_HALF_HD __host__ __device__
#else
#define REEL_HALF_HD
#endif

namespace reel {

namespace half_detail {
REEL_HALF_HD inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
REEL_HALF_HD inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace half_detail

// float32 -> float16 bits, round to nearest even; overflow gives infinity.
REEL_HALF_HD inline std::uint16_t float_to_half_bits(float f) {
  const std::uint32_t x = half_detail::float_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u);  // NaN
  if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520: inf
  if (a >= 0x38800000u) {  // a normal float16 (>= 2^-14): re-bias the exponent, round 13 bits
    const std::uint32_t r = a - 0x38000000u;  // exponent bias 127 -> 15
    return static_cast<std::uint16_t>(sign | ((r + 0x0FFFu + ((r >> 13) & 1u)) >> 13));
  }
  // A float16 subnormal (or zero): the value in units of 2^-24, rounded to an integer.
  const std::uint32_t e = a >> 23;
  if (e < 102) return static_cast<std::uint16_t>(sign);  // below 2^-25: rounds to zero
  const std::uint32_t mant = (a & 0x007FFFFFu) | 0x00800000u;
  const std::uint32_t shift = 126 - e;  // 14..24
  std::uint32_t h = mant >> shift;
  const std::uint32_t rem = mant & ((1u << shift) - 1u);
  const std::uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // may carry into the normal range
  return static_cast<std::uint16_t>(sign | h);
}

// float16 bits -> float32, exact.
REEL_HALF_HD inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x03FFu;
  if (exp == 0x1F) return half_detail::bits_float(sign | 0x7F800000u | (mant << 13));  // inf, NaN
  if (exp != 0) return half_detail::bits_float(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return half_detail::bits_float(sign);  // +-0
  // Subnormal: normalise the mantissa.
  std::uint32_t e = 113;
  while ((mant & 0x0400u) == 0) {
    mant <<= 1;
    --e;
  }
  return half_detail::bits_float(sign | (e << 23) | ((mant & 0x03FFu) << 13));
}

// float32 -> bfloat16 bits, round to nearest even (c10::BFloat16's rule, NaN -> 0x7FC0).
REEL_HALF_HD inline std::uint16_t float_to_bf16_bits(float f) {
  const std::uint32_t x = half_detail::float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0u;
  return static_cast<std::uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

// bfloat16 bits -> float32, exact.
REEL_HALF_HD inline float bf16_bits_to_float(std::uint16_t b) {
  return half_detail::bits_float(static_cast<std::uint32_t>(b) << 16);
}

namespace half_detail {
// The float32 a value converts through (PyTorch's path): bool 0/1, integers and doubles cast.
template <typename U>
REEL_HALF_HD float to_float(U v) {
  static_assert(std::is_arithmetic_v<U>, "a 16-bit float is made from a number");
  return static_cast<float>(v);
}

// The part common to Half and BFloat16: 16 bits, made from and converted to float32.
template <typename Derived, std::uint16_t (*FromFloat)(float), float (*ToFloat)(std::uint16_t)>
struct Float16Base {
  std::uint16_t x;  // the bits (c10's name)

  Float16Base() = default;
  template <typename U, typename = std::enable_if_t<std::is_arithmetic_v<U>>>
  REEL_HALF_HD explicit Float16Base(U v) : x(FromFloat(to_float(v))) {}

  REEL_HALF_HD static Derived from_bits(std::uint16_t bits) {
    Derived d;
    d.x = bits;
    return d;
  }
  REEL_HALF_HD std::uint16_t bits() const { return x; }
  REEL_HALF_HD explicit operator float() const { return ToFloat(x); }
  REEL_HALF_HD explicit operator double() const { return static_cast<double>(ToFloat(x)); }
};
}  // namespace half_detail

struct Half : half_detail::Float16Base<Half, float_to_half_bits, half_bits_to_float> {
  using Float16Base::Float16Base;
};
struct BFloat16 : half_detail::Float16Base<BFloat16, float_to_bf16_bits, bf16_bits_to_float> {
  using Float16Base::Float16Base;
};

// Comparison by value, as float32 (NaN is unequal to everything; -0 == +0).
REEL_HALF_HD inline bool operator==(Half a, Half b) {
  return static_cast<float>(a) == static_cast<float>(b);
}
REEL_HALF_HD inline bool operator!=(Half a, Half b) { return !(a == b); }
REEL_HALF_HD inline bool operator==(BFloat16 a, BFloat16 b) {
  return static_cast<float>(a) == static_cast<float>(b);
}
REEL_HALF_HD inline bool operator!=(BFloat16 a, BFloat16 b) { return !(a == b); }

// complex32: two float16 (real, imaginary), PyTorch's c10::complex<c10::Half>.
struct ComplexHalf {
  using value_type = Half;
  Half re;
  Half im;

  ComplexHalf() = default;
  REEL_HALF_HD ComplexHalf(Half r, Half i) : re(r), im(i) {}
  // A real number: imaginary part 0.
  template <typename U, typename = std::enable_if_t<std::is_arithmetic_v<U>>>
  REEL_HALF_HD explicit ComplexHalf(U v) : re(v), im(0.0f) {}
  // From any complex type (std::complex, cuda::std::complex): each part rounded once.
  template <typename C, typename = decltype(std::declval<C>().imag())>
  REEL_HALF_HD explicit ComplexHalf(const C& c)
      : re(static_cast<float>(c.real())), im(static_cast<float>(c.imag())) {}
  REEL_HALF_HD Half real() const { return re; }
  REEL_HALF_HD Half imag() const { return im; }
  REEL_HALF_HD friend bool operator==(ComplexHalf a, ComplexHalf b) {
    return a.re == b.re && a.im == b.im;
  }
  REEL_HALF_HD friend bool operator!=(ComplexHalf a, ComplexHalf b) { return !(a == b); }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2 && sizeof(ComplexHalf) == 4);
static_assert(std::is_trivially_copyable_v<Half> && std::is_trivially_copyable_v<ComplexHalf>);

// Whether T is one of the 16-bit float types (or complex32).
template <typename T> inline constexpr bool kIsHalfType =
    std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
template <typename T> inline constexpr bool kIsHalfOrComplexHalf =
    kIsHalfType<T> || std::is_same_v<T, ComplexHalf>;

}  // namespace reel
