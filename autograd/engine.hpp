#pragma once
// Running the tape backward. The engine sits above the ops (it sums gradients with them), while
// what an op needs to record (autograd/record.hpp) sits below them: see docs/architecture.md,
// "Layers and arrows".
#include <functional>
#include <span>

#include "tensor/tensor.hpp"

namespace reel::autograd {

// Runs backward from `roots` with seed gradients `grads` (undefined = ones for a scalar root).
// Tensor::backward() is this for one root.
void backward(std::span<const Tensor> roots, std::span<const Tensor> grads, bool retain_graph);

// Queues `fn` to run once the backward pass in progress on this thread has finished (after the
// last leaf's gradient is accumulated and its hooks have run), before backward() returns, in
// queue order: PyTorch's Variable._execution_engine.queue_callback. Meant for hooks: a
// gradient-ready hook can queue "all gradients are in" work (DistributedDataParallel waits for
// its all-reduces there). An exception from a callback leaves backward(). Outside a backward
// pass this is an error.
void queue_callback(std::function<void()> fn);

}  // namespace reel::autograd
