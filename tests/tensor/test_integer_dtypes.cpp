// The integer dtypes users port from LibTorch: uint8 (raw image data), int8, int16, int32, beside
// int64. Expected values are python3-torch 1.13's, printed by the snippets quoted in each case.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;

namespace {
constexpr DType kDTypes[] = {kBool,  kUInt8,   kInt8,    kInt16,     kInt32,
                             kInt64, kFloat32, kFloat64, kComplex64, kComplex128};

template <typename T>
std::vector<std::int64_t> ints(const Tensor& t) {
  std::vector<std::int64_t> out;
  for (T v : t.to_vector<T>()) out.push_back(v);
  return out;
}
using I = std::vector<std::int64_t>;
}  // namespace

TEST_CASE("integer dtypes: promote_types is PyTorch's table") {
  // [[torch.promote_types(a, b) for b in dtypes] for a in dtypes], dtypes in kDTypes' order.
  const DType expected[10][10] = {
      {kBool, kUInt8, kInt8, kInt16, kInt32, kInt64, kFloat32, kFloat64, kComplex64, kComplex128},
      {kUInt8, kUInt8, kInt16, kInt16, kInt32, kInt64, kFloat32, kFloat64, kComplex64, kComplex128},
      {kInt8, kInt16, kInt8, kInt16, kInt32, kInt64, kFloat32, kFloat64, kComplex64, kComplex128},
      {kInt16, kInt16, kInt16, kInt16, kInt32, kInt64, kFloat32, kFloat64, kComplex64, kComplex128},
      {kInt32, kInt32, kInt32, kInt32, kInt32, kInt64, kFloat32, kFloat64, kComplex64, kComplex128},
      {kInt64, kInt64, kInt64, kInt64, kInt64, kInt64, kFloat32, kFloat64, kComplex64, kComplex128},
      {kFloat32, kFloat32, kFloat32, kFloat32, kFloat32, kFloat32, kFloat32, kFloat64, kComplex64, kComplex128},
      {kFloat64, kFloat64, kFloat64, kFloat64, kFloat64, kFloat64, kFloat64, kFloat64, kComplex128, kComplex128},
      {kComplex64, kComplex64, kComplex64, kComplex64, kComplex64, kComplex64, kComplex64, kComplex128, kComplex64, kComplex128},
      {kComplex128, kComplex128, kComplex128, kComplex128, kComplex128, kComplex128, kComplex128, kComplex128, kComplex128, kComplex128}};
  for (int i = 0; i < 10; ++i) {
    for (int j = 0; j < 10; ++j) {
      CAPTURE(kDTypes[i]);
      CAPTURE(kDTypes[j]);
      CHECK(promote_types(kDTypes[i], kDTypes[j]) == expected[i][j]);
    }
  }
}

