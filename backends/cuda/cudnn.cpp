// conv1d on cuDNN: the CUDA backend's algorithm for dense and grouped convolutions (conv1d.cpp
// chooses it; depthwise convolutions run on reel's own kernels, which are faster there).
//
// Why cuDNN. A dense convolution is a matrix product in disguise (Cin*K products per output),
// and cuDNN has tuned implicit-gemm, Winograd and FFT kernels for every GPU generation, with
// tensor cores for float16/bfloat16 (and TF32 for float32 when allowed). reel's own direct
// kernels are the fallback for what cuDNN does not take: complex dtypes, strided views, sizes
// beyond int32, builds without cuDNN (CMake option REEL_CUDNN; then every function here returns
// false).
//
// 1-d as 2-d. cuDNN's legacy API is 2-d (NCHW). A row of length L is an image of height 1:
//   x [N, Cin, L]           -> tensor [N, Cin, 1, L]
//   w [Cout, Cin/G, K]      -> filter [Cout, Cin/G, 1, K]   (cuDNN's grouped filter layout)
//   y [N, Cout, Lout]       -> tensor [N, Cout, 1, Lout]
// and the convolution has padding (0, pad), stride (1, stride), dilation (1, dilation), G
// groups, CUDNN_CROSS_CORRELATION (what deep learning calls convolution: no kernel flip). The
// views are contiguous, so their memory is exactly cuDNN's packed NCHW layout.
//
// Asymmetric padding. cuDNN pads both sides by the same amount; reel's conv1d may not (causal
// convolutions pad K-1 on the left only, 'same' with an even kernel one more on the right).
// Output t reads input positions [t*stride - pad_left, t*stride - pad_left + span), span =
// dilation*(K-1) + 1, so all outputs together read the window [-pad_left, hi) with
//   hi = (Lout-1)*stride + span - pad_left    (<= L + pad_right).
//   1. Directly, when running on x with symmetric padding pad_left gives exactly Lout outputs:
//      output t then starts where reel's does, and what it reads past the end of x is zero in
//      both. This covers pad_left == pad_right, and a right pad no output reaches.
//   2. Otherwise on a zero-padded copy of the window. With r = max(0, hi - L) the right pad
//      actually read, cuDNN adds P = min(pad_left, r) zeros on each side and the copy holds the
//      rest: pad_left - P zeros, x's positions [0, min(L, hi - P)) (trailing positions no output
//      reads are dropped), zeros up to its length pad_left + hi - 2P. cuDNN's padded row is then
//      pad_left + hi = (Lout-1)*stride + span long, which gives exactly Lout outputs, each
//      starting where reel's does. (Checked against cudnnGetConvolution2dForwardOutputDim on
//      every call.) The backward of the input computes the copy's gradient into a temporary
//      and keeps the slice that holds x (positions of x the copy dropped get zero: no output
//      read them); the backward of the weight reads the same copy as the forward.
//
// The plan cache. Which algorithms cuDNN may run is worked out once per problem — pass, dtype,
// every size, the parameters, the math type (TF32 or not), use_deterministic_algorithms and the
// benchmark flag — and cached with their workspace sizes (cudnn_clear_plans drops them):
//   benchmark off (default)  cudnnGet*Algorithm_v7: cuDNN's heuristics rank the algorithms
//                            without running anything.
//   benchmark on             cudnnFind*AlgorithmEx: times every algorithm on this problem
//                            (torch.backends.cudnn.benchmark). Not while the stream is being
//                            captured into a CUDA graph (timing synchronizes): then the
//                            heuristics rank, and nothing is cached for that key.
// The plan keeps, in cuDNN's order, the algorithms that succeeded, are deterministic when
// use_deterministic_algorithms(true) asks for it (cuDNN's backward-data ALGO_0 and
// backward-filter ALGO_0 and ALGO_3 add with atomics), and keep the precision asked for (no TF32
// unless allowed, never a float16 conversion of float32 data). A call runs the first whose
// workspace (a DeviceBuffer per call: the caching allocator makes that cheap) can be allocated;
// one that cuDNN refuses at execution after all (NOT_SUPPORTED) is dropped from the plan. With
// none left, the problem is not cuDNN's and reel's kernels run.
//
// One cuDNN handle, bound to reel's stream, created on first use and never destroyed (like the
// stream and the allocator: buffers may be released during static destruction). A cuDNN handle
// must not be used by two threads at once, so one mutex covers the plan cache and every cuDNN
// call; all of reel's CUDA work is ordered on one stream anyway, so nothing runs less parallel.
#include "backends/cuda/cudnn.hpp"

#if REEL_WITH_CUDNN

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "backends/cuda/allocator.hpp"
#include "backends/cuda/host_utils.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/runtime.hpp"
#include "backends/error.hpp"

