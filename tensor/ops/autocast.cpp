// Autocast's thread-local state and its two casts (tensor/ops/autocast.hpp).
#include "tensor/ops/autocast.hpp"

#include "backends/error.hpp"

namespace reel {

namespace {
thread_local bool t_enabled = false;
thread_local DType t_dtype = kBFloat16;
}  // namespace

autocast::autocast(DType dtype, bool enabled)
    : previous_enabled_(t_enabled), previous_dtype_(t_dtype) {
  check(dtype == kBFloat16 || dtype == kFloat16,
        "autocast: dtype must be bfloat16 or float16 (the lower-precision dtypes), got {}", dtype);
  t_enabled = enabled;
  t_dtype = dtype;
}

autocast::~autocast() {
  t_enabled = previous_enabled_;
  t_dtype = previous_dtype_;
}

bool is_autocast_enabled() { return t_enabled; }
DType get_autocast_dtype() { return t_dtype; }

namespace detail {

Tensor autocast_lower(const Tensor& t) {
  if (!t_enabled || !t.defined() || !is_floating(t.dtype()) || t.dtype() == t_dtype) return t;
  return t.to(t_dtype);
}

Tensor autocast_float32(const Tensor& t) {
  if (!t_enabled || !t.defined() || (t.dtype() != kFloat16 && t.dtype() != kBFloat16)) return t;
  return t.to(kFloat32);
}

}  // namespace detail

}  // namespace reel
