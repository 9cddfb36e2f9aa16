// The default process group and the free functions of reel::distributed (process_group.hpp);
// the backends are in mpi_process_group.cpp and nccl_process_group.cpp.
#include "distributed/process_group.hpp"

#include <mutex>

#include "backends/error.hpp"
#include "distributed/detail.hpp"

namespace reel::distributed {

namespace {

// The default group. Its holder's destructor ends a group the program did not destroy (at
// exit), so a forgotten destroy_process_group() neither leaks MPI nor hangs after a timeout.
struct Default {
  std::mutex mutex;
  std::unique_ptr<detail::GroupBase> group;
  ~Default() {
    try {
      if (group) group->shutdown();
    } catch (...) {
    }
  }
};

Default& default_state() {
  static Default d;
  return d;
}

}  // namespace

std::string_view backend_name(Backend b) {
  switch (b) {
    case Backend::kMPI: return "mpi";
    case Backend::kNCCL: return "nccl";
  }
  return "?";
}

std::string_view reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::SUM: return "SUM";
    case ReduceOp::AVG: return "AVG";
    case ReduceOp::PRODUCT: return "PRODUCT";
    case ReduceOp::MIN: return "MIN";
    case ReduceOp::MAX: return "MAX";
  }
  return "?";
}

bool is_mpi_available() {
#ifdef REEL_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool is_nccl_available() {
#if defined(REEL_WITH_MPI) && defined(REEL_WITH_NCCL)
  return true;
#else
  return false;
#endif
}

bool is_available(Backend b) { return b == Backend::kMPI ? is_mpi_available() : is_nccl_available(); }

void init_process_group(Backend backend, InitProcessGroupOptions options) {
  check(options.timeout_.count() > 0, "init_process_group: timeout must be positive, got {} ms",
        options.timeout_.count());
  Default& d = default_state();
  std::lock_guard lock(d.mutex);
  check(d.group == nullptr,
        "init_process_group: the default process group is already initialized (backend {}); "
        "call destroy_process_group() first",
        d.group ? backend_name(d.group->backend()) : "");
  if (backend == Backend::kMPI) {
    check(is_mpi_available(),
          "init_process_group: backend mpi is not available: reel was built without MPI "
          "(install libopenmpi-dev and reconfigure; CMake option REEL_DISTRIBUTED)");
    d.group = detail::make_mpi_group(options);
  } else {
    check(is_nccl_available(),
          "init_process_group: backend nccl is not available: reel was built without {} (NCCL "
          "needs the CUDA backend, NCCL and MPI, which bootstraps it)",
          is_mpi_available() ? "CUDA/NCCL" : "MPI");
    d.group = detail::make_nccl_group(options);
  }
}

void init_process_group(std::string_view backend, InitProcessGroupOptions options) {
  if (backend == "mpi") return init_process_group(Backend::kMPI, options);
  if (backend == "nccl") return init_process_group(Backend::kNCCL, options);
  fail("init_process_group: unknown backend '{}' (expected 'mpi' for CPU tensors or 'nccl' for "
       "CUDA tensors)",
       backend);
}

bool is_initialized() {
  Default& d = default_state();
  std::lock_guard lock(d.mutex);
  return d.group != nullptr;
}

void destroy_process_group() {
  Default& d = default_state();
  std::unique_ptr<detail::GroupBase> group;
  {
    std::lock_guard lock(d.mutex);
    group = std::move(d.group);
  }
  if (group) group->shutdown();
}

ProcessGroup& default_group() {
  Default& d = default_state();
  std::lock_guard lock(d.mutex);
  check(d.group != nullptr,
        "distributed: the default process group is not initialized; call "
        "reel::distributed::init_process_group first (and launch the program with mpirun)");
  return *d.group;
}

int get_rank() { return default_group().rank(); }
int get_world_size() { return default_group().size(); }
Backend get_backend() { return default_group().backend(); }

