#pragma once
// reel::Error and check(): every invalid argument in reel raises this one error type, with a
// message that names the operation, the parameter and the values.
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace reel {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws reel::Error with a fmt-formatted message when `ok` is false. The message is only built
// on failure, so a check costs one branch on the hot path.
template <typename... Args>
inline void check(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) [[unlikely]] {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
  }
}

template <typename... Args>
[[noreturn]] inline void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace reel
