#pragma once
// Tensor: a reference-counted handle to a TensorImpl — a strided view (shape, strides, offset,
// dtype) into a shared Storage, plus the autograd fields (requires_grad, grad, grad_fn).
// Copying a Tensor copies the handle, as in LibTorch; `clone()` copies the data.
//
// The math ops are free functions declared in tensor/ops.hpp (reel::add, reel::matmul, ...);
// the member forms below forward to them.
//
// Where the members are defined (docs/architecture.md, "Layers and arrows"): this header is the
// tensor core and declares the whole API, as LibTorch's TensorBody.h does. The core
// (tensor/tensor.cpp, creation.cpp, print.cpp) defines storage, metadata, host access and the
// autograd *fields*; the members that compute or record a tape entry (copies and conversions,
// views, in-place writes, the math) are defined in tensor/ops/, backward() in autograd/engine.cpp
// and retain_grad() / grad_fn_name() in autograd/record.cpp. The core calls none of them but
// grad_fn_name() (to print a tensor's grad_fn).
#include <complex>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <functional>
#include <utility>
#include <vector>

#include "backends/dims.hpp"
#include "backends/dtype.hpp"
#include "backends/scalar.hpp"
#include "tensor/device.hpp"
#include "tensor/generator.hpp"
#include "tensor/storage.hpp"

namespace reel {

namespace autograd {
struct Node;
struct TensorHooks;
}

class Tensor;

struct TensorImpl {
  Storage storage;
  Shape shape;
  Strides strides;
  std::int64_t offset = 0;  // in elements
  DType dtype = kFloat32;

  // autograd
  bool requires_grad = false;  // for a leaf: the user asked; for a non-leaf: grad_fn != null
  bool retains_grad = false;
  bool is_view = false;  // made by a view op from another tensor (shares its storage)
  // Why a view has no view_base (PyTorch's CreationMeta): an in-place op that records a
  // gradient refuses such a view. detach() makes no view at all (an alias outside autograd).
  enum class ViewCreation : std::uint8_t { kTracked, kNoGradMode, kComplexPart };
  ViewCreation view_creation = ViewCreation::kTracked;
  std::uint32_t output_nr = 0;
  // A differentiable view (made by a view op in grad mode) keeps the tensor it views, never
  // itself such a view (a view of a view points at the first one's base). An in-place op on the
  // view rewrites the base's history (CopySlices); the view's grad_fn is then regenerated from
  // the base's new history when next read, which `view_version` (the storage version when the
  // grad_fn was set) detects. See docs/architecture.md, "The tape". Beside requires_grad, which
  // every op reads with it.
  std::uint32_t view_version = 0;
  std::shared_ptr<TensorImpl> view_base;
  std::shared_ptr<autograd::Node> grad_fn;
  std::shared_ptr<TensorImpl> grad;
  // Hooks registered on a leaf, and where the hooks of a non-leaf went (autograd/node.hpp).
  std::shared_ptr<autograd::TensorHooks> hooks;

  Device device() const { return storage->device(); }
  void* data() const {
    return static_cast<char*>(storage->data()) + offset * static_cast<std::int64_t>(element_size(dtype));
  }
};

// Creation options, LibTorch style: TensorOptions().dtype(kFloat64).device(kCUDA).requires_grad(true).
// A DType or a Device converts implicitly, so zeros({2, 3}, kFloat64) works.
struct TensorOptions {
  DType dtype_ = kFloat32;
  Device device_{};
  bool requires_grad_ = false;
  TensorOptions() = default;
  TensorOptions(DType t) : dtype_(t) {}
  TensorOptions(Device d) : device_(d) {}
  TensorOptions(DeviceType d) : device_(d) {}
  TensorOptions dtype(DType t) const { auto o = *this; o.dtype_ = t; return o; }
  TensorOptions device(Device d) const { auto o = *this; o.device_ = d; return o; }
  TensorOptions requires_grad(bool r = true) const { auto o = *this; o.requires_grad_ = r; return o; }
};

// A typed N-d accessor for loops over a CPU tensor: `auto a = t.accessor<float, 2>(); a[i][j]`.
template <typename T, int N>
class TensorAccessor {
 public:
  TensorAccessor(T* data, const std::int64_t* sizes, const std::int64_t* strides)
      : data_(data), sizes_(sizes), strides_(strides) {}
  decltype(auto) operator[](std::int64_t i) const {
    if constexpr (N == 1) return data_[i * strides_[0]];
    else return TensorAccessor<T, N - 1>(data_ + i * strides_[0], sizes_ + 1, strides_ + 1);
  }
  std::int64_t size(int d) const { return sizes_[d]; }

