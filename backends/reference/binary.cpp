// Reference backend, binary elementwise ops: out[i] = f(a[i], b[i]). a and b share the compute
// dtype and are already broadcast to out's shape (stride 0 on broadcast dims). Which
// (op, dtype) pairs exist is decided once, before the loop, by check_supported.
#include <cmath>
#include <numbers>

#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::cast_value;
using reference::is_nan;
using reference::real_t;

namespace {

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Pow: return "pow";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::Minimum: return "minimum";
    case BinaryOp::ReluBackward: return "relu_backward";
    case BinaryOp::GeluBackward: return "gelu_backward";
    case BinaryOp::SiluBackward: return "silu_backward";
    case BinaryOp::SigmoidBackward: return "sigmoid_backward";
    case BinaryOp::TanhBackward: return "tanh_backward";
    case BinaryOp::Eq: return "eq";
    case BinaryOp::Ne: return "ne";
    case BinaryOp::Lt: return "lt";
    case BinaryOp::Le: return "le";
    case BinaryOp::Gt: return "gt";
    case BinaryOp::Ge: return "ge";
    case BinaryOp::LogicalAnd: return "logical_and";
    case BinaryOp::LogicalOr: return "logical_or";
  }
  return "binary";
}

bool returns_bool(BinaryOp op) {
  switch (op) {
    case BinaryOp::Eq: case BinaryOp::Ne: case BinaryOp::Lt: case BinaryOp::Le:
    case BinaryOp::Gt: case BinaryOp::Ge: case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr:
      return true;
    default:
      return false;
  }
}

void check_supported(BinaryOp op, DType t) {
  const char* name = op_name(op);
  const bool integral = is_integral(t, /*include_bool=*/true);
  switch (op) {
    case BinaryOp::Add: case BinaryOp::Mul: case BinaryOp::Eq: case BinaryOp::Ne:
    case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr:
      return;  // every dtype (on bool, add is `or` and mul is `and`, as in PyTorch)
    case BinaryOp::Sub:
      check(t != kBool, "sub: subtraction, the `-` operator, with two bool tensors is not "
            "supported. Use the `^` or `logical_xor()` operator instead.");
      return;
    case BinaryOp::Div:
      check(!integral, "div: integer inputs must be promoted to a floating dtype first, got {}", t);
      return;
    case BinaryOp::Pow:
      check(t != kBool, "pow: not supported for bool dtype");
      return;
    case BinaryOp::Maximum: case BinaryOp::Minimum: case BinaryOp::Lt: case BinaryOp::Le:
    case BinaryOp::Gt: case BinaryOp::Ge:
      check(!is_complex(t), "{}: not supported for complex dtype {}", name, t);
      return;
    case BinaryOp::ReluBackward:
      check(!is_complex(t), "{}: not supported for complex dtype {}", name, t);
      check(t != kBool, "{}: not supported for bool dtype", name);
      return;
    case BinaryOp::GeluBackward: case BinaryOp::SiluBackward:
      check(!is_complex(t), "{}: not supported for complex dtype {}", name, t);
      break;
    case BinaryOp::SigmoidBackward: case BinaryOp::TanhBackward:
      break;
  }
  check(!integral, "{}: integer inputs must be promoted to a floating dtype first, got {}", name,
        t);
}

// a^b for integers by repeated squaring (wrapping on overflow, as PyTorch's integer pow).
std::int64_t integer_pow(std::int64_t base, std::int64_t exponent) {
  check(exponent >= 0, "pow: Integers to negative integer powers are not allowed.");
  std::uint64_t result = 1;
  auto square = static_cast<std::uint64_t>(base);
  for (auto e = static_cast<std::uint64_t>(exponent); e != 0; e >>= 1) {
    if (e & 1) result *= square;
    square *= square;
  }
  return static_cast<std::int64_t>(result);
}

