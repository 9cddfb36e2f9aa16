// .npy I/O: round trips, files written by NumPy (tests/tensor/data/make_npy_fixtures.py),
// hand-built headers, and malformed input, which must raise reel::Error and never crash.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>

#include "reel.hpp"

using namespace reel;
using namespace std::string_literals;

namespace {

std::string fixture(const std::string& name) {
  return std::string(REEL_TEST_DATA_DIR) + "/tensor/data/npy/" + name;
}

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path();
  return (dir / fmt::format("reel_test_npy_{}_{}", ::getpid(), name)).string();
}

std::vector<std::byte> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.is_open());
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A .npy image: the preamble for `major` (1: uint16 length, 2 and 3: uint32), the header text
// exactly as given (no padding added), then the data bytes.
std::vector<std::byte> npy(const std::string& header, const std::string& data, int major = 1) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  std::size_t n = header.size();
  s += static_cast<char>(n & 0xff);
  s += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    s += static_cast<char>((n >> 16) & 0xff);
    s += static_cast<char>((n >> 24) & 0xff);
  }
  s += header + data;
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

Tensor load(const std::vector<std::byte>& bytes) { return load_npy_bytes(bytes); }

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}\n", descr,
                     fortran ? "True" : "False", shape);
}

// Loads must either succeed or throw reel::Error; anything else fails the test.
void loads_or_throws_reel_error(const std::vector<std::byte>& bytes) {
  try {
    (void)load_npy_bytes(bytes);
  } catch (const Error&) {
  }
}

}  // namespace

TEST_CASE("npy: round trip of every dtype and several shapes, in memory and through a file") {
  std::vector<Tensor> tensors = {
      tensor(std::vector<float>{1.5f, -2.f, 0.25f, 8.f, 1e-3f, -0.f}, Shape{2, 3}, kFloat32),
      tensor(std::vector<double>{0.1, 1e300, -7.5}, Shape{3}, kFloat64),
      tensor(std::vector<std::int64_t>{1, -2, std::int64_t{1} << 50, 4}, Shape{2, 2}, kInt64),
      tensor(std::vector<bool>{true, false, true}, Shape{3}, kBool),
      tensor(std::vector<complex64>{{1, 2}, {-3, 0.5f}}, Shape{2}, kComplex64),
      tensor(std::vector<complex128>{{0.1, -0.2}}, Shape{1, 1}, kComplex128),
      tensor(std::vector<float>{3.5f}, Shape{}, kFloat32),              // 0-dim
      zeros({0, 3}, kFloat64),                                          // empty
      zeros({4, 0, 2}, kInt64),                                         // empty 3-d
      arange(0, 24, 1, TensorOptions(kFloat32)).reshape({2, 3, 4}),     // 3-d
      tensor(std::vector<std::uint8_t>{0, 128, 255}),                   // |u1
      tensor(std::vector<std::int8_t>{-128, 0, 127}),                   // |i1
      tensor(std::vector<std::int16_t>{-32768, 7, 32767}, Shape{3, 1}, kInt16),
      tensor(std::vector<int>{-2147483647 - 1, 2147483647}, Shape{2}, kInt32),
      tensor(std::vector<float>{1.5f, -0.1f, 65504.f, 6e-8f}, Shape{2, 2}, kFloat32).to(kFloat16),  // <f2
  };
  for (const Tensor& t : tensors) {
    CAPTURE(t.str());
    std::string path = temp_path("roundtrip.npy");
    save_npy(path, t);
    for (const Tensor& back : {load_npy_bytes(save_npy_bytes(t)), load_npy(path)}) {
      CHECK(back.dtype() == t.dtype());
      CHECK(back.sizes() == t.sizes());
      if (t.numel() > 0) CHECK(back.is_contiguous());  // dims.hpp: empty shapes aren't, yet
      CHECK(back.device().is_cpu());
      visit_dtype(t.dtype(), [&]<typename T>() { CHECK(back.to_vector<T>() == t.to_vector<T>()); });
    }
    std::filesystem::remove(path);
  }
}

TEST_CASE("npy: non-contiguous tensors are saved in logical (C) order") {
  Tensor base = tensor({{1., 2., 3.}, {4., 5., 6.}});
  Tensor back = load_npy_bytes(save_npy_bytes(base.t()));
  CHECK(back.sizes() == Shape{3, 2});
  CHECK(back.to_vector<double>() == std::vector<double>{1, 4, 2, 5, 3, 6});
  Tensor sliced = load_npy_bytes(save_npy_bytes(base.slice(1, 0, 3, 2)));
  CHECK(sliced.to_vector<double>() == std::vector<double>{1, 3, 4, 6});
}

