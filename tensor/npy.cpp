// NumPy .npy reading and writing. The format (numpy/lib/format.py, NEP 1):
//   "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for 2.0 and 3.0),
//   a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   padded with spaces and ended by '\n', then the raw elements.
// The reader never trusts a field before checking it: a malicious file gives an error.
#include "tensor/npy.hpp"
#include "tensor/npy_header.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>
#include <type_traits>

namespace reel {
namespace {

constexpr std::size_t kPreambleV1 = 10;  // magic (6) + version (2) + uint16 length
constexpr std::size_t kPreambleV2 = 12;  // magic (6) + version (2) + uint32 length
constexpr std::uint64_t kMaxHeaderLen = 1 << 20;  // real headers are < 200 bytes

using npy_detail::Descr;
using npy_detail::Header;

// --- reading ------------------------------------------------------------------------------------

// Where the bytes come from: a file or a caller's buffer. `describe` is how errors name it.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly n bytes at `offset`; the caller has checked they exist.
  virtual void read(std::uint64_t offset, void* dst, std::size_t n) = 0;
  std::string op;        // "load_npy"
  std::string describe;  // "file 'x.npy'"
};

class BufferSource final : public Source {
 public:
  explicit BufferSource(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void read(std::uint64_t offset, void* dst, std::size_t n) override {
    if (n) std::memcpy(dst, bytes_.data() + offset, n);
  }

 private:
  std::span<const std::byte> bytes_;
};

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path) : in_(path, std::ios::binary) {
    describe = fmt::format("file '{}'", path);
    op = "load_npy";
    check(in_.is_open(), "load_npy: cannot open {}: {}", describe, std::strerror(errno));
    in_.seekg(0, std::ios::end);
    auto end = in_.tellg();
    check(in_.good() && end >= 0, "load_npy: cannot determine the size of {}", describe);
    size_ = static_cast<std::uint64_t>(end);
  }
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, void* dst, std::size_t n) override {
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    check(in_.good() && static_cast<std::size_t>(in_.gcount()) == n,
          "load_npy: reading {} bytes at offset {} of {} failed", n, offset, describe);
  }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

// Reverses the bytes of each `width`-byte word in place (big <-> little endian).
void byte_swap(void* data, std::size_t count, std::size_t width) {
  auto* p = static_cast<unsigned char*>(data);
  for (std::size_t i = 0; i < count; ++i, p += width) std::reverse(p, p + width);
}

bool needs_swap(const Descr& d) {
  if (d.byte_order == '<') return std::endian::native != std::endian::little;
  if (d.byte_order == '>') return std::endian::native != std::endian::big;
  return false;  // '|' or '=': native or not applicable
}

// Integers stored at another width or signedness -> int64 (a uint64 above INT64_MAX is an error).
template <typename Stored>
void widen(const unsigned char* raw, std::int64_t count, bool swap, std::int64_t* out,
           const Source& src) {
  for (std::int64_t i = 0; i < count; ++i, raw += sizeof(Stored)) {
    unsigned char word[sizeof(Stored)];
    std::memcpy(word, raw, sizeof(Stored));
    if (swap) std::reverse(word, word + sizeof(Stored));
    Stored v;
    std::memcpy(&v, word, sizeof(Stored));
    if constexpr (std::is_same_v<Stored, std::uint64_t>) {
      check(v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
            "{}: {} holds the uint64 value {} at element {}, which does not fit in int64", src.op,
            src.describe, v, i);
    }
    out[i] = static_cast<std::int64_t>(v);
  }
}

void widen_integers(const Descr& d, const unsigned char* raw, std::int64_t count,
                    std::int64_t* out, const Source& src) {
  bool swap = needs_swap(d), sign = d.kind == 'i';
  switch (d.itemsize) {
    case 1: return sign ? widen<std::int8_t>(raw, count, swap, out, src)
                        : widen<std::uint8_t>(raw, count, swap, out, src);
    case 2: return sign ? widen<std::int16_t>(raw, count, swap, out, src)
                        : widen<std::uint16_t>(raw, count, swap, out, src);
    case 4: return sign ? widen<std::int32_t>(raw, count, swap, out, src)
                        : widen<std::uint32_t>(raw, count, swap, out, src);
    default: return sign ? widen<std::int64_t>(raw, count, swap, out, src)
                         : widen<std::uint64_t>(raw, count, swap, out, src);
  }
}

