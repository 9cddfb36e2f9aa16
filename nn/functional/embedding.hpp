#pragma once
// F.embedding's twin: rows of weight picked by integer indices.
#include <cstdint>
#include <optional>

#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// padding_idx: that row's gradient is always zero (the row itself is not touched); negative
// values count from the end (-1 is the last row). max_norm, norm_type, scale_grad_by_freq and
// sparse are not offered.
struct EmbeddingFuncOptions {
  EmbeddingFuncOptions& padding_idx(std::optional<std::int64_t> v) { padding_idx_ = v; return *this; }
  std::optional<std::int64_t> padding_idx_;
};

// input: int64 or int32 indices of any shape, each in [0, num_embeddings); weight
// (num_embeddings, embedding_dim) -> (*input.shape, embedding_dim).
Tensor embedding(const Tensor& input, const Tensor& weight, const EmbeddingFuncOptions& options = {});

// padding_idx in [-num_embeddings, num_embeddings) made non-negative; anything else raises
// reel::Error naming `op`.
std::int64_t normalize_padding_idx(std::int64_t padding_idx, std::int64_t num_embeddings,
                                   const char* op);

}  // namespace reel::nn::functional
