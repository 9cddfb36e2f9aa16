#pragma once
// The fast CPU backend: xsimd kernels, a packed gemm, a persistent thread pool and a caching
// allocator. It accelerates the primitives training loops spend their time in, for float32 and
// float64:
//   copy / fill     every dtype: memcpy or typed loops over coalesced strided views, threaded
//   unary / binary  SIMD over contiguous rows (a scalar side broadcasts; other strides go
//                   through small gather buffers), threaded over rows; issue 10 added gelu
//                   (+ backward), erf, sin, cos, sign and pow (products for the exponents
//                   PyTorch special-cases, else std::pow per element)
//   reduce          Sum, Max and Min over the innermost contiguous range (row sums), over
//                   outer dims with a contiguous inner one (column sums), and over everything;
//                   argmax/argmin along a contiguous innermost dim (issue 10: threaded rows,
//                   the SIMD extreme then its first index)
//   where, compare  issue 10: threaded rows (where: every dtype up to 8 bytes; eq/ne/lt/le/
//                   gt/ge: float32/float64)
//   adam / sgd /    issue 10: SIMD updates of contiguous parameters, threaded (optim.cpp)
//   rmsprop/adagrad
//   norms           issue 10: SIMD rows over packed samples in double (norm.cpp), else as below
//   max_pool1d,     issue 10: the reference's loops on raw unit-stride rows, threaded, bitwise
//   adaptive_avg_   (pool.cpp), as is scatter_add along the last dim of [N, C, L] (MaxPool1d's
//   pool1d (+bwd)   backward); other layouts as below
//   pooling,        issue 10: the reference loops on independent slices, threaded
//   cross_entropy   (threaded.cpp); cross_entropy without weights or smoothing on packed
//                   logits: SIMD exp in double (loss.cpp)
//   index_select,   issue 10: along dim 0 of contiguous views (indexing.cpp): slab copies and
//   index_add       SIMD row adds in index order, threaded, bitwise the reference
//   matmul          packed, blocked gemm (backends/cpu/gemm.hpp)
//   conv1d          an algorithm per case: im2col + gemm, or direct for depthwise (conv1d.hpp);
//                   complex dtypes and pad1d are the reference loops
//   softmax         log_softmax too, and both gradients: SIMD rows over contiguous views
//   bfloat16        matmul and conv1d natively (issue 9): the bf16 gemm (gemm_bf16.hpp, AVX-512
//                   BF16 where the CPU has it), float32 accumulation, one rounding on store
// It derives from the reference backend: everything without a fast path (other ops and dtypes,
// other arg_reduce layouts, other indexing, pad1d, nll_loss, and every shape error) is the reference's implementation,
// inherited rather than forwarded, so it is right by construction and the two backends raise
// the same errors. The shared checks (op table, dtypes) run once, in Backend's entry points.
#include "backends/reference/reference_backend.hpp"

namespace reel::backends {

namespace cpu {
// --- issue 10: SIMD norm paths (norm.cpp) --- Each computes and returns true when it takes the
// views (float32/float64, samples packed, the reference's shapes), else returns false untouched.
bool norm_stats_fast(const View& mean, const View& var, const View& in);
bool norm_forward_fast(const View& out, const View& in, const View& mean, const View& var,
                       const View& weight, const View& bias, const NormParams& p);
bool norm_backward_fast(const View& grad_in, const View& grad_weight, const View& grad_bias,
                        const View& grad_out, const View& in, const View& mean, const View& var,
                        const View& weight, const NormParams& p);
// pool.cpp: MaxPool1d over unit-stride rows, and the scatter_add of its backward.
bool max_pool1d_fast(const View& out, const View& indices, const View& in, const Pool1dParams& p);
bool scatter_add_last_fast(const View& out, int dim, const View& index, const View& src);
bool adaptive_avg_pool1d_fast(const View& out, const View& in);
bool adaptive_avg_pool1d_backward_fast(const View& grad_in, const View& grad_out);
// loss.cpp: cross-entropy over packed float32/float64 logits, no weight, no smoothing (SIMD exp).
bool cross_entropy_fast(const View& losses, const View& lse, const View& target_weight,
                        const View& in, const View& target, const View& weight,
                        const CrossEntropyParams& p);
bool cross_entropy_backward_fast(const View& grad_in, const View& grad_losses, const View& in,
                                 const View& lse, const View& target, const View& weight,
                                 const CrossEntropyParams& p);
}  // namespace cpu

class CpuBackend final : public ReferenceBackend {
 public:
  std::string_view name() const override { return "cpu"; }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) override;