TEST_CASE("integer dtypes: wrapping arithmetic, promotion with scalars and 0-d tensors") {
  test::on_cpu_backends([] {
    // u8 = torch.tensor([200, 3, 0], dtype=uint8)
    Tensor u8 = tensor(std::vector<std::uint8_t>{200, 3, 0});
    CHECK(u8.dtype() == kUInt8);
    // (u8 + torch.tensor([100, 255, 1], dtype=uint8)).tolist() == [44, 2, 1]
    CHECK(ints<std::uint8_t>(u8 + tensor(std::vector<std::uint8_t>{100, 255, 1})) == I{44, 2, 1});
    // (u8 * 3).tolist() == [88, 9, 0]; (u8 + 100).dtype == torch.uint8
    CHECK(ints<std::uint8_t>(u8 * 3) == I{88, 9, 0});
    CHECK((u8 + 100).dtype() == kUInt8);
    // i8 = torch.tensor([-128, 127, 5], dtype=int8): -i8 == [-128, -127, -5],
    // i8.abs() == [-128, 127, 5], i8 + torch.tensor(1000) == [104, 103, -19] (int8)
    Tensor i8 = tensor(std::vector<std::int8_t>{-128, 127, 5});
    CHECK(ints<std::int8_t>(-i8) == I{-128, -127, -5});
    CHECK(ints<std::int8_t>(abs(i8)) == I{-128, 127, 5});
    Tensor shifted = i8 + scalar_tensor(1000);
    CHECK(shifted.dtype() == kInt8);
    CHECK(ints<std::int8_t>(shifted) == I{104, 103, -19});
    // (u8 + i8).dtype == torch.int16, values [72, 130, 5]
    Tensor mixed = u8 + i8;
    CHECK(mixed.dtype() == kInt16);
    CHECK(ints<std::int16_t>(mixed) == I{72, 130, 5});
    // i32 = torch.tensor([2147483647, -5, 7], dtype=int32): i32 + 1 == [-2147483648, -4, 8],
    // i32 * i32 == [1, 25, 49], i32.sum() is int64 2147483649
    Tensor i32 = tensor(std::vector<int>{2147483647, -5, 7}, TensorOptions(kInt32));
    CHECK(ints<std::int32_t>(i32 + 1) == I{-2147483648LL, -4, 8});
    CHECK(ints<std::int32_t>(i32 * i32) == I{1, 25, 49});
    CHECK(i32.sum().dtype() == kInt64);
    CHECK(i32.sum().item<std::int64_t>() == 2147483649LL);
    // (i32 + 2.5).dtype == torch.float32; u8 / 2 == [100., 1.5, 0.] (float32)
    CHECK((i32 + 2.5).dtype() == kFloat32);
    Tensor half = u8 / 2;
    CHECK(half.dtype() == kFloat32);
    test::check_values(half, {100.0, 1.5, 0.0});
    // torch.tensor([3, -4, 5], dtype=torch.int16) ** torch.tensor([3, 2, -1], dtype=torch.int16)
    // == [27, 16, 0]
    Tensor p = pow(tensor(std::vector<std::int16_t>{3, -4, 5}), tensor(std::vector<std::int16_t>{3, 2, -1}));
    CHECK(p.dtype() == kInt16);
    CHECK(ints<std::int16_t>(p) == I{27, 16, 0});
    // torch.tensor([True, False]) + torch.tensor([3], dtype=uint8) == [4, 3] (uint8)
    Tensor b = tensor({true, false}) + tensor(std::vector<std::uint8_t>{3});
    CHECK(b.dtype() == kUInt8);
    CHECK(ints<std::uint8_t>(b) == I{4, 3});
    // torch.tensor([250], dtype=uint8).max() == 250; int16 max keeps int16
    CHECK(tensor(std::vector<std::uint8_t>{250}).max().item<std::int64_t>() == 250);
    CHECK(tensor(std::vector<std::int16_t>{1, 2}).max().dtype() == kInt16);
  });
}

TEST_CASE("integer dtypes: casts follow PyTorch (truncation, wrapping, out of range)") {
  test::on_cpu_backends([] {
    // torch.tensor([300.7, -1.5, -300.2]).to(torch.uint8).tolist() == [44, 255, 212]
    CHECK(ints<std::uint8_t>(tensor({300.7f, -1.5f, -300.2f}).to(kUInt8)) == I{44, 255, 212});
    // x = torch.tensor([300.5, -1., 1e10, nan, -129., 3e9, -3e9, inf], dtype=torch.float64)
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    Tensor x = tensor({300.5, -1.0, 1e10, nan, -129.0, 3e9, -3e9, inf});
    CHECK(ints<std::uint8_t>(x.to(kUInt8)) == I{44, 255, 0, 0, 127, 0, 0, 0});
    CHECK(ints<std::int8_t>(x.to(kInt8)) == I{44, -1, 0, 0, 127, 0, 0, 0});
    CHECK(ints<std::int16_t>(x.to(kInt16)) == I{300, -1, 0, 0, -129, 0, 0, 0});
    const std::int64_t m32 = -2147483648LL;
    CHECK(ints<std::int32_t>(x.to(kInt32)) == I{300, -1, m32, m32, -129, m32, m32, m32});
    const std::int64_t m64 = std::numeric_limits<std::int64_t>::min();
    CHECK(ints<std::int64_t>(x.to(kInt64)) == I{300, -1, 10000000000LL, m64, -129, 3000000000LL, -3000000000LL, m64});
    // torch.tensor([-128, 127, 5], dtype=torch.int8).to(torch.float32) == [-128., 127., 5.]
    test::check_values(tensor(std::vector<std::int8_t>{-128, 127, 5}).to(kFloat32), {-128, 127, 5});
  });
}

TEST_CASE("integer dtypes: printing and names") {
  // str(torch.tensor([1, 2], dtype=torch.uint8)) etc.; reel prints dtype=uint8 for dtype=torch.uint8.
  CHECK(tensor(std::vector<std::uint8_t>{1, 2}).str() == "tensor([1, 2], dtype=uint8)");
  CHECK(tensor({{1, -2}, {3, 4}}, TensorOptions(kInt8)).str() ==
        "tensor([[ 1, -2],\n        [ 3,  4]], dtype=int8)");
  CHECK(tensor({70000, -2}, TensorOptions(kInt32)).str() ==
        "tensor([70000,    -2], dtype=int32)");
  CHECK(element_size(kInt16) == 2);
  CHECK(dtype_name(kUInt8) == "uint8");
  CHECK(kByte == kUInt8);
  CHECK(kChar == kInt8);
  CHECK(kShort == kInt16);
  CHECK(kInt == kInt32);
}
