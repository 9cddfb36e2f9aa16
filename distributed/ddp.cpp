// DistributedDataParallel's reducer: buckets, gradient-ready hooks, the all-reduces and the
// write-back (distributed/ddp.hpp explains the protocol).
#include "distributed/ddp.hpp"

#include <algorithm>

#include <fmt/ranges.h>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "backends/error.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::parallel {

namespace detail {

struct Reducer {
  struct Slot {
    Tensor param;
    std::string name;
    std::size_t bucket = 0;
    std::int64_t offset = 0;  // in the bucket's flat buffer, in elements
    bool ready = false;
    unsigned hook = 0;
  };
  struct Bucket {
    std::vector<std::size_t> slots;
    Tensor flat;
    std::size_t pending = 0;  // slots not ready this iteration
    distributed::WorkHandle work;
  };

  std::shared_ptr<Module> module;
  DistributedDataParallelOptions options;
  distributed::ProcessGroup* group = nullptr;
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  std::vector<std::pair<std::string, Tensor>> buffers;

  bool no_sync = false;
  bool expect_backward = false;  // a forward went through DDP since the last reduction
  bool callback_queued = false;
  std::size_t next_bucket = 0;  // buckets launch in index order

  void reset_iteration() {
    for (Slot& s : slots) s.ready = false;
    for (Bucket& b : buckets) {
      b.pending = b.slots.size();
      b.work = nullptr;
    }
    next_bucket = 0;
    callback_queued = false;
  }

  void launch_ready() {
    while (next_bucket < buckets.size() && buckets[next_bucket].pending == 0) {
      Bucket& b = buckets[next_bucket++];
      b.work = group->all_reduce(b.flat, distributed::ReduceOp::AVG, /*checked=*/false);
    }
  }

  Tensor slice(const Slot& s) const {
    return buckets[s.bucket].flat.narrow(0, s.offset, s.param.numel()).view(s.param.sizes());
  }

  void mark_ready(std::size_t i) {
    if (no_sync || !expect_backward) return;
    if (!callback_queued) {
      callback_queued = true;
      autograd::queue_callback([this] { finalize(); });
    }
    Slot& s = slots[i];
    check(!s.ready,
          "DistributedDataParallel: parameter '{}' received its gradient twice in one iteration "
          "(a second backward through the same forward, or a parameter used by two graphs); run "
          "one backward per forward, or use no_sync() for all but the last",
          s.name);
    s.ready = true;
    {
      NoGradGuard no_grad;
      slice(s).copy_(s.param.grad());
    }
    Bucket& b = buckets[s.bucket];
    if (--b.pending == 0) launch_ready();
  }

  void finalize() {
    expect_backward = false;
    std::vector<std::string> unused;
    for (Slot& s : slots) {
      if (s.ready) continue;
      if (!options.find_unused_parameters_) {
        unused.push_back(s.name);
        continue;
      }
      NoGradGuard no_grad;
      slice(s).zero_();
      s.ready = true;
      --buckets[s.bucket].pending;
    }
    if (!unused.empty()) {
      // Launched buckets must still finish, or the next collective would meet them.
      for (Bucket& b : buckets) {
        if (b.work) b.work->wait();
      }
      reset_iteration();
      fail("DistributedDataParallel: {} parameter(s) received no gradient in this iteration: {}. "
           "Every parameter must take part in the loss on every rank, or pass "
           "DistributedDataParallelOptions().find_unused_parameters(true) (a missing gradient "
           "then counts as zero)",
           unused.size(), fmt::join(unused, ", "));
    }
    launch_ready();
    for (Bucket& b : buckets) b.work->wait();
    NoGradGuard no_grad;
    for (Slot& s : slots) {
      Tensor avg = slice(s);
      Tensor g = s.param.grad();
      if (g.defined()) g.copy_(avg);
      else s.param.mutable_grad_set(avg.clone());
    }
    reset_iteration();
  }
};

namespace {

// FNV-1a over the parameters' dtypes and shapes: the layout every rank must share.
std::int64_t layout_hash(const std::vector<Reducer::Slot>& slots) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<std::uint64_t>(v >> (8 * i)) & 0xffu;
      h *= 1099511628211ull;
    }
  };
  for (const auto& s : slots) {
    mix(static_cast<std::int64_t>(s.param.dtype()));
    mix(s.param.dim());
    for (std::int64_t d : s.param.sizes()) mix(d);
  }
  return static_cast<std::int64_t>(h);
}

