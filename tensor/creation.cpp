// Creation: empty/zeros/ones/full, ranges, eye, random draws, host data and from_blob.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <optional>

#include "backends/philox.hpp"
#include "tensor/tensor.hpp"

namespace reel {

namespace {

Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad_) t.requires_grad_(true);
  return t;
}

// Every size a new tensor implies must be representable: no negative extent, an element count,
// a byte count and row-major strides that fit in int64. Checked before anything is allocated,
// so an impossible shape is an error naming the op, never a wrapped size. Returns the
// contiguous strides and the byte count, computed once.
struct Geometry {
  Strides strides;
  std::size_t nbytes = 0;
};
Geometry checked_geometry(const Shape& shape, DType dtype, const char* op) {
  for (auto s : shape) {
    check(s >= 0, "{}: Trying to create tensor with negative dimension {}: {}", op, s, shape);
  }
  const std::optional<std::int64_t> numel = checked_numel(shape);
  check(numel.has_value(), "{}: the shape {} has more elements than int64 can hold", op, shape);
  const std::optional<std::size_t> nbytes = checked_nbytes(*numel, element_size(dtype));
  check(nbytes.has_value(),
        "{}: a tensor of shape {} ({} elements of {}, {} bytes each) needs more bytes than int64 "
        "can hold",
        op, shape, *numel, dtype, element_size(dtype));
  std::optional<Strides> strides = checked_contiguous_strides(shape);
  check(strides.has_value(), "{}: the strides of a tensor of shape {} overflow int64", op, shape);
  return {*strides, *nbytes};
}

void check_shape(const Shape& shape, DType dtype, const char* op) {
  (void)checked_geometry(shape, dtype, op);
}

// A new contiguous tensor of `shape` on `device`, its sizes checked first. A refused allocation
// is a reel::Error naming the op, the shape and the bytes, whatever the backend's allocator
// threw.
Tensor new_tensor(const Shape& shape, DType dtype, Device device, const char* op) {
  const Geometry g = checked_geometry(shape, dtype, op);
  Storage storage;
  try {
    storage = std::make_shared<StorageImpl>(g.nbytes, device);
  } catch (const std::bad_alloc&) {
    fail("{}: cannot allocate {} bytes for a tensor of shape {} ({}) on {} (out of memory)", op,
         g.nbytes, shape, dtype, device);
  } catch (const Error& e) {
    fail("{}: cannot allocate {} bytes for a tensor of shape {} ({}) on {}: {}", op, g.nbytes,
         shape, dtype, device, e.what());
  }
  return make_tensor(std::move(storage), shape, g.strides, 0, dtype);
}

// A draw of `shape` from `gen`: reserves the counters it uses (numel, twice that for complex;
// see backends/philox.hpp) and hands (seed, first counter) to the backend.
Tensor random_tensor(const Shape& shape, const TensorOptions& o, backends::RandomSpec spec,
                     Generator& gen, const char* op) {
  Tensor t = new_tensor(shape, o.dtype_, o.device_, op);
  auto n = static_cast<std::uint64_t>(t.numel()) * (is_complex(o.dtype_) ? 2 : 1);
  const GeneratorState at = gen.reserve(n);
  spec.seed = at.seed;
  spec.offset = at.offset;
  if (n > 0) backend_for(o.device_).random(view_of(t), spec);
  return finish(t, o);
}

// The largest n randperm can put in `dtype`: every value 0 .. n-1 must be exact there.
std::int64_t randperm_limit(DType dtype) {
  switch (dtype) {
    case kUInt8: return 256;
    case kInt8: return 128;
    case kInt16: return 32768;
    case kInt32: return std::int64_t{1} << 31;
    case kFloat32: return (std::int64_t{1} << 24) + 1;
    case kFloat64: return (std::int64_t{1} << 53) + 1;
    default: return std::numeric_limits<std::int64_t>::max();
  }
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions o) {
  return finish(new_tensor(shape, o.dtype_, o.device_, "empty"), o);
}

