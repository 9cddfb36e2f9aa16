// The CUDA backend's host side: argument checks, the strided walk handed to each kernel,
// fast paths (cudaMemset / cudaMemcpy for contiguous buffers), and the registry functions.
// The kernels themselves live in fill_copy.cu, unary.cu and binary.cu; the other families have
// a .cpp (host side) and a .cu each: reduce, matmul, indexing.
#include "backends/cuda/cuda_backend.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backends/cuda/blas.hpp"
#include "backends/cuda/graph.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

CudaBackend::CudaBackend() {
  (void)cuda::stream();  // create the stream now, so a broken setup fails here, loudly
}

// --- memory -----------------------------------------------------------------------------------
void* CudaBackend::allocate(std::size_t nbytes) {
  if (nbytes == 0) return nullptr;
  return cuda::device_allocator().allocate(nbytes);
}

void CudaBackend::deallocate(void* ptr, std::size_t /*nbytes*/) {
  cuda::device_allocator().deallocate(ptr);
}

// Both copies wait for the stream: the host buffer may be pageable (and reused as soon as we
// return), and the host must see the data on return. Correctness first; pinned staging
// buffers would make uploads asynchronous. Neither can be part of a CUDA graph (graph.hpp):
// checked before anything is queued, so the capture stays valid.
void CudaBackend::copy_from_host(void* dst, const void* host_src, std::size_t nbytes) {
  if (nbytes == 0) return;
  cuda::check_not_capturing("copy_from_host", "copies host memory to the device");
  cuda::check_cuda(
      cudaMemcpyAsync(dst, host_src, nbytes, cudaMemcpyHostToDevice, cuda::stream()),
      "copy_from_host (cudaMemcpyAsync)");
  cuda::synchronize();
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, std::size_t nbytes) {
  if (nbytes == 0) return;
  cuda::check_not_capturing("copy_to_host", "reads device memory back to the host");
  cuda::check_cuda(
      cudaMemcpyAsync(host_dst, src, nbytes, cudaMemcpyDeviceToHost, cuda::stream()),
      "copy_to_host (cudaMemcpyAsync)");
  cuda::synchronize();
}

void CudaBackend::synchronize() { cuda::synchronize(); }

// --- elementwise ------------------------------------------------------------------------------
// Every pair the op table accepts, natively (16-bit dtypes included), for the primitives below;
// the rest raise Backend's "not implemented" until their kernels arrive.
bool CudaBackend::supports(OpId op, DType t) const {
  if (!op_accepts(op, t)) return false;
  switch (op.family) {
    case OpFamily::Unary:
    case OpFamily::Binary:
    case OpFamily::Reduce:
    case OpFamily::ArgReduce: return true;
    case OpFamily::Kernel: break;
  }
  switch (static_cast<KernelOp>(op.index)) {
    case KernelOp::Copy:
    case KernelOp::Fill:
    case KernelOp::Where:
    case KernelOp::Matmul:
    case KernelOp::IndexSelect:
    case KernelOp::IndexAdd:
    case KernelOp::Gather:
    case KernelOp::ScatterAdd: return true;
    // 16-bit dtypes are drawn in float32 and rounded (Backend's widening), as on the reference
    // backend, so every backend draws the same values.
    case KernelOp::Random: return !is_reduced_float(t);
    case KernelOp::Pad1d: return true;
    // float16/bfloat16 natively (float accumulation); complex32 on complex64 copies.
    case KernelOp::Conv1dForward:
    case KernelOp::Conv1dBackwardInput:
    case KernelOp::Conv1dBackwardWeight:
    case KernelOp::Conv1dBackward: return t != DType::Complex32;
    // Sums in the reference's accumulation type, from float32 copies of 16-bit views (Backend's
    // widening) as on the reference backend, so the two agree bit for bit.
    case KernelOp::Pad1dBackward: return !is_reduced_float(t);
    // 16-bit natively: max compares widened values (exact); the averages round through float32
    // as the reference's widened copies do (pool.cu).
    case KernelOp::MaxPool1d:
    case KernelOp::AvgPool1d:
    case KernelOp::AvgPool1dBackward:
    case KernelOp::AdaptiveMaxPool1d:
    case KernelOp::AdaptiveAvgPool1d:
    case KernelOp::AdaptiveAvgPool1dBackward: return true;
    // 16-bit natively: widened exactly to double and rounded through float32, which is what
    // the reference's float32 copies give (norm.cu, softmax.cu).
    case KernelOp::NormStats:
    case KernelOp::NormForward:
    case KernelOp::NormBackward:
    case KernelOp::Softmax:
    case KernelOp::LogSoftmax:
    case KernelOp::SoftmaxBackward:
    case KernelOp::LogSoftmaxBackward:
    case KernelOp::CrossEntropy:
    case KernelOp::CrossEntropyBackward:
    case KernelOp::NllLoss:
    case KernelOp::NllLossBackward: return true;
    // The reference's per-element maths (backends/optim_math.hpp) on float32/float64; 16-bit
    // parameters are updated as float32 copies (Backend's widening), as on the reference.
    case KernelOp::SgdStep:
    case KernelOp::AdamStep:
    case KernelOp::RmspropStep:
    case KernelOp::AdagradStep: return !is_reduced_float(t);
    default: return false;
  }
}