TEST_CASE("npy: save writes exactly what np.save writes") {
  // Same values as make_npy_fixtures.py; the files were written by NumPy 1.24.
  struct Case { std::string file; Tensor t; };
  std::vector<Case> cases = {
      {"float32_2x3.npy",
       tensor(std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}, Shape{2, 3}, kFloat32)},
      {"float64_3.npy", tensor({0.5, -1.25, 1e300})},
      {"int64_2x2.npy",
       tensor(std::vector<std::int64_t>{1, -2, 3, std::int64_t{1} << 40}, Shape{2, 2}, kInt64)},
      {"bool_4.npy", tensor({true, false, false, true})},
      {"complex64_2.npy", tensor({complex64(1, 2), complex64(-0.5f, -4)})},
      {"complex128_2.npy", tensor({complex128(3, -1), complex128(0.25, 0.5)})},
      {"float32_0d.npy", tensor(std::vector<float>{3.5f}, Shape{}, kFloat32)},
      {"float32_0x3.npy", zeros({0, 3})},
  };
  for (const auto& c : cases) {
    CAPTURE(c.file);
    std::vector<std::byte> expected = read_file(fixture(c.file));
    CHECK(save_npy_bytes(c.t) == expected);
    std::string path = temp_path(c.file);
    save_npy(path, c.t);
    CHECK(read_file(path) == expected);
    std::filesystem::remove(path);
    // And loading NumPy's file gives the values back.
    Tensor back = load_npy(fixture(c.file));
    CHECK(back.dtype() == c.t.dtype());
    CHECK(back.sizes() == c.t.sizes());
    visit_dtype(c.t.dtype(),
                [&]<typename T>() { CHECK(back.to_vector<T>() == c.t.to_vector<T>()); });
  }
}

TEST_CASE("npy: NumPy files in other layouts, byte orders, versions and integer widths") {
  Tensor be = load_npy(fixture("float64_be_3.npy"));
  CHECK(be.dtype() == kFloat64);
  CHECK(be.to_vector<double>() == std::vector<double>{0.5, -1.25, 1e300});

  Tensor cbe = load_npy(fixture("complex64_be_2.npy"));
  CHECK(cbe.to_vector<complex64>() == std::vector<complex64>{{1, 2}, {-0.5f, -4}});

  Tensor f = load_npy(fixture("int64_fortran_2x3.npy"));
  CHECK(f.sizes() == Shape{2, 3});
  CHECK(f.is_contiguous());
  CHECK(f.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5});

  Tensor f3 = load_npy(fixture("float32_fortran_2x3x2.npy"));
  CHECK(f3.sizes() == Shape{2, 3, 2});
  std::vector<float> iota(12);
  for (int i = 0; i < 12; ++i) iota[i] = static_cast<float>(i);
  CHECK(f3.to_vector<float>() == iota);

  Tensor i3 = load_npy(fixture("int64_2x3x4.npy"));
  CHECK(i3.sizes() == Shape{2, 3, 4});
  CHECK(i3.to_vector<std::int64_t>()[23] == 23);

  // Integer files keep their dtype where reel has it (int8/16/32/64, uint8), as torch.from_numpy;
  // the unsigned types reel lacks widen to int64, refusing values that don't fit.
  Tensor i32 = load_npy(fixture("int32_3.npy"));
  CHECK(i32.dtype() == kInt32);
  CHECK(i32.to_vector<std::int32_t>() == std::vector<std::int32_t>{-7, 0, 2147483647});
  Tensor i16 = load_npy(fixture("int16_be_3.npy"));
  CHECK(i16.dtype() == kInt16);
  CHECK(i16.to_vector<std::int64_t>() == std::vector<std::int64_t>{-300, 1, 32767});
  Tensor u8 = load_npy(fixture("uint8_3.npy"));
  CHECK(u8.dtype() == kUInt8);
  CHECK(u8.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 128, 255});
  Tensor u64 = load_npy(fixture("uint64_2.npy"));
  CHECK(u64.dtype() == kInt64);
  CHECK(u64.to_vector<std::int64_t>() == std::vector<std::int64_t>{5, INT64_MAX});

  for (const char* name : {"float32_v2_2.npy", "float32_v3_2.npy"}) {
    CAPTURE(name);
    Tensor v = load_npy(fixture(name));
    CHECK(v.dtype() == kFloat32);
    CHECK(v.to_vector<float>() == std::vector<float>{1.5f, -2.f});
  }
}

