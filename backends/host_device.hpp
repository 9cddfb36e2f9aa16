#pragma once
// REEL_HD marks a function that the CUDA kernels call too: __host__ __device__ under nvcc,
// nothing for the C++ compiler. The shared per-element code (element_math.hpp, philox.hpp,
// kernel_params.hpp, optim_math.hpp) uses it.
#if defined(__CUDACC__)
#define REEL_HD __host__ __device__
#else
#define REEL_HD
#endif
