// F.interpolate (1-D): the source positions and weights PyTorch 1.13's CPU kernels use
// (UpSample.h: nearest_idx, area_pixel_compute_scale, area_pixel_compute_source_index), then
// index_select (and a weighted sum for linear), so autograd comes from those ops.
#include "nn/functional/upsampling.hpp"

#include <cmath>
#include <vector>

#include "tensor/ops.hpp"

namespace reel {

std::string interpolate_mode_name(InterpolateMode mode) {
  return mode == InterpolateMode::Nearest ? "nearest" : "linear";
}

InterpolateMode interpolate_mode_from_string(std::string_view name) {
  if (name == "nearest") return InterpolateMode::Nearest;
  if (name == "linear") return InterpolateMode::Linear;
  fail("interpolate: mode must be 'nearest' or 'linear' (the 1-D modes reel has), but got '{}'",
       name);
}

}  // namespace reel

namespace reel::nn::functional {

void check_interpolate_options(const InterpolateFuncOptions& o, std::string_view op) {
  check(!(o.size_ && o.scale_factor_), "{}: only one of size or scale_factor should be defined",
        op);
  check(o.size_ || o.scale_factor_, "{}: either size or scale_factor should be defined", op);
  check(!o.align_corners_ || o.mode_ == kLinear,
        "{}: align_corners option can only be set with the interpolating modes: linear | "
        "bilinear | bicubic | trilinear",
        op);
  if (o.size_) check(*o.size_ > 0, "{}: size must be positive, but got size={}", op, *o.size_);
  if (o.scale_factor_) {
    check(std::isfinite(*o.scale_factor_) && *o.scale_factor_ > 0,
          "{}: scale_factor must be a positive finite number, but got scale_factor={}", op,
          *o.scale_factor_);
  }
}

namespace {

// The float type PyTorch's kernel computes positions in: float for float32, double for float64
// (nearest always uses float).
template <typename R>
void linear_sources(std::int64_t length, std::int64_t out_length, bool align_corners,
                    std::optional<double> scale_factor, std::vector<std::int64_t>& i0,
                    std::vector<std::int64_t>& i1, std::vector<double>& l0,
                    std::vector<double>& l1) {
  R scale;
  if (align_corners) {
    scale = out_length > 1 ? static_cast<R>(length - 1) / static_cast<R>(out_length - 1) : R(0);
  } else {
    scale = scale_factor ? static_cast<R>(1.0 / *scale_factor)
                         : static_cast<R>(length) / static_cast<R>(out_length);
  }
  for (std::int64_t i = 0; i < out_length; ++i) {
    if (length == out_length && !align_corners) {  // PyTorch's identity shortcut
      i0.push_back(i);
      i1.push_back(i);
      l0.push_back(1.0);
      l1.push_back(0.0);
      continue;
    }
    R src;
    if (align_corners) {
      src = scale * static_cast<R>(i);
    } else {
      src = scale * (static_cast<R>(i) + R(0.5)) - R(0.5);
      if (src < R(0)) src = R(0);
    }
    const auto a = static_cast<std::int64_t>(src);
    const std::int64_t b = a + (a < length - 1 ? 1 : 0);
    R lambda1 = src - static_cast<R>(a);
    lambda1 = std::min(std::max(lambda1, R(0)), R(1));
    const R lambda0 = R(1) - lambda1;
    i0.push_back(a);
    i1.push_back(b);
    l0.push_back(static_cast<double>(lambda0));
    l1.push_back(static_cast<double>(lambda1));
  }
}

// PyTorch 1.13's 1-D nearest kernel (HelperInterpNearest::compute_indices_weights): the scale
// in the input's precision (1/scale_factor when given, else L/L_out), the source i * scale,
// rounded down in float32 (its floorf) and clamped to L - 1. No shortcut for L_out == L: with a
// scale_factor such as 1.1 that keeps L, the sources are not the identity.
template <typename R>
std::vector<std::int64_t> nearest_sources(std::int64_t length, std::int64_t out_length,
                                          std::optional<double> scale_factor) {
  const R scale = scale_factor ? static_cast<R>(1.0 / *scale_factor)
                               : static_cast<R>(length) / static_cast<R>(out_length);
  std::vector<std::int64_t> idx;
  idx.reserve(static_cast<std::size_t>(out_length));
  for (std::int64_t i = 0; i < out_length; ++i) {
    const R real = scale * static_cast<R>(i);
    const auto src = static_cast<std::int64_t>(std::floor(static_cast<float>(real)));
    idx.push_back(std::min(src, length - 1));
  }
  return idx;
}

Tensor index_tensor(const std::vector<std::int64_t>& v, Device device) {
  return tensor(v, {static_cast<std::int64_t>(v.size())}, TensorOptions(kInt64)).to(device);
}

}  // namespace

Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& o) {
  check(input.defined(), "interpolate: the input tensor is undefined");
  check_interpolate_options(o);
  check(input.dim() == 3,
        "interpolate: Input Error: reel supports 3D (N, C, L) input only, for the modes nearest "
        "| linear (got {}D input of size {})",
        input.dim(), input.sizes());
  check(is_floating(input.dtype()), "interpolate: expected a float32 or float64 input, but got {}",
        input.dtype());
  const std::int64_t length = input.size(2);
  // PyTorch: output size floor(L * scale_factor); the kernels then use 1/scale_factor unless
  // recompute_scale_factor asks for L / L_out.
  std::int64_t out_length;
  std::optional<double> scale;
  if (o.size_) {
    out_length = *o.size_;
  } else {
    const double wanted = std::floor(static_cast<double>(length) * *o.scale_factor_);
    check(wanted < 9.2e18, "interpolate: the output size {} * {} overflows int64", length,
          *o.scale_factor_);
    out_length = static_cast<std::int64_t>(wanted);
    if (!o.recompute_scale_factor_.value_or(false)) scale = o.scale_factor_;
  }
  check(length > 0 && out_length > 0,
        "interpolate: Input and output sizes should be greater than 0, but got input (W: {}) "
        "output (W: {})",
        length, out_length);

  const Device device = input.device();
  if (o.mode_ == kNearest) {
    const std::vector<std::int64_t> idx =
        input.dtype() == kFloat32 ? nearest_sources<float>(length, out_length, scale)
                                  : nearest_sources<double>(length, out_length, scale);
    return index_select(input, 2, index_tensor(idx, device));
  }

  std::vector<std::int64_t> i0, i1;
  std::vector<double> l0, l1;
  const bool align = o.align_corners_.value_or(false);
  if (input.dtype() == kFloat32) linear_sources<float>(length, out_length, align, scale, i0, i1, l0, l1);
  else linear_sources<double>(length, out_length, align, scale, i0, i1, l0, l1);
  Tensor w0 = tensor(l0, {1, 1, out_length}, TensorOptions(kFloat64)).to(input.dtype()).to(device);
  Tensor w1 = tensor(l1, {1, 1, out_length}, TensorOptions(kFloat64)).to(input.dtype()).to(device);
  return index_select(input, 2, index_tensor(i0, device)) * w0 +
         index_select(input, 2, index_tensor(i1, device)) * w1;
}

}  // namespace reel::nn::functional
