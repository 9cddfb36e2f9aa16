// Tensor core: storage, metadata, host access, the copies that record nothing, and the
// autograd fields. Creation is in tensor/creation.cpp, printing in tensor/print.cpp; the members
// that compute or record (views, clone/to, in-place writes, the math) are in tensor/ops/.
#include "tensor/tensor.hpp"

#include <cstring>
#include <ostream>

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
  Tensor host = device().is_cpu() ? *this : detail::copy_to_device(*this, Device(kCPU));
  if (host.dtype() != dtype_v<T> || !host.is_contiguous()) host = detail::copy_as(host, dtype_v<T>);
  const T* p = host.data_ptr<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<bool> Tensor::to_vector<bool>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;
template std::vector<std::int8_t> Tensor::to_vector<std::int8_t>() const;
template std::vector<std::int16_t> Tensor::to_vector<std::int16_t>() const;
template std::vector<std::int32_t> Tensor::to_vector<std::int32_t>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<complex64> Tensor::to_vector<complex64>() const;
template std::vector<complex128> Tensor::to_vector<complex128>() const;
template std::vector<Half> Tensor::to_vector<Half>() const;
template std::vector<BFloat16> Tensor::to_vector<BFloat16>() const;
template std::vector<ComplexHalf> Tensor::to_vector<ComplexHalf>() const;

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// --- copies that record nothing ------------------------------------------------------------------

namespace detail {

Tensor copy_as(const Tensor& src, DType dtype) {
  Tensor out = empty(src.sizes(), TensorOptions(dtype).device(src.device()));
  backend_for(src.device()).copy(view_of(out), view_of(src));
  return out;
}

Tensor copy_to_device(const Tensor& src_, Device target) {
  // The transfer primitives move bytes, so the source goes over contiguous.
  Tensor src = src_.is_contiguous() ? src_ : copy_as(src_, src_.dtype());
  Tensor out = empty(src.sizes(), TensorOptions(src.dtype()).device(target));
  std::size_t nbytes = static_cast<std::size_t>(src.numel()) * src.element_size();
  if (nbytes == 0) return out;
  if (src.device().is_cpu()) {
    out.storage()->backend().copy_from_host(out.raw_data(), src.raw_data(), nbytes);
  } else if (target.is_cpu()) {
    src.storage()->backend().copy_to_host(out.raw_data(), src.raw_data(), nbytes);
  } else {  // device to device, through the host
    std::vector<unsigned char> host(nbytes);
    src.storage()->backend().copy_to_host(host.data(), src.raw_data(), nbytes);
    out.storage()->backend().copy_from_host(out.raw_data(), host.data(), nbytes);
  }
  return out;
}

}  // namespace detail

// --- autograd fields (no tape here: backward() and retain_grad() are in autograd/) ---------

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

Tensor Tensor::detach() const {
  // An alias outside autograd (PyTorch's non-differentiable view): it shares the storage, so
  // the version counter too, but no view_base: in-place ops on it never touch this history.
  return make_tensor(storage(), sizes(), strides(), storage_offset(), dtype());
}

Tensor& Tensor::detach_() {
  impl().grad_fn.reset();
  impl().requires_grad = false;
  impl().view_base.reset();  // no longer part of its base's history
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
  self.view_base.reset();  // the new data is not a view of the old base
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

}  // namespace reel
