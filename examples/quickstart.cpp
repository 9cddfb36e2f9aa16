// quickstart: tensors, a few ops, and a tiny linear regression trained with nn::Linear,
// a loss and optim::SGD.
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

  // The model and the training step, as in LibTorch: a Linear layer, a loss, an optimizer.
  nn::Linear model(2, 1);
  optim::SGD optimizer(model->parameters(), optim::SGDOptions(0.1));
  float first_loss = 0, last_loss = 0;
  for (int step = 0; step < 30; ++step) {
    optimizer.zero_grad();
    Tensor loss = nn::functional::mse_loss(model(x), y);
    loss.backward();   // fills the gradients of model->weight and model->bias
    optimizer.step();  // one fused SGD update per parameter
    last_loss = loss.item<float>();
    if (step == 0) first_loss = last_loss;
    if (step % 5 == 0) fmt::print("step {:2d}  loss {:.6f}\n", step, last_loss);
  }
  fmt::print("{}\nweight =\n{}\nbias =\n{}\n", model->pretty(), model->weight, model->bias);

  // A smoke check for CI (the example also runs as a test): training must have made progress.
  return last_loss < 0.01f * first_loss ? 0 : 1;
}
