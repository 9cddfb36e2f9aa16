#pragma once
// DType for C++: the fmt-free core (backends/dtype_core.hpp: the enum, sizes, names, promotion,
// dtype sets) plus the C++ element type of each dtype, visit_dtype, and fmt printing.
#include <complex>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backends/dtype_core.hpp"
#include "backends/error.hpp"
#include "backends/half.hpp"

namespace reel {

using complex64 = std::complex<float>;
using complex128 = std::complex<double>;

// C++ type <-> DType.
template <typename T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::Int8; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::Int16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<complex64> { static constexpr DType value = DType::Complex64; };
template <> struct dtype_of<complex128> { static constexpr DType value = DType::Complex128; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<ComplexHalf> { static constexpr DType value = DType::Complex32; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

template <typename T> struct is_complex_type : std::false_type {};
template <typename T> struct is_complex_type<std::complex<T>> : std::true_type {};
template <typename T> inline constexpr bool is_complex_v = is_complex_type<T>::value;

// Calls f.template operator()<T>() with T the C++ type of `t` (Half, BFloat16 and ComplexHalf
// for the 16-bit dtypes: storage types without arithmetic, see backends/half.hpp). Usage:
//   visit_dtype(t, [&]<typename T>() { ... });
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f.template operator()<bool>();
    case DType::UInt8: return f.template operator()<std::uint8_t>();
    case DType::Int8: return f.template operator()<std::int8_t>();
    case DType::Int16: return f.template operator()<std::int16_t>();
    case DType::Int32: return f.template operator()<std::int32_t>();
    case DType::Int64: return f.template operator()<std::int64_t>();
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Complex64: return f.template operator()<complex64>();
    case DType::Complex128: return f.template operator()<complex128>();
    case DType::Float16: return f.template operator()<Half>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    case DType::Complex32: return f.template operator()<ComplexHalf>();
  }
  fail("internal: unknown dtype {}", static_cast<int>(t));
}

// visit_dtype for kernels that compute in their element type: the 16-bit dtypes never reach
// them (Backend::run hands such kernels float32 copies), so they are not instantiated for them.
template <typename F>
decltype(auto) visit_wide_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float16: case DType::BFloat16: case DType::Complex32:
      fail("internal: dtype {} reached a kernel without a 16-bit path", dtype_name(t));
    case DType::Bool: return f.template operator()<bool>();
    case DType::UInt8: return f.template operator()<std::uint8_t>();
    case DType::Int8: return f.template operator()<std::int8_t>();
    case DType::Int16: return f.template operator()<std::int16_t>();
    case DType::Int32: return f.template operator()<std::int32_t>();
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
