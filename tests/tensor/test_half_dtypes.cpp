// The 16-bit dtypes (float16, bfloat16, complex32): the conversions' bits on hand-worked cases,
// PyTorch's promotion table, one rounding per op with float32 accumulation, the float32 route
// of kernels without a 16-bit path, files, and autograd. PyTorch's own numbers for casts,
// elementwise ops and Conv1d are in test_low_precision.cpp and tests/nn (golden files).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using reel::test::on_cpu_backends;

namespace {

float f32(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::uint16_t half_bits_of(const Tensor& t) { return t.to_vector<Half>().at(0).bits(); }
std::uint16_t bf16_bits_of(const Tensor& t) { return t.to_vector<BFloat16>().at(0).bits(); }

}  // namespace

TEST_CASE("half dtypes: names, sizes, categories") {
  CHECK(element_size(kFloat16) == 2);
  CHECK(element_size(kBFloat16) == 2);
  CHECK(element_size(kComplex32) == 4);
  CHECK(dtype_name(kHalf) == "float16");
  CHECK(dtype_name(kBFloat16) == "bfloat16");
  CHECK(dtype_name(kComplexHalf) == "complex32");
  CHECK(is_floating(kFloat16));
  CHECK(is_floating(kBFloat16));
  CHECK(is_complex(kComplex32));
  CHECK(to_real(kComplex32) == kFloat16);
  CHECK(to_complex(kFloat16) == kComplex32);
  CHECK(to_complex(kBFloat16) == kComplex64);  // PyTorch has no complex bfloat16
}

TEST_CASE("half dtypes: float32 -> float16 rounds to nearest even, worked bit by bit") {
  struct Case {
    float in;
    std::uint16_t want;
  };
  const float inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      {1.0f, 0x3C00},
      {-2.0f, 0xC000},
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {65504.0f, 0x7BFF},                   // the largest float16
      {65519.996f, 0x7BFF},                 // below the halfway point to 65536
      {65520.0f, 0x7C00},                   // halfway, ties to even: the "even" neighbour is inf
      {1e6f, 0x7C00},
      {-inf, 0xFC00},
      {std::ldexp(1.0f, -24), 0x0001},      // the smallest subnormal
      {std::ldexp(1.0f, -25), 0x0000},      // half of it: a tie, to the even 0
      {std::ldexp(1.5f, -24), 0x0002},      // 1.5 units: tie, to even 2
      {std::ldexp(2.5f, -24), 0x0002},      // 2.5 units: tie, to even 2
      {std::ldexp(3.5f, -24), 0x0004},      // 3.5 units: tie, to even 4
      {std::ldexp(1.0f, -14), 0x0400},      // the smallest normal
      {std::ldexp(1023.5f, -24), 0x0400},   // largest subnormal + half a unit: tie, carries up
      {1.0f + std::ldexp(1.0f, -11), 0x3C00},      // tie between 1 and 1 + 2^-10: to even 1
      {1.0f + std::ldexp(3.0f, -11), 0x3C02},      // tie between 1 + 2^-10 and 1 + 2^-9: up
      {1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20), 0x3C01},  // just above the tie
      {0.1f, 0x2E66},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(float_to_half_bits(c.in) == c.want);
    CHECK(half_bits_of(tensor(std::vector<float>{c.in}).to(kFloat16)) == c.want);
  }
  // NaN: float16's quiet NaN with the sign kept (c10's conversion).
  CHECK(float_to_half_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7E00);
  CHECK(float_to_half_bits(f32(0xFF800001u)) == 0xFE00);
}

TEST_CASE("half dtypes: float16 -> float32 is exact for every one of the 65536 patterns") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = half_bits_to_float(static_cast<std::uint16_t>(h));
    const std::uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 31) {
      if (mant == 0) CHECK(f == static_cast<float>(sign * INFINITY));
      else CHECK(std::isnan(f));
      continue;
    }
    // The textbook value: (-1)^s 2^(e-15) (1 + m/1024), or 2^-14 (m/1024) for subnormals.
    const double want = exp == 0 ? sign * std::ldexp(mant, -24)
                                 : sign * std::ldexp(1024.0 + mant, static_cast<int>(exp) - 25);
    if (static_cast<double>(f) != want) FAIL_CHECK("pattern " << h << ": " << f << " != " << want);
    if (static_cast<double>(f) == want && float_to_half_bits(f) != h)
      FAIL_CHECK("pattern " << h << " does not survive the round trip");
  }
}

