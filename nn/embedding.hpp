#pragma once
// nn::Embedding: a lookup table of num_embeddings rows of embedding_dim, as torch.nn.Embedding.
//
//   reel::nn::Embedding emb(reel::nn::EmbeddingOptions(1000, 64).padding_idx(0));
//   Tensor y = emb(indices);   // int64/int32 (*) -> (*, 64)
//   auto frozen = reel::nn::Embedding::from_pretrained(vectors);   // weight shares vectors' data
#include <cstdint>
#include <optional>

#include "nn/functional/embedding.hpp"
#include "nn/module.hpp"

namespace reel::nn {

// max_norm, norm_type, scale_grad_by_freq and sparse are not offered.
struct EmbeddingOptions {
  EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  // The row whose gradient is always zero, initialised to zeros; negative counts from the end.
  EmbeddingOptions& padding_idx(std::optional<std::int64_t> v) { padding_idx_ = v; return *this; }
  // Use this tensor's data as the weight (shared, not copied; not re-initialised), as
  // PyTorch's _weight; its shape must be (num_embeddings, embedding_dim).
  EmbeddingOptions& _weight(Tensor v) { weight_ = std::move(v); return *this; }
  EmbeddingOptions& dtype(DType v) { dtype_ = v; return *this; }
  EmbeddingOptions& device(Device v) { device_ = v; return *this; }
  std::int64_t num_embeddings_, embedding_dim_;
  std::optional<std::int64_t> padding_idx_;
  Tensor weight_;
  DType dtype_ = kFloat32;
  Device device_{};
};

class EmbeddingImpl : public Module {
 public:
  explicit EmbeddingImpl(EmbeddingOptions options);
  EmbeddingImpl(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : EmbeddingImpl(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  Tensor forward(const Tensor& input) const;
  // weight ~ N(0, 1), then the padding row (if any) zeroed, as PyTorch.
  void reset_parameters();
  std::string repr() const override;
  const EmbeddingOptions& options() const { return options_; }
  // The padding row, non-negative (PyTorch stores it so).
  std::optional<std::int64_t> padding_idx() const { return options_.padding_idx_; }

  Tensor weight;  // (num_embeddings, embedding_dim)

 private:
  EmbeddingOptions options_;
};

class Embedding : public ModuleHolder<EmbeddingImpl> {
 public:
  using ModuleHolder<EmbeddingImpl>::ModuleHolder;
  // torch.nn.Embedding.from_pretrained: the weight shares `embeddings`' data (2-D,
  // (num_embeddings, embedding_dim)); freeze = true: it does not require grad.
  static Embedding from_pretrained(const Tensor& embeddings, bool freeze = true,
                                   std::optional<std::int64_t> padding_idx = std::nullopt);
};

}  // namespace reel::nn
