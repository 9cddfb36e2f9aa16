#pragma once
// Dim coalescing, the one rule every backend walks strided views by: size-1 dims are dropped
// and neighbouring dims merged wherever every view is contiguous across them, so most tensors
// become one long row (or a few long rows) and a kernel walks them with few index divisions.
// The CPU backend's rows and the CUDA backend's Indexer are both built from coalesce().
#include <array>
#include <cstdint>

#include "backends/dims.hpp"

namespace reel::backends {

// An iteration space shared by N views after coalescing, outermost dim first; the last dim is
// the row.
template <int N>
struct Layout {
  int ndim = 0;
  std::array<std::int64_t, kMaxDims> shape{};
  std::array<std::array<std::int64_t, kMaxDims>, N> strides{};
  std::int64_t inner_stride(int k) const { return strides[k][ndim - 1]; }
};

// Dim d merges into the dim kept before it when, for every view, stepping the outer dim once
// equals stepping d through its whole extent: stride_outer == stride_d * shape_d. A shape with
// a single element becomes one dim of extent 1 with strides 0.
template <int N>
Layout<N> coalesce(const Shape& shape, const std::array<const Strides*, N>& st) {
  Layout<N> l;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (l.ndim > 0) {
      const int p = l.ndim - 1;
      bool merge = true;
      for (int k = 0; k < N; ++k) merge = merge && l.strides[k][p] == (*st[k])[d] * shape[d];
      if (merge) {
        l.shape[p] *= shape[d];
        for (int k = 0; k < N; ++k) l.strides[k][p] = (*st[k])[d];
        continue;
      }
    }
    l.shape[l.ndim] = shape[d];
    for (int k = 0; k < N; ++k) l.strides[k][l.ndim] = (*st[k])[d];
    ++l.ndim;
  }
  if (l.ndim == 0) l.ndim = l.shape[0] = 1;  // one element; strides stay 0
  return l;
}

}  // namespace reel::backends
