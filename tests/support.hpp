#pragma once
// Helpers shared by the test suites.
#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "reel.hpp"

namespace reel::test {

// --- CUDA work skipped without a GPU ---------------------------------------------------------
// A test case that needs a GPU throughout carries this decorator, so doctest counts it as
// skipped, not passed: TEST_CASE("..." * test::needs_gpu()).
inline doctest::skip needs_gpu() { return doctest::skip(!cuda::is_available()); }

// A case that runs on the CPU and also on CUDA when present calls skip_cuda() where it leaves
// its CUDA part out. The first call in a test case says so in a MESSAGE; tests/main.cpp's
// listener keeps the current case's name and prints, after the run, how many cases skipped
// their CUDA part ("test cases with CUDA parts skipped, no GPU: N"), so a run without a GPU
// says how much it did not check.
struct CudaSkips {
  std::string current_case;     // set by the listener at each test case's start
  std::set<std::string> cases;  // the cases that skipped a CUDA part
};
inline CudaSkips& cuda_skips() {
  static CudaSkips skips;
  return skips;
}
// The library's default of reel::cuda::allow_tf32_conv() (torch.backends.cudnn.allow_tf32),
// recorded by tests/main.cpp before it turns TF32 off for the suites: their expected values are
// float32 and float64 references, and TF32 keeps 10 bits of mantissa. A test that wants TF32
// turns it on itself.
inline bool& tf32_conv_default() {
  static bool value = false;
  return value;
}

inline void skip_cuda(const std::string& what) {
  CudaSkips& s = cuda_skips();
  if (s.cases.insert(s.current_case).second) {
    MESSAGE("skipped on CUDA (no GPU is present): ", what);
  }
}

// Runs `body` once per CPU backend (reference loops, then the fast kernels), restoring the fast
// one afterwards, even when the body throws. (Suites move to on_devices as they are touched.)
template <typename F>
void on_cpu_backends(F body) {
  struct Restore {
    ~Restore() { backends::set_cpu_backend(backends::Kind::Cpu); }
  } restore;
  for (auto kind : {backends::Kind::Reference, backends::Kind::Cpu}) {
    backends::set_cpu_backend(kind);
    CAPTURE(backends::host_backend().name());
    body();
  }
}

// Runs body(device) on every device present: the CPU through the reference loops, the CPU
// through the fast backend, and CUDA when a GPU is present and its backend has a kernel for
// every primitive in `needs` at `dtype`. A device that lacks one is reported in a MESSAGE,
// never dropped silently; the suites that use this run there as soon as the kernels arrive.
template <typename F>
void on_devices(std::initializer_list<backends::OpId> needs, DType dtype, F body) {
  on_cpu_backends([&] { body(Device(kCPU)); });
  if (!backends::cuda_available()) {
    skip_cuda("this case's CUDA run");
    return;
  }
  for (backends::OpId op : needs) {
    if (!backends::cuda_backend().supports(op, dtype)) {
      MESSAGE("not run on cuda: ", backends::op_name(op), " (", dtype_name(dtype),
              ") is not implemented on the cuda backend yet");
      return;
    }
  }
  CAPTURE("cuda");
  body(Device(kCUDA));
}

// Compares a real tensor with expected values: relative `eps`, NaN must be NaN, infinities exact.
inline void check_values(const Tensor& t, const std::vector<double>& expected, double eps = 1e-6) {
  std::vector<double> got = t.to_vector<double>();
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    if (std::isnan(expected[i])) CHECK(std::isnan(got[i]));
    else if (std::isinf(expected[i])) CHECK(got[i] == expected[i]);
    else CHECK(got[i] == doctest::Approx(expected[i]).epsilon(eps));
  }
}

// The message of the reel::Error `f` throws, or "" when it doesn't throw one.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const reel::Error& e) {
    return e.what();
  }
  return "";
}

// Checks that fn() throws reel::Error whose message contains every one of `parts`.
template <typename Fn>
void check_error(Fn fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    FAIL("expected a reel::Error");
  } catch (const reel::Error& e) {
    std::string m = e.what();
    for (const auto& p : parts) CHECK_MESSAGE(m.find(p) != std::string::npos, m, " lacks: ", p);
  }
}

// A float64 (or `dtype`) leaf of normal draws that requires grad: the usual gradcheck input.
inline Tensor leaf(const Shape& shape, DType dtype = kFloat64) {
  return randn(shape, TensorOptions(dtype)).requires_grad_(true);
}

// A complex128 leaf with distinct, non-zero real and imaginary parts.
inline Tensor complex_leaf(const Shape& shape) {
  std::vector<double> re = randn(shape, TensorOptions(kFloat64)).to_vector<double>();
  std::vector<double> im = randn(shape, TensorOptions(kFloat64)).to_vector<double>();
  std::vector<complex128> z;
  for (std::size_t i = 0; i < re.size(); ++i) z.emplace_back(re[i], im[i]);
  return tensor(z, shape, TensorOptions(kComplex128)).requires_grad_(true);
}

// A backend view over host data (backend-level tests build their inputs from std::vector).
template <typename T>
backends::View view(const T* data, Shape shape, Strides strides) {
  backends::View v;
  v.data = const_cast<T*>(data);
  v.dtype = dtype_v<T>;
  v.shape = shape;
  v.strides = strides;
  return v;
}
template <typename T>
backends::View view(const T* data, Shape shape) {
  return view(data, shape, contiguous_strides(shape));
}

}  // namespace reel::test
