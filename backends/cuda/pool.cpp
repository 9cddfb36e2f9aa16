// The CUDA backend's 1-D pools (max_pool1d, avg_pool1d and its backward, and their adaptive
// forms), host side: the views' extents and strides handed to the kernels (pool.cu;
// pool_launch.hpp is the seam).
//
// Backend's entry points have checked what every backend shares: ranks, dtypes, N and C, the
// indices' shape and the output length against the geometry (Pool1dParams::out_length) or,
// for the adaptive pools, a non-empty input under a non-empty output. What is left here is
// the CUDA backend's own sanity check of each view (cuda::check_view).
//
// One thread per output element for the forwards, one per grad_in element for the backwards
// (a gather in the reference's order: no atomics, results independent of timing). 16-bit
// views are computed natively (pool.cu says why the results are the reference's), so no
// widened copies.
#include <cstdint>

#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/pool_launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

// `in` is the [N, C, L] side and `out` the [N, C, Lout] side (pool_launch.hpp); indices, when
// not null, has out's shape.
cuda::PoolRows pool_rows(const View& in, const View& out, const View& indices) {
  cuda::PoolRows g;
  g.batch = out.shape[0];
  g.channels = out.shape[1];
  g.in_length = in.shape[2];
  g.out_length = out.shape[2];
  for (int d = 0; d < 3; ++d) {
    g.in_strides[d] = in.strides[d];
    g.out_strides[d] = out.strides[d];
    g.index_strides[d] = indices.data != nullptr ? indices.strides[d] : 0;
  }
  return g;
}

cuda::PoolWindow fixed_window(const Pool1dParams& p) {
  cuda::PoolWindow w;
  w.kernel_size = p.kernel_size;
  w.stride = p.stride;
  w.padding = p.padding;
  w.dilation = p.dilation;
  w.count_include_pad = p.count_include_pad;
  return w;
}

cuda::PoolWindow adaptive_window() {
  cuda::PoolWindow w;
  w.adaptive = true;
  return w;
}

const View kNoIndices{};

void max_pool(const char* name, const View& out, const View& indices, const View& in,
              const cuda::PoolWindow& w) {
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "the input");
  cuda::check_view_if_given(indices, name, "indices");
  if (out.numel() == 0) return;
  cuda::check_cuda(
      cuda::launch_max_pool1d(in.dtype, out.data, indices.ptr<std::int64_t>(), in.data,
                              pool_rows(in, out, indices), w, cuda::stream()),
      name);
}

void avg_pool(const char* name, const View& out, const View& in, const cuda::PoolWindow& w) {
  cuda::check_view(out, name, "out");
  cuda::check_view(in, name, "the input");
  if (out.numel() == 0) return;
  cuda::check_cuda(cuda::launch_avg_pool1d(in.dtype, out.data, in.data,
                                           pool_rows(in, out, kNoIndices), w, cuda::stream()),
                   name);
}

// Writes every grad_in element, zero where no window covers it (grad_out may be empty).
void avg_pool_backward(const char* name, const View& grad_in, const View& grad_out,
                       const cuda::PoolWindow& w) {
  cuda::check_view(grad_in, name, "grad_in");
  cuda::check_view(grad_out, name, "grad_out");
  if (grad_in.numel() == 0) return;
  cuda::check_cuda(cuda::launch_avg_pool1d_backward(grad_in.dtype, grad_in.data, grad_out.data,
                                                    pool_rows(grad_in, grad_out, kNoIndices), w,
                                                    cuda::stream()),
                   name);
}

}  // namespace

void CudaBackend::max_pool1d_impl(const View& out, const View& indices, const View& in,
                                  const Pool1dParams& p) {
  max_pool("max_pool1d", out, indices, in, fixed_window(p));
}

void CudaBackend::avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p) {
  avg_pool("avg_pool1d", out, in, fixed_window(p));
}

void CudaBackend::avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                           const Pool1dParams& p) {
  avg_pool_backward("avg_pool1d_backward", grad_in, grad_out, fixed_window(p));
}

void CudaBackend::adaptive_max_pool1d_impl(const View& out, const View& indices,
                                           const View& in) {
  max_pool("adaptive_max_pool1d", out, indices, in, adaptive_window());
}

void CudaBackend::adaptive_avg_pool1d_impl(const View& out, const View& in) {
  avg_pool("adaptive_avg_pool1d", out, in, adaptive_window());
}

void CudaBackend::adaptive_avg_pool1d_backward_impl(const View& grad_in, const View& grad_out) {
  avg_pool_backward("adaptive_avg_pool1d_backward", grad_in, grad_out, adaptive_window());
}

}  // namespace reel::backends
