#pragma once
// --- pooling (issue 7) ---
// F.max_pool1d, F.avg_pool1d, F.adaptive_avg_pool1d, F.adaptive_max_pool1d over the last dim of
// a (N, C, L) or unbatched (C, L) float32/float64 tensor; differentiable. The work is the
// backend's pooling primitives (op table rows MaxPool1d ... AdaptiveAvgPool1dBackward); the
// max pools' backward scatters grad_output at the saved indices (scatter_add).
#include <cstdint>
#include <optional>
#include <tuple>

#include "tensor/tensor.hpp"

namespace reel::nn::functional {

// LibTorch's MaxPool1dOptions: stride defaults to kernel_size.
struct MaxPool1dFuncOptions {
  explicit MaxPool1dFuncOptions(std::int64_t kernel_size)
      : kernel_size_(kernel_size), stride_(kernel_size) {}
  MaxPool1dFuncOptions& stride(std::int64_t v) { stride_ = v; return *this; }
  MaxPool1dFuncOptions& padding(std::int64_t v) { padding_ = v; return *this; }
  MaxPool1dFuncOptions& dilation(std::int64_t v) { dilation_ = v; return *this; }
  MaxPool1dFuncOptions& ceil_mode(bool v) { ceil_mode_ = v; return *this; }
  std::int64_t kernel_size_, stride_;
  std::int64_t padding_ = 0;
  std::int64_t dilation_ = 1;
  bool ceil_mode_ = false;
};

struct AvgPool1dFuncOptions {
  explicit AvgPool1dFuncOptions(std::int64_t kernel_size)
      : kernel_size_(kernel_size), stride_(kernel_size) {}
  AvgPool1dFuncOptions& stride(std::int64_t v) { stride_ = v; return *this; }
  AvgPool1dFuncOptions& padding(std::int64_t v) { padding_ = v; return *this; }
  AvgPool1dFuncOptions& ceil_mode(bool v) { ceil_mode_ = v; return *this; }
  AvgPool1dFuncOptions& count_include_pad(bool v) { count_include_pad_ = v; return *this; }
  std::int64_t kernel_size_, stride_;
  std::int64_t padding_ = 0;
  bool ceil_mode_ = false;
  bool count_include_pad_ = true;
};

struct AdaptiveAvgPool1dFuncOptions {
  explicit AdaptiveAvgPool1dFuncOptions(std::int64_t output_size) : output_size_(output_size) {}
  std::int64_t output_size_;
};
struct AdaptiveMaxPool1dFuncOptions {
  explicit AdaptiveMaxPool1dFuncOptions(std::int64_t output_size) : output_size_(output_size) {}
  std::int64_t output_size_;
};

// The options' own checks (PyTorch's words), made on each call and by the modules once.
void check_max_pool1d_options(const MaxPool1dFuncOptions& o);
void check_avg_pool1d_options(const AvgPool1dFuncOptions& o);

Tensor max_pool1d(const Tensor& input, const MaxPool1dFuncOptions& options);
// (values, indices): indices are int64 positions in [0, L) of the last dim.
std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input,
                                                   const MaxPool1dFuncOptions& options);
Tensor avg_pool1d(const Tensor& input, const AvgPool1dFuncOptions& options);
Tensor adaptive_avg_pool1d(const Tensor& input, const AdaptiveAvgPool1dFuncOptions& options);
Tensor adaptive_max_pool1d(const Tensor& input, const AdaptiveMaxPool1dFuncOptions& options);
std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(
    const Tensor& input, const AdaptiveMaxPool1dFuncOptions& options);

}  // namespace reel::nn::functional
