#pragma once
// The reference backend: naive loops that are obviously right. It is the oracle every fast
// kernel is tested against and the first backend a student should read, so each kernel is the
// formula written as a loop over `for_each_offset` (backends/strided_loop.hpp), with no
// blocking, no threads and no SIMD.
//
// The methods are defined one concept per file:
//   memory.cpp      allocate / free / host copies, and reference_backend()
//   elementwise.cpp copy (with cast), fill, where
//   unary.cpp       unary math
//   binary.cpp      binary math, comparisons, activation backward helpers
//   reduce.cpp      reduce, arg_reduce
//   matmul.cpp      batched matmul
//   indexing.cpp    index_select, index_add, gather, scatter_add
//   random.cpp      random fill (Philox, backends/philox.hpp)
//   conv1d.cpp      conv1d forward, backward input, backward weight and bias
//   pad1d.cpp       pad1d (zeros, reflect, replicate, circular) and its backward
//   norm.cpp        norm statistics, normalization and its backward (batch/layer/group/instance)
//   pool1d.cpp      max / avg / adaptive pooling over the last dim, and the avg backwards
//   softmax.cpp     softmax / log_softmax along a dim and their gradients (issue 7)
//   loss.cpp        cross_entropy and nll_loss over class indices, and their gradients
//   optim.cpp       fused optimizer updates: sgd, adam/adamw, rmsprop, adagrad (issue 7)
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "backends/backend.hpp"
#include "backends/element_math.hpp"

namespace reel::backends {

class ReferenceBackend : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  // Every (op, dtype) pair the op table accepts.
  bool supports(OpId op, DType t) const override;

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) override;

 protected:
  void copy_impl(const View& out, const View& in) override;
  void fill_impl(const View& out, Scalar value) override;
  void unary_impl(UnaryOp op, const View& out, const View& in) override;
  void binary_impl(BinaryOp op, const View& out, const View& a, const View& b) override;
  void where_impl(const View& out, const View& cond, const View& a, const View& b) override;

  void reduce_impl(ReduceOp op, const View& out, const View& in) override;
  void arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices, const View& in,
                       int dim) override;

  void matmul_impl(const View& out, const View& a, const View& b) override;

  void index_select_impl(const View& out, const View& in, int dim, const View& index) override;
  void index_add_impl(const View& out, int dim, const View& index, const View& src) override;
  void gather_impl(const View& out, const View& in, int dim, const View& index) override;
  void scatter_add_impl(const View& out, int dim, const View& index, const View& src) override;

  void random_impl(const View& out, const RandomSpec& spec) override;

  void conv1d_forward_impl(const View& out, const View& in, const View& weight, const View& bias,
                           const Conv1dParams& p) override;
  void conv1d_backward_input_impl(const View& grad_in, const View& grad_out, const View& weight,
                                  const Conv1dParams& p) override;
  void conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                   const View& grad_out, const View& in,
                                   const Conv1dParams& p) override;
  void pad1d_impl(const View& out, const View& in, PadMode mode, std::int64_t left,
                  std::int64_t right) override;
  void pad1d_backward_impl(const View& grad_in, const View& grad_out, PadMode mode,
                           std::int64_t left, std::int64_t right) override;
  // --- normalization (issue 7) ---
  void norm_stats_impl(const View& mean, const View& var, const View& in) override;
  void norm_forward_impl(const View& out, const View& in, const View& mean, const View& var,
                         const View& weight, const View& bias, const NormParams& p) override;
  void norm_backward_impl(const View& grad_in, const View& grad_weight, const View& grad_bias,
                          const View& grad_out, const View& in, const View& mean,
                          const View& var, const View& weight, const NormParams& p) override;
  // --- pooling (issue 7) ---
  void max_pool1d_impl(const View& out, const View& indices, const View& in,
                       const Pool1dParams& p) override;
  void avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p) override;
  void avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                const Pool1dParams& p) override;
  void adaptive_max_pool1d_impl(const View& out, const View& indices, const View& in) override;
  void adaptive_avg_pool1d_impl(const View& out, const View& in) override;
  void adaptive_avg_pool1d_backward_impl(const View& grad_in, const View& grad_out) override;

  // --- softmax and losses (issue 7) ---
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
  // --- end softmax and losses ---
  // --- optimizer updates (issue 7) ---
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

// Small element-level helpers of the reference kernels (the CPU backend uses them too). The
// per-element rules themselves (casts, wrapping integers, each op's maths) are
// backends/element_math.hpp, shared with the CUDA kernels.
namespace reference {

using math::cast_value;
using math::conj;
using math::is_nan;
using math::plus;
using math::real_t;
using math::times;

// The type sums and dot products accumulate in: float32 (and complex64) in double precision,
// so the oracle is as close to exact as cheaply possible; bool counts in int64; everything else
// in itself. (PyTorch sums float32 in float32 with cascade summation; the fast kernels are
// compared to this with a tolerance.)
template <typename T> struct acc_of { using type = T; };
template <> struct acc_of<bool> { using type = std::int64_t; };
template <> struct acc_of<float> { using type = double; };
template <> struct acc_of<complex64> { using type = complex128; };
template <typename T> using acc_t = typename acc_of<T>::type;

}  // namespace reference
}  // namespace reel::backends
