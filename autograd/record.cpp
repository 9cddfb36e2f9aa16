// Putting entries on the tape: grad mode, record(), SavedTensor, retain_grad, and the Tensor
// members that read the tape (retain_grad, grad_fn_name).
#include "autograd/record.hpp"

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

}  // namespace autograd

void Tensor::retain_grad() const { autograd::retain_grad_of(*this); }

const char* Tensor::grad_fn_name() const {
  const auto& node = impl().grad_fn;
  return node ? node->name : nullptr;
}

}  // namespace reel
