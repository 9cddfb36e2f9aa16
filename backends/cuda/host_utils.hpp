#pragma once
// Host-side helpers shared by the CUDA backend's .cpp files (cuda_backend.cpp and the per-family
// files beside it): view checks and the strided walk handed to the kernels. Plain C++ (the C++
// compiler builds these files; nvcc never sees fmt).
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include <cuda_runtime_api.h>

#include "backends/backend.hpp"
#include "backends/coalesce.hpp"
#include "backends/cuda/allocator.hpp"
#include "backends/cuda/graph.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends::cuda {

static_assert(kKernelMaxDims == kMaxDims);

// Views arrive from reel's own Tensor layer, so these are cheap sanity checks that turn a
// contract violation into an error instead of a wild device write.
inline void check_view(const View& v, const char* op, const char* what) {
  check(v.strides.size() == v.shape.size(), "{}: {} has {} strides for {} dimensions", op, what,
        v.strides.size(), v.shape.size());
  for (int d = 0; d < v.shape.size(); ++d) {
    check(v.shape[d] >= 0 && v.strides[d] >= 0,
          "{}: {} has shape {} and strides {}; expected non-negative sizes and strides", op,
          what, v.shape, v.strides);
  }
  check(v.data != nullptr || v.numel() == 0, "{}: {} has no data (null pointer)", op, what);
}

// check_view for an optional view: a null one (data == nullptr: not given, not wanted) passes.
inline void check_view_if_given(const View& v, const char* op, const char* what) {
  if (v.data != nullptr) check_view(v, op, what);
}

// The kernels' strided walk over N operands of one shape (launch.hpp's Indexer), plus what the
// host needs to pick a kernel: the element count and whether 32-bit indexing is enough.
template <int N>
struct Walk {
  Indexer<N> ix;
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


// One int64 read back from device memory: waits for the stream (the value must be there).
inline std::int64_t read_int64(const void* device_ptr, const char* what) {
  std::int64_t value = 0;
  check_cuda(cudaMemcpyAsync(&value, device_ptr, sizeof value, cudaMemcpyDeviceToHost, stream()),
             what);
  synchronize();
  return value;
}

// For the checks of int64 values that live on the device (indices, class targets): `launch`
// (ix, numel, flag) queues a kernel that writes into *flag the row-major position of the first
// element of `v` failing its test, leaving UINT64_MAX when none does (it resets *flag itself,
// with a memset on the stream). If an element fails, `raise(value)` throws the op's error for
// that element's value. The host must see the value to word the error, so this waits for the
// stream: one synchronisation per checked call, the price of a clear reel::Error instead of a
// wild read or write.
// While a CUDA graph captures, nothing may wait (graph.hpp): the flag, and a captured copy of
// v's values (one small copy per check and replay, so the error can name the value even when
// v's memory is reused later in the graph), go to the graph instead, and every replay raises
// the error if an element fails.
template <typename Launch, typename Raise>
void check_device_values(const char* what, const View& v, Launch launch, Raise raise) {
  if (v.numel() == 0) return;
  const auto w = plan_walk<1>(v.shape, {&v.strides});
  DeviceBuffer flag(sizeof(unsigned long long));
  auto* first_bad = static_cast<unsigned long long*>(flag.get());
  check_cuda(launch(w.ix, w.numel, first_bad), what);
  if (capturing()) {
    // Row-major and contiguous, so a position is also the copy's offset.
    DeviceBuffer values(static_cast<std::size_t>(w.numel) * sizeof(std::int64_t));
    const Strides dense = contiguous_strides(v.shape);
    const auto cw = plan_walk<2>(v.shape, {&dense, &v.strides});
    check_cuda(launch_copy(DType::Int64, values.get(), DType::Int64, v.data, cw.ix, cw.numel,
                           cw.index32, stream()),
               what);
    defer_check(std::move(flag), std::move(values), RaiseBadValue(raise));
    return;
  }
  const auto position = static_cast<std::uint64_t>(read_int64(first_bad, what));
  if (position == std::numeric_limits<std::uint64_t>::max()) return;
  // Unravel the position over v's shape to find the element.
  auto rest = static_cast<std::int64_t>(position);
  std::int64_t offset = 0;
  for (int d = v.shape.size() - 1; d >= 0; --d) {
    offset += (rest % v.shape[d]) * v.strides[d];
    rest /= v.shape[d];
  }
  raise(read_int64(v.ptr<const std::int64_t>() + offset, what));
}

}  // namespace reel::backends::cuda