Tensor load(Source& src) {
  const std::string& op = src.op;
  const std::string& what = src.describe;
  std::uint64_t size = src.size();

  // --- preamble: magic, version, header length ---
  check(size >= kPreambleV1, "{}: {} is too short to be a .npy file ({} bytes)", op, what, size);
  unsigned char pre[kPreambleV2] = {};
  src.read(0, pre, kPreambleV1);
  check(std::memcmp(pre, "\x93NUMPY", 6) == 0,
        "{}: {} is not a .npy file (it does not start with the magic string \"\\x93NUMPY\")", op,
        what);
  int major = pre[6], minor = pre[7];
  check((major == 1 || major == 2 || major == 3) && minor == 0,
        "{}: {} has .npy format version {}.{}; supported versions are 1.0, 2.0 and 3.0", op, what,
        major, minor);
  std::size_t preamble = major == 1 ? kPreambleV1 : kPreambleV2;
  check(size >= preamble, "{}: {} is truncated: the header length field is incomplete", op, what);
  if (preamble > kPreambleV1) src.read(kPreambleV1, pre + kPreambleV1, preamble - kPreambleV1);
  std::uint64_t header_len = 0;  // little-endian, 2 or 4 bytes
  for (std::size_t i = preamble; i-- > 8;) header_len = header_len << 8 | pre[i];
  check(header_len <= kMaxHeaderLen, "{}: {} declares a header of {} bytes (the limit is {})", op,
        what, header_len, kMaxHeaderLen);
  check(preamble + header_len <= size,
        "{}: {} is truncated: the header needs {} bytes but only {} follow the preamble", op, what,
        header_len, size - preamble);

  // --- header dict ---
  std::string text(static_cast<std::size_t>(header_len), '\0');
  src.read(preamble, text.data(), text.size());
  Header h = npy_detail::parse_header(text, fmt::format("{}: {}", op, what));

  // --- data size: exactly numel * itemsize bytes must follow ---
  std::uint64_t data_offset = preamble + header_len;
  std::uint64_t found = size - data_offset;
  std::uint64_t expected = static_cast<std::uint64_t>(h.numel) * h.descr.itemsize;
  check(found >= expected, "{}: {} is truncated: expected {} bytes of data, found {}", op, what,
        expected, found);
  check(found == expected,
        "{}: {} has {} unexpected trailing bytes: expected {} bytes of data, found {}", op, what,
        found - expected, expected, found);

  // Fortran order: the data is the C-order array of the reversed shape, transposed.
  Shape stored = h.shape;
  if (h.fortran_order) std::reverse(stored.begin(), stored.end());
  Tensor out = empty(stored, TensorOptions(h.descr.dtype));
  const Descr& d = h.descr;
  if (d.itemsize == element_size(d.dtype) && (d.kind != 'u' || d.dtype == kUInt8)) {  // read in place
    src.read(data_offset, out.raw_data(), static_cast<std::size_t>(expected));
    if (needs_swap(d)) {
      std::size_t word = is_complex(d.dtype) ? d.itemsize / 2 : d.itemsize;
      byte_swap(out.raw_data(), static_cast<std::size_t>(expected) / word, word);
    }
    if (d.dtype == kBool) {  // a C++ bool must be 0 or 1; NumPy treats any nonzero byte as True
      auto* p = static_cast<unsigned char*>(out.raw_data());
      for (std::int64_t i = 0; i < h.numel; ++i) p[i] = p[i] != 0;
    }
  } else {
    std::vector<unsigned char> raw(static_cast<std::size_t>(expected));
    src.read(data_offset, raw.data(), raw.size());
    widen_integers(d, raw.data(), h.numel, static_cast<std::int64_t*>(out.raw_data()), src);
  }

  if (h.fortran_order && out.dim() > 1) {
    // The data was read as the C-order array of the reversed shape; its transpose (reversed
    // shape and strides) is the array, copied to C order.
    Shape shape, strides;
    for (int i = out.dim() - 1; i >= 0; --i) {
      shape.push_back(out.size(i));
      strides.push_back(out.stride(i));
    }
    out = detail::copy_as(make_tensor(out.storage(), shape, strides, 0, out.dtype()), out.dtype());
  }
  return out;
}

