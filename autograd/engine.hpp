#pragma once
// Running the tape backward. The engine sits above the ops (it sums gradients with them), while
// what an op needs to record (autograd/record.hpp) sits below them: see docs/architecture.md,
// "Layers and arrows".
#include <span>

#include "tensor/tensor.hpp"

namespace reel::autograd {

// Runs backward from `roots` with seed gradients `grads` (undefined = ones for a scalar root).
// Tensor::backward() is this for one root.
void backward(std::span<const Tensor> roots, std::span<const Tensor> grads, bool retain_graph);

}  // namespace reel::autograd
