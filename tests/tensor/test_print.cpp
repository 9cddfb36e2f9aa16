// Printing: every expected string below is what PyTorch 1.13's torch.Tensor.__repr__ prints for
// the same values (generated with Debian's python3-torch), with reel's two naming differences:
// dtype=float64 for dtype=torch.float64, and grad_fn=<MulBackward> for <MulBackward0>.
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <vector>

#include <doctest/doctest.h>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// torch.arange(n, dtype=float32).reshape(shape) / divisor
Tensor float_range(int n, float divisor, const Shape& shape) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(i) / divisor);
  return tensor(v, shape, kFloat32);
}

// torch.arange(n).reshape(shape) * step
Tensor int_range(int n, std::int64_t step, const Shape& shape) {
  std::vector<std::int64_t> v;
  for (int i = 0; i < n; ++i) v.push_back(i * step);
  return tensor(v, shape, kInt64);
}

Tensor double_values(int n, const std::function<double(int)>& f) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(f(i));
  return tensor(v, kFloat64);
}

// torch.complex(arange(n, float32) / 3, arange(n, float32) * 0.5 / 3)
Tensor complex_values(int n) {
  std::vector<complex64> v;
  for (int i = 0; i < n; ++i) {
    auto x = static_cast<float>(i);
    v.emplace_back(x / 3.f, x * 0.5f / 3.f);
  }
  return tensor(v, kComplex64);
}

}  // namespace

TEST_CASE("print: float32, float64 and the dtype suffix") {
  // float32 vector
  CHECK((tensor({0.1f, 0.2f, -1.5f})).str() == R"~(tensor([ 0.1000,  0.2000, -1.5000]))~");
  // float64 row
  CHECK((tensor({{0.1, 0.2}})).str() == R"~(tensor([[0.1000, 0.2000]], dtype=float64))~");
  // float64 2x3
  CHECK((tensor({{1.5, -2.25, 3.0}, {4.0, 5.125, -6.0}})).str() == R"~(tensor([[ 1.5000, -2.2500,  3.0000],
        [ 4.0000,  5.1250, -6.0000]], dtype=float64))~");
  // transposed
  CHECK((tensor({{1.f, 2.f, 3.f}, {4.f, 5.f, 6.f}}).t()).str() == R"~(tensor([[1., 4.],
        [2., 5.],
        [3., 6.]]))~");
}

TEST_CASE("print: int64 and bool") {
  // int64 vector
  CHECK((tensor({1, -20, 300})).str() == R"~(tensor([  1, -20, 300]))~");
  // int64 2x2
  CHECK((tensor({{1, 2}, {30, -4}})).str() == R"~(tensor([[ 1,  2],
        [30, -4]]))~");
  // big int64
  CHECK((tensor({std::int64_t{1} << 62, std::int64_t{-5}})).str() == R"~(tensor([4611686018427387904,                  -5]))~");
  // bool
  CHECK((tensor({true, false})).str() == R"~(tensor([ True, False]))~");
}

TEST_CASE("print: integer-valued floats") {
  // integer-valued float
  CHECK((tensor({1.f, 2.f, 3.f})).str() == R"~(tensor([1., 2., 3.]))~");
  // integer-valued float negative
  CHECK((tensor({-1.f, 20.f, 3.f})).str() == R"~(tensor([-1., 20.,  3.]))~");
  // zeros
  CHECK((zeros({3})).str() == R"~(tensor([0., 0., 0.]))~");
  // negative zero
  CHECK((tensor({-0.0f, 1.5f})).str() == R"~(tensor([-0.0000, 1.5000]))~");
}

TEST_CASE("print: complex") {
  // complex64
  CHECK((tensor({complex64(1, 2), complex64(-3.5f, -0.25f)})).str() == R"~(tensor([ 1.0000+2.0000j, -3.5000-0.2500j]))~");
  // complex128
  CHECK((tensor({complex128(1, 2), complex128(0, -1)})).str() == R"~(tensor([1.+2.j, 0.-1.j], dtype=complex128))~");
  // complex64 integer-valued
  CHECK((tensor({complex64(1, 2), complex64(3, -4)})).str() == R"~(tensor([1.+2.j, 3.-4.j]))~");
  // complex negative zero imag
  CHECK((tensor({complex64(1, -0.0f)})).str() == R"~(tensor([1.-0.j]))~");
  // complex scientific
  CHECK((tensor({complex64(1e-5f, 1), complex64(2, 3e5f)})).str() == R"~(tensor([1.0000e-05+1.0000e+00j, 2.0000e+00+3.0000e+05j]))~");
  // wrapped complex
  CHECK((complex_values(10)).str() == R"~(tensor([0.0000+0.0000j, 0.3333+0.1667j, 0.6667+0.3333j, 1.0000+0.5000j,
        1.3333+0.6667j, 1.6667+0.8333j, 2.0000+1.0000j, 2.3333+1.1667j,
        2.6667+1.3333j, 3.0000+1.5000j]))~");
}

