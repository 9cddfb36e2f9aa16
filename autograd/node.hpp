#pragma once
// One entry of the tape: what a differentiable op recorded when it ran.
//
// The tape is ordered by `sequence_nr` (execution order) and owned by the tensors it produced:
// an output holds its Node through `grad_fn`, a Node holds the Nodes of its inputs through its
// edges. So a forward whose outputs are dropped frees its entries at once (no unbounded tape),
// and backward walks the entries reachable from the loss in reverse execution order.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace reel::autograd {

// Which inputs need a gradient: an op computes only those (the output mask).
class GradMask {
 public:
  GradMask() = default;
  explicit GradMask(std::uint32_t bits) : bits_(bits) {}
  bool operator[](std::size_t i) const { return (bits_ >> i) & 1u; }
  void set(std::size_t i) { bits_ |= (1u << i); }
  bool any() const { return bits_ != 0; }

 private:
  std::uint32_t bits_ = 0;
};

// The backward closure: given d(loss)/d(output_i) for each output (never undefined: missing
// ones arrive as zeros) and the mask of inputs that need gradients, returns d(loss)/d(input_i)
// for each input (an undefined Tensor where the mask is off). Complex gradients follow
// PyTorch's conjugate Wirtinger convention: grad_input = conj(d out/d in) * grad_output for a
// holomorphic op.
using BackwardFn = std::function<std::vector<Tensor>(std::span<const Tensor> grad_outputs,
                                                     GradMask needs_input_grad)>;

// Where a gradient goes: into another Node's input slot, or into a leaf's .grad().
struct Edge {
  std::shared_ptr<Node> node;        // non-null: the producer of this input
  std::uint32_t output_nr = 0;       // which output of `node` this input was
  std::shared_ptr<TensorImpl> leaf;  // non-null: a leaf that requires grad
  bool is_valid() const { return node != nullptr || leaf != nullptr; }
};

struct OutputMeta {
  Shape shape;
  DType dtype = kFloat32;
  Device device;
};

// Tensor hooks (Tensor::register_hook). A non-leaf's hooks live on its grad_fn, keyed by
// output_nr, as PyTorch's tensor pre-hooks: they stay with the history they were registered on
// (a hook registered before an in-place op sees the gradient of the old value) and outlive the
// Tensor handle. A leaf has no node, so its hooks live on its TensorImpl.
using TensorHookFn = std::function<Tensor(const Tensor&)>;
using PostAccumulateHookFn = std::function<void(Tensor&)>;

struct NodeHook {
  std::uint32_t output_nr = 0;
  unsigned handle = 0;
  TensorHookFn fn;
};

struct TensorHooks {
  std::vector<std::pair<unsigned, TensorHookFn>> pre;            // leaf: before accumulation
  std::vector<std::pair<unsigned, PostAccumulateHookFn>> post;  // leaf: after .grad() is set
  // Non-leaf hooks: the node each went to, for remove_hook (weak: no cycle through the node).
  std::vector<std::pair<unsigned, std::weak_ptr<Node>>> on_nodes;
};

// Fields are public: the engine (autograd/engine.cpp) and record (autograd/record.cpp) are
// the only writers; everything else reads.
// Tape entries alive now (a test checks forwards without backward don't pile them up).
std::int64_t live_nodes();
namespace detail {
void count_node(int delta);
}

struct Node {
  Node(const char* n, std::uint64_t seq) : name(n), sequence_nr(seq) { detail::count_node(+1); }
  ~Node() { detail::count_node(-1); }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  const char* name;          // "MulBackward", shown in errors and by grad_fn()->name
  std::uint64_t sequence_nr;  // execution order: backward runs entries in decreasing order
  std::vector<Edge> next_edges;    // one per input
  std::vector<OutputMeta> outputs;  // one per output (to build zero gradients)
  BackwardFn backward;  // empty once a backward without retain_graph has run through it
  // Non-leaf outputs that asked for retain_grad(): (output_nr, the tensor).
  std::vector<std::pair<std::uint32_t, std::weak_ptr<TensorImpl>>> retained;
  // Hooks of non-leaf outputs, in registration order; run before `retained` is filled.
  std::vector<NodeHook> hooks;
  // Scratch for one backward pass: the summed incoming gradient of each output.
  std::vector<Tensor> grad_buffer;
  bool queued = false;
  std::uint64_t seen_in_pass = 0;  // the engine's walk before a pass: visited mark
};

}  // namespace reel::autograd
