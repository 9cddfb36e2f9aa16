// --- pooling (issue 7) ---
// The pooling modules: options checked once at construction, every call handed to F::, repr as
// PyTorch prints it.
#include "nn/pooling.hpp"

#include <fmt/format.h>

namespace reel::nn {

namespace {
const char* py_bool(bool b) { return b ? "True" : "False"; }
void check_output_size(std::int64_t size, const char* module) {
  check(size >= 0, "{}: elements of output_size must be greater than or equal to 0 but received {}",
        module, size);
}
}  // namespace

MaxPool1dImpl::MaxPool1dImpl(MaxPool1dOptions o) : options(o) {
  functional::check_max_pool1d_options(options);
}
Tensor MaxPool1dImpl::forward(const Tensor& input) const {
  return functional::max_pool1d(input, options);
}
std::tuple<Tensor, Tensor> MaxPool1dImpl::forward_with_indices(const Tensor& input) const {
  return functional::max_pool1d_with_indices(input, options);
}
std::string MaxPool1dImpl::repr() const {
  return fmt::format("MaxPool1d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
                     options.kernel_size_, options.stride_, options.padding_, options.dilation_,
                     py_bool(options.ceil_mode_));
}

AvgPool1dImpl::AvgPool1dImpl(AvgPool1dOptions o) : options(o) {
  functional::check_avg_pool1d_options(options);
}
Tensor AvgPool1dImpl::forward(const Tensor& input) const {
  return functional::avg_pool1d(input, options);
}
std::string AvgPool1dImpl::repr() const {
  // torch.nn.AvgPool1d stores its sizes as 1-tuples and prints only these three.
  return fmt::format("AvgPool1d(kernel_size=({},), stride=({},), padding=({},))",
                     options.kernel_size_, options.stride_, options.padding_);
}

AdaptiveAvgPool1dImpl::AdaptiveAvgPool1dImpl(AdaptiveAvgPool1dOptions o) : options(o) {
  check_output_size(options.output_size_, "AdaptiveAvgPool1d");
}
Tensor AdaptiveAvgPool1dImpl::forward(const Tensor& input) const {
  return functional::adaptive_avg_pool1d(input, options);
}
std::string AdaptiveAvgPool1dImpl::repr() const {
  return fmt::format("AdaptiveAvgPool1d(output_size={})", options.output_size_);
}

AdaptiveMaxPool1dImpl::AdaptiveMaxPool1dImpl(AdaptiveMaxPool1dOptions o) : options(o) {
  check_output_size(options.output_size_, "AdaptiveMaxPool1d");
}
Tensor AdaptiveMaxPool1dImpl::forward(const Tensor& input) const {
  return functional::adaptive_max_pool1d(input, options);
}
std::tuple<Tensor, Tensor> AdaptiveMaxPool1dImpl::forward_with_indices(const Tensor& input) const {
  return functional::adaptive_max_pool1d_with_indices(input, options);
}
std::string AdaptiveMaxPool1dImpl::repr() const {
  return fmt::format("AdaptiveMaxPool1d(output_size={})", options.output_size_);
}

}  // namespace reel::nn
