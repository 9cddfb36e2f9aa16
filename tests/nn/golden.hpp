#pragma once
// Helpers the golden-value suites in tests/nn share (PyTorch's numbers in tests/nn/golden/<topic>/,
// made by the make_<topic>_golden.py scripts): where the files are, reading an index, cutting a
// flat .npy into tensors, comparing within a tolerance, and collecting failures into one report.
#include <doctest/doctest.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "reel.hpp"

namespace reel::test::golden {

// tests/nn/golden/<topic>.
inline std::string dir(const std::string& topic) {
  return std::string(REEL_TEST_DATA_DIR) + "/nn/golden/" + topic;
}

// A dtype as the scripts name it (numpy's names); any other name raises.
inline DType parse_dtype(const std::string& s) {
  if (s == "float32") return kFloat32;
  if (s == "float64") return kFloat64;
  if (s == "complex64") return kComplex64;
  if (s == "complex128") return kComplex128;
  // the half dtypes (issue 9), under PyTorch's names
  if (s == "float16") return kFloat16;
  if (s == "bfloat16") return kBFloat16;
  if (s == "complex32") return kComplex32;
  fail("golden index: unknown dtype '{}'", s);
}

// The lines of an index file, blank lines and '#' comments left out. The file must open.
inline std::vector<std::string> index_lines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.is_open(), "cannot open " << path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

// Cuts consecutive tensors (views) out of a flat array, in the order the script wrote them.
struct FlatReader {
  Tensor flat;
  std::int64_t offset = 0;
  Tensor next(const Shape& shape) {
    REQUIRE_MESSAGE(offset + numel_of(shape) <= flat.numel(),
                    "golden file too short: " << flat.numel() << " values");
    Tensor part = flat.narrow(0, offset, numel_of(shape)).view(shape);
    offset += numel_of(shape);
    return part;
  }
  bool done() const { return offset == flat.numel(); }
};

// Empty when `got` matches `expected`: defined, same shape and dtype, and elementwise
// |got - e| <= atol + rtol * |e| (the modulus for complex), where an expected NaN must be NaN
// and an expected infinity must be hit exactly. Otherwise what differs and where.
inline std::string mismatch(const std::string& what, const Tensor& got, const Tensor& expected,
                            double rtol, double atol) {
  if (!got.defined()) return what + " is undefined";
  if (!(got.sizes() == expected.sizes()))
    return fmt::format("{} has shape {}, expected {}", what, got.sizes(), expected.sizes());
  if (got.dtype() != expected.dtype())
    return fmt::format("{} has dtype {}, expected {}", what, got.dtype(), expected.dtype());
  auto close = [&](auto g, auto e) {
    using std::isinf, std::isnan;
    if constexpr (std::is_same_v<decltype(e), double>) {
      if (isnan(e)) return isnan(g);
      if (isinf(e)) return g == e;
    } else {
      if (isnan(e.real()) || isnan(e.imag())) return isnan(g.real()) || isnan(g.imag());
      if (isinf(e.real()) || isinf(e.imag())) return g == e;
    }
    return std::abs(g - e) <= atol + rtol * std::abs(e);
  };
  if (is_complex(expected.dtype())) {
    auto g = got.cpu().to_vector<complex128>(), e = expected.cpu().to_vector<complex128>();
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (!close(g[i], e[i]))
        return fmt::format("{} differs at flat index {}: got ({}, {}), expected ({}, {})", what, i,
                           g[i].real(), g[i].imag(), e[i].real(), e[i].imag());
    }
  } else {
    auto g = got.cpu().to_vector<double>(), e = expected.cpu().to_vector<double>();
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (!close(g[i], e[i]))
        return fmt::format("{} differs at flat index {}: got {}, expected {}", what, i, g[i], e[i]);
    }
  }
  return {};
}

// --- half dtypes (issue 9): the scripts store float16/bfloat16 values as their 16-bit patterns in
// int16 .npy files (bit-exact, NaN payloads kept), which load_npy reads as int64.

