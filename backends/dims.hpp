#pragma once
// Dims: a small inline vector of int64 for shapes and strides. Tensors in reel have at most
// kMaxDims dimensions, so a shape never touches the heap (host overhead is a feature).
#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/checked_math.hpp"
#include "backends/error.hpp"

namespace reel {

inline constexpr int kMaxDims = 8;

class Dims {
 public:
  Dims() = default;
  Dims(std::initializer_list<std::int64_t> values) { assign(values.begin(), values.end()); }
  explicit Dims(std::span<const std::int64_t> values) { assign(values.begin(), values.end()); }
  Dims(const std::vector<std::int64_t>& values) { assign(values.begin(), values.end()); }
  // A Dims of `n` copies of `value`.
  static Dims filled(int n, std::int64_t value) {
    Dims d;
    d.resize(n, value);
    return d;
  }

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t* data() { return data_.data(); }
  const std::int64_t* data() const { return data_.data(); }
  std::int64_t* begin() { return data_.data(); }
  std::int64_t* end() { return data_.data() + size_; }
  const std::int64_t* begin() const { return data_.data(); }
  const std::int64_t* end() const { return data_.data() + size_; }
  std::int64_t& operator[](int i) { return data_[static_cast<std::size_t>(i)]; }
  std::int64_t operator[](int i) const { return data_[static_cast<std::size_t>(i)]; }
  std::int64_t back() const { return data_[static_cast<std::size_t>(size_ - 1)]; }
  std::span<const std::int64_t> span() const { return {data_.data(), static_cast<std::size_t>(size_)}; }
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

  void push_back(std::int64_t v) {
    check(size_ < kMaxDims, "reel supports tensors of at most {} dimensions", kMaxDims);
    data_[static_cast<std::size_t>(size_++)] = v;
  }
  void insert(int pos, std::int64_t v) {
    push_back(0);
    for (int i = size_ - 1; i > pos; --i) data_[i] = data_[i - 1];
    data_[pos] = v;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < size_; ++i) data_[i] = data_[i + 1];
    --size_;
  }
  void resize(int n, std::int64_t value = 0) {
    check(n >= 0 && n <= kMaxDims, "reel supports tensors of at most {} dimensions, got {}",
          kMaxDims, n);
    for (int i = size_; i < n; ++i) data_[i] = value;
    size_ = n;
  }

  friend bool operator==(const Dims& a, const Dims& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  template <typename It>
  void assign(It first, It last) {
    auto n = std::distance(first, last);
    check(n <= kMaxDims, "reel supports tensors of at most {} dimensions, got {}", kMaxDims, n);
    size_ = static_cast<int>(n);
    std::copy(first, last, data_.begin());
  }
  std::array<std::int64_t, kMaxDims> data_{};
  int size_ = 0;
};

using Shape = Dims;
using Strides = Dims;

}  // namespace reel

template <>
struct fmt::formatter<reel::Dims> : fmt::formatter<std::string_view> {
  auto format(const reel::Dims& d, format_context& ctx) const {
    return fmt::format_to(ctx.out(), "[{}]", fmt::join(d.begin(), d.end(), ", "));
  }
};

namespace reel {

// Product of the extents (1 for a 0-dim shape), or nullopt when it doesn't fit in int64. A
// shape with a 0 extent has 0 elements however large the others are.
inline std::optional<std::int64_t> checked_numel(const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::int64_t n = 1;
  for (auto s : shape) {
    auto next = checked_mul(n, s);
    if (!next) return std::nullopt;
    n = *next;
  }
  return n;
}

// Product of the extents (1 for a 0-dim shape). Every tensor's shape was checked when it was
// made, so this only raises for a shape that was never a tensor's (the creation and view ops
// check first, with the op's name in the message).
// (Called on every op's hot path: one multiply per dim and a flag; the error is out of line.)
[[noreturn, gnu::cold, gnu::noinline]] inline void fail_numel_overflow(const Shape& shape) {
  fail("the shape {} has more elements than int64 can hold", shape);
}
[[gnu::always_inline]] inline std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  bool overflow = false, zero = false;
  for (auto s : shape) {
    zero |= s == 0;
    overflow |= __builtin_mul_overflow(n, s, &n);
  }
  if (zero) return 0;
  if (overflow) [[unlikely]] fail_numel_overflow(shape);
  return n;
}

// Row-major (C order) strides, in elements, or nullopt when one doesn't fit in int64 (size-0
// dims count as 1, as in PyTorch, so [0, 2^40, 2^40] has no representable strides).
inline std::optional<Strides> checked_contiguous_strides(const Shape& shape) {
  Strides st = Dims::filled(shape.size(), 1);
  std::int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    st[i] = acc;
    if (i == 0) break;  // the product past the first dim is never a stride
    auto next = checked_mul(acc, std::max<std::int64_t>(shape[i], 1));
    if (!next) return std::nullopt;
    acc = *next;
  }
  return st;
}

inline Strides contiguous_strides(const Shape& shape) {
  auto st = checked_contiguous_strides(shape);
  check(st.has_value(), "the strides of a tensor of shape {} overflow int64", shape);
  return *st;
}

// True when (shape, strides) describe a row-major layout without gaps. Size-1 dims may have any
// stride, as in PyTorch.
[[gnu::always_inline]] inline bool is_contiguous_layout(const Shape& shape, const Strides& strides) {
  // PyTorch: every empty tensor is contiguous.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return true;
  std::int64_t expected = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

// Wraps a possibly negative dim into [0, ndim); names the op in the error.
inline int wrap_dim(std::int64_t dim, int ndim, const char* op) {
  int n = std::max(ndim, 1);  // a 0-dim tensor accepts dim 0 and -1, as in PyTorch
  check(dim >= -n && dim < n,
        "{}: dimension out of range (expected to be in range of [{}, {}], but got {})", op, -n,
        n - 1, dim);
  return static_cast<int>(dim < 0 ? dim + n : dim);
}

}  // namespace reel
