// xtensor interop (tensor/xtensor.hpp): copies in, zero-copy views both ways, lifetimes, errors.
// The lifetime cases are what the sanitizer build (ASan) is for: a view read after its last
// Tensor handle is gone must still read live memory.
#include <doctest/doctest.h>

#include <complex>
#include <cstdint>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "reel.hpp"
#include "support.hpp"
#include "tensor/xtensor.hpp"

using namespace reel;
using reel::test::check_error;

TEST_CASE("from_xtensor: copies xarray and xtensor<T, N> of every dtype") {
  xt::xarray<float> f = {{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 6.0f}};
  Tensor tf = from_xtensor(f);
  CHECK(tf.dtype() == kFloat32);
  CHECK(tf.sizes() == Shape{2, 3});
  CHECK(tf.is_contiguous());
  CHECK(tf.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  f(0, 0) = 100.0f;  // a copy: the tensor doesn't see later writes
  CHECK(tf.to_vector<float>()[0] == 1.0f);

  xt::xtensor<double, 3> d = xt::arange<double>(24.0).reshape({2, 3, 4});
  Tensor td = from_xtensor(d);
  CHECK(td.dtype() == kFloat64);
  CHECK(td.sizes() == Shape{2, 3, 4});
  CHECK(td.to_vector<double>()[23] == 23.0);

  xt::xarray<std::int64_t> i = {-3, 0, 7};
  CHECK(from_xtensor(i).dtype() == kInt64);
  CHECK(from_xtensor(i).to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 0, 7});
  xt::xtensor<int, 1> narrow_int = {1, 2};  // any integer becomes int64, as reel::tensor does
  CHECK(from_xtensor(narrow_int).dtype() == kInt64);

  xt::xarray<bool> b = {true, false, true};
  CHECK(from_xtensor(b).dtype() == kBool);
  CHECK(from_xtensor(b).to_vector<bool>() == std::vector<bool>{true, false, true});

  xt::xtensor<std::complex<double>, 1> z = {{1.0, -2.0}, {0.5, 3.0}};
  Tensor tz = from_xtensor(z);
  CHECK(tz.dtype() == kComplex128);
  CHECK(tz.to_vector<complex128>() == std::vector<complex128>{{1.0, -2.0}, {0.5, 3.0}});
  xt::xarray<std::complex<float>> zf = {std::complex<float>(1.0f, 1.0f)};
  CHECK(from_xtensor(zf).dtype() == kComplex64);

  // options convert, as reel::tensor's do
  Tensor conv = from_xtensor(i, TensorOptions(kFloat64).requires_grad());
  CHECK(conv.dtype() == kFloat64);
  CHECK(conv.requires_grad());
  CHECK(conv.to_vector<double>() == std::vector<double>{-3, 0, 7});
}

