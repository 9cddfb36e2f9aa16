// Reference backend, random fill: out[i] = random_value<T>(spec, i), with i the row-major linear
// index of the element in out's shape, whatever out's strides. The values themselves (Philox,
// the distributions, how counters are used) are defined once in backends/philox.hpp, so every
// backend draws the same numbers. The spec was checked against the dtype by Backend::random.
#include "backends/philox.hpp"
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

void ReferenceBackend::random_impl(const View& out, const RandomSpec& spec) {
  visit_wide_dtype(out.dtype, [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      T* dst = out.ptr<T>();
      std::uint64_t i = 0;  // the row-major position, counted as the walk goes
      for_each_offset(
          out.shape, [&](std::int64_t o) { dst[o] = random_value<T>(spec, i++); }, out.strides);
    }
  });
}

}  // namespace reel::backends