 private:
  T* data_;
  const std::int64_t* sizes_;
  const std::int64_t* strides_;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- metadata -------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().shape; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  std::int64_t size(std::int64_t dim) const;
  std::int64_t stride(std::int64_t dim) const;
  int dim() const { return impl().shape.size(); }
  std::int64_t numel() const { return numel_of(impl().shape); }
  std::int64_t storage_offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  DType scalar_type() const { return impl().dtype; }
  Device device() const { return impl().device(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_complex() const { return reel::is_complex(dtype()); }
  bool is_floating_point() const { return reel::is_floating(dtype()); }
  bool is_contiguous() const { return is_contiguous_layout(impl().shape, impl().strides); }
  std::size_t element_size() const { return reel::element_size(dtype()); }
  TensorOptions options() const { return TensorOptions(dtype()).device(device()); }
  const Storage& storage() const { return impl().storage; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  std::string str() const;  // the PyTorch-style printout (tensor/print.cpp)

  TensorImpl& impl() const;  // throws reel::Error on an undefined tensor
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // --- data access (CPU tensors) ------------------------------------------------------------
  // Pointer to the first element; checks T matches the dtype.
  template <typename T> T* data_ptr() const;
  void* raw_data() const { return impl().data(); }
  // The value of a one-element tensor (any device; copies to host), converted to T.
  template <typename T> T item() const;
  Scalar item() const;
  template <typename T, int N> TensorAccessor<T, N> accessor() const;
  // Copies the elements (in row-major order) to a std::vector<T> (any device, any layout).
  template <typename T> std::vector<T> to_vector() const;

  // --- conversion and copies ----------------------------------------------------------------
  Tensor contiguous() const;  // self if already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;     // self if same dtype; differentiable
  Tensor to(Device device) const;   // self if same device; differentiable
  Tensor to(Device device, DType dtype) const;
  Tensor cpu() const { return to(Device(kCPU)); }
  Tensor cuda(int index = 0) const { return to(Device(kCUDA, index)); }
  Tensor& copy_(const Tensor& src);  // broadcasting copy into self, with cast

  // --- views (share storage) ----------------------------------------------------------------
  Tensor view(const Shape& shape) const;     // errors when the strides don't allow it
  Tensor reshape(const Shape& shape) const;  // view when possible, else a copy
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(std::int64_t dim0, std::int64_t dim1) const;
  Tensor t() const;  // 2-D (or less) transpose
  Tensor mT() const;  // transpose of the last two dims
  Tensor narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const;
  Tensor slice(std::int64_t dim, std::optional<std::int64_t> start = std::nullopt,
               std::optional<std::int64_t> end = std::nullopt, std::int64_t step = 1) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor operator[](std::int64_t index) const { return select(0, index); }
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor expand_as(const Tensor& other) const { return expand(other.sizes()); }
  Tensor real() const;
  Tensor imag() const;
  Tensor conj() const;

  // --- autograd -------------------------------------------------------------------------------
  bool requires_grad() const {
    const TensorImpl& i = impl();
    sync_view(i);
    return i.requires_grad;
  }
  Tensor& requires_grad_(bool value = true);
  Tensor set_requires_grad(bool value) { requires_grad_(value); return *this; }
  bool is_leaf() const {
    const TensorImpl& i = impl();
    sync_view(i);
    return i.grad_fn == nullptr;
  }
  const std::shared_ptr<autograd::Node>& grad_fn() const {
    const TensorImpl& i = impl();
    sync_view(i);
    return i.grad_fn;
  }
  // The grad_fn's name ("MulBackward"), or nullptr for a leaf: what printing shows, without
  // the tensor core seeing autograd's Node.
  const char* grad_fn_name() const;
  // The accumulated gradient (undefined until a backward reaches this tensor).
  Tensor grad() const;
  Tensor& mutable_grad_set(const Tensor& g);  // replaces .grad()
  void zero_grad();                        // sets .grad() to undefined, as set_to_none=True
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  void retain_grad() const;
  bool retains_grad() const { return impl().retains_grad; }
  // Tensor hooks, as PyTorch's. `fn(grad)` returns a replacement gradient, or nothing (a void
  // function, or an undefined Tensor) to keep it. On a non-leaf it runs once per backward, when
  // this tensor's gradient is complete, before it goes on to grad_fn (and before retain_grad
  // stores it); on a leaf, before the gradient is accumulated into .grad(). Hooks run in
  // registration order, under the backward's no-grad mode. Returns a handle for remove_hook.
  // A hook that captures the tensor it is registered on makes a reference cycle (as in
  // PyTorch; a non-leaf's hooks are dropped when a backward without retain_graph frees them).
  template <typename F>
  unsigned register_hook(F&& fn) const {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const Tensor&>>) {
      return register_hook_fn([f = std::forward<F>(fn)](const Tensor& g) mutable -> Tensor {
        f(g);
        return Tensor();
      });
    } else {
      return register_hook_fn(std::function<Tensor(const Tensor&)>(std::forward<F>(fn)));
    }
  }
  unsigned register_hook_fn(std::function<Tensor(const Tensor&)> fn) const;
  // PyTorch 2.1's: on a leaf that requires grad, `fn(tensor)` runs after backward has
  // accumulated the tensor's gradient into .grad() (once per backward).
  unsigned register_post_accumulate_grad_hook(std::function<void(Tensor&)> fn) const;
  // Removes the hook with that handle (either kind); an unknown handle is an error.
  void remove_hook(unsigned handle) const;
  Tensor detach() const;  // shares storage, cut from the tape
  Tensor& detach_();
  // PyTorch's `t.data = new_data` (TensorImpl::set_data): this tensor now views new_data's
  // storage with its shape, strides, offset and dtype (a move to another device or a cast is
  // fine). The handle itself is unchanged, so every copy of it sees the new data, and the
  // autograd fields (requires_grad, grad, grad_fn) are kept: this is how Module::to moves a
  // parameter without invalidating the Tensors users and optimizers hold. Not recorded on the
  // tape; a tensor that requires grad must stay floating point or complex.
  void set_data(const Tensor& new_data) const;
  std::uint32_t version() const { return impl().storage->version(); }
  void bump_version() const { impl().storage->bump_version(); }

  // --- math (members forward to the free functions in tensor/ops.hpp) -----------------------
  Tensor add(const Tensor& o, Scalar alpha = 1) const;
  Tensor sub(const Tensor& o, Scalar alpha = 1) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
  Tensor pow(const Tensor& o) const;
  Tensor pow(Scalar e) const;
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor clamp(std::optional<Scalar> min, std::optional<Scalar> max) const;
  Tensor matmul(const Tensor& o) const;
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;
  Tensor masked_fill(const Tensor& mask, Scalar value) const;
  Tensor index_select(std::int64_t dim, const Tensor& index) const;
  Tensor gather(std::int64_t dim, const Tensor& index) const;

  // in place (bump the version counter)
  Tensor& add_(const Tensor& o, Scalar alpha = 1);
  Tensor& add_(Scalar o);
  Tensor& sub_(const Tensor& o, Scalar alpha = 1);
  Tensor& sub_(Scalar o);
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(Scalar o);
  Tensor& div_(const Tensor& o);
  Tensor& div_(Scalar o);
  Tensor& zero_();
  Tensor& fill_(Scalar value);
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max);
  Tensor& masked_fill_(const Tensor& mask, Scalar value);

 private:
  // A differentiable view whose storage was written since its grad_fn was set gets its grad_fn
  // regenerated from its base (autograd/record.cpp): one compare for non-views.
  void sync_view(const TensorImpl& i) const {
    if (i.view_base && i.view_version != i.storage->version()) [[unlikely]] refresh_view_grad_fn();
  }
  void refresh_view_grad_fn() const;

  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// --- creation (tensor/creation.cpp) ---------------------------------------------------------
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, Scalar value, TensorOptions options = {});
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
// arange(end), arange(start, end, step): int64 when all arguments are integers, else float32
// (as torch.arange), unless options say otherwise.
Tensor arange(Scalar end, std::optional<TensorOptions> options = std::nullopt);
Tensor arange(Scalar start, Scalar end, Scalar step = 1,
              std::optional<TensorOptions> options = std::nullopt);
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
Tensor eye(std::int64_t n, std::optional<std::int64_t> m = std::nullopt, TensorOptions options = {});
Tensor rand(const Shape& shape, TensorOptions options = {});
Tensor randn(const Shape& shape, TensorOptions options = {});
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape,
               TensorOptions options = TensorOptions(kInt64));
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);
// Reproducible random draws: every rand/randn/randint/init after manual_seed(s) is a pure
// function of s and the sequence of draws (manual_seed seeds default_generator(), see
// tensor/generator.hpp). The overloads taking a Generator draw from it instead (PyTorch's
// generator= argument) and leave the default generator's state alone.
Tensor rand(const Shape& shape, Generator& generator, TensorOptions options = {});
Tensor randn(const Shape& shape, Generator& generator, TensorOptions options = {});
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& generator,
               TensorOptions options = TensorOptions(kInt64));
