// The CUDA backend's batched matrix product, out[p] = a[p] @ b[p] (backend.hpp), host side.
//
// Which code computes it, by dtype:
// - float32, float64, complex64, complex128, float16, bfloat16: cuBLAS's strided batched gemm
//   (cublasGemmStridedBatchedEx). float16 and bfloat16 accumulate in float32
//   (CUBLAS_COMPUTE_32F) and round once, as PyTorch's; float32 never uses TF32 unless
//   cuda::set_allow_tf32_matmul(true) (blas.hpp), as PyTorch's default.
// - complex32: cuBLAS has no complex-half gemm, so a and b are widened into complex64 buffers,
//   multiplied as complex64 and the result rounded back once. The two copies cost O(MK + KN +
//   MN), nothing next to the O(MNK) product, and this is what Backend's generic 16-bit path (and
//   so the reference) does too.
// - the integer dtypes: our own tiled kernel (matmul.cu), bit for bit the reference's wrapping
//   arithmetic, on any strides.
//
// Layouts. cuBLAS is column-major, and a row-major matrix is the column-major storage of its
// transpose, so for the usual row-major output we ask cuBLAS for out^T = b^T @ a^T (a problem of
// N x M, not M x N); for a column-major output, for out = a @ b itself. Each input is then read
// in place, with op N or op T, as long as one of its two strides is 1 and the other a valid
// leading dimension (>= the extent it spans, so columns don't overlap, and an int): transposed
// and batch-broadcast (batch stride 0) inputs cost nothing. Any other input (sliced rows, a
// stride-0 row or column, a huge stride) is first copied into a contiguous temporary; any other
// output, or one that overlaps an input, is computed into a contiguous temporary and copied
// out. Temporaries come from the caching allocator and go back to it when the call returns:
// safe while the work is still queued, since everything (cuBLAS included) runs on one stream.
//
// cuBLAS takes int sizes: M, N and K above INT32_MAX raise a reel::Error naming the extent;
// batches above it are split into several calls.
//
// Determinism: cuBLAS gemm gives the same bits on every run for a fixed problem, GPU and
// cuBLAS version (blas.hpp); the integer kernel sums each dot product in a fixed order.
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include <cublas_v2.h>

#include "backends/checked_math.hpp"
#include "backends/cuda/allocator.hpp"
#include "backends/cuda/blas.hpp"
#include "backends/cuda/cuda_backend.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/matmul_launch.hpp"
#include "backends/cuda/runtime.hpp"

namespace reel::backends {

namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();

// The temporary device buffers of one call, given back to the caching allocator at its end.
class Temps {
 public:
  // A contiguous (row-major) view of `shape` and dtype `t` in a new buffer.
  View make(DType t, const Shape& shape) {
    View v{nullptr, t, shape, contiguous_strides(shape)};
    const auto bytes = checked_nbytes(numel_of(shape), element_size(t));
    check(bytes.has_value(), "matmul: a temporary {} buffer of shape {} is too large", t, shape);
    if (*bytes == 0) return v;
    check(count_ < kMaxBuffers, "matmul: internal error: more than {} temporaries", kMaxBuffers);
    buffers_[count_] = cuda::DeviceBuffer(*bytes);
    v.data = buffers_[count_++].get();
    return v;
  }

