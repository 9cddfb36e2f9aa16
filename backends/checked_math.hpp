#pragma once
// Overflow-checked integer arithmetic for sizes, lengths and byte counts.
//
// Shape and padding arithmetic runs on user-supplied int64 values (a padding of INT64_MAX, a
// dilation of 2^62), and signed overflow is undefined behaviour in C++: the result could be a
// wrapped, plausible-looking size. Every sum or product of such values goes through these
// helpers, which return std::nullopt instead of a wrapped value; the caller turns that into a
// reel::Error naming the op and the values. They are in backends/ so every layer can use them.
#include <cstddef>
#include <cstdint>
#include <optional>

namespace reel {

// a + b, a - b, a * b, or nullopt when the exact result doesn't fit in int64.
inline std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}
inline std::optional<std::int64_t> checked_sub(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return std::nullopt;
  return r;
}
inline std::optional<std::int64_t> checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The byte size of `count` elements of `element_size` bytes, or nullopt when it doesn't fit in
// int64 (and hence in a size_t on every platform reel runs on, and in a ptrdiff_t between two
// pointers into the buffer). count must be >= 0.
inline std::optional<std::size_t> checked_nbytes(std::int64_t count, std::size_t element_size) {
  std::int64_t r;
  if (count < 0 || __builtin_mul_overflow(count, static_cast<std::int64_t>(element_size), &r)) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(r);
}

// Rounds n up to a multiple of `alignment` (a power of two), or nullopt on size_t overflow.
inline std::optional<std::size_t> checked_round_up(std::size_t n, std::size_t alignment) {
  std::size_t r;
  if (__builtin_add_overflow(n, alignment - 1, &r)) return std::nullopt;
  return r & ~(alignment - 1);
}

}  // namespace reel
