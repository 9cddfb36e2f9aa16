#pragma once
// reel::distributed: collectives across processes, as torch.distributed.
//
//   mpirun -np 2 ./train            (each process:)
//   reel::distributed::init_process_group(reel::distributed::Backend::kMPI);
//   int rank = reel::distributed::get_rank(), world = reel::distributed::get_world_size();
//   reel::distributed::all_reduce(t, reel::distributed::ReduceOp::AVG);   // in place
//
// Backends: MPI (OpenMPI, launched by mpirun) for CPU tensors; NCCL for CUDA tensors, its
// unique id bootstrapped over MPI, so mpirun launches both. Rank and world size come from MPI.
// One process group per process (PyTorch's default group, WORLD); no new_group().
//
// Every collective is in place on contiguous tensors, for every dtype reel has (float16,
// bfloat16 and complex32 reduce in float32 element by element, as NCCL does). Calls are
// checked: by default each collective first exchanges what every rank called (which op, the
// dtype, the element count, the root) and raises the same reel::Error on every rank when they
// disagree, instead of MPI's undefined behaviour (InitProcessGroupOptions::check_calls).
//
// Failure: every wait has a deadline (InitProcessGroupOptions::timeout, PyTorch's default of 30
// minutes). A rank that never joins (init) or stops calling collectives makes the others raise
// reel::Error naming the op, the rank and the timeout; the group is unusable afterwards, and
// destroy_process_group() (also run at exit) then ends the whole job with MPI_Abort rather than
// hang in MPI_Finalize. A rank that dies is mpirun's to handle: it ends the job.
//
// MPI runs on one communication thread per process (every MPI call is made there; PyTorch's
// ProcessGroupMPI does the same), so an async collective proceeds while the caller computes:
// DistributedDataParallel overlaps its gradient all-reduces with the rest of backward this way.
// docs/distributed.md has launch, sharding, checkpoints and failure.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::distributed {

enum class Backend { kMPI, kNCCL };
std::string_view backend_name(Backend b);  // "mpi", "nccl"

// torch.distributed.ReduceOp. AVG is SUM divided by the world size (integers: truncated, as
// NCCL's ncclAvg). bool: SUM and MAX are a logical or, PRODUCT and MIN a logical and, AVG is an
// error (PyTorch's NCCL mapping). complex: SUM, AVG and PRODUCT only.
enum class ReduceOp { SUM, AVG, PRODUCT, MIN, MAX };
std::string_view reduce_op_name(ReduceOp op);

struct InitProcessGroupOptions {
  InitProcessGroupOptions() = default;
  // How long any wait may take: init waiting for the other ranks to join, and each collective.
  InitProcessGroupOptions& timeout(std::chrono::milliseconds v) { timeout_ = v; return *this; }
  // Exchange a call signature before each collective and raise on a mismatch (see above).
  InitProcessGroupOptions& check_calls(bool v) { check_calls_ = v; return *this; }
  std::chrono::milliseconds timeout_ = std::chrono::minutes(30);
  bool check_calls_ = true;
};

// Whether this build has the backend (MPI: reel was built with an MPI library; NCCL: with CUDA
// and NCCL). init_process_group with a missing backend raises reel::Error saying so.
bool is_mpi_available();
bool is_nccl_available();
bool is_available(Backend b);

// Starts the process group: MPI_Init on the communication thread (waits for every rank to
// join, at most the timeout), then, for NCCL, the NCCL communicator. Once per process: a second
// call is an error until destroy_process_group().
void init_process_group(Backend backend, InitProcessGroupOptions options = {});
void init_process_group(std::string_view backend, InitProcessGroupOptions options = {});
bool is_initialized();
// Finalizes (or, after a timeout, aborts the job). Also run at exit when the program forgot.
void destroy_process_group();

int get_rank();
int get_world_size();
Backend get_backend();

// The handle of an async collective (torch's Work): wait() blocks until it is done, then
// raises what went wrong (the timeout, a mismatch, an MPI error). The tensors it was given must
// not be read or written until then; the handle keeps them alive.
class Work {
 public:
  virtual ~Work() = default;
  virtual bool is_completed() = 0;
  virtual void wait() = 0;
};
using WorkHandle = std::shared_ptr<Work>;

// The collectives, on the default group. The *_async forms return at once.
void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::SUM);
WorkHandle all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::SUM);
void broadcast(const Tensor& tensor, int src);
WorkHandle broadcast_async(const Tensor& tensor, int src);
// outputs: one tensor per rank, each of input's shape and dtype (torch's all_gather).
void all_gather(const std::vector<Tensor>& outputs, const Tensor& input);
// output: [world_size * input.numel()] elements in rank order (torch's all_gather_into_tensor).
void all_gather_into_tensor(const Tensor& output, const Tensor& input);
void barrier();

// The group object behind the free functions; DistributedDataParallel takes one.
class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual Backend backend() const = 0;
  virtual std::chrono::milliseconds timeout() const = 0;
  // `checked`: exchange the call signature first (the group's check_calls option decides when
  // unset). DistributedDataParallel checks its layout once and then calls unchecked.
  virtual WorkHandle all_reduce(const Tensor& tensor, ReduceOp op, std::optional<bool> checked = {}) = 0;
  virtual WorkHandle broadcast(const Tensor& tensor, int src, std::optional<bool> checked = {}) = 0;
  virtual WorkHandle all_gather(const std::vector<Tensor>& outputs, const Tensor& input) = 0;
  virtual WorkHandle all_gather_into_tensor(const Tensor& output, const Tensor& input,
                                            std::optional<bool> checked = {}) = 0;
  virtual WorkHandle barrier() = 0;
};

// The default group; reel::Error when init_process_group has not been called.
ProcessGroup& default_group();

}  // namespace reel::distributed
