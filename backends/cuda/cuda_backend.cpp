// The CUDA backend's host side: argument checks, the strided walk handed to each kernel,
// fast paths (cudaMemset / cudaMemcpy for contiguous buffers), and the registry functions.
// The kernels themselves live in fill_copy.cu and binary.cu.
#include "backends/cuda/cuda_backend.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backends/cuda/launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

using cuda::BinaryKind;
using cuda::ElemType;

// launch.hpp mirrors these enums for nvcc (which cannot include fmt); keep them in step.
static_assert(cuda::kKernelMaxDims == kMaxDims);
static_assert(static_cast<int>(ElemType::Bool) == static_cast<int>(DType::Bool));
static_assert(static_cast<int>(ElemType::Int64) == static_cast<int>(DType::Int64));
static_assert(static_cast<int>(ElemType::Float32) == static_cast<int>(DType::Float32));
static_assert(static_cast<int>(ElemType::Float64) == static_cast<int>(DType::Float64));
static_assert(static_cast<int>(ElemType::Complex64) == static_cast<int>(DType::Complex64));
static_assert(static_cast<int>(ElemType::Complex128) == static_cast<int>(DType::Complex128));
static_assert(static_cast<int>(BinaryKind::Add) == static_cast<int>(BinaryOp::Add));
static_assert(static_cast<int>(BinaryKind::Minimum) == static_cast<int>(BinaryOp::Minimum));
static_assert(static_cast<int>(BinaryKind::ReluBackward) == static_cast<int>(BinaryOp::ReluBackward));
static_assert(static_cast<int>(BinaryKind::TanhBackward) == static_cast<int>(BinaryOp::TanhBackward));
static_assert(static_cast<int>(BinaryKind::Eq) == static_cast<int>(BinaryOp::Eq));
static_assert(static_cast<int>(BinaryKind::Ge) == static_cast<int>(BinaryOp::Ge));
static_assert(static_cast<int>(BinaryKind::LogicalOr) == static_cast<int>(BinaryOp::LogicalOr));

ElemType elem_type(DType t) { return static_cast<ElemType>(t); }
BinaryKind binary_kind(BinaryOp op) { return static_cast<BinaryKind>(op); }

const char* binary_name(BinaryOp op) {
  static constexpr const char* kNames[] = {
      "add", "sub", "mul", "div", "pow", "maximum", "minimum", "relu_backward",
      "gelu_backward", "silu_backward", "sigmoid_backward", "tanh_backward", "eq", "ne", "lt",
      "le", "gt", "ge", "logical_and", "logical_or"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(BinaryOp::LogicalOr) + 1);
  return kNames[static_cast<int>(op)];
}

const char* unary_name(UnaryOp op) {
  static constexpr const char* kNames[] = {
      "neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "silu",
      "erf", "sign", "conj", "reciprocal", "abs", "real", "imag", "logical_not", "isnan"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(UnaryOp::IsNan) + 1);
  return kNames[static_cast<int>(op)];
}

const char* reduce_name(ReduceOp op) {
  static constexpr const char* kNames[] = {"sum", "prod", "max", "min", "any", "all"};
  return kNames[static_cast<int>(op)];
}

[[noreturn]] void not_on_cuda(const char* op) { fail("{}: not yet implemented on CUDA", op); }

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