 private:
  static constexpr std::size_t kMaxBuffers = 3;  // a, b and out
  std::array<cuda::DeviceBuffer, kMaxBuffers> buffers_;
  std::size_t count_ = 0;
};

// Whether the bytes two views span (their first to their last element) intersect.
bool overlaps(const View& x, const View& y) {
  auto span = [](const View& v) {
    std::int64_t last = 0;
    for (int d = 0; d < v.shape.size(); ++d) last += (v.shape[d] - 1) * v.strides[d];
    const auto first = reinterpret_cast<std::uintptr_t>(v.data);
    const auto end = first + static_cast<std::uintptr_t>(last + 1) * element_size(v.dtype);
    return std::array<std::uintptr_t, 2>{first, end};
  };
  const auto sx = span(x), sy = span(y);
  return sx[0] < sy[1] && sy[0] < sx[1];
}

// How cuBLAS reads one matrix: transposed or not, and its leading dimension.
struct BlasMatrix {
  cublasOperation_t op = CUBLAS_OP_N;
  std::int64_t ld = 1;
};

// How cuBLAS (column-major) can read the rows x cols matrix whose element (r, c) sits at
// r * row_stride + c * col_stride: as itself, column-major with leading dimension col_stride
// (op N), or — when allowed, which it is for inputs only — as the transpose (op T) of the
// column-major cols x rows matrix with leading dimension row_stride, i.e. a row-major matrix.
// The stride of an extent-1 dim is never used, so it may be anything. cuBLAS wants a leading
// dimension >= max(1, rows of the stored matrix) (which also rules out overlapping columns and
// stride-0 broadcasts) and an int. nullopt: neither works, the matrix must be copied first.
std::optional<BlasMatrix> blas_matrix(std::int64_t rows, std::int64_t cols,
                                      std::int64_t row_stride, std::int64_t col_stride,
                                      bool allow_transposed) {
  if (rows == 1 || row_stride == 1) {
    const std::int64_t min_ld = std::max<std::int64_t>(rows, 1);
    const std::int64_t ld = cols == 1 ? min_ld : col_stride;
    if (ld >= min_ld && ld <= kIntMax) return BlasMatrix{CUBLAS_OP_N, ld};
  }
  if (allow_transposed && (cols == 1 || col_stride == 1)) {
    const std::int64_t min_ld = std::max<std::int64_t>(cols, 1);
    const std::int64_t ld = rows == 1 ? min_ld : row_stride;
    if (ld >= min_ld && ld <= kIntMax) return BlasMatrix{CUBLAS_OP_T, ld};
  }
  return std::nullopt;
}

// The matrix of a 3-d view [batch, d1, d2] whose rows run along dim `row_dim` and columns along
// the other inner dim (row_dim 2: the transpose of each matrix).
std::optional<BlasMatrix> blas_matrix_of(const View& v, int row_dim, bool allow_transposed) {
  const int col_dim = 3 - row_dim;
  return blas_matrix(v.shape[row_dim], v.shape[col_dim], v.strides[row_dim], v.strides[col_dim],
                     allow_transposed);
}

// cuBLAS's element and compute types for a dtype. float32 may use TF32 when allowed; complex64
// never does (PyTorch's switch covers float32 only here, and so does ours).
struct BlasType {
  cudaDataType data;
  cublasComputeType_t compute;
  // alpha = 1 and beta = 0 in the scalar type of `compute` (float or double, complex for
  // complex data), in host memory (the handle's pointer mode).
  const void* one;
  const void* zero;
};

BlasType blas_type(DType t) {
  static const float f32[2] = {1.0f, 0.0f};
  static const double f64[2] = {1.0, 0.0};
  static const cuComplex c64[2] = {{1.0f, 0.0f}, {0.0f, 0.0f}};
  static const cuDoubleComplex c128[2] = {{1.0, 0.0}, {0.0, 0.0}};
  switch (t) {
    case DType::Float32:
      return {CUDA_R_32F,
              cuda::allow_tf32_matmul() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
              &f32[0], &f32[1]};
    case DType::Float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F, &f32[0], &f32[1]};
    case DType::BFloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, &f32[0], &f32[1]};
    case DType::Float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F, &f64[0], &f64[1]};
    case DType::Complex64: return {CUDA_C_32F, CUBLAS_COMPUTE_32F, &c64[0], &c64[1]};
    case DType::Complex128: return {CUDA_C_64F, CUBLAS_COMPUTE_64F, &c128[0], &c128[1]};
    default: break;
  }
  fail("matmul: internal error: dtype {} has no cuBLAS gemm", t);
}

// One operand of the gemm as cuBLAS takes it.
struct GemmOperand {
  const View* view;
  BlasMatrix layout;
};

// C[p] = op(A[p]) @ op(B[p]) for every p of the batch, C being (rows x cols) = (m x n) and the
// inner extent k, all > 0 and <= INT32_MAX. Batches beyond INT32_MAX are split.
void gemm_strided_batched(DType t, std::int64_t m, std::int64_t n, std::int64_t k,
                          std::int64_t batch, const GemmOperand& a, const GemmOperand& b,
                          const GemmOperand& c) {
  const BlasType bt = blas_type(t);
  const auto elem = static_cast<std::int64_t>(element_size(t));
  const std::int64_t sa = a.view->strides[0], sb = b.view->strides[0], sc = c.view->strides[0];
  for (std::int64_t p0 = 0; p0 < batch; p0 += kIntMax) {
    const std::int64_t count = std::min(kIntMax, batch - p0);
    const auto* pa = static_cast<const char*>(a.view->data) + p0 * sa * elem;
    const auto* pb = static_cast<const char*>(b.view->data) + p0 * sb * elem;
    auto* pc = static_cast<char*>(c.view->data) + p0 * sc * elem;
    cuda::check_cublas(
        cublasGemmStridedBatchedEx(
            cuda::blas_handle(), a.layout.op, b.layout.op, static_cast<int>(m),
            static_cast<int>(n), static_cast<int>(k), bt.one, pa, bt.data,
            static_cast<int>(a.layout.ld), static_cast<long long>(sa), pb, bt.data,
            static_cast<int>(b.layout.ld), static_cast<long long>(sb), bt.zero, pc, bt.data,
            static_cast<int>(c.layout.ld), static_cast<long long>(sc), static_cast<int>(count),
            bt.compute, CUBLAS_GEMM_DEFAULT),
        "matmul (cublasGemmStridedBatchedEx)");
  }
}

}  // namespace

