// Default implementations of the contract entries whose kernels have not arrived on a backend
// yet: a clear error, never a crash.
#include "backends/backend.hpp"

#include "backends/checked_math.hpp"

namespace reel::backends {

namespace {
[[noreturn]] void not_implemented(const Backend& b, const char* op) {
  fail("{}: not yet implemented on the {} backend", op, b.name());
}
}  // namespace

void Backend::conv1d_forward(const View&, const View&, const View&, const View&,
                             const Conv1dParams&) {
  not_implemented(*this, "conv1d");
}
void Backend::conv1d_backward_input(const View&, const View&, const View&, const Conv1dParams&) {
  not_implemented(*this, "conv1d_backward_input");
}
void Backend::conv1d_backward_weight(const View&, const View&, const View&, const View&,
                                     const Conv1dParams&) {
  not_implemented(*this, "conv1d_backward_weight");
}
void Backend::pad1d(const View&, const View&, PadMode, std::int64_t, std::int64_t) {
  not_implemented(*this, "pad1d");
}
void Backend::pad1d_backward(const View&, const View&, PadMode, std::int64_t, std::int64_t) {
  not_implemented(*this, "pad1d_backward");
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
