// backward(): walks the tape entries reachable from the roots in reverse execution order.
//
// Why a heap on sequence numbers is enough: every entry's inputs were recorded before it, so
// an entry's sequence number is larger than those of the entries that produced its inputs.
// Popping the largest pending number first therefore reaches an entry only after every entry
// that feeds it a gradient has run, and its grad_buffer is complete.
#include "autograd/engine.hpp"

#include <atomic>
#include <deque>
#include <functional>
#include <queue>
#include <unordered_map>

#include "autograd/record.hpp"
#include "tensor/ops.hpp"

namespace reel::autograd {

namespace {

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

// Adds `g` into a leaf's .grad(). The first gradient is stored without a copy when nothing else
// can see it; later ones are summed out of place, so a .grad() a user holds never changes
// under them.
void accumulate_leaf(TensorImpl& leaf, Tensor g) {
  if (g.dtype() != leaf.dtype) g = is_complex(g.dtype()) && !is_complex(leaf.dtype) ? real(g).to(leaf.dtype) : g.to(leaf.dtype);
  check(g.sizes() == leaf.shape, "backward: gradient of shape {} for a leaf of shape {}", g.sizes(),
        leaf.shape);
  if (!leaf.grad) {
    bool unique = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 &&
                  g.is_contiguous() && g.storage_offset() == 0;
    Tensor stored = unique ? g.detach() : g.clone();
    leaf.grad = stored.impl_ptr();
  } else {
    leaf.grad = (Tensor(leaf.grad) + g).impl_ptr();
  }
}

void add_to_buffer(Node& node, std::uint32_t output_nr, const Tensor& g) {
  if (node.grad_buffer.empty()) node.grad_buffer.resize(node.outputs.size());
  Tensor& slot = node.grad_buffer[output_nr];
  slot = slot.defined() ? slot + g : g;
}

// A hook's return value replaces the gradient; it must keep its shape.
void apply_hook(const TensorHookFn& hook, Tensor& grad) {
  Tensor replaced = hook(grad);
  if (!replaced.defined()) return;
  check(replaced.sizes() == grad.sizes(),
        "backward: a hook returned a gradient of shape {} for a tensor of shape {} (hooks may "
        "replace the gradient, not change its shape)",
        replaced.sizes(), grad.sizes());
  grad = std::move(replaced);
}

// Leaves (PyTorch's AccumulateGrad): each leaf's gradients from all edges of this pass are
// summed first, then its hooks run, the sum goes into .grad(), and its post-accumulate hooks
// run, once per backward. A leaf is flushed as soon as every node that feeds it has run (the
// count comes from a walk of the graph before the pass), so a post-accumulate hook signals
// "this gradient is ready" while the rest of the pass goes on.
class Leaves {
  struct Slot;

 public:
  // The slots live in a per-thread pool reused across passes (a pass allocates nothing for
  // them once warm); a backward run by a hook inside this one takes the next pool entry.
  Leaves() {
    thread_local std::deque<std::vector<Slot>> pool;
    thread_local std::size_t depth = 0;
    if (pool.size() <= depth) pool.emplace_back();
    slots_ = &pool[depth];
    depth_ = &depth;
    ++depth;
  }
  ~Leaves() {
    slots_->clear();  // keeps no leaf alive between passes
    --*depth_;
  }
  Leaves(const Leaves&) = delete;
  Leaves& operator=(const Leaves&) = delete;

  void expect(const std::shared_ptr<TensorImpl>& leaf) { ++slot(leaf).pending; }

  void deliver(const std::shared_ptr<TensorImpl>& leaf, Tensor g) {
    Slot& s = slot(leaf);
    if (g.defined()) s.grad = s.grad.defined() ? s.grad + g : std::move(g);
    if (--s.pending == 0) flush(s);
  }

  // Leaves still pending when the pass ends (a node that feeds them was never reached because
  // its inputs got no gradient) hold what they received: accumulate it now, in first-seen order.
  void flush_rest() {
    for (Slot& s : *slots_) {
      if (s.pending > 0) {
        s.pending = 0;
        flush(s);
      }
    }
  }

 private:
  struct Slot {
    std::shared_ptr<TensorImpl> leaf;
    std::int64_t pending = 0;
    Tensor grad;
  };

