// CUDA kernels for the elementwise binary ops over strided views. Broadcasting has already
// happened above the backend (stride 0 on broadcast dims), so one kernel walks out, a and b
// with the same linear index. Which (op, dtype) pairs exist is decided by binary_supported()
// in launch.hpp; the math of each op is apply_binary() below.
#include "backends/cuda/device_utils.cuh"

namespace reel::backends::cuda {

namespace {

template <BinaryKind op, typename T>
using BinaryOut = std::conditional_t<is_comparison(op), bool, T>;

template <typename T>
__host__ __device__ __forceinline__ T conj_if_complex(T v) {
  if constexpr (kIsComplex<T>) return ::cuda::std::conj(v);
  else return v;
}

// a ** b for integers, by repeated squaring in wrapping (unsigned) arithmetic. A kernel cannot
// raise PyTorch's "Integers to negative integer powers are not allowed", so a negative
// exponent gives what the real-valued result truncates to: 1 for 1, +-1 for -1, else 0.
__host__ __device__ __forceinline__ std::int64_t int_pow(std::int64_t a, std::int64_t b) {
  if (b < 0) {
    if (a == 1) return 1;
    if (a == -1) return (b & 1) ? -1 : 1;
    return 0;
  }
  std::uint64_t result = 1;
  std::uint64_t base = static_cast<std::uint64_t>(a);
  for (std::uint64_t e = static_cast<std::uint64_t>(b); e != 0; e >>= 1) {
    if (e & 1) result *= base;
    base *= base;
  }
  return static_cast<std::int64_t>(result);
}

template <typename T>
__host__ __device__ __forceinline__ T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>) return expf(x);
  else return exp(x);
}

template <BinaryKind op, typename T>
__host__ __device__ __forceinline__ BinaryOut<op, T> apply_binary(T a, T b) {
  constexpr bool kBool = std::is_same_v<T, bool>;
  if constexpr (op == BinaryKind::Add) {
    if constexpr (kBool) return a || b;  // PyTorch: bool + bool is logical or
    else return a + b;
  } else if constexpr (op == BinaryKind::Sub) {
    return a - b;
  } else if constexpr (op == BinaryKind::Mul) {
    if constexpr (kBool) return a && b;
    else return a * b;
  } else if constexpr (op == BinaryKind::Div) {
    return a / b;  // floating or complex only: integers were promoted to float above us
  } else if constexpr (op == BinaryKind::Pow) {
    if constexpr (std::is_same_v<T, std::int64_t>) return int_pow(a, b);
    else if constexpr (std::is_same_v<T, float>) return powf(a, b);
    else return pow(a, b);
  } else if constexpr (op == BinaryKind::Maximum || op == BinaryKind::Minimum) {
    constexpr bool kMax = op == BinaryKind::Maximum;
    if constexpr (kBool) {
      return kMax ? (a || b) : (a && b);
    } else {
      if constexpr (kIsFloating<T>) {
        if (a != a) return a;  // NaN propagates, as in torch.maximum / torch.minimum
        if (b != b) return b;
      }
      return kMax ? (a > b ? a : b) : (a < b ? a : b);
    }
  } else if constexpr (op == BinaryKind::ReluBackward) {
    return b > T(0) ? a : T(0);
  } else if constexpr (op == BinaryKind::GeluBackward) {
    // d/dx [x * Phi(x)] = Phi(x) + x * phi(x), Phi the normal CDF, phi its density.
    constexpr T kSqrtHalf = T(0.70710678118654752440);
    constexpr T kInvSqrt2Pi = T(0.39894228040143267794);
    T cdf, pdf;
    if constexpr (std::is_same_v<T, float>) {
      cdf = 0.5f * (1.0f + erff(b * kSqrtHalf));
      pdf = expf(-0.5f * b * b) * kInvSqrt2Pi;
    } else {
      cdf = 0.5 * (1.0 + erf(b * kSqrtHalf));
      pdf = exp(-0.5 * b * b) * kInvSqrt2Pi;
    }
    return a * (cdf + b * pdf);
  } else if constexpr (op == BinaryKind::SiluBackward) {
    const T s = T(1) / (T(1) + exp_of(-b));
    return a * s * (T(1) + b * (T(1) - s));
  } else if constexpr (op == BinaryKind::SigmoidBackward) {
    return a * conj_if_complex(b * (T(1) - b));
  } else if constexpr (op == BinaryKind::TanhBackward) {
    return a * conj_if_complex(T(1) - b * b);
  } else if constexpr (op == BinaryKind::Eq) {
    return a == b;
  } else if constexpr (op == BinaryKind::Ne) {
    return a != b;
  } else if constexpr (op == BinaryKind::Lt) {
    return a < b;
  } else if constexpr (op == BinaryKind::Le) {
    return a <= b;
  } else if constexpr (op == BinaryKind::Gt) {
    return a > b;
  } else if constexpr (op == BinaryKind::Ge) {
    return a >= b;
  } else if constexpr (op == BinaryKind::LogicalAnd) {
    return nonzero(a) && nonzero(b);
  } else {
    static_assert(op == BinaryKind::LogicalOr);
    return nonzero(a) || nonzero(b);
  }
}