TEST_CASE("npy: hand-built headers") {
  SUBCASE("big-endian float64") {
    std::string data = "\x3f\xf8\0\0\0\0\0\0\xc0\0\0\0\0\0\0\0"s;  // 1.5, -2.0
    Tensor t = load(npy(dict(">f8", "(2,)"), data));
    CHECK(t.to_vector<double>() == std::vector<double>{1.5, -2.0});
  }
  SUBCASE("Fortran order 2x3") {
    // Column-major storage of [[1, 2, 3], [4, 5, 6]].
    std::vector<std::int64_t> column_major{1, 4, 2, 5, 3, 6};
    Tensor t = load(npy(dict("<i8", "(2, 3)", true), raw(column_major)));
    CHECK(t.sizes() == Shape{2, 3});
    CHECK(t.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  }
  SUBCASE("version 2.0 and 3.0 preambles") {
    for (int major : {2, 3}) {
      Tensor t = load(npy(dict("<f4", "(1,)"), raw(std::vector<float>{2.5f}), major));
      CHECK(t.to_vector<float>() == std::vector<float>{2.5f});
    }
  }
  SUBCASE("liberties the dict literal allows") {
    std::string data = raw(std::vector<float>{1, 2, 3});
    // Keys in another order, double quotes, no trailing comma, no padding, extra whitespace.
    Tensor t = load(npy("{\"shape\":(3,),\"fortran_order\":False,\"descr\":\"<f4\"}", data));
    CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
    t = load(npy("  { 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 3 , ) , }  \n", data));
    CHECK(t.sizes() == Shape{3});
    // Python 2 longs and a trailing comma in a 2-d shape.
    t = load(npy(dict("<f4", "(1L, 3L,)"), data));
    CHECK(t.sizes() == Shape{1, 3});
  }
  SUBCASE("0-dim, empty, and the other bool spellings") {
    Tensor s = load(npy(dict("<f8", "()"), raw(std::vector<double>{4.25})));
    CHECK(s.dim() == 0);
    CHECK(s.item<double>() == 4.25);
    Tensor e = load(npy(dict("<f4", "(0, 5)"), ""));
    CHECK(e.sizes() == Shape{0, 5});
    // NumPy reads any nonzero byte as True; reel stores it as a proper 1.
    Tensor b = load(npy(dict("?", "(3,)"), "\x01\x00\x02"s));
    CHECK(b.to_vector<bool>() == std::vector<bool>{true, false, true});
    CHECK(static_cast<const unsigned char*>(b.raw_data())[2] == 1);
    CHECK(load(npy(dict("|b1", "(1,)"), "\x01"s)).to_vector<bool>() == std::vector<bool>{true});
  }
}

namespace {
void check_error(const std::vector<std::byte>& bytes, const std::string& fragment) {
  CAPTURE(fragment);
  try {
    (void)load_npy_bytes(bytes);
    FAIL("expected reel::Error containing: " << fragment);
  } catch (const Error& e) {
    std::string what = e.what();
    CAPTURE(what);
    CHECK(what.find(fragment) != std::string::npos);
    CHECK(what.find("load_npy_bytes: buffer '<memory>'") == 0);
  }
}

std::vector<std::byte> prefix(const std::vector<std::byte>& bytes, std::size_t n) {
  return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)};
}
}  // namespace

TEST_CASE("npy: malformed preambles") {
  std::string f4 = raw(std::vector<float>{1});
  auto good = npy(dict("<f4", "(1,)"), f4);
  check_error({}, "is too short to be a .npy file (0 bytes)");
  check_error(prefix(good, 9), "is too short to be a .npy file (9 bytes)");
  auto bad_magic = good;
  bad_magic[1] = std::byte{'X'};
  check_error(bad_magic, "is not a .npy file");
  auto v4 = good;
  v4[6] = std::byte{4};
  check_error(v4, "has .npy format version 4.0");
  auto v11 = good;
  v11[7] = std::byte{1};
  check_error(v11, "has .npy format version 1.1");
  check_error(prefix(npy(dict("<f4", "(1,)"), f4, 2), 11), "the header length field is incomplete");
  // Header length beyond the end of the file, and an absurd one.
  check_error(prefix(good, 30), "is truncated: the header needs 58 bytes but only 20 follow");
  auto huge = npy("", "", 2);
  for (int i = 8; i < 12; ++i) huge[i] = std::byte{0xff};
  check_error(huge, "declares a header of 4294967295 bytes");
}