  // A linear search while there are few leaves (no hashing for a small model's backward), an
  // index once there are many.
  Slot& slot(const std::shared_ptr<TensorImpl>& leaf) {
    const TensorImpl* key = leaf.get();
    std::vector<Slot>& slots = *slots_;
    if (index_.empty()) {
      for (Slot& s : slots) {
        if (s.leaf.get() == key) return s;
      }
    } else if (auto it = index_.find(key); it != index_.end()) {
      return slots[it->second];
    }
    slots.push_back({leaf, 0, Tensor()});
    if (!index_.empty()) {
      index_.emplace(key, slots.size() - 1);
    } else if (slots.size() > kLinear) {
      for (std::size_t i = 0; i < slots.size(); ++i) index_.emplace(slots[i].leaf.get(), i);
    }
    return slots.back();
  }

  static void flush(Slot& s) {
    if (!s.grad.defined()) return;
    Tensor g = std::move(s.grad);
    s.grad = Tensor();
    std::shared_ptr<TensorHooks> hooks = s.leaf->hooks;  // a hook may register or remove hooks
    if (hooks && !hooks->pre.empty()) {
      auto pre = hooks->pre;
      for (auto& [handle, hook] : pre) apply_hook(hook, g);
    }
    accumulate_leaf(*s.leaf, std::move(g));
    if (hooks && !hooks->post.empty()) {
      auto post = hooks->post;
      Tensor leaf(s.leaf);
      for (auto& [handle, hook] : post) hook(leaf);
    }
  }

  static constexpr std::size_t kLinear = 16;
  std::vector<Slot>* slots_;  // references are used only until the next slot() call
  std::size_t* depth_;
  std::unordered_map<const TensorImpl*, std::size_t> index_;
};

// The callbacks queued during each backward pass in progress on this thread (innermost last: a
// hook may run a nested backward).
thread_local std::vector<std::vector<std::function<void()>>> t_callbacks;

// Numbers the walks before each pass, so a node's visited mark needs no clearing.
std::atomic<std::uint64_t> g_pass{0};

}  // namespace

void backward(std::span<const Tensor> roots, std::span<const Tensor> grads, bool retain_graph) {
  check(roots.size() == grads.size(), "backward: got {} tensors and {} gradients", roots.size(),
        grads.size());
  NoGradGuard no_grad;  // the backward pass itself is not recorded (no create_graph)
  // Backward ops take the dtypes of the forward: autocast does not apply to them (as PyTorch).
  autocast no_autocast(get_autocast_dtype(), /*enabled=*/false);
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  // Keeps every node reached alive for the whole pass, even after released entries drop edges.
  std::vector<std::shared_ptr<Node>> reached;
  // A pass that throws (a hook, a freed graph) leaves no half-summed gradients or queued marks
  // behind for the next one.
  struct Cleanup {
    std::vector<std::shared_ptr<Node>>& nodes;
    ~Cleanup() {
      for (auto& n : nodes) {
        n->queued = false;
        n->grad_buffer.clear();
      }
    }
  } cleanup{reached};
  t_callbacks.emplace_back();
  struct PopCallbacks {
    ~PopCallbacks() { t_callbacks.pop_back(); }
  } pop_callbacks;

  // How many gradients each leaf will receive: one per edge from a node reachable from the
  // roots, plus one per root that is itself the leaf. The walk only marks and counts, so the
  // roots' checks below may still fail after it.
  Leaves leaves;
  {
    const std::uint64_t pass = g_pass.fetch_add(1) + 1;
    auto first_visit = [pass](Node* n) {
      if (n->seen_in_pass == pass) return false;
      n->seen_in_pass = pass;
      return true;
    };
    // Reused across passes (no allocation per backward); a hook's nested backward runs after
    // this walk is over.
    thread_local std::vector<Node*> stack;
    stack.clear();
    for (const Tensor& root : roots) {
      if (!root.requires_grad()) continue;  // reported below
      if (root.is_leaf()) {
        leaves.expect(root.impl_ptr());
      } else if (first_visit(root.grad_fn().get())) {
        stack.push_back(root.grad_fn().get());
      }
    }
    while (!stack.empty()) {
      Node* node = stack.back();
      stack.pop_back();
      for (const Edge& edge : node->next_edges) {
        if (edge.leaf) leaves.expect(edge.leaf);
        else if (edge.node && first_visit(edge.node.get())) stack.push_back(edge.node.get());
      }
    }
  }

  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    check(root.requires_grad(),
          "backward: element {} of tensors does not require grad and does not have a grad_fn", i);
    Tensor seed = grads[i];
    if (!seed.defined()) {
      check(root.numel() == 1,
            "backward: grad can be implicitly created only for scalar outputs (got shape {})",
            root.sizes());
      seed = ones_like(root);
    } else {
      check(seed.sizes() == root.sizes(),
            "backward: Mismatch in shape: grad_output[{}] has a shape of {} and output[{}] has a "
            "shape of {}.",
            i, seed.sizes(), i, root.sizes());
    }
    if (root.is_leaf()) {
      leaves.deliver(root.impl_ptr(), std::move(seed));
      continue;
    }
    Node* node = root.grad_fn().get();
    add_to_buffer(*node, root.impl().output_nr, seed);
    if (!node->queued) {
      node->queued = true;
      reached.push_back(root.grad_fn());
      ready.push(node);
    }
  }

  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    node->queued = false;
    check(static_cast<bool>(node->backward),
          "backward: Trying to backward through the graph a second time (or directly access "
          "saved tensors after they have already been freed) at {}. Saved intermediate values of "
          "the graph are freed when you call .backward(). Specify retain_graph=true if you need "
          "to backward through the graph a second time.",
          node->name);

