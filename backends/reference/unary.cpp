// Reference backend, unary elementwise ops: out[i] = f(in[i]), with f written as in PyTorch.
// Which (op, dtype) pairs exist is decided once, before the loop, by check_supported; the
// per-element functions then only see the pairs that passed.
#include <cmath>
#include <numbers>

#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

using reference::cast_value;
using reference::is_nan;
using reference::real_t;

namespace {

const char* op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Sin: return "sin";
    case UnaryOp::Cos: return "cos";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Gelu: return "gelu";
    case UnaryOp::Silu: return "silu";
    case UnaryOp::Erf: return "erf";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Conj: return "conj";
    case UnaryOp::Reciprocal: return "reciprocal";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Real: return "real";
    case UnaryOp::Imag: return "imag";
    case UnaryOp::LogicalNot: return "logical_not";
    case UnaryOp::IsNan: return "isnan";
  }
  return "unary";
}

void check_supported(UnaryOp op, DType t) {
  const char* name = op_name(op);
  switch (op) {
    case UnaryOp::Conj: case UnaryOp::Real: case UnaryOp::Imag: case UnaryOp::Abs:
    case UnaryOp::Sign: case UnaryOp::LogicalNot: case UnaryOp::IsNan:
      return;  // every dtype
    case UnaryOp::Neg:
      check(t != kBool, "neg: negation, the `-` operator, on a bool tensor is not supported. If "
            "you are trying to invert a mask, use the `~` or `logical_not()` operator instead.");
      return;
    case UnaryOp::Relu:
      check(!is_complex(t), "{}: not supported for complex dtype {}", name, t);
      return;
    case UnaryOp::Gelu: case UnaryOp::Silu: case UnaryOp::Erf:
      check(!is_complex(t), "{}: not supported for complex dtype {}", name, t);
      break;
    default:  // float math: Exp, Log, Sqrt, Sin, Cos, Tanh, Sigmoid, Reciprocal
      break;
  }
  check(is_inexact(t), "{}: integer inputs must be promoted to a floating dtype first, got {}",
        name, t);
}

// The ops whose output keeps the input's dtype, on bool and int64 (only the ones that
// check_supported lets through). Negation and abs wrap around at INT64_MIN, as in PyTorch.
template <typename T>
T integer_unary(UnaryOp op, T x) {
  if constexpr (std::is_same_v<T, bool>) {
    return op == UnaryOp::Imag ? false : x;  // abs, sign, relu, conj, real are the identity
  } else {
    const auto neg = static_cast<T>(std::uint64_t{0} - static_cast<std::uint64_t>(x));
    switch (op) {
      case UnaryOp::Neg: return neg;
      case UnaryOp::Abs: return x < 0 ? neg : x;
      case UnaryOp::Sign: return (x > 0) - (x < 0);
      case UnaryOp::Relu: return x > 0 ? x : 0;
      case UnaryOp::Imag: return 0;
      default: return x;  // conj, real
    }
  }
}

// The ops whose output keeps the input's dtype, on float32/64 and complex64/128.
template <typename T>
T float_unary(UnaryOp op, T x) {
  using R = real_t<T>;
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + std::exp(-x));  // 1 / (1 + e^-x)
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Conj: return reference::conj(x);
    case UnaryOp::Sign:
      if constexpr (is_complex_v<T>) {
        return x == T(0) ? T(0) : x / std::abs(x);  // torch.sgn: x / |x|, and 0 at 0
      } else {
        return is_nan(x) ? x : T((x > 0) - (x < 0));  // torch.sign(nan) is nan
      }
    default: break;
  }
  if constexpr (!is_complex_v<T>) {
    switch (op) {
      case UnaryOp::Relu: return is_nan(x) || x > 0 ? x : T(0);  // NaN propagates
      case UnaryOp::Gelu:  // exact GELU (Hendrycks & Gimpel): x * Phi(x), Phi the normal CDF
        return x * R(0.5) * (R(1) + std::erf(x / std::numbers::sqrt2_v<R>));
      case UnaryOp::Silu: return x / (R(1) + std::exp(-x));  // x * sigmoid(x)
      case UnaryOp::Erf: return std::erf(x);
      default: break;
    }
  }
  return x;  // unreachable: check_supported rejected the pair
}

// abs, real, imag: the output is real (float for complex64, double for complex128).
template <typename T>
real_t<T> to_real_unary(UnaryOp op, T x) {
  if constexpr (is_complex_v<T>) {
    if (op == UnaryOp::Abs) return std::abs(x);  // |x| = hypot(re, im)
    return op == UnaryOp::Real ? x.real() : x.imag();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (op == UnaryOp::Abs) return std::abs(x);
    return op == UnaryOp::Real ? x : T(0);
  } else {
    return integer_unary(op, x);
  }
}

template <typename In, typename Out, typename F>
void map(const View& out, const View& in, F f) {
  const In* src = in.ptr<In>();
  Out* dst = out.ptr<Out>();
  for_each_offset(
      out.shape, [&](std::int64_t o, std::int64_t i) { dst[o] = f(src[i]); }, out.strides,
      in.strides);
}

}  // namespace

void ReferenceBackend::unary(UnaryOp op, const View& out, const View& in) {
  const char* name = op_name(op);
  check(out.shape == in.shape, "{}: output shape {} does not match input shape {}", name,
        out.shape, in.shape);
  check_supported(op, in.dtype);
  const bool to_bool = op == UnaryOp::LogicalNot || op == UnaryOp::IsNan;
  const bool to_real_dtype = op == UnaryOp::Abs || op == UnaryOp::Real || op == UnaryOp::Imag;
  const DType expected = to_bool ? kBool : to_real_dtype ? to_real(in.dtype) : in.dtype;
  check(out.dtype == expected, "{}: expected an output of dtype {} for input dtype {}, got {}",
        name, expected, in.dtype, out.dtype);

  visit_dtype(in.dtype, [&]<typename T>() {
    if (to_bool) {
      map<T, bool>(out, in, [op](T x) {
        return op == UnaryOp::IsNan ? is_nan(x) : !cast_value<bool>(x);
      });
    } else if (to_real_dtype) {
      map<T, real_t<T>>(out, in, [op](T x) { return to_real_unary(op, x); });
    } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t>) {
      map<T, T>(out, in, [op](T x) { return integer_unary(op, x); });
    } else {
      map<T, T>(out, in, [op](T x) { return float_unary(op, x); });
    }
  });
}

}  // namespace reel::backends