namespace reel::backends::cuda {

namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<std::int32_t>::max();
constexpr std::size_t kMaxWorkspace = std::size_t{1} << 40;  // 1 TiB: see choose_plan

// "conv1d (cuDNN): cudnnConvolutionForward failed: <description> (status N)".
void check_cudnn(cudnnStatus_t status, const char* op, const char* call) {
  if (status == CUDNN_STATUS_SUCCESS) [[likely]] return;
  // A failed launch inside cuDNN may also sit in the runtime's last-error slot; clear it so the
  // next kernel launch check does not report it again under another op's name (as check_cuda).
  (void)cudaGetLastError();
  fail("{} (cuDNN): {} failed: {} (status {})", op, call, cudnnGetErrorString(status),
       static_cast<int>(status));
}

// --- the handle ----------------------------------------------------------------------------

cudnnHandle_t create_handle() {
  cudnnHandle_t handle = nullptr;
  check_cudnn(cudnnCreate(&handle), "conv1d", "cudnnCreate");
  const cudnnStatus_t status = cudnnSetStream(handle, stream());
  if (status != CUDNN_STATUS_SUCCESS) {
    (void)cudnnDestroy(handle);
    check_cudnn(status, "conv1d", "cudnnSetStream");
  }
  return handle;
}

// Created once (thread-safely) by cudnn_available()'s probe; never destroyed.
cudnnHandle_t handle() {
  static const cudnnHandle_t h = create_handle();
  return h;
}

bool probe() {
  if (device_count() == 0) return false;
  // libcudnn.so is only a dispatcher: the convolutions live in libcudnn_ops and libcudnn_cnn,
  // which it loads on first use. The version checks load them now (and compare their versions
  // with the dispatcher's), so a missing sub-library means "no cuDNN", not an error at the
  // first convolution.
  if (cudnnOpsVersionCheck() != CUDNN_STATUS_SUCCESS) return false;
  if (cudnnCnnVersionCheck() != CUDNN_STATUS_SUCCESS) return false;
  try {
    (void)handle();
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// --- descriptors (RAII) --------------------------------------------------------------------

// One cuDNN descriptor, created in the constructor and destroyed in the destructor; the three
// kinds below add their set().
template <typename Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class Descriptor {
 public:
  Descriptor(const char* op, const char* create_call) : op_(op) {
    check_cudnn(Create(&desc_), op, create_call);
  }
  ~Descriptor() { (void)Destroy(desc_); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  Handle get() const { return desc_; }

 protected:
  const char* op_;
  Handle desc_ = nullptr;
};

class TensorDesc : public Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor,
                                     cudnnDestroyTensorDescriptor> {
 public:
  explicit TensorDesc(const char* op) : Descriptor(op, "cudnnCreateTensorDescriptor") {}
  // A packed NCHW tensor (sizes checked to fit int by the caller).
  void set(cudnnDataType_t type, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
    check_cudnn(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, type, static_cast<int>(n),
                                           static_cast<int>(c), static_cast<int>(h),
                                           static_cast<int>(w)),
                op_, "cudnnSetTensor4dDescriptor");
  }
};

class FilterDesc : public Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor,
                                     cudnnDestroyFilterDescriptor> {
 public:
  explicit FilterDesc(const char* op) : Descriptor(op, "cudnnCreateFilterDescriptor") {}
  // [out channels, in channels per group, h, w], packed.
  void set(cudnnDataType_t type, std::int64_t k, std::int64_t c, std::int64_t h, std::int64_t w) {
    check_cudnn(cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NCHW, static_cast<int>(k),
                                           static_cast<int>(c), static_cast<int>(h),
                                           static_cast<int>(w)),
                op_, "cudnnSetFilter4dDescriptor");
  }
};

class ConvDesc : public Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                                   cudnnDestroyConvolutionDescriptor> {
 public:
  explicit ConvDesc(const char* op) : Descriptor(op, "cudnnCreateConvolutionDescriptor") {}
  // The 1-d convolution along W: padding (0, pad), stride (1, stride), dilation (1, dilation).
  void set(std::int64_t pad, std::int64_t stride, std::int64_t dilation, std::int64_t groups,
           cudnnDataType_t compute) {
    check_cudnn(cudnnSetConvolution2dDescriptor(desc_, 0, static_cast<int>(pad), 1,
                                                static_cast<int>(stride), 1,
                                                static_cast<int>(dilation),
                                                CUDNN_CROSS_CORRELATION, compute),
                op_, "cudnnSetConvolution2dDescriptor");
    check_cudnn(cudnnSetConvolutionGroupCount(desc_, static_cast<int>(groups)), op_,
                "cudnnSetConvolutionGroupCount");
  }
  // cuDNN picks tensor-core kernels or not by the algorithm *and* the descriptor's math type,
  // so every algorithm runs with the math type cuDNN reported for it.
  void set_math(cudnnMathType_t math) {
    check_cudnn(cudnnSetConvolutionMathType(desc_, math), op_, "cudnnSetConvolutionMathType");
  }
};

// --- types -----------------------------------------------------------------------------------

struct Types {
  cudnnDataType_t data;     // the tensors' element type
  cudnnDataType_t compute;  // what the products accumulate in
  cudnnMathType_t math;     // the math type asked for (the plan may narrow it, see ConvDesc)
};

// float16/bfloat16 accumulate in float32 (cuDNN's "pseudo half" configuration), on tensor
// cores. float32 may use TF32 tensor cores (CUDNN_DEFAULT_MATH) only when allowed
// (reel::cuda::set_allow_tf32_conv, default on as torch.backends.cudnn.allow_tf32); else FMA
// kernels only. float64 is computed in float64.
std::optional<Types> types_of(DType t) {
  switch (t) {
    case DType::Float32:
      return Types{CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                   cuda_allow_tf32_conv() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH};
    case DType::Float64: return Types{CUDNN_DATA_DOUBLE, CUDNN_DATA_DOUBLE, CUDNN_FMA_MATH};
    case DType::Float16: return Types{CUDNN_DATA_HALF, CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH};
    case DType::BFloat16:
      return Types{CUDNN_DATA_BFLOAT16, CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH};
    default: return std::nullopt;
  }
}

// alpha and beta are read as the compute type's host type: double for CUDNN_DATA_DOUBLE, float
// for the rest (cuDNN's rule; for cudnnAddTensor and the bias gradient, whose "compute type"
// is the data type, that gives the same: double tensors only compute in double here).
const void* scaling(cudnnDataType_t compute, int value /* 0 or 1 */) {
  static const float as_float[2] = {0.0f, 1.0f};
  static const double as_double[2] = {0.0, 1.0};
  return compute == CUDNN_DATA_DOUBLE ? static_cast<const void*>(&as_double[value])
                                      : static_cast<const void*>(&as_float[value]);
}

bool contiguous(const View& v) { return is_contiguous_layout(v.shape, v.strides); }

// The product of non-negative sizes is at most INT32_MAX (no int64 overflow on the way).
bool numel_fits_int(std::initializer_list<std::int64_t> sizes) {
  std::int64_t n = 1;
  for (const std::int64_t s : sizes) {
    if (s != 0 && n > kIntMax / s) return false;
    n *= s;
  }
  return true;
}

// --- geometry: how the 1-d problem maps onto cuDNN's symmetric 2-d one -------------------------

struct Geometry {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, length = 0, out_length = 0;
  std::int64_t kernel = 0, stride = 1, dilation = 1, groups = 1;
  std::int64_t pad = 0;            // the zeros cuDNN adds on each side
  bool padded_copy = false;        // cuDNN reads a zero-padded copy of the input, not x itself
  std::int64_t copy_left = 0;      // the copy's zeros ahead of x's first position
  std::int64_t copy_used = 0;      // x's positions the copy holds: [0, copy_used)
  std::int64_t copy_length = 0;    // the copy's length
  // The input length cuDNN sees (x's or the copy's).
  std::int64_t conv_length() const { return padded_copy ? copy_length : length; }
};

// The mapping of the file comment, or nullopt when cuDNN cannot take the problem (a size beyond
// int32, an empty dimension cuDNN's descriptors reject).
std::optional<Geometry> geometry(std::int64_t batch, std::int64_t in_channels,
                                 std::int64_t out_channels, std::int64_t length,
                                 std::int64_t out_length, std::int64_t kernel,
                                 const Conv1dParams& p) {
  for (const std::int64_t v : {batch, in_channels, out_channels, length, out_length, kernel,
                               p.stride, p.pad_left, p.pad_right, p.dilation, p.groups}) {
    if (v < 0 || v > kIntMax) return std::nullopt;
  }
  if (p.groups < 1 || p.stride < 1 || p.dilation < 1) return std::nullopt;
  Geometry g;
  g.batch = batch;
  g.in_channels = in_channels;
  g.out_channels = out_channels;
  g.length = length;
  g.out_length = out_length;
  g.kernel = kernel;
  g.stride = p.stride;
  g.dilation = p.dilation;
  g.groups = p.groups;
  const std::int64_t in_per_group = in_channels / p.groups;
  if (batch < 1 || in_per_group < 1 || out_channels < 1 || out_length < 1 || kernel < 1) {
    return std::nullopt;
  }
  if (!numel_fits_int({batch, in_channels, length}) ||
      !numel_fits_int({batch, out_channels, out_length}) ||
      !numel_fits_int({out_channels, in_per_group, kernel})) {
    return std::nullopt;
  }
  // Every size and parameter is below 2^31, so no product or sum below overflows int64.
  const std::int64_t span = p.dilation * (kernel - 1) + 1;  // input positions one output reads
  // 1. Directly on x with symmetric padding pad_left, when that gives exactly Lout outputs.
  const std::int64_t direct = length + 2 * p.pad_left - span;  // cuDNN's padded row minus span
  if (length >= 1 && direct >= 0 && direct / p.stride + 1 == out_length) {
    g.pad = p.pad_left;
    return g;
  }
  // 2. On a zero-padded copy of the window [-pad_left, hi) that the outputs read.
  const std::int64_t hi = (out_length - 1) * p.stride + span - p.pad_left;
  const std::int64_t right = std::max<std::int64_t>(0, hi - length);  // right pad actually read
  g.padded_copy = true;
  g.pad = std::min(p.pad_left, right);
  g.copy_left = p.pad_left - g.pad;
  g.copy_length = p.pad_left + hi - 2 * g.pad;
  g.copy_used = std::clamp<std::int64_t>(hi - g.pad, 0, length);
  if (g.copy_length < 1 || !numel_fits_int({batch, in_channels, g.copy_length})) {
    return std::nullopt;
  }
  return g;
}

// --- one convolution's descriptors ---------------------------------------------------------

struct Conv {
  const char* op;
  Geometry g;
  Types t;
  TensorDesc x;  // [N, Cin, 1, conv_length]: the input, or the padded copy
  FilterDesc w;  // [Cout, Cin/G, 1, K]
  TensorDesc y;  // [N, Cout, 1, Lout]
  ConvDesc conv;

  Conv(const char* op_name, const Geometry& geo, const Types& types)
      : op(op_name), g(geo), t(types), x(op_name), w(op_name), y(op_name), conv(op_name) {
    x.set(t.data, g.batch, g.in_channels, 1, g.conv_length());
    w.set(t.data, g.out_channels, g.in_channels / g.groups, 1, g.kernel);
    y.set(t.data, g.batch, g.out_channels, 1, g.out_length);
    conv.set(g.pad, g.stride, g.dilation, g.groups, t.compute);
    conv.set_math(t.math);
    // The mapping's promise: cuDNN's output is exactly y's shape.
    int n = 0, c = 0, h = 0, l = 0;
    check_cudnn(cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), w.get(), &n, &c, &h, &l),
                op, "cudnnGetConvolution2dForwardOutputDim");
    check(n == g.batch && c == g.out_channels && h == 1 && l == g.out_length,
          "{} (cuDNN): internal error: cuDNN's output would be [{}, {}, {}, {}], expected "
          "[{}, {}, 1, {}]",
          op, n, c, h, l, g.batch, g.out_channels, g.out_length);
  }
};

