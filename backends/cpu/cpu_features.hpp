#pragma once
// What the running x86 CPU and OS allow, for the kernels chosen at run time (the AVX-512 files
// of conv1d_implicit and the AVX-512 BF16 ones of gemm_bf16 and the bf16 depthwise conv1d),
// and the cache sizes kernels size their blocks and non-temporal stores by.
#include <cstdint>

namespace reel::backends::cpu {

// The extension bits of cpuid leaf 7 (subleaf 0) EBX that the AVX-512 files are compiled for.
inline constexpr unsigned kAvx512F = 1u << 16, kAvx512DQ = 1u << 17, kAvx512CD = 1u << 28,
                          kAvx512BW = 1u << 30, kAvx512VL = 1u << 31;

// True when cpuid leaf 7 reports every bit of `leaf7_ebx` (kAvx512*), and, when `bf16`, also
// avx512_bf16 (leaf 7 subleaf 1 EAX bit 5); and the OS saves the opmask and all 32 zmm registers
// (XCR0 bits 1, 2, 5, 6, 7) so that they survive a context switch. False off x86.
bool avx512_usable(unsigned leaf7_ebx, bool bf16 = false);

// The data cache sizes of the CPU this process runs on, in bytes (0 where unknown): per-core
// L1d and L2, and the L3 the core shares. From the kernel's view in
// /sys/devices/system/cpu/cpu0/cache first; glibc's sysconf (cpuid decoding) only where sysfs
// says nothing, because in some VMs it reports an L3 that is not there (320 MiB for a 32 MiB
// one on the machine issue 10 was measured on). Read once, cached.
struct CacheSizes {
  std::int64_t l1d = 0, l2 = 0, l3 = 0;
  const char* source = "unknown";  // "/sys/devices/system/cpu/cpu0/cache", "sysconf" or "unknown"
};
const CacheSizes& cpu_cache_sizes();

}  // namespace reel::backends::cpu
