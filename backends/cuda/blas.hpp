#pragma once
// cuBLAS as the CUDA backend uses it: one handle per process, bound to reel's one stream, its
// error checking, and the TF32 switch for float32 matrix products. Host-only (compiled by the
// C++ compiler; cuBLAS's headers are plain C).
//
// The handle is created on first use, on the device that is current then (the stream's, see
// runtime.hpp), and never destroyed, like the stream: tensors may be released during static
// destruction, after the runtime is gone. Its settings are fixed at creation and never changed
// afterwards — stream(), CUBLAS_DEFAULT_MATH (no TF32 unless a call asks for it), no reduced
// precision split-K reductions, host pointer mode, atomics not allowed — so host threads may
// share it (cuBLAS is thread safe as long as nobody reconfigures a shared handle).
//
// Determinism: with one handle on one stream and atomics not allowed, cuBLAS's gemms give the
// same bits on every run for a given toolkit version, GPU architecture and SM count (cuBLAS's
// "Results reproducibility"); they may differ across GPUs or cuBLAS versions.
#include <cublas_v2.h>

namespace reel::backends::cuda {

// The process's cuBLAS handle, bound to stream().
cublasHandle_t blas_handle();

// Throws reel::Error "cuBLAS error in <what>: <description> (<status name>)" unless
// status == CUBLAS_STATUS_SUCCESS.
void check_cublas(cublasStatus_t status, const char* what);

// Whether float32 matrix products may use TF32 tensor cores (CUBLAS_COMPUTE_32F_FAST_TF32: inputs
// rounded to 10 mantissa bits, accumulation in float32). Process-wide, default false, as
// PyTorch's torch.backends.cuda.matmul.allow_tf32. Read at each call (a relaxed atomic), so a
// change applies to the products issued after it.
void set_allow_tf32_matmul(bool allow);
bool allow_tf32_matmul();

}  // namespace reel::backends::cuda
