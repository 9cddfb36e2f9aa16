// The opt-in xtensor interop header from the installed package: <reel/tensor/xtensor.hpp> with
// the program's own xtensor (reel's package doesn't bring it). Exits non-zero on a mismatch.
#include <reel/reel.hpp>
#include <reel/tensor/xtensor.hpp>

#include <fmt/core.h>

#include <xtensor/xarray.hpp>

int main() {
  xt::xarray<double> a = {{1.0, 2.0}, {3.0, 4.0}};
  reel::Tensor t = reel::from_xtensor(a) * 2.0;
  auto back = reel::to_xtensor<double>(t);
  if (back(1, 0) != 6.0 || t.dtype() != reel::kFloat64) {
    fmt::print(stderr, "consumer_xtensor: expected 6 at (1, 0), got {}\n", back(1, 0));
    return 1;
  }
  fmt::print("consumer_xtensor: ok\n");
  return 0;
}
