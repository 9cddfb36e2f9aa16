// Tensor core: storage, metadata, host access, conversions and the autograd members.
// Views are in tensor/views.cpp, creation in tensor/creation.cpp, printing in tensor/print.cpp.
#include "tensor/tensor.hpp"

#include <cstring>
#include <ostream>

#include "autograd/record.hpp"
#include "tensor/ops.hpp"
#include "tensor/ops/elementwise_core.hpp"

namespace reel {

// --- storage ----------------------------------------------------------------------------------

backends::Backend& backend_for(Device device) {
  if (device.is_cpu()) return backends::host_backend();
  backends::Backend& b = backends::cuda_backend();
  int count = backends::cuda_device_count();
  check(device.index >= 0 && device.index < count,
        "CUDA: device index {} is out of range ({} device(s) present)", device.index, count);
  return b;
}

StorageImpl::StorageImpl(std::size_t nbytes, Device device)
    : nbytes_(nbytes), device_(device), backend_(&backend_for(device)) {
  data_ = backend_->allocate(nbytes);
}

StorageImpl::StorageImpl(void* data, std::size_t nbytes, Device device,
                         std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), backend_(&backend_for(device)),
      deleter_(std::move(deleter)), owned_(false) {}

StorageImpl::~StorageImpl() {
  if (owned_) backend_->deallocate(data_, nbytes_);
  else if (deleter_) deleter_(data_);
}

// --- construction -----------------------------------------------------------------------------

Tensor make_tensor(Storage storage, const Shape& shape, const Strides& strides,
                   std::int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

backends::View view_of(const Tensor& t) {
  const TensorImpl& i = t.impl();
  return backends::View{i.data(), i.dtype, i.shape, i.strides};
}

TensorImpl& Tensor::impl() const {
  check(impl_ != nullptr, "tensor: the tensor is undefined (default-constructed)");
  return *impl_;
}

std::int64_t Tensor::size(std::int64_t dim) const {
  return impl().shape[wrap_dim(dim, this->dim(), "size")];
}
std::int64_t Tensor::stride(std::int64_t dim) const {
  return impl().strides[wrap_dim(dim, this->dim(), "stride")];
}

// --- host access --------------------------------------------------------------------------------

Scalar Tensor::item() const {
  check(numel() == 1, "item: a Tensor with {} elements cannot be converted to Scalar (shape {})",
        numel(), sizes());
  alignas(16) unsigned char buf[16];
  if (device().is_cpu()) {
    std::memcpy(buf, raw_data(), element_size());
  } else {
    storage()->backend().copy_to_host(buf, raw_data(), element_size());
  }
  return visit_dtype(dtype(), [&]<typename T>() -> Scalar {
    T v;
    std::memcpy(&v, buf, sizeof(T));
    return Scalar(v);
  });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device(kCPU), dtype_v<T>).contiguous();
  const T* p = host.data_ptr<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<complex64> Tensor::to_vector<complex64>() const;
template std::vector<complex128> Tensor::to_vector<complex128>() const;

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// --- copies and conversions ---------------------------------------------------------------------

namespace {
// A new contiguous tensor holding `src` converted to `dtype` on src's device (no autograd).
Tensor copy_to_new(const Tensor& src, DType dtype) {
  Tensor out = empty(src.sizes(), TensorOptions(dtype).device(src.device()));
  backend_for(src.device()).copy(view_of(out), view_of(src));
  return out;
}
}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = copy_to_new(*this, dtype());
  if (autograd::needs_grad(*this)) {
    autograd::record("CloneBackward", {this}, out,
                     [](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {g[0]};
                     });
  }
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = copy_to_new(*this, target);
  if (autograd::needs_grad(*this)) {
    check(is_inexact(target), "to: cannot convert a tensor that requires grad to {}", target);
    DType from = dtype();
    autograd::record("ToCopyBackward", {this}, out,
                     [from](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       // real -> complex: the gradient of the real input is the real part.
                       return {g[0].to(from)};
                     });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor src = contiguous();
  Tensor out = empty(sizes(), TensorOptions(dtype()).device(target));
  std::size_t nbytes = static_cast<std::size_t>(numel()) * element_size();
  if (nbytes > 0) {
    if (src.device().is_cpu()) {
      out.storage()->backend().copy_from_host(out.raw_data(), src.raw_data(), nbytes);
    } else if (target.is_cpu()) {
      src.storage()->backend().copy_to_host(out.raw_data(), src.raw_data(), nbytes);
    } else {  // device to device, through the host
      std::vector<unsigned char> host(nbytes);
      src.storage()->backend().copy_to_host(host.data(), src.raw_data(), nbytes);
      out.storage()->backend().copy_from_host(out.raw_data(), host.data(), nbytes);
    }
  }
  if (autograd::needs_grad(*this)) {
    Device from = device();
    autograd::record("ToDeviceBackward", {this}, out,
                     [from](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                       return {g[0].to(from)};
                     });
  }
  return out;
}

Tensor Tensor::to(Device target, DType target_dtype) const { return to(target).to(target_dtype); }

Tensor& Tensor::copy_(const Tensor& src) {
  check(src.device() == device(), "copy_: expected src on {} (self's device), got {}", device(),
        src.device());
  Shape b = broadcast_shapes(sizes(), src.sizes(), "copy_");
  check(b == sizes(), "copy_: src of shape {} cannot be broadcast to self's shape {}", src.sizes(),
        sizes());
  bool record = autograd::needs_grad(*this, src);
  if (record) {
    check(!(is_leaf() && requires_grad()),
          "copy_: a leaf Variable that requires grad is being used in an in-place operation.");
  }
  backend_for(device()).copy(view_of(*this), view_of(src.expand(sizes())));
  bump_version();
  if (record) {
    check(!impl().is_view,
          "copy_: in-place operation on a view of a tensor that requires grad is not supported");
    Shape src_shape = src.sizes();
    DType src_dtype = src.dtype();
    // self's old history is overwritten: its gradient flows only to src.
    impl().grad_fn.reset();
    autograd::record("CopyBackward", {&src}, *this,
                     [src_shape, src_dtype](std::span<const Tensor> g,
                                            autograd::GradMask) -> std::vector<Tensor> {
                       return {sum_to(g[0], src_shape).to(src_dtype)};
                     });
  }
  return *this;
}

// --- autograd members ---------------------------------------------------------------------------

Tensor& Tensor::requires_grad_(bool value) {
  check(is_leaf() || value,
        "requires_grad_: you can only change requires_grad flags of leaf variables. If you want "
        "to use a computed variable in a subgraph that doesn't require differentiation use "
        "var_no_grad = var.detach().");
  check(!value || is_inexact(dtype()),
        "requires_grad_: only Tensors of floating point and complex dtype can require gradients "
        "(got {})",
        dtype());
  impl().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& g = impl().grad;
  return g ? Tensor(g) : Tensor();
}

Tensor& Tensor::mutable_grad_set(const Tensor& g) {
  if (g.defined()) {
    check(g.sizes() == sizes(), "grad: assigned grad has shape {} but the tensor has shape {}",
          g.sizes(), sizes());
    impl().grad = g.impl_ptr();
  } else {
    impl().grad.reset();
  }
  return *this;
}

void Tensor::zero_grad() { impl().grad.reset(); }

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor root = *this;
  autograd::backward(std::span<const Tensor>(&root, 1), std::span<const Tensor>(&gradient, 1),
                     retain_graph);
}

void Tensor::retain_grad() const { autograd::retain_grad_of(*this); }

Tensor Tensor::detach() const {
  Tensor out = make_tensor(storage(), sizes(), strides(), storage_offset(), dtype());
  out.impl().is_view = true;
  return out;
}

Tensor& Tensor::detach_() {
  impl().grad_fn.reset();
  impl().requires_grad = false;
  return *this;
}

void Tensor::set_data(const Tensor& new_data) const {
  check(new_data.defined(), "set_data: the new data is an undefined tensor");
  TensorImpl& self = impl();
  const TensorImpl& src = new_data.impl();
  check(!self.requires_grad || is_inexact(src.dtype),
        "set_data: a tensor that requires grad must hold floating point or complex data, but "
        "the new data is {}",
        src.dtype);
  if (&self == &src) return;
  const std::uint32_t old_version = self.storage->version();
  self.storage = src.storage;
  self.shape = src.shape;
  self.strides = src.strides;
  self.offset = src.offset;
  self.dtype = src.dtype;
  // A graph that saved this tensor before the swap must not silently read the new buffer: push
  // the new storage's version past the old one, so unpacking the saved tensor reports the change.
  while (self.storage->version() <= old_version) self.storage->bump_version();
}

// --- member forms of the ops --------------------------------------------------------------------

Tensor Tensor::add(const Tensor& o, Scalar alpha) const { return reel::add(*this, o, alpha); }
Tensor Tensor::sub(const Tensor& o, Scalar alpha) const { return reel::sub(*this, o, alpha); }
Tensor Tensor::mul(const Tensor& o) const { return reel::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return reel::div(*this, o); }
Tensor Tensor::pow(const Tensor& o) const { return reel::pow(*this, o); }
Tensor Tensor::pow(Scalar e) const { return reel::pow(*this, e); }
Tensor Tensor::neg() const { return reel::neg(*this); }
Tensor Tensor::exp() const { return reel::exp(*this); }
Tensor Tensor::log() const { return reel::log(*this); }
Tensor Tensor::sqrt() const { return reel::sqrt(*this); }
Tensor Tensor::abs() const { return reel::abs(*this); }
Tensor Tensor::sin() const { return reel::sin(*this); }
Tensor Tensor::cos() const { return reel::cos(*this); }
Tensor Tensor::tanh() const { return reel::tanh(*this); }
Tensor Tensor::sigmoid() const { return reel::sigmoid(*this); }
Tensor Tensor::relu() const { return reel::relu(*this); }
Tensor Tensor::clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const {
  return reel::clamp(*this, lo, hi);
}
Tensor Tensor::matmul(const Tensor& o) const { return reel::matmul(*this, o); }
Tensor Tensor::sum() const { return reel::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return reel::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return reel::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const {
  return reel::mean(*this, dims, keepdim);
}
Tensor Tensor::max() const { return reel::max(*this); }
Tensor Tensor::min() const { return reel::min(*this); }
Tensor Tensor::argmax(std::optional<std::int64_t> dim, bool keepdim) const {
  return reel::argmax(*this, dim, keepdim);
}
Tensor Tensor::softmax(std::int64_t dim) const { return reel::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return reel::log_softmax(*this, dim); }
Tensor Tensor::masked_fill(const Tensor& mask, Scalar value) const {
  return reel::masked_fill(*this, mask, value);
}
Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const {
  return reel::index_select(*this, dim, index);
}
Tensor Tensor::gather(std::int64_t dim, const Tensor& index) const {
  return reel::gather(*this, dim, index);
}
Tensor Tensor::real() const { return reel::real(*this); }
Tensor Tensor::imag() const { return reel::imag(*this); }
Tensor Tensor::conj() const { return reel::conj(*this); }

Tensor& Tensor::add_(const Tensor& o, Scalar alpha) { return reel::add_(*this, o, alpha); }
Tensor& Tensor::add_(Scalar o) { return reel::add_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::sub_(const Tensor& o, Scalar alpha) { return reel::sub_(*this, o, alpha); }
Tensor& Tensor::sub_(Scalar o) { return reel::sub_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::mul_(const Tensor& o) { return reel::mul_(*this, o); }
Tensor& Tensor::mul_(Scalar o) { return reel::mul_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::div_(const Tensor& o) { return reel::div_(*this, o); }
Tensor& Tensor::div_(Scalar o) { return reel::div_(*this, detail::wrap_scalar(o, *this)); }
Tensor& Tensor::zero_() { return fill_(0); }
Tensor& Tensor::fill_(Scalar value) {
  check(!(autograd::needs_grad(*this) && is_leaf()),
        "fill_: a leaf Variable that requires grad is being used in an in-place operation.");
  backend_for(device()).fill(view_of(*this), value);
  bump_version();
  if (autograd::needs_grad(*this)) {
    // The old values are gone: nothing flows back through a fill.
    impl().grad_fn.reset();
    impl().requires_grad = false;
  }
  return *this;
}
Tensor& Tensor::clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi) {
  return reel::clamp_(*this, lo, hi);
}
Tensor& Tensor::masked_fill_(const Tensor& mask, Scalar value) {
  return reel::masked_fill_(*this, mask, value);
}

}  // namespace reel
