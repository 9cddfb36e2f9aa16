#pragma once
// The CUDA backend: the backend contract on one GPU (device 0, or the device current when it
// is first used).
//
// Everything runs on one non-blocking stream (runtime.hpp), in order; copy_to_host and
// copy_from_host wait for it, so host code always sees finished results. Memory comes from
// a caching allocator (allocator.hpp). The primitives with kernels are listed by supports()
// (docs/cuda.md); every other one raises Backend's "<op> is not implemented on the cuda
// backend".
//
// Reading order: this class (validation, dim merging, fast paths) in cuda_backend.cpp, then
// the kernels in fill_copy.cu and binary.cu, which share device_utils.cuh.
//
// Plain C++ (no CUDA headers): the rest of reel and the tests include it with any compiler.
#include <cstddef>
#include <string_view>

#include "backends/backend.hpp"
#include "backends/cuda/allocator.hpp"

namespace reel::backends {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  std::string_view name() const override { return "cuda"; }

  // --- memory -------------------------------------------------------------------------------
  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) override;
  void synchronize() override;

  // Which primitives have kernels (cuda_backend.cpp lists them).
  bool supports(OpId op, DType t) const override;

 protected:
  // cuda_backend.cpp: elementwise (kernels in fill_copy.cu, binary.cu, unary.cu).
  void copy_impl(const View& out, const View& in) override;
  void fill_impl(const View& out, Scalar value) override;
  void unary_impl(UnaryOp op, const View& out, const View& in) override;
  void binary_impl(BinaryOp op, const View& out, const View& a, const View& b) override;
  void where_impl(const View& out, const View& cond, const View& a, const View& b) override;
  void random_impl(const View& out, const RandomSpec& spec) override;  // kernel: random.cu
  // Kernels in pad1d.cu.
  void pad1d_impl(const View& out, const View& in, PadMode mode, std::int64_t left,
                  std::int64_t right) override;
  void pad1d_backward_impl(const View& grad_in, const View& grad_out, PadMode mode,
                           std::int64_t left, std::int64_t right) override;
  // conv1d.cpp: reel's own kernels (conv1d.cu) or cuDNN (cudnn.cpp), chosen per call.
  void conv1d_forward_impl(const View& out, const View& in, const View& weight, const View& bias,
                           const Conv1dParams& p) override;
  void conv1d_backward_input_impl(const View& grad_in, const View& grad_out, const View& weight,
                                  const Conv1dParams& p) override;
  void conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                   const View& grad_out, const View& in,
                                   const Conv1dParams& p) override;
  void conv1d_backward_impl(const View& grad_in, const View& grad_weight, const View& grad_bias,
                            const View& grad_out, const View& in, const View& weight,
                            const Conv1dParams& p) override;
  // reduce.cpp (kernels in reduce.cu).
  void reduce_impl(ReduceOp op, const View& out, const View& in) override;
  void arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices, const View& in,
                       int dim) override;
  // matmul.cpp (cuBLAS; kernels in matmul.cu).
  void matmul_impl(const View& out, const View& a, const View& b) override;
  // indexing.cpp (kernels in indexing.cu).
  void index_select_impl(const View& out, const View& in, int dim, const View& index) override;
  void index_add_impl(const View& out, int dim, const View& index, const View& src) override;
  void gather_impl(const View& out, const View& in, int dim, const View& index) override;
  void scatter_add_impl(const View& out, int dim, const View& index, const View& src) override;
  // pool.cpp (kernels in pool.cu): the 1-D pools.
  void max_pool1d_impl(const View& out, const View& indices, const View& in,
                       const Pool1dParams& p) override;
  void avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p) override;
  void avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                const Pool1dParams& p) override;
  void adaptive_max_pool1d_impl(const View& out, const View& indices, const View& in) override;
  void adaptive_avg_pool1d_impl(const View& out, const View& in) override;
  void adaptive_avg_pool1d_backward_impl(const View& grad_in, const View& grad_out) override;
  // softmax.cpp (kernels in softmax.cu): softmax and the class-index losses.
  void softmax_impl(const View& out, const View& in, int dim, bool log) override;
  void softmax_backward_impl(const View& grad_in, const View& grad_out, const View& out, int dim,
                             bool log) override;
  void cross_entropy_impl(const View& losses, const View& lse, const View& target_weight,
                          const View& in, const View& target, const View& weight,
                          const CrossEntropyParams& p) override;
  void cross_entropy_backward_impl(const View& grad_in, const View& grad_losses, const View& in,
                                   const View& lse, const View& target, const View& weight,
                                   const CrossEntropyParams& p) override;
  void nll_loss_impl(const View& losses, const View& target_weight, const View& in,
                     const View& target, const View& weight,
                     const CrossEntropyParams& p) override;
  void nll_loss_backward_impl(const View& grad_in, const View& grad_losses, const View& target,
                              const View& weight, const CrossEntropyParams& p) override;
  // norm.cpp (kernels in norm.cu): batch / instance / group / layer norm.
  void norm_stats_impl(const View& mean, const View& var, const View& in) override;
  void norm_forward_impl(const View& out, const View& in, const View& mean, const View& var,
                         const View& weight, const View& bias, const NormParams& p) override;
  void norm_backward_impl(const View& grad_in, const View& grad_weight, const View& grad_bias,
                          const View& grad_out, const View& in, const View& mean,
                          const View& var, const View& weight, const NormParams& p) override;
  // optim.cpp (kernels in optim.cu): the fused optimizer updates.
  void sgd_step_impl(const View& param, const View& grad, const View& momentum_buffer,
                     const SgdStepParams& p) override;
  void adam_step_impl(const View& param, const View& grad, const View& exp_avg,
                      const View& exp_avg_sq, const View& max_exp_avg_sq,
                      const AdamStepParams& p) override;
  void rmsprop_step_impl(const View& param, const View& grad, const View& square_avg,
                         const View& grad_avg, const View& momentum_buffer,
                         const RmspropStepParams& p) override;
  void adagrad_step_impl(const View& param, const View& grad, const View& sum,
                         const AdagradStepParams& p) override;
};

}  // namespace reel::backends