Tensor full(const Shape& shape, Scalar value, TensorOptions o) {
  Tensor t = new_tensor(shape, o.dtype_, o.device_, "full");
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
  check(std::isfinite(s) && std::isfinite(e), "arange: unsupported range: {} -> {}", s, e);
  check(!std::isnan(d), "arange: step must be a number, got {}", d);
  check(d != 0, "arange: step must be nonzero");
  if (all_int && o.dtype_ == kInt64) {
    // Exact integer arithmetic: doubles can't tell INT64_MAX - 10 from INT64_MAX. The count
    // and the values are computed in uint64 (wrapping is well defined there and each value
    // start + i*step lies between start and end, so it converts back exactly).
    const std::int64_t si = start.to_int(), ei = end.to_int(), di = step.to_int();
    check((di > 0 && ei >= si) || (di < 0 && ei <= si),
          "arange: upper bound and larger bound inconsistent with step sign (start={}, end={}, "
          "step={})",
          si, ei, di);
    const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
    const std::uint64_t span = di > 0 ? u(ei) - u(si) : u(si) - u(ei);
    const std::uint64_t stride = di > 0 ? u(di) : std::uint64_t{0} - u(di);
    const std::uint64_t count = span / stride + (span % stride != 0 ? 1 : 0);
    check(count <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
          "arange: invalid size, possible overflow? ({} elements from start={}, end={}, step={})",
          count, si, ei, di);
    const auto n = static_cast<std::int64_t>(count);
    Tensor host = new_tensor(Shape{n}, kInt64, Device(kCPU), "arange");
    auto* p = host.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<std::int64_t>(u(si) + u(i) * u(di));
    return finish(host.to(o.device_), o);
  }
  check((d > 0 && e >= s) || (d < 0 && e <= s),
        "arange: upper bound and larger bound inconsistent with step sign (start={}, end={}, step={})",
        s, e, d);
  // PyTorch's count, checked before the conversion (a double past int64's range would be
  // undefined behaviour to convert, and (e - s) itself can overflow to inf).
  const double size_d = std::ceil((e - s) / d);
  check(std::isfinite(size_d) && size_d >= 0 && size_d < 0x1p63,
        "arange: invalid size, possible overflow? ({} elements from start={}, end={}, step={})",
        size_d, s, e, d);
  const auto n = static_cast<std::int64_t>(size_d);
  check_shape(Shape{n}, o.dtype_, "arange");
  // Computed on the host in double, as start + i * step, then converted.
  Tensor host = new_tensor(Shape{n}, kFloat64, Device(kCPU), "arange");
  auto* p = host.data_ptr<double>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = s + static_cast<double>(i) * d;
  return finish(host.to(o.dtype_).to(o.device_), o);
}

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions o) {
  check(steps >= 0, "linspace: number of steps must be non-negative (got {})", steps);
  check_shape(Shape{steps}, o.dtype_, "linspace");
  Tensor host = new_tensor(Shape{steps}, kFloat64, Device(kCPU), "linspace");
  auto* values = host.data_ptr<double>();
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // PyTorch fills the first half from start and the second half from end, so both ends are exact.
  std::int64_t half = steps / 2;
  for (std::int64_t i = 0; i < steps; ++i) {
    values[i] = i < half ? start + step * static_cast<double>(i)
                         : end - step * static_cast<double>(steps - 1 - i);
  }
  return finish(host.to(o.dtype_).to(o.device_), o);
}

Tensor eye(std::int64_t n, std::optional<std::int64_t> m_, TensorOptions o) {
  std::int64_t m = m_.value_or(n);
  check(n >= 0 && m >= 0, "eye: n and m must be non-negative, got n={}, m={}", n, m);
  Tensor t = new_tensor(Shape{n, m}, o.dtype_, o.device_, "eye");
  if (t.numel() > 0) {
    backends::Backend& backend = backend_for(o.device_);
    backend.fill(view_of(t), 0);
    // The diagonal is every (m+1)-th element of the row-major buffer (m + 1 fits: n*m does).
    const std::int64_t k = std::min(n, m);
    backends::View diagonal = view_of(t);
    diagonal.shape = Shape{k};
    diagonal.strides = Strides{m + 1};
    backend.fill(diagonal, 1);
  }
  return finish(t, o);
}

Tensor rand(const Shape& shape, TensorOptions o) { return rand(shape, default_generator(), o); }
Tensor rand(const Shape& shape, Generator& gen, TensorOptions o) {
  check(is_inexact(o.dtype_), "rand: expected a floating or complex dtype, got {}", o.dtype_);
  return random_tensor(shape, o, {backends::RandomSpec::Kind::Uniform, 0.0, 1.0}, gen, "rand");
}

Tensor randn(const Shape& shape, TensorOptions o) { return randn(shape, default_generator(), o); }
Tensor randn(const Shape& shape, Generator& gen, TensorOptions o) {
  check(is_inexact(o.dtype_), "randn: expected a floating or complex dtype, got {}", o.dtype_);
  return random_tensor(shape, o, {backends::RandomSpec::Kind::Normal, 0.0, 1.0}, gen, "randn");
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions o) {
  return randint(low, high, shape, default_generator(), o);
}
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               TensorOptions o) {
  check(low < high, "randint: random_ expects 'from' to be less than 'to', but got from={} >= to={}",
        low, high);
  // The generator's parameters are doubles (backends/philox.hpp): bounds past 2^53 would be
  // rounded, and 2^63 would not convert back to int64 at all.
  constexpr std::int64_t kExact = std::int64_t{1} << 53;
  check(low >= -kExact && high <= kExact,
        "randint: low and high must lie in [-2^53, 2^53] (exactly representable as double), but "
        "got low={} and high={}",
        low, high);
  check(is_integral(o.dtype_, /*include_bool=*/false) || is_floating(o.dtype_),
        "randint: expected an integer or floating dtype, got {}", o.dtype_);
  return random_tensor(shape, o,
                       {backends::RandomSpec::Kind::Integer, static_cast<double>(low),
                        static_cast<double>(high)},
                       gen, "randint");
}

