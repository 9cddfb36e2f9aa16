// The batched matrix product for the integer dtypes, which cuBLAS has no gemm for (the floating
// and complex dtypes go to cuBLAS in matmul.cpp).
//
// A classic shared-memory tiled kernel: a 16x16 block computes one 16x16 tile of one output
// matrix, walking K in steps of 16; each step loads a 16x16 tile of a and one of b into shared
// memory (zeros past the edges), then every thread adds 16 products to its own sum. Any strides
// are read directly (transposed, sliced, broadcast), so no operand is ever copied. Grid-stride
// loops over tiles and batches keep any size within CUDA's grid limits.
//
// Integers wrap around as the reference's (element_math.hpp): there, each product and each
// partial sum is truncated to T; here everything runs in uint64 and is truncated once at the
// end. Both are arithmetic modulo 2^bits(T), where truncation commutes with + and *, so the
// results are the same bits. Unsigned arithmetic also keeps overflow defined.
#include "backends/cuda/device_utils.cuh"
#include "backends/cuda/matmul_launch.hpp"

namespace reel::backends::cuda {

namespace {

constexpr int kTile = 16;

template <typename T>
__global__ void matmul_integer_kernel(MatmulGeometry g, T* out, const T* a, const T* b) {
  __shared__ std::uint64_t a_tile[kTile][kTile];  // a[p, i0 + row, q0 + col]
  __shared__ std::uint64_t b_tile[kTile][kTile];  // b[p, q0 + row, j0 + col]
  const int tx = static_cast<int>(threadIdx.x);   // column within the tile
  const int ty = static_cast<int>(threadIdx.y);   // row within the tile
  const std::int64_t m_tiles = (g.m + kTile - 1) / kTile;
  const std::int64_t n_tiles = (g.n + kTile - 1) / kTile;
  // Every loop bound below depends on the block only, so all threads of a block run the same
  // iterations and reach each __syncthreads() together.
  for (std::int64_t p = blockIdx.z; p < g.batch; p += gridDim.z) {
    const T* pa = a + p * g.a_strides[0];
    const T* pb = b + p * g.b_strides[0];
    for (std::int64_t ti = blockIdx.y; ti < m_tiles; ti += gridDim.y) {
      for (std::int64_t tj = blockIdx.x; tj < n_tiles; tj += gridDim.x) {
        const std::int64_t i = ti * kTile + ty;
        const std::int64_t j = tj * kTile + tx;
        std::uint64_t acc = 0;
        for (std::int64_t q0 = 0; q0 < g.k; q0 += kTile) {
          const std::int64_t qa = q0 + tx;  // a's column this thread loads
          const std::int64_t qb = q0 + ty;  // b's row this thread loads
          a_tile[ty][tx] = i < g.m && qa < g.k
                               ? math::bits(pa[i * g.a_strides[1] + qa * g.a_strides[2]])
                               : std::uint64_t{0};
          b_tile[ty][tx] = qb < g.k && j < g.n
                               ? math::bits(pb[qb * g.b_strides[1] + j * g.b_strides[2]])
                               : std::uint64_t{0};
          __syncthreads();
          REEL_UNROLL
          for (int q = 0; q < kTile; ++q) acc += a_tile[ty][q] * b_tile[q][tx];
          __syncthreads();  // the tiles are overwritten by the next step
        }
        if (i < g.m && j < g.n) {
          out[p * g.out_strides[0] + i * g.out_strides[1] + j * g.out_strides[2]] =
              math::wrap<T>(acc);
        }
      }
    }
  }
}

// CUDA's limit on gridDim.y and gridDim.z (x allows more, but the loops above need no more).
constexpr std::int64_t kMaxGridDim = 65535;

unsigned grid_extent(std::int64_t n) {
  return static_cast<unsigned>(n < kMaxGridDim ? n : kMaxGridDim);
}

}  // namespace

cudaError_t launch_matmul_integer(DType type, void* out, const void* a, const void* b,
                                  const MatmulGeometry& g, cudaStream_t stream) {
  if (g.batch <= 0 || g.m <= 0 || g.n <= 0 || g.k < 0) return cudaErrorInvalidValue;
  return visit_elem(type, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (math::kIsInteger<T>) {
      const dim3 block(kTile, kTile);
      const dim3 grid(grid_extent((g.n + kTile - 1) / kTile),
                      grid_extent((g.m + kTile - 1) / kTile), grid_extent(g.batch));
      matmul_integer_kernel<T><<<grid, block, 0, stream>>>(g, static_cast<T*>(out),
                                                          static_cast<const T*>(a),
                                                          static_cast<const T*>(b));
      return cudaGetLastError();
    } else {
      return cudaErrorNotSupported;
    }
  });
}

}  // namespace reel::backends::cuda
