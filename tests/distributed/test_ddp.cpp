// nn::parallel::DistributedDataParallel on the MPI backend (run by mpirun with 2 and 3
// processes): training with a per-rank batch B on W ranks gives the parameters of one process
// training on the whole batch W*B; buckets, no_sync, unused parameters, buffers, layout checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "reel.hpp"

using namespace reel;
namespace dist = reel::distributed;
namespace F = reel::nn::functional;
using nn::parallel::DistributedDataParallel;
using nn::parallel::DistributedDataParallelOptions;

namespace {

int rank() { return dist::get_rank(); }
int world() { return dist::get_world_size(); }

// No BatchNorm, no dropout: the 1-process twin sees exactly the same computation.
nn::Sequential make_net() {
  nn::Sequential net;
  net->push_back(nn::Conv1d(nn::Conv1dOptions(3, 4, 3).padding(1)));
  net->push_back(nn::ReLU());
  net->push_back(nn::Conv1d(nn::Conv1dOptions(4, 4, 3).dilation(2).padding(2)));
  net->push_back(nn::Tanh());
  net->push_back(nn::Flatten());
  net->push_back(nn::Linear(4 * 8, 2));
  return net;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return (a.to(kFloat64) - b.to(kFloat64)).abs().max().item<double>();
}

// The global batch of step s (the same on every rank), and this rank's shard of it.
Tensor global_inputs(int step, std::int64_t per_rank) {
  Generator g(1000 + static_cast<std::uint64_t>(step));
  return randn({per_rank * world(), 3, 8}, g);
}
Tensor global_targets(int step, std::int64_t per_rank) {
  Generator g(2000 + static_cast<std::uint64_t>(step));
  return randn({per_rank * world(), 2}, g);
}

}  // namespace

TEST_CASE("DDP: W ranks x batch B train to the parameters of 1 process x batch W*B") {
  for (double cap_mb : {25.0, 1e-4}) {  // one bucket; one parameter per bucket
    CAPTURE(cap_mb);
    const std::int64_t B = 4;
    // Different initial weights on purpose: DDP must start every rank from rank 0's.
    manual_seed(10 + static_cast<std::uint64_t>(rank()));
    nn::Sequential local = make_net();
    DistributedDataParallel ddp(local, DistributedDataParallelOptions().bucket_cap_mb(cap_mb));
    // The twin: rank 0's initial weights, trained alone on the whole batch.
    manual_seed(10);
    nn::Sequential twin = make_net();

    optim::SGD opt(ddp.parameters(), optim::SGDOptions(0.1).momentum(0.9));
    optim::SGD opt_twin(twin->parameters(), optim::SGDOptions(0.1).momentum(0.9));
    for (int step = 0; step < 4; ++step) {
      Tensor x = global_inputs(step, B), y = global_targets(step, B);
      Tensor loss = F::mse_loss(ddp(x.narrow(0, rank() * B, B)), y.narrow(0, rank() * B, B));
      opt.zero_grad();
      loss.backward();
      opt.step();

      Tensor loss_twin = F::mse_loss(twin(x), y);
      opt_twin.zero_grad();
      loss_twin.backward();
      opt_twin.step();
    }
    auto p = local->named_parameters();
    auto q = twin->named_parameters();
    REQUIRE(p.size() == q.size());
    for (std::size_t k = 0; k < p.size(); ++k) {
      CAPTURE(p[k].first);
      CHECK(max_abs_diff(p[k].second, q[k].second) < 1e-5);
      // And the parameters moved: a no-op reducer would not pass the comparison above anyway,
      // but this makes a vacuous test impossible.
      CHECK(p[k].second.grad().defined());
    }
    if (cap_mb < 1) {
      // One parameter per bucket, in reverse registration order.
      auto buckets = ddp.buckets();
      REQUIRE(buckets.size() == p.size());
      CHECK(buckets.front() == std::vector<std::string>{p.back().first});
      CHECK(buckets.back() == std::vector<std::string>{p.front().first});
    } else {
      CHECK(ddp.buckets().size() == 1);
    }
  }
}

TEST_CASE("DDP: a bucket's all-reduce starts while backward still runs") {
  manual_seed(4);
  nn::Sequential local = make_net();
  DistributedDataParallel ddp(local, DistributedDataParallelOptions().bucket_cap_mb(1e-4));
  const std::size_t n_buckets = ddp.buckets().size();
  REQUIRE(n_buckets == local->parameters().size());
  // The first layer's weight gets its gradient last but for its bias (one node makes both, the
  // weight first; buckets launch in order, so the bias's bucket, before the weight's, waits).
  // When the weight's hook runs (after DDP's own, registered first), the other layers' buckets
  // must already have been launched: their all-reduces run while backward is still going.
  std::size_t launched_at_first_layer = 0;
  local->parameters()[0].register_post_accumulate_grad_hook(
      [&](Tensor&) { launched_at_first_layer = ddp.buckets_launched(); });
  Tensor x = global_inputs(9, 2), y = global_targets(9, 2);
  F::mse_loss(ddp(x.narrow(0, rank() * 2, 2)), y.narrow(0, rank() * 2, 2)).backward();
  CHECK(launched_at_first_layer == n_buckets - 2);
  CHECK(ddp.buckets_launched() == 0);  // reset once the iteration's reduction is done
}

