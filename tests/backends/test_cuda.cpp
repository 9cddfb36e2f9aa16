// The CUDA backend at the contract level: memory round trips, fill, strided copy with dtype
// conversion, binary ops over broadcast views (checked against the reference backend), the
// caching allocator, and clear errors for what has no CUDA kernel yet.
//
// Without a GPU (or when reel was built without CUDA) every case says so in a MESSAGE and
// passes: CUDA tests are skipped, never failed.
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

// Every case that needs a GPU starts with this: without one it says so and passes.
#define REEL_SKIP_WITHOUT_GPU()                                          \
  do {                                                                   \
    if (!rb::cuda_available()) {                                         \
      MESSAGE("CUDA tests skipped: no GPU is present");                  \
      return;                                                            \
    }                                                                    \
  } while (0)

namespace {

constexpr reel::DType kAllDTypes[] = {reel::kBool,    reel::kInt64,     reel::kFloat32,
                                      reel::kFloat64, reel::kComplex64, reel::kComplex128};

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

// PyTorch's conversion rules, written out on the host: what the copy kernel must match.
template <typename To, typename From>
To host_cast(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (reel::is_complex_v<To>) {
    using R = typename To::value_type;
    if constexpr (reel::is_complex_v<From>) return To(static_cast<R>(v.real()), static_cast<R>(v.imag()));
    else return To(static_cast<R>(v), R(0));
  } else if constexpr (reel::is_complex_v<From>) {
    return static_cast<To>(v.real());
  } else {
    return static_cast<To>(v);
  }
}

// Equal, or both NaN, or within a relative tolerance for inexact dtypes.
template <typename T>
bool close(T got, T want) {
  if constexpr (reel::is_complex_v<T>) {
    return close(got.real(), want.real()) && close(got.imag(), want.imag());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (got != got || want != want) return got != got && want != want;
    if (got == want) return true;  // also equal infinities
    const T tol = std::is_same_v<T, float> ? T(1e-5) : T(1e-12);
    const T scale = std::max(T(1), std::abs(want));
    return std::abs(got - want) <= tol * scale;
  } else {
    return got == want;
  }
}

template <typename T>
std::string to_text(T v) {
  if constexpr (reel::is_complex_v<T>) return fmt::format("({}, {})", v.real(), v.imag());
  else return fmt::format("{}", v);
}

// The support matrix the CUDA backend documents (launch.hpp's binary_supported).
bool cuda_supports(rb::BinaryOp op, reel::DType t) {
  using Op = rb::BinaryOp;
  switch (op) {
    case Op::Add: case Op::Mul: case Op::Eq: case Op::Ne: case Op::LogicalAnd: case Op::LogicalOr:
      return true;
    case Op::Sub:
      return t != reel::kBool;
    case Op::Div:
      return reel::is_inexact(t);
    case Op::Pow:
      return t == reel::kInt64 || reel::is_floating(t);
    case Op::Maximum: case Op::Minimum: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
      return !reel::is_complex(t);
    case Op::ReluBackward:
      return reel::is_floating(t) || t == reel::kInt64;
    case Op::GeluBackward: case Op::SiluBackward:
      return reel::is_floating(t);
    case Op::SigmoidBackward: case Op::TanhBackward:
      return reel::is_inexact(t);
  }
  return false;
}

bool is_comparison(rb::BinaryOp op) { return op >= rb::BinaryOp::Eq; }

// Small inputs for binary ops: a is [3, 4]; b is [4] (broadcast over a's rows). Divisors are
// nonzero, integer exponents small and positive; a[0][0] == b[0] so Eq has a true case.
HostArray binary_input(reel::DType t, bool second) {
  const double a_vals[] = {-1.5, 2.0, 0.5, 3.0, -0.25, 1.0, 0.0, -2.0, 1.25, -1.0, 2.5, 0.75};
  const double b_vals[] = {-1.5, 0.5, 2.0, 1.25};
  const double a_imag[] = {0.5, -1.0, 0.0, 2.0, 1.0, -0.5, 1.5, 0.0, -2.0, 0.25, 1.0, -1.0};
  const double b_imag[] = {0.5, 1.0, -0.5, 2.0};
  const std::int64_t a_ints[] = {3, 2, 0, 5, -1, 1, 4, -2, 3, 0, -4, 2};
  const std::int64_t b_ints[] = {3, 1, 2, 4};
  const std::int64_t n = second ? 4 : 12;
  HostArray h(t, n);
  reel::visit_dtype(t, [&]<typename T>() {
    for (std::int64_t i = 0; i < n; ++i) {
      const double re = second ? b_vals[i] : a_vals[i];
      const double im = second ? b_imag[i] : a_imag[i];
      if constexpr (std::is_same_v<T, bool>) h.set<T>(i, ((i * 7 + (second ? 1 : 0)) % 3) != 0);
      else if constexpr (std::is_same_v<T, std::int64_t>) h.set<T>(i, second ? b_ints[i] : a_ints[i]);
      else if constexpr (reel::is_complex_v<T>) h.set<T>(i, T(re, im));
      else h.set<T>(i, static_cast<T>(re));
    }
  });
  return h;
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

TEST_CASE("cuda: upload and download round trip") {
  REEL_SKIP_WITHOUT_GPU();
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

TEST_CASE("cuda: fill every dtype, contiguous and strided") {
  REEL_SKIP_WITHOUT_GPU();
  rb::Backend& cuda = rb::cuda_backend();
  const reel::Scalar values[] = {reel::Scalar(2.75), reel::Scalar(std::int64_t{-3}),
                                 reel::Scalar(true), reel::Scalar(std::complex<double>(1.5, -2.0)),
                                 reel::Scalar(0.0)};
  for (reel::DType t : kAllDTypes) {
    for (const reel::Scalar& value : values) {
      CAPTURE(reel::dtype_name(t));
      CAPTURE(value.to_double());
      reel::visit_dtype(t, [&]<typename T>() {
        HostArray host(t, 37);
        for (std::int64_t i = 0; i < 37; ++i) host.set<T>(i, host_cast<T>(std::int64_t{9}));
        DeviceArray dev(host);
        // Every element: the contiguous path (a memset when the value is zero).
        cuda.fill(view_of(dev.data, t, {37}, {1}), value);
        HostArray all = dev.download();
        for (std::int64_t i = 0; i < 37; ++i) CHECK(all.get<T>(i) == value.to<T>());

        // A strided view: columns 0, 2, 4 of rows 0..5 of a [6, 7] block (the rest stays 9).
        DeviceArray grid(host);
        cuda.fill(view_of(grid.data, t, {6, 3}, {7, 2}), value);
        HostArray got = grid.download();
        for (std::int64_t r = 0; r < 6; ++r)
          for (std::int64_t c = 0; c < 7; ++c) {
            const bool hit = c % 2 == 0 && c < 6;
            const T want = hit ? value.to<T>() : host_cast<T>(std::int64_t{9});
            CHECK(got.get<T>(r * 7 + c) == want);
          }
      });
    }
  }
}

TEST_CASE("cuda: strided copy with dtype conversion matches the host rules") {
  REEL_SKIP_WITHOUT_GPU();
  rb::Backend& cuda = rb::cuda_backend();
  // Source: a [3, 4] buffer read transposed as [4, 3] (strides [1, 4]); values that exercise
  // truncation toward zero, zero vs nonzero, and complex numbers with a zero real part.
  const double re[] = {-2.75, -1.0, -0.5, 0.0, 0.25, 1.5, 2.0, 3.9, 100.0, -7.1, 0.0, 1.0};
  const double im[] = {1.0, 0.0, -3.5, 2.0, 0.0, 0.0, -1.0, 0.5, 0.0, 4.0, 0.0, -2.0};
  for (reel::DType from : kAllDTypes) {
    for (reel::DType to : kAllDTypes) {
      CAPTURE(reel::dtype_name(from));
      CAPTURE(reel::dtype_name(to));
      reel::visit_dtype(from, [&]<typename From>() {
        reel::visit_dtype(to, [&]<typename To>() {
          HostArray src(from, 12);
          for (std::int64_t i = 0; i < 12; ++i) {
            if constexpr (reel::is_complex_v<From>) src.set<From>(i, host_cast<From>(std::complex<double>(re[i], im[i])));
            else src.set<From>(i, host_cast<From>(re[i]));
          }
          DeviceArray dev_src(src);
          DeviceArray dev_out(HostArray(to, 12));
          cuda.copy(view_of(dev_out.data, to, {4, 3}, {3, 1}),
                    view_of(dev_src.data, from, {4, 3}, {1, 4}));
          HostArray out = dev_out.download();
          for (std::int64_t i = 0; i < 4; ++i)
            for (std::int64_t j = 0; j < 3; ++j) {
              const To want = host_cast<To>(src.get<From>(i + 4 * j));
              const To got = out.get<To>(i * 3 + j);
              CHECK_MESSAGE(got == want, "at [", i, ", ", j, "]: got ", to_text(got),
                            ", want ", to_text(want));
            }
        });
      });
    }
  }
}

TEST_CASE("cuda: copy broadcasts a stride-0 input into a strided output") {
  REEL_SKIP_WITHOUT_GPU();
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

TEST_CASE("cuda: binary ops over broadcast views match the reference backend") {
  REEL_SKIP_WITHOUT_GPU();
  rb::Backend& cuda = rb::cuda_backend();
  rb::Backend& reference = rb::reference_backend();
  for (int op_index = 0; op_index <= static_cast<int>(rb::BinaryOp::LogicalOr); ++op_index) {
    const auto op = static_cast<rb::BinaryOp>(op_index);
    for (reel::DType t : kAllDTypes) {
      CAPTURE(op_index);
      CAPTURE(reel::dtype_name(t));
      const reel::DType out_t = is_comparison(op) ? reel::kBool : t;
      HostArray a = binary_input(t, false), b = binary_input(t, true);
      DeviceArray dev_a(a), dev_b(b), dev_out(HostArray(out_t, 12));
      // b [4] is broadcast over a's 3 rows with a stride-0 dim.
      const rb::View out_view = view_of(dev_out.data, out_t, {3, 4}, {4, 1});
      const rb::View a_view = view_of(dev_a.data, t, {3, 4}, {4, 1});
      const rb::View b_view = view_of(dev_b.data, t, {3, 4}, {0, 1});
      if (!cuda_supports(op, t)) {
        CHECK_THROWS_AS(cuda.binary(op, out_view, a_view, b_view), reel::Error);
        continue;
      }
      cuda.binary(op, out_view, a_view, b_view);
      HostArray got = dev_out.download();

      HostArray want(out_t, 12);
      reference.binary(op, view_of(want.bytes.data(), out_t, {3, 4}, {4, 1}),
                       view_of(a.bytes.data(), t, {3, 4}, {4, 1}),
                       view_of(b.bytes.data(), t, {3, 4}, {0, 1}));
      reel::visit_dtype(out_t, [&]<typename T>() {
        for (std::int64_t i = 0; i < 12; ++i)
          CHECK_MESSAGE(close(got.get<T>(i), want.get<T>(i)), "element ", i, ": got ",
                        to_text(got.get<T>(i)), ", want ", to_text(want.get<T>(i)));
      });
    }
  }
}

TEST_CASE("cuda: binary ops in place and over transposed, 3-D broadcast views") {
  REEL_SKIP_WITHOUT_GPU();
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

TEST_CASE("cuda: the caching allocator reuses freed blocks") {
  REEL_SKIP_WITHOUT_GPU();
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

TEST_CASE("cuda: primitives without a CUDA kernel raise reel::Error") {
  REEL_SKIP_WITHOUT_GPU();
  rb::Backend& cuda = rb::cuda_backend();
  DeviceArray buf(HostArray(reel::kFloat32, 16));
  const rb::View v = view_of(buf.data, reel::kFloat32, {4, 4}, {4, 1});
  const rb::View idx = view_of(buf.data, reel::kInt64, {2}, {1});
  const auto missing = doctest::Contains("not yet implemented on CUDA");
  CHECK_THROWS_WITH_AS(cuda.unary(rb::UnaryOp::Exp, v, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.where(v, v, v, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.reduce(rb::ReduceOp::Sum, v, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.arg_reduce(rb::ArgReduceOp::Max, v, v, v, 0), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.matmul(v, v, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.index_select(v, v, 0, idx), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.index_add(v, 0, idx, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.gather(v, v, 0, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.scatter_add(v, 0, v, v), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.random(v, rb::RandomSpec{}), missing, reel::Error);
  CHECK_THROWS_WITH_AS(cuda.conv1d_forward(v, v, v, rb::View{}, rb::Conv1dParams{}), missing,
                       reel::Error);
  CHECK_THROWS_WITH_AS(cuda.pad1d(v, v, rb::PadMode::Reflect, 1, 1), missing, reel::Error);

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
