// nn::Linear (init as PyTorch's), nn::Flatten and nn::Unflatten (checks and reprs as PyTorch's).
#include "nn/linear.hpp"

#include <cmath>

#include "autograd/grad_mode.hpp"
#include "nn/init.hpp"
#include "tensor/ops.hpp"

namespace reel::nn {

LinearImpl::LinearImpl(LinearOptions options) : options_(options) {
  const auto& o = options_;
  check(o.in_features_ >= 0 && o.out_features_ >= 0,
        "Linear: in_features and out_features must be non-negative, got in_features={}, "
        "out_features={}",
        o.in_features_, o.out_features_);
  check(is_floating(o.dtype_), "Linear: dtype must be float32 or float64, got {}", o.dtype_);
  TensorOptions t = TensorOptions(o.dtype_).device(o.device_);
  weight = register_parameter("weight", empty({o.out_features_, o.in_features_}, t));
  bias = register_parameter("bias", o.bias_ ? empty({o.out_features_}, t) : Tensor(), o.bias_);
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  // torch.nn.Linear.reset_parameters: kaiming_uniform_(weight, a=sqrt(5)) -> bound
  // 1/sqrt(in_features); the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (0 when fan_in is 0).
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor LinearImpl::forward(const Tensor& input) const {
  return functional::linear(input, weight, bias);
}

std::string LinearImpl::repr() const {
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", options_.in_features_,
                     options_.out_features_, options_.bias_ ? "True" : "False");
}

Tensor FlattenImpl::forward(const Tensor& input) const {
  return input.flatten(options_.start_dim_, options_.end_dim_);
}

std::string FlattenImpl::repr() const {
  return fmt::format("Flatten(start_dim={}, end_dim={})", options_.start_dim_, options_.end_dim_);
}

UnflattenImpl::UnflattenImpl(UnflattenOptions options) : options_(std::move(options)) {
  const auto& s = options_.sizes_;
  check(!s.empty(), "Unflatten: unflattened_size must be non-empty");
  int inferred = 0;
  for (std::int64_t v : s) {
    check(v >= 0 || v == -1, "Unflatten: invalid size {} in unflattened_size {}", v, Shape(s));
    inferred += v == -1;
  }
  check(inferred <= 1, "Unflatten: only one size can be inferred (-1), got unflattened_size {}", Shape(s));
}

Tensor UnflattenImpl::forward(const Tensor& input) const {
  const std::int64_t n = input.dim();
  std::int64_t d = options_.dim_;
  check(d >= -n && d < n && n > 0,
        "unflatten: Dimension out of range (expected to be in range of [{}, {}], but got {})", -n,
        n - 1, d);
  if (d < 0) d += n;
  const auto& sizes = options_.sizes_;
  std::int64_t known = 1;
  std::size_t infer_at = sizes.size();
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) infer_at = i; else known *= sizes[i];
  }
  std::vector<std::int64_t> resolved = sizes;
  if (infer_at < sizes.size()) {
    check(known != 0 && input.size(d) % known == 0,
          "unflatten: Provided sizes {} don't multiply up to the size of dim {} ({}) in the input "
          "tensor",
          Shape(sizes), d, input.size(d));
    resolved[infer_at] = input.size(d) / known;
  } else {
    check(known == input.size(d),
          "unflatten: Provided sizes {} don't multiply up to the size of dim {} ({}) in the input "
          "tensor",
          Shape(sizes), d, input.size(d));
  }
  Shape shape;
  for (std::int64_t k = 0; k < n; ++k) {
    if (k == d) {
      for (std::int64_t v : resolved) shape.push_back(v);
    } else {
      shape.push_back(input.size(k));
    }
  }
  return input.reshape(shape);
}

std::string UnflattenImpl::repr() const {
  // a Python tuple: (2, 3), and (5,) for one element
  std::string t = "(";
  for (std::size_t i = 0; i < options_.sizes_.size(); ++i) {
    if (i > 0) t += ", ";
    t += std::to_string(options_.sizes_[i]);
  }
  if (options_.sizes_.size() == 1) t += ",";
  return fmt::format("Unflatten(dim={}, unflattened_size={})", options_.dim_, t + ")");
}

}  // namespace reel::nn
