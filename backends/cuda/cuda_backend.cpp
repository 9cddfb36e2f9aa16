// The CUDA backend's host side: argument checks, the strided walk handed to each kernel,
// fast paths (cudaMemset / cudaMemcpy for contiguous buffers), and the registry functions.
// The kernels themselves live in fill_copy.cu and binary.cu.
#include "backends/cuda/cuda_backend.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backends/coalesce.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

static_assert(cuda::kKernelMaxDims == kMaxDims);

// Views arrive from reel's own Tensor layer, so these are cheap sanity checks that turn a
// contract violation into an error instead of a wild device write.
void check_view(const View& v, const char* op, const char* what) {
  check(v.strides.size() == v.shape.size(), "{}: {} has {} strides for {} dimensions", op, what,
        v.strides.size(), v.shape.size());
  for (int d = 0; d < v.shape.size(); ++d) {
    check(v.shape[d] >= 0 && v.strides[d] >= 0,
          "{}: {} has shape {} and strides {}; expected non-negative sizes and strides", op,
          what, v.shape, v.strides);
  }
  check(v.data != nullptr || v.numel() == 0, "{}: {} has no data (null pointer)", op, what);
}

// The kernels' strided walk over N operands of one shape (launch.hpp's Indexer), plus what the
// host needs to pick a kernel: the element count and whether 32-bit indexing is enough.
template <int N>
struct Walk {
  cuda::Indexer<N> ix;
  std::int64_t numel = 0;
  bool index32 = true;
  // The operands are all dense buffers of numel elements (every contiguous view ends here).
  bool contiguous() const {
    if (ix.ndim != 1) return false;
    for (int k = 0; k < N; ++k)
      if (ix.strides[k][0] != 1 && numel > 1) return false;
    return true;
  }
};

// The kernels' Indexer from the shared coalescing rule (backends/coalesce.hpp): a contiguous
// tensor of any rank becomes one flat dim, a transposed or broadcast one keeps only the dims it
// needs. Fewer dims, fewer divisions per element. The kernels want the innermost dim first.
template <int N>
Walk<N> plan_walk(const Shape& shape, const std::array<const Strides*, N>& strides) {
  Walk<N> w;
  w.numel = numel_of(shape);
  const Layout<N> l = coalesce<N>(shape, strides);
  const int nd = l.ndim;
  w.ix.ndim = nd;
  for (int j = 0; j < nd; ++j) {
    w.ix.sizes[j] = l.shape[nd - 1 - j];
    for (int k = 0; k < N; ++k) w.ix.strides[k][j] = l.strides[k][nd - 1 - j];
  }
  constexpr std::int64_t kLimit = std::numeric_limits<std::int32_t>::max();
  w.index32 = w.numel <= kLimit;
  for (int k = 0; k < N; ++k) {
    std::int64_t max_offset = 0;
    for (int j = 0; j < nd; ++j) max_offset += (w.ix.sizes[j] - 1) * w.ix.strides[k][j];
    if (max_offset > kLimit) w.index32 = false;
  }
  return w;
}

}  // namespace

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
// buffers would make uploads asynchronous.
void CudaBackend::copy_from_host(void* dst, const void* host_src, std::size_t nbytes) {
  if (nbytes == 0) return;
  cuda::check_cuda(
      cudaMemcpyAsync(dst, host_src, nbytes, cudaMemcpyHostToDevice, cuda::stream()),
      "copy_from_host (cudaMemcpyAsync)");
  cuda::synchronize();
}

void CudaBackend::copy_to_host(void* host_dst, const void* src, std::size_t nbytes) {
  if (nbytes == 0) return;
  cuda::check_cuda(
      cudaMemcpyAsync(host_dst, src, nbytes, cudaMemcpyDeviceToHost, cuda::stream()),
      "copy_to_host (cudaMemcpyAsync)");
  cuda::synchronize();
}

void CudaBackend::synchronize() { cuda::synchronize(); }

// --- elementwise ------------------------------------------------------------------------------
bool CudaBackend::supports(OpId op, DType t) const {
  if (!op_accepts(op, t)) return false;
  return op.family == OpFamily::Binary || op == OpId(KernelOp::Copy) ||
         op == OpId(KernelOp::Fill);
}

void CudaBackend::fill_impl(const View& out, Scalar value) {
  check_view(out, "fill", "out");
  auto w = plan_walk<1>(out.shape, {&out.strides});
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
  check_view(out, "copy", "out");
  check_view(in, "copy", "in");
  auto w = plan_walk<2>(out.shape, {&out.strides, &in.strides});
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

void CudaBackend::binary_impl(BinaryOp op, const View& out, const View& a, const View& b) {
  const char* name = op_name(op);
  check_view(out, name, "out");
  check_view(a, name, "the first input");
  check_view(b, name, "the second input");
  auto w = plan_walk<3>(out.shape, {&out.strides, &a.strides, &b.strides});
  if (w.numel == 0) return;
  cuda::check_cuda(cuda::launch_binary(op, a.dtype, out.data, a.data, b.data, w.ix, w.numel,
                                       w.index32, cuda::stream()),
                   name);
}

// --- registry ---------------------------------------------------------------------------------
bool cuda_available() { return cuda::device_count() > 0; }

int cuda_device_count() { return cuda::device_count(); }

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
