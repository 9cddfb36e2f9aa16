// CPU backend, issue 10: index_select along dim 0 of contiguous views — a batch gathered from a
// dataset tensor (the DataLoader's TensorDataset, the Fashion-MNIST example's every step) and
// Embedding's forward — as one memcpy per selected slab, threaded, instead of the reference's
// element-by-element strided walk. A copy: bitwise the reference. The indices are checked
// first; a call with one out of range (or any other layout) goes to the reference, which
// computes or raises its error.
#include <algorithm>
#include <cstring>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/thread_pool.hpp"
#include "backends/dims.hpp"

namespace reel::backends {

void CpuBackend::index_select_impl(const View& out, const View& in, int dim, const View& index) {
  const bool fast = dim == 0 && in.shape.size() >= 1 && out.dtype == in.dtype &&
                    index.dtype == kInt64 && index.shape.size() <= 1 &&
                    out.shape.size() == in.shape.size() && out.shape[0] == index.numel() &&
                    std::equal(out.shape.begin() + 1, out.shape.end(), in.shape.begin() + 1) &&
                    is_contiguous_layout(in.shape, in.strides) &&
                    is_contiguous_layout(out.shape, out.strides);
  if (fast) {
    const std::int64_t rows = in.shape[0], count = index.numel();
    const std::int64_t istride = index.shape.size() == 1 ? index.strides[0] : 0;
    const std::int64_t* ix = index.ptr<const std::int64_t>();
    bool in_range = true;
    for (std::int64_t i = 0; i < count && in_range; ++i)
      in_range = ix[i * istride] >= 0 && ix[i * istride] < rows;
    if (in_range) {
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

}  // namespace reel::backends