// --- the plan cache --------------------------------------------------------------------------

enum class Pass : std::uint8_t { Forward, BackwardData, BackwardFilter };

struct PlanKey {
  Pass pass = Pass::Forward;
  DType dtype = DType::Float32;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  bool deterministic = false;
  bool benchmark = false;
  std::int64_t batch = 0, in_channels = 0, out_channels = 0, length = 0, out_length = 0;
  std::int64_t kernel = 0, stride = 0, pad_left = 0, pad_right = 0, dilation = 0, groups = 0;
  bool operator==(const PlanKey&) const = default;
};

struct PlanKeyHash {
  std::size_t operator()(const PlanKey& k) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto mix = [&h](std::uint64_t v) { h = (h ^ v) * 0x100000001b3ULL + (h >> 29); };
    mix(static_cast<std::uint64_t>(k.pass) | static_cast<std::uint64_t>(k.dtype) << 8 |
        static_cast<std::uint64_t>(k.math) << 16 |
        static_cast<std::uint64_t>(k.deterministic) << 24 |
        static_cast<std::uint64_t>(k.benchmark) << 25);
    for (const std::int64_t v : {k.batch, k.in_channels, k.out_channels, k.length, k.out_length,
                                 k.kernel, k.stride, k.pad_left, k.pad_right, k.dilation,
                                 k.groups}) {
      mix(static_cast<std::uint64_t>(v));
    }
    return static_cast<std::size_t>(h);
  }
};