    std::vector<Tensor> grad_outputs = std::move(node->grad_buffer);
    node->grad_buffer.clear();
    grad_outputs.resize(node->outputs.size());
    for (std::size_t o = 0; o < grad_outputs.size(); ++o) {
      if (!grad_outputs[o].defined()) {
        const OutputMeta& m = node->outputs[o];
        grad_outputs[o] = zeros(m.shape, TensorOptions(m.dtype).device(m.device));
      }
    }
    // Tensor hooks of the outputs (the gradient is complete now), then retain_grad, which
    // stores what the hooks made of it (PyTorch 2's order).
    if (!node->hooks.empty()) {
      std::vector<NodeHook> hooks = node->hooks;  // a hook may register or remove hooks
      for (const NodeHook& h : hooks) apply_hook(h.fn, grad_outputs[h.output_nr]);
    }
    for (auto& [output_nr, weak] : node->retained) {
      if (auto impl = weak.lock()) {
        Tensor g = grad_outputs[output_nr];
        impl->grad = impl->grad ? (Tensor(impl->grad) + g).impl_ptr() : g.clone().impl_ptr();
      }
    }

    GradMask mask;
    for (std::size_t i = 0; i < node->next_edges.size(); ++i) {
      if (node->next_edges[i].is_valid()) mask.set(i);
    }
    std::vector<Tensor> grad_inputs;
    if (mask.any()) {
      grad_inputs = node->backward(grad_outputs, mask);
      check(grad_inputs.size() == node->next_edges.size(),
            "internal: {} returned {} gradients for {} inputs", node->name, grad_inputs.size(),
            node->next_edges.size());
    }
    if (!retain_graph) {
      // Frees what the entry saved. Its hooks go too: the entry can't run again, and a hook
      // that captured its own tensor would otherwise keep this node alive through it.
      node->backward = nullptr;
      node->hooks.clear();
    }

    for (std::size_t i = 0; i < grad_inputs.size(); ++i) {
      const Edge& edge = node->next_edges[i];
      if (edge.leaf) {
        leaves.deliver(edge.leaf, std::move(grad_inputs[i]));
        continue;
      }
      if (!edge.is_valid() || !grad_inputs[i].defined()) continue;
      add_to_buffer(*edge.node, edge.output_nr, grad_inputs[i]);
      if (!edge.node->queued) {
        edge.node->queued = true;
        reached.push_back(edge.node);
        ready.push(edge.node.get());
      }
    }
  }
  leaves.flush_rest();
  // A callback may queue more (run in the same loop); the vector may grow while we iterate.
  for (std::size_t i = 0; i < t_callbacks.back().size(); ++i) {
    std::function<void()> fn = std::move(t_callbacks.back()[i]);
    fn();
  }
}

void queue_callback(std::function<void()> fn) {
  check(!t_callbacks.empty(),
        "queue_callback: no backward pass is running on this thread (a callback can only be "
        "queued from inside backward, by a hook)");
  check(static_cast<bool>(fn), "queue_callback: the callback is empty");
  t_callbacks.back().push_back(std::move(fn));
}

}  // namespace reel::autograd

namespace reel {

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor root = *this;
  autograd::backward(std::span<const Tensor>(&root, 1), std::span<const Tensor>(&gradient, 1),
                     retain_graph);
}

}  // namespace reel
