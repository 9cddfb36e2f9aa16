// The CUDA backend's indexing along one dim, host side (kernels in indexing.cu):
//   index_select  out[.., i, ..]        = in[.., index[i], ..]
//   index_add     out[.., index[i], ..] += src[.., i, ..]          (index_select's adjoint)
//   gather        out[x]                = in[x with x[dim] = index[x]]      (index ~ out)
//   scatter_add   out[x with x[dim] = index[x]] += src[x]                   (index ~ src)
//
// Backend's entry points have checked the arguments' dtypes and shapes. The index values are
// checked here with the reference's wording (backends/reference/indexing.cpp), except
// index_select's, which its contract has the caller bounds-check. The index lives on the
// device, so a small kernel finds the first value out of range and the host reads it back: a
// synchronisation on every index_add, gather and scatter_add call, which the error needs (the
// kernels themselves also skip an index out of range, so a broken contract is never a wild
// read or write).
//
// index_add and scatter_add accumulate in one of two ways (backend.hpp: deterministic_algorithms):
//   atomic (default, for the dtypes with an atomicAdd: int32, int64, float32, float64, the
//     complex ones, and the 16-bit floating dtypes through a float32 / complex64 buffer):
//     one thread per source element; floating-point sums come out in the hardware's order;
//   ordered (bool, uint8, int8, int16, and every dtype in deterministic mode): one thread per
//     target element adds its sources in index order, bitwise the reference.
#include <cstdint>

#include "backends/cuda/allocator.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/indexing_launch.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

namespace {

// --- device helpers -----------------------------------------------------------------------------
using cuda::DeviceBuffer;

// Raises the reference's error for the first value of `index` outside [0, size), in row-major
// order: the one the reference's loop stops at. (Inside a CUDA graph capture, at each replay.)
void check_index_values(const char* name, const View& index, int dim, std::int64_t size) {
  cuda::check_device_values(
      name, index,
      [&](const cuda::Indexer<1>& ix, std::int64_t n, unsigned long long* flag) {
        return cuda::launch_find_bad_index(index.ptr<const std::int64_t>(), ix, n, size, flag,
                                           cuda::stream());
      },
      [name, dim, size](std::int64_t bad) {
        fail("{}: index {} is out of bounds for dimension {} with size {}", name, bad, dim, size);
      });
}

// --- the two shapes of kernel -------------------------------------------------------------------
// The strides of a 1-d (or 0-d) index spread over a walk of rank `rank`: its own stride on
// `dim`, 0 on every other dim (index_select and index_add as gather and scatter_add).
Strides spread_index(const View& index, int rank, int dim) {
  Strides s = Strides::filled(rank, 0);
  if (index.shape.size() == 1) s[dim] = index.strides[0];
  return s;
}

Strides without_dim(Strides s, int dim) {
  s[dim] = 0;
  return s;
}

// out[x] = in[x with x[dim] = index[x]] over out's shape; index_strides has out's rank.
void gather_along(const char* name, const View& out, const View& in, int dim,
                  const View& index, const Strides& index_strides) {
  const Strides in_rest = without_dim(in.strides, dim);
  const auto w = cuda::plan_walk<3>(out.shape, {&out.strides, &index_strides, &in_rest});
  if (w.numel == 0) return;
  cuda::check_cuda(
      cuda::launch_index_gather(element_size(in.dtype), out.data,
                                index.ptr<const std::int64_t>(), in.data, w.ix, w.numel,
                                {in.shape[dim], in.strides[dim]}, cuda::stream()),
      name);
}

// out[x with x[dim] = index[x]] += src[x] over src's shape; index_strides has src's rank. The
// index values are already validated. `backend` (the CUDA backend) casts out to and from the
// float32 buffer of the 16-bit dtypes.
void scatter_add_along(Backend& backend, const char* name, const View& out, int dim,
                       const View& index, const Strides& index_strides, const View& src) {
  if (src.numel() == 0) return;
  const DType t = out.dtype;
  const auto* pi = index.ptr<const std::int64_t>();

  if (!deterministic_algorithms() && cuda::has_atomic_accumulate(t)) {
    // The 16-bit dtypes accumulate in a float32 / complex64 copy of out, rounded back once at
    // the end: what the reference computes (it runs this op on float32 copies, backend.cpp's
    // Widened), so only the order of the float32 additions differs. Adding atomically into
    // float16 / bfloat16 itself would round after every addition.
    const bool widen = is_reduced_float(t);
    DeviceBuffer wide(widen ? static_cast<std::size_t>(out.numel()) *
                                  element_size(opmath_dtype(t))
                            : 0);
    View target = out;
    if (widen) {
      target = View{wide.get(), opmath_dtype(t), out.shape, contiguous_strides(out.shape)};
      backend.copy(target, out);
    }
    const Strides target_rest = without_dim(target.strides, dim);
    const auto w = cuda::plan_walk<3>(src.shape, {&target_rest, &index_strides, &src.strides});
    cuda::check_cuda(
        cuda::launch_index_scatter_atomic(t, target.data, pi, src.data, w.ix, w.numel,
                                          {out.shape[dim], target.strides[dim]},
                                          cuda::stream()),
        name);
    if (widen) backend.copy(out, target);
    return;
  }

  // Ordered: the owners walk src's shape with extent 1 on dim (the other dims of an index
  // smaller than out reach only that block of out) times out's extent on dim.
  const auto w = cuda::plan_walk<3>(with_extent(src.shape, dim, 1),
                                    {&out.strides, &index_strides, &src.strides});
  cuda::check_cuda(cuda::launch_index_scatter_ordered(
                       t, out.data, pi, src.data, w.ix, w.numel,
                       {out.shape[dim], out.strides[dim]}, src.shape[dim], index_strides[dim],
                       src.strides[dim], cuda::stream()),
                   name);
}

}  // namespace

void CudaBackend::index_select_impl(const View& out, const View& in, int dim,
                                    const View& index) {
  const char* name = "index_select";
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "in");
  cuda::check_view(index, name, "index");
  // No value check: the contract has the caller bounds-check index_select's index.
  gather_along(name, out, in, dim, index, spread_index(index, out.shape.size(), dim));
}

void CudaBackend::index_add_impl(const View& out, int dim, const View& index, const View& src) {
  const char* name = "index_add";
  cuda::check_view(out, name, "out");
  cuda::check_view(index, name, "index");
  cuda::check_view(src, name, "src");
  check_index_values(name, index, dim, out.shape[dim]);
  scatter_add_along(*this, name, out, dim, index, spread_index(index, src.shape.size(), dim),
                    src);
}

void CudaBackend::gather_impl(const View& out, const View& in, int dim, const View& index) {
  const char* name = "gather";
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "in");
  cuda::check_view(index, name, "index");
  check_index_values(name, index, dim, in.shape[dim]);
  gather_along(name, out, in, dim, index, index.strides);
}

void CudaBackend::scatter_add_impl(const View& out, int dim, const View& index,
                                   const View& src) {
  const char* name = "scatter_add";
  cuda::check_view(out, name, "out");
  cuda::check_view(index, name, "index");
  cuda::check_view(src, name, "src");
  check_index_values(name, index, dim, out.shape[dim]);
  scatter_add_along(*this, name, out, dim, index, index.strides, src);
}

}  // namespace reel::backends