void CudaBackend::fill_impl(const View& out, Scalar value) {
  cuda::check_view(out, "fill", "out");
  auto w = cuda::plan_walk<1>(out.shape, {&out.strides});
  if (w.numel == 0) return;

  cuda::FillValue fv;
  visit_dtype(out.dtype, [&]<typename T>() {
    const T v = value.to<T>();
    std::memcpy(fv.bytes, &v, sizeof(T));
  });

  bool all_zero = true;
  for (unsigned char byte : fv.bytes) all_zero = all_zero && byte == 0;
  if (all_zero && w.contiguous()) {
    const auto nbytes = static_cast<std::size_t>(w.numel) * element_size(out.dtype);
    cuda::check_cuda(cudaMemsetAsync(out.data, 0, nbytes, cuda::stream()),
                     "fill (cudaMemsetAsync)");
    return;
  }
  cuda::check_cuda(cuda::launch_fill(out.dtype, out.data, w.ix, w.numel, w.index32,
                                     fv, cuda::stream()),
                   "fill (kernel launch)");
}

void CudaBackend::copy_impl(const View& out, const View& in) {
  cuda::check_view(out, "copy", "out");
  cuda::check_view(in, "copy", "in");
  auto w = cuda::plan_walk<2>(out.shape, {&out.strides, &in.strides});
  if (w.numel == 0) return;

  if (out.dtype == in.dtype && w.contiguous()) {
    if (out.data == in.data) return;
    const auto nbytes = static_cast<std::size_t>(w.numel) * element_size(out.dtype);
    cuda::check_cuda(
        cudaMemcpyAsync(out.data, in.data, nbytes, cudaMemcpyDeviceToDevice, cuda::stream()),
        "copy (cudaMemcpyAsync)");
    return;
  }
  cuda::check_cuda(cuda::launch_copy(out.dtype, out.data, in.dtype,
                                     in.data, w.ix, w.numel, w.index32, cuda::stream()),
                   "copy (kernel launch)");
}

void CudaBackend::unary_impl(UnaryOp op, const View& out, const View& in) {
  const char* name = op_name(op);
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "the input");
  auto w = cuda::plan_walk<2>(out.shape, {&out.strides, &in.strides});
  if (w.numel == 0) return;
  cuda::check_cuda(cuda::launch_unary(op, in.dtype, out.data, in.data, w.ix, w.numel, w.index32,
                                      cuda::stream()),
                   name);
}