TEST_CASE("npy: data that disagrees with the header") {
  // Truncated data: the exact message.
  check_error(npy(dict("<f8", "(3,)"), raw(std::vector<double>{1, 2}) + "\1\2\3\4"),
              "is truncated: expected 24 bytes of data, found 20");
  // Trailing bytes: strict (they mean the shape or the dtype in the header is wrong).
  check_error(npy(dict("<f4", "(2,)"), raw(std::vector<float>{1, 2, 3})),
              "has 4 unexpected trailing bytes: expected 8 bytes of data, found 12");
  // A descr that lies about the element size reads as a size mismatch.
  check_error(npy(dict("<c16", "(2,)"), raw(std::vector<double>{1, 2})),
              "expected 32 bytes of data, found 16");
  // Shapes whose size overflows, with and without a zero dim.
  check_error(npy(dict("<f4", "(4611686018427387904, 4)"), ""), "is too large");
  check_error(npy(dict("<f8", "(9223372036854775807,)"), ""), "is too large");
  check_error(npy(dict("<f4", "(4294967296, 4294967296, 0)"), ""), "is too large");
  check_error(npy(dict("<f4", "(99999999999999999999,)"), ""), "a dimension does not fit in int64");
  check_error(npy(dict("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), raw(std::vector<float>{1})),
              "more than 8 dimensions");
  // uint64 values that int64 cannot hold.
  check_error(npy(dict("<u8", "(1,)"), raw(std::vector<std::uint64_t>{std::uint64_t{1} << 63})),
              "does not fit in int64");
}

TEST_CASE("npy: unsupported dtypes") {
  for (const char* descr : {"|O", "<U4", "|S3", "<M8[s]", "x", "", "<", "<f", "<f4x", "<f16",
                            "<i3", "<c4", "|V8", "b2"}) {
    CAPTURE(descr);
    check_error(npy(dict(descr, "(1,)"), "12345678"), "unsupported dtype descr");
  }
  check_error(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "1234"),
              "structured dtypes are not supported");
}

TEST_CASE("npy: garbage in the header dict") {
  std::string d4 = raw(std::vector<float>{1});
  struct Case { std::string header, fragment; };
  std::vector<Case> cases = {
      {"", "expected '{' but the header ended"},
      {"   \n", "expected '{' but the header ended"},
      {"[1, 2]", "expected '{'"},
      {"{", "expected a quoted string"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected '}' but the header ended"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", "unexpected text after the closing '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\0"s, "unexpected text after the closing '}'"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'shape': (1,), 'fortran_order': False}", "missing key 'descr'"},
      {"{}", "missing key 'descr'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "duplicate key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"},
      {"{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "unsupported dtype descr '<f4, '"},
      {"{'descr': '<f4", "unterminated string"},
      {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", "unsupported character in a string"},
      {"{descr: '<f4', 'fortran_order': False, 'shape': (1,)}", "expected a quoted string"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': true, 'shape': (1,)}", "'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': 1}", "expected '('"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "expected '('"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,)}", "expected ')'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", "expected a dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}", "expected a dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", "expected ')'"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected '}'"},
      {"{'descr': 3}", "expected a quoted string"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.header);
    check_error(npy(c.header, d4), c.fragment);
  }
  // The message quotes the header with unprintable bytes escaped.
  try {
    (void)load_npy_bytes(npy("{\x01}", d4));
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("\"{\\x01}\"") != std::string::npos);
  }
}

TEST_CASE("npy: every truncation and every corrupted byte is an error or a valid load") {
  auto good = save_npy_bytes(tensor({{1.f, 2.f}, {3.f, 4.f}}));
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK_THROWS_AS((void)load_npy_bytes(prefix(good, n)), Error);
  }
  std::size_t header_end = good.size() - 16;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (unsigned char v : {0x00, 0x01, 0x20, 0x27, 0x28, 0x29, 0x2c, 0x39, 0x7f, 0x80, 0xff}) {
      auto corrupt = good;
      corrupt[i] = std::byte{v};
      CAPTURE(i);
      CAPTURE(static_cast<int>(v));
      if (i < header_end) loads_or_throws_reel_error(corrupt);
      else CHECK_NOTHROW((void)load_npy_bytes(corrupt));  // data bytes: any value is a float
    }
  }
}

TEST_CASE("npy: file errors name the file") {
  std::string missing = temp_path("does_not_exist.npy");
  std::filesystem::remove(missing);
  try {
    (void)load_npy(missing);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("load_npy: cannot open file '" + missing + "'") == 0);
  }

  // A truncated file: the exact message the user sees.
  std::string path = temp_path("truncated.npy");
  auto bytes = save_npy_bytes(tensor({1., 2., 3.}));
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size() - 4));
  }
  try {
    (void)load_npy(path);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) ==
          "load_npy: file '" + path + "' is truncated: expected 24 bytes of data, found 20");
  }
  std::filesystem::remove(path);

  std::string unwritable = temp_path("no_such_dir") + "/x.npy";
  std::string message = "save_npy: cannot open file '" + unwritable + "'";
  CHECK_THROWS_WITH_AS(save_npy(unwritable, tensor({1.f})), doctest::Contains(message.c_str()),
                       Error);
}
