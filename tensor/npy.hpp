#pragma once
// NumPy .npy files: load_npy / save_npy, and in-memory forms of both.
//
// Loading accepts format versions 1.0, 2.0 and 3.0, C or Fortran order, either byte order, and
// these descrs: bool (|b1, ?), int64 and narrower integers (i1 i2 i4 i8 u1 u2 u4 u8, converted
// to int64; a u8 value above INT64_MAX is an error), float32 (f4), float64 (f8), complex64 (c8),
// complex128 (c16). The result is a contiguous CPU tensor.
//
// Every part of the file is validated before it is trusted (magic, version, header length,
// the header dict, the shape and its size, the amount of data), and anything wrong raises
// reel::Error naming the file and the problem. Loading is strict: the file must hold exactly
// the bytes the header promises — trailing bytes are an error too, since they mean the header
// and the data disagree.
//
// Saving writes what np.save writes: format 1.0, little-endian (native on every platform reel
// runs on), C order, the header padded with spaces to a 64-byte boundary and ended by '\n'.
// Any tensor can be saved (any device, any layout); it is copied to a contiguous host buffer.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel {

Tensor load_npy(const std::string& path);
void save_npy(const std::string& path, const Tensor& t);

// The same on a byte buffer; `name` is what error messages call the source.
Tensor load_npy_bytes(std::span<const std::byte> bytes, std::string_view name = "<memory>");
std::vector<std::byte> save_npy_bytes(const Tensor& t);

}  // namespace reel
