// CUDA graphs (reel::cuda::Graph, reel::cuda::GraphCapture; tensor/cuda_graph.hpp): a training
// step captured once and replayed gives the eager steps bit for bit, static inputs refilled
// before a replay are what the replay reads, the capture's misuse raises clear errors (and
// leaves no capture running), device-side checks still fire at replay, and replays allocate
// nothing. Without a GPU (or without CUDA) only the first case runs: every method then raises
// reel::Error; the other cases are doctest-skipped.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;
using reel::test::check_error;

namespace {

TensorOptions on_cuda(DType dtype = kFloat32) { return TensorOptions(dtype).device(Device(kCUDA)); }

// Linear -> ReLU -> Linear, float32, on CUDA.
struct Net {
  nn::Linear fc1{nn::LinearOptions(8, 16).device(Device(kCUDA))};
  nn::Linear fc2{nn::LinearOptions(16, 4).device(Device(kCUDA))};

  Tensor operator()(const Tensor& x) const { return fc2(relu(fc1(x))); }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> all = fc1->parameters();
    for (const Tensor& p : fc2->parameters()) all.push_back(p);
    return all;
  }
};

// Copies a's parameter values into b's (same architecture).
void copy_parameters(const Net& from, const Net& to) {
  const std::vector<Tensor> a = from.parameters(), b = to.parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) b[i].detach().copy_(a[i]);
}

}  // namespace

TEST_CASE("cuda graph: without a GPU every method raises reel::Error, none crashes" *
          doctest::skip(cuda::is_available())) {
  cuda::Graph graph;  // constructing touches no device
  CHECK_FALSE(graph.is_captured());
  check_error([&] { graph.capture_begin(); }, {"CUDA"});
  check_error([&] { graph.capture_end(); }, {"CUDA"});
  check_error([&] { graph.replay(); }, {"CUDA"});
  check_error([&] { cuda::GraphCapture capture(graph); }, {"CUDA"});
#ifdef REEL_WITH_CUDA
  check_error([&] { graph.capture_begin(); }, {"no CUDA device is available"});
#else
  check_error([&] { graph.capture_begin(); }, {"without the CUDA backend"});
#endif
  CHECK_FALSE(graph.is_captured());
  CHECK_FALSE(backends::cuda_graph_is_capturing());
  graph.reset();  // a no-op, never throws
  cuda::Graph moved = std::move(graph);
  CHECK_FALSE(moved.is_captured());
  backends::cuda_graph_destroy(nullptr);  // a no-op too
}

TEST_CASE("cuda graph: a captured training step replays the eager steps bit for bit" *
          test::needs_gpu()) {
  constexpr int kSteps = 5;
  std::vector<Tensor> xs, ys;
  for (int k = 0; k < kSteps; ++k) {
    xs.push_back(randn({32, 8}).to(Device(kCUDA)));
    ys.push_back(randn({32, 4}).to(Device(kCUDA)));
  }

  // Eagerly, k steps of SGD with momentum (its buffer is created by the first step).
  Net eager;
  Net graphed;
  copy_parameters(eager, graphed);
  optim::SGD eager_opt(eager.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  std::vector<std::vector<float>> eager_losses;
  for (int k = 0; k < kSteps; ++k) {
    eager_opt.zero_grad();
    Tensor loss = F::mse_loss(eager(xs[k]), ys[k]);
    loss.backward();
    eager_opt.step();
    eager_losses.push_back(loss.to_vector<float>());
  }

  // The same steps: one eager warm-up, one captured, replayed for the rest. Inputs are static.
  optim::SGD opt(graphed.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  Tensor x = zeros({32, 8}, on_cuda());
  Tensor y = zeros({32, 4}, on_cuda());
  Tensor loss;
  auto step = [&] {
    opt.zero_grad();
    loss = F::mse_loss(graphed(x), y);
    loss.backward();
    opt.step();
  };
  x.copy_(xs[0]);
  y.copy_(ys[0]);
  step();
  CHECK(loss.to_vector<float>() == eager_losses[0]);

  cuda::Graph graph;
  {
    cuda::GraphCapture capture(graph);
    step();  // recorded, not run
  }
  REQUIRE(graph.is_captured());
  CHECK_FALSE(backends::cuda_graph_is_capturing());
  for (int k = 1; k < kSteps; ++k) {
    x.copy_(xs[k]);
    y.copy_(ys[k]);
    graph.replay();
    CAPTURE(k);
    CHECK(loss.to_vector<float>() == eager_losses[k]);
  }
  const std::vector<Tensor> a = eager.parameters(), b = graphed.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].to_vector<float>() == b[i].to_vector<float>());
    CHECK(a[i].grad().to_vector<float>() == b[i].grad().to_vector<float>());
  }
}

TEST_CASE("cuda graph: a replay reads what was copied into the static input" * test::needs_gpu()) {
  Tensor x = zeros({4}, on_cuda());
  Tensor y;
  cuda::Graph graph;
  graph.capture_begin();
  y = x * 2.0 + 1.0;
  graph.capture_end();
  CHECK(graph.is_captured());

  x.copy_(tensor({1.0f, 2.0f, 3.0f, 4.0f}).to(Device(kCUDA)));
  graph.replay();
  CHECK(y.to_vector<float>() == std::vector<float>{3, 5, 7, 9});
  x.copy_(tensor({-1.0f, 0.5f, 0.0f, 10.0f}).to(Device(kCUDA)));
  graph.replay();
  CHECK(y.to_vector<float>() == std::vector<float>{-1, 2, 1, 21});

  // Moved, the graph still replays; reset, it is empty.
  cuda::Graph moved = std::move(graph);
  CHECK_FALSE(graph.is_captured());
  x.fill_(1.0);
  moved.replay();
  CHECK(y.to_vector<float>() == std::vector<float>{3, 3, 3, 3});
  moved.reset();
  CHECK_FALSE(moved.is_captured());
  check_error([&] { moved.replay(); }, {"CUDA graph: replay before capture_end"});
}