// Copies rank 0's values into `t` on every rank (through a contiguous copy when needed).
distributed::WorkHandle broadcast_from_rank0(distributed::ProcessGroup& g, const Tensor& t,
                                             std::vector<std::pair<Tensor, Tensor>>& copy_back) {
  if (t.is_contiguous()) return g.broadcast(t, 0, /*checked=*/false);
  Tensor tmp = t.contiguous();
  copy_back.emplace_back(t, tmp);
  return g.broadcast(tmp, 0, /*checked=*/false);
}

void broadcast_all(distributed::ProcessGroup& g, const std::vector<Tensor>& tensors) {
  NoGradGuard no_grad;
  std::vector<std::pair<Tensor, Tensor>> copy_back;
  std::vector<distributed::WorkHandle> works;
  for (const Tensor& t : tensors) works.push_back(broadcast_from_rank0(g, t, copy_back));
  for (auto& w : works) w->wait();
  for (auto& [dst, src] : copy_back) dst.copy_(src);
}

}  // namespace

}  // namespace detail

DistributedDataParallelBase::DistributedDataParallelBase(std::shared_ptr<Module> module,
                                                         DistributedDataParallelOptions options,
                                                         distributed::ProcessGroup* group)
    : reducer_(std::make_shared<detail::Reducer>()) {
  check(module != nullptr, "DistributedDataParallel: module is null");
  check(options.bucket_cap_mb_ > 0,
        "DistributedDataParallel: bucket_cap_mb must be positive, got {}", options.bucket_cap_mb_);
  detail::Reducer& r = *reducer_;
  r.module = std::move(module);
  r.options = options;
  r.group = group ? group : &distributed::default_group();
  distributed::ProcessGroup& g = *r.group;

  for (auto& [name, p] : r.module->named_parameters()) {
    if (!p.requires_grad()) continue;
    check(g.backend() == distributed::Backend::kMPI ? p.device().is_cpu() : p.device().is_cuda(),
          "DistributedDataParallel: parameter '{}' is on {}, but the process group's backend is "
          "{} (mpi: CPU tensors, nccl: CUDA tensors)",
          name, p.device(), distributed::backend_name(g.backend()));
    r.slots.push_back({p, name});
  }
  check(!r.slots.empty(),
        "DistributedDataParallel: the module has no parameter that requires grad");
  r.buffers = r.module->named_buffers();

  // Every rank must hold the same layout: count and hash, gathered from all ranks.
  {
    Tensor mine = tensor(std::vector<std::int64_t>{static_cast<std::int64_t>(r.slots.size()),
                                                   detail::layout_hash(r.slots)});
    Tensor all = empty({2 * g.size()}, kInt64);
    g.all_gather_into_tensor(all, mine)->wait();
    std::vector<std::int64_t> v = all.to_vector<std::int64_t>();
    for (int k = 1; k < g.size(); ++k) {
      check(v[2 * k] == v[0] && v[2 * k + 1] == v[1],
            "DistributedDataParallel: rank {} built a module with {} parameters (layout hash {}) "
            "but rank 0 built {} (hash {}): every rank must build the same model (the same "
            "parameter shapes and dtypes, in the same order)",
            k, v[2 * k], v[2 * k + 1], v[0], v[1]);
    }
  }

  // Rank 0's parameters and buffers everywhere.
  {
    std::vector<Tensor> state;
    for (auto& s : r.slots) state.push_back(s.param);
    for (auto& [name, b] : r.buffers) {
      if (b.defined()) state.push_back(b);
    }
    detail::broadcast_all(g, state);
  }

  // Buckets: reverse registration order, one dtype and device each, about bucket_cap_mb.
  const double cap = options.bucket_cap_mb_ * 1024 * 1024;
  std::vector<std::vector<std::size_t>> groups;
  std::int64_t bytes = 0;
  for (std::size_t k = r.slots.size(); k-- > 0;) {
    const Tensor& p = r.slots[k].param;
    const std::int64_t b = p.numel() * static_cast<std::int64_t>(p.element_size());
    bool fits = !groups.empty() && bytes + b <= cap;
    if (fits) {
      const Tensor& first = r.slots[groups.back().front()].param;
      fits = first.dtype() == p.dtype() && first.device() == p.device();
    }
    if (!fits) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(k);
    bytes += b;
  }
  for (auto& members : groups) {
    detail::Reducer::Bucket bucket;
    std::int64_t n = 0;
    for (std::size_t k : members) {
      r.slots[k].bucket = r.buckets.size();
      r.slots[k].offset = n;
      n += r.slots[k].param.numel();
    }
    bucket.slots = members;
    bucket.flat = zeros({n}, r.slots[members.front()].param.options());
    r.buckets.push_back(std::move(bucket));
  }
  r.reset_iteration();

  std::weak_ptr<detail::Reducer> weak = reducer_;
  for (std::size_t k = 0; k < r.slots.size(); ++k) {
    r.slots[k].hook = r.slots[k].param.register_post_accumulate_grad_hook([weak, k](Tensor&) {
      if (auto rr = weak.lock()) rr->mark_ready(k);
    });
  }
}

