// Reference backend, random fill: out[i] = random_value<T>(spec, i), with i the row-major linear
// index of the element in out's shape, whatever out's strides. The values themselves (Philox,
// the distributions, how counters are used) are defined once in backends/philox.hpp, so every
// backend draws the same numbers.
#include "backends/philox.hpp"
#include "backends/reference/reference_backend.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

void ReferenceBackend::random_impl(const View& out, const RandomSpec& spec) {
  const DType t = out.dtype;
  if (spec.kind == RandomSpec::Kind::Integer) {
    check(is_integral(t, /*include_bool=*/false) || is_floating(t),
          "random: integer draws fill integer, float32 or float64 tensors, got {}", t);
    check(spec.a < spec.b, "random: expected low < high, but got low={} and high={}", spec.a,
          spec.b);
  } else {
    const char* kind = spec.kind == RandomSpec::Kind::Uniform ? "uniform" : "normal";
    check(is_inexact(t), "random: {} draws fill floating or complex tensors, got {}", kind, t);
    if (spec.kind == RandomSpec::Kind::Uniform) {
      check(spec.a <= spec.b, "random: uniform expects from <= to, but got from={} and to={}",
            spec.a, spec.b);
    } else {
      check(spec.b >= 0.0, "random: normal expects std >= 0.0, but got std={}", spec.b);
    }
  }

  visit_wide_dtype(t, [&]<typename T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      T* dst = out.ptr<T>();
      std::uint64_t i = 0;  // the row-major position, counted as the walk goes
      for_each_offset(
          out.shape, [&](std::int64_t o) { dst[o] = random_value<T>(spec, i++); }, out.strides);
    }
  });
}

}  // namespace reel::backends
