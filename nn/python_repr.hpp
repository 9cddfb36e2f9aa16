#pragma once
// How Python's repr prints a float, for module reprs that must read as PyTorch's:
// the shortest string that reads back as the same double, with ".0" on integral values
// (0.01, 1.0, 1e-05, inf, nan).
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace reel::nn {

inline std::string python_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);  // shortest round trip, as Python's repr
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

inline const char* python_bool(bool v) { return v ? "True" : "False"; }

}  // namespace reel::nn
