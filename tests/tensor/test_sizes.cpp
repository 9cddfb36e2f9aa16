// Sizes that cannot be represented are errors: element counts, byte counts and strides that
// overflow int64, allocations the machine cannot satisfy, and the size arithmetic of views,
// ranges and joins on extreme values. Each raises reel::Error naming the op and the values;
// none may crash, wrap around or succeed silently (the sanitizer build runs these too, with
// ASan's allocator_may_return_null=1, so a refused allocation is tested there as well).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backends/checked_math.hpp"
#include "backends/cpu/caching_allocator.hpp"
#include "backends/host_memory.hpp"
#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;
using test::check_values;
using test::on_cpu_backends;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t k2p40 = std::int64_t{1} << 40;
constexpr std::int64_t k2p61 = std::int64_t{1} << 61;
constexpr std::int64_t k2p62 = std::int64_t{1} << 62;

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

TEST_CASE("checked_math: sums and products that overflow int64 are nullopt, not wrapped") {
  CHECK(checked_add(kMax - 1, 1) == kMax);
  CHECK_FALSE(checked_add(kMax, 1).has_value());
  CHECK_FALSE(checked_add(kMin, -1).has_value());
  CHECK(checked_sub(kMin + 1, 1) == kMin);
  CHECK_FALSE(checked_sub(kMin, 1).has_value());
  CHECK(checked_mul(std::int64_t{1} << 31, std::int64_t{1} << 31) == k2p62);
  CHECK_FALSE(checked_mul(std::int64_t{1} << 32, std::int64_t{1} << 31).has_value());
  CHECK_FALSE(checked_mul(kMax, 2).has_value());
  CHECK(checked_nbytes(k2p61 - 1, 4) == static_cast<std::size_t>((k2p61 - 1) * 4));
  CHECK_FALSE(checked_nbytes(k2p61, 4).has_value());  // 2^63 bytes: one past int64
  CHECK_FALSE(checked_nbytes(-1, 4).has_value());
  CHECK(checked_round_up(65, 64) == 128u);
  CHECK_FALSE(checked_round_up(std::numeric_limits<std::size_t>::max() - 3, 64).has_value());

  CHECK(checked_numel(Shape{k2p40, k2p40, 0}) == 0);  // a 0 extent: nothing to count
  CHECK_FALSE(checked_numel(Shape{k2p40, k2p40}).has_value());
  CHECK(checked_numel(Shape{}) == 1);
  CHECK_FALSE(checked_contiguous_strides(Shape{0, k2p40, k2p40}).has_value());
  CHECK(checked_contiguous_strides(Shape{k2p40, k2p40, 0}) == Strides{k2p40, 1, 1});
}

TEST_CASE("creation: an element count past int64 is an error naming the op and the shape") {
  check_error(
      [] {
        empty({k2p40, k2p40});
      },
      {"empty: the shape [1099511627776, 1099511627776] has more elements than int64 "
       "can hold"});
  check_error([] { zeros({k2p40, k2p40}); }, {"full: the shape [1099511627776, 1099511627776]"});
  check_error([] { full({kMax, 2}, 1.0); }, {"full:", "more elements than int64"});
  check_error([] { rand({k2p40, k2p40}); }, {"rand: the shape", "more elements"});
  check_error([] { randn({k2p40, k2p40}); }, {"randn: the shape", "more elements"});
  check_error([] { randint(0, 10, {k2p40, k2p40}); }, {"randint: the shape", "more elements"});
  // Eight dims of 2^8 = 2^64 elements: each partial product is checked, not only the last.
  check_error([] { empty(Shape::filled(8, 256)); }, {"more elements than int64 can hold"});
}

TEST_CASE("creation: a byte count past int64 is an error even when the element count fits") {
  // 2^61 float32 elements = 2^63 bytes, one past int64 (and past size_t's half).
  check_error([] { empty({k2p61}); }, {"empty: a tensor of shape [2305843009213693952]",
                                       "2305843009213693952 elements of "
                                       "float32, 4 bytes each",
                                       "needs more bytes than int64 can hold"});
  check_error([] { empty({std::int64_t{1} << 59}, TensorOptions(kComplex128)); },
              {"empty:", "complex128, 16 bytes each", "needs more bytes"});
  check_error([] { ones({k2p61}, TensorOptions(kFloat64)); }, {"full:", "needs more bytes"});
}

