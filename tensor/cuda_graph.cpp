// reel::cuda::Graph and GraphCapture over the CUDA backend's graph functions (backend.hpp;
// backends/cuda/graph.cpp, or the stub's errors without CUDA).
#include "tensor/cuda_graph.hpp"

#include <cstdio>
#include <exception>
#include <utility>

#include "backends/backend.hpp"

namespace reel::cuda {

Graph::~Graph() { reset(); }

Graph::Graph(Graph&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)),
      captured_(std::exchange(other.captured_, false)) {}

Graph& Graph::operator=(Graph&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::exchange(other.state_, nullptr);
    captured_ = std::exchange(other.captured_, false);
  }
  return *this;
}

void Graph::capture_begin() {
  // The state is made on first use, so an unused Graph needs no GPU (and this raises the
  // backend's "no CUDA" error when there is none).
  if (state_ == nullptr) state_ = backends::cuda_graph_create();
  backends::cuda_graph_capture_begin(state_);
}

void Graph::capture_end() {
  // A null state reaches the backend, which raises its own error (no device, or no capture).
  backends::cuda_graph_capture_end(state_);
  captured_ = true;
}

void Graph::replay() { backends::cuda_graph_replay(state_); }

void Graph::reset() noexcept {
  backends::cuda_graph_destroy(state_);  // abandons a running capture; null is a no-op
  state_ = nullptr;
  captured_ = false;
}

GraphCapture::GraphCapture(Graph& graph)
    : graph_(&graph), uncaught_at_start_(std::uncaught_exceptions()) {
  graph_->capture_begin();
}

void GraphCapture::end() {
  if (!active_) return;
  active_ = false;
  graph_->capture_end();
}

GraphCapture::~GraphCapture() {
  if (!active_) return;
  active_ = false;
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    // Unwinding from the captured region: abandon the capture, leaving no graph behind.
    graph_->reset();
    return;
  }
  try {
    graph_->capture_end();
  } catch (const std::exception& e) {
    graph_->reset();
    std::fprintf(stderr, "reel: CUDA graph capture discarded at the end of GraphCapture: %s\n",
                 e.what());
  }
}

}  // namespace reel::cuda
