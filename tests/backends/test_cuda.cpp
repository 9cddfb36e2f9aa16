// The CUDA backend at the contract level: memory round trips, copies and binary ops over
// transposed, broadcast and in-place views, the caching allocator, and clear errors for what
// has no CUDA kernel yet. Every op × dtype against the reference backend is the parity
// harness's job (test_parity.cpp), which includes CUDA when a GPU is present.
//
// Without a GPU every case that needs one is doctest-skipped (counted as skipped in the summary,
// never as passed); without the CUDA backend they are not compiled.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "backends/backend.hpp"
#include "backends/error.hpp"
#include "support.hpp"
#ifdef REEL_WITH_CUDA
#include "backends/cuda/cuda_backend.hpp"
#endif

namespace rb = reel::backends;

TEST_CASE("cuda: availability is reported without crashing") {
  const int count = rb::cuda_device_count();
  CHECK(count >= 0);
  CHECK(rb::cuda_available() == (count > 0));
  if (!rb::cuda_available()) {
    MESSAGE("CUDA tests skipped: no GPU is present (or reel was built without CUDA)");
    CHECK_THROWS_AS(rb::cuda_backend(), reel::Error);
#ifdef REEL_WITH_CUDA
    CHECK_THROWS_WITH_AS(rb::cuda_backend(), doctest::Contains("no CUDA device is available"),
                         reel::Error);
#else
    CHECK_THROWS_WITH_AS(rb::cuda_backend(), doctest::Contains("without the CUDA backend"),
                         reel::Error);
#endif
    return;
  }
  CHECK(rb::cuda_backend().name() == "cuda");
}

#ifdef REEL_WITH_CUDA

namespace {

// Elements of any dtype as raw bytes (std::vector<bool> would not give us a buffer).
struct HostArray {
  reel::DType dtype;
  std::vector<unsigned char> bytes;
  HostArray(reel::DType t, std::int64_t n)
      : dtype(t), bytes(static_cast<std::size_t>(n) * reel::element_size(t)) {}
  template <typename T> T get(std::int64_t i) const {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return v;
  }
  template <typename T> void set(std::int64_t i, T v) {
    std::memcpy(bytes.data() + i * sizeof(T), &v, sizeof(T));
  }
  std::int64_t size() const {
    return static_cast<std::int64_t>(bytes.size() / reel::element_size(dtype));
  }
};

// A device buffer holding a copy of a HostArray; freed through the backend.
struct DeviceArray {
  reel::DType dtype;
  std::size_t nbytes;
  void* data;
  explicit DeviceArray(const HostArray& host)
      : dtype(host.dtype), nbytes(host.bytes.size()), data(rb::cuda_backend().allocate(nbytes)) {
    rb::cuda_backend().copy_from_host(data, host.bytes.data(), nbytes);
  }
  ~DeviceArray() { rb::cuda_backend().deallocate(data, nbytes); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  HostArray download() const {
    HostArray host(dtype, static_cast<std::int64_t>(nbytes / reel::element_size(dtype)));
    rb::cuda_backend().copy_to_host(host.bytes.data(), data, nbytes);
    return host;
  }
};

rb::View view_of(void* data, reel::DType t, reel::Shape shape, reel::Strides strides) {
  rb::View v;
  v.data = data;
  v.dtype = t;
  v.shape = shape;
  v.strides = strides;
  return v;
}

}  // namespace

TEST_CASE("cuda: allocator size classes") {
  // Pure host arithmetic: runs with or without a GPU.
  using rb::cuda::CachingAllocator;
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(512) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(CachingAllocator::round_size(std::size_t{1} << 20) == std::size_t{1} << 20);
  CHECK(CachingAllocator::round_size((std::size_t{1} << 20) + 1) ==
        (std::size_t{1} << 20) + (std::size_t{1} << 18));
  CHECK(CachingAllocator::round_size(3u << 20) == 3u << 20);
}

TEST_CASE("cuda: upload and download round trip" * reel::test::needs_gpu()) {
  rb::Backend& cuda = rb::cuda_backend();
  HostArray host(reel::kFloat32, 1000);
  for (std::int64_t i = 0; i < host.size(); ++i) host.set<float>(i, 0.5f * static_cast<float>(i) - 7.0f);
  DeviceArray dev(host);
  CHECK(dev.download().bytes == host.bytes);

  // Device-to-device through copy() (the cudaMemcpy path), then back.
  DeviceArray other(HostArray(reel::kFloat32, 1000));
  cuda.copy(view_of(other.data, reel::kFloat32, {10, 100}, {100, 1}),
            view_of(dev.data, reel::kFloat32, {10, 100}, {100, 1}));
  CHECK(other.download().bytes == host.bytes);

  // Empty buffers are fine everywhere.
  void* empty = cuda.allocate(0);
  cuda.copy_from_host(empty, host.bytes.data(), 0);
  cuda.copy_to_host(host.bytes.data(), empty, 0);
  cuda.deallocate(empty, 0);
  cuda.synchronize();
}

TEST_CASE("cuda: copy broadcasts a stride-0 input into a strided output"
          * reel::test::needs_gpu()) {
  rb::Backend& cuda = rb::cuda_backend();
  HostArray row(reel::kFloat64, 3);
  for (std::int64_t i = 0; i < 3; ++i) row.set<double>(i, 1.5 * static_cast<double>(i + 1));
  DeviceArray dev_row(row);
  HostArray zeros(reel::kInt64, 2 * 3 * 4);
  for (std::int64_t i = 0; i < zeros.size(); ++i) zeros.set<std::int64_t>(i, -1);
  DeviceArray dev_out(zeros);
  // out: every other element of a [2, 3, 4] int64 block, seen as [2, 3, 2]; in: row broadcast.
  cuda.copy(view_of(dev_out.data, reel::kInt64, {2, 3, 2}, {12, 4, 2}),
            view_of(dev_row.data, reel::kFloat64, {2, 3, 2}, {0, 1, 0}));
  HostArray out = dev_out.download();
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t l = 0; l < 4; ++l) {
        const std::int64_t want = l % 2 == 0 ? static_cast<std::int64_t>(1.5 * (c + 1)) : -1;
        CHECK(out.get<std::int64_t>(n * 12 + c * 4 + l) == want);
      }
}

