#pragma once
// The header of a NumPy .npy file: its dict literal, parsed strictly (tensor/npy_header.cpp).
// Internal to tensor/npy.cpp.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel::npy_detail {

struct Descr {
  DType dtype = kFloat32;  // what the elements become
  char byte_order = '|';   // '<', '>', '|' (not applicable) or '=' (native)
  char kind = 'f';         // NumPy's kind: b, i, u, f, c
  std::size_t itemsize = 4;
};

struct Header {
  Descr descr;
  bool fortran_order = false;
  Shape shape;
  std::int64_t numel = 0;
};

// Parses the dict literal `text`; errors name `where` (the op and the file).
Header parse_header(std::string_view text, std::string where);

}  // namespace reel::npy_detail