// A float16 or bfloat16 CPU tensor of `shape` holding the low 16 bits of each value of `bits`.
inline Tensor from_bits16(const Tensor& bits, DType dtype, const Shape& shape) {
  const std::vector<std::int64_t> b = bits.contiguous().cpu().to(kInt64).to_vector<std::int64_t>();
  REQUIRE_MESSAGE(static_cast<std::int64_t>(b.size()) == numel_of(shape),
                  "from_bits16: " << b.size() << " patterns for shape " << fmt::format("{}", shape));
  Tensor t = empty(shape, TensorOptions(dtype));
  auto fill = [&](auto* p) {
    using T = std::remove_pointer_t<decltype(p)>;
    for (std::size_t i = 0; i < b.size(); ++i) p[i] = T::from_bits(static_cast<std::uint16_t>(b[i]));
  };
  if (dtype == kFloat16) fill(t.data_ptr<Half>());
  else if (dtype == kBFloat16) fill(t.data_ptr<BFloat16>());
  else fail("from_bits16: dtype {} is not a 16-bit float", dtype);
  return t;
}

// The 16-bit patterns of a float16 or bfloat16 tensor, in C order.
inline std::vector<std::uint16_t> bits16(const Tensor& t) {
  Tensor c = t.cpu().contiguous();
  std::vector<std::uint16_t> out;
  if (c.dtype() == kFloat16) {
    for (Half h : c.to_vector<Half>()) out.push_back(h.bits());
  } else if (c.dtype() == kBFloat16) {
    for (BFloat16 h : c.to_vector<BFloat16>()) out.push_back(h.bits());
  } else {
    fail("bits16: dtype {} is not a 16-bit float", c.dtype());
  }
  return out;
}

// The values of an int16 pattern file as uint16.
inline std::vector<std::uint16_t> patterns16(const Tensor& bits) {
  std::vector<std::uint16_t> out;
  for (std::int64_t v : bits.to(kInt64).to_vector<std::int64_t>()) out.push_back(static_cast<std::uint16_t>(v));
  return out;
}

// Whether a 16-bit pattern is a NaN of the dtype.
inline bool is_nan16(std::uint16_t b, DType dtype) {
  return dtype == kFloat16 ? (b & 0x7c00) == 0x7c00 && (b & 0x03ff) != 0
                           : (b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0;
}

// Distance in units in the last place between two non-NaN patterns of the same 16-bit format
// (+0 and -0 are the same point; crossing zero counts the steps on both sides).
inline std::int64_t ulp_distance16(std::uint16_t a, std::uint16_t b) {
  auto key = [](std::uint16_t x) -> std::int64_t {
    return (x & 0x8000) ? -static_cast<std::int64_t>(x & 0x7fff) : static_cast<std::int64_t>(x);
  };
  return std::abs(key(a) - key(b));
}

// Runs one path of a golden case, turning anything it throws into a failure message.
template <typename Fn>
std::string guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return fmt::format("threw: {}", e.what());
  }
}

// One assertion for all of a suite's runs, with the first failures spelled out, instead of
// hundreds of lines when something basic (say, a missing kernel) breaks every case.
inline void check_no_failures(const std::vector<std::string>& failures, std::size_t runs) {
  std::string report;
  for (std::size_t i = 0; i < failures.size() && i < 20; ++i) report += failures[i] + "\n";
  if (failures.size() > 20) report += fmt::format("... and {} more\n", failures.size() - 20);
  CHECK_MESSAGE(failures.empty(),
                fmt::format("{} of {} runs differ from PyTorch:\n{}", failures.size(), runs, report));
}

// One line of a loss golden index: "<id> <loss> <dtype> <reduction> key=value ...", as the
// loss scripts (make_loss_golden.py, make_sequence_golden.py) write it.
struct LossCase {
  std::string line, id, loss;
  DType dtype = kFloat32;
  nn::Reduction reduction = nn::kMean;
  std::map<std::string, std::string> opts;
  bool has(const std::string& key) const { return opts.count(key) != 0; }
  double num(const std::string& key, double fallback) const {
    return has(key) ? std::stod(opts.at(key)) : fallback;
  }
};

inline std::vector<LossCase> loss_cases(const std::string& index_path) {
  std::vector<LossCase> cases;
  for (const std::string& line : index_lines(index_path)) {
    std::istringstream in(line);
    LossCase c;
    c.line = line;
    std::string dtype, reduction, kv;
    in >> c.id >> c.loss >> dtype >> reduction;
    c.dtype = parse_dtype(dtype);
    c.reduction = nn::reduction_from_string(reduction);
    while (in >> kv) {
      const auto eq = kv.find('=');
      c.opts[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    cases.push_back(c);
  }
  return cases;
}

}  // namespace reel::test::golden