TEST_CASE("print: scientific notation") {
  // sci small
  CHECK((tensor({1e-5f, 1.f})).str() == R"~(tensor([1.0000e-05, 1.0000e+00]))~");
  // sci large
  CHECK((tensor({1e9f, 1.f})).str() == R"~(tensor([1.0000e+09, 1.0000e+00]))~");
  // sci integer ratio
  CHECK((tensor({1.f, 10000.f})).str() == R"~(tensor([1.0000e+00, 1.0000e+04]))~");
  // sci ratio
  CHECK((tensor({0.5f, 1234.5f})).str() == R"~(tensor([5.0000e-01, 1.2345e+03]))~");
  // sci float32 small
  CHECK((tensor({0.00012345f, 0.5f})).str() == R"~(tensor([1.2345e-04, 5.0000e-01]))~");
  // sci integer with nan
  CHECK((tensor({1e10f, kNaN})).str() == R"~(tensor([1.0000e+10,        nan]))~");
  // sci with inf
  CHECK((tensor({1e-5f, kInf})).str() == R"~(tensor([1.0000e-05,        inf]))~");
}

TEST_CASE("print: inf and nan") {
  // inf and nan
  CHECK((tensor({kInf, -kInf, kNaN, 1.5f})).str() == R"~(tensor([   inf,   -inf,    nan, 1.5000]))~");
  // inf integer mode
  CHECK((tensor({kInf, 2.f})).str() == R"~(tensor([inf, 2.]))~");
  // nan only
  CHECK((tensor({kNaN})).str() == R"~(tensor([nan]))~");
}

TEST_CASE("print: 0-dim") {
  // 0-dim float32
  CHECK((tensor(std::vector<float>{3.5f}, Shape{}, kFloat32)).str() == R"~(tensor(3.5000))~");
  // 0-dim int64
  CHECK((tensor(std::vector<std::int64_t>{7}, Shape{}, kInt64)).str() == R"~(tensor(7))~");
  // 0-dim zero
  CHECK((zeros({})).str() == R"~(tensor(0.))~");
  // 0-dim float64
  CHECK((tensor(std::vector<double>{-2.5}, Shape{}, kFloat64)).str() == R"~(tensor(-2.5000, dtype=float64))~");
  // 0-dim complex
  CHECK((tensor(std::vector<complex64>{{1, -2}}, Shape{}, kComplex64)).str() == R"~(tensor(1.-2.j))~");
  // 0-dim bool
  CHECK((tensor(std::vector<bool>{true}, Shape{}, kBool)).str() == R"~(tensor(True))~");
}

TEST_CASE("print: empty tensors show their size and dtype") {
  // empty 0x3
  CHECK((zeros({0, 3})).str() == R"~(tensor([], size=(0, 3)))~");
  // empty 1-d
  CHECK((zeros({0})).str() == R"~(tensor([]))~");
  // empty int64
  CHECK((zeros({0}, kInt64)).str() == R"~(tensor([], dtype=int64))~");
  // empty float64 2x0
  CHECK((zeros({2, 0}, kFloat64)).str() == R"~(tensor([], size=(2, 0), dtype=float64))~");
}

