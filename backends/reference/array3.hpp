#pragma once
// Internal to the reference backend: what its kernels on 3-d views ([N, C, L], conv1d's weight
// [Cout, Cin/groups, K]) share — element access through the strides, and the rank check.
#include <cstdint>

#include "backends/reference/reference_backend.hpp"

namespace reel::backends::reference {

// A strided 3-d array: a(i, j, k) is element [i][j][k] of the view.
template <typename T>
struct Array3 {
  T* data;
  std::int64_t s0, s1, s2;
  explicit Array3(const View& v)
      : data(v.ptr<T>()), s0(v.strides[0]), s1(v.strides[1]), s2(v.strides[2]) {}
  T& operator()(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return data[i * s0 + j * s1 + k * s2];
  }
};

}  // namespace reel::backends::reference
