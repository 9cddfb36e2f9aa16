// CUDA graphs (backend.hpp's cuda_graph_*; reel::cuda::Graph in tensor/cuda_graph.hpp is the
// public side): stream capture of stream(), instantiation, replay.
//
// A capture records every kernel, copy and memset queued on stream() between capture_begin and
// capture_end into a cudaGraph_t, instead of running them; cudaGraphInstantiate turns it into
// an executable graph, and each replay launches all of it with one cudaGraphLaunch. The captured
// kernels keep the addresses they had, so:
//   - their memory comes from a pool private to the graph (allocator.hpp), which lives as long
//     as the graph does;
//   - nothing between begin and end may wait for the stream or read device memory back
//     (check_not_capturing, in the places that do);
//   - the device-side value checks hand their verdict to the graph (defer_check), and replay
//     reads it after the launch.
// reel runs all its CUDA work on one stream, so one capture at a time, process-wide.
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "backends/backend.hpp"
#include "backends/cuda/allocator.hpp"
#include "backends/cuda/graph.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

// One device-side value check recorded during the capture (graph.hpp's defer_check).
struct DeferredCheck {
  cuda::DeviceBuffer first_bad;  // unsigned long long: position of the first bad value
  cuda::DeviceBuffer values;     // int64 copy of the checked values, row-major
  cuda::RaiseBadValue raise;
};

}  // namespace

struct CudaGraphState {
  bool capturing = false;
  cudaGraphExec_t exec = nullptr;            // set by a successful capture_end
  std::shared_ptr<cuda::GraphPool> pool;     // the memory the captured kernels use
  std::vector<DeferredCheck> checks;         // read back after every replay
};

namespace {

// The graph capturing now, or null. One at a time: all of reel's CUDA work is on one stream.
std::atomic<CudaGraphState*> g_capturing{nullptr};

// Every entry point needs a GPU: without one, this raises the registry's error ("CUDA: no
// CUDA device is available (...)") before any CUDA graph call is made.
void require_device() { (void)cuda_backend(); }

// Ends a capture that is running, keeping the recorded graph or (keep == false) dropping it;
// the bookkeeping (allocator, g_capturing) is undone in every case. Returns the graph, or null
// when dropped or when the capture was invalidated (`err` then says why).
cudaGraph_t stop_capture(CudaGraphState* g, bool keep, cudaError_t& err) noexcept {
  cudaGraph_t graph = nullptr;
  err = cudaStreamEndCapture(cuda::stream(), &graph);
  if (err != cudaSuccess) (void)cudaGetLastError();
  g->capturing = false;
  g_capturing.store(nullptr);
  cuda::device_allocator().end_graph_pool();
  if ((!keep || err != cudaSuccess) && graph != nullptr) {
    (void)cudaGraphDestroy(graph);
    graph = nullptr;
  }
  return err == cudaSuccess ? graph : nullptr;
}

// Lets go of everything a capture left: the executable graph, the deferred checks and the
// pool's blocks (back to the global free lists). Waits for the stream first, since a replay
// may still be running, unless another graph is capturing: then no wait is allowed, and none
// is needed, since capture_begin waited for the stream and replay refuses to run during a
// capture.
void discard(CudaGraphState* g) noexcept {
  const bool other_capture = g_capturing.load() != nullptr;
  if (!other_capture && (g->exec != nullptr || g->pool != nullptr)) {
    if (cudaStreamSynchronize(cuda::stream()) != cudaSuccess) (void)cudaGetLastError();
  }
  if (g->exec != nullptr) {
    // Not a stream call, but "potentially unsafe" for CUDA while this thread captures.
    cuda::RelaxedCaptureMode relaxed;
    if (cudaGraphExecDestroy(g->exec) != cudaSuccess) (void)cudaGetLastError();
    g->exec = nullptr;
  }
  g->checks.clear();  // their buffers are pool blocks: freed before the pool goes
  cuda::device_allocator().release_graph_pool(g->pool);
  g->pool = nullptr;
}

}  // namespace

namespace cuda {

bool capturing() { return g_capturing.load() != nullptr; }

void check_not_capturing(const char* op, const char* does) {
  if (!capturing()) [[likely]] return;
  fail("CUDA graph: {} {}, which a captured graph cannot do; move it out of the captured region",
       op, does);
}

void defer_check(DeviceBuffer first_bad, DeviceBuffer values, RaiseBadValue raise) {
  CudaGraphState* g = g_capturing.load();
  check(g != nullptr, "CUDA graph: defer_check outside a capture");
  g->checks.push_back(DeferredCheck{std::move(first_bad), std::move(values), std::move(raise)});
}

}  // namespace cuda

CudaGraphState* cuda_graph_create() {
  require_device();
  return new CudaGraphState();
}