// One algorithm that fits the problem, with the math type cuDNN ran or ranked it with.
struct Algo {
  int algo = 0;  // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0;
};

// The algorithms that fit, best first. A call runs the first; the rest are the fallbacks when
// its workspace cannot be allocated now, or when cuDNN refuses it at execution after all
// (CUDNN_STATUS_NOT_SUPPORTED: then it is dropped from the plan). Empty: not cuDNN's problem.
struct Plan {
  std::vector<Algo> algos;
  bool usable() const { return !algos.empty(); }
};

struct State {
  std::mutex mutex;  // the plans and every use of the handle
  std::unordered_map<PlanKey, Plan, PlanKeyHash> plans;
  // dtypes for which cudnnAddTensor / cudnnConvolutionBackwardBias said NOT_SUPPORTED: their
  // problems go to reel's kernels from then on.
  std::array<bool, kNumDTypes> no_add_tensor{};
  std::array<bool, kNumDTypes> no_backward_bias{};
};

State& state() {
  static State* s = new State();  // never destroyed (see the file comment)
  return *s;
}

PlanKey plan_key(Pass pass, DType dtype, const Conv& c, const Conv1dParams& p) {
  PlanKey k;
  k.pass = pass;
  k.dtype = dtype;
  k.math = c.t.math;
  k.deterministic = deterministic_algorithms();
  k.benchmark = cuda_cudnn_benchmark();
  k.batch = c.g.batch;
  k.in_channels = c.g.in_channels;
  k.out_channels = c.g.out_channels;
  k.length = c.g.length;
  k.out_length = c.g.out_length;
  k.kernel = c.g.kernel;
  k.stride = p.stride;
  k.pad_left = p.pad_left;
  k.pad_right = p.pad_right;
  k.dilation = p.dilation;
  k.groups = p.groups;
  return k;
}

std::optional<Plan> cached_plan(const PlanKey& key) {
  const auto& plans = state().plans;
  const auto it = plans.find(key);
  if (it == plans.end()) return std::nullopt;
  return it->second;
}

