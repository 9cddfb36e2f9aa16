#pragma once
// The CPU backend's matrix product on strided float32/float64 matrices: packed, cache-blocked
// and register-blocked (the BLIS scheme), threaded over blocks of C or over the batch. Used by
// CpuBackend::matmul and free for other kernels (conv1d) to call.
#include <cstdint>
#include <functional>

namespace reel::backends::cpu {

// A strided matrix: element (i, j) is at data[i * row_stride + j * col_stride].
template <class T>
struct MatrixRef {
  T* data;
  std::int64_t row_stride;
  std::int64_t col_stride;
};

// C[m, n] = A[m, k] @ B[k, n] (overwrites C; k == 0 gives zeros). C must not overlap A or B.
template <class T>
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, MatrixRef<const T> a,
          MatrixRef<const T> b, MatrixRef<T> c);

// Below this many multiply-adds one thread beats waking the pool.
inline constexpr std::int64_t kParallelMacs = 1 << 18;

// Runs one(p) for p < batch, each a product of `macs` multiply-adds: over the pool's threads when
// the batch shares out evenly or each product is too small to split (a gemm inside a pool task
// then runs single-threaded on its own packing buffers), else in order. batched_gemm's and
// batched_gemm_bf16's batch loop.
void for_each_batch(std::int64_t batch, std::int64_t macs,
                    const std::function<void(std::int64_t)>& one);

// For p < batch: C_p = A_p @ B_p, where X_p starts at X.data + p * x_batch_stride (a batch
// stride of 0 broadcasts one matrix; C's must not be 0 when batch > 1).
template <class T>
void batched_gemm(std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
                  MatrixRef<const T> a, std::int64_t a_batch_stride, MatrixRef<const T> b,
                  std::int64_t b_batch_stride, MatrixRef<T> c, std::int64_t c_batch_stride);

extern template void gemm<float>(std::int64_t, std::int64_t, std::int64_t, MatrixRef<const float>,
                                 MatrixRef<const float>, MatrixRef<float>);
extern template void gemm<double>(std::int64_t, std::int64_t, std::int64_t,
                                  MatrixRef<const double>, MatrixRef<const double>,
                                  MatrixRef<double>);
extern template void batched_gemm<float>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                         MatrixRef<const float>, std::int64_t,
                                         MatrixRef<const float>, std::int64_t, MatrixRef<float>,
                                         std::int64_t);
extern template void batched_gemm<double>(std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                          MatrixRef<const double>, std::int64_t,
                                          MatrixRef<const double>, std::int64_t,
                                          MatrixRef<double>, std::int64_t);

}  // namespace reel::backends::cpu