TEST_CASE("print: line wrapping and nested dims") {
  // wrapped float32 line
  CHECK((float_range(30, 3, {30})).str() == R"~(tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,
        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,
        6.0000, 6.3333, 6.6667, 7.0000, 7.3333, 7.6667, 8.0000, 8.3333, 8.6667,
        9.0000, 9.3333, 9.6667]))~");
  // wrapped int64 line
  CHECK((int_range(40, 1000, {40})).str() == R"~(tensor([    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,  9000,
        10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000,
        20000, 21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000,
        30000, 31000, 32000, 33000, 34000, 35000, 36000, 37000, 38000, 39000]))~");
  // 3-d int64
  CHECK((int_range(24, 1, {2, 3, 4})).str() == R"~(tensor([[[ 0,  1,  2,  3],
         [ 4,  5,  6,  7],
         [ 8,  9, 10, 11]],

        [[12, 13, 14, 15],
         [16, 17, 18, 19],
         [20, 21, 22, 23]]]))~");
  // 4-d float32
  CHECK((float_range(16, 4, {2, 2, 2, 2})).str() == R"~(tensor([[[[0.0000, 0.2500],
          [0.5000, 0.7500]],

         [[1.0000, 1.2500],
          [1.5000, 1.7500]]],


        [[[2.0000, 2.2500],
          [2.5000, 2.7500]],

         [[3.0000, 3.2500],
          [3.5000, 3.7500]]]]))~");
}

TEST_CASE("print: suffixes wrap at the line width") {
  // float64 suffix on the last line
  CHECK((double_values(12, [](int i) { return i / 3.0 + 100; })).str() == R"~(tensor([100.0000, 100.3333, 100.6667, 101.0000, 101.3333, 101.6667, 102.0000,
        102.3333, 102.6667, 103.0000, 103.3333, 103.6667], dtype=float64))~");
  // float64 suffix on a new line
  CHECK((double_values(7, [](int i) { return i + 100.5; })).str() == R"~(tensor([100.5000, 101.5000, 102.5000, 103.5000, 104.5000, 105.5000, 106.5000],
       dtype=float64))~");
}

TEST_CASE("print: summarised with ... above 1000 elements") {
  // summarised int64 2000
  CHECK((int_range(2000, 1, {2000})).str() == R"~(tensor([   0,    1,    2,  ..., 1997, 1998, 1999]))~");
  // summarised float32 40x50
  CHECK((float_range(2000, 7, {40, 50})).str() == R"~(tensor([[0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 6.7143e+00, 6.8571e+00,
         7.0000e+00],
        [7.1429e+00, 7.2857e+00, 7.4286e+00,  ..., 1.3857e+01, 1.4000e+01,
         1.4143e+01],
        [1.4286e+01, 1.4429e+01, 1.4571e+01,  ..., 2.1000e+01, 2.1143e+01,
         2.1286e+01],
        ...,
        [2.6429e+02, 2.6443e+02, 2.6457e+02,  ..., 2.7100e+02, 2.7114e+02,
         2.7129e+02],
        [2.7143e+02, 2.7157e+02, 2.7171e+02,  ..., 2.7814e+02, 2.7829e+02,
         2.7843e+02],
        [2.7857e+02, 2.7871e+02, 2.7886e+02,  ..., 2.8529e+02, 2.8543e+02,
         2.8557e+02]]))~");
  // summarised int64 10x10x12
  CHECK((int_range(1200, 1, {10, 10, 12})).str() == R"~(tensor([[[   0,    1,    2,  ...,    9,   10,   11],
         [  12,   13,   14,  ...,   21,   22,   23],
         [  24,   25,   26,  ...,   33,   34,   35],
         ...,
         [  84,   85,   86,  ...,   93,   94,   95],
         [  96,   97,   98,  ...,  105,  106,  107],
         [ 108,  109,  110,  ...,  117,  118,  119]],

        [[ 120,  121,  122,  ...,  129,  130,  131],
         [ 132,  133,  134,  ...,  141,  142,  143],
         [ 144,  145,  146,  ...,  153,  154,  155],
         ...,
         [ 204,  205,  206,  ...,  213,  214,  215],
         [ 216,  217,  218,  ...,  225,  226,  227],
         [ 228,  229,  230,  ...,  237,  238,  239]],

        [[ 240,  241,  242,  ...,  249,  250,  251],
         [ 252,  253,  254,  ...,  261,  262,  263],
         [ 264,  265,  266,  ...,  273,  274,  275],
         ...,
         [ 324,  325,  326,  ...,  333,  334,  335],
         [ 336,  337,  338,  ...,  345,  346,  347],
         [ 348,  349,  350,  ...,  357,  358,  359]],

        ...,

        [[ 840,  841,  842,  ...,  849,  850,  851],
         [ 852,  853,  854,  ...,  861,  862,  863],
         [ 864,  865,  866,  ...,  873,  874,  875],
         ...,
         [ 924,  925,  926,  ...,  933,  934,  935],
         [ 936,  937,  938,  ...,  945,  946,  947],
         [ 948,  949,  950,  ...,  957,  958,  959]],

        [[ 960,  961,  962,  ...,  969,  970,  971],
         [ 972,  973,  974,  ...,  981,  982,  983],
         [ 984,  985,  986,  ...,  993,  994,  995],
         ...,
         [1044, 1045, 1046,  ..., 1053, 1054, 1055],
         [1056, 1057, 1058,  ..., 1065, 1066, 1067],
         [1068, 1069, 1070,  ..., 1077, 1078, 1079]],

        [[1080, 1081, 1082,  ..., 1089, 1090, 1091],
         [1092, 1093, 1094,  ..., 1101, 1102, 1103],
         [1104, 1105, 1106,  ..., 1113, 1114, 1115],
         ...,
         [1164, 1165, 1166,  ..., 1173, 1174, 1175],
         [1176, 1177, 1178,  ..., 1185, 1186, 1187],
         [1188, 1189, 1190,  ..., 1197, 1198, 1199]]]))~");
  // summarised float32 1001
  CHECK((float_range(1001, 1000, {1001})).str() == R"~(tensor([0.0000, 0.0010, 0.0020,  ..., 0.9980, 0.9990, 1.0000]))~");
}