// What save writes: `t`'s values in a contiguous host buffer (nothing recorded on the tape).
Tensor host_contiguous(const Tensor& t) {
  Tensor host = t.device().is_cpu() ? t : detail::copy_to_device(t, Device(kCPU));
  return host.is_contiguous() ? host : detail::copy_as(host, host.dtype());
}

// np.save's header for a C-order array of `t`'s dtype and shape (numpy 1.24 byte for byte,
// including the spare spaces it leaves for growing the first axis in place).
std::string make_header(const Tensor& t) {
  char order = std::endian::native == std::endian::little ? '<' : '>';
  std::string descr;
  switch (t.dtype()) {
    case kBool: descr = "|b1"; break;
    case kUInt8: descr = "|u1"; break;
    case kInt8: descr = "|i1"; break;
    case kInt16: descr = fmt::format("{}i2", order); break;
    case kInt32: descr = fmt::format("{}i4", order); break;
    case kInt64: descr = fmt::format("{}i8", order); break;
    case kFloat32: descr = fmt::format("{}f4", order); break;
    case kFloat64: descr = fmt::format("{}f8", order); break;
    case kComplex64: descr = fmt::format("{}c8", order); break;
    case kComplex128: descr = fmt::format("{}c16", order); break;
    case kFloat16: descr = fmt::format("{}f2", order); break;
    case kBFloat16:
    case kComplex32:
      fail("save_npy: NumPy has no {} dtype: cast the tensor first, e.g. t.to({})", t.dtype(),
           t.dtype() == kBFloat16 ? "kFloat32" : "kComplex64");
  }
  const Shape& s = t.sizes();
  std::string shape = s.size() == 1 ? fmt::format("({},)", s[0])
                                    : fmt::format("({})", fmt::join(s.begin(), s.end(), ", "));
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  if (s.size() > 0) dict.append(21 - fmt::format("{}", s[0]).size(), ' ');
  std::size_t padding = 64 - (kPreambleV1 + dict.size() + 1) % 64;
  dict.append(padding, ' ');
  dict += '\n';
  check(dict.size() <= 0xffff, "save_npy: internal: header of {} bytes", dict.size());
  std::string out = "\x93NUMPY";
  out += static_cast<char>(1);
  out += static_cast<char>(0);
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

}  // namespace

Tensor load_npy(const std::string& path) {
  FileSource src(path);
  return load(src);
}

Tensor load_npy_bytes(std::span<const std::byte> bytes, std::string_view name) {
  BufferSource src(bytes);
  src.op = "load_npy_bytes";
  src.describe = fmt::format("buffer '{}'", name);
  return load(src);
}

std::vector<std::byte> save_npy_bytes(const Tensor& t) {
  Tensor host = host_contiguous(t);
  std::string header = make_header(host);
  std::size_t nbytes = static_cast<std::size_t>(host.numel()) * host.element_size();
  std::vector<std::byte> out(header.size() + nbytes);
  std::memcpy(out.data(), header.data(), header.size());
  if (nbytes) std::memcpy(out.data() + header.size(), host.raw_data(), nbytes);
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  Tensor host = host_contiguous(t);
  std::string header = make_header(host);
  std::size_t nbytes = static_cast<std::size_t>(host.numel()) * host.element_size();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  check(out.is_open(), "save_npy: cannot open file '{}' for writing: {}", path,
        std::strerror(errno));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (nbytes) {
    out.write(static_cast<const char*>(host.raw_data()), static_cast<std::streamsize>(nbytes));
  }
  out.close();
  check(!out.fail(), "save_npy: writing file '{}' failed: {}", path, std::strerror(errno));
}

}  // namespace reel