  // --- CPU bfloat16 kernels (issue 9) --- matmul and the three conv1d primitives take bfloat16
  // views natively (the bf16 gemm, gemm_bf16.hpp); everything else as the reference backend.
  bool supports(OpId op, DType t) const override;

 protected:
  // The fast paths; each falls back to ReferenceBackend's for what it does not take.
  void copy_impl(const View& out, const View& in) override;
  void fill_impl(const View& out, Scalar value) override;
  void unary_impl(UnaryOp op, const View& out, const View& in) override;
  void binary_impl(BinaryOp op, const View& out, const View& a, const View& b) override;
  void reduce_impl(ReduceOp op, const View& out, const View& in) override;
  void arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices, const View& in,
                       int dim) override;
  void matmul_impl(const View& out, const View& a, const View& b) override;
  void random_impl(const View& out, const RandomSpec& spec) override;

  // conv1d.cpp
  void conv1d_forward_impl(const View& out, const View& in, const View& weight, const View& bias,
                           const Conv1dParams& p) override;
  void conv1d_backward_input_impl(const View& grad_in, const View& grad_out, const View& weight,
                                  const Conv1dParams& p) override;
  void conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                   const View& grad_out, const View& in,
                                   const Conv1dParams& p) override;
  // bfloat16 views the fast bf16 kernels do not take (strided, empty, bad shapes): float32
  // copies, the float32 implementation (which computes or raises), written views rounded back.
  void conv1d_bf16_fallback(int pass, const View& v0, const View& v1, const View& v2,
                            const View& v3, const Conv1dParams& p);

  // --- softmax and losses (issue 7) --- softmax.cpp: contiguous float32/float64
  void softmax_impl(const View& out, const View& in, int dim, bool log) override;
  void softmax_backward_impl(const View& grad_in, const View& grad_out, const View& out, int dim,
                             bool log) override;

  // --- issue 10: training-step ops --- where (every dtype up to 8 bytes, threaded rows;
  // cpu_backend.cpp); optim.cpp: Adam/AdamW and SGD updates (contiguous float32/float64: SIMD,
  // threaded). Comparisons (binary_impl) and max/min reductions (reduce.cpp) as well.
  void where_impl(const View& out, const View& cond, const View& a, const View& b) override;
  void adam_step_impl(const View& param, const View& grad, const View& exp_avg,
                      const View& exp_avg_sq, const View& max_exp_avg_sq,
                      const AdamStepParams& p) override;
  void sgd_step_impl(const View& param, const View& grad, const View& momentum_buffer,
                     const SgdStepParams& p) override;
  void rmsprop_step_impl(const View& param, const View& grad, const View& square_avg,
                         const View& grad_avg, const View& momentum_buffer,
                         const RmspropStepParams& p) override;
  void adagrad_step_impl(const View& param, const View& grad, const View& sum,
                         const AdagradStepParams& p) override;
  // threaded.cpp: the reference loops of the norms, poolings and cross-entropy, threaded over an
  // independent dim (bitwise the reference's results; no SIMD yet)
  void norm_stats_impl(const View& mean, const View& var, const View& in) override;
  void norm_forward_impl(const View& out, const View& in, const View& mean, const View& var,
                         const View& weight, const View& bias, const NormParams& p) override;
  void norm_backward_impl(const View& grad_in, const View& grad_weight, const View& grad_bias,
                          const View& grad_out, const View& in, const View& mean,
                          const View& var, const View& weight, const NormParams& p) override;
  void max_pool1d_impl(const View& out, const View& indices, const View& in,
                       const Pool1dParams& p) override;
  void scatter_add_impl(const View& out, int dim, const View& index, const View& src) override;
  // indexing.cpp: index_select along dim 0 of contiguous views (batches, Embedding)
  void index_select_impl(const View& out, const View& in, int dim, const View& index) override;
  void index_add_impl(const View& out, int dim, const View& index, const View& src) override;
  void avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p) override;
  void avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                const Pool1dParams& p) override;
  void adaptive_max_pool1d_impl(const View& out, const View& indices, const View& in) override;
  void adaptive_avg_pool1d_impl(const View& out, const View& in) override;
  void adaptive_avg_pool1d_backward_impl(const View& grad_in, const View& grad_out) override;
  void cross_entropy_impl(const View& losses, const View& lse, const View& target_weight,
                          const View& in, const View& target, const View& weight,
                          const CrossEntropyParams& p) override;
  void cross_entropy_backward_impl(const View& grad_in, const View& grad_losses, const View& in,
                                   const View& lse, const View& target, const View& weight,
                                   const CrossEntropyParams& p) override;
};

}  // namespace reel::backends