TEST_CASE("creation: strides past int64 are an error, a 0 extent alone is not") {
  // [0, 2^40, 2^40] has no elements but its first stride would be 2^80.
  check_error(
      [] {
        empty({0, k2p40, k2p40});
      },
      {"empty: the strides of a tensor of shape [0, 1099511627776, 1099511627776] "
       "overflow int64"});
  // [2^40, 2^40, 0] has representable strides [2^40, 1, 1]: a valid empty tensor.
  Tensor t = empty({k2p40, k2p40, 0});
  CHECK(t.numel() == 0);
  CHECK(t.strides() == Strides{k2p40, 1, 1});
  // Its views must not overflow either: the product of the first two dims is 2^80.
  check_error([&] { t.flatten(0, 1); }, {"flatten: dims 0..1 of shape", "more elements"});
  CHECK(t.flatten(1, 2).sizes() == Shape{k2p40, 0});
  CHECK(t.unsqueeze(0).sizes() == Shape{1, k2p40, k2p40, 0});
  CHECK(t.reshape({0, 5}).sizes() == Shape{0, 5});
}

TEST_CASE("creation: an allocation the machine cannot satisfy is a reel::Error naming the bytes") {
  const std::size_t limit = backends::max_host_allocation();
  CAPTURE(limit);
  REQUIRE(limit > 0);
  REQUIRE(limit < static_cast<std::size_t>(kMax));
  on_cpu_backends([&] {
    const backends::cpu::AllocatorStats before = backends::cpu::allocator_stats();
    // One byte more than reel asks any host allocator for: refused on every machine, under every
    // overcommit setting, before the system allocator is asked.
    const auto over = static_cast<std::int64_t>(limit) + 1;
    check_error([&] { empty({over}, TensorOptions(kBool)); },
                {"empty: cannot allocate " + str(over) + " bytes for a tensor of shape [" +
                     str(over) + "] (bool) on cpu",
                 "out of memory"});
    // The example: 2^40 float32 elements, 4 TiB (on any machine with less memory).
    if (limit < static_cast<std::size_t>(4 * k2p40)) {
      check_error([] { zeros({k2p40}); },
                  {"full: cannot allocate 4398046511104 bytes for a tensor of shape "
                   "[1099511627776] (float32)",
                   "out of memory"});
      check_error([] { randn({k2p40}); }, {"randn: cannot allocate 4398046511104 bytes"});
    } else {
      MESSAGE("this machine has at least 4 TiB of memory: the 4 TiB case is not an error here");
    }
    // A refusal leaves nothing behind, and the next allocation works.
    const backends::cpu::AllocatorStats after = backends::cpu::allocator_stats();
    CHECK(after.in_use_bytes == before.in_use_bytes);
    check_values(ones({3}), {1, 1, 1});
  });
}

TEST_CASE("backends: the host allocators refuse impossible sizes instead of wrapping them") {
  // Before, the caching allocator rounded SIZE_MAX up to a multiple of 64, wrapping around to 0,
  // and returned a tiny block for a huge request.
  const std::size_t huge = std::numeric_limits<std::size_t>::max() - 10;
  check_error([&] { backends::cpu::cached_allocate(huge); },
              {"cannot allocate " + std::to_string(huge) + " bytes of host memory"});
  check_error([&] { backends::reference_backend().allocate(huge); },
              {"cannot allocate " + std::to_string(huge) + " bytes of host memory"});
  CHECK(backends::try_host_allocate(backends::max_host_allocation() + 1) == nullptr);
  void* p = backends::try_host_allocate(0);  // a unique, aligned block even for 0 bytes
  CHECK(p != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(p) % backends::kHostAlignment == 0);
  backends::host_free(p);
}