Tensor rand_like(const Tensor& t, Generator& generator);
Tensor randn_like(const Tensor& t, Generator& generator);
// A random permutation of 0 .. n-1 (torch.randperm). Every call reserves exactly n counters of
// the generator (a Fisher–Yates shuffle, one counter per position), so the state's advance is a
// pure function of n. dtype: int64 by default; any integer or floating dtype that holds n - 1
// exactly.
Tensor randperm(std::int64_t n, TensorOptions options = TensorOptions(kInt64));
Tensor randperm(std::int64_t n, Generator& generator, TensorOptions options = TensorOptions(kInt64));

// The dtype a host value of type T makes (torch.tensor's rule): bool -> bool, any integer ->
// int64, float -> float32, double -> float64, std::complex<float/double> -> complex64/128.
template <typename T>
constexpr DType default_dtype_for() {
  if constexpr (std::is_same_v<T, bool>) return kBool;
  else if constexpr (sizeof(T) < 4 && std::is_integral_v<T>) return dtype_v<T>;  // uint8, int8, int16
  else if constexpr (std::is_integral_v<T>) return kInt64;
  else return dtype_v<T>;
}

// From host data, copied (converted to options' dtype). tensor({1.0f, 2.0f}) is float32,
// tensor({1, 2}) int64; tensor({{1., 2.}, {3., 4.}}) has shape [2, 2].
// T: bool, std::uint8_t, std::int8_t, std::int16_t, int, std::int64_t, float, double,
// complex64, complex128.
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape, TensorOptions options);
template <typename T>
Tensor tensor(const std::vector<T>& values, TensorOptions options = TensorOptions(default_dtype_for<T>())) {
  return tensor(values, Shape{static_cast<std::int64_t>(values.size())}, options);
}
template <typename T>
Tensor tensor(std::initializer_list<T> values, TensorOptions options = TensorOptions(default_dtype_for<T>())) {
  return tensor(std::vector<T>(values), options);
}
template <typename T>
Tensor tensor(std::initializer_list<std::initializer_list<T>> rows,
              TensorOptions options = TensorOptions(default_dtype_for<T>())) {
  std::vector<T> flat;
  std::int64_t cols = rows.size() ? static_cast<std::int64_t>(rows.begin()->size()) : 0;
  for (const auto& r : rows) {
    check(static_cast<std::int64_t>(r.size()) == cols,
          "tensor: expected sequence of length {} at dim 1 (got {})", cols, r.size());
    flat.insert(flat.end(), r.begin(), r.end());
  }
  return tensor(flat, Shape{static_cast<std::int64_t>(rows.size()), cols}, options);
}
// A 0-dim tensor holding `value` (dtype: the value's natural dtype unless given).
Tensor scalar_tensor(Scalar value, TensorOptions options);
Tensor scalar_tensor(Scalar value);
// Wraps host memory without copying; `deleter` (optional) runs when the last view dies.
Tensor from_blob(void* data, const Shape& shape, TensorOptions options = {},
                 std::function<void(void*)> deleter = {});
