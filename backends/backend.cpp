// The backend contract's shared half: the op table's dtype errors, the checks every backend
// runs before its kernel, the one wording of a missing kernel, and the backend registry.
#include "backends/backend.hpp"

#include <string>

#include "backends/checked_math.hpp"

namespace reel::backends {

// --- the op table's rule -----------------------------------------------------------------------
namespace {

const char* category_word(DType t) {
  switch (category(t)) {
    case DTypeCategory::Bool: return "bool";
    case DTypeCategory::Integral: return "integer";
    case DTypeCategory::Floating: return "floating";
    case DTypeCategory::Complex: return "complex";
  }
  return "";
}

}  // namespace

void check_supported(OpId op, DType t) {
  const OpInfo& info = op_info(op);
  if (info.dtypes.contains(t)) [[likely]] return;
  std::string message = fmt::format("{}: not supported for {} dtype {}", info.name,
                                    category_word(t), t);
  if (*info.hint != '\0') {
    message += fmt::format(". {}", info.hint);
  } else if (is_integral(t, /*include_bool=*/true) && !(info.dtypes - dtypes::kComplex).empty() &&
             !info.dtypes.contains(DType::Int64)) {
    // Ops of floating maths (exp, div, ...) meet integers only when a caller skipped the
    // promotion that tensor/ops does.
    message += "; integer inputs must be promoted to a floating dtype first";
  }
  throw Error(message);
}

void Backend::not_implemented(OpId op, DType t) const {
  fail("{} is not implemented on the {} backend (dtype {})", op_name(op), name(), t);
}

bool Backend::supports(OpId, DType) const { return false; }

void Backend::require(OpId op, DType t) const {
  if (!op_accepts(op, t)) [[unlikely]] check_supported(op, t);  // raises the table's error
  if (!supports(op, t)) [[unlikely]] not_implemented(op, t);
}

// --- the entry points: shared checks, then the backend's kernel ---------------------------------
namespace {

void check_same_shape(const char* op, const char* what, const View& v, const View& out) {
  check(v.shape == out.shape, "{}: {} has shape {} but the output has shape {}", op, what,
        v.shape, out.shape);
}

void check_out_dtype(OpId op, const View& out, DType in) {
  const DType expected = op_out_dtype(op, in);
  check(out.dtype == expected, "{}: expected an output of dtype {} for input dtype {}, got {}",
        op_name(op), expected, in, out.dtype);
}

}  // namespace

void Backend::copy(const View& out, const View& in) {
  check_same_shape("copy", "the input", in, out);
  require(KernelOp::Copy, out.dtype);
  copy_impl(out, in);
}

void Backend::fill(const View& out, Scalar value) {
  require(KernelOp::Fill, out.dtype);
  fill_impl(out, value);
}

void Backend::unary(UnaryOp op, const View& out, const View& in) {
  check_same_shape(op_name(op), "the input", in, out);
  require(op, in.dtype);
  check_out_dtype(op, out, in.dtype);
  unary_impl(op, out, in);
}

void Backend::binary(BinaryOp op, const View& out, const View& a, const View& b) {
  const char* name = op_name(op);
  check(a.dtype == b.dtype, "{}: expected both inputs to share a dtype, got {} and {}", name,
        a.dtype, b.dtype);
  check(a.shape == out.shape && b.shape == out.shape,
        "{}: inputs must already be broadcast to the output's shape {}, got {} and {}", name,
        out.shape, a.shape, b.shape);
  require(op, a.dtype);
  check_out_dtype(op, out, a.dtype);
  binary_impl(op, out, a, b);
}

void Backend::where(const View& out, const View& cond, const View& a, const View& b) {
  check(cond.dtype == kBool, "where: expected condition to be a boolean tensor, but got a tensor "
        "with dtype {}", cond.dtype);
  check(a.dtype == out.dtype && b.dtype == out.dtype,
        "where: expected a, b and out to share a dtype, got {}, {} and {}", a.dtype, b.dtype,
        out.dtype);
  check(cond.shape == out.shape && a.shape == out.shape && b.shape == out.shape,
        "where: shapes must already be broadcast to the output's {}, got cond {}, a {}, b {}",
        out.shape, cond.shape, a.shape, b.shape);
  require(KernelOp::Where, out.dtype);
  where_impl(out, cond, a, b);
}

void Backend::reduce(ReduceOp op, const View& out, const View& in) {
  require(op, in.dtype);
  check_out_dtype(op, out, in.dtype);
  reduce_impl(op, out, in);
}

void Backend::arg_reduce(ArgReduceOp op, const View& values, const View& indices, const View& in,
                         int dim) {
  require(op, in.dtype);
  check(indices.dtype == kInt64, "{}: expected int64 indices, got {}", op_name(op),
        indices.dtype);
  arg_reduce_impl(op, values, indices, in, dim);
}

void Backend::matmul(const View& out, const View& a, const View& b) {
  check(a.dtype == out.dtype && b.dtype == out.dtype,
        "matmul: expected a, b and out of one dtype, got {}, {} and {}", a.dtype, b.dtype,
        out.dtype);
  require(KernelOp::Matmul, out.dtype);
  matmul_impl(out, a, b);
}

void Backend::index_select(const View& out, const View& in, int dim, const View& index) {
  require(KernelOp::IndexSelect, in.dtype);
  index_select_impl(out, in, dim, index);
}

void Backend::index_add(const View& out, int dim, const View& index, const View& src) {
  require(KernelOp::IndexAdd, out.dtype);
  index_add_impl(out, dim, index, src);
}

void Backend::gather(const View& out, const View& in, int dim, const View& index) {
  require(KernelOp::Gather, in.dtype);
  gather_impl(out, in, dim, index);
}

void Backend::scatter_add(const View& out, int dim, const View& index, const View& src) {
  require(KernelOp::ScatterAdd, out.dtype);
  scatter_add_impl(out, dim, index, src);
}

void Backend::random(const View& out, const RandomSpec& spec) {
  require(KernelOp::Random, out.dtype);
  random_impl(out, spec);
}

void Backend::conv1d_forward(const View& out, const View& in, const View& weight,
                             const View& bias, const Conv1dParams& p) {
  require(KernelOp::Conv1dForward, in.dtype);
  conv1d_forward_impl(out, in, weight, bias, p);
}

void Backend::conv1d_backward_input(const View& grad_in, const View& grad_out,
                                    const View& weight, const Conv1dParams& p) {
  require(KernelOp::Conv1dBackwardInput, grad_out.dtype);
  conv1d_backward_input_impl(grad_in, grad_out, weight, p);
}

void Backend::conv1d_backward_weight(const View& grad_weight, const View& grad_bias,
                                     const View& grad_out, const View& in,
                                     const Conv1dParams& p) {
  require(KernelOp::Conv1dBackwardWeight, grad_out.dtype);
  conv1d_backward_weight_impl(grad_weight, grad_bias, grad_out, in, p);
}

void Backend::pad1d(const View& out, const View& in, PadMode mode, std::int64_t left,
                    std::int64_t right) {
  require(KernelOp::Pad1d, in.dtype);
  pad1d_impl(out, in, mode, left, right);
}

void Backend::pad1d_backward(const View& grad_in, const View& grad_out, PadMode mode,
                             std::int64_t left, std::int64_t right) {
  require(KernelOp::Pad1dBackward, grad_out.dtype);
  pad1d_backward_impl(grad_in, grad_out, mode, left, right);
}

// --- the defaults: no kernel ---------------------------------------------------------------------
void Backend::copy_impl(const View& out, const View&) { not_implemented(KernelOp::Copy, out.dtype); }
void Backend::fill_impl(const View& out, Scalar) { not_implemented(KernelOp::Fill, out.dtype); }
void Backend::unary_impl(UnaryOp op, const View&, const View& in) { not_implemented(op, in.dtype); }
void Backend::binary_impl(BinaryOp op, const View&, const View& a, const View&) {
  not_implemented(op, a.dtype);
}
void Backend::where_impl(const View& out, const View&, const View&, const View&) {
  not_implemented(KernelOp::Where, out.dtype);
}
void Backend::reduce_impl(ReduceOp op, const View&, const View& in) {
  not_implemented(op, in.dtype);
}
void Backend::arg_reduce_impl(ArgReduceOp op, const View&, const View&, const View& in, int) {
  not_implemented(op, in.dtype);
}
void Backend::matmul_impl(const View& out, const View&, const View&) {
  not_implemented(KernelOp::Matmul, out.dtype);
}
void Backend::index_select_impl(const View&, const View& in, int, const View&) {
  not_implemented(KernelOp::IndexSelect, in.dtype);
}
void Backend::index_add_impl(const View& out, int, const View&, const View&) {
  not_implemented(KernelOp::IndexAdd, out.dtype);
}
void Backend::gather_impl(const View&, const View& in, int, const View&) {
  not_implemented(KernelOp::Gather, in.dtype);
}
void Backend::scatter_add_impl(const View& out, int, const View&, const View&) {
  not_implemented(KernelOp::ScatterAdd, out.dtype);
}
void Backend::random_impl(const View& out, const RandomSpec&) {
  not_implemented(KernelOp::Random, out.dtype);
}
void Backend::conv1d_forward_impl(const View&, const View& in, const View&, const View&,
                                  const Conv1dParams&) {
  not_implemented(KernelOp::Conv1dForward, in.dtype);
}
void Backend::conv1d_backward_input_impl(const View&, const View& grad_out, const View&,
                                         const Conv1dParams&) {
  not_implemented(KernelOp::Conv1dBackwardInput, grad_out.dtype);
}
void Backend::conv1d_backward_weight_impl(const View&, const View&, const View& grad_out,
                                          const View&, const Conv1dParams&) {
  not_implemented(KernelOp::Conv1dBackwardWeight, grad_out.dtype);
}
void Backend::pad1d_impl(const View&, const View& in, PadMode, std::int64_t, std::int64_t) {
  not_implemented(KernelOp::Pad1d, in.dtype);
}
void Backend::pad1d_backward_impl(const View&, const View& grad_out, PadMode, std::int64_t,
                                  std::int64_t) {
  not_implemented(KernelOp::Pad1dBackward, grad_out.dtype);
}

// --- optimizer updates (issue 7) ---
namespace {

// Every view of a fused optimizer update has the parameter's shape and dtype; optional state is
// a null view only when the options don't use it; nothing is written through a broadcast
// (stride-0) dim, which would update one element several times.
void check_optim_view(const char* op, const char* what, const View& v, const View& param,
                      bool needed, bool written) {
  if (v.data == nullptr) {
    check(!needed, "{}: the {} is required by these options but was not given", op, what);
    return;
  }
  check(v.shape == param.shape, "{}: the {} has shape {} but the parameter has shape {}", op,
        what, v.shape, param.shape);
  check(v.dtype == param.dtype, "{}: the {} has dtype {} but the parameter has dtype {}", op,
        what, v.dtype, param.dtype);
  check(v.strides.size() == v.shape.size(), "{}: the {} has {} strides for {} dims", op, what,
        v.strides.size(), v.shape.size());
  for (int d = 0; d < v.shape.size(); ++d) {
    check(v.strides[d] >= 0, "{}: the {} has a negative stride", op, what);
    check(!written || v.strides[d] != 0 || v.shape[d] <= 1,
          "{}: the {} is written in place and cannot be a broadcast (stride 0) view", op, what);
  }
}

}  // namespace

void Backend::sgd_step(const View& param, const View& grad, const View& momentum_buffer,
                       const SgdStepParams& p) {
  const char* op = "sgd_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "momentum buffer", momentum_buffer, param, p.momentum != 0.0, true);
  require(KernelOp::SgdStep, param.dtype);
  sgd_step_impl(param, grad, momentum_buffer, p);
}

void Backend::adam_step(const View& param, const View& grad, const View& exp_avg,
                        const View& exp_avg_sq, const View& max_exp_avg_sq,
                        const AdamStepParams& p) {
  const char* op = "adam_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "exp_avg", exp_avg, param, true, true);
  check_optim_view(op, "exp_avg_sq", exp_avg_sq, param, true, true);
  check_optim_view(op, "max_exp_avg_sq", max_exp_avg_sq, param, p.amsgrad, true);
  require(KernelOp::AdamStep, param.dtype);
  adam_step_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, p);
}

