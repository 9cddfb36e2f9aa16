#pragma once
// DType: the element types reel supports, their sizes and names, PyTorch's type promotion, and
// sets of dtypes (DTypeSet) for the op table. Plain C++17 with no fmt, so that nvcc (which
// builds reel's kernels as C++17 and cannot parse fmt) includes the very same definitions as
// the C++ compiler: the CUDA backend keeps no mirror types. backends/dtype.hpp adds the C++
// type mapping, visit_dtype and printing on top.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace reel {

// The order carries no meaning (promotion and categories are spelled out below); the X-macro
// is the one list every per-dtype table is generated from.
//   X(Enumerator, name as PyTorch prints it, bytes)
#define REEL_DTYPES(X)        \
  X(Bool, "bool", 1)          \
  X(UInt8, "uint8", 1)        \
  X(Int8, "int8", 1)          \
  X(Int16, "int16", 2)        \
  X(Int32, "int32", 4)        \
  X(Int64, "int64", 8)        \
  X(Float32, "float32", 4)    \
  X(Float64, "float64", 8)    \
  X(Complex64, "complex64", 8) \
  X(Complex128, "complex128", 16) \
  X(Float16, "float16", 2)     \
  X(BFloat16, "bfloat16", 2)   \
  X(Complex32, "complex32", 4)

enum class DType : std::uint8_t {
#define REEL_DTYPE_ENUM(e, name, bytes) e,
  REEL_DTYPES(REEL_DTYPE_ENUM)
#undef REEL_DTYPE_ENUM
};

#define REEL_DTYPE_COUNT_ONE(e, name, bytes) +1
inline constexpr int kNumDTypes = 0 REEL_DTYPES(REEL_DTYPE_COUNT_ONE);
#undef REEL_DTYPE_COUNT_ONE

// LibTorch's names (torch::kUInt8 == torch::kByte, ...).
inline constexpr DType kBool = DType::Bool;
inline constexpr DType kUInt8 = DType::UInt8;
inline constexpr DType kByte = DType::UInt8;
inline constexpr DType kInt8 = DType::Int8;
inline constexpr DType kChar = DType::Int8;
inline constexpr DType kInt16 = DType::Int16;
inline constexpr DType kShort = DType::Int16;
inline constexpr DType kInt32 = DType::Int32;
inline constexpr DType kInt = DType::Int32;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kLong = DType::Int64;
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kDouble = DType::Float64;
inline constexpr DType kComplex64 = DType::Complex64;
inline constexpr DType kComplexFloat = DType::Complex64;
inline constexpr DType kComplex128 = DType::Complex128;
inline constexpr DType kComplexDouble = DType::Complex128;
inline constexpr DType kFloat16 = DType::Float16;
inline constexpr DType kHalf = DType::Float16;
inline constexpr DType kBFloat16 = DType::BFloat16;
inline constexpr DType kComplex32 = DType::Complex32;
inline constexpr DType kComplexHalf = DType::Complex32;

constexpr std::size_t element_size(DType t) {
  switch (t) {
#define REEL_DTYPE_SIZE(e, name, bytes) case DType::e: return bytes;
    REEL_DTYPES(REEL_DTYPE_SIZE)
#undef REEL_DTYPE_SIZE
  }
  return 0;
}

// PyTorch's names, as printed in `dtype=...`.
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
#define REEL_DTYPE_NAME(e, name, bytes) case DType::e: return name;
    REEL_DTYPES(REEL_DTYPE_NAME)
#undef REEL_DTYPE_NAME
  }
  return "?";
}

constexpr bool is_complex(DType t) {
  return t == DType::Complex32 || t == DType::Complex64 || t == DType::Complex128;
}
// torch.is_floating_point: the four real floating dtypes.
constexpr bool is_floating(DType t) {
  return t == DType::Float16 || t == DType::BFloat16 || t == DType::Float32 ||
         t == DType::Float64;
}
// The 16-bit floating dtypes (float16, bfloat16, complex32): storage types that kernels compute
// in float32 (complex64) and round once on store.
constexpr bool is_reduced_float(DType t) {
  return t == DType::Float16 || t == DType::BFloat16 || t == DType::Complex32;
}
// float32 or float64: the dtypes the CPU backend's SIMD kernels compute in.
constexpr bool is_float32_or_64(DType t) { return t == DType::Float32 || t == DType::Float64; }
// The dtype a 16-bit dtype computes in (float32, or complex64 for complex32); others unchanged.
constexpr DType opmath_dtype(DType t) {
  if (t == DType::Float16 || t == DType::BFloat16) return DType::Float32;
  if (t == DType::Complex32) return DType::Complex64;
  return t;
}
// Floating or complex: the dtypes that can carry gradients.
constexpr bool is_inexact(DType t) { return is_floating(t) || is_complex(t); }
constexpr bool is_integral(DType t, bool include_bool) {
  switch (t) {
    case DType::UInt8: case DType::Int8: case DType::Int16: case DType::Int32: case DType::Int64:
      return true;
    case DType::Bool:
      return include_bool;
    default:
      return false;
  }
}
constexpr bool is_signed_integral(DType t) { return is_integral(t, false) && t != DType::UInt8; }

