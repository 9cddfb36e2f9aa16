// NumPy .npy reading and writing. The format (numpy/lib/format.py, NEP 1):
//   "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for 2.0 and 3.0),
//   a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//   padded with spaces and ended by '\n', then the raw elements.
// The reader never trusts a field before checking it: a malicious file gives an error.
#include "tensor/npy.hpp"

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

// --- the header dict ----------------------------------------------------------------------------

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

// A strict parser for the one dict literal the format allows: string keys 'descr',
// 'fortran_order' and 'shape' (each exactly once, any order), values that are a quoted string,
// True/False, or a tuple of non-negative ints ("()", "(5,)", "(2, 3)"; a Python 2 "L" suffix is
// accepted, as NumPy's reader does), an optional trailing comma, then only whitespace.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string where) : text_(text), where_(std::move(where)) {}

  Header parse() {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    Header h;
    skip_ws();
    expect('{');
    skip_ws();
    while (peek() != '}') {
      std::size_t key_pos = pos_;
      std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        once(seen_descr, key, key_pos);
        if (peek() == '[') bad("'descr' is a list: structured dtypes are not supported");
        h.descr = descr(string_literal());
      } else if (key == "fortran_order") {
        once(seen_order, key, key_pos);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(seen_shape, key, key_pos);
        h.shape = shape();
      } else {
        pos_ = key_pos;
        bad(fmt::format("unexpected key '{}'", key));
      }
      skip_ws();
      if (peek() != ',') break;
      ++pos_;
      skip_ws();
    }
    expect('}');
    skip_ws();
    if (pos_ != text_.size()) bad("unexpected text after the closing '}'");
    if (!seen_descr || !seen_order || !seen_shape) {
      pos_ = text_.size();
      const char* key = !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape";
      bad(fmt::format("missing key '{}'", key));
    }
    h.numel = checked_numel(h.shape, std::max(h.descr.itemsize, element_size(h.descr.dtype)));
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& problem) const {
    // Quote (a bounded prefix of) the header with non-printable bytes escaped.
    std::string shown;
    for (char c : text_.substr(0, 160)) {
      auto u = static_cast<unsigned char>(c);
      shown += u >= 0x20 && u < 0x7f && c != '\\' ? std::string(1, c) : fmt::format("\\x{:02x}", u);
    }
    if (text_.size() > 160) shown += "...";
    fail("{} has an invalid header: {} at offset {} of \"{}\"", where_, problem, pos_, shown);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }
  void skip_ws() {
    while (!at_end() && std::string_view(" \t\n\r").find(peek()) != std::string_view::npos) ++pos_;
  }
  void expect(char c) {
    if (at_end()) bad(fmt::format("expected '{}' but the header ended", c));
    if (peek() != c) bad(fmt::format("expected '{}'", c));
    ++pos_;
  }
  void once(bool& seen, const std::string& key, std::size_t key_pos) {
    if (seen) {
      pos_ = key_pos;
      bad(fmt::format("duplicate key '{}'", key));
    }
    seen = true;
  }

  std::string string_literal() {
    char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    std::size_t start = ++pos_;
    while (!at_end() && peek() != quote) {
      if (peek() == '\\' || peek() == '\n') bad("unsupported character in a string");
      ++pos_;
    }
    if (at_end()) bad("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool boolean() {
    for (std::string_view word : {"True", "False"}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return word == "True";
      }
    }
    bad("'fortran_order' must be True or False");
  }

  std::int64_t dimension() {
    if (peek() == '-') bad("the shape has a negative dimension");
    if (peek() < '0' || peek() > '9') bad("expected a dimension (a non-negative integer)");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, peek() - '0', &v))
        bad("a dimension does not fit in int64");
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long
    return v;
  }

  Shape shape() {
    std::size_t open = pos_;
    expect('(');
    skip_ws();
    std::vector<std::int64_t> dims;
    bool trailing_comma = false;
    while (peek() != ')') {
      dims.push_back(dimension());
      if (dims.size() > static_cast<std::size_t>(kMaxDims))
        bad(fmt::format("the shape has more than {} dimensions (reel's limit)", kMaxDims));
      skip_ws();
      trailing_comma = peek() == ',';
      if (!trailing_comma) break;
      ++pos_;
      skip_ws();
    }
    expect(')');
    if (dims.size() == 1 && !trailing_comma) {
      pos_ = open;
      bad("'shape' is a parenthesised int, not a tuple (a 1-d shape is written (n,))");
    }
    return Shape(dims);
  }

  Descr descr(const std::string& s) {
    Descr d;
    std::string_view rest = s;
    if (!rest.empty() && std::string_view("<>|=").find(rest[0]) != std::string_view::npos) {
      d.byte_order = rest[0];
      rest.remove_prefix(1);
    }
    auto unsupported = [&]() {
      bad(fmt::format("unsupported dtype descr '{}' (reel loads bool, integers (as int64), "
                      "float32, float64, complex64 and complex128)", s));
    };
    if (rest.empty()) unsupported();
    d.kind = rest[0];
    std::string_view digits = rest.substr(1);
    if (d.kind == '?' && digits.empty()) digits = "1";
    if (digits.empty() || digits.size() > 2 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      unsupported();
    d.itemsize = static_cast<std::size_t>(std::stoi(std::string(digits)));
    auto is = [&](char kind, std::size_t size) { return d.kind == kind && d.itemsize == size; };
    bool int_size = d.itemsize == 1 || d.itemsize == 2 || d.itemsize == 4 || d.itemsize == 8;
    if (is('b', 1) || is('?', 1)) d.dtype = kBool;
    else if ((d.kind == 'i' || d.kind == 'u') && int_size) d.dtype = kInt64;
    else if (is('f', 4)) d.dtype = kFloat32;
    else if (is('f', 8)) d.dtype = kFloat64;
    else if (is('c', 8)) d.dtype = kComplex64;
    else if (is('c', 16)) d.dtype = kComplex128;
    else unsupported();
    return d;
  }

  // The element count, checked so that neither it, nor its byte size at `itemsize`, nor the
  // strides of the shape (computed with size-0 dims counted as 1) overflow int64.
  std::int64_t checked_numel(const Shape& shape, std::size_t itemsize) {
    std::int64_t span = 1;
    bool zero = false;
    for (auto d : shape) {
      zero = zero || d == 0;
      if (__builtin_mul_overflow(span, std::max<std::int64_t>(d, 1), &span)) span = -1;
      if (span < 0) break;
    }
    std::int64_t bytes = 0;
    if (span < 0 || __builtin_mul_overflow(span, static_cast<std::int64_t>(itemsize), &bytes)) {
      pos_ = text_.size();
      bad(fmt::format("the shape {} is too large (its size overflows int64)", shape));
    }
    return zero ? 0 : span;
  }

  std::string_view text_;
  std::string where_;
  std::size_t pos_ = 0;
};

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
  Header h = HeaderParser(text, fmt::format("{}: {}", op, what)).parse();

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
  if (d.itemsize == element_size(d.dtype) && d.kind != 'u') {  // same layout: read in place
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
    Shape reverse_dims;
    for (int i = out.dim() - 1; i >= 0; --i) reverse_dims.push_back(i);
    out = out.permute(reverse_dims).contiguous();
  }
  return out;
}

// np.save's header for a C-order array of `t`'s dtype and shape (numpy 1.24 byte for byte,
// including the spare spaces it leaves for growing the first axis in place).
std::string make_header(const Tensor& t) {
  char order = std::endian::native == std::endian::little ? '<' : '>';
  std::string descr;
  switch (t.dtype()) {
    case kBool: descr = "|b1"; break;
    case kInt64: descr = fmt::format("{}i8", order); break;
    case kFloat32: descr = fmt::format("{}f4", order); break;
    case kFloat64: descr = fmt::format("{}f8", order); break;
    case kComplex64: descr = fmt::format("{}c8", order); break;
    case kComplex128: descr = fmt::format("{}c16", order); break;
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
  Tensor host = t.detach().to(Device(kCPU)).contiguous();
  std::string header = make_header(host);
  std::size_t nbytes = static_cast<std::size_t>(host.numel()) * host.element_size();
  std::vector<std::byte> out(header.size() + nbytes);
  std::memcpy(out.data(), header.data(), header.size());
  if (nbytes) std::memcpy(out.data() + header.size(), host.raw_data(), nbytes);
  return out;
}

void save_npy(const std::string& path, const Tensor& t) {
  Tensor host = t.detach().to(Device(kCPU)).contiguous();
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
