// Bitwise reproducibility of the CPU backend at a fixed thread count (docs/training.md,
// "Determinism"): every case runs many times at 2 and 3 threads while other threads load the
// machine (spinning and sleeping at random, so the pool's workers start and finish at varying
// times) and one more thread runs reel ops of its own (so the pool is sometimes owned by
// another thread and this one's loops run inline), and each repetition must give the same
// bytes as the first. Sizes are above the kernels' thresholds for splitting over threads (sum
// parts, gemm blocks, conv1d tiles and weight-gradient slots).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/thread_pool.hpp"
#include "reel.hpp"

namespace {

using namespace reel;
namespace F = reel::nn::functional;

constexpr int kRepeats = 20;

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<unsigned char> out(static_cast<std::size_t>(c.numel()) * c.element_size());
  if (!out.empty()) std::memcpy(out.data(), c.raw_data(), out.size());
  return out;
}

// Threads that disturb the timing of the pool while alive: `spinners` burn CPU in bursts of
// random length with random sleeps between, and one thread runs reel reductions and matmuls on
// its own tensors (under no-grad, drawing no random numbers) so that it competes for the pool.
class Load {
 public:
  explicit Load(int spinners) {
    for (int i = 0; i < spinners; ++i) {
      threads_.emplace_back([this, i] {
        std::mt19937 rng(1234u + static_cast<unsigned>(i));
        volatile double sink = 0;
        while (!stop_.load(std::memory_order_relaxed)) {
          const int burst = std::uniform_int_distribution<int>(1000, 200000)(rng);
          for (int k = 0; k < burst; ++k) sink = sink + k * 1e-9;
          std::this_thread::sleep_for(
              std::chrono::microseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
        }
      });
    }
    threads_.emplace_back([this] {
      NoGradGuard no_grad;
      const Tensor a = ones({512, 512});
      const Tensor v = ones({1 << 20});
      while (!stop_.load(std::memory_order_relaxed)) {
        (void)v.sum();
        (void)matmul(a, a);
      }
    });
  }
  ~Load() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
  }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Runs `body` kRepeats times at each thread count under load and requires every output's bytes
// to equal the first repetition's. Restores the thread count afterwards.
void require_bitwise_repeatable(const std::function<std::vector<Tensor>()>& body) {
  const int saved = get_num_threads();
  struct Restore {
    int n;
    ~Restore() { set_num_threads(n); }
  } restore{saved};
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    set_num_threads(threads);
    Load load(2);
    std::vector<std::vector<unsigned char>> first;
    for (const Tensor& t : body()) first.push_back(bytes_of(t));
    for (int r = 1; r < kRepeats; ++r) {
      CAPTURE(r);
      const std::vector<Tensor> again = body();
      REQUIRE(again.size() == first.size());
      for (std::size_t i = 0; i < again.size(); ++i) {
        CAPTURE(i);
        CHECK(bytes_of(again[i]) == first[i]);
      }
    }
  }
}

Tensor randn_seeded(std::vector<std::int64_t> shape, std::uint64_t seed,
                    DType dtype = kFloat32) {
  manual_seed(seed);
  return randn(shape, dtype);
}

}  // namespace

TEST_CASE("determinism: the harness sees a one-ulp difference") {
  // bytes_of must distinguish values that compare close: otherwise every case below passes.
  const Tensor a = full({3}, 1.0f);
  const Tensor b = full({3}, std::nextafter(1.0f, 2.0f));
  CHECK(bytes_of(a) != bytes_of(b));
  CHECK(bytes_of(a) == bytes_of(a.clone()));
}

TEST_CASE("determinism: sum and mean over large tensors") {
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype);
    const Tensor x = randn_seeded({1 << 22}, 1, dtype);        // 32 parts of 131072
    const Tensor m = randn_seeded({64, 1 << 16}, 2, dtype);    // row and column sums
    require_bitwise_repeatable([&] {
      return std::vector<Tensor>{x.sum(), x.mean(), m.sum({1}), m.sum({0}), m.mean({0}, true),
                                 x.view({256, 1 << 14}).sum({1})};
    });
  }
}

