#pragma once
// Device: where a tensor's memory lives (CPU, or CUDA with an index).
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace reel {

enum class DeviceType : std::uint8_t { CPU, CUDA };
inline constexpr DeviceType kCPU = DeviceType::CPU;
inline constexpr DeviceType kCUDA = DeviceType::CUDA;

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}  // implicit: zeros(..., kCUDA)
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const { return is_cpu() ? "cpu" : fmt::format("cuda:{}", index); }
  friend bool operator==(const Device&, const Device&) = default;
};

}  // namespace reel

template <>
struct fmt::formatter<reel::Device> : fmt::formatter<std::string> {
  auto format(const reel::Device& d, format_context& ctx) const {
    return fmt::formatter<std::string>::format(d.str(), ctx);
  }
};