TEST_CASE("from_xtensor: strided views and column-major containers land in row-major order") {
  xt::xarray<double> a = xt::arange<double>(12.0).reshape({3, 4});
  // A transposed view: element (i, j) is a(j, i).
  Tensor t = from_xtensor(xt::transpose(a));
  CHECK(t.sizes() == Shape{4, 3});
  CHECK(t.to_vector<double>() == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  // A strided slice: every other column.
  Tensor s = from_xtensor(xt::view(a, xt::all(), xt::range(0, 4, 2)));
  CHECK(s.sizes() == Shape{3, 2});
  CHECK(s.to_vector<double>() == std::vector<double>{0, 2, 4, 6, 8, 10});
  // An unevaluated expression is evaluated as it is copied.
  CHECK(from_xtensor(a * 2.0).to_vector<double>()[11] == 22.0);

  // Column-major storage: same logical array, so the same tensor.
  xt::xarray<double, xt::layout_type::column_major> cm = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  CHECK(from_xtensor(cm).to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  xt::xtensor<float, 2, xt::layout_type::column_major> cm2 = {{1.0f, 2.0f}, {3.0f, 4.0f}};
  CHECK(from_xtensor(cm2).to_vector<float>() == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("from_xtensor: 0-d and empty") {
  xt::xarray<double> scalar(7.5);
  REQUIRE(scalar.dimension() == 0);
  Tensor t = from_xtensor(scalar);
  CHECK(t.dim() == 0);
  CHECK(t.item<double>() == 7.5);

  xt::xarray<float> empty_2d = xt::zeros<float>({0, 3});
  Tensor e = from_xtensor(empty_2d);
  CHECK(e.sizes() == Shape{0, 3});
  CHECK(e.numel() == 0);

  xt::xtensor<double, 0> scalar_fixed(2.0);
  Tensor v = from_xtensor_view(std::move(scalar_fixed));
  CHECK(v.dim() == 0);
  CHECK(v.item<double>() == 2.0);
  Tensor ev = from_xtensor_view(xt::xarray<std::int64_t>(xt::zeros<std::int64_t>({2, 0})));
  CHECK(ev.sizes() == Shape{2, 0});
  CHECK(to_xtensor<std::int64_t>(ev).size() == 0);
  CHECK(to_xtensor<double>(t).dimension() == 0);
  CHECK(to_xtensor<double>(t)() == 7.5);
}

TEST_CASE("from_xtensor_view: no copy, writes visible both ways, the container kept alive") {
  xt::xarray<float> a = {{1.0f, 2.0f}, {3.0f, 4.0f}};
  const float* buffer = a.data();
  Tensor t = from_xtensor_view(std::move(a));
  CHECK(t.data_ptr<float>() == buffer);  // the moved container's buffer, not a copy
  CHECK(t.sizes() == Shape{2, 2});
  t.mul_(10.0f);
  CHECK(t.to_vector<float>() == std::vector<float>{10, 20, 30, 40});

  // Writes through an xtensor view of the same storage are seen by the tensor and vice versa.
  auto x = to_xtensor<float>(t);
  CHECK(x.data() == buffer);
  x(1, 0) = -1.0f;
  CHECK(t[1][0].item<float>() == -1.0f);
  t.fill_(5.0f);
  CHECK(x(0, 1) == 5.0f);

  // A view of the tensor keeps the container alive after the tensor itself is gone.
  Tensor row = t[1];
  t = Tensor();
  CHECK(row.to_vector<float>() == std::vector<float>{5, 5});

  // Column-major containers keep their strides: a zero-copy tensor with transposed layout.
  xt::xtensor<double, 2, xt::layout_type::column_major> cm = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  Tensor c = from_xtensor_view(std::move(cm));
  CHECK(c.sizes() == Shape{2, 3});
  CHECK(c.strides() == Strides{1, 2});
  CHECK(!c.is_contiguous());
  CHECK(c.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});

  // Every stored dtype.
  CHECK(from_xtensor_view(xt::xarray<bool>{true, false}).to_vector<bool>() ==
        std::vector<bool>{true, false});
  CHECK(from_xtensor_view(xt::xtensor<std::int64_t, 1>{4, 5}).dtype() == kInt64);
  xt::xarray<complex64> z64 = {complex64(1.0f, 2.0f)};
  CHECK(from_xtensor_view(std::move(z64)).dtype() == kComplex64);
  xt::xarray<complex128> z128 = {complex128(1.0, 2.0)};
  Tensor tz = from_xtensor_view(std::move(z128));
  CHECK(tz.item<complex128>() == complex128(1.0, 2.0));
}

TEST_CASE("to_xtensor: a view that outlives the Tensor handles") {
  auto view = [] {
    Tensor t = arange(6, TensorOptions(kFloat64)).reshape({2, 3});
    return to_xtensor<double>(t);  // t is destroyed here; the view holds its storage
  }();
  REQUIRE(view.dimension() == 2);
  CHECK(view.shape()[0] == 2);
  CHECK(view.shape()[1] == 3);
  CHECK(view(1, 2) == 5.0);
  view(0, 0) = 42.0;  // still writable memory (ASan would catch a dangling buffer)
  CHECK(view(0, 0) == 42.0);
  // xtensor maths on it, evaluated into an xarray
  xt::xarray<double> doubled = view * 2.0;
  CHECK(doubled(1, 1) == 8.0);

  // Every dtype, and a view starting at a storage offset (a contiguous slice).
  Tensor base = tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2});
  auto second_row = to_xtensor<float>(base[1]);
  CHECK(second_row(0) == 3.0f);
  CHECK(to_xtensor<bool>(tensor({true, false}))(1) == false);
  CHECK(to_xtensor<std::int64_t>(tensor({7, 8}))(1) == 8);
  CHECK(to_xtensor<complex64>(tensor({complex64(1.0f, -1.0f)}))(0) == complex64(1.0f, -1.0f));
  CHECK(to_xtensor<complex128>(tensor({complex128(0.0, 2.0)}))(0).imag() == 2.0);

  // Round trip: copied back, equal.
  Tensor r = randn({3, 4}, kFloat64);
  CHECK(equal(from_xtensor(to_xtensor<double>(r)), r));
}

TEST_CASE("xtensor interop errors") {
  Tensor f = zeros({2, 3});
  check_error([&] { (void)to_xtensor<double>(f); },
              {"to_xtensor", "requested element type float64", "tensor is float32"});
  check_error([&] { (void)to_xtensor<float>(f.t()); },
              {"to_xtensor", "contiguous", "strides [1, 3]", "call .contiguous()"});
  check_error([&] { (void)to_xtensor<float>(Tensor()); }, {"to_xtensor", "undefined"});
  if (cuda::is_available()) {
    check_error([&] { (void)to_xtensor<float>(f.cuda()); }, {"to_xtensor", "CPU tensor", "cuda:0"});
  } else {
    test::skip_cuda("to_xtensor's error for a CUDA tensor");
  }

  // reel's rank limit is 8.
  std::vector<std::size_t> nine(9, 1);
  xt::xarray<float> big(nine);
  check_error([&] { (void)from_xtensor(big); },
              {"from_xtensor", "at most 8 dims", "with 9"});
  check_error([&] { (void)from_xtensor_view(xt::xarray<float>(nine)); },
              {"from_xtensor_view", "at most 8 dims", "with 9"});
}
