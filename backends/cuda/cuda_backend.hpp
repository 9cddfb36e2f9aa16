#pragma once
// The CUDA backend: the backend contract on one GPU (device 0, or the device current when it
// is first used).
//
// Everything runs on one non-blocking stream (runtime.hpp), in order; copy_to_host and
// copy_from_host wait for it, so host code always sees finished results. Memory comes from
// a caching allocator (allocator.hpp). Kernels so far: fill, copy with dtype conversion, and
// the binary ops; the other primitives raise reel::Error "<op>: not yet implemented on CUDA".
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

  // --- elementwise --------------------------------------------------------------------------
  void copy(const View& out, const View& in) override;
  void fill(const View& out, Scalar value) override;
  void unary(UnaryOp op, const View& out, const View& in) override;
  void binary(BinaryOp op, const View& out, const View& a, const View& b) override;
  void where(const View& out, const View& cond, const View& a, const View& b) override;

  // --- not yet implemented on CUDA: each raises reel::Error naming the op -------------------
  void reduce(ReduceOp op, const View& out, const View& in) override;
  void arg_reduce(ArgReduceOp op, const View& values, const View& indices, const View& in,
                  int dim) override;
  void matmul(const View& out, const View& a, const View& b) override;
  void index_select(const View& out, const View& in, int dim, const View& index) override;
  void index_add(const View& out, int dim, const View& index, const View& src) override;
  void gather(const View& out, const View& in, int dim, const View& index) override;
  void scatter_add(const View& out, int dim, const View& index, const View& src) override;
  void random(const View& out, const RandomSpec& spec) override;
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
