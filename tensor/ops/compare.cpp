// allclose and equal: whole-tensor comparisons that answer one bool, for tests and user code.
// They copy both operands to the host in a common dtype and compare there: simple, any device,
// any layout, and exact for int64 (compared as integers, never through double).
#include <cmath>
#include <complex>

#include "tensor/ops.hpp"

namespace reel {

namespace {

bool is_nan(complex128 z) { return std::isnan(z.real()) || std::isnan(z.imag()); }
bool is_finite(complex128 z) { return std::isfinite(z.real()) && std::isfinite(z.imag()); }

// torch.isclose for one pair: equal values (infinities included) are close; otherwise both must
// be finite and |a - b| <= atol + rtol * |b|.
bool is_close(complex128 a, complex128 b, double rtol, double atol, bool equal_nan) {
  if (is_nan(a) || is_nan(b)) return equal_nan && is_nan(a) && is_nan(b);
  if (a == b) return true;
  if (!is_finite(a) || !is_finite(b)) return false;
  return std::abs(a - b) <= atol + rtol * std::abs(b);
}

}  // namespace

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  check(rtol >= 0 && atol >= 0, "allclose: rtol ({}) and atol ({}) must be non-negative", rtol,
        atol);
  if (a.sizes() != b.sizes()) return false;
  // detach(): reading the values must not put conversions on the tape.
  auto av = a.detach().to_vector<complex128>();
  auto bv = b.detach().to_vector<complex128>();
  for (std::size_t i = 0; i < av.size(); ++i) {
    if (!is_close(av[i], bv[i], rtol, atol, equal_nan)) return false;
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  if (!is_inexact(a.dtype()) && !is_inexact(b.dtype())) {
    return a.detach().to_vector<std::int64_t>() == b.detach().to_vector<std::int64_t>();
  }
  // NaN != NaN, as torch.equal.
  return a.detach().to_vector<complex128>() == b.detach().to_vector<complex128>();
}

}  // namespace reel