// One entry of cuDNN's ranked list, whichever pass.
struct Candidate {
  int algo = 0;
  cudnnStatus_t status = CUDNN_STATUS_NOT_SUPPORTED;
  std::size_t memory = 0;
  cudnnDeterminism_t determinism = CUDNN_NON_DETERMINISTIC;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

template <typename Perf>
std::vector<Candidate> candidates(const std::vector<Perf>& perf, int count) {
  std::vector<Candidate> out;
  for (int i = 0; i < count && i < static_cast<int>(perf.size()); ++i) {
    const Perf& r = perf[static_cast<std::size_t>(i)];
    out.push_back({static_cast<int>(r.algo), r.status, r.memory, r.determinism, r.mathType});
  }
  return out;
}

// The operands of one pass; the pass writes one of them: Forward y, BackwardData x (the input's
// gradient), BackwardFilter w (the weight's gradient).
struct Operands {
  void* x = nullptr;
  void* w = nullptr;
  void* y = nullptr;
};

// cuDNN's heuristics: every algorithm, ranked, without running anything.
std::vector<Candidate> heuristics(Pass pass, const Conv& c) {
  cudnnHandle_t h = handle();
  int max = 0;
  int count = 0;
  switch (pass) {
    case Pass::Forward: {
      check_cudnn(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max), c.op,
                  "cudnnGetConvolutionForwardAlgorithmMaxCount");
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(max));
      check_cudnn(cudnnGetConvolutionForwardAlgorithm_v7(h, c.x.get(), c.w.get(), c.conv.get(),
                                                         c.y.get(), max, &count, perf.data()),
                  c.op, "cudnnGetConvolutionForwardAlgorithm_v7");
      return candidates(perf, count);
    }
    case Pass::BackwardData: {
      check_cudnn(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max), c.op,
                  "cudnnGetConvolutionBackwardDataAlgorithmMaxCount");
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(max));
      check_cudnn(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c.w.get(), c.y.get(),
                                                              c.conv.get(), c.x.get(), max,
                                                              &count, perf.data()),
                  c.op, "cudnnGetConvolutionBackwardDataAlgorithm_v7");
      return candidates(perf, count);
    }
    case Pass::BackwardFilter: {
      check_cudnn(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max), c.op,
                  "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount");
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(max));
      check_cudnn(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c.x.get(), c.y.get(),
                                                                c.conv.get(), c.w.get(), max,
                                                                &count, perf.data()),
                  c.op, "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
      return candidates(perf, count);
    }
  }
  return {};
}

// cuDNN's timing search: runs every algorithm on these operands (writing the pass's output)
// with `workspace` to spare; algorithms that need more come back failed. Synchronizes.
std::vector<Candidate> benchmark(Pass pass, const Conv& c, const Operands& d, void* workspace,
                                 std::size_t workspace_bytes) {
  cudnnHandle_t h = handle();
  int max = 0;
  int count = 0;
  switch (pass) {
    case Pass::Forward: {
      check_cudnn(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max), c.op,
                  "cudnnGetConvolutionForwardAlgorithmMaxCount");
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(max));
      check_cudnn(cudnnFindConvolutionForwardAlgorithmEx(h, c.x.get(), d.x, c.w.get(), d.w,
                                                         c.conv.get(), c.y.get(), d.y, max,
                                                         &count, perf.data(), workspace,
                                                         workspace_bytes),
                  c.op, "cudnnFindConvolutionForwardAlgorithmEx");
      return candidates(perf, count);
    }
    case Pass::BackwardData: {
      check_cudnn(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max), c.op,
                  "cudnnGetConvolutionBackwardDataAlgorithmMaxCount");
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(max));
      check_cudnn(cudnnFindConvolutionBackwardDataAlgorithmEx(h, c.w.get(), d.w, c.y.get(), d.y,
                                                              c.conv.get(), c.x.get(), d.x, max,
                                                              &count, perf.data(), workspace,
                                                              workspace_bytes),
                  c.op, "cudnnFindConvolutionBackwardDataAlgorithmEx");
      return candidates(perf, count);
    }
    case Pass::BackwardFilter: {
      check_cudnn(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max), c.op,
                  "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount");
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(max));
      check_cudnn(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, c.x.get(), d.x, c.y.get(),
                                                                d.y, c.conv.get(), c.w.get(),
                                                                d.w, max, &count, perf.data(),
                                                                workspace, workspace_bytes),
                  c.op, "cudnnFindConvolutionBackwardFilterAlgorithmEx");
      return candidates(perf, count);
    }
  }
  return {};
}

// The workspace `algo` needs with the descriptor's current math type, or nullopt when cuDNN
// declines the pair.
std::optional<std::size_t> workspace_size(Pass pass, const Conv& c, int algo) {
  cudnnHandle_t h = handle();
  std::size_t bytes = 0;
  cudnnStatus_t status = CUDNN_STATUS_NOT_SUPPORTED;
  switch (pass) {
    case Pass::Forward:
      status = cudnnGetConvolutionForwardWorkspaceSize(
          h, c.x.get(), c.w.get(), c.conv.get(), c.y.get(),
          static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes);
      break;
    case Pass::BackwardData:
      status = cudnnGetConvolutionBackwardDataWorkspaceSize(
          h, c.w.get(), c.y.get(), c.conv.get(), c.x.get(),
          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes);
      break;
    case Pass::BackwardFilter:
      status = cudnnGetConvolutionBackwardFilterWorkspaceSize(
          h, c.x.get(), c.y.get(), c.conv.get(), c.w.get(),
          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes);
      break;
  }
  if (status != CUDNN_STATUS_SUCCESS) return std::nullopt;
  return bytes;
}

// The timing search's workspace: as much as the largest algorithm wants, within what the device
// has (free memory plus the allocator's cache), halved until an allocation succeeds.
DeviceBuffer search_workspace(Conv& c, Pass pass, const std::vector<Candidate>& list,
                              std::size_t& bytes) {
  std::size_t want = 0;
  for (const Candidate& cand : list) {
    if (cand.status != CUDNN_STATUS_SUCCESS) continue;
    c.conv.set_math(cand.math);
    const auto need = workspace_size(pass, c, cand.algo);
    if (need && *need < kMaxWorkspace) want = std::max(want, *need);
  }
  c.conv.set_math(c.t.math);
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    want = std::min(want, free_bytes + allocator_stats().cached_bytes);
  } else {
    (void)cudaGetLastError();
  }
  constexpr std::size_t kMinSearch = std::size_t{1} << 20;
  while (want > 0) {
    try {
      DeviceBuffer block(want);
      bytes = want;
      return block;
    } catch (const Error&) {
      want = want / 2 >= kMinSearch ? want / 2 : 0;
    }
  }
  bytes = 0;
  return DeviceBuffer();
}

