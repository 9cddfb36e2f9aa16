#pragma once
// reel's side of a bench/conv1d_cases.hpp case: its F::conv1d options and its shape column.
// Shared by bench/conv1d.cpp and bench/conv1d_bf16.cpp.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <string>

#include "conv1d_cases.hpp"
#include "nn/functional/conv1d.hpp"

namespace reel_bench {

// Symmetric padding is Conv1d's integer padding; causal is reel's padding = kCausal (the kernel
// pads on the left itself). No case has any other asymmetric padding.
inline reel::nn::functional::Conv1dFuncOptions conv1d_options(const Conv1dCase& c) {
  auto options = reel::nn::functional::Conv1dFuncOptions().stride(c.stride).dilation(c.dilation)
                     .groups(c.groups);
  if (c.symmetric()) return options.padding(c.pad_left);
  reel::check(c.causal(), "bench conv1d: case '{}': padding ({}, {}) is neither symmetric nor causal",
              c.key, c.pad_left, c.pad_right);
  return options.padding(reel::kCausal);
}

// "(N, Cin, Cout, L, K, stride, padding, dilation, groups)", padding "p" or "causal p".
inline std::string shape_of(const Conv1dCase& c) {
  const std::string padding =
      c.symmetric() ? fmt::format("{}", c.pad_left) : fmt::format("causal {}", c.pad_left);
  return fmt::format("({}, {}, {}, {}, {}, {}, {}, {}, {})", c.n, c.cin, c.cout, c.length, c.kernel,
                     c.stride, padding, c.dilation, c.groups);
}

}  // namespace reel_bench