void cuda_graph_destroy(CudaGraphState* g) noexcept {
  if (g == nullptr) return;
  if (g->capturing) {
    // Destroyed mid-capture (an exception left the captured region): the capture is
    // abandoned and what it recorded dropped.
    cudaError_t err = cudaSuccess;
    (void)stop_capture(g, false, err);
  }
  discard(g);
  delete g;
}

void cuda_graph_capture_begin(CudaGraphState* g) {
  require_device();
  check(g != nullptr, "CUDA graph: capture_begin on a null graph");
  check(g_capturing.load() == nullptr,
        "CUDA graph: capture_begin while a capture is already running (one capture at a time: "
        "end it first)");
  check(g->exec == nullptr,
        "CUDA graph: capture_begin on a graph that already holds a capture (reset() it first)");
  // Eager work queued before the capture finishes first: its errors are reported as its own,
  // and the blocks it freed are idle when the capture takes them (allocator.cpp).
  cuda::synchronize();
  g->pool = cuda::device_allocator().begin_graph_pool();
  // Thread-local mode: this thread may not make "potentially unsafe" calls (which CUDA then
  // reports as errors) while other threads are left alone. The allocator relaxes it around its
  // own cudaMalloc (graph.hpp's RelaxedCaptureMode).
  const cudaError_t err =
      cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeThreadLocal);
  if (err != cudaSuccess) {
    cuda::device_allocator().end_graph_pool();
    cuda::device_allocator().release_graph_pool(g->pool);
    g->pool = nullptr;
    cuda::check_cuda(err, "CUDA graph: capture_begin (cudaStreamBeginCapture)");
  }
  g->capturing = true;
  g_capturing.store(g);
}

void cuda_graph_capture_end(CudaGraphState* g) {
  require_device();
  check(g != nullptr && g->capturing, "CUDA graph: capture_end without capture_begin");
  cudaError_t err = cudaSuccess;
  cudaGraph_t graph = stop_capture(g, true, err);
  if (graph == nullptr) {
    // The capture was invalidated: some call in the captured region is not allowed in a graph
    // (a CUDA library that waits for the stream, say). Nothing usable was recorded.
    discard(g);
    cuda::check_cuda(err != cudaSuccess ? err : cudaErrorStreamCaptureInvalidated,
                     "CUDA graph: capture_end (cudaStreamEndCapture: the capture was "
                     "invalidated by a call in the captured region)");
  }
  err = cudaGraphInstantiate(&g->exec, graph, 0);
  (void)cudaGraphDestroy(graph);  // the executable graph is independent of it
  if (err != cudaSuccess) {
    g->exec = nullptr;
    discard(g);
    cuda::check_cuda(err, "CUDA graph: capture_end (cudaGraphInstantiate)");
  }
}

// Replays the graph. When the captured region holds device-side value checks (index_add,
// gather, scatter_add indices; cross_entropy / nll_loss targets), replay() synchronises once
// after the launch to read their verdicts and raises the eager call's error for the first bad
// value, in capture order. Without such checks it only queues the launch and returns at once,
// as every other CUDA call does. Unlike the eager call, which raises before its op runs, the
// whole replay has run by then (the kernels skip a bad value: no wild read or write). The
// checks' flags need no reset here: the captured checks begin with their own memset.
void cuda_graph_replay(CudaGraphState* g) {
  require_device();
  check(g == nullptr || !g->capturing, "CUDA graph: replay before capture_end");
  check(g != nullptr && g->exec != nullptr,
        "CUDA graph: replay before capture_end (nothing has been captured)");
  check(g_capturing.load() == nullptr,
        "CUDA graph: replay while another graph is capturing (end that capture first)");
  cuda::check_cuda(cudaGraphLaunch(g->exec, cuda::stream()), "CUDA graph: replay (cudaGraphLaunch)");
  if (g->checks.empty()) return;

  // One wait for all the flags.
  std::vector<unsigned long long> first_bad(g->checks.size());
  for (std::size_t i = 0; i < g->checks.size(); ++i) {
    cuda::check_cuda(cudaMemcpyAsync(&first_bad[i], g->checks[i].first_bad.get(),
                                     sizeof(unsigned long long), cudaMemcpyDeviceToHost,
                                     cuda::stream()),
                     "CUDA graph: replay (reading a check's flag)");
  }
  cuda::synchronize();
  for (std::size_t i = 0; i < g->checks.size(); ++i) {
    if (first_bad[i] == std::numeric_limits<unsigned long long>::max()) continue;
    const auto* values = static_cast<const std::int64_t*>(g->checks[i].values.get());
    g->checks[i].raise(cuda::read_int64(values + first_bad[i], "CUDA graph: replay"));
  }
}

bool cuda_graph_is_capturing() { return cuda::capturing(); }

}  // namespace reel::backends
