#pragma once
// The op table: every primitive of the backend contract, described once.
//
// Each row gives an op's enumerator, its name (the one errors print), its kind, the dtypes it
// accepts and the rule for its output dtype. Everything else is generated from the rows: the
// enums (UnaryOp, BinaryOp, ...), op_name(), op_info(), the dtype check every backend runs
// before a kernel (check_supported in backend.cpp), the CUDA kernels' instantiation filter, and
// the parity harness (tests/backends/test_parity.cpp), which runs every row on every backend
// present. Nothing depends on the order of the rows.
//
// Plain C++17 without fmt, so nvcc includes exactly this header (see dtype_core.hpp).
//
// Adding an op: one row here, its maths in backends/element_math.hpp (elementwise ops, shared
// by the reference and CUDA kernels) or its loop in the reference backend (other primitives),
// and a fast path where it pays. docs/architecture.md walks through it.
#include <cstdint>

#include "backends/dtype_core.hpp"

namespace reel::backends {

// What an op is, for readers and for the harness's choice of inputs.
enum class OpKind : std::uint8_t {
  Arithmetic,      // numbers in, numbers out (neg, add, exp, ...)
  Comparison,      // ordered or equality tests: bool out
  Logical,         // truth values: bool out
  BackwardHelper,  // (grad_output, saved) -> grad_input of an activation
  Reduction,       // folds dims (sum, max, any, ...) or finds an extreme's index
  Data,            // copy with cast, fill, where
  Linalg,          // matmul
  Indexing,        // index_select, gather, ... (int64 indices)
  Random,          // counter-based random fill
  Convolution,     // conv1d and its gradients, pad1d and its gradient
  Normalization,   // per-group statistics, normalization and its gradient (batch/layer/group/instance norm)
  Pooling,         // max/avg/adaptive pooling over the last dim and their gradients
  // --- optimizer updates (issue 7) ---
  Optimizer,       // fused update of one parameter and its state (SGD, Adam, RMSprop, Adagrad)
};

// The output dtype of an elementwise or reduction op, from its input dtype.
enum class OutRule : std::uint8_t {
  Same,   // the input's dtype
  Bool,   // bool
  Real,   // the input's real dtype (complex64 -> float32): abs, real, imag
  Index,  // int64 indices beside same-dtype values (argmax, argmin)
};

// X(Enumerator, name, kind, accepted dtypes, output rule, hint shown when a dtype is refused)
#define REEL_UNARY_OPS(X)                                                                       \
  X(Neg, "neg", Arithmetic, kNumbers, Same,                                                     \
    "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "      \
    "invert a mask, use the `~` or `logical_not()` operator instead.")                          \
  X(Exp, "exp", Arithmetic, kInexact, Same, "")                                                 \
  X(Log, "log", Arithmetic, kInexact, Same, "")                                                 \
  X(Sqrt, "sqrt", Arithmetic, kInexact, Same, "")                                               \
  X(Sin, "sin", Arithmetic, kInexact, Same, "")                                                 \
  X(Cos, "cos", Arithmetic, kInexact, Same, "")                                                 \
  X(Tanh, "tanh", Arithmetic, kInexact, Same, "")                                               \
  X(Sigmoid, "sigmoid", Arithmetic, kInexact, Same, "")                                         \
  X(Relu, "relu", Arithmetic, kReal, Same, "")                                                  \
  X(Gelu, "gelu", Arithmetic, kFloating, Same, "")                                              \
  X(Silu, "silu", Arithmetic, kFloating, Same, "")                                              \
  X(Erf, "erf", Arithmetic, kFloating, Same, "")                                                \
  X(Sign, "sign", Arithmetic, kAll, Same, "")                                                   \
  X(Conj, "conj", Arithmetic, kAll, Same, "")                                                   \
  X(Reciprocal, "reciprocal", Arithmetic, kInexact, Same, "")                                   \
  X(Abs, "abs", Arithmetic, kAll, Real, "")                                                     \
  X(Real, "real", Arithmetic, kAll, Real, "")                                                   \
  X(Imag, "imag", Arithmetic, kAll, Real, "")                                                   \
  X(LogicalNot, "logical_not", Logical, kAll, Bool, "")                                         \
  X(IsNan, "isnan", Comparison, kAll, Bool, "")

// Binary ops take two inputs of one dtype, already broadcast. The backward helpers take
// (a, b) = (grad_output, saved): relu/gelu/silu save the input, sigmoid/tanh the output.
#define REEL_BINARY_OPS(X)                                                                      \
  X(Add, "add", Arithmetic, kAll, Same, "")                                                     \
  X(Sub, "sub", Arithmetic, kNumbers, Same,                                                     \
    "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "    \
    "`logical_xor()` operator instead.")                                                        \
  X(Mul, "mul", Arithmetic, kAll, Same, "")                                                     \
  X(Div, "div", Arithmetic, kInexact, Same, "")                                                 \
  X(Pow, "pow", Arithmetic, kNumbers, Same, "")                                                 \
  X(Maximum, "maximum", Arithmetic, kReal, Same, "")                                            \
  X(Minimum, "minimum", Arithmetic, kReal, Same, "")                                            \
  X(ReluBackward, "relu_backward", BackwardHelper, kRealNumbers, Same, "")                      \
  X(GeluBackward, "gelu_backward", BackwardHelper, kFloating, Same, "")                         \
  X(SiluBackward, "silu_backward", BackwardHelper, kFloating, Same, "")                         \
  X(SigmoidBackward, "sigmoid_backward", BackwardHelper, kInexact, Same, "")                    \
  X(TanhBackward, "tanh_backward", BackwardHelper, kInexact, Same, "")                          \
  X(Eq, "eq", Comparison, kAll, Bool, "")                                                       \
  X(Ne, "ne", Comparison, kAll, Bool, "")                                                       \
  X(Lt, "lt", Comparison, kReal, Bool, "")                                                      \
  X(Le, "le", Comparison, kReal, Bool, "")                                                      \
  X(Gt, "gt", Comparison, kReal, Bool, "")                                                      \
  X(Ge, "ge", Comparison, kReal, Bool, "")                                                      \
  X(LogicalAnd, "logical_and", Logical, kAll, Bool, "")                                         \
  X(LogicalOr, "logical_or", Logical, kAll, Bool, "")

// Reductions over the dims where the output has extent 1 (see Backend::reduce).
#define REEL_REDUCE_OPS(X)                        \
  X(Sum, "sum", Reduction, kAll, Same, "")        \
  X(Prod, "prod", Reduction, kAll, Same, "")      \
  X(Max, "max", Reduction, kReal, Same, "")       \
  X(Min, "min", Reduction, kReal, Same, "")       \
  X(Any, "any", Reduction, kAll, Bool, "")        \
  X(All, "all", Reduction, kAll, Bool, "")

// Index of the extreme along one dim.
#define REEL_ARG_REDUCE_OPS(X)                           \
  X(Max, "argmax", Reduction, kReal, Index, "")          \
  X(Min, "argmin", Reduction, kReal, Index, "")

// The primitives with an entry point of their own in the contract (one virtual each, with its
// own parameters). This is how a non-elementwise primitive enters the table: a row names it
// and gives the dtypes of its data operand; backend.hpp gets its entry point; the parity
// harness gets an input generator for it. The dtype checked is the data's (for copy: the
// output's; indices are always int64).
#define REEL_KERNEL_OPS(X)                                                                      \
  X(Copy, "copy", Data, kAll, Same, "")                                                         \
  X(Fill, "fill", Data, kAll, Same, "")                                                         \
  X(Where, "where", Data, kAll, Same, "")                                                       \
  X(Matmul, "matmul", Linalg, kNumbers, Same, "")                                               \
  X(IndexSelect, "index_select", Indexing, kAll, Same, "")                                      \
  X(IndexAdd, "index_add", Indexing, kAll, Same, "")                                            \
  X(Gather, "gather", Indexing, kAll, Same, "")                                                 \
  X(ScatterAdd, "scatter_add", Indexing, kAll, Same, "")                                        \
  X(Random, "random", Random, kNumbers, Same, "")                                               \
  X(Conv1dForward, "conv1d", Convolution, kInexact, Same, "")                                   \
  X(Conv1dBackwardInput, "conv1d_backward_input", Convolution, kInexact, Same, "")              \
  X(Conv1dBackwardWeight, "conv1d_backward_weight", Convolution, kInexact, Same, "")            \
  X(Conv1dBackward, "conv1d_backward", Convolution, kInexact, Same, "")                          \
  X(Pad1d, "pad1d", Convolution, kAll, Same, "")                                                \
  X(Pad1dBackward, "pad1d_backward", Convolution, kNumbers, Same, "")                          \
  /* --- normalization (issue 7) --- */                                                         \
  X(NormStats, "norm_stats", Normalization, kFloating, Same, "")                                \
  X(NormForward, "norm_forward", Normalization, kFloating, Same, "")                            \
  X(NormBackward, "norm_backward", Normalization, kFloating, Same, "")                          \
  /* --- pooling (issue 7) --- */                                                               \
  X(MaxPool1d, "max_pool1d", Pooling, kFloating, Same, "")                                      \
  X(AvgPool1d, "avg_pool1d", Pooling, kFloating, Same, "")                                      \
  X(AvgPool1dBackward, "avg_pool1d_backward", Pooling, kFloating, Same, "")                     \
  X(AdaptiveMaxPool1d, "adaptive_max_pool1d", Pooling, kFloating, Same, "")                     \
  X(AdaptiveAvgPool1d, "adaptive_avg_pool1d", Pooling, kFloating, Same, "")                     \
  X(AdaptiveAvgPool1dBackward, "adaptive_avg_pool1d_backward", Pooling, kFloating, Same, "")    \
  /* --- softmax and losses (issue 7): softmax / log_softmax along one dim and their */         \
  /* gradients; cross_entropy = log_softmax fused with the NLL of class indices (weights, */    \
  /* ignore_index, label smoothing); nll_loss the same on given log-probabilities */            \
  X(Softmax, "softmax", Reduction, kFloating, Same, "")                                         \
  X(LogSoftmax, "log_softmax", Reduction, kFloating, Same, "")                                  \
  X(SoftmaxBackward, "softmax_backward", BackwardHelper, kFloating, Same, "")                   \
  X(LogSoftmaxBackward, "log_softmax_backward", BackwardHelper, kFloating, Same, "")            \
  X(CrossEntropy, "cross_entropy", Reduction, kFloating, Same, "")                              \
  X(CrossEntropyBackward, "cross_entropy_backward", BackwardHelper, kFloating, Same, "")        \
  X(NllLoss, "nll_loss", Reduction, kFloating, Same, "")                                        \
  X(NllLossBackward, "nll_loss_backward", BackwardHelper, kFloating, Same, "")                  \
  /* --- optimizer updates (issue 7): floating only; complex parameters reach them as */        \
  /* view_as_real views, as PyTorch's single-tensor optimizers do */                           \
  X(SgdStep, "sgd_step", Optimizer, kFloating, Same, "")                                        \
  X(AdamStep, "adam_step", Optimizer, kFloating, Same, "")                                      \
  X(RmspropStep, "rmsprop_step", Optimizer, kFloating, Same, "")                                \
  X(AdagradStep, "adagrad_step", Optimizer, kFloating, Same, "")

#define REEL_OP_ENUMERATOR(e, name, kind, dtypes, out, hint) e,
enum class UnaryOp : std::uint8_t { REEL_UNARY_OPS(REEL_OP_ENUMERATOR) };
enum class BinaryOp : std::uint8_t { REEL_BINARY_OPS(REEL_OP_ENUMERATOR) };
enum class ReduceOp : std::uint8_t { REEL_REDUCE_OPS(REEL_OP_ENUMERATOR) };
enum class ArgReduceOp : std::uint8_t { REEL_ARG_REDUCE_OPS(REEL_OP_ENUMERATOR) };
enum class KernelOp : std::uint8_t { REEL_KERNEL_OPS(REEL_OP_ENUMERATOR) };
#undef REEL_OP_ENUMERATOR

// One row of the table.
struct OpInfo {
  const char* name;
  OpKind kind;
  DTypeSet dtypes;
  OutRule out;
  const char* hint;  // "" or a sentence for the refused-dtype error
};

// Any primitive: which table, which row. Converts from each op enum, so one query
// (`Backend::supports(op, dtype)`, `op_info(op)`) serves them all.
enum class OpFamily : std::uint8_t { Unary, Binary, Reduce, ArgReduce, Kernel };
struct OpId {
  OpFamily family;
  std::uint8_t index;
  constexpr OpId(UnaryOp op) : family(OpFamily::Unary), index(static_cast<std::uint8_t>(op)) {}
  constexpr OpId(BinaryOp op) : family(OpFamily::Binary), index(static_cast<std::uint8_t>(op)) {}
  constexpr OpId(ReduceOp op) : family(OpFamily::Reduce), index(static_cast<std::uint8_t>(op)) {}
  constexpr OpId(ArgReduceOp op)
      : family(OpFamily::ArgReduce), index(static_cast<std::uint8_t>(op)) {}
  constexpr OpId(KernelOp op) : family(OpFamily::Kernel), index(static_cast<std::uint8_t>(op)) {}
  constexpr bool operator==(OpId o) const { return family == o.family && index == o.index; }
};

namespace op_table {
#define REEL_OP_INFO(e, name, kind, set, out, hint) \
  OpInfo{name, OpKind::kind, dtypes::set, OutRule::out, hint},
inline constexpr OpInfo kUnary[] = {REEL_UNARY_OPS(REEL_OP_INFO)};
inline constexpr OpInfo kBinary[] = {REEL_BINARY_OPS(REEL_OP_INFO)};
inline constexpr OpInfo kReduce[] = {REEL_REDUCE_OPS(REEL_OP_INFO)};
inline constexpr OpInfo kArgReduce[] = {REEL_ARG_REDUCE_OPS(REEL_OP_INFO)};
inline constexpr OpInfo kKernel[] = {REEL_KERNEL_OPS(REEL_OP_INFO)};
#undef REEL_OP_INFO

// Every op of a family, for loops (tests, the parity harness).
#define REEL_UNARY_VALUE(e, name, kind, set, out, hint) UnaryOp::e,
#define REEL_BINARY_VALUE(e, name, kind, set, out, hint) BinaryOp::e,
#define REEL_REDUCE_VALUE(e, name, kind, set, out, hint) ReduceOp::e,
#define REEL_ARG_REDUCE_VALUE(e, name, kind, set, out, hint) ArgReduceOp::e,
#define REEL_KERNEL_VALUE(e, name, kind, set, out, hint) KernelOp::e,
inline constexpr UnaryOp kUnaryOps[] = {REEL_UNARY_OPS(REEL_UNARY_VALUE)};
inline constexpr BinaryOp kBinaryOps[] = {REEL_BINARY_OPS(REEL_BINARY_VALUE)};
inline constexpr ReduceOp kReduceOps[] = {REEL_REDUCE_OPS(REEL_REDUCE_VALUE)};
inline constexpr ArgReduceOp kArgReduceOps[] = {REEL_ARG_REDUCE_OPS(REEL_ARG_REDUCE_VALUE)};
inline constexpr KernelOp kKernelOps[] = {REEL_KERNEL_OPS(REEL_KERNEL_VALUE)};
#undef REEL_UNARY_VALUE
#undef REEL_BINARY_VALUE
#undef REEL_REDUCE_VALUE
#undef REEL_ARG_REDUCE_VALUE
#undef REEL_KERNEL_VALUE
}  // namespace op_table

constexpr const OpInfo& op_info(OpId op) {
  switch (op.family) {
    case OpFamily::Unary: return op_table::kUnary[op.index];
    case OpFamily::Binary: return op_table::kBinary[op.index];
    case OpFamily::Reduce: return op_table::kReduce[op.index];
    case OpFamily::ArgReduce: return op_table::kArgReduce[op.index];
    case OpFamily::Kernel: break;
  }
  return op_table::kKernel[op.index];
}

constexpr const char* op_name(OpId op) { return op_info(op).name; }

// Whether the table lets `op` run on inputs of dtype `t` (every backend's precondition; a
// backend may still lack a kernel: Backend::supports).
constexpr bool op_accepts(OpId op, DType t) { return op_info(op).dtypes.contains(t); }

// The dtype of an elementwise/reduction op's output for input dtype `t` (argmax/argmin: the
// values' dtype; their indices are int64).
constexpr DType op_out_dtype(OpId op, DType t) {
  switch (op_info(op).out) {
    case OutRule::Bool: return DType::Bool;
    case OutRule::Real: return to_real(t);
    default: return t;
  }
}

// Whether the reference kernels of `op` take the 16-bit dtypes (float16, bfloat16, complex32)
// as they are: elementwise maths (element_math.hpp computes each element in float32 and rounds
// once) and data movement (exact). Every other op runs on float32 copies (Backend::run).
constexpr bool has_half_kernel(OpId op) {
  if (op.family == OpFamily::Unary || op.family == OpFamily::Binary) return true;
  if (op.family != OpFamily::Kernel) return false;
  switch (static_cast<KernelOp>(op.index)) {
    case KernelOp::Copy: case KernelOp::Fill: case KernelOp::Where: case KernelOp::IndexSelect:
    case KernelOp::Gather: case KernelOp::Pad1d:
      return true;
    default:
      return false;
  }
}

// Ops whose output is bool (comparisons and logical ops).
constexpr bool returns_bool(OpId op) { return op_info(op).out == OutRule::Bool; }

}  // namespace reel::backends
