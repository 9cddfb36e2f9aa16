// quickstart: tensors, a few ops, and a tiny linear regression trained with autograd.
// The README's quickstart is this file's body; keep the two in sync.
//
//   ./scripts/demo        (or: build/examples/quickstart)
#include <reel/reel.hpp>

#include <fmt/core.h>

int main() {
  using namespace reel;

  // Tensors and ops, as in LibTorch: broadcasting, type promotion, matmul, printing with fmt.
  Tensor a = tensor({{1.0f, 2.0f}, {3.0f, 4.0f}});
  Tensor b = ones({2});
  fmt::print("a + b =\n{}\n", a + b);
  fmt::print("a @ a =\n{}\n", matmul(a, a));

  // Data from y = 2 x0 - 3 x1 + 0.5; learn w and b from it.
  manual_seed(0);
  Tensor x = randn({64, 2});
  Tensor y = matmul(x, tensor({{2.0f}, {-3.0f}})) + 0.5f;

  Tensor w = zeros({2, 1}, TensorOptions().requires_grad());
  Tensor bias = zeros({1}, TensorOptions().requires_grad());
  const double lr = 0.1;
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 30; ++step) {
    Tensor loss = (matmul(x, w) + bias - y).pow(2).mean();
    loss.backward();  // fills w.grad() and bias.grad()
    {
      NoGradGuard no_grad;  // the update itself is not part of the model
      w.sub_(w.grad(), lr);
      bias.sub_(bias.grad(), lr);
      w.zero_grad();
      bias.zero_grad();
    }
    last_loss = loss.item<float>();
    if (step == 0) first_loss = last_loss;
    if (step % 5 == 0) fmt::print("step {:2d}  loss {:.6f}\n", step, last_loss);
  }
  fmt::print("w =\n{}\nbias =\n{}\n", w, bias);

  // A smoke check for CI (the example also runs as a test): training must have made progress.
  return last_loss < 0.01f * first_loss ? 0 : 1;
}
