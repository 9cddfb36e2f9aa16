#pragma once
// The seam between matmul.cpp (host side, C++ compiler) and matmul.cu (nvcc): the launcher of
// the integer matrix-product kernel, the dtypes cuBLAS has no gemm for. Plain types only, as
// launch.hpp; the launcher never throws.
#include <cstdint>

#include <cuda_runtime_api.h>

#include "backends/dtype_core.hpp"

namespace reel::backends::cuda {

// out[p, i, j] = sum_q a[p, i, q] * b[p, q, j] for p < batch, i < m, j < n, q < k. Strides are
// in elements, in (batch, row, column) order, any value >= 0 (0: broadcast).
struct MatmulGeometry {
  std::int64_t batch = 0, m = 0, n = 0, k = 0;
  std::int64_t out_strides[3] = {};
  std::int64_t a_strides[3] = {};
  std::int64_t b_strides[3] = {};
};

// The batched product for the integer dtypes (uint8, int8, int16, int32, int64) in wrapping
// two's complement arithmetic, bit for bit the reference's. batch, m, n > 0 (k may be 0: zeros).
// Returns cudaErrorNotSupported for any other dtype.
cudaError_t launch_matmul_integer(DType type, void* out, const void* a, const void* b,
                                  const MatmulGeometry& g, cudaStream_t stream);

}  // namespace reel::backends::cuda
