// CPU backend, issue 10: index_select along dim 0 of contiguous views — a batch gathered from a
// dataset tensor (the DataLoader's TensorDataset, the Fashion-MNIST example's every step) and
// Embedding's forward — as one memcpy per selected slab, threaded, instead of the reference's
// element-by-element strided walk. A copy: bitwise the reference. The indices are checked
// first; a call with one out of range (or any other layout) goes to the reference, which
// computes or raises its error.
//
// index_add along dim 0 of contiguous float32/float64 views (Embedding's and index_select's
// backward): out[index[i]][:] += src[i][:] as SIMD row additions (axpy with alpha 1: one
// rounding per add, as the reference's +). Threads split the row's columns, each walking every
// index in order, so repeated indices add in index order: bitwise the reference.
#include <algorithm>
#include <cstring>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/dims.hpp"

namespace reel::backends {

namespace {

// True when every index of the 0- or 1-d int64 view is in [0, rows).
bool indices_in_range(const View& index, std::int64_t rows) {
  const std::int64_t istride = index.shape.size() == 1 ? index.strides[0] : 0;
  const std::int64_t* ix = index.ptr<const std::int64_t>();
  for (std::int64_t i = 0; i < index.numel(); ++i)
    if (ix[i * istride] < 0 || ix[i * istride] >= rows) return false;
  return true;
}

}  // namespace

void CpuBackend::index_select_impl(const View& out, const View& in, int dim, const View& index) {
  // Backend::index_select has checked the dtypes, the 0- or 1-d int64 index and the shapes.
  const bool fast = dim == 0 && is_contiguous_layout(in.shape, in.strides) &&
                    is_contiguous_layout(out.shape, out.strides);
  if (fast) {
    const std::int64_t count = index.numel();
    const std::int64_t istride = index.shape.size() == 1 ? index.strides[0] : 0;
    const std::int64_t* ix = index.ptr<const std::int64_t>();
    if (indices_in_range(index, in.shape[0])) {
      const std::size_t slab = element_size(in.dtype) * static_cast<std::size_t>(
                                   count > 0 ? out.numel() / count : 0);
      const char* src = static_cast<const char*>(in.data);
      char* dst = static_cast<char*>(out.data);
      const std::int64_t grain =
          std::max<std::int64_t>(1, (std::int64_t{1} << 16) / std::max<std::size_t>(1, slab));
      cpu::parallel_for(0, count, grain, [&](std::int64_t i0, std::int64_t i1) {
        for (std::int64_t i = i0; i < i1; ++i)
          std::memcpy(dst + static_cast<std::size_t>(i) * slab,
                      src + static_cast<std::size_t>(ix[i * istride]) * slab, slab);
      });
      return;
    }
  }
  ReferenceBackend::index_select_impl(out, in, dim, index);
}


void CpuBackend::index_add_impl(const View& out, int dim, const View& index, const View& src) {
  // Backend::index_add has checked the dtypes, the 0- or 1-d int64 index and the shapes.
  const bool fast = dim == 0 && (out.dtype == kFloat32 || out.dtype == kFloat64) &&
                    is_contiguous_layout(out.shape, out.strides) &&
                    is_contiguous_layout(src.shape, src.strides) &&
                    indices_in_range(index, out.shape[0]);
  if (!fast) return ReferenceBackend::index_add_impl(out, dim, index, src);
  const std::int64_t count = index.numel();
  if (count == 0) return;
  const std::int64_t row = src.numel() / count;
  const std::int64_t istride = index.shape.size() == 1 ? index.strides[0] : 0;
  const std::int64_t* ix = index.ptr<const std::int64_t>();
  visit_dtype(out.dtype, [&]<typename T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      const cpu::TypedKernels<T>& kern = cpu::simd_kernels().get<T>();
      T* dst = out.ptr<T>();
      const T* from = src.ptr<const T>();
      // Column blocks of at least 256 elements (whole cache lines), enough work per task.
      constexpr std::int64_t kBlock = 256;
      const std::int64_t blocks = (row + kBlock - 1) / kBlock;
      const std::int64_t grain =
          std::max<std::int64_t>(1, (std::int64_t{1} << 16) / (count * kBlock));
      cpu::parallel_for(0, blocks, grain, [&](std::int64_t b0, std::int64_t b1) {
        const std::int64_t c0 = b0 * kBlock, c1 = std::min(row, b1 * kBlock);
        for (std::int64_t i = 0; i < count; ++i)
          kern.axpy(c1 - c0, T(1), from + i * row + c0, dst + ix[i * istride] * row + c0);
      });
    }
  });
}

}  // namespace reel::backends
