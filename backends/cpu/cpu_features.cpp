#include "backends/cpu/cpu_features.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace reel::backends::cpu {

bool avx512_usable(unsigned leaf7_ebx, bool bf16) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return false;
  __cpuid(1, eax, ebx, ecx, edx);
  if ((ecx & (1u << 27)) == 0) return false;  // OSXSAVE: xgetbv is usable
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0xe6u) != 0xe6u) return false;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  if ((ebx & leaf7_ebx) != leaf7_ebx) return false;
  if (!bf16) return true;
  if (eax < 1) return false;  // the highest subleaf of leaf 7
  __cpuid_count(7, 1, eax, ebx, ecx, edx);
  return (eax & (1u << 5)) != 0;  // avx512_bf16
#else
  (void)leaf7_ebx;
  (void)bf16;
  return false;
#endif
}

namespace {

// "32K", "1024K", "2M", "33554432" (bytes), as in /sys/.../cache/index*/size; 0 if unreadable.
std::int64_t parse_cache_size(const std::string& text) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || value <= 0 || value > (1LL << 40)) return 0;
  switch (*end) {
    case 'K': return value * 1024;
    case 'M': return value * 1024 * 1024;
    case 'G': return value * 1024 * 1024 * 1024;
    default: return value;
  }
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

CacheSizes read_cache_sizes() {
  CacheSizes c;
  for (int index = 0; index < 16; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    const std::string level = read_line(dir + "/level");
    if (level.empty()) break;
    const std::string type = read_line(dir + "/type");
    const std::int64_t size = parse_cache_size(read_line(dir + "/size"));
    if (level == "1" && type == "Data") c.l1d = size;
    if (level == "2" && type != "Instruction") c.l2 = size;
    if (level == "3" && type != "Instruction") c.l3 = size;
  }
  if (c.l2 > 0 && c.l3 > 0) {
    c.source = "/sys/devices/system/cpu/cpu0/cache";
    return c;
  }
  c = CacheSizes{};
#ifdef _SC_LEVEL3_CACHE_SIZE
  c.l1d = std::max<long>(0, sysconf(_SC_LEVEL1_DCACHE_SIZE));
  c.l2 = std::max<long>(0, sysconf(_SC_LEVEL2_CACHE_SIZE));
  c.l3 = std::max<long>(0, sysconf(_SC_LEVEL3_CACHE_SIZE));
  if (c.l2 > 0) c.source = "sysconf";
#endif
  return c;
}

}  // namespace

const CacheSizes& cpu_cache_sizes() {
  static const CacheSizes sizes = read_cache_sizes();
  return sizes;
}

}  // namespace reel::backends::cpu
