// The NCCL process group (distributed/process_group.hpp), for CUDA tensors; built when reel has
// its CUDA backend, NCCL and MPI.
//
// NOT RUN YET: this file compiles in CI, but no machine reel has been tested on had two GPUs,
// and a one-process NCCL group proves nothing. docs/distributed.md says so too.
//
// Bootstrap: an MPI group (mpi_process_group.cpp) gives rank and world size; rank 0's
// ncclUniqueId is broadcast over it; each process first selects GPU local_rank % device_count
// (so init_process_group must come before the program's first CUDA tensor). The MPI group also
// carries the call-signature check (host memory only: no device synchronisation).
//
// Ordering: every collective is enqueued on reel's one CUDA stream, after the kernels that made
// its input and before those that read its output, so a collective needs no host wait at all
// (PyTorch makes its compute stream wait on the NCCL stream; here they are one stream). Work::wait
// returns once the collective is queued, as PyTorch's for NCCL. A watchdog thread polls each
// collective's event and the communicator's async error: past the timeout, or on an error, it
// aborts the communicator (ncclCommAbort, which unblocks the stream), records why, and every
// later call raises reel::Error with that reason; shutdown() then ends the job (MPI_Abort via the
// MPI group) instead of hanging.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "autograd/grad_mode.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/error.hpp"
#include "distributed/detail.hpp"
#include "tensor/ops.hpp"

namespace reel::distributed::detail {

namespace {

using Clock = std::chrono::steady_clock;

void check_nccl(ncclResult_t r, std::string_view what, std::string_view call) {
  if (r != ncclSuccess) fail("{}: {} failed: {}", what, call, ncclGetErrorString(r));
}

// NCCL's element type and count for a dtype (complex: its real parts, SUM/AVG only).
std::pair<ncclDataType_t, std::int64_t> nccl_type(DType d, std::int64_t n, std::string_view what) {
  switch (d) {
    case kBool: case kUInt8: return {ncclUint8, n};
    case kInt8: return {ncclInt8, n};
    case kInt32: return {ncclInt32, n};
    case kInt64: return {ncclInt64, n};
    case kFloat16: return {ncclFloat16, n};
    case kBFloat16: return {ncclBfloat16, n};
    case kFloat32: return {ncclFloat32, n};
    case kFloat64: return {ncclFloat64, n};
    case kComplex32: return {ncclFloat16, 2 * n};
    case kComplex64: return {ncclFloat32, 2 * n};
    case kComplex128: return {ncclFloat64, 2 * n};
    case kInt16: break;
  }
  fail("{}: NCCL has no reduction for dtype {}", what, d);
}

ncclRedOp_t nccl_op(DType d, ReduceOp op, std::string_view what) {
  if (d == kBool) return op == ReduceOp::SUM || op == ReduceOp::MAX ? ncclMax : ncclMin;
  if (is_complex(d)) {
    check(op != ReduceOp::PRODUCT,
          "{}: PRODUCT of complex tensors is not available on NCCL (it reduces the real and "
          "imaginary parts separately)",
          what);
  }
  switch (op) {
    case ReduceOp::SUM: return ncclSum;
    case ReduceOp::AVG: return ncclAvg;
    case ReduceOp::PRODUCT: return ncclProd;
    case ReduceOp::MIN: return ncclMin;
    case ReduceOp::MAX: return ncclMax;
  }
  return ncclSum;
}

struct Shared {
  ncclComm_t comm = nullptr;
  std::chrono::milliseconds timeout{};
  std::mutex mutex;
  std::condition_variable cv;
  struct Pending {
    cudaEvent_t done;
    Clock::time_point start;
    std::string what;
  };
  std::deque<Pending> pending;
  bool stop = false;
  std::string broken;  // why the communicator was aborted; empty while healthy
};

// The watchdog: completes events in order; aborts the communicator on a timeout or an error.
void watchdog(std::shared_ptr<Shared> sp) {
  Shared& s = *sp;
  std::unique_lock lock(s.mutex);
  for (;;) {
    s.cv.wait_for(lock, std::chrono::milliseconds(1), [&] { return s.stop || !s.pending.empty(); });
    if (s.pending.empty()) {
      if (s.stop) return;
      continue;
    }
    Shared::Pending& p = s.pending.front();
    const cudaError_t q = cudaEventQuery(p.done);
    if (q == cudaSuccess) {
      cudaEventDestroy(p.done);
      s.pending.pop_front();
      continue;
    }
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(s.comm, &async);
    const bool late = Clock::now() - p.start > s.timeout;
    if (q != cudaErrorNotReady || async != ncclSuccess || late) {
      if (s.broken.empty()) {
        s.broken = late ? fmt::format("{}: timed out after {:.1f} s waiting for the other ranks "
                                      "(a rank stopped calling collectives, or hangs)",
                                      p.what, std::chrono::duration<double>(s.timeout).count())
                        : fmt::format("{}: {}", p.what,
                                      async != ncclSuccess ? ncclGetErrorString(async)
                                                           : cudaGetErrorString(q));
        ncclCommAbort(s.comm);  // unblocks the stream; the group is unusable from now on
        s.comm = nullptr;
      }
      for (auto& x : s.pending) cudaEventDestroy(x.done);
      s.pending.clear();
    }
  }
}

class NcclWork : public Work {
 public:
  bool is_completed() override { return true; }  // queued on the stream, in order
  void wait() override {}
};

class NcclGroup final : public GroupBase {
 public:
  explicit NcclGroup(const InitProcessGroupOptions& options)
      : mpi_(make_mpi_group(options)), shared_(std::make_shared<Shared>()) {
    shared_->timeout = options.timeout_;
    check_calls_ = options.check_calls_;
    const int devices = backends::cuda::device_count();
    check(devices > 0, "init_process_group(nccl): no CUDA device ({})",
          backends::cuda::device_count_error() ? backends::cuda::device_count_error() : "none");
    int local = mpi_->rank();
    if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) local = std::atoi(v);
    backends::cuda::check_cuda(cudaSetDevice(local % devices), "init_process_group(nccl): cudaSetDevice");
    Tensor id = zeros({static_cast<std::int64_t>(sizeof(ncclUniqueId))}, kUInt8);
    ncclUniqueId uid;
    if (mpi_->rank() == 0) {
      check_nccl(ncclGetUniqueId(&uid), "init_process_group(nccl)", "ncclGetUniqueId");
      std::memcpy(id.raw_data(), &uid, sizeof uid);
    }
    mpi_->broadcast(id, 0)->wait();
    std::memcpy(&uid, id.raw_data(), sizeof uid);
    check_nccl(ncclCommInitRank(&shared_->comm, mpi_->size(), uid, mpi_->rank()),
               "init_process_group(nccl)", "ncclCommInitRank");
    thread_ = std::thread(watchdog, shared_);
  }

