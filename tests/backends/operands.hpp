#pragma once
// Operands for the backend tests: a host buffer and a strided view into it, in the layouts
// the harnesses sweep (contiguous, transposed, sliced with a storage offset and gaps,
// broadcast with stride 0), filled with random values (optionally NaN, infinities, signed
// zeros), and a dtype-aware comparison. Shared by test_parity.cpp (every op on every backend)
// and test_cpu_vs_reference.cpp (the CPU backend's own machinery).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.hpp"

namespace reel::test::operands {

using namespace reel::backends;

enum class Layout { Contiguous, Transposed, Sliced, Broadcast };
constexpr Layout kInputLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Sliced,
                                    Layout::Broadcast};
constexpr Layout kOutputLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Sliced};

inline std::mt19937_64& rng() {
  static std::mt19937_64 g(20240521);
  return g;
}
inline std::int64_t rand_int(std::int64_t lo, std::int64_t hi) {  // inclusive
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}

// A buffer and a strided view into it. Gaps of a sliced view hold random values too, so a
// kernel that writes outside its view shows up as a mismatch.
struct Operand {
  std::vector<std::uint64_t> storage;  // 8-byte aligned
  std::int64_t offset = 0;             // elements before the view's first element
  std::int64_t elements = 0;           // elements in storage
  View view;

  Operand clone() const {
    Operand o = *this;
    o.rebase();
    return o;
  }
  void rebase() {
    view.data = reinterpret_cast<std::byte*>(storage.data()) + offset * element_size(view.dtype);
  }
};

template <typename T>
T random_real(bool specials) {
  if (specials && rand_int(0, 19) == 0) {
    const T values[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(), T(0), -T(0)};
    return values[rand_int(0, 4)];
  }
  return std::uniform_real_distribution<T>(T(-3), T(3))(rng());
}

inline void fill_random(Operand& o, bool specials) {
  visit_dtype(o.view.dtype, [&]<typename T>() {
    T* p = reinterpret_cast<T*>(o.storage.data());
    for (std::int64_t i = 0; i < o.elements; ++i) {
      if constexpr (std::is_same_v<T, bool>) p[i] = rand_int(0, 1) == 1;
      else if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(rand_int(-100, 100));
      else if constexpr (kIsHalfType<T>) p[i] = T(random_real<float>(specials));
      else if constexpr (std::is_same_v<T, ComplexHalf>) {
        p[i] = T(Half(random_real<float>(specials)), Half(random_real<float>(specials)));
      } else if constexpr (is_complex_v<T>) {
        using R = typename T::value_type;
        p[i] = T(random_real<R>(specials), random_real<R>(specials));
      } else p[i] = random_real<T>(specials);
    }
  });
}

inline Operand make_operand(DType t, const Shape& shape, Layout layout, bool specials = false) {
  Operand o;
  const int nd = shape.size();
  Strides strides = contiguous_strides(shape);
  std::int64_t elements = std::max<std::int64_t>(numel_of(shape), 1);
  if (layout == Layout::Transposed && nd >= 2) {  // dims stored in reverse order
    Shape reversed;
    for (int d = nd - 1; d >= 0; --d) reversed.push_back(shape[d]);
    const Strides rs = contiguous_strides(reversed);
    for (int d = 0; d < nd; ++d) strides[d] = rs[nd - 1 - d];
  } else if (layout == Layout::Sliced && nd >= 1) {  // x[1:, 1:, ..., 1::2] of a larger buffer
    Shape big = shape;
    for (int d = 0; d < nd; ++d) big[d] = shape[d] + 2;
    big[nd - 1] = 2 * shape[nd - 1] + 2;
    const Strides bs = contiguous_strides(big);
    for (int d = 0; d < nd; ++d) o.offset += bs[d];
    strides = bs;
    strides[nd - 1] = 2;
    elements = numel_of(big);
  } else if (layout == Layout::Broadcast && nd >= 1) {  // some dims expanded from size 1
    Shape stored = shape;
    const int forced = static_cast<int>(rand_int(0, nd - 1));
    for (int d = 0; d < nd; ++d)
      if (d == forced || rand_int(0, 1) == 1) stored[d] = 1;
    strides = contiguous_strides(stored);
    for (int d = 0; d < nd; ++d)
      if (stored[d] == 1) strides[d] = 0;
    elements = std::max<std::int64_t>(numel_of(stored), 1);
  }
  o.elements = elements;
  const auto bytes = static_cast<std::size_t>(elements) * element_size(t);
  o.storage.assign(bytes / 8 + 2, 0);
  o.view = View{nullptr, t, shape, strides};
  o.rebase();
  fill_random(o, specials);
  return o;
}