void CudaBackend::matmul_impl(const View& out, const View& a, const View& b) {
  cuda::check_view(out, "matmul", "out");
  cuda::check_view(a, "matmul", "the first input");
  cuda::check_view(b, "matmul", "the second input");
  // Backend::matmul has checked the shapes: [B, M, K] @ [B, K, N] -> [B, M, N].
  const std::int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
  const DType t = out.dtype;

  if (batch == 0 || m == 0 || n == 0) return;
  if (k == 0) {  // empty sums: zeros, whatever cuBLAS would make of k == 0
    fill_impl(out, Scalar(std::int64_t{0}));
    return;
  }

  if (is_integral(t, /*include_bool=*/false)) {
    cuda::MatmulGeometry g;
    g.batch = batch;
    g.m = m;
    g.n = n;
    g.k = k;
    for (int d = 0; d < 3; ++d) {
      g.out_strides[d] = out.strides[d];
      g.a_strides[d] = a.strides[d];
      g.b_strides[d] = b.strides[d];
    }
    cuda::check_cuda(cuda::launch_matmul_integer(t, out.data, a.data, b.data, g, cuda::stream()),
                     "matmul (kernel launch)");
    return;
  }

  Temps temps;
  // A contiguous copy of an input, converted to dtype `to`. A batch-broadcast input (batch
  // stride 0) is copied once and its copy broadcast the same way.
  auto contiguous_copy = [&](const View& v, DType to) {
    const bool shared = v.shape[0] == 1 || v.strides[0] == 0;
    View src = v;
    if (shared) src.shape[0] = 1;
    View copy = temps.make(to, src.shape);
    copy_impl(copy, src);
    copy.shape[0] = v.shape[0];
    if (shared) copy.strides[0] = 0;
    return copy;
  };

  if (t == kComplex32) {
    const View a64 = contiguous_copy(a, kComplex64);
    const View b64 = contiguous_copy(b, kComplex64);
    const View out64 = temps.make(kComplex64, out.shape);
    matmul_impl(out64, a64, b64);
    copy_impl(out, out64);  // rounds to complex32 once
    return;
  }

  check(m <= kIntMax && n <= kIntMax && k <= kIntMax,
        "matmul: {} @ {}: M = {}, K = {}, N = {}; cuBLAS supports extents of at most {}",
        a.shape, b.shape, m, k, n, kIntMax);

  // The output: out^T (row_dim 2) when out's rows are contiguous, out itself (row_dim 1) when
  // its columns are; otherwise, or when it overlaps an input, a row-major temporary.
  const View* c = &out;
  int row_dim = 2;
  std::optional<BlasMatrix> c_layout;
  const bool aliased = overlaps(out, a) || overlaps(out, b);
  if (!aliased) {
    c_layout = blas_matrix_of(out, 2, /*allow_transposed=*/false);
    if (!c_layout) {
      c_layout = blas_matrix_of(out, 1, /*allow_transposed=*/false);
      row_dim = 1;
    }
  }
  View c_temp;
  if (!c_layout) {
    c_temp = temps.make(t, out.shape);
    c = &c_temp;
    row_dim = 2;
    c_layout = blas_matrix_of(c_temp, row_dim, false);
  }

  // The inputs: out^T = b^T @ a^T, or out = a @ b; each read in place when cuBLAS can.
  View x = row_dim == 2 ? b : a;
  View y = row_dim == 2 ? a : b;
  std::optional<BlasMatrix> x_layout = blas_matrix_of(x, row_dim, /*allow_transposed=*/true);
  if (!x_layout) {
    x = contiguous_copy(x, t);
    x_layout = blas_matrix_of(x, row_dim, true);
  }
  std::optional<BlasMatrix> y_layout = blas_matrix_of(y, row_dim, /*allow_transposed=*/true);
  if (!y_layout) {
    y = contiguous_copy(y, t);
    y_layout = blas_matrix_of(y, row_dim, true);
  }
  // A contiguous matrix always has a layout (its extents are <= INT32_MAX, checked above).
  check(c_layout && x_layout && y_layout,
        "matmul: internal error: no cuBLAS layout for {} @ {} -> {} (strides {}, {}, {})",
        a.shape, b.shape, out.shape, a.strides, b.strides, out.strides);

  const std::int64_t rows = row_dim == 2 ? n : m, cols = row_dim == 2 ? m : n;
  gemm_strided_batched(t, rows, cols, k, batch, {&x, *x_layout}, {&y, *y_layout},
                       {c, *c_layout});
  if (c != &out) copy_impl(out, *c);
}

}  // namespace reel::backends