Tensor from_blob(void* data, const Shape& shape, const Strides& strides, TensorOptions options = {},
                 std::function<void(void*)> deleter = {});

// Low-level: a tensor over `storage` with the given geometry (no copy, no checks of bounds).
Tensor make_tensor(Storage storage, const Shape& shape, const Strides& strides,
                   std::int64_t offset, DType dtype);

// The backend view of a tensor (pointer with offset applied, dtype, shape, strides).
backends::View view_of(const Tensor& t);

namespace detail {
// Copies that record nothing, for the tensor core's own use (creation, printing, to_vector,
// .npy); clone(), to() and contiguous() are these plus a tape entry (tensor/ops/).
// A new contiguous tensor on src's device holding src converted to `dtype`.
Tensor copy_as(const Tensor& src, DType dtype);
// A new contiguous tensor on `device` holding src's values (same dtype).
Tensor copy_to_device(const Tensor& src, Device device);
}  // namespace detail

// --- template definitions ------------------------------------------------------------------

template <typename T>
T* Tensor::data_ptr() const {
  check(dtype_v<T> == dtype(), "data_ptr: expected dtype {} but the tensor is {}", dtype_v<T>,
        dtype());
  return static_cast<T*>(impl().data());
}

template <typename T, int N>
TensorAccessor<T, N> Tensor::accessor() const {
  check(dim() == N, "accessor: expected a {}-d tensor, got {}-d of shape {}", N, dim(), sizes());
  check(device().is_cpu(), "accessor: expected a CPU tensor, got one on {}", device());
  return TensorAccessor<T, N>(data_ptr<T>(), impl().shape.data(), impl().strides.data());
}

template <typename T>
T Tensor::item() const {
  return item().to<T>();
}

}  // namespace reel

template <>
struct fmt::formatter<reel::Tensor> : fmt::formatter<std::string> {
  auto format(const reel::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string>::format(t.str(), ctx);
  }
};