bool deterministic_algo(Pass pass, const Candidate& cand) {
  if (cand.determinism != CUDNN_DETERMINISTIC) return false;
  // Belt and braces: the algorithms cuDNN documents as non-deterministic (atomic adds).
  if (pass == Pass::BackwardData) return cand.algo != CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (pass == Pass::BackwardFilter) {
    return cand.algo != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 &&
           cand.algo != CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  }
  return true;
}

// The precision asked for: float32 without TF32 runs FMA kernels only, and float32/float64
// data are never converted to float16 (CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION).
bool math_allowed(const Types& t, cudnnMathType_t math) {
  const bool wide = t.data == CUDNN_DATA_FLOAT || t.data == CUDNN_DATA_DOUBLE;
  if (wide && math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;
  if (t.data == CUDNN_DATA_FLOAT && t.math == CUDNN_FMA_MATH) return math == CUDNN_FMA_MATH;
  return true;
}

bool stream_capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  check_cuda(cudaStreamIsCapturing(stream(), &status), "cudaStreamIsCapturing");
  return status != cudaStreamCaptureStatusNone;
}

// The key's plan: cuDNN's ranked candidates (heuristic or timed) that fit. Cached, except for a
// benchmark key during a graph capture (the heuristics chose; the next call outside a capture
// times the algorithms). Called with the state's mutex held; `d` holds the pass's operands (read
// and written only by the timing search).
Plan choose_plan(Pass pass, Conv& c, const PlanKey& key, const Operands& d) {
  const bool capturing = stream_capturing();
  std::vector<Candidate> list = heuristics(pass, c);
  if (key.benchmark && !capturing) {
    std::size_t bytes = 0;
    const DeviceBuffer workspace = search_workspace(c, pass, list, bytes);
    list = benchmark(pass, c, d, workspace.get(), bytes);
  }
  Plan plan;
  for (const Candidate& cand : list) {
    if (cand.status != CUDNN_STATUS_SUCCESS) continue;
    if (key.deterministic && !deterministic_algo(pass, cand)) continue;
    if (!math_allowed(c.t, cand.math)) continue;
    c.conv.set_math(cand.math);
    const auto need = workspace_size(pass, c, cand.algo);
    if (!need) continue;
    const std::size_t bytes = std::max(*need, cand.memory);
    // cuDNN has been seen to report absurd sizes (beyond 2^63) for some algorithms: no device
    // has a terabyte, and the allocator's size classes must not overflow.
    if (bytes >= kMaxWorkspace) continue;
    plan.algos.push_back(Algo{cand.algo, cand.math, bytes});
  }
  c.conv.set_math(c.t.math);
  if (!(key.benchmark && capturing)) state().plans.emplace(key, plan);
  return plan;
}

// Drops an algorithm (with its math type) cuDNN refused at execution from the key's plan.
void forget_algo(const PlanKey& key, const Algo& refused) {
  const auto it = state().plans.find(key);
  if (it == state().plans.end()) return;
  auto& algos = it->second.algos;
  algos.erase(std::remove_if(algos.begin(), algos.end(),
                             [&refused](const Algo& a) {
                               return a.algo == refused.algo && a.math == refused.math;
                             }),
              algos.end());
}

// Runs the pass with the plan's algorithms in order: `call(algo, workspace)` issues the cuDNN
// call. Returns false when none ran (no workspace could be allocated for any, or cuDNN refused
// each with NOT_SUPPORTED: nothing was written); throws on any other failure.
template <typename Call>
bool run_plan(const Plan& plan, Conv& c, const PlanKey& key, const char* call_name, Call&& call) {
  for (const Algo& a : plan.algos) {
    DeviceBuffer workspace;
    try {
      workspace = DeviceBuffer(a.workspace);
    } catch (const Error&) {
      continue;  // out of memory now: a later algorithm may need less
    }
    c.conv.set_math(a.math);
    const cudnnStatus_t status = call(a, workspace.get());
    if (status == CUDNN_STATUS_SUCCESS) return true;
    if (status != CUDNN_STATUS_NOT_SUPPORTED) check_cudnn(status, c.op, call_name);
    (void)cudaGetLastError();
    forget_algo(key, a);
  }
  return false;
}

// --- the temporaries around cuDNN's call ---------------------------------------------------

// The zero-padded copy of x (Geometry, case 2): [N, Cin, copy_length] holding x's positions
// [0, copy_used) at [copy_left, copy_left + copy_used), zeros elsewhere.
DeviceBuffer padded_input(const char* op, const View& x, const Geometry& g) {
  const std::size_t es = element_size(x.dtype);
  DeviceBuffer copy(static_cast<std::size_t>(g.batch * g.in_channels * g.copy_length) * es);
  const std::int64_t out_shape[3] = {g.batch, g.in_channels, g.copy_length};
  const std::int64_t out_strides[3] = {g.in_channels * g.copy_length, g.copy_length, 1};
  // x is contiguous: its packed strides (a size-1 dim's own stride may be anything).
  const std::int64_t in_strides[3] = {g.in_channels * g.length, g.length, 1};
  check_cuda(launch_pad1d(x.dtype, copy.get(), out_shape, out_strides, x.data, in_strides,
                          g.copy_used, PadMode::Zeros, g.copy_left, stream()),
             op);
  return copy;
}