// complex32 -> float16, complex64 -> float32, complex128 -> float64; real types unchanged.
constexpr DType to_real(DType t) {
  if (t == DType::Complex32) return DType::Float16;
  if (t == DType::Complex64) return DType::Float32;
  if (t == DType::Complex128) return DType::Float64;
  return t;
}
// float64 -> complex128, float16 -> complex32, complex unchanged, every other dtype (bfloat16
// has no complex twin) -> complex64.
constexpr DType to_complex(DType t) {
  if (t == DType::Float64 || t == DType::Complex128) return DType::Complex128;
  if (t == DType::Float16 || t == DType::Complex32) return DType::Complex32;
  return DType::Complex64;
}

// PyTorch's categories, lowest first: a value of a higher category always wins promotion.
enum class DTypeCategory : std::uint8_t { Bool, Integral, Floating, Complex };
constexpr DTypeCategory category(DType t) {
  if (t == DType::Bool) return DTypeCategory::Bool;
  if (is_complex(t)) return DTypeCategory::Complex;
  if (is_floating(t)) return DTypeCategory::Floating;
  return DTypeCategory::Integral;
}

// torch.promote_types.
//  - bool joins anything as that thing;
//  - complex wins, with the precision of the two real parts promoted (float64 + complex64 ->
//    complex128, bfloat16 + complex32 -> complex64, int + complex32 -> complex32);
//  - floating wins over integers; of two floating dtypes the wider, and float16 with bfloat16
//    (neither holds the other) -> float32;
//  - two integers: the wider, except that uint8 with a signed type needs a signed type that
//    holds 0..255 too: uint8 + int8 -> int16 (PyTorch's table has the same entry).
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  if (is_complex(a) || is_complex(b)) return to_complex(promote_types(to_real(a), to_real(b)));
  if (is_floating(a) && is_floating(b)) {
    if (a == DType::Float64 || b == DType::Float64) return DType::Float64;
    return DType::Float32;  // float32 with a 16-bit type, or float16 with bfloat16
  }
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  // Two different integer types.
  if (a == DType::UInt8 || b == DType::UInt8) {
    const DType other = a == DType::UInt8 ? b : a;
    return other == DType::Int8 ? DType::Int16 : other;
  }
  return element_size(a) > element_size(b) ? a : b;
}

// torch.can_cast: whether an op computed in `from` may write its result into a `to` tensor
// (no complex -> real, no floating -> integral, nothing but bool -> bool).
constexpr bool can_cast(DType from, DType to) {
  if (is_complex(from) && !is_complex(to)) return false;
  if (is_floating(from) && !is_inexact(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

// A set of dtypes, one bit each: what an op accepts, in the op table.
class DTypeSet {
 public:
  constexpr DTypeSet() = default;
  constexpr DTypeSet(DType t) : bits_(bit(t)) {}
  constexpr bool contains(DType t) const { return (bits_ & bit(t)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr DTypeSet operator|(DTypeSet o) const { return from_bits(bits_ | o.bits_); }
  constexpr DTypeSet operator-(DTypeSet o) const { return from_bits(bits_ & ~o.bits_); }
  constexpr bool operator==(DTypeSet o) const { return bits_ == o.bits_; }

 private:
  static constexpr std::uint32_t bit(DType t) { return 1u << static_cast<unsigned>(t); }
  static constexpr DTypeSet from_bits(std::uint32_t b) {
    DTypeSet s;
    s.bits_ = b;
    return s;
  }
  std::uint32_t bits_ = 0;
};

namespace dtypes {
inline constexpr DTypeSet kIntegers =
    DTypeSet(DType::UInt8) | DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64;
inline constexpr DTypeSet kFloating =
    DTypeSet(DType::Float16) | DType::BFloat16 | DType::Float32 | DType::Float64;
inline constexpr DTypeSet kComplex =
    DTypeSet(DType::Complex32) | DType::Complex64 | DType::Complex128;
inline constexpr DTypeSet kInexact = kFloating | kComplex;
inline constexpr DTypeSet kAll = DTypeSet(DType::Bool) | kIntegers | kInexact;
// Everything but bool (arithmetic that has no boolean meaning: -x, a - b, a ** b).
inline constexpr DTypeSet kNumbers = kAll - DType::Bool;
// Everything ordered (no complex): comparisons, max/min, relu.
inline constexpr DTypeSet kReal = kAll - kComplex;
inline constexpr DTypeSet kRealNumbers = kReal - DType::Bool;
}  // namespace dtypes

}  // namespace reel