TEST_CASE("view/reshape/expand: shapes whose element count overflows are invalid, not wrapped") {
  Tensor x = ones({2, 3});
  // 2^62 * 4 wraps to 0 in int64 arithmetic; with -1 that would have "inferred" a size.
  check_error(
      [&] {
        x.view({k2p62, 4});
      },
      {"view: shape '[4611686018427387904, 4]' is invalid for input of size 6"});
  check_error(
      [&] {
        x.reshape({-1, k2p62, 4});
      },
      {"reshape: shape '[-1, 4611686018427387904, 4]' is invalid for input of size 6"});
  check_error(
      [&] {
        x.reshape({k2p40, k2p40, 0});
      },
      {"reshape:", "is invalid for input of size 6"});

  Tensor one = ones({1, 1});
  check_error(
      [&] {
        one.expand({k2p40, k2p40});
      },
      {"expand: the shape [1099511627776, 1099511627776] has more elements than int64 "
       "can hold"});
  check_error([&] { one.expand({k2p40, k2p40, 1, 1}); }, {"expand:", "more elements"});
  check_error([&] { one.expand({-5, 1}); }, {"expand: the expanded size of the tensor (-5)"});
  // The largest count int64 holds is still a valid (stride-0, unallocated) view.
  Tensor wide = ones({1}).expand({kMax});
  CHECK(wide.numel() == kMax);
  CHECK(wide.stride(0) == 0);
}

TEST_CASE("slice/narrow: huge steps and lengths don't overflow") {
  Tensor x = arange(10);
  Tensor s = x.slice(0, 2, 10, kMax);  // one element: 2
  CHECK(s.sizes() == Shape{1});
  check_values(s, {2});
  check_values(x.slice(0, 1, std::nullopt, 4), {1, 5, 9});
  check_error([&] { x.narrow(0, 5, kMax); }, {"narrow: start (5) + length (" + str(kMax) + ")"});
}

TEST_CASE("arange: step 0, NaN or infinite bounds and counts past int64 are errors") {
  check_error([] { arange(0, 10, 0); }, {"arange: step must be nonzero"});
  check_error([] { arange(0.0, 1.0, 0.0); }, {"arange: step must be nonzero"});
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  check_error([&] { arange(nan, 10.0, 1.0); }, {"arange: unsupported range: nan -> 10"});
  check_error([&] { arange(0.0, inf, 1.0); }, {"arange: unsupported range: 0 -> inf"});
  check_error([&] { arange(0.0, nan); }, {"arange: unsupported range"});
  check_error([&] { arange(0.0, 1.0, nan); }, {"arange: step must be a number, got nan"});
  // The count overflows double's range (1e600), or int64's (1e19).
  check_error([] { arange(-1e300, 1e300, 1e-300); }, {"arange: invalid size, possible overflow?"});
  check_error([] { arange(0.0, 1e19, 1.0); }, {"arange: invalid size, possible overflow?"});
  check_error([] { arange(kMin, kMax, 1); },
              {"arange: invalid size, possible overflow? (18446744073709551615 elements"});
  // A count that fits but cannot be allocated: 1e18 doubles (staged on the host).
  check_error([] { arange(0.0, 1e18, 1.0); }, {"arange:", "bytes"});
  check_error([] { arange(std::int64_t{0}, k2p61, std::int64_t{1}); }, {"arange:", "bytes"});
}

TEST_CASE("arange: integer ranges near int64's ends are exact") {
  // In double, INT64_MAX - 10 and INT64_MAX are the same number (2^63): a count of 0.
  Tensor up = arange(kMax - 10, kMax, 3);
  CHECK(up.dtype() == kInt64);
  CHECK(up.to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMax - 10, kMax - 7, kMax - 4, kMax - 1});
  Tensor down = arange(kMin + 5, kMin, -2);
  CHECK(down.to_vector<std::int64_t>() == std::vector<std::int64_t>{kMin + 5, kMin + 3, kMin + 1});
  // A range wider than int64 (2^64 - 1) in steps of INT64_MAX: three elements.
  CHECK(arange(kMin, kMax, kMax).to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{kMin, -1, kMax - 1});
  check_error([] { arange(5, 1, 1); }, {"arange: upper bound and larger bound inconsistent"});
  // The usual cases are unchanged.
  check_values(arange(0.0, 1.0, 0.25), {0, 0.25, 0.5, 0.75});
  CHECK(arange(5).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4});
}