TEST_CASE("DDP: no_sync accumulates locally; the next backward averages the sum") {
  const std::int64_t B = 2;
  manual_seed(3);
  nn::Sequential local = make_net();
  DistributedDataParallel ddp(local);
  manual_seed(3);
  nn::Sequential twin = make_net();

  Tensor x = global_inputs(7, 2 * B), y = global_targets(7, 2 * B);  // two micro-batches per rank
  auto shard = [&](const Tensor& t, int r, int micro) { return t.narrow(0, (r * 2 + micro) * B, B); };
  {
    auto guard = ddp.no_sync();
    F::mse_loss(ddp(shard(x, rank(), 0)), shard(y, rank(), 0)).backward();
  }
  // Still local: equal to this rank's own gradient.
  Tensor local_grad = local->parameters()[0].grad().clone();
  twin->zero_grad();
  F::mse_loss(twin(shard(x, rank(), 0)), shard(y, rank(), 0)).backward();
  CHECK(max_abs_diff(local_grad, twin->parameters()[0].grad()) < 1e-6);

  F::mse_loss(ddp(shard(x, rank(), 1)), shard(y, rank(), 1)).backward();
  // Expected: (1/W) sum over ranks of (g_r0 + g_r1).
  twin->zero_grad();
  for (int r = 0; r < world(); ++r) {
    for (int micro = 0; micro < 2; ++micro) {
      (F::mse_loss(twin(shard(x, r, micro)), shard(y, r, micro)) / static_cast<double>(world())).backward();
    }
  }
  auto p = local->parameters(), q = twin->parameters();
  for (std::size_t k = 0; k < p.size(); ++k) CHECK(max_abs_diff(p[k].grad(), q[k].grad()) < 1e-5);
}

TEST_CASE("DDP: a parameter without a gradient is an error unless find_unused_parameters") {
  auto make = [] {
    nn::Sequential net;
    net->push_back(nn::Linear(3, 2));
    return net;
  };
  manual_seed(5);
  nn::Sequential used = make();
  nn::Linear spare(3, 3);  // registered, never used in forward
  used->register_module("spare", spare);
  {
    DistributedDataParallel ddp(used);
    Tensor x = ones({2, 3});
    CHECK_THROWS_WITH_AS(ddp(x).sum().backward(),
                         doctest::Contains("received no gradient in this iteration: spare.weight, spare.bias"),
                         reel::Error);
  }
  used->zero_grad();
  DistributedDataParallel ddp(used, DistributedDataParallelOptions().find_unused_parameters(true));
  Tensor x = full({2, 3}, static_cast<double>(rank() + 1));
  ddp(x).sum().backward();
  CHECK(equal(spare->weight.grad(), zeros({3, 3})));
  // d/dW of sum(W x + b) over the batch: each row of the gradient is the sum of x's rows,
  // 2 * (r + 1) on rank r, averaged: 2 * (W + 1) / 2.
  Tensor w_grad = used->named_parameters()[0].second.grad();
  CHECK(equal(w_grad, full({2, 3}, static_cast<double>(world() + 1))));
}

TEST_CASE("DDP: rank 0's buffers before each training forward; batch statistics stay per rank") {
  nn::Sequential net;
  net->push_back(nn::BatchNorm1d(nn::BatchNorm1dOptions(2).momentum(0.5)));
  DistributedDataParallel ddp(net);
  Tensor running_mean = net->named_buffers()[0].second;
  REQUIRE(net->named_buffers()[0].first == "0.running_mean");
  {
    NoGradGuard no_grad;
    running_mean.fill_(10.0 * (rank() + 1));  // every rank's own value
  }
  // Each rank's batch has mean 2 * (r + 1) in every channel.
  Tensor x = full({4, 2, 3}, 2.0 * (rank() + 1));
  Tensor y = ddp(x);
  // Broadcast first (10, rank 0's), then updated with this rank's batch mean.
  CHECK(running_mean.to_vector<float>() ==
        std::vector<float>(2, static_cast<float>(0.5 * 10.0 + 0.5 * 2.0 * (rank() + 1))));
  // The output is normalised with this rank's own batch statistics: all zeros here.
  CHECK(y.abs().max().item<double>() == 0.0);
}

TEST_CASE("DDP: ranks that built different models are told so, on every rank") {
  nn::Linear lin(3, rank() == 1 ? 5 : 4);
  CHECK_THROWS_WITH_AS((void)DistributedDataParallel<nn::Linear>(lin),
                       doctest::Contains("every rank must build the same model"), reel::Error);
  nn::Linear ok(3, 4);
  CHECK_THROWS_WITH_AS((void)DistributedDataParallel<nn::Linear>(ok, DistributedDataParallelOptions().bucket_cap_mb(0)),
                       doctest::Contains("bucket_cap_mb must be positive"), reel::Error);
}
