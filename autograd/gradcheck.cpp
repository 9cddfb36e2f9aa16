#include "autograd/gradcheck.hpp"

#include <cmath>
#include <complex>

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::autograd {

namespace {

// L = Re(sum(conj(v) * y)), in double.
double project(const Tensor& y, const Tensor& v) {
  Tensor p = mul(conj(v), y);
  Scalar s = sum(p).item();
  return s.to_complex().real();
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  // Private leaf copies, so the caller's tensors and their .grad() stay untouched.
  std::vector<Tensor> leaves;
  for (const Tensor& in : inputs) {
    if (!in.defined()) {
      leaves.emplace_back();
      continue;
    }
    check(in.device().is_cpu(), "gradcheck: inputs must be CPU tensors (got {})", in.device());
    bool wants = in.requires_grad();
    check(!wants || in.dtype() == kFloat64 || in.dtype() == kComplex128,
          "gradcheck: inputs that require grad must be float64 or complex128, got {}", in.dtype());
    Tensor leaf = in.detach().clone();
    if (wants) leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }

  Tensor y = f(leaves);
  check(y.requires_grad(), "gradcheck: the output does not require grad (no input reached it)");
  Tensor v;
  {
    NoGradGuard guard;
    v = randn(y.sizes(), TensorOptions(y.dtype()));
  }
  y.backward(v);

  GradcheckResult result;
  NoGradGuard guard;
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    Tensor& leaf = leaves[k];
    if (!leaf.defined() || !leaf.requires_grad()) continue;
    Tensor analytic = leaf.grad().defined() ? leaf.grad() : zeros_like(leaf);
    std::vector<complex128> a = analytic.to_vector<complex128>();
    bool cplx = leaf.is_complex();
    auto* re = reinterpret_cast<double*>(leaf.raw_data());  // complex: (re, im) pairs
    std::int64_t n = leaf.numel();
    for (std::int64_t j = 0; j < n; ++j) {
      auto numeric_part = [&](int part) {
        double& x = re[cplx ? 2 * j + part : j];
        double saved = x;
        x = saved + opt.eps;
        double plus = project(f(leaves), v);
        x = saved - opt.eps;
        double minus = project(f(leaves), v);
        x = saved;
        return (plus - minus) / (2 * opt.eps);
      };
      complex128 numeric(numeric_part(0), cplx ? numeric_part(1) : 0.0);
      complex128 got = a[static_cast<std::size_t>(j)];
      if (std::abs(got - numeric) > opt.atol + opt.rtol * std::abs(numeric) ||
          std::isnan(std::abs(got))) {
        result.ok = false;
        result.message += fmt::format(
            "gradcheck: input {} element {}: analytical ({}, {}) vs numerical ({}, {})\n", k, j,
            got.real(), got.imag(), numeric.real(), numeric.imag());
        if (result.message.size() > 2000) return result;
      }
    }
  }
  return result;
}

}  // namespace reel::autograd