TEST_CASE("cuda graph: misuse raises clear errors and leaves no capture running" *
          test::needs_gpu()) {
  Tensor x = ones({4}, on_cuda());

  SUBCASE("replay or capture_end before any capture") {
    cuda::Graph graph;
    check_error([&] { graph.replay(); }, {"CUDA graph: replay before capture_end"});
    check_error([&] { graph.capture_end(); }, {"CUDA graph: capture_end without capture_begin"});
  }

  SUBCASE("capture_begin twice, on one graph or two") {
    cuda::Graph graph, other;
    graph.capture_begin();
    check_error([&] { graph.capture_begin(); },
                {"CUDA graph: capture_begin while a capture is already running"});
    check_error([&] { other.capture_begin(); },
                {"CUDA graph: capture_begin while a capture is already running"});
    check_error([&] { graph.replay(); }, {"CUDA graph: replay before capture_end"});
    Tensor y = x + 1.0;
    graph.capture_end();
    CHECK_FALSE(backends::cuda_graph_is_capturing());
    check_error([&] { graph.capture_begin(); }, {"already holds a capture", "reset()"});
    graph.replay();
    CHECK(y.to_vector<float>() == std::vector<float>{2, 2, 2, 2});
  }

  SUBCASE("item() inside the captured region raises, and the capture is abandoned cleanly") {
    cuda::Graph graph;
    check_error(
        [&] {
          cuda::GraphCapture capture(graph);
          Tensor s = (x * 2.0).sum();
          (void)s.item<float>();
        },
        {"CUDA graph: copy_to_host reads device memory back to the host",
         "move it out of the captured region"});
    CHECK_FALSE(graph.is_captured());
    CHECK_FALSE(backends::cuda_graph_is_capturing());
    CHECK_NOTHROW(cuda::synchronize());  // nothing captures any more
    CHECK((x * 3.0).sum().item<float>() == 12.0f);   // the stream runs eagerly again
    // And the same graph captures anew.
    Tensor y;
    {
      cuda::GraphCapture capture(graph);
      y = x * 5.0;
    }
    graph.replay();
    CHECK(y.to_vector<float>() == std::vector<float>{5, 5, 5, 5});
  }

  SUBCASE("synchronize inside the captured region raises too") {
    cuda::Graph graph;
    graph.capture_begin();
    check_error([&] { cuda::synchronize(); },
                {"CUDA graph: synchronize", "move it out of the captured region"});
    graph.reset();  // abandons the capture
    CHECK_FALSE(backends::cuda_graph_is_capturing());
  }
}

TEST_CASE("cuda graph: a bad class target is still caught, at replay" * test::needs_gpu()) {
  Tensor logits = randn({3, 4}).to(Device(kCUDA));
  Tensor target = zeros({3}, on_cuda(kInt64));
  Tensor loss;
  cuda::Graph graph;
  {
    cuda::GraphCapture capture(graph);
    loss = F::cross_entropy(logits, target);
  }
  graph.replay();  // all targets valid
  const std::vector<float> good = loss.to_vector<float>();

  target.copy_(tensor(std::vector<std::int64_t>{1, 9, 2}).to(Device(kCUDA)));
  check_error([&] { graph.replay(); },
              {"cross_entropy: Target 9 is out of bounds: expected a class index in [0, 4)"});
  target.fill_(0);
  graph.replay();  // the flag is reset by every replay
  CHECK(loss.to_vector<float>() == good);
}

TEST_CASE("cuda graph: replays allocate nothing; the graph's memory outlives empty_cache" *
          test::needs_gpu()) {
  Net net;
  optim::SGD opt(net.parameters(), optim::SGDOptions(0.01).momentum(0.9));
  Tensor x = randn({32, 8}).to(Device(kCUDA));
  Tensor y = randn({32, 4}).to(Device(kCUDA));
  std::vector<Tensor> batches;
  for (int k = 0; k < 10; ++k) batches.push_back(randn({32, 8}).to(Device(kCUDA)));
  auto step = [&] {
    opt.zero_grad();
    F::mse_loss(net(x), y).backward();
    opt.step();
  };
  step();
  cuda::Graph graph;
  {
    cuda::GraphCapture capture(graph);
    step();
  }
  graph.replay();
  cuda::synchronize();
  const std::size_t reserved = cuda::memory_reserved();
  const std::size_t allocated = cuda::memory_allocated();
  CHECK(allocated <= reserved);
  for (const Tensor& batch : batches) {
    x.copy_(batch);
    graph.replay();
  }
  cuda::synchronize();
  CHECK(cuda::memory_reserved() == reserved);
  CHECK(cuda::memory_allocated() == allocated);

  // empty_cache() hands back only the global cache: the graph still replays on its blocks.
  cuda::empty_cache();
  const std::vector<float> before = net.parameters()[0].to_vector<float>();
  graph.replay();
  CHECK(net.parameters()[0].to_vector<float>() != before);

  // Reset, the graph's free blocks return to the cache (reserved, not in use) and empty_cache
  // can hand them back.
  const std::size_t with_graph = cuda::memory_reserved();
  graph.reset();
  CHECK(cuda::memory_reserved() == with_graph);
  cuda::empty_cache();
  CHECK(cuda::memory_reserved() < with_graph);
  CHECK(cuda::memory_allocated() <= cuda::memory_reserved());
}