void Backend::rmsprop_step(const View& param, const View& grad, const View& square_avg,
                           const View& grad_avg, const View& momentum_buffer,
                           const RmspropStepParams& p) {
  const char* op = "rmsprop_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "square_avg", square_avg, param, true, true);
  check_optim_view(op, "grad_avg", grad_avg, param, p.centered, true);
  check_optim_view(op, "momentum buffer", momentum_buffer, param, p.momentum > 0.0, true);
  require(KernelOp::RmspropStep, param.dtype);
  rmsprop_step_impl(param, grad, square_avg, grad_avg, momentum_buffer, p);
}

void Backend::adagrad_step(const View& param, const View& grad, const View& sum,
                           const AdagradStepParams& p) {
  const char* op = "adagrad_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "sum", sum, param, true, true);
  require(KernelOp::AdagradStep, param.dtype);
  adagrad_step_impl(param, grad, sum, p);
}

void Backend::sgd_step_impl(const View& param, const View&, const View&, const SgdStepParams&) {
  not_implemented(KernelOp::SgdStep, param.dtype);
}
void Backend::adam_step_impl(const View& param, const View&, const View&, const View&,
                             const View&, const AdamStepParams&) {
  not_implemented(KernelOp::AdamStep, param.dtype);
}
void Backend::rmsprop_step_impl(const View& param, const View&, const View&, const View&,
                                const View&, const RmspropStepParams&) {
  not_implemented(KernelOp::RmspropStep, param.dtype);
}
void Backend::adagrad_step_impl(const View& param, const View&, const View&,
                                const AdagradStepParams&) {
  not_implemented(KernelOp::AdagradStep, param.dtype);
}