// The 16-bit types compared as the float32 / complex64 values they hold.
template <typename T>
auto widened(T x) {
  if constexpr (kIsHalfType<T>) return static_cast<float>(x);
  else if constexpr (std::is_same_v<T, ComplexHalf>)
    return complex64(static_cast<float>(x.real()), static_cast<float>(x.imag()));
  else return x;
}

template <typename T>
bool is_nan(T x) {
  if constexpr (is_complex_v<T>) return std::isnan(x.real()) || std::isnan(x.imag());
  else return std::isnan(x);
}

template <typename T>
std::string value_str(T x) {
  if constexpr (is_complex_v<T>) return fmt::format("({}, {})", x.real(), x.imag());
  else return fmt::format("{}", x);
}

// Every storage element of `got` against `want`: equal, both NaN, or
// |got - want| <= atol + rtol * max(|want|, |bound|), with `bound` the natural error scale where
// |want| is not: for sums and dot products the same computation on absolute values, for the
// activation backward helpers |grad| (their factor, e.g. 1 - t^2, may cancel).
inline void check_close(const Operand& got, const Operand& want, double rtol, double atol,
                 const Operand* bound = nullptr) {
  REQUIRE(got.elements == want.elements);
  std::int64_t bad = 0;
  std::string first;
  visit_dtype(want.view.dtype, [&]<typename T>() {
    const T* gp = reinterpret_cast<const T*>(got.storage.data());
    const T* wp = reinterpret_cast<const T*>(want.storage.data());
    const T* bp = bound ? reinterpret_cast<const T*>(bound->storage.data()) : nullptr;
    for (std::int64_t i = 0; i < want.elements; ++i) {
      const auto g = widened(gp[i]);
      const auto w = widened(wp[i]);
      bool ok = g == w;
      if constexpr (!std::is_integral_v<T>) {
        const double scale = std::max<double>(std::abs(w), bp ? std::abs(widened(bp[i])) : 0.0);
        ok = ok || (is_nan(g) && is_nan(w)) || std::abs(g - w) <= atol + rtol * scale;
      }
      if (!ok && bad++ == 0) first = fmt::format("element {}: got {}, want {}", i, value_str(g), value_str(w));
    }
  });
  INFO(first);
  CHECK(bad == 0);
}

inline Shape random_shape(int max_rank, std::int64_t max_extent) {
  Shape s;
  const int rank = static_cast<int>(rand_int(0, max_rank));
  for (int d = 0; d < rank; ++d) s.push_back(rand_int(1, max_extent));
  return s;
}

// Shapes for elementwise tests: small random ones, odd vector-width tails, and a few large
// enough to be split over threads.
inline std::vector<Shape> elementwise_shapes() {
  std::vector<Shape> shapes = {{}, {1}, {7}, {17}, {33}, {3, 5}, {2, 3, 4}, {300, 257}, {5, 7, 2000}};
  for (int i = 0; i < 6; ++i) shapes.push_back(random_shape(4, 9));
  return shapes;
}

constexpr double kRtol32 = 1e-5, kRtol64 = 1e-12;
// The 16-bit types: one unit in the last place (2^-7 for bfloat16's 8 significant bits, 2^-10
// for float16's 11): both sides compute in float32 and round once, and float32 results that
// differ in their last bits may round to neighbouring 16-bit values.
inline double rtol_for(DType t) {
  if (t == kBFloat16) return 0x1p-7;
  if (t == kFloat16 || t == kComplex32) return 0x1p-10;
  return t == kFloat32 || t == kComplex64 ? kRtol32 : kRtol64;
}

}  // namespace reel::test::operands