Tensor rand_like(const Tensor& t) { return rand(t.sizes(), t.options()); }
Tensor randn_like(const Tensor& t) { return randn(t.sizes(), t.options()); }
Tensor rand_like(const Tensor& t, Generator& gen) { return rand(t.sizes(), gen, t.options()); }
Tensor randn_like(const Tensor& t, Generator& gen) { return randn(t.sizes(), gen, t.options()); }

Tensor randperm(std::int64_t n, TensorOptions o) { return randperm(n, default_generator(), o); }
Tensor randperm(std::int64_t n, Generator& gen, TensorOptions o) {
  check(n >= 0, "randperm: n must be non-negative, got {}", n);
  check(is_integral(o.dtype_, /*include_bool=*/false) || is_floating(o.dtype_),
        "randperm: expected an integer or floating dtype, got {}", o.dtype_);
  check(n <= randperm_limit(o.dtype_),
        "randperm: n cannot be greater than {} for {} (its values 0 .. n-1 must be exact), got {}",
        randperm_limit(o.dtype_), o.dtype_, n);
  Tensor host = new_tensor(Shape{n}, kInt64, Device(kCPU), "randperm");
  auto* p = host.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) p[i] = i;
  // Fisher–Yates from the back: position i swaps with a uniform j in [0, i], drawn from counter
  // offset + i (counter offset + 0 is reserved but unused, so a call always takes n counters).
  // The modulo bias is below (i + 1) / 2^64.
  const GeneratorState at = gen.reserve(static_cast<std::uint64_t>(n));
  for (std::int64_t i = n - 1; i > 0; --i) {
    const backends::philox::Block r =
        backends::philox::block_at(at.seed, at.offset + static_cast<std::uint64_t>(i));
    const std::uint64_t bits = backends::philox::bits64(r.x[0], r.x[1]);
    const auto j = static_cast<std::int64_t>(bits % static_cast<std::uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  Tensor out = o.dtype_ == kInt64 ? host : detail::copy_as(host, o.dtype_);
  if (!o.device_.is_cpu()) out = detail::copy_to_device(out, o.device_);
  return finish(out, o);
}

template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions o) {
  using Stored = std::conditional_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                                    std::int64_t, T>;
  constexpr DType src_dtype = dtype_v<Stored>;
  check_shape(shape, src_dtype, "tensor");
  check(numel_of(shape) == static_cast<std::int64_t>(values.size()),
        "tensor: {} values cannot fill shape {} ({} elements)", values.size(), shape,
        numel_of(shape));
  // Stage on the host in T's own dtype, then convert (and move) with the backends' copy.
  Tensor host = new_tensor(shape, src_dtype, Device(kCPU), "tensor");
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
  check_shape(shape, o.dtype_, "from_blob");
  check(strides.size() == shape.size(), "from_blob: strides {} don't match shape {}", strides,
        shape);
  // The elements the view reaches: 1 + sum (shape[i] - 1) * strides[i], checked (a stride of
  // 2^62 over 4 elements describes no real buffer), and so is its byte size.
  std::optional<std::int64_t> extent = 1;
  for (int i = 0; i < shape.size(); ++i) {
    check(strides[i] >= 0, "from_blob: negative stride {} in {}", strides[i], strides);
    if (shape[i] > 0 && extent) {
      std::optional<std::int64_t> reach = checked_mul(shape[i] - 1, strides[i]);
      extent = reach ? checked_add(*extent, *reach) : std::nullopt;
    }
  }
  if (numel_of(shape) == 0) extent = 0;
  const std::optional<std::size_t> nbytes =
      extent ? checked_nbytes(*extent, element_size(o.dtype_)) : std::nullopt;
  check(nbytes.has_value(),
        "from_blob: a tensor of shape {} with strides {} spans more bytes than int64 can hold",
        shape, strides);
  auto storage = std::make_shared<StorageImpl>(data, *nbytes, o.device_, std::move(deleter));
  return finish(make_tensor(std::move(storage), shape, strides, 0, o.dtype_), o);
}

}  // namespace reel