void CudaBackend::where_impl(const View& out, const View& cond, const View& a, const View& b) {
  cuda::check_view(out, "where", "out");
  cuda::check_view(cond, "where", "the condition");
  cuda::check_view(a, "where", "the first input");
  cuda::check_view(b, "where", "the second input");
  auto w = cuda::plan_walk<4>(out.shape, {&out.strides, &cond.strides, &a.strides, &b.strides});
  if (w.numel == 0) return;
  cuda::check_cuda(cuda::launch_where(out.dtype, out.data, cond.data, a.data, b.data, w.ix,
                                      w.numel, w.index32, cuda::stream()),
                   "where");
}

void CudaBackend::random_impl(const View& out, const RandomSpec& spec) {
  cuda::check_view(out, "random", "out");
  // The kernel's linear index is the row-major position the draw needs: coalescing drops
  // size-1 dims and merges neighbours but never reorders dims.
  auto w = cuda::plan_walk<1>(out.shape, {&out.strides});
  if (w.numel == 0) return;
  cuda::check_cuda(cuda::launch_random(out.dtype, out.data, w.ix, w.numel, spec, cuda::stream()),
                   "random");
}

void CudaBackend::pad1d_impl(const View& out, const View& in, PadMode mode, std::int64_t left,
                             std::int64_t /*right*/) {
  cuda::check_view(out, "pad1d", "out");
  cuda::check_view(in, "pad1d", "the input");
  if (out.numel() == 0) return;
  cuda::check_cuda(cuda::launch_pad1d(out.dtype, out.data, out.shape.data(), out.strides.data(),
                                      in.data, in.strides.data(), in.shape[2], mode, left,
                                      cuda::stream()),
                   "pad1d");
}

void CudaBackend::pad1d_backward_impl(const View& grad_in, const View& grad_out, PadMode mode,
                                      std::int64_t left, std::int64_t right) {
  cuda::check_view(grad_in, "pad1d_backward", "grad_in");
  cuda::check_view(grad_out, "pad1d_backward", "grad_out");
  if (grad_in.numel() == 0) return;
  cuda::check_cuda(cuda::launch_pad1d_backward(grad_in.dtype, grad_in.data, grad_in.shape.data(),
                                               grad_in.strides.data(), grad_out.data,
                                               grad_out.strides.data(), mode, left, right,
                                               cuda::stream()),
                   "pad1d_backward");
}

void CudaBackend::binary_impl(BinaryOp op, const View& out, const View& a, const View& b) {
  const char* name = op_name(op);
  cuda::check_view(out, name, "out");
  cuda::check_view(a, name, "the first input");
  cuda::check_view(b, name, "the second input");
  auto w = cuda::plan_walk<3>(out.shape, {&out.strides, &a.strides, &b.strides});
  if (w.numel == 0) return;
  cuda::check_cuda(cuda::launch_binary(op, a.dtype, out.data, a.data, b.data, w.ix, w.numel,
                                       w.index32, cuda::stream()),
                   name);
}

// --- registry ---------------------------------------------------------------------------------
bool cuda_available() { return cuda::device_count() > 0; }

int cuda_device_count() { return cuda::device_count(); }

CudaMemory cuda_memory() {
  const cuda::AllocatorStats s = cuda::allocator_stats();
  return {s.in_use_bytes, s.in_use_bytes + s.cached_bytes};
}

void cuda_empty_cache() {
  if (cuda_available()) cuda::empty_cache();
}

void cuda_set_allow_tf32_matmul(bool allow) { cuda::set_allow_tf32_matmul(allow); }
bool cuda_allow_tf32_matmul() { return cuda::allow_tf32_matmul(); }

Backend& cuda_backend() {
  if (!cuda_available()) {
    const char* why = cuda::device_count_error();
    fail("CUDA: no CUDA device is available ({})", why ? why : "unknown reason");
  }
  // Never destroyed, like the allocator and the stream it uses (see allocator.cpp).
  static CudaBackend* backend = new CudaBackend();
  return *backend;
}

}  // namespace reel::backends
