#pragma once
// What the backends of reel::distributed share (not part of the public API).
#include <memory>
#include <string_view>
#include <vector>

#include "distributed/process_group.hpp"

namespace reel::distributed::detail {

// A backend's group: ProcessGroup plus an end.
class GroupBase : public ProcessGroup {
 public:
  // Finalizes, or (after a timeout left a collective unfinished) aborts the job.
  virtual void shutdown() = 0;
};

// Defined in mpi_process_group.cpp when reel is built with MPI; otherwise they raise.
std::unique_ptr<GroupBase> make_mpi_group(const InitProcessGroupOptions& options);
// Defined in nccl_process_group.cpp when reel is built with CUDA, NCCL and MPI.
std::unique_ptr<GroupBase> make_nccl_group(const InitProcessGroupOptions& options);

// The argument checks every backend makes before a collective (the op's name in messages).
void check_tensor_arg(const Tensor& t, std::string_view op, std::string_view param,
                      Backend backend);
void check_reduce_op(DType dtype, ReduceOp op, std::string_view what);
// all_gather's outputs (one per rank, input's dtype and shape) and all_gather_into_tensor's
// output (input's dtype, size x its elements), on a group of `size` ranks.
void check_all_gather_args(const std::vector<Tensor>& outputs, const Tensor& input, int size,
                           Backend backend);
void check_all_gather_into_args(const Tensor& output, const Tensor& input, int size,
                                Backend backend);

}  // namespace reel::distributed::detail