TEST_CASE("cuda: binary ops in place and over transposed, 3-D broadcast views"
          * reel::test::needs_gpu()) {
  rb::Backend& cuda = rb::cuda_backend();
  // a: [2, 1, 3] broadcast to [2, 4, 3]; b: [4, 1] broadcast to [2, 4, 3];
  // out: [2, 4, 3] stored transposed (a [3, 4, 2] buffer).
  HostArray a(reel::kFloat32, 6), b(reel::kFloat32, 4);
  for (std::int64_t i = 0; i < 6; ++i) a.set<float>(i, static_cast<float>(i) - 2.0f);
  for (std::int64_t i = 0; i < 4; ++i) b.set<float>(i, 10.0f * static_cast<float>(i + 1));
  DeviceArray dev_a(a), dev_b(b), dev_out(HostArray(reel::kFloat32, 24));
  cuda.binary(rb::BinaryOp::Sub, view_of(dev_out.data, reel::kFloat32, {2, 4, 3}, {1, 2, 8}),
              view_of(dev_a.data, reel::kFloat32, {2, 4, 3}, {3, 0, 1}),
              view_of(dev_b.data, reel::kFloat32, {2, 4, 3}, {0, 1, 0}));
  HostArray out = dev_out.download();
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t r = 0; r < 4; ++r)
      for (std::int64_t c = 0; c < 3; ++c)
        CHECK(out.get<float>(n + r * 2 + c * 8) == a.get<float>(n * 3 + c) - b.get<float>(r));

  // In place: a += a (out is exactly the first input).
  const rb::View av = view_of(dev_a.data, reel::kFloat32, {6}, {1});
  cuda.binary(rb::BinaryOp::Add, av, av, av);
  HostArray doubled = dev_a.download();
  for (std::int64_t i = 0; i < 6; ++i) CHECK(doubled.get<float>(i) == 2.0f * a.get<float>(i));
}

TEST_CASE("cuda: the caching allocator reuses freed blocks" * reel::test::needs_gpu()) {
  rb::Backend& cuda = rb::cuda_backend();
  void* warm = cuda.allocate(4096);
  cuda.deallocate(warm, 4096);
  const rb::cuda::AllocatorStats before = rb::cuda::allocator_stats();
  for (int i = 0; i < 100; ++i) {
    void* p = cuda.allocate(4000 + static_cast<std::size_t>(i % 50));  // all in the 4096 class
    cuda.deallocate(p, 4000);
  }
  const rb::cuda::AllocatorStats after = rb::cuda::allocator_stats();
  CHECK(after.os_allocations == before.os_allocations);
  CHECK(after.cache_hits >= before.cache_hits + 100);
  CHECK(after.in_use_bytes == before.in_use_bytes);
  CHECK(after.cached_bytes >= 4096);

  rb::cuda::empty_cache();
  CHECK(rb::cuda::allocator_stats().cached_bytes == 0);
  void* fresh = cuda.allocate(4096);
  CHECK(rb::cuda::allocator_stats().os_allocations == after.os_allocations + 1);
  cuda.deallocate(fresh, 4096);
}

TEST_CASE("cuda: primitives without a CUDA kernel raise reel::Error" * reel::test::needs_gpu()) {
  rb::Backend& cuda = rb::cuda_backend();
  DeviceArray buf(HostArray(reel::kFloat32, 16));
  const rb::View v = view_of(buf.data, reel::kFloat32, {4, 4}, {4, 1});
  const auto missing = doctest::Contains("is not implemented on the cuda backend");
  CHECK_THROWS_WITH_AS(cuda.conv1d_forward(v, v, v, rb::View{}, rb::Conv1dParams{}), missing,
                       reel::Error);

  // Unsupported dtypes and mismatched arguments are errors too, raised before any launch, and
  // the backend keeps working afterwards.
  DeviceArray cplx(HostArray(reel::kComplex64, 4));
  const rb::View c = view_of(cplx.data, reel::kComplex64, {4}, {1});
  CHECK_THROWS_WITH_AS(cuda.binary(rb::BinaryOp::Maximum, c, c, c),
                       doctest::Contains("maximum"), reel::Error);
  CHECK_THROWS_AS(cuda.binary(rb::BinaryOp::Add, v, v, view_of(buf.data, reel::kFloat64, {4, 4}, {4, 1})),
                  reel::Error);
  CHECK_THROWS_AS(cuda.copy(v, view_of(buf.data, reel::kFloat32, {2, 8}, {8, 1})), reel::Error);
  cuda.fill(v, reel::Scalar(1.0));
  cuda.synchronize();
  HostArray ones = buf.download();
  CHECK(ones.get<float>(15) == 1.0f);
}

#endif  // REEL_WITH_CUDA
