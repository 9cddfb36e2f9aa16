#pragma once
// DType: the element types reel supports, their sizes and names, and PyTorch's type promotion
// for them. Shared vocabulary of the backend contract and the Tensor layer.
#include <complex>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backends/error.hpp"

namespace reel {

enum class DType : std::uint8_t { Bool, Int64, Float32, Float64, Complex64, Complex128 };

inline constexpr DType kBool = DType::Bool;
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

using complex64 = std::complex<float>;
using complex128 = std::complex<double>;

constexpr std::size_t element_size(DType t) {
  switch (t) {
    case DType::Bool: return 1;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Complex64: return 8;
    case DType::Complex128: return 16;
  }
  return 0;
}

// PyTorch's names, as printed in `dtype=...`.
constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Complex64: return "complex64";
    case DType::Complex128: return "complex128";
  }
  return "?";
}

constexpr bool is_complex(DType t) { return t == DType::Complex64 || t == DType::Complex128; }
constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }
// Floating or complex: the dtypes that can carry gradients.
constexpr bool is_inexact(DType t) { return is_floating(t) || is_complex(t); }
constexpr bool is_integral(DType t, bool include_bool) {
  return t == DType::Int64 || (include_bool && t == DType::Bool);
}

// complex64 -> float32, complex128 -> float64; real types unchanged.
constexpr DType to_real(DType t) {
  if (t == DType::Complex64) return DType::Float32;
  if (t == DType::Complex128) return DType::Float64;
  return t;
}
// float32 -> complex64, float64 -> complex128; complex unchanged; others -> complex64.
constexpr DType to_complex(DType t) {
  if (t == DType::Float64 || t == DType::Complex128) return DType::Complex128;
  return DType::Complex64;
}

// torch.promote_types restricted to reel's dtypes.
constexpr DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (is_complex(a) || is_complex(b)) {
    // Complex wins; its precision is the wider of the two.
    bool wide = a == DType::Float64 || b == DType::Float64 || a == DType::Complex128 ||
                b == DType::Complex128;
    return wide ? DType::Complex128 : DType::Complex64;
  }
  // Bool < Int64 < Float32 < Float64 happens to be the enum order.
  return static_cast<std::uint8_t>(a) > static_cast<std::uint8_t>(b) ? a : b;
}

// torch.can_cast: whether an op computed in `from` may write its result into a `to` tensor
// (no complex -> real, no floating -> integral, nothing but bool -> bool).
constexpr bool can_cast(DType from, DType to) {
  if (is_complex(from) && !is_complex(to)) return false;
  if (is_floating(from) && !is_inexact(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

// C++ type <-> DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<complex64> { static constexpr DType value = DType::Complex64; };
template <> struct dtype_of<complex128> { static constexpr DType value = DType::Complex128; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

template <typename T> struct is_complex_type : std::false_type {};
template <typename T> struct is_complex_type<std::complex<T>> : std::true_type {};
template <typename T> inline constexpr bool is_complex_v = is_complex_type<T>::value;

// Calls f.template operator()<T>() with T the C++ type of `t`. Usage:
//   visit_dtype(t, [&]<typename T>() { ... });
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f.template operator()<bool>();
    case DType::Int64: return f.template operator()<std::int64_t>();
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Complex64: return f.template operator()<complex64>();
    case DType::Complex128: return f.template operator()<complex128>();
  }
  fail("internal: unknown dtype {}", static_cast<int>(t));
}

}  // namespace reel

template <>
struct fmt::formatter<reel::DType> : fmt::formatter<std::string_view> {
  auto format(reel::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(reel::dtype_name(t), ctx);
  }
};