void check_same_shape(const View& v, const View& out, const char* op, const char* what) {
  check(v.shape == out.shape, "{}: {} has shape {} but the output has shape {}", op, what,
        v.shape, out.shape);
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

// Drops size-1 dims and merges neighbouring dims that are contiguous with each other in every
// operand, so that a contiguous tensor of any rank becomes one flat dim and a transposed or
// broadcast one keeps only the dims it needs. Fewer dims, fewer divisions per element.
template <int N>
Walk<N> plan_walk(const Shape& shape, const std::array<const Strides*, N>& strides) {
  Walk<N> w;
  w.numel = numel_of(shape);
  std::int64_t sizes[kMaxDims];
  std::int64_t st[N][kMaxDims];
  int nd = 0;  // outermost first while merging
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k) merge = st[k][nd - 1] == (*strides[k])[d] * shape[d];
    if (merge) {
      sizes[nd - 1] *= shape[d];
      for (int k = 0; k < N; ++k) st[k][nd - 1] = (*strides[k])[d];
    } else {
      sizes[nd] = shape[d];
      for (int k = 0; k < N; ++k) st[k][nd] = (*strides[k])[d];
      ++nd;
    }
  }
  if (nd == 0) {  // a single element
    nd = 1;
    sizes[0] = 1;
    for (int k = 0; k < N; ++k) st[k][0] = 1;
  }
  w.ix.ndim = nd;
  for (int j = 0; j < nd; ++j) {  // the kernels want the innermost dim first
    w.ix.sizes[j] = sizes[nd - 1 - j];
    for (int k = 0; k < N; ++k) w.ix.strides[k][j] = st[k][nd - 1 - j];
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
void CudaBackend::fill(const View& out, Scalar value) {
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
  cuda::check_cuda(cuda::launch_fill(elem_type(out.dtype), out.data, w.ix, w.numel, w.index32,
                                     fv, cuda::stream()),
                   "fill (kernel launch)");
}

void CudaBackend::copy(const View& out, const View& in) {
  check_view(out, "copy", "out");
  check_view(in, "copy", "in");
  check_same_shape(in, out, "copy", "the input");
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
  cuda::check_cuda(cuda::launch_copy(elem_type(out.dtype), out.data, elem_type(in.dtype),
                                     in.data, w.ix, w.numel, w.index32, cuda::stream()),
                   "copy (kernel launch)");
}

void CudaBackend::binary(BinaryOp op, const View& out, const View& a, const View& b) {
  const char* name = binary_name(op);
  check_view(out, name, "out");
  check_view(a, name, "the first input");
  check_view(b, name, "the second input");
  check(a.dtype == b.dtype, "{}: expected both inputs to have the same dtype, got {} and {}",
        name, a.dtype, b.dtype);
  const BinaryKind kind = binary_kind(op);
  const DType out_dtype = cuda::is_comparison(kind) ? kBool : a.dtype;
  check(out.dtype == out_dtype, "{}: expected an output of dtype {} for {} inputs, got {}", name,
        out_dtype, a.dtype, out.dtype);
  check_same_shape(a, out, name, "the first input");
  check_same_shape(b, out, name, "the second input");
  if (!cuda::binary_supported(kind, elem_type(a.dtype))) {
    const bool is_backward = op >= BinaryOp::ReluBackward && op <= BinaryOp::TanhBackward;
    if (is_backward) fail("{}: not yet implemented on CUDA for dtype {}", name, a.dtype);
    fail("{}: not supported for dtype {} on CUDA", name, a.dtype);
  }

  auto w = plan_walk<3>(out.shape, {&out.strides, &a.strides, &b.strides});
  if (w.numel == 0) return;
  cuda::check_cuda(cuda::launch_binary(kind, elem_type(a.dtype), out.data, a.data, b.data, w.ix,
                                       w.numel, w.index32, cuda::stream()),
                   name);
}

// --- not yet implemented on CUDA --------------------------------------------------------------
void CudaBackend::unary(UnaryOp op, const View&, const View&) { not_on_cuda(unary_name(op)); }
void CudaBackend::where(const View&, const View&, const View&, const View&) {
  not_on_cuda("where");
}
void CudaBackend::reduce(ReduceOp op, const View&, const View&) {
  not_on_cuda(reduce_name(op));
}
void CudaBackend::arg_reduce(ArgReduceOp op, const View&, const View&, const View&, int) {
  not_on_cuda(op == ArgReduceOp::Max ? "argmax" : "argmin");
}
void CudaBackend::matmul(const View&, const View&, const View&) { not_on_cuda("matmul"); }
void CudaBackend::index_select(const View&, const View&, int, const View&) {
  not_on_cuda("index_select");
}
void CudaBackend::index_add(const View&, int, const View&, const View&) {
  not_on_cuda("index_add");
}
void CudaBackend::gather(const View&, const View&, int, const View&) { not_on_cuda("gather"); }
void CudaBackend::scatter_add(const View&, int, const View&, const View&) {
  not_on_cuda("scatter_add");
}
void CudaBackend::random(const View&, const RandomSpec& spec) {
  switch (spec.kind) {
    case RandomSpec::Kind::Uniform: not_on_cuda("random (uniform)");
    case RandomSpec::Kind::Normal: not_on_cuda("random (normal)");
    case RandomSpec::Kind::Integer: not_on_cuda("random (integer)");
  }
  not_on_cuda("random");
}
void CudaBackend::conv1d_forward(const View&, const View&, const View&, const View&,
                                 const Conv1dParams&) {
  not_on_cuda("conv1d");
}
void CudaBackend::conv1d_backward_input(const View&, const View&, const View&,
                                        const Conv1dParams&) {
  not_on_cuda("conv1d_backward_input");
}
void CudaBackend::conv1d_backward_weight(const View&, const View&, const View&, const View&,
                                         const Conv1dParams&) {
  not_on_cuda("conv1d_backward_weight");
}
void CudaBackend::pad1d(const View&, const View&, PadMode, std::int64_t, std::int64_t) {
  not_on_cuda("pad1d");
}
void CudaBackend::pad1d_backward(const View&, const View&, PadMode, std::int64_t, std::int64_t) {
  not_on_cuda("pad1d_backward");
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
