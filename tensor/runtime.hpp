#pragma once
// Process-wide settings: CPU threads, deterministic algorithms, CUDA presence.
#include <cstddef>
#include <cstdint>

namespace reel {

// Threads used by the CPU backend (default: the number of cores).
void set_num_threads(int n);
int get_num_threads();

// torch.use_deterministic_algorithms: with mode on, no op picks an algorithm whose rounding
// differs from plain summation because a heuristic thought it faster. On the CPU that pins
// Conv1d's choice to the direct-summation algorithms (im2col + gemm, implicit gemm, direct; each
// output a chain of FMAs over (channel, tap)), never the FFT path for long kernels or the
// polyphase path for strided convolutions, whatever the cost model would pick
// (docs/training.md, "Determinism"). Off by default, as in PyTorch. Results may still differ
// across thread counts and SIMD levels, as docs/training.md says.
void use_deterministic_algorithms(bool mode);
bool are_deterministic_algorithms_enabled();

namespace cuda {
// True when reel was built with CUDA and a GPU is present.
bool is_available();
int device_count();
void synchronize();
// The caching allocator (torch.cuda.memory_allocated / memory_reserved / empty_cache): bytes
// held by tensors, bytes held from CUDA (allocated + cached free blocks), and handing the
// cached blocks back to CUDA. 0, 0 and a no-op without CUDA.
std::size_t memory_allocated();
std::size_t memory_reserved();
void empty_cache();
// torch.backends.cuda.matmul.allow_tf32: float32 matmul on TF32 tensor cores (10-bit mantissa
// inputs, float32 accumulation). Off by default, as in PyTorch >= 1.12.
void set_allow_tf32(bool allow);
bool allow_tf32();
// torch.backends.cudnn.allow_tf32: float32 convolutions through cuDNN may use TF32 tensor
// cores. On by default, as in PyTorch; reel's own conv1d kernels (depthwise, short causal,
// complex and integer-free fallbacks) always compute in float32 or wider.
void set_allow_tf32_conv(bool allow);
bool allow_tf32_conv();
// torch.backends.cudnn.benchmark: time cuDNN's algorithms once per conv1d shape and keep the
// fastest (off by default: cuDNN's heuristic choice). Ignored under
// use_deterministic_algorithms(true), which keeps to deterministic algorithms.
void set_cudnn_benchmark(bool on);
bool cudnn_benchmark();
}  // namespace cuda

}  // namespace reel