// The ops whose output has the inputs' dtype.
template <typename T>
T arithmetic(BinaryOp op, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    // add -> or, mul -> and, maximum -> or, minimum -> and: the int64 result, cast to bool.
    return cast_value<bool>(arithmetic<std::int64_t>(op, a, b));
  } else {
    using R = real_t<T>;
    switch (op) {
      case BinaryOp::Add: return reference::plus(a, b);
      case BinaryOp::Sub:
        if constexpr (std::is_same_v<T, std::int64_t>)  // wraps, like plus()
          return static_cast<T>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
        else return a - b;
      case BinaryOp::Mul: return reference::times(a, b);
      case BinaryOp::Pow:
        if constexpr (std::is_same_v<T, std::int64_t>) return integer_pow(a, b);
        else return std::pow(a, b);
      case BinaryOp::SigmoidBackward:  // d sigmoid = s (1 - s), conjugated (Wirtinger)
        return a * reference::conj(b * (T(1) - b));
      case BinaryOp::TanhBackward:  // d tanh = 1 - t^2, conjugated (Wirtinger)
        return a * reference::conj(T(1) - b * b);
      default: break;
    }
    if constexpr (!std::is_same_v<T, std::int64_t>) {
      if (op == BinaryOp::Div) return a / b;
    }
    if constexpr (!is_complex_v<T>) {
      switch (op) {
        case BinaryOp::Maximum:  // NaN propagates from either side
          return is_nan(a) ? a : is_nan(b) ? b : (a > b ? a : b);
        case BinaryOp::Minimum:
          return is_nan(a) ? a : is_nan(b) ? b : (a < b ? a : b);
        case BinaryOp::ReluBackward: return b > 0 ? a : T(0);
        default: break;
      }
    }
    if constexpr (std::is_floating_point_v<T>) {
      // Phi(x) = (1 + erf(x / sqrt2)) / 2 and phi(x) = exp(-x^2 / 2) / sqrt(2 pi): the standard
      // normal CDF and PDF. d/dx [x Phi(x)] = Phi(x) + x phi(x).
      const R inv_sqrt_2pi = std::numbers::inv_sqrtpi_v<R> / std::numbers::sqrt2_v<R>;
      switch (op) {
        case BinaryOp::GeluBackward: {
          const R cdf = R(0.5) * (R(1) + std::erf(b / std::numbers::sqrt2_v<R>));
          const R pdf = inv_sqrt_2pi * std::exp(R(-0.5) * b * b);
          return a * (cdf + b * pdf);
        }
        case BinaryOp::SiluBackward: {  // d/dx [x s(x)] = s (1 + x (1 - s)), s = sigmoid(x)
          const R s = R(1) / (R(1) + std::exp(-b));
          return a * s * (R(1) + b * (R(1) - s));
        }
        default: break;
      }
    }
    return a;  // unreachable: check_supported rejected the pair
  }
}

// The ops whose output is bool.
template <typename T>
bool compare(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::LogicalAnd: return cast_value<bool>(a) && cast_value<bool>(b);
    case BinaryOp::LogicalOr: return cast_value<bool>(a) || cast_value<bool>(b);
    default: break;
  }
  if constexpr (!is_complex_v<T>) {
    switch (op) {
      case BinaryOp::Lt: return a < b;
      case BinaryOp::Le: return a <= b;
      case BinaryOp::Gt: return a > b;
      case BinaryOp::Ge: return a >= b;
      default: break;
    }
  }
  return false;  // unreachable: check_supported rejected the pair
}

}  // namespace

void ReferenceBackend::binary(BinaryOp op, const View& out, const View& a, const View& b) {
  const char* name = op_name(op);
  check(a.dtype == b.dtype, "{}: expected both inputs to share a dtype, got {} and {}", name,
        a.dtype, b.dtype);
  check(a.shape == out.shape && b.shape == out.shape,
        "{}: inputs must already be broadcast to the output's shape {}, got {} and {}", name,
        out.shape, a.shape, b.shape);
  check_supported(op, a.dtype);
  const bool to_bool = returns_bool(op);
  const DType expected = to_bool ? kBool : a.dtype;
  check(out.dtype == expected, "{}: expected an output of dtype {} for input dtype {}, got {}",
        name, expected, a.dtype, out.dtype);

  visit_dtype(a.dtype, [&]<typename T>() {
    const T* pa = a.ptr<T>();
    const T* pb = b.ptr<T>();
    if (to_bool) {
      bool* po = out.ptr<bool>();
      for_each_offset(
          out.shape,
          [&](std::int64_t o, std::int64_t i, std::int64_t j) { po[o] = compare(op, pa[i], pb[j]); },
          out.strides, a.strides, b.strides);
    } else {
      T* po = out.ptr<T>();
      for_each_offset(
          out.shape,
          [&](std::int64_t o, std::int64_t i, std::int64_t j) { po[o] = arithmetic(op, pa[i], pb[j]); },
          out.strides, a.strides, b.strides);
    }
  });
}

}  // namespace reel::backends
