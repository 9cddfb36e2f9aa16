#pragma once
// A small strict JSON reader and writer for the subset file headers need (safetensors headers,
// checkpoint metadata): objects, arrays, strings (all escapes, \uXXXX with surrogate pairs,
// UTF-8 validated) and integers. No fractions, no true / false / null: a header that holds one
// is not a header reel reads, and is rejected. (Negative integers parse, so that the caller
// can say which field holds one: a negative offset or dimension is the caller's error.)
//
// Strict, as the safetensors spec asks of a reader that must not be fooled: duplicate keys,
// trailing garbage (anything but whitespace, the padding safetensors allows, after the value),
// leading zeros, integers outside int64, control characters in strings, invalid UTF-8, lone
// surrogates and nesting deeper than 64 levels all raise reel::Error naming `what` (the file)
// and the byte offset.
//
// No outside dependency: Debian's nlohmann-json accepts what this must reject (duplicate keys
// take the last value silently) and would be a new dependency for ~250 lines.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace reel::serialize::json {

struct Value {
  enum class Kind { Object, Array, String, Integer };
  Kind kind = Kind::Object;
  std::string string;                  // Kind::String
  std::int64_t integer = 0;            // Kind::Integer
  std::vector<Value> array;            // Kind::Array
  // Kind::Object, in the order of the text (keys are unique: checked at parse time).
  std::vector<std::pair<std::string, Value>> object;

  bool is_object() const { return kind == Kind::Object; }
  bool is_array() const { return kind == Kind::Array; }
  bool is_string() const { return kind == Kind::String; }
  bool is_integer() const { return kind == Kind::Integer; }
  // The name of the kind as errors print it: "an object", "an array", "a string", "an integer".
  const char* kind_name() const;
};

// Parses `text` (one value, optionally followed by whitespace only). `what` names the source in
// errors ("file 'model.safetensors'"), `op` the operation ("load_file").
Value parse(std::string_view text, std::string_view what, std::string_view op);

// Appends `s` as a JSON string literal: quotes, \" \\ and control characters escaped (\n, \t,
// \u00XX), everything else (UTF-8 included) as is. Raises reel::Error when `s` is not valid
// UTF-8 (a header must be).
void append_string(std::string& out, std::string_view s);
// Whether `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace reel::serialize::json
