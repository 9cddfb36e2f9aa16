// Putting entries on the tape: grad mode, record(), SavedTensor, retain_grad, and the Tensor
// members that read the tape (retain_grad, grad_fn_name).
#include "autograd/record.hpp"

#include <algorithm>
#include <atomic>

namespace reel {

namespace {
thread_local bool t_grad_enabled = true;
}
bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

namespace autograd {

namespace {
std::atomic<std::int64_t> g_live_nodes{0};
}
std::int64_t live_nodes() { return g_live_nodes.load(std::memory_order_relaxed); }
void detail::count_node(int delta) { g_live_nodes.fetch_add(delta, std::memory_order_relaxed); }

namespace {
// Execution order across threads: a node always gets a larger number than its inputs' nodes.
std::atomic<std::uint64_t> g_sequence{0};

Edge edge_to(const Tensor* t) {
  if (t == nullptr || !t->defined() || !t->requires_grad()) return {};
  const auto& impl = t->impl_ptr();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr, nullptr};
  return {nullptr, 0, impl};
}

// A node for `outputs`, with edges filled by the caller.
std::shared_ptr<Node> make_node(const char* name, std::size_t num_inputs, std::span<Tensor> outputs,
                                BackwardFn backward) {
  check(num_inputs <= 32, "autograd: an op may have at most 32 inputs (got {})", num_inputs);
  auto node = std::make_shared<Node>(name, g_sequence.fetch_add(1) + 1);
  node->outputs.reserve(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl& o = outputs[i].impl();
    node->outputs.push_back({o.shape, o.dtype, o.device()});
    o.grad_fn = node;
    o.output_nr = static_cast<std::uint32_t>(i);
    o.requires_grad = true;
  }
  node->backward = std::move(backward);
  return node;
}
}  // namespace

void record(const char* name, std::initializer_list<const Tensor*> inputs,
            std::span<Tensor> outputs, BackwardFn backward) {
  // Edges are taken before the outputs are rebound (an in-place op's output is its input).
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor* in : inputs) edges.push_back(edge_to(in));
  auto node = make_node(name, inputs.size(), outputs, std::move(backward));
  node->next_edges = std::move(edges);
}

void record_list(const char* name, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                 BackwardFn backward) {
  std::vector<Edge> edges;
  edges.reserve(inputs.size());
  for (const Tensor& in : inputs) edges.push_back(edge_to(&in));
  auto node = make_node(name, inputs.size(), outputs, std::move(backward));
  node->next_edges = std::move(edges);
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output) {
  if (!t.defined()) return;
  version_ = t.version();
  if (is_output) {
    // A detached alias: same storage (so the version check still works), no grad_fn, so the
    // output -> node -> saved output cycle never forms.
    tensor_ = t.detach();
  } else if (t.impl().view_base) {
    // A differentiable view holds its base, whose grad_fn may later become a CopySlices entry
    // that leads back to this one: keep only the data (backward needs no more), so no cycle.
    tensor_ = t.detach();
  } else {
    tensor_ = t;
  }
}

Tensor SavedTensor::unpack() const {
  if (tensor_.defined() && tensor_.version() != version_) {
    fail("one of the variables needed for gradient computation has been modified by an inplace "
         "operation: [{} {}] is at version {}; expected version {} instead.",
         tensor_.dtype(), tensor_.sizes(), tensor_.version(), version_);
  }
  return tensor_;
}

void retain_grad_of(const Tensor& t) {
  check(t.requires_grad(), "retain_grad: can't retain_grad on Tensor that has requires_grad=False");
  if (t.is_leaf()) return;  // leaves keep their grad anyway
  TensorImpl& impl = t.impl();
  if (impl.retains_grad) return;
  impl.retains_grad = true;
  impl.grad_fn->retained.emplace_back(impl.output_nr, t.impl_ptr());
}

void move_retained_grad(const std::shared_ptr<TensorImpl>& t, const Node* from) {
  TensorImpl& impl = *t;
  if (!impl.retains_grad || !impl.grad_fn || impl.grad_fn.get() == from) return;
  if (from != nullptr) {
    auto& list = const_cast<Node*>(from)->retained;
    std::erase_if(list, [&](const auto& entry) {
      auto held = entry.second.lock();
      return held == nullptr || held.get() == &impl;
    });
  }
  impl.grad_fn->retained.emplace_back(impl.output_nr, t);
}

// --- in-place ops on views ---------------------------------------------------------------------

namespace {

// A buffer laid out as `base` (its strides, over the span its elements cover, shifted so the
// first is at 0): `as_base` has the base's shape, `region` the view's geometry in it.
struct BaseLayout {
  Tensor as_base;
  Tensor region;
};

BaseLayout layout_like(const Geometry& base, const Geometry& view, DType dtype, Device device) {
  std::int64_t span = numel_of(base.shape) == 0 ? 0 : 1;
  for (int d = 0; d < base.shape.size(); ++d) {
    check(base.strides[d] >= 0, "internal: a view's base with a negative stride {}", base.strides);
    if (base.shape[d] > 0) span += (base.shape[d] - 1) * base.strides[d];
  }
  // The view lies inside its base (it was made from it): never write outside the buffer.
  std::int64_t first = view.offset - base.offset, last = first;
  for (int d = 0; d < view.shape.size(); ++d) {
    if (view.shape[d] > 0) last += (view.shape[d] - 1) * view.strides[d];
  }
  check(numel_of(view.shape) == 0 || (first >= 0 && last < span),
        "internal: a view (shape {}, strides {}, offset {}) outside its base (shape {}, strides {}, "
        "offset {})",
        view.shape, view.strides, view.offset, base.shape, base.strides, base.offset);
  Tensor buffer = empty({span}, TensorOptions(dtype).device(device));
  return {make_tensor(buffer.storage(), base.shape, base.strides, 0, dtype),
          make_tensor(buffer.storage(), view.shape, view.strides, view.offset - base.offset, dtype)};
}

}  // namespace