// grad_x from the copy's gradient: the slice that holds x's positions [0, copy_used), and zero
// for the positions the copy dropped (no output read them).
void copy_back_input_grad(const char* op, const View& grad_x, const void* padded_grad,
                          const Geometry& g) {
  const DType t = grad_x.dtype;
  const std::size_t es = element_size(t);
  const Strides x_strides{g.in_channels * g.length, g.length, 1};
  const Strides copy_strides{g.in_channels * g.copy_length, g.copy_length, 1};
  if (g.copy_used > 0) {
    const auto w = plan_walk<2>(Shape{g.batch, g.in_channels, g.copy_used},
                                {&x_strides, &copy_strides});
    const auto* from =
        static_cast<const char*>(padded_grad) + static_cast<std::size_t>(g.copy_left) * es;
    check_cuda(launch_copy(t, grad_x.data, t, from, w.ix, w.numel, w.index32, stream()), op);
  }
  if (g.copy_used < g.length) {
    const auto w = plan_walk<1>(Shape{g.batch, g.in_channels, g.length - g.copy_used},
                                {&x_strides});
    auto* tail = static_cast<char*>(grad_x.data) + static_cast<std::size_t>(g.copy_used) * es;
    check_cuda(launch_fill(t, tail, w.ix, w.numel, w.index32, FillValue{}, stream()), op);
  }
}

std::size_t dtype_index(DType t) { return static_cast<std::size_t>(t); }

}  // namespace

bool cudnn_available() {
  static const bool available = probe();
  return available;
}

bool cudnn_conv1d_forward(const View& y, const View& x, const View& w, const View& bias,
                          const Conv1dParams& p) {
  const char* op = "conv1d";
  const auto types = types_of(x.dtype);
  if (!types || !cudnn_available()) return false;
  if (!contiguous(y) || !contiguous(x) || !contiguous(w)) return false;
  if (bias.data != nullptr && !contiguous(bias)) return false;
  const auto g =
      geometry(x.shape[0], x.shape[1], y.shape[1], x.shape[2], y.shape[2], w.shape[2], p);
  if (!g) return false;

  std::lock_guard<std::mutex> lock(state().mutex);
  if (bias.data != nullptr && state().no_add_tensor[dtype_index(x.dtype)]) return false;
  Conv c(op, *g, *types);
  const PlanKey key = plan_key(Pass::Forward, x.dtype, c, p);
  std::optional<Plan> plan = cached_plan(key);
  if (plan && !plan->usable()) return false;
  DeviceBuffer copy;
  void* input = x.data;
  if (g->padded_copy) {
    copy = padded_input(op, x, *g);
    input = copy.get();
  }
  if (!plan) plan = choose_plan(Pass::Forward, c, key, Operands{input, w.data, y.data});

  cudnnHandle_t h = handle();
  const void* one = scaling(c.t.compute, 1);
  const void* zero = scaling(c.t.compute, 0);
  const bool ran = run_plan(*plan, c, key, "cudnnConvolutionForward",
                            [&](const Algo& a, void* workspace) {
                              return cudnnConvolutionForward(
                                  h, one, c.x.get(), input, c.w.get(), w.data, c.conv.get(),
                                  static_cast<cudnnConvolutionFwdAlgo_t>(a.algo), workspace,
                                  a.workspace, zero, c.y.get(), y.data);
                            });
  if (!ran) return false;
  if (bias.data != nullptr) {
    // y += bias, broadcast from [1, Cout, 1, 1].
    TensorDesc b(op);
    b.set(c.t.data, 1, g->out_channels, 1, 1);
    const cudnnStatus_t status = cudnnAddTensor(h, one, b.get(), bias.data, one, c.y.get(), y.data);
    if (status == CUDNN_STATUS_NOT_SUPPORTED) {
      // reel's kernels then write all of y again, in this call and from now on.
      (void)cudaGetLastError();
      state().no_add_tensor[dtype_index(x.dtype)] = true;
      return false;
    }
    check_cudnn(status, op, "cudnnAddTensor");
  }
  return true;
}

bool cudnn_conv1d_backward_input(const View& grad_x, const View& grad_y, const View& w,
                                 const Conv1dParams& p) {
  const char* op = "conv1d_backward_input";
  const auto types = types_of(grad_x.dtype);
  if (!types || !cudnn_available()) return false;
  if (!contiguous(grad_x) || !contiguous(grad_y) || !contiguous(w)) return false;
  const auto g = geometry(grad_x.shape[0], grad_x.shape[1], grad_y.shape[1], grad_x.shape[2],
                          grad_y.shape[2], w.shape[2], p);
  if (!g) return false;

  std::lock_guard<std::mutex> lock(state().mutex);
  Conv c(op, *g, *types);
  const PlanKey key = plan_key(Pass::BackwardData, grad_x.dtype, c, p);
  std::optional<Plan> plan = cached_plan(key);
  if (plan && !plan->usable()) return false;
  // On a padded copy, cuDNN writes the copy's gradient into a temporary.
  DeviceBuffer padded_grad;
  void* dx = grad_x.data;
  if (g->padded_copy) {
    const std::int64_t elems = g->batch * g->in_channels * g->copy_length;
    padded_grad = DeviceBuffer(static_cast<std::size_t>(elems) * element_size(grad_x.dtype));
    dx = padded_grad.get();
  }
  if (!plan) plan = choose_plan(Pass::BackwardData, c, key, Operands{dx, w.data, grad_y.data});

  cudnnHandle_t h = handle();
  const void* one = scaling(c.t.compute, 1);
  const void* zero = scaling(c.t.compute, 0);
  const bool ran = run_plan(*plan, c, key, "cudnnConvolutionBackwardData",
                            [&](const Algo& a, void* workspace) {
                              return cudnnConvolutionBackwardData(
                                  h, one, c.w.get(), w.data, c.y.get(), grad_y.data, c.conv.get(),
                                  static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), workspace,
                                  a.workspace, zero, c.x.get(), dx);
                            });
  if (!ran) return false;
  if (g->padded_copy) copy_back_input_grad(op, grad_x, dx, *g);
  return true;
}

