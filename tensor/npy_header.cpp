// The .npy header dict: a strict parser for the one Python literal the format allows.
// Split from tensor/npy.cpp so each file holds one concept.
#include "tensor/npy_header.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace reel::npy_detail {
namespace {

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
    else if (is('u', 1)) d.dtype = kUInt8;
    else if (is('i', 1)) d.dtype = kInt8;
    else if (is('i', 2)) d.dtype = kInt16;
    else if (is('i', 4)) d.dtype = kInt32;
    // int64, and the unsigned types reel lacks (uint16/32/64), which widen to int64.
    else if ((d.kind == 'i' || d.kind == 'u') && int_size) d.dtype = kInt64;
    else if (is('f', 2)) d.dtype = kFloat16;
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

}  // namespace

Header parse_header(std::string_view text, std::string where) {
  return HeaderParser(text, std::move(where)).parse();
}

}  // namespace reel::npy_detail
