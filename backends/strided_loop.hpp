#pragma once
// for_each_offset: the one loop the naive kernels are built on. It walks every index of a shape
// in row-major order and hands the kernel the element offset of that index in several strided
// views at once, so a kernel body reads like the formula it implements:
//
//   for_each_offset(out.shape, [&](std::int64_t o, std::int64_t i) { po[o] = f(pi[i]); },
//                   out.strides, in.strides);
//
// Broadcasting needs nothing special: a stride of 0 keeps re-reading the same element.
#include <array>
#include <cstddef>
#include <cstdint>
#include <tuple>

#include "backends/dims.hpp"

namespace reel::backends {

// Calls f(offset_0, ..., offset_{n-1}) for every index of `shape`, last dim fastest, where
// offset_k = sum_d index[d] * strides_k[d]. It works like an odometer: when digit d ticks, every
// offset moves by strides_k[d]; when the digit wraps back to 0 the offsets move back by
// shape[d] * strides_k[d] and the next digit ticks. A 0-dim shape visits its single element
// once; a shape with an extent of 0 visits nothing.
template <typename F, typename... S>
void for_each_offset(const Shape& shape, F&& f, const S&... strides) {
  constexpr std::size_t n = sizeof...(S);
  const std::array<const Strides*, n> st{&strides...};
  for (const Strides* s : st) {
    check(s->size() == shape.size(), "internal: strides {} do not match the rank of shape {}",
          *s, shape);
  }
  if (numel_of(shape) == 0) return;

  const int ndim = shape.size();
  std::array<std::int64_t, kMaxDims> index{};
  std::array<std::int64_t, n> offset{};
  for (;;) {
    std::apply(f, offset);
    int d = ndim - 1;
    for (; d >= 0; --d) {
      for (std::size_t k = 0; k < n; ++k) offset[k] += (*st[k])[d];
      if (++index[d] < shape[d]) break;
      for (std::size_t k = 0; k < n; ++k) offset[k] -= shape[d] * (*st[k])[d];
      index[d] = 0;
    }
    if (d < 0) return;  // every digit wrapped: the walk is over
  }
}

// `shape` with extent `dim` replaced by `extent`: the slab a kernel walks for one position
// along `dim` (index ops), or the kept/reduced part of a shape (reductions).
inline Shape with_extent(Shape shape, int dim, std::int64_t extent) {
  shape[dim] = extent;
  return shape;
}

// in's shape with every kept dim set to 1: the part of `in` that one element of a reduction's
// output folds over (Backend::reduce has checked that each dim is kept or reduced).
inline Shape reduced_shape(const Shape& out, const Shape& in) {
  Shape reduced = in;
  for (int d = 0; d < in.size(); ++d) {
    if (!(out[d] == 1 && in[d] != 1)) reduced[d] = 1;
  }
  return reduced;
}

}  // namespace reel::backends
