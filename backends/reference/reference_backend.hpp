#pragma once
// The reference backend: naive loops that are obviously right. It is the oracle every fast
// kernel is tested against and the first backend a student should read, so each kernel is the
// formula written as a loop over `for_each_offset` (backends/strided_loop.hpp), with no
// blocking, no threads and no SIMD.
//
// The methods are defined one concept per file:
//   memory.cpp      allocate / free / host copies, and reference_backend()
//   elementwise.cpp copy (with cast), fill, where
//   unary.cpp       unary math
//   binary.cpp      binary math, comparisons, activation backward helpers
//   reduce.cpp      reduce, arg_reduce
//   matmul.cpp      batched matmul
//   indexing.cpp    index_select, index_add, gather, scatter_add
//   random.cpp      random fill (Philox, backends/philox.hpp)
//   conv1d.cpp      conv1d forward, backward input, backward weight and bias
//   pad1d.cpp       pad1d (zeros, reflect, replicate, circular) and its backward
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "backends/backend.hpp"

namespace reel::backends {

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) override;

  void copy(const View& out, const View& in) override;
  void fill(const View& out, Scalar value) override;
  void unary(UnaryOp op, const View& out, const View& in) override;
  void binary(BinaryOp op, const View& out, const View& a, const View& b) override;
  void where(const View& out, const View& cond, const View& a, const View& b) override;

  void reduce(ReduceOp op, const View& out, const View& in) override;
  void arg_reduce(ArgReduceOp op, const View& values, const View& indices, const View& in,
                  int dim) override;

  void matmul(const View& out, const View& a, const View& b) override;

  void index_select(const View& out, const View& in, int dim, const View& index) override;
  void index_add(const View& out, int dim, const View& index, const View& src) override;
  void gather(const View& out, const View& in, int dim, const View& index) override;
  void scatter_add(const View& out, int dim, const View& index, const View& src) override;

  void random(const View& out, const RandomSpec& spec) override;

  void conv1d_forward(const View& out, const View& in, const View& weight, const View& bias,
                      const Conv1dParams& p) override;
  void conv1d_backward_input(const View& grad_in, const View& grad_out, const View& weight,
                             const Conv1dParams& p) override;
  void conv1d_backward_weight(const View& grad_weight, const View& grad_bias,
                              const View& grad_out, const View& in,
                              const Conv1dParams& p) override;
  void pad1d(const View& out, const View& in, PadMode mode, std::int64_t left,
             std::int64_t right) override;
  void pad1d_backward(const View& grad_in, const View& grad_out, PadMode mode,
                      std::int64_t left, std::int64_t right) override;
};

// Small element-level helpers shared by the reference kernels (and free for the CPU backend to
// reuse, so both agree on casts and overflow).
namespace reference {

// float for complex64, double for complex128, T itself for real types.
template <typename T> struct real_of { using type = T; };
template <typename T> struct real_of<std::complex<T>> { using type = T; };
template <typename T> using real_t = typename real_of<T>::type;

// The type sums and dot products accumulate in: float32 (and complex64) in double precision,
// so the oracle is as close to exact as cheaply possible; bool counts in int64; everything else
// in itself. (PyTorch sums float32 in float32 with cascade summation; the fast kernels are
// compared to this with a tolerance.)
template <typename T> struct acc_of { using type = T; };
template <> struct acc_of<bool> { using type = std::int64_t; };
template <> struct acc_of<float> { using type = double; };
template <> struct acc_of<complex64> { using type = complex128; };
template <typename T> using acc_t = typename acc_of<T>::type;

template <typename T>
bool is_nan(T x) {
  if constexpr (is_complex_v<T>) return std::isnan(x.real()) || std::isnan(x.imag());
  else if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
  else return false;
}

// std::conj of a real number returns a complex; here conj is the identity on reals.
template <typename T>
T conj(T x) {
  if constexpr (is_complex_v<T>) return std::conj(x);
  else return x;
}

// Converts one element with PyTorch's rules: anything -> bool is (x != 0); complex -> real drops
// the imaginary part; real -> complex has imaginary part 0; bool -> number is 0 or 1; floating
// -> int64 truncates toward zero. NaN or out-of-range floating -> int64 is undefined behaviour
// in C++; we return INT64_MIN there, which is what x86's cvttsd2si (and so PyTorch) produces.
template <typename To, typename From>
To cast_value(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (is_complex_v<To>) {
    using R = typename To::value_type;
    if constexpr (is_complex_v<From>) return To(static_cast<R>(x.real()), static_cast<R>(x.imag()));
    else return To(cast_value<R>(x), R(0));
  } else if constexpr (is_complex_v<From>) {
    return cast_value<To>(x.real());
  } else if constexpr (std::is_same_v<To, std::int64_t> && std::is_floating_point_v<From>) {
    constexpr From limit = From(9223372036854775808.0);  // 2^63
    if (!(x >= -limit && x < limit)) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(x);
  } else {
    return static_cast<To>(x);
  }
}

// a + b and a * b, where int64 wraps around on overflow (two's complement, like PyTorch)
// instead of being undefined behaviour, and bool means logical or / and.
template <typename T>
T plus(T a, T b) {
  if constexpr (std::is_same_v<T, std::int64_t>)
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
  else if constexpr (std::is_same_v<T, bool>) return a || b;
  else return a + b;
}
template <typename T>
T times(T a, T b) {
  if constexpr (std::is_same_v<T, std::int64_t>)
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
  else if constexpr (std::is_same_v<T, bool>) return a && b;
  else return a * b;
}

}  // namespace reference
}  // namespace reel::backends
