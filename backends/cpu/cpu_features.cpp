#include "backends/cpu/cpu_features.hpp"

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

}  // namespace reel::backends::cpu