template <BinaryKind op, typename T, typename Index>
__global__ void binary_kernel(Indexer<3> ix, Index n, BinaryOut<op, T>* out, const T* a,
                              const T* b) {
  for (Index i = grid_start<Index>(); i < n; i += grid_step<Index>()) {
    Index off[3];
    offsets_of<3>(ix, i, off);
    out[off[0]] = apply_binary<op, T>(a[off[1]], b[off[2]]);
  }
}

template <BinaryKind op>
cudaError_t launch_op(ElemType type, void* out, const void* a, const void* b,
                      const Indexer<3>& ix, std::int64_t numel, bool index32,
                      cudaStream_t stream) {
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (!binary_supported(op, kElemOf<T>)) {
      return cudaErrorNotSupported;
    } else {
      using Out = BinaryOut<op, T>;
      const dim3 grid = grid_for(numel);
      if (index32) {
        binary_kernel<op, T, std::uint32_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, static_cast<std::uint32_t>(numel), static_cast<Out*>(out),
            static_cast<const T*>(a), static_cast<const T*>(b));
      } else {
        binary_kernel<op, T, std::int64_t><<<grid, kThreadsPerBlock, 0, stream>>>(
            ix, numel, static_cast<Out*>(out), static_cast<const T*>(a),
            static_cast<const T*>(b));
      }
      return cudaGetLastError();
    }
  });
}

}  // namespace

cudaError_t launch_binary(BinaryKind op, ElemType type, void* out, const void* a,
                          const void* b, const Indexer<3>& ix, std::int64_t numel, bool index32,
                          cudaStream_t stream) {
  switch (op) {
#define REEL_BINARY_CASE(name) \
  case BinaryKind::name: return launch_op<BinaryKind::name>(type, out, a, b, ix, numel, index32, stream);
    REEL_BINARY_CASE(Add)
    REEL_BINARY_CASE(Sub)
    REEL_BINARY_CASE(Mul)
    REEL_BINARY_CASE(Div)
    REEL_BINARY_CASE(Pow)
    REEL_BINARY_CASE(Maximum)
    REEL_BINARY_CASE(Minimum)
    REEL_BINARY_CASE(ReluBackward)
    REEL_BINARY_CASE(GeluBackward)
    REEL_BINARY_CASE(SiluBackward)
    REEL_BINARY_CASE(SigmoidBackward)
    REEL_BINARY_CASE(TanhBackward)
    REEL_BINARY_CASE(Eq)
    REEL_BINARY_CASE(Ne)
    REEL_BINARY_CASE(Lt)
    REEL_BINARY_CASE(Le)
    REEL_BINARY_CASE(Gt)
    REEL_BINARY_CASE(Ge)
    REEL_BINARY_CASE(LogicalAnd)
    REEL_BINARY_CASE(LogicalOr)
#undef REEL_BINARY_CASE
  }
  return cudaErrorInvalidValue;
}

}  // namespace reel::backends::cuda
