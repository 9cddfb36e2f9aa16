// F::embedding: reel's embedding op (bounds-checked index_select of rows), with the padding
// row's gradient cut.
#include "nn/functional/embedding.hpp"

#include "tensor/ops.hpp"

namespace reel::nn::functional {

std::int64_t normalize_padding_idx(std::int64_t padding_idx, std::int64_t num_embeddings,
                                   const char* op) {
  check(padding_idx >= -num_embeddings && padding_idx < num_embeddings,
        "{}: Padding_idx must be within num_embeddings (padding_idx={}, num_embeddings={})", op,
        padding_idx, num_embeddings);
  return padding_idx < 0 ? padding_idx + num_embeddings : padding_idx;
}

Tensor embedding(const Tensor& input, const Tensor& weight, const EmbeddingFuncOptions& options) {
  check(input.defined() && weight.defined(), "embedding: input and weight must be defined");
  check(input.dtype() == kInt64 || input.dtype() == kInt32,
        "embedding: Expected tensor for argument #1 'indices' to have one of the following "
        "scalar types: Long, Int; but got {} instead",
        input.dtype());
  check(weight.dim() == 2, "embedding: 'weight' must be 2-D, got shape {}", weight.sizes());
  Tensor indices = input.dtype() == kInt64 ? input : input.to(kInt64);
  Tensor out = reel::embedding(weight, indices);  // checks the range of every index
  if (!options.padding_idx_) return out;
  const std::int64_t pad = normalize_padding_idx(*options.padding_idx_, weight.size(0), "embedding");
  if (!out.requires_grad()) return out;
  // The same values, but the positions that read the padding row take them from a detached
  // copy, so no gradient reaches that row (PyTorch's embedding_backward skips padding_idx).
  Tensor is_pad = eq(indices, pad).unsqueeze(-1);
  return where(is_pad, out.detach(), out);
}

}  // namespace reel::nn::functional