void all_reduce(const Tensor& tensor, ReduceOp op) { default_group().all_reduce(tensor, op)->wait(); }
WorkHandle all_reduce_async(const Tensor& tensor, ReduceOp op) {
  return default_group().all_reduce(tensor, op);
}
void broadcast(const Tensor& tensor, int src) { default_group().broadcast(tensor, src)->wait(); }
WorkHandle broadcast_async(const Tensor& tensor, int src) {
  return default_group().broadcast(tensor, src);
}
void all_gather(const std::vector<Tensor>& outputs, const Tensor& input) {
  default_group().all_gather(outputs, input)->wait();
}
void all_gather_into_tensor(const Tensor& output, const Tensor& input) {
  default_group().all_gather_into_tensor(output, input)->wait();
}
void barrier() { default_group().barrier()->wait(); }

namespace detail {

void check_tensor_arg(const Tensor& t, std::string_view op, std::string_view param,
                      Backend backend) {
  check(t.defined(), "{}: {} is an undefined tensor", op, param);
  if (backend == Backend::kMPI) {
    check(t.device().is_cpu(),
          "{}: the mpi backend handles CPU tensors, but {} is on {} (use Backend::kNCCL for CUDA "
          "tensors)",
          op, param, t.device());
  } else {
    check(t.device().is_cuda(),
          "{}: the nccl backend handles CUDA tensors, but {} is on {} (use Backend::kMPI for CPU "
          "tensors)",
          op, param, t.device());
  }
  check(t.is_contiguous(), "{}: Tensors must be contiguous ({} has shape {} and strides {})", op,
        param, t.sizes(), t.strides());
}

void check_reduce_op(DType dtype, ReduceOp op, std::string_view what) {
  if (dtype == kBool) {
    check(op != ReduceOp::AVG, "{}: ReduceOp AVG is not defined for bool tensors", what);
  } else if (is_complex(dtype)) {
    check(op == ReduceOp::SUM || op == ReduceOp::AVG || op == ReduceOp::PRODUCT,
          "{}: ReduceOp {} is not defined for complex tensors ({}): complex numbers are not "
          "ordered",
          what, reduce_op_name(op), dtype);
  }
}

void check_all_gather_args(const std::vector<Tensor>& outputs, const Tensor& input, int size,
                           Backend backend) {
  check_tensor_arg(input, "all_gather", "input", backend);
  check(static_cast<int>(outputs.size()) == size,
        "all_gather: outputs must hold one tensor per rank ({}), got {}", size, outputs.size());
  for (std::size_t r = 0; r < outputs.size(); ++r) {
    const std::string name = fmt::format("outputs[{}]", r);
    check_tensor_arg(outputs[r], "all_gather", name, backend);
    check(outputs[r].dtype() == input.dtype() && outputs[r].sizes() == input.sizes(),
          "all_gather: {} must have the input's dtype and shape ({}, {}), got {}, {}", name,
          input.dtype(), input.sizes(), outputs[r].dtype(), outputs[r].sizes());
  }
}

void check_all_gather_into_args(const Tensor& output, const Tensor& input, int size,
                                Backend backend) {
  check_tensor_arg(input, "all_gather_into_tensor", "input", backend);
  check_tensor_arg(output, "all_gather_into_tensor", "output", backend);
  check(output.dtype() == input.dtype() && output.numel() == size * input.numel(),
        "all_gather_into_tensor: output must have the input's dtype ({}) and world_size x its "
        "elements ({} x {} = {}), got {} with {} elements",
        input.dtype(), size, input.numel(), size * input.numel(), output.dtype(), output.numel());
}

#ifndef REEL_WITH_MPI
std::unique_ptr<GroupBase> make_mpi_group(const InitProcessGroupOptions&) {
  fail("init_process_group: reel was built without MPI");
}
#endif
#if !(defined(REEL_WITH_MPI) && defined(REEL_WITH_NCCL))
std::unique_ptr<GroupBase> make_nccl_group(const InitProcessGroupOptions&) {
  fail("init_process_group: reel was built without NCCL");
}
#endif

}  // namespace detail

}  // namespace reel::distributed