  ~NcclGroup() override {
    try {
      shutdown();
    } catch (...) {
    }
  }

  void shutdown() override {
    if (!thread_.joinable()) return;
    bool broken;
    {
      std::lock_guard lock(shared_->mutex);
      broken = !shared_->broken.empty();
    }
    if (!broken) backends::cuda::synchronize();  // lets the watchdog see every event complete
    {
      std::lock_guard lock(shared_->mutex);
      shared_->stop = true;
      broken = !shared_->broken.empty();
    }
    shared_->cv.notify_all();
    thread_.join();
    if (broken) {
      std::fprintf(stderr, "reel::distributed: aborting the job: %s\n", shared_->broken.c_str());
      std::fflush(nullptr);
      std::_Exit(1);  // a rank is stuck in a collective: ending this process lets mpirun end the job
    }
    if (shared_->comm) ncclCommDestroy(shared_->comm);
    shared_->comm = nullptr;
    mpi_->shutdown();
  }

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  Backend backend() const override { return Backend::kNCCL; }
  std::chrono::milliseconds timeout() const override { return shared_->timeout; }

  WorkHandle all_reduce(const Tensor& t, ReduceOp op, std::optional<bool> checked) override {
    check_tensor_arg(t, "all_reduce", "tensor", Backend::kNCCL);
    const std::string what = fmt::format("all_reduce({}, {} elements, op {})", t.dtype(), t.numel(),
                                         reduce_op_name(op));
    check_reduce_op(t.dtype(), op, what);
    auto [type, count] = nccl_type(t.dtype(), t.numel(), what);
    const ncclRedOp_t nop = nccl_op(t.dtype(), op, what);
    if (checked.value_or(check_calls_)) signature(t, 1, static_cast<std::int64_t>(op));
    t.bump_version();
    return launch(what, [&](ncclComm_t c, cudaStream_t s) {
      return ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<std::size_t>(count), type, nop, c, s);
    });
  }

  WorkHandle broadcast(const Tensor& t, int src, std::optional<bool> checked) override {
    check_tensor_arg(t, "broadcast", "tensor", Backend::kNCCL);
    check(src >= 0 && src < size(), "broadcast: src must be a rank in [0, {}) (the world size), got {}",
          size(), src);
    const std::string what = fmt::format("broadcast({}, {} elements, src {})", t.dtype(), t.numel(), src);
    if (checked.value_or(check_calls_)) signature(t, 2, src);
    t.bump_version();
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    return launch(what, [&](ncclComm_t c, cudaStream_t s) {
      return ncclBroadcast(t.raw_data(), t.raw_data(), bytes, ncclUint8, src, c, s);
    });
  }

