// Creation: empty/zeros/ones/full, ranges, eye, random draws, host data and from_blob.
#include <atomic>
#include <cmath>
#include <cstring>

#include "tensor/tensor.hpp"

namespace reel {

namespace {

Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad_) t.requires_grad_(true);
  return t;
}

void check_shape(const Shape& shape, const char* op) {
  for (auto s : shape) {
    check(s >= 0, "{}: Trying to create tensor with negative dimension {}: {}", op, s, shape);
  }
}

Tensor allocate(const Shape& shape, DType dtype, Device device) {
  auto nbytes = static_cast<std::size_t>(numel_of(shape)) * element_size(dtype);
  auto storage = std::make_shared<StorageImpl>(nbytes, device);
  return make_tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

// The global generator: a seed and a counter of consumed draws (see backends/philox.hpp).
std::atomic<std::uint64_t> g_seed{0x5eed'0000'2026ULL};
std::atomic<std::uint64_t> g_offset{0};

Tensor random_tensor(const Shape& shape, const TensorOptions& o, backends::RandomSpec spec,
                     const char* op) {
  check_shape(shape, op);
  Tensor t = allocate(shape, o.dtype_, o.device_);
  auto n = static_cast<std::uint64_t>(t.numel()) * (is_complex(o.dtype_) ? 2 : 1);
  spec.seed = g_seed.load();
  spec.offset = g_offset.fetch_add(n);
  if (n > 0) backend_for(o.device_).random(view_of(t), spec);
  return finish(t, o);
}

}  // namespace

void manual_seed(std::uint64_t seed) {
  g_seed = seed;
  g_offset = 0;
}

Tensor empty(const Shape& shape, TensorOptions o) {
  check_shape(shape, "empty");
  return finish(allocate(shape, o.dtype_, o.device_), o);
}

Tensor full(const Shape& shape, Scalar value, TensorOptions o) {
  check_shape(shape, "full");
  Tensor t = allocate(shape, o.dtype_, o.device_);
  if (t.numel() > 0) backend_for(o.device_).fill(view_of(t), value);
  return finish(t, o);
}

Tensor zeros(const Shape& shape, TensorOptions o) { return full(shape, 0, o); }
Tensor ones(const Shape& shape, TensorOptions o) { return full(shape, 1, o); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), t.options()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.options()); }
Tensor full_like(const Tensor& t, Scalar value) { return full(t.sizes(), value, t.options()); }

Tensor scalar_tensor(Scalar value, TensorOptions o) { return full({}, value, o); }
Tensor scalar_tensor(Scalar value) { return full({}, value, TensorOptions(value.natural_dtype())); }

Tensor arange(Scalar end, std::optional<TensorOptions> o) { return arange(0, end, 1, o); }

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<TensorOptions> options) {
  bool all_int = start.is_integral() && end.is_integral() && step.is_integral();
  TensorOptions o = options.value_or(TensorOptions(all_int ? kInt64 : kFloat32));
  double s = start.to_double(), e = end.to_double(), d = step.to_double();
  check(d != 0, "arange: step must be nonzero");
  check((d > 0 && e >= s) || (d < 0 && e <= s),
        "arange: upper bound and larger bound inconsistent with step sign (start={}, end={}, step={})",
        s, e, d);
  auto n = static_cast<std::int64_t>(std::ceil((e - s) / d));
  // Computed on the host in double, as start + i * step, then converted.
  std::vector<double> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = s + static_cast<double>(i) * d;
  if (all_int && o.dtype_ == kInt64) {
    std::vector<std::int64_t> iv(values.size());
    for (std::size_t i = 0; i < iv.size(); ++i) iv[i] = start.to_int() + static_cast<std::int64_t>(i) * step.to_int();
    return tensor(iv, Shape{n}, o);
  }
  return tensor(values, Shape{n}, o);
}

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions o) {
  check(steps >= 0, "linspace: number of steps must be non-negative (got {})", steps);
  std::vector<double> values(static_cast<std::size_t>(steps));
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // PyTorch fills the first half from start and the second half from end, so both ends are exact.
  std::int64_t half = steps / 2;
  for (std::int64_t i = 0; i < steps; ++i) {
    values[static_cast<std::size_t>(i)] =
        i < half ? start + step * static_cast<double>(i)
                 : end - step * static_cast<double>(steps - 1 - i);
  }
  return tensor(values, Shape{steps}, o);
}

