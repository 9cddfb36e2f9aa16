#pragma once
// Helpers shared by the tests of data/.
#include <cstdint>
#include <memory>
#include <vector>

#include "reel.hpp"

namespace reel::test {

// x[i] = {i, 1000 + i} (int64), y[i] = -i: every batch names its samples.
inline std::shared_ptr<data::TensorDataset> indexed_dataset(std::int64_t n) {
  std::vector<std::int64_t> xs, ys;
  for (std::int64_t i = 0; i < n; ++i) {
    xs.push_back(i);
    xs.push_back(1000 + i);
    ys.push_back(-i);
  }
  return std::make_shared<data::TensorDataset>(
      std::vector<Tensor>{tensor(xs, {n, 2}, kInt64), tensor(ys, kInt64)});
}

}  // namespace reel::test
