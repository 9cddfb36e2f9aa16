// The strict JSON subset reader and writer (serialize/json.hpp): a recursive descent parser that
// checks every byte it consumes.
#include "serialize/json.hpp"

#include <cstdint>
#include <cstdio>
#include <unordered_set>

#include "backends/error.hpp"

namespace reel::serialize::json {
namespace {

constexpr int kMaxDepth = 64;

// Decodes one UTF-8 sequence at s[i]; returns its length, or 0 when it is not valid UTF-8.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t len;
  std::uint32_t cp;
  if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (b(k) & 0x3F);
  }
  static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view what, std::string_view op)
      : s_(text), what_(what), op_(op) {}

  Value document() {
    Value v = value(0);
    skip_ws();  // padding: spaces (the spec's), or any JSON whitespace (serde_json accepts it)
    if (pos_ != s_.size()) error("unexpected {} after the end of the JSON value", describe_here());
    return v;
  }

 private:
  template <typename... Args>
  [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {}: malformed JSON header at byte {}: {}", op_, what_, pos_,
         fmt::format(format, std::forward<Args>(args)...));
  }
  std::string describe_here() const {
    if (pos_ >= s_.size()) return "end of header";
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c >= 0x20 && c < 0x7F) return fmt::format("character '{}'", static_cast<char>(c));
    return fmt::format("byte 0x{:02x}", c);
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  void expect(char c) {
    skip_ws();
    if (pos_ >= s_.size() || s_[pos_] != c) error("expected '{}', found {}", c, describe_here());
    ++pos_;
  }

  Value value(int depth) {
    if (depth >= kMaxDepth) error("nesting deeper than {} levels", kMaxDepth);
    skip_ws();
    if (pos_ >= s_.size()) error("expected a value, found the end of the header");
    char c = s_[pos_];
    Value v;
    if (c == '{') {
      v.kind = Value::Kind::Object;
      std::unordered_set<std::string> seen;
      ++pos_;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return v; }
      while (true) {
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') error("expected a key string, found {}", describe_here());
        std::size_t key_at = pos_;
        std::string key = string();
        if (!seen.insert(key).second) {  // a set: a header may hold many thousand keys
          pos_ = key_at;
          error("duplicate key \"{}\"", key);
        }
        expect(':');
        Value item = value(depth + 1);
        v.object.emplace_back(std::move(key), std::move(item));
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return v; }
        error("expected ',' or '}}' in an object, found {}", describe_here());
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::Array;
      ++pos_;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return v; }
      while (true) {
        v.array.push_back(value(depth + 1));
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
        if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return v; }
        error("expected ',' or ']' in an array, found {}", describe_here());
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::String;
      v.string = string();
      return v;
    }
    if ((c >= '0' && c <= '9') || c == '-') {
      v.kind = Value::Kind::Integer;
      v.integer = integer();
      return v;
    }
    error("expected an object, array, string or integer, found {}", describe_here());
  }

  std::int64_t integer() {
    std::size_t start = pos_;
    bool negative = s_[pos_] == '-';
    if (negative) ++pos_;
    std::size_t digits = pos_;
    if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9')
      error("expected a digit after '-', found {}", describe_here());
    std::int64_t r = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      std::int64_t d = s_[pos_] - '0';
      if (r > (INT64_MAX - d) / 10) {
        pos_ = start;
        error("integer {}... does not fit in int64", s_.substr(start, 24));
      }
      r = r * 10 + d;
      ++pos_;
    }
    if (pos_ - digits > 1 && s_[digits] == '0') {
      pos_ = start;
      error("integer with a leading zero");
    }
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
      error("only integers are allowed here, not fractions or exponents");
    return negative ? -r : r;
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    unsigned r = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[pos_++];
      unsigned d;
      if (h >= '0' && h <= '9') d = h - '0';
      else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
      else { --pos_; error("invalid hex digit {} in a \\u escape", describe_here()); }
      r = r << 4 | d;
    }
    return r;
  }

  std::string string() {
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') { ++pos_; return out; }
      if (c < 0x20) error("unescaped control character {} in a string", describe_here());
      if (c == '\\') {
        ++pos_;
        if (pos_ >= s_.size()) error("unterminated escape");
        char e = s_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            std::uint32_t cp = hex4();
            if (cp >= 0xDC00 && cp <= 0xDFFF) error("lone low surrogate \\u{:04x}", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
                error("high surrogate \\u{:04x} not followed by a low one", cp);
              pos_ += 2;
              std::uint32_t lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF)
                error("high surrogate \\u{:04x} followed by \\u{:04x}, not a low surrogate", cp, lo);
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(out, cp);
            break;
          }
          default:
            --pos_;
            error("invalid escape: a backslash followed by {}", describe_here());
        }
        continue;
      }
      std::size_t len = utf8_sequence(s_, pos_);
      if (len == 0) error("invalid UTF-8 {} in a string", describe_here());
      out.append(s_.substr(pos_, len));
      pos_ += len;
    }
  }

  std::string_view s_;
  std::string_view what_, op_;
  std::size_t pos_ = 0;
};

}  // namespace

const char* Value::kind_name() const {
  switch (kind) {
    case Kind::Object: return "an object";
    case Kind::Array: return "an array";
    case Kind::String: return "a string";
    case Kind::Integer: return "an integer";
  }
  return "?";
}

Value parse(std::string_view text, std::string_view what, std::string_view op) {
  return Parser(text, what, op).document();
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_sequence(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

void append_string(std::string& out, std::string_view s) {
  check(valid_utf8(s), "json: the string \"{}\" is not valid UTF-8", s);
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

}  // namespace reel::serialize::json
