// nn::Dropout, nn::Dropout1d: p checked at construction (as torch.nn's _DropoutNd), repr as
// PyTorch's.
#include "nn/dropout.hpp"

#include "nn/python_repr.hpp"

namespace reel::nn {

DropoutImpl::DropoutImpl(DropoutOptions options) : options_(options) {
  functional::check_dropout_p(options_.p_, "Dropout");
}

Tensor DropoutImpl::forward(const Tensor& input) const {
  functional::DropoutFuncOptions o;
  o.p(options_.p_).training(is_training()).inplace(options_.inplace_);
  o.generator_ = options_.generator_;
  return functional::dropout(input, o);
}

std::string DropoutImpl::repr() const {
  return "Dropout(p=" + python_float(options_.p_) + ", inplace=" + python_bool(options_.inplace_) +
         ")";
}

Dropout1dImpl::Dropout1dImpl(Dropout1dOptions options) : options_(options) {
  functional::check_dropout_p(options_.p_, "Dropout1d");
}

Tensor Dropout1dImpl::forward(const Tensor& input) const {
  functional::Dropout1dFuncOptions o;
  o.p(options_.p_).training(is_training()).inplace(options_.inplace_);
  o.generator_ = options_.generator_;
  return functional::dropout1d(input, o);
}

std::string Dropout1dImpl::repr() const {
  return "Dropout1d(p=" + python_float(options_.p_) + ", inplace=" + python_bool(options_.inplace_) +
         ")";
}

}  // namespace reel::nn
