// Default implementations of the contract entries whose kernels have not arrived on a backend
// yet: a clear error, never a crash.
#include "backends/backend.hpp"

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
