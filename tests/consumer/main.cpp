// Uses reel the way a program outside its tree does: #include <reel/reel.hpp>, link reel::reel.
// Adds two tensors and checks the values by hand; exits non-zero on a mismatch.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <vector>

int main() {
  reel::Tensor a = reel::tensor({1.0f, 2.0f, 3.0f});
  reel::Tensor b = reel::tensor({10.0f, 20.0f, 30.0f});
  reel::Tensor c = a + b;

  const std::vector<float> expected = {11.0f, 22.0f, 33.0f};
  const std::vector<float> got = c.to_vector<float>();
  fmt::print("consumer (reel via {}): a + b = {}\n", REEL_CONSUMER_HOW, c);
  if (got != expected || c.dtype() != reel::kFloat32) {
    fmt::print(stderr, "consumer: expected [11, 22, 33] (float32), got {}\n", c);
    return 1;
  }
  fmt::print("consumer: ok\n");
  return 0;
}