  WorkHandle all_gather(const std::vector<Tensor>& outputs, const Tensor& input) override {
    check_all_gather_args(outputs, input, size(), Backend::kNCCL);
    Tensor flat = empty({size() * input.numel()}, input.options());
    WorkHandle w = all_gather_into_tensor(flat, input, std::nullopt);
    for (std::size_t r = 0; r < outputs.size(); ++r) {
      NoGradGuard no_grad;
      Tensor out = outputs[r];
      out.copy_(flat.narrow(0, static_cast<std::int64_t>(r) * input.numel(), input.numel())
                           .view(input.sizes()));
    }
    return w;
  }

  WorkHandle all_gather_into_tensor(const Tensor& output, const Tensor& input,
                                    std::optional<bool> checked) override {
    check_all_gather_into_args(output, input, size(), Backend::kNCCL);
    const std::string what = fmt::format("all_gather({}, {} elements per rank)", input.dtype(), input.numel());
    if (checked.value_or(check_calls_)) signature(input, 3, 0);
    output.bump_version();
    const std::size_t bytes = static_cast<std::size_t>(input.numel()) * input.element_size();
    return launch(what, [&](ncclComm_t c, cudaStream_t s) {
      return ncclAllGather(input.raw_data(), output.raw_data(), bytes, ncclUint8, c, s);
    });
  }

  WorkHandle barrier() override {
    Tensor one = ones({1}, TensorOptions(kFloat32).device(kCUDA));
    all_reduce(one, ReduceOp::SUM, false);
    backends::cuda::synchronize();  // a barrier is a host-side wait by definition
    throw_if_broken("barrier()");
    return std::make_shared<NcclWork>();
  }

 private:
  void throw_if_broken(std::string_view what) {
    std::lock_guard lock(shared_->mutex);
    check(shared_->broken.empty(), "{}: the process group is unusable after an earlier failure: {}",
          what, shared_->broken);
  }

  // The call signature, checked over MPI (host memory: no device synchronisation).
  void signature(const Tensor& t, std::int64_t kind, std::int64_t arg) {
    Tensor sig = tensor(std::vector<std::int64_t>{kind, static_cast<std::int64_t>(t.dtype()), t.numel(), arg});
    Tensor all = empty({4 * static_cast<std::int64_t>(size())}, kInt64);
    // Unchecked: this gather is the check (checking it too would double every call's latency).
    mpi_->all_gather_into_tensor(all, sig, /*checked=*/false)->wait();
    std::vector<std::int64_t> v = all.to_vector<std::int64_t>();
    for (int r = 1; r < size(); ++r) {
      for (int k = 0; k < 4; ++k) {
        check(v[4 * static_cast<std::size_t>(r) + k] == v[static_cast<std::size_t>(k)],
              "distributed (nccl): the ranks' calls disagree: rank {} called (kind {}, dtype {}, {} "
              "elements, arg {}), rank 0 (kind {}, dtype {}, {} elements, arg {}). Every rank must "
              "call the same collectives, in the same order, with tensors of the same dtype and size",
              r, v[4 * r], static_cast<DType>(v[4 * r + 1]), v[4 * r + 2], v[4 * r + 3], v[0],
              static_cast<DType>(v[1]), v[2], v[3]);
      }
    }
  }

  template <typename F>
  WorkHandle launch(const std::string& what, F&& call) {
    throw_if_broken(what);
    cudaStream_t stream = backends::cuda::stream();
    ncclComm_t comm;
    {
      std::lock_guard lock(shared_->mutex);
      comm = shared_->comm;
    }
    check_nccl(call(comm, stream), what, "NCCL");
    Shared::Pending p{nullptr, Clock::now(), what};
    backends::cuda::check_cuda(cudaEventCreateWithFlags(&p.done, cudaEventDisableTiming), "cudaEventCreate");
    backends::cuda::check_cuda(cudaEventRecord(p.done, stream), "cudaEventRecord");
    {
      std::lock_guard lock(shared_->mutex);
      shared_->pending.push_back(std::move(p));
    }
    shared_->cv.notify_all();
    return std::make_shared<NcclWork>();
  }

  std::unique_ptr<GroupBase> mpi_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool check_calls_ = true;
};

}  // namespace

std::unique_ptr<GroupBase> make_nccl_group(const InitProcessGroupOptions& options) {
  return std::make_unique<NcclGroup>(options);
}

}  // namespace reel::distributed::detail