TEST_CASE("print: requires_grad") {
  // requires_grad
  CHECK((tensor({1.f, 2.f}, TensorOptions(kFloat32).requires_grad())).str() == R"~(tensor([1., 2.], requires_grad=True))~");
  // requires_grad float64
  CHECK((tensor({1., 2.}, TensorOptions(kFloat64).requires_grad())).str() == R"~(tensor([1., 2.], dtype=float64, requires_grad=True))~");
}
TEST_CASE("print: grad_fn names the node as recorded") {
  Tensor x = tensor({1.f, 2.f}, TensorOptions(kFloat32).requires_grad());
  CHECK((x * 2).str() == "tensor([2., 4.], grad_fn=<MulBackward>)");
  // Printing records nothing and leaves the tensor as it was.
  Tensor y = x * 2;
  auto node = y.grad_fn();
  (void)y.str();
  CHECK(y.grad_fn() == node);
  CHECK(y.requires_grad());
  // What printing reads: the node's name through grad_fn_name(), nullptr for a leaf.
  CHECK(std::string(y.grad_fn_name()) == "MulBackward");
  CHECK(x.grad_fn_name() == nullptr);
}

TEST_CASE("print: operator<< and fmt give the same text as str()") {
  Tensor t = tensor({1, 2, 3});
  std::ostringstream os;
  os << t;
  CHECK(os.str() == "tensor([1, 2, 3])");
  CHECK(fmt::format("{}", t) == "tensor([1, 2, 3])");
  CHECK(Tensor().str() == "tensor(undefined)");
}

TEST_CASE("print: strided views print their logical values") {
  // Read through the strides, without a copy: expanded (stride 0) and stepped slices.
  CHECK(tensor({1, 2}).unsqueeze(0).expand({2, 2}).str() == "tensor([[1, 2],\n        [1, 2]])");
  CHECK(int_range(10, 1, {10}).slice(0, 1, 10, 3).str() == "tensor([1, 4, 7])");
  CHECK(int_range(24, 1, {2, 3, 4}).select(2, 1).str() ==
        "tensor([[ 1,  5,  9],\n        [13, 17, 21]])");
}

TEST_CASE("print: the same text on both CPU backends") {
  for (auto kind : {backends::Kind::Reference, backends::Kind::Cpu}) {
    backends::set_cpu_backend(kind);
    CHECK(float_range(6, 4, {2, 3}).t().str() == "tensor([[0.0000, 0.7500],\n"
                                                  "        [0.2500, 1.0000],\n"
                                                  "        [0.5000, 1.2500]])");
  }
  backends::set_cpu_backend(backends::Kind::Cpu);
}

TEST_CASE("print: CUDA tensors show their device" * test::needs_gpu()) {
  CHECK(tensor({1.f, 2.f}).cuda().str() == "tensor([1., 2.], device='cuda:0')");
  CHECK(tensor({0.5, 2.}).cuda().str() ==
        "tensor([0.5000, 2.0000], device='cuda:0', dtype=float64)");
}
