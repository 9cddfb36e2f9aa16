#pragma once
// Streaming inference over a module tree: nn::reset_streams(model) calls stream_reset() on every
// Conv1d inside it (the model itself included), so a new sequence starts from the causal zero
// padding. Each Conv1d is then stepped with conv->stream_step(x_t); see nn/conv1d.hpp and
// docs/training.md "Streaming inference".
//
//   reel::nn::reset_streams(*model);
//   for (...) { Tensor y_t = block->conv->stream_step(x_t); ... }
#include "nn/module.hpp"

namespace reel::nn {

// Resets the stream of every Conv1d in `module`'s tree; returns how many it reset.
std::int64_t reset_streams(Module& module);

}  // namespace reel::nn
