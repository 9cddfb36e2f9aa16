#pragma once
// nn::parallel::DistributedDataParallel: data-parallel training across processes, as
// torch.nn.parallel.DistributedDataParallel.
//
//   reel::distributed::init_process_group("mpi");
//   nn::Sequential net = make_model();
//   nn::parallel::DistributedDataParallel model(net);      // broadcasts rank 0's state
//   optim::Adam opt(model.parameters(), ...);
//   for (auto& batch : loader) {                            // a DistributedSampler's shard
//     Tensor loss = F::cross_entropy(model(batch[0]), batch[1]);
//     opt.zero_grad();
//     loss.backward();   // gradients are averaged over the ranks before backward() returns
//     opt.step();
//   }
//
// Construction checks that every rank built the same parameters (count, shapes, dtypes) and
// copies rank 0's parameters and buffers to all ranks. Gradients are packed into buckets (about
// bucket_cap_mb each, parameters in reverse registration order, which is roughly the order
// backward produces their gradients); a gradient-ready hook on each parameter copies its
// gradient into its bucket, and a full bucket is all-reduced (average) at once, asynchronously,
// while backward goes on. Buckets are launched in index order on every rank (MPI needs the same
// order everywhere). When backward has run (autograd::queue_callback), the averaged gradients
// are written back into each parameter's .grad().
//
// In training mode each forward first broadcasts rank 0's buffers (BatchNorm's running
// statistics), as PyTorch's broadcast_buffers=True; the batch statistics BatchNorm normalises
// with are each rank's own (no SyncBatchNorm). no_sync() skips the all-reduce for gradient
// accumulation; the first backward after it averages the accumulated gradients.
//
// A parameter that gets no gradient in an iteration raises reel::Error naming it, unless
// find_unused_parameters(true): then it counts as a zero gradient on that rank (its .grad() is
// set to the average, zeros when no rank used it; PyTorch leaves a globally unused one alone).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "distributed/process_group.hpp"
#include "nn/module.hpp"

namespace reel::nn::parallel {

struct DistributedDataParallelOptions {
  DistributedDataParallelOptions() = default;
  DistributedDataParallelOptions& bucket_cap_mb(double v) { bucket_cap_mb_ = v; return *this; }
  DistributedDataParallelOptions& broadcast_buffers(bool v) { broadcast_buffers_ = v; return *this; }
  DistributedDataParallelOptions& find_unused_parameters(bool v) { find_unused_parameters_ = v; return *this; }
  double bucket_cap_mb_ = 25.0;
  bool broadcast_buffers_ = true;
  bool find_unused_parameters_ = false;
};

namespace detail {
struct Reducer;
}

// The part that does not depend on the wrapped module's type.
class DistributedDataParallelBase {
 public:
  DistributedDataParallelBase(std::shared_ptr<Module> module, DistributedDataParallelOptions options,
                              distributed::ProcessGroup* group);
  DistributedDataParallelBase(DistributedDataParallelBase&&) noexcept;
  DistributedDataParallelBase& operator=(DistributedDataParallelBase&&) noexcept;
  ~DistributedDataParallelBase();  // removes the gradient hooks

  // Gradient accumulation: while the guard lives, backward() only accumulates .grad() locally.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(detail::Reducer& r);
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;
    ~NoSyncGuard();

   private:
    detail::Reducer* reducer_;
    bool previous_;
  };
  [[nodiscard]] NoSyncGuard no_sync();

  std::vector<Tensor> parameters() const;
  // Bucket b's parameter names (as named_parameters() gives them), for inspection and tests.
  std::vector<std::vector<std::string>> buckets() const;
  distributed::ProcessGroup& process_group() const;
  // Buckets whose all-reduce has started in the backward in progress (0 between iterations):
  // shows the overlap, a bucket launched while backward still runs.
  std::size_t buckets_launched() const;

 protected:
  // Before each forward: buffers broadcast (training), and the reducer armed for a backward.
  void prepare_forward();

 private:
  std::shared_ptr<detail::Reducer> reducer_;
};

template <typename ModuleType>
class DistributedDataParallel : public DistributedDataParallelBase {
 public:
  // group: the default process group when null.
  explicit DistributedDataParallel(ModuleType module, DistributedDataParallelOptions options = {},
                                   distributed::ProcessGroup* group = nullptr)
      : DistributedDataParallelBase(module.ptr(), options, group), module_(std::move(module)) {}

  template <typename... Args>
  decltype(auto) operator()(Args&&... args) {
    prepare_forward();
    return module_(std::forward<Args>(args)...);
  }
  // The wrapped module (PyTorch's ddp.module): save and evaluate it.
  ModuleType& module() { return module_; }
  const ModuleType& module() const { return module_; }
  auto* operator->() const { return module_.get(); }

 private:
  ModuleType module_;
};

}  // namespace reel::nn::parallel