TEST_CASE("half dtypes: float32 -> bfloat16 rounds to nearest even") {
  CHECK(float_to_bf16_bits(1.0f) == 0x3F80);
  CHECK(float_to_bf16_bits(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);  // tie: to even
  CHECK(float_to_bf16_bits(1.0f + std::ldexp(3.0f, -8)) == 0x3F82);  // tie: up to even
  CHECK(float_to_bf16_bits(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3F81);
  CHECK(float_to_bf16_bits(f32(0x7F7FFFFFu)) == 0x7F80);  // the largest float rounds to inf
  CHECK(float_to_bf16_bits(-0.0f) == 0x8000);
  CHECK(float_to_bf16_bits(f32(0x00000001u)) == 0x0000);  // the smallest float32 subnormal
  CHECK(float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN()) == 0x7FC0);
  CHECK(float_to_bf16_bits(f32(0xFFC00001u)) == 0x7FC0);  // c10's canonical NaN
  CHECK(bf16_bits_to_float(0x4049) == 3.140625f);
  // float64 goes through float32, as c10's constructors do: 1 + 2^-8 + 2^-30 rounds to
  // 1 + 2^-8 in float32 (a tie in bfloat16), then to even 1, although the double is above the tie.
  const double x = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  CHECK(bf16_bits_of(tensor(std::vector<double>{x}).to(kBFloat16)) == 0x3F80);
}

TEST_CASE("half dtypes: casts to and from integers, bool and complex follow the float32 rules") {
  Tensor h = tensor(std::vector<float>{-3.75f, 2.5f, 0.0f, 65504.0f}).to(kFloat16);
  CHECK(h.to(kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{-3, 2, 0, 65504});
  CHECK(h.to(kBool).to_vector<bool>() == std::vector<bool>{true, true, false, true});
  // int64 -> float16 goes through float32: 2049 is a tie between 2048 and 2050 -> 2048.
  Tensor i = tensor(std::vector<std::int64_t>{2049, 2051, 70000});
  CHECK(i.to(kFloat16).to(kFloat32).to_vector<float>() ==
        std::vector<float>{2048.0f, 2052.0f, INFINITY});
  Tensor c = tensor(std::vector<complex64>{{1.5f, -0.1f}}).to(kComplex32);
  CHECK(c.dtype() == kComplex32);
  const ComplexHalf z = c.to_vector<ComplexHalf>().at(0);
  CHECK(z.real().bits() == 0x3E00);
  CHECK(z.imag().bits() == 0xAE66);
  CHECK(c.to(kComplex64).to_vector<complex64>().at(0) == complex64(1.5f, half_bits_to_float(0xAE66)));
  CHECK(c.to(kFloat16).to_vector<Half>().at(0).bits() == 0x3E00);  // the real part
  // bfloat16 <-> float16: through float32, each rounding once.
  Tensor b = tensor(std::vector<float>{1.0f / 3.0f}).to(kBFloat16);
  CHECK(bf16_bits_of(b) == 0x3EAB);
  CHECK(half_bits_of(b.to(kFloat16)) == float_to_half_bits(bf16_bits_to_float(0x3EAB)));
}

TEST_CASE("half dtypes: PyTorch's promotion") {
  CHECK(promote_types(kFloat16, kBFloat16) == kFloat32);
  CHECK(promote_types(kFloat16, kFloat32) == kFloat32);
  CHECK(promote_types(kBFloat16, kFloat64) == kFloat64);
  CHECK(promote_types(kFloat16, kInt64) == kFloat16);
  CHECK(promote_types(kUInt8, kBFloat16) == kBFloat16);
  CHECK(promote_types(kBool, kFloat16) == kFloat16);
  CHECK(promote_types(kComplex32, kFloat16) == kComplex32);
  CHECK(promote_types(kComplex32, kBFloat16) == kComplex64);
  CHECK(promote_types(kComplex32, kFloat32) == kComplex64);
  CHECK(promote_types(kComplex32, kFloat64) == kComplex128);
  CHECK(promote_types(kComplex32, kInt8) == kComplex32);
  CHECK(promote_types(kComplex32, kComplex64) == kComplex64);
  CHECK(promote_types(kBFloat16, kComplex64) == kComplex64);
  // Tensors: a float16 tensor with a python float stays float16; with a float32 tensor, float32.
  Tensor h = ones({2}, kFloat16);
  CHECK((h + 2.5).dtype() == kFloat16);
  CHECK((h * ones({2}, kFloat32)).dtype() == kFloat32);
  CHECK((h + ones({2}, kBFloat16)).dtype() == kFloat32);
  CHECK((ones({2}, kInt32) + h).dtype() == kFloat16);
}

TEST_CASE("half dtypes: elementwise ops compute in float32 and round once") {
  on_cpu_backends([] {
    // exp(1) = 2.71828... -> bfloat16 2.71875 (0x402E); float16 2.71875 (0x4170).
    CHECK(bf16_bits_of(ones({1}, kBFloat16).exp()) == 0x402E);
    CHECK(half_bits_of(ones({1}, kFloat16).exp()) == 0x4170);
    // 1/3 + 1/3 in bfloat16: 0x3EAB (0.333984375) doubled is exact: 0x3F2B.
    Tensor t = tensor(std::vector<float>{1.0f / 3.0f}).to(kBFloat16);
    CHECK(bf16_bits_of(t + t) == 0x3F2B);
    // A comparison gives bool; relu keeps the dtype.
    CHECK((t > 0.3).dtype() == kBool);
    CHECK((t > 0.3).to_vector<bool>() == std::vector<bool>{true});
    CHECK(t.relu().dtype() == kBFloat16);
  });
}

TEST_CASE("half dtypes: reductions accumulate in float32 and round once") {
  on_cpu_backends([] {
    // 3000 ones: a bfloat16 accumulator would stop at 256 (256 + 1 rounds back to 256); float32
    // accumulation gives 3000, which rounds once to bfloat16's 3008 (8 significant bits, a tie
    // between 3000 - 8 and 3008: to even).
    Tensor s = ones({3000}, kBFloat16).sum();
    CHECK(s.dtype() == kBFloat16);
    CHECK(bf16_bits_of(s.reshape({1})) == float_to_bf16_bits(3008.0f));
    CHECK(static_cast<float>(ones({3000}, kFloat16).sum().reshape({1}).to_vector<Half>()[0]) ==
          3000.0f);
    // max and argmax, through the float32 route.
    Tensor v = tensor(std::vector<float>{0.5f, 3.0f, -1.0f}).to(kFloat16);
    CHECK(static_cast<float>(v.max().reshape({1}).to_vector<Half>()[0]) == 3.0f);
    CHECK(v.argmax().item<std::int64_t>() == 1);
  });
}

TEST_CASE("half dtypes: kernels without a 16-bit path run on float32 copies, rounding once") {
  on_cpu_backends([] {
    // matmul of bfloat16-exact values whose float32 result needs rounding: each row of a is
    // [1, 2^-8, 2^-8], b is ones: 1 + 2^-7 exactly in float32 -> bfloat16 1 + 2^-7 (0x3F81).
    Tensor a = tensor(std::vector<float>{1.0f, 0.00390625f, 0.00390625f}, Shape{1, 3}, kFloat32)
                   .to(kBFloat16);
    Tensor b = ones({3, 1}, kBFloat16);
    Tensor c = a.matmul(b);
    CHECK(c.dtype() == kBFloat16);
    CHECK(bf16_bits_of(c.reshape({1})) == 0x3F81);
    // conv1d: the same sum as a 3-tap kernel.
    Tensor x = a.reshape({1, 1, 3});
    Tensor w = ones({1, 1, 3}, kBFloat16);
    Tensor y = nn::functional::conv1d(x, w);
    CHECK(y.dtype() == kBFloat16);
    CHECK(bf16_bits_of(y.reshape({1})) == 0x3F81);
    // softmax of two equal logits: exactly one half.
    Tensor p = zeros({2}, kFloat16).softmax(0);
    CHECK(p.dtype() == kFloat16);
    CHECK(p.to(kFloat32).to_vector<float>() == std::vector<float>{0.5f, 0.5f});
  });
}

TEST_CASE("half dtypes: autograd keeps the dtype") {
  Tensor x = tensor(std::vector<float>{1.5f, -2.0f}).to(kBFloat16).requires_grad_();
  Tensor y = (x * x).sum();
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == kBFloat16);
  CHECK(x.grad().to(kFloat32).to_vector<float>() == std::vector<float>{3.0f, -4.0f});
}

TEST_CASE("half dtypes: printing names the dtype (as for float64: PyTorch's format without torch.)") {
  Tensor h = tensor(std::vector<float>{1.5f, -2.0f}).to(kFloat16);
  CHECK(h.str() == "tensor([ 1.5000, -2.0000], dtype=float16)");
  Tensor b = tensor(std::vector<float>{1.0f, 3.0f}).to(kBFloat16);
  CHECK(b.str() == "tensor([1., 3.], dtype=bfloat16)");
}

TEST_CASE("half dtypes: .npy holds float16; bfloat16 and complex32 say to cast") {
  Tensor h = tensor(std::vector<float>{1.5f, -0.1f, 65504.0f}).to(kFloat16);
  Tensor back = load_npy_bytes(save_npy_bytes(h));
  CHECK(back.dtype() == kFloat16);
  CHECK(back.to_vector<Half>()[1].bits() == 0xAE66);  // -0.1 in float16
  const std::vector<std::byte> bytes = save_npy_bytes(h);
  const std::string header(reinterpret_cast<const char*>(bytes.data()), 60);
  CHECK(header.find("'descr': '<f2'") != std::string::npos);
  for (DType t : {kBFloat16, kComplex32}) {
    CAPTURE(t);
    try {
      save_npy_bytes(zeros({2}, t));
      FAIL("expected an error");
    } catch (const Error& e) {
      const std::string what = e.what();
      CHECK(what.find("save_npy") != std::string::npos);
      CHECK(what.find("cast") != std::string::npos);
    }
  }
}
