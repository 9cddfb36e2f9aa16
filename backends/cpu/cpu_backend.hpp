#pragma once
// The fast CPU backend: xsimd kernels, a packed gemm, a persistent thread pool and a caching
// allocator. It accelerates the primitives training loops spend their time in, for float32 and
// float64:
//   copy / fill     every dtype: memcpy or typed loops over coalesced strided views, threaded
//   unary / binary  SIMD over contiguous rows (a scalar side broadcasts; other strides go
//                   through small gather buffers), threaded over rows
//   reduce          Sum over the innermost contiguous range (row sums), over outer dims with a
//                   contiguous inner one (column sums), and over everything
//   matmul          packed, blocked gemm (backends/cpu/gemm.hpp)
//   conv1d          an algorithm per case: im2col + gemm, or direct for depthwise (conv1d.hpp);
//                   complex dtypes and pad1d are the reference loops
// Everything else (other ops and dtypes, where, arg_reduce, indexing, random, and every error
// message) is the reference backend's implementation, so it is right by construction and the
// two backends raise the same errors.
#include "backends/backend.hpp"

namespace reel::backends {

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;
  void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) override;
  void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) override;

  void copy(const View& out, const View& in) override;
  void fill(const View& out, Scalar value) override;
  void unary(UnaryOp op, const View& out, const View& in) override;
  void binary(BinaryOp op, const View& out, const View& a, const View& b) override;
  void where(const View& out, const View& cond, const View& a, const View& b) override;

  void reduce(ReduceOp op, const View& out, const View& in) override;
  void arg_reduce(ArgReduceOp op, const View& values, const View& indices, const View& in,
                  int dim) override;

  void matmul(const View& out, const View& a, const View& b) override;

  void index_select(const View& out, const View& in, int dim, const View& index) override;
  void index_add(const View& out, int dim, const View& index, const View& src) override;
  void gather(const View& out, const View& in, int dim, const View& index) override;
  void scatter_add(const View& out, int dim, const View& index, const View& src) override;

  void random(const View& out, const RandomSpec& spec) override;

  // conv1d.cpp
  void conv1d_forward(const View& out, const View& in, const View& weight, const View& bias,
                      const Conv1dParams& p) override;
  void conv1d_backward_input(const View& grad_in, const View& grad_out, const View& weight,
                             const Conv1dParams& p) override;
  void conv1d_backward_weight(const View& grad_weight, const View& grad_bias,
                              const View& grad_out, const View& in,
                              const Conv1dParams& p) override;
  void pad1d(const View& out, const View& in, PadMode mode, std::int64_t left,
             std::int64_t right) override;
  void pad1d_backward(const View& grad_in, const View& grad_out, PadMode mode,
                      std::int64_t left, std::int64_t right) override;
};

}  // namespace reel::backends