Tensor eye(std::int64_t n, std::optional<std::int64_t> m_, TensorOptions o) {
  std::int64_t m = m_.value_or(n);
  check(n >= 0 && m >= 0, "eye: n and m must be non-negative, got n={}, m={}", n, m);
  std::vector<double> values(static_cast<std::size_t>(n * m), 0.0);
  for (std::int64_t i = 0; i < std::min(n, m); ++i) values[static_cast<std::size_t>(i * m + i)] = 1.0;
  return tensor(values, Shape{n, m}, o);
}

Tensor rand(const Shape& shape, TensorOptions o) {
  check(is_inexact(o.dtype_), "rand: expected a floating or complex dtype, got {}", o.dtype_);
  return random_tensor(shape, o, {backends::RandomSpec::Kind::Uniform, 0.0, 1.0}, "rand");
}

Tensor randn(const Shape& shape, TensorOptions o) {
  check(is_inexact(o.dtype_), "randn: expected a floating or complex dtype, got {}", o.dtype_);
  return random_tensor(shape, o, {backends::RandomSpec::Kind::Normal, 0.0, 1.0}, "randn");
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions o) {
  check(low < high, "randint: random_ expects 'from' to be less than 'to', but got from={} >= to={}",
        low, high);
  check(is_integral(o.dtype_, /*include_bool=*/false) || is_floating(o.dtype_),
        "randint: expected an integer or floating dtype, got {}", o.dtype_);
  return random_tensor(shape, o,
                       {backends::RandomSpec::Kind::Integer, static_cast<double>(low),
                        static_cast<double>(high)},
                       "randint");
}

Tensor rand_like(const Tensor& t) { return rand(t.sizes(), t.options()); }
Tensor randn_like(const Tensor& t) { return randn(t.sizes(), t.options()); }

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions o) {
  check(numel_of(shape) == static_cast<std::int64_t>(values.size()),
        "tensor: {} values cannot fill shape {} ({} elements)", values.size(), shape,
        numel_of(shape));
  using Stored = std::conditional_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                                    std::int64_t, T>;
  constexpr DType src_dtype = dtype_v<Stored>;
  // Stage on the host in T's own dtype, then convert (and move) with the backends' copy.
  Tensor host = allocate(shape, src_dtype, Device(kCPU));
  auto* dst = static_cast<Stored*>(host.raw_data());
  for (std::size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<Stored>(values[i]);
  Tensor out = o.dtype_ == src_dtype ? host : detail::copy_as(host, o.dtype_);
  if (!o.device_.is_cpu()) out = detail::copy_to_device(out, o.device_);
  return finish(out, o);
}

template Tensor tensor<bool>(const std::vector<bool>&, const Shape&, TensorOptions);
template Tensor tensor<std::uint8_t>(const std::vector<std::uint8_t>&, const Shape&, TensorOptions);
template Tensor tensor<std::int8_t>(const std::vector<std::int8_t>&, const Shape&, TensorOptions);
template Tensor tensor<std::int16_t>(const std::vector<std::int16_t>&, const Shape&, TensorOptions);
template Tensor tensor<int>(const std::vector<int>&, const Shape&, TensorOptions);
template Tensor tensor<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, TensorOptions);
template Tensor tensor<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor tensor<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor tensor<complex64>(const std::vector<complex64>&, const Shape&, TensorOptions);
template Tensor tensor<complex128>(const std::vector<complex128>&, const Shape&, TensorOptions);

Tensor from_blob(void* data, const Shape& shape, TensorOptions o,
                 std::function<void(void*)> deleter) {
  return from_blob(data, shape, contiguous_strides(shape), o, std::move(deleter));
}

Tensor from_blob(void* data, const Shape& shape, const Strides& strides, TensorOptions o,
                 std::function<void(void*)> deleter) {
  check_shape(shape, "from_blob");
  check(strides.size() == shape.size(), "from_blob: strides {} don't match shape {}", strides,
        shape);
  std::int64_t extent = 1;
  for (int i = 0; i < shape.size(); ++i) {
    check(strides[i] >= 0, "from_blob: negative stride {} in {}", strides[i], strides);
    if (shape[i] > 0) extent += (shape[i] - 1) * strides[i];
  }
  auto nbytes = static_cast<std::size_t>(extent) * element_size(o.dtype_);
  auto storage = std::make_shared<StorageImpl>(data, nbytes, o.device_, std::move(deleter));
  return finish(make_tensor(std::move(storage), shape, strides, 0, o.dtype_), o);
}

}  // namespace reel
