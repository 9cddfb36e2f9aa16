// The CUDA backend's cuBLAS handle, cuBLAS error checking and the TF32 switch (blas.hpp says why
// the handle looks the way it does).
#include "backends/cuda/blas.hpp"

#include <atomic>

#include <cuda_runtime_api.h>

#include "backends/cuda/runtime.hpp"
#include "backends/error.hpp"

namespace reel::backends::cuda {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) [[likely]] return;
  // A failed launch inside cuBLAS may also sit in the runtime's last-error slot; clear it so the
  // next kernel launch check does not report it again under another op's name (as check_cuda).
  (void)cudaGetLastError();
  fail("cuBLAS error in {}: {} ({})", what, cublasGetStatusString(status),
       cublasGetStatusName(status));
}

namespace {

cublasHandle_t create_handle() {
  cublasHandle_t handle = nullptr;
  check_cublas(cublasCreate(&handle), "cublasCreate");
  try {
    check_cublas(cublasSetStream(handle, stream()), "cublasSetStream");
    // No TF32 for float32 (a call asks for it with CUBLAS_COMPUTE_32F_FAST_TF32), and no split-K
    // reductions whose partial sums are stored in the output's 16-bit type: float16 and
    // bfloat16 products accumulate in float32 and are rounded once.
    const auto math = static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                                CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
    check_cublas(cublasSetMathMode(handle, math), "cublasSetMathMode");
    // The defaults, spelled out because results depend on them: scalars (alpha, beta) are read
    // from host memory, and no routine may use atomics (which would make sums order-dependent).
    check_cublas(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
    check_cublas(cublasSetAtomicsMode(handle, CUBLAS_ATOMICS_NOT_ALLOWED),
                 "cublasSetAtomicsMode");
  } catch (...) {
    (void)cublasDestroy(handle);
    throw;
  }
  return handle;
}

std::atomic<bool> g_allow_tf32_matmul{false};

}  // namespace

cublasHandle_t blas_handle() {
  // A function-local static: created once, thread-safely; if creation throws, the next call
  // tries again. Never destroyed (see blas.hpp).
  static const cublasHandle_t handle = create_handle();
  return handle;
}

void set_allow_tf32_matmul(bool allow) {
  g_allow_tf32_matmul.store(allow, std::memory_order_relaxed);
}

bool allow_tf32_matmul() { return g_allow_tf32_matmul.load(std::memory_order_relaxed); }

}  // namespace reel::backends::cuda
