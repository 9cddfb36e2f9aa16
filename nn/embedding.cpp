// nn::Embedding: option checks and init as torch.nn.Embedding; forward is F::embedding.
#include "nn/embedding.hpp"

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::nn {

EmbeddingImpl::EmbeddingImpl(EmbeddingOptions options) : options_(std::move(options)) {
  auto& o = options_;
  check(o.num_embeddings_ >= 0 && o.embedding_dim_ >= 0,
        "Embedding: num_embeddings and embedding_dim must be non-negative, got {} and {}",
        o.num_embeddings_, o.embedding_dim_);
  if (o.padding_idx_) {
    o.padding_idx_ =
        functional::normalize_padding_idx(*o.padding_idx_, o.num_embeddings_, "Embedding");
  }
  if (o.weight_.defined()) {
    check(o.weight_.sizes() == Shape{o.num_embeddings_, o.embedding_dim_},
          "Embedding: Shape of weight does not match num_embeddings and embedding_dim (weight "
          "shape {}, expected ({}, {}))",
          o.weight_.sizes(), o.num_embeddings_, o.embedding_dim_);
    check(is_floating(o.weight_.dtype()), "Embedding: weight must be float32 or float64, got {}",
          o.weight_.dtype());
    // A new handle on the same storage (PyTorch's Parameter(_weight)); not re-initialised.
    weight = register_parameter("weight", o.weight_.detach());
    o.weight_ = Tensor();  // the module holds it as `weight`; don't keep a second handle
  } else {
    check(is_floating(o.dtype_), "Embedding: dtype must be float32 or float64, got {}", o.dtype_);
    weight = register_parameter(
        "weight", empty({o.num_embeddings_, o.embedding_dim_},
                        TensorOptions(o.dtype_).device(o.device_)));
    reset_parameters();
  }
}

void EmbeddingImpl::reset_parameters() {
  NoGradGuard no_grad;
  // init.normal_(weight): N(0, 1) from reel's random stream (randn), written into the
  // parameter's own storage.
  weight.copy_(randn(weight.sizes(), TensorOptions(weight.dtype()).device(weight.device())));
  if (options_.padding_idx_) weight.select(0, *options_.padding_idx_).fill_(0);
}

Tensor EmbeddingImpl::forward(const Tensor& input) const {
  return functional::embedding(input, weight,
                               functional::EmbeddingFuncOptions().padding_idx(options_.padding_idx_));
}

std::string EmbeddingImpl::repr() const {
  std::string s = fmt::format("Embedding({}, {}", options_.num_embeddings_, options_.embedding_dim_);
  if (options_.padding_idx_) s += fmt::format(", padding_idx={}", *options_.padding_idx_);
  return s + ")";
}

Embedding Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                     std::optional<std::int64_t> padding_idx) {
  check(embeddings.defined() && embeddings.dim() == 2,
        "Embedding.from_pretrained: Embeddings parameter is expected to be 2-dimensional, got "
        "shape {}",
        embeddings.defined() ? embeddings.sizes() : Shape{});
  Embedding e(EmbeddingOptions(embeddings.size(0), embeddings.size(1))
                  .padding_idx(padding_idx)
                  ._weight(embeddings));
  e->weight.requires_grad_(!freeze);
  return e;
}

}  // namespace reel::nn
