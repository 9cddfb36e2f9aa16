#pragma once
// safetensors files (https://github.com/huggingface/safetensors), the format PyTorch and the
// Hugging Face tools share weights in:
//
//   8 bytes      N, the header length, uint64 little-endian
//   N bytes      a UTF-8 JSON object, padded with spaces:
//                  {"__metadata__": {"format": "pt"},
//                   "bias": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, ...}
//   the rest     the byte buffer: each tensor's elements, C order, little-endian, at
//                data_offsets (relative to the buffer's start)
//
//   safetensors::save_file({{"w", w}, {"b", b}}, "model.safetensors", {{"step", "10"}});
//   auto f = safetensors::load_file("model.safetensors");   // f.tensors.at("w"), f.metadata
//
// Writing: tensors in name order (byte order, as std::map sorts), packed one after the other
// with no gaps; a non-contiguous or CUDA tensor is copied to a contiguous host buffer first.
// The header is compact JSON with "__metadata__" first and padded with spaces so the buffer
// starts at a multiple of 8 bytes (as the Python and Rust writers do). save_file is atomic
// (serialize/atomic_file.hpp): a process killed mid-save leaves the previous file intact.
//
// dtypes: reel's bool, uint8, int8, int16, int32, int64, float32 and float64 are BOOL, U8, I8,
// I16, I32, I64, F32 and F64, both ways. F16 and BF16 tensors load as float32 (exactly: every
// half and bfloat16 value is a float32 value), as reel has no 16-bit floats. Complex tensors
// can't be saved: safetensors has no complex dtype, so save_file raises and says to save the
// real and imaginary parts (t.real(), t.imag()) as two tensors. Other safetensors dtypes (U16,
// U32, U64, the F8 kinds) raise reel::Error naming the tensor.
//
// Reading validates everything before trusting it, and raises reel::Error naming the file, the
// tensor or field and the values: a file shorter than 8 bytes, a header length over 100 MB or
// past the end of the file, a header that isn't strict JSON (serialize/json.hpp: duplicate keys,
// trailing bytes other than whitespace padding, invalid UTF-8), a header that doesn't start with
// '{', an entry with a missing or unknown field, an unknown dtype, a negative dimension or
// offset, a shape whose byte count doesn't match its data_offsets, offsets past the end of the
// buffer, overlapping or leaving a gap, buffer bytes no tensor covers, metadata values that
// aren't strings, a BOOL byte other than 0 or 1, more than 8 dimensions (reel's limit). Sizes
// are computed with overflow checks. Loaded tensors are contiguous CPU tensors that own their
// memory (no mapping of the file).
#include <map>
#include <string>
#include <string_view>

#include "tensor/tensor.hpp"

namespace reel::safetensors {

using TensorMap = std::map<std::string, Tensor>;      // ordered by name, as safetensors sorts
using Metadata = std::map<std::string, std::string>;  // the "__metadata__" object (str -> str)

struct File {
  TensorMap tensors;
  Metadata metadata;
};

// The header's size limit (as the Rust reader's MAX_HEADER_SIZE).
inline constexpr std::uint64_t kMaxHeaderSize = 100'000'000;

// Writes the file atomically. Raises reel::Error (and leaves `path` as it was) on an undefined
// or complex tensor, a tensor named "__metadata__", a name or metadata string that isn't UTF-8,
// or an I/O error.
void save_file(const TensorMap& tensors, const std::string& path, const Metadata& metadata = {});
// Reads and validates the file.
File load_file(const std::string& path);

// The same in memory: the file's bytes (for tests, fuzzing, sending over a wire). `what` is how
// errors name the source.
std::string serialize(const TensorMap& tensors, const Metadata& metadata = {});
File deserialize(std::string_view bytes, const std::string& what = "<memory>");

// The safetensors name of a reel dtype ("F32"); raises for complex dtypes.
std::string_view dtype_string(DType dtype);

}  // namespace reel::safetensors