bool cudnn_conv1d_backward_weight(const View& grad_w, const View& grad_b, const View& grad_y,
                                  const View& x, const Conv1dParams& p) {
  const char* op = "conv1d_backward_weight";
  const bool want_w = grad_w.data != nullptr;
  const bool want_b = grad_b.data != nullptr;
  if (!want_w && !want_b) return true;  // nothing asked for: done
  const DType dtype = grad_y.dtype;
  const auto types = types_of(dtype);
  if (!types || !cudnn_available()) return false;
  if (!contiguous(grad_y)) return false;
  if (want_w && (!contiguous(grad_w) || !contiguous(x))) return false;
  if (want_b && !contiguous(grad_b)) return false;
  const std::int64_t batch = grad_y.shape[0];
  const std::int64_t out_channels = grad_y.shape[1];
  const std::int64_t out_length = grad_y.shape[2];
  std::optional<Geometry> g;
  if (want_w) {
    g = geometry(x.shape[0], x.shape[1], out_channels, x.shape[2], out_length, grad_w.shape[2], p);
    if (!g) return false;
  } else if (batch < 1 || out_channels < 1 || out_length < 1 ||
             !numel_fits_int({batch, out_channels, out_length})) {
    return false;
  }

  std::lock_guard<std::mutex> lock(state().mutex);
  if (want_b && state().no_backward_bias[dtype_index(dtype)]) return false;
  cudnnHandle_t h = handle();
  const void* one = scaling(types->compute, 1);
  const void* zero = scaling(types->compute, 0);
  // The weight's plan first: when cuDNN has none, nothing has been written yet.
  std::optional<Conv> c;
  std::optional<PlanKey> key;
  std::optional<Plan> plan;
  DeviceBuffer copy;
  void* input = x.data;
  if (want_w) {
    c.emplace(op, *g, *types);
    key = plan_key(Pass::BackwardFilter, dtype, *c, p);
    plan = cached_plan(*key);
    if (plan && !plan->usable()) return false;
    if (g->padded_copy) {
      copy = padded_input(op, x, *g);
      input = copy.get();
    }
    if (!plan) {
      plan = choose_plan(Pass::BackwardFilter, *c, *key, Operands{input, grad_w.data, grad_y.data});
    }
    if (!plan->usable()) return false;
  }
  if (want_b) {
    // grad_b[c] = the sum of grad_y[n, c, l] over n and l.
    TensorDesc dy(op);
    dy.set(types->data, batch, out_channels, 1, out_length);
    TensorDesc db(op);
    db.set(types->data, 1, out_channels, 1, 1);
    const cudnnStatus_t status =
        cudnnConvolutionBackwardBias(h, one, dy.get(), grad_y.data, zero, db.get(), grad_b.data);
    if (status == CUDNN_STATUS_NOT_SUPPORTED) {
      // Nothing written yet (the bias goes first); reel's kernels compute both, from now on.
      (void)cudaGetLastError();
      state().no_backward_bias[dtype_index(dtype)] = true;
      return false;
    }
    check_cudnn(status, op, "cudnnConvolutionBackwardBias");
  }
  if (!want_w) return true;
  // When cuDNN refuses every algorithm after all, reel's kernels write grad_w and grad_b again.
  return run_plan(*plan, *c, *key, "cudnnConvolutionBackwardFilter",
                  [&](const Algo& a, void* workspace) {
                    return cudnnConvolutionBackwardFilter(
                        h, one, c->x.get(), input, c->y.get(), grad_y.data, c->conv.get(),
                        static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), workspace,
                        a.workspace, zero, c->w.get(), grad_w.data);
                  });
}

void cudnn_clear_plans() {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().plans.clear();
}

}  // namespace reel::backends::cuda

#else  // !REEL_WITH_CUDNN: built without cuDNN; conv1d runs on reel's own kernels.

namespace reel::backends::cuda {

bool cudnn_available() { return false; }

bool cudnn_conv1d_forward(const View&, const View&, const View&, const View&,
                          const Conv1dParams&) {
  return false;
}

bool cudnn_conv1d_backward_input(const View&, const View&, const View&, const Conv1dParams&) {
  return false;
}

bool cudnn_conv1d_backward_weight(const View&, const View&, const View&, const View&,
                                  const Conv1dParams&) {
  return false;
}

void cudnn_clear_plans() {}

}  // namespace reel::backends::cuda

#endif  // REEL_WITH_CUDNN
