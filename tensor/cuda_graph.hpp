#pragma once
// CUDA graphs: record the kernels of a training step once, then replay them with one launch
// (PyTorch's torch.cuda.CUDAGraph and torch.cuda.graph). A step of small kernels spends most of
// its time in the host's launch overhead; a replay pays it once.
//
// Capture records what reel queues on its CUDA stream instead of running it; a replay re-runs
// exactly those kernels on exactly the same memory. So:
//   - inputs are "static": tensors allocated before the capture, which you refill (copy_) before
//     each replay; outputs (the loss, the parameters, their gradients) are written in place at
//     every replay, and read after it;
//   - the host takes no decisions inside the captured region: no item(), to_vector(), printing
//     or cuda::synchronize() (reel raises "CUDA graph: ... reads device memory back to the host,
//     which a captured graph cannot do"), and no uploads from the host;
//   - values the host computes while capturing are frozen into the graph. Run one step eagerly
//     first (warm-up), so lazily created state (optimizer moments, momentum buffers) exists and
//     first-step special cases are behind you. Optimizers that compute a host scalar from a
//     step counter (Adam's bias corrections) bake the captured step's value in: with them a
//     replay is not the eager step it mimics; SGD (with or without momentum) has no such value;
//   - the memory the captured kernels use belongs to the graph until it is reset or destroyed;
//     it shows in cuda::memory_reserved(), and empty_cache() leaves it alone.
// Errors found on the device inside the region (a bad index in gather / index_add, a bad class
// target in cross_entropy / nll_loss) are still raised, by replay(), which then waits for the
// stream once; a graph without such checks replays asynchronously.
//
//   using namespace reel;
//   nn::Linear model(nn::LinearOptions(16, 4).device(Device(kCUDA)));
//   optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
//   Tensor x = zeros({32, 16}, TensorOptions().device(Device(kCUDA)));  // static inputs
//   Tensor y = zeros({32, 4}, TensorOptions().device(Device(kCUDA)));
//   auto step = [&] {
//     opt.zero_grad();
//     nn::functional::mse_loss(relu(model(x)), y).backward();
//     opt.step();
//   };
//   x.copy_(first_x); y.copy_(first_y);
//   step();                                   // warm-up, eagerly
//   cuda::Graph graph;
//   {
//     cuda::GraphCapture capture(graph);      // capture_begin()
//     step();                                 // recorded, not run
//   }                                         // capture_end()
//   for (auto& [bx, by] : batches) {
//     x.copy_(bx); y.copy_(by);               // new data into the static inputs
//     graph.replay();                         // the whole step, one launch
//   }
//
// Without CUDA or a GPU, capture_begin(), capture_end() and replay() raise reel::Error.
namespace reel::backends {
struct CudaGraphState;
}  // namespace reel::backends

namespace reel::cuda {

class Graph {
 public:
  Graph() noexcept = default;  // empty: touches no device until capture_begin()
  ~Graph();                    // reset()
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&& other) noexcept;
  Graph& operator=(Graph&& other) noexcept;

  // Starts recording reel's CUDA stream into this graph. Raises when another capture is
  // running, or when this graph already holds one (reset() it first).
  void capture_begin();
  // Stops recording and makes the graph replayable. Raises without a capture_begin, and when
  // the capture failed (the graph is then empty again).
  void capture_end();
  // Runs the recorded work again on the same memory. Raises before capture_end.
  void replay();
  // Drops the recorded work and gives its memory back to the caching allocator; a capture
  // still running is abandoned. The graph is empty again. Never throws.
  void reset() noexcept;
  // A capture has ended and can be replayed.
  bool is_captured() const noexcept { return captured_; }

 private:
  backends::CudaGraphState* state_ = nullptr;
  bool captured_ = false;
};

// torch.cuda.graph's context manager: the constructor begins the capture, end() (or the
// destructor) ends it. If an exception leaves the captured region, the destructor abandons the
// capture instead: it ends it, discards the graph (graph.reset()) and never throws. A
// destructor that ends the capture normally cannot throw either, so a failing capture_end
// there resets the graph and reports on stderr; call end() to have it raised.
class GraphCapture {
 public:
  explicit GraphCapture(Graph& graph);
  ~GraphCapture();
  GraphCapture(const GraphCapture&) = delete;
  GraphCapture& operator=(const GraphCapture&) = delete;

  // Ends the capture (Graph::capture_end); once.
  void end();

 private:
  Graph* graph_;
  int uncaught_at_start_;  // std::uncaught_exceptions() at construction
  bool active_ = true;
};

}  // namespace reel::cuda