DistributedDataParallelBase::DistributedDataParallelBase(DistributedDataParallelBase&&) noexcept = default;
DistributedDataParallelBase& DistributedDataParallelBase::operator=(DistributedDataParallelBase&&) noexcept = default;

DistributedDataParallelBase::~DistributedDataParallelBase() {
  if (!reducer_) return;
  for (auto& s : reducer_->slots) {
    try {
      s.param.remove_hook(s.hook);
    } catch (...) {
    }
  }
}

void DistributedDataParallelBase::prepare_forward() {
  detail::Reducer& r = *reducer_;
  if (r.options.broadcast_buffers_ && r.module->is_training() && r.group->size() > 1) {
    std::vector<Tensor> buffers;
    for (auto& [name, b] : r.buffers) {
      if (b.defined()) buffers.push_back(b);
    }
    if (!buffers.empty()) detail::broadcast_all(*r.group, buffers);
  }
  r.reset_iteration();
  r.expect_backward = GradMode::is_enabled() && r.module->is_training();
}

DistributedDataParallelBase::NoSyncGuard::NoSyncGuard(detail::Reducer& r)
    : reducer_(&r), previous_(r.no_sync) {
  r.no_sync = true;
}
DistributedDataParallelBase::NoSyncGuard::~NoSyncGuard() { reducer_->no_sync = previous_; }

DistributedDataParallelBase::NoSyncGuard DistributedDataParallelBase::no_sync() {
  return NoSyncGuard(*reducer_);
}

std::vector<Tensor> DistributedDataParallelBase::parameters() const {
  return reducer_->module->parameters();
}

std::vector<std::vector<std::string>> DistributedDataParallelBase::buckets() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : reducer_->buckets) {
    out.emplace_back();
    for (std::size_t k : b.slots) out.back().push_back(reducer_->slots[k].name);
  }
  return out;
}

std::size_t DistributedDataParallelBase::buckets_launched() const { return reducer_->next_bucket; }

distributed::ProcessGroup& DistributedDataParallelBase::process_group() const {
  return *reducer_->group;
}

}  // namespace reel::nn::parallel
