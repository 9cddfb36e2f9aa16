#pragma once
// gradcheck: compares the gradients backward() computes with central finite differences.
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::autograd {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // what differed, where, when !ok
  explicit operator bool() const { return ok; }
};

// Checks d(f)/d(input) for every input that requires grad. Inputs must be float64 or
// complex128 CPU tensors. The output y = f(inputs) is reduced to the real scalar
// L = Re(sum(conj(v) * y)) with a fixed random v; backward(v) must then give, for each input
// element x = a + ib, dL/da + i dL/db (PyTorch's conjugate-Wirtinger convention; dL/da for
// real inputs), which is compared with central differences of L in a and b.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace reel::autograd