Tensor view_grad_to_base(const Tensor& grad, const Geometry& base, const Geometry& view) {
  backends::Backend& backend = backend_for(grad.device());
  Geometry v = view;
  Tensor g = grad;
  // An expanded dim reads one element many times: its gradients add up there.
  bool expanded = false;
  for (int d = 0; d < v.shape.size(); ++d) {
    if (v.strides[d] == 0 && v.shape[d] > 1) {
      v.shape[d] = 1;
      expanded = true;
    }
  }
  if (expanded) {
    g = empty(v.shape, grad.options());
    backend.reduce(backends::ReduceOp::Sum, view_of(g), view_of(grad));
  }
  BaseLayout out = layout_like(base, v, grad.dtype(), grad.device());
  backend.fill(view_of(out.as_base), 0);
  backend.copy(view_of(out.region), view_of(g));
  return out.as_base;
}

void split_base_grad(const Tensor& grad, const Geometry& base, const Geometry& view, Tensor* rest,
                     Tensor* region) {
  backends::Backend& backend = backend_for(grad.device());
  BaseLayout out = layout_like(base, view, grad.dtype(), grad.device());
  backend.copy(view_of(out.as_base), view_of(grad));
  if (region != nullptr) *region = reel::detail::copy_as(out.region, grad.dtype());
  if (rest != nullptr) {
    backend.fill(view_of(out.region), 0);
    *rest = out.as_base;
  }
}

// --- hooks ------------------------------------------------------------------------------------

namespace {
std::atomic<unsigned> g_next_hook{0};

TensorHooks& hooks_of(TensorImpl& t) {
  if (!t.hooks) t.hooks = std::make_shared<TensorHooks>();
  return *t.hooks;
}
}  // namespace

}  // namespace autograd

void Tensor::retain_grad() const { autograd::retain_grad_of(*this); }

unsigned Tensor::register_hook_fn(std::function<Tensor(const Tensor&)> fn) const {
  check(requires_grad(),
        "register_hook: cannot register a hook on a tensor that doesn't require gradient");
  check(static_cast<bool>(fn), "register_hook: the hook is empty");
  unsigned handle = autograd::g_next_hook.fetch_add(1);
  TensorImpl& t = impl();
  if (is_leaf()) {
    autograd::hooks_of(t).pre.emplace_back(handle, std::move(fn));
  } else {
    t.grad_fn->hooks.push_back({t.output_nr, handle, std::move(fn)});
    autograd::hooks_of(t).on_nodes.emplace_back(handle, t.grad_fn);
  }
  return handle;
}

unsigned Tensor::register_post_accumulate_grad_hook(std::function<void(Tensor&)> fn) const {
  check(requires_grad(),
        "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't "
        "require gradient");
  check(is_leaf(),
        "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on "
        "non-leaf tensors");
  check(static_cast<bool>(fn), "register_post_accumulate_grad_hook: the hook is empty");
  unsigned handle = autograd::g_next_hook.fetch_add(1);
  autograd::hooks_of(impl()).post.emplace_back(handle, std::move(fn));
  return handle;
}

void Tensor::remove_hook(unsigned handle) const {
  TensorImpl& t = impl();
  if (t.hooks) {
    auto& h = *t.hooks;
    auto by_handle = [handle](const auto& entry) { return entry.first == handle; };
    if (std::erase_if(h.pre, by_handle) > 0 || std::erase_if(h.post, by_handle) > 0) return;
    auto it = std::find_if(h.on_nodes.begin(), h.on_nodes.end(), by_handle);
    if (it != h.on_nodes.end()) {
      // The node may be gone, or have dropped its hooks with its closure after a backward.
      if (auto node = it->second.lock()) {
        std::erase_if(node->hooks,
                      [handle](const autograd::NodeHook& n) { return n.handle == handle; });
      }
      h.on_nodes.erase(it);
      return;
    }
  }
  fail("remove_hook: no hook with handle {} is registered on this tensor", handle);
}

// A differentiable view's grad_fn after its storage was written: the view of its base's current
// history (PyTorch's regenerated AsStridedBackward), so a later use of the view sees the write.
void Tensor::refresh_view_grad_fn() const {
  TensorImpl& v = impl();
  v.view_version = v.storage->version();
  if (!v.grad_fn && v.requires_grad) return;  // a leaf made from a view with requires_grad_()
  std::shared_ptr<autograd::Node> old = v.grad_fn;
  Tensor base(v.view_base);  // never itself a view: its fields are current
  if (base.impl().storage != v.storage) {
    // The base was given new data (set_data): the view no longer views it.
    v.view_base.reset();
    return;
  }
  if (!base.impl().requires_grad) {
    v.grad_fn.reset();
    v.requires_grad = false;
    return;
  }
  Tensor self(impl_);
  autograd::Geometry bg = autograd::geometry_of(base), vg = autograd::geometry_of(self);
  autograd::record("AsStridedBackward", {&base}, self,
                   [bg, vg](std::span<const Tensor> g, autograd::GradMask) -> std::vector<Tensor> {
                     return {autograd::view_grad_to_base(g[0], bg, vg)};
                   });
  autograd::move_retained_grad(impl_, old.get());
}

const char* Tensor::grad_fn_name() const {
  const auto& node = grad_fn();  // a stale view's regenerated history, as grad_fn() gives
  return node ? node->name : nullptr;
}

}  // namespace reel
