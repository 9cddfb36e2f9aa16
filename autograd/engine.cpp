// backward(): walks the tape entries reachable from the roots in reverse execution order.
//
// Why a heap on sequence numbers is enough: every entry's inputs were recorded before it, so
// an entry's sequence number is larger than those of the entries that produced its inputs.
// Popping the largest pending number first therefore reaches an entry only after every entry
// that feeds it a gradient has run, and its grad_buffer is complete.
#include "autograd/engine.hpp"

#include <queue>

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

}  // namespace

void backward(std::span<const Tensor> roots, std::span<const Tensor> grads, bool retain_graph) {
  check(roots.size() == grads.size(), "backward: got {} tensors and {} gradients", roots.size(),
        grads.size());
  NoGradGuard no_grad;  // the backward pass itself is not recorded (no create_graph)
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  // Keeps every node reached alive for the whole pass, even after released entries drop edges.
  std::vector<std::shared_ptr<Node>> reached;

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
      accumulate_leaf(root.impl(), seed);
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
    if (!retain_graph) node->backward = nullptr;  // frees what the entry saved

    for (std::size_t i = 0; i < grad_inputs.size(); ++i) {
      const Edge& edge = node->next_edges[i];
      if (!edge.is_valid() || !grad_inputs[i].defined()) continue;
      if (edge.leaf) {
        accumulate_leaf(*edge.leaf, std::move(grad_inputs[i]));
        continue;
      }
      add_to_buffer(*edge.node, edge.output_nr, grad_inputs[i]);
      if (!edge.node->queued) {
        edge.node->queued = true;
        reached.push_back(edge.node);
        ready.push(edge.node.get());
      }
    }
  }
}

}  // namespace reel::autograd

namespace reel {

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor root = *this;
  autograd::backward(std::span<const Tensor>(&root, 1), std::span<const Tensor>(&gradient, 1),
                     retain_graph);
}

}  // namespace reel