// --- conv1d geometry --------------------------------------------------------------------------

std::int64_t Conv1dParams::out_length(std::int64_t length, std::int64_t kernel_size) const {
  check(stride > 0, "conv1d: non-positive stride is not supported (stride={})", stride);
  check(dilation > 0, "conv1d: non-positive dilation is not supported (dilation={})", dilation);
  check(kernel_size > 0, "conv1d: kernel_size must be positive, but got kernel_size={}",
        kernel_size);
  check(pad_left >= 0 && pad_right >= 0,
        "conv1d: negative padding is not supported (padding=({}, {}))", pad_left, pad_right);
  check(length >= 0, "conv1d: negative input length {}", length);
  std::optional<std::int64_t> padded = checked_add(length, pad_left);
  if (padded) padded = checked_add(*padded, pad_right);
  check(padded.has_value(),
        "conv1d: the padded input length {} + {} + {} (length + pad_left + pad_right) overflows "
        "int64",
        length, pad_left, pad_right);
  std::optional<std::int64_t> span = checked_mul(dilation, kernel_size - 1);
  if (span) span = checked_add(*span, 1);
  check(span.has_value(),
        "conv1d: the dilated kernel size {} * ({} - 1) + 1 (dilation * (kernel_size - 1) + 1) "
        "overflows int64",
        dilation, kernel_size);
  check(*padded >= *span,
        "conv1d: Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size "
        "can't be greater than actual input size",
        *padded, *span);
  return (*padded - *span) / stride + 1;
}

// --- registry ---------------------------------------------------------------------------------
namespace {
Kind g_cpu_kind = Kind::Cpu;
}

void set_cpu_backend(Kind kind) {
  check(kind != Kind::Cuda, "set_cpu_backend: the CPU backend must be Reference or Cpu");
  g_cpu_kind = kind;
}
Kind cpu_backend_kind() { return g_cpu_kind; }
Backend& host_backend() {
  return g_cpu_kind == Kind::Reference ? reference_backend() : cpu_backend();
}

}  // namespace reel::backends
