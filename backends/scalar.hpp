#pragma once
// Scalar: a number that travels with an op (fill value, clamp bound, `x + 2.5`). It remembers
// whether it was written as a bool, an integer, a real or a complex number, because PyTorch's
// type promotion treats those differently.
#include <complex>
#include <cstdint>
#include <type_traits>

#include "backends/dtype.hpp"

namespace reel {

class Scalar {
 public:
  enum class Kind : std::uint8_t { Bool, Int, Float, Complex };

  Scalar() = default;
  Scalar(bool v) : value_(v ? 1.0 : 0.0), int_(v), kind_(Kind::Bool) {}
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Scalar(T v) : value_(static_cast<double>(v)), int_(static_cast<std::int64_t>(v)), kind_(Kind::Int) {}
  template <typename T>
    requires std::is_floating_point_v<T>
  Scalar(T v) : value_(static_cast<double>(v)), kind_(Kind::Float) {}
  template <typename T>
  Scalar(std::complex<T> v) : value_(v.real(), v.imag()), kind_(Kind::Complex) {}
  // The 16-bit element types (exact in double).
  Scalar(Half v) : value_(static_cast<double>(v)), kind_(Kind::Float) {}
  Scalar(BFloat16 v) : value_(static_cast<double>(v)), kind_(Kind::Float) {}
  Scalar(ComplexHalf v)
      : value_(static_cast<double>(v.real()), static_cast<double>(v.imag())), kind_(Kind::Complex) {}

  Kind kind() const { return kind_; }
  bool is_complex() const { return kind_ == Kind::Complex; }
  bool is_floating() const { return kind_ == Kind::Float; }
  bool is_integral() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }
  std::complex<double> to_complex() const { return value_; }
  double to_double() const { return value_.real(); }
  std::int64_t to_int() const {
    return kind_ == Kind::Int || kind_ == Kind::Bool ? int_ : static_cast<std::int64_t>(value_.real());
  }

  // The value converted to the C++ element type T (complex -> real drops the imaginary part).
  template <typename T>
  T to() const {
    if constexpr (std::is_same_v<T, bool>) return value_ != std::complex<double>(0.0, 0.0);
    else if constexpr (kIsHalfType<T>) return T(static_cast<float>(value_.real()));  // as c10
    else if constexpr (std::is_same_v<T, ComplexHalf>) return T(std::complex<float>(value_));
    else if constexpr (std::is_same_v<T, std::int64_t>) return to_int();
    else if constexpr (is_complex_v<T>) return T(static_cast<typename T::value_type>(value_.real()),
                                                  static_cast<typename T::value_type>(value_.imag()));
    else return static_cast<T>(value_.real());
  }

  // The dtype PyTorch gives a tensor made from this number alone (torch.tensor(v)).
  DType natural_dtype() const {
    switch (kind_) {
      case Kind::Bool: return kBool;
      case Kind::Int: return kInt64;
      case Kind::Float: return kFloat32;
      case Kind::Complex: return kComplex64;
    }
    return kFloat32;
  }

 private:
  std::complex<double> value_{0.0, 0.0};
  std::int64_t int_ = 0;
  Kind kind_ = Kind::Float;
};

}  // namespace reel