TEST_CASE("linspace, eye, randint: sizes are checked before anything is allocated") {
  check_error([] { linspace(0, 1, k2p62); },
              {"linspace: a tensor of shape [4611686018427387904]", "needs more bytes"});
  check_error([] { eye(k2p40, k2p40); },
              {"eye: the shape [1099511627776, 1099511627776] has more elements"});
  check_error([] { eye(1, kMax); }, {"eye:", "needs more bytes"});
  check_error([] { randint(0, 2, {k2p61}); }, {"randint:", "needs more bytes"});
  check_error([] { randint(0, kMax, {2}); }, {"randint: low and high must lie in [-2^53, 2^53]"});
  check_error([] { randint(kMin, 0, {2}); }, {"randint: low and high must lie in"});
  // eye still puts ones on the diagonal, tall and wide.
  check_values(eye(3, 2), {1, 0, 0, 1, 0, 0});
  check_values(eye(2, 3), {1, 0, 0, 0, 1, 0});
  CHECK(eye(0, 5).sizes() == Shape{0, 5});
  CHECK(eye(2, 2, TensorOptions(kBool)).to_vector<bool>() ==
        std::vector<bool>{true, false, false, true});
  check_values(linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1});
}

TEST_CASE("from_blob: a geometry that spans more than int64 bytes is an error") {
  std::vector<float> data(4, 1.0f);
  check_error([&] { from_blob(data.data(), {4}, {k2p62}, TensorOptions(kFloat32)); },
              {"from_blob: a tensor of shape [4] with strides [4611686018427387904] spans more "
               "bytes than int64 can hold"});
  check_error(
      [&] {
        from_blob(data.data(), {k2p40, k2p40}, TensorOptions(kFloat32));
      },
      {"from_blob: the shape [1099511627776, 1099511627776] has more elements"});
  Tensor t = from_blob(data.data(), {2, 2}, TensorOptions(kFloat32));
  check_values(t, {1, 1, 1, 1});
}

TEST_CASE("cat: a total size past int64 is an error, not a wrapped length") {
  Tensor wide = ones({1}).expand({kMax});
  check_error(
      [&] {
        cat({wide, wide});
      },
      {"cat: the total size " + str(kMax) + " + " + str(kMax) +
       " along dimension 0 (tensor number 1"});
  // Each dim fits; the product of the result's dims doesn't.
  Tensor x = ones({1, 1}).expand({std::int64_t{1} << 32, std::int64_t{1} << 30});
  check_error(
      [&] {
        cat({x, x}, 1);
      },
      {"cat: the result shape [4294967296, 2147483648] has more elements"});
  // Fits in int64 but not in memory: the allocation's error, not a crash.
  Tensor y = ones({1}).expand({std::int64_t{1} << 59});
  check_error([&] { cat({y, y}); }, {"cannot allocate 4611686018427387904 bytes", "out of memory"});
}

TEST_CASE("split/chunk: huge split sizes and chunk counts don't overflow") {
  Tensor x = arange(5);
  std::vector<Tensor> one = split(x, kMax);
  REQUIRE(one.size() == 1u);
  CHECK(one[0].sizes() == Shape{5});
  std::vector<Tensor> pieces = chunk(x, kMax);  // ceil(5 / INT64_MAX) = 1 per piece
  REQUIRE(pieces.size() == 5u);
  check_values(pieces[4], {4});
  check_error([&] { split_with_sizes(x, {kMax, kMax, 7}); },
              {"split_with_sizes expects split_sizes to sum exactly to 5"});
  check_values(split(x, 2)[2], {4});
}

TEST_CASE("CUDA: a failed cudaMalloc is a reel::Error naming the bytes" * test::needs_gpu()) {
  const TensorOptions on_gpu = TensorOptions(kFloat32).device(kCUDA);
  // 2^60 float32 = 4 EiB: no device has that; 2^61 would overflow the byte count itself.
  const std::int64_t n = std::int64_t{1} << 60;
  check_error([&] { empty({n}, on_gpu); },
              {"empty: cannot allocate 4611686018427387904 bytes for a tensor of shape "
               "[1152921504606846976] (float32) on cuda:0",
               "CUDA out of memory: tried to allocate 4611686018427387904 bytes"});
  check_error([&] { empty({std::int64_t{1} << 61}, on_gpu); }, {"empty:", "needs more bytes"});
  // Straight to the backend: a size past int64 is refused before rounding could wrap it.
  const std::size_t huge = std::numeric_limits<std::size_t>::max() - 10;
  check_error([&] { backends::cuda_backend().allocate(huge); },
              {"CUDA out of memory: tried to allocate " + std::to_string(huge) + " bytes"});
  // The device still works after the refusals.
  CHECK(ones({3}, on_gpu).cpu().to_vector<float>() == std::vector<float>{1, 1, 1});
}