TEST_CASE("determinism: matmul, batched matmul and matrix-vector products") {
  const Tensor a = randn_seeded({300, 257}, 3), b = randn_seeded({257, 190}, 4);
  const Tensor ba = randn_seeded({6, 64, 96}, 5), bb = randn_seeded({6, 96, 80}, 6);
  const Tensor v = randn_seeded({257}, 7);
  const Tensor tall = randn_seeded({4096, 257}, 8);
  require_bitwise_repeatable([&] {
    return std::vector<Tensor>{matmul(a, b), matmul(ba, bb), matmul(a, v), matmul(tall, a.t())};
  });
}

TEST_CASE("determinism: conv1d forward and backward (dense, grouped, depthwise)") {
  struct Case {
    const char* name;
    std::int64_t cin, cout, groups, kernel;
  };
  for (const Case& c : {Case{"dense", 16, 32, 1, 5}, Case{"grouped", 16, 32, 4, 3},
                        Case{"depthwise", 32, 32, 32, 7}, Case{"depthwise x2", 16, 32, 16, 3}}) {
    CAPTURE(c.name);
    const Tensor x0 = randn_seeded({16, c.cin, 1024}, 9);
    const Tensor w0 = randn_seeded({c.cout, c.cin / c.groups, c.kernel}, 10);
    const Tensor b0 = randn_seeded({c.cout}, 11);
    const Tensor g = randn_seeded({16, c.cout, 1024}, 12);
    require_bitwise_repeatable([&] {
      const Tensor x = x0.clone().requires_grad_(true);
      const Tensor w = w0.clone().requires_grad_(true);
      const Tensor b = b0.clone().requires_grad_(true);
      const Tensor y = F::conv1d(x, w, b, F::Conv1dFuncOptions().padding(c.kernel / 2).groups(c.groups));
      y.backward(g);
      return std::vector<Tensor>{y.detach(), x.grad(), w.grad(), b.grad()};
    });
  }
}

TEST_CASE("determinism: softmax, log_softmax and cross-entropy, forward and backward") {
  const Tensor logits0 = randn_seeded({2048, 300}, 13);
  const Tensor lanes0 = randn_seeded({32, 50, 400}, 14);  // softmax over a non-last dim
  manual_seed(15);
  const Tensor target = randint(0, 300, {2048});
  require_bitwise_repeatable([&] {
    const Tensor logits = logits0.clone().requires_grad_(true);
    const Tensor lanes = lanes0.clone().requires_grad_(true);
    const Tensor loss = F::cross_entropy(logits, target) +
                        (softmax(lanes, 1) * lanes0).sum() + log_softmax(logits, 1).mean();
    loss.backward();
    return std::vector<Tensor>{loss.detach(), logits.grad(), lanes.grad()};
  });
}

TEST_CASE("determinism: training steps of a small model") {
  // Conv1d + BatchNorm1d + Dropout + Linear with Adam: every kernel of a training step, the
  // engine's order of gradient accumulation, and the dropout masks (from manual_seed).
  require_bitwise_repeatable([] {
    manual_seed(2026);
    nn::Sequential model(nn::Conv1d(nn::Conv1dOptions(8, 32, 5).padding(2)),
                         nn::BatchNorm1d(32), nn::ReLU(), nn::Dropout(0.2),
                         nn::Conv1d(nn::Conv1dOptions(32, 32, 3).padding(1).groups(4)),
                         nn::Conv1d(nn::Conv1dOptions(32, 32, 3).padding(1).groups(32)),
                         nn::Flatten(), nn::Linear(32 * 128, 10));
    optim::Adam adam(model->parameters(), optim::AdamOptions(1e-3));
    const Tensor x = randn({64, 8, 128});
    const Tensor y = randint(0, 10, {64});
    Tensor loss;
    for (int step = 0; step < 4; ++step) {
      adam.zero_grad();
      loss = F::cross_entropy(model->forward(x), y);
      loss.backward();
      adam.step();
    }
    std::vector<Tensor> out{loss.detach()};
    for (const auto& [name, t] : model->state_dict()) out.push_back(t);
    for (const auto& [name, t] : adam.state_dict().tensors) out.push_back(t);
    return out;
  });
}

TEST_CASE("determinism: use_deterministic_algorithms is a process-wide switch, off by default") {
  CHECK_FALSE(are_deterministic_algorithms_enabled());
  use_deterministic_algorithms(true);
  CHECK(are_deterministic_algorithms_enabled());
  use_deterministic_algorithms(false);
  CHECK_FALSE(are_deterministic_algorithms_enabled());
}
