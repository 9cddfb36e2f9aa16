// The activation modules: argument checks at construction (as torch.nn's constructors), repr
// as PyTorch's extra_repr, forward through nn::functional.
#include "nn/activation.hpp"

#include <cmath>

#include "autograd/grad_mode.hpp"
#include "nn/python_repr.hpp"

namespace reel::nn {

namespace F = functional;

namespace {

// Softplus's beta and threshold default to Python ints in torch 1.13 (repr "beta=1,
// threshold=20"), so integral values print as ints there.
std::string python_number(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", static_cast<std::int64_t>(v));
  }
  return python_float(v);
}

}  // namespace

Tensor ReLUImpl::forward(const Tensor& input) const { return F::relu(input); }
Tensor SiLUImpl::forward(const Tensor& input) const { return F::silu(input); }
Tensor MishImpl::forward(const Tensor& input) const { return F::mish(input); }
Tensor TanhImpl::forward(const Tensor& input) const { return F::tanh(input); }
Tensor SigmoidImpl::forward(const Tensor& input) const { return F::sigmoid(input); }

LeakyReLUImpl::LeakyReLUImpl(LeakyReLUOptions options) : options_(options) {}
Tensor LeakyReLUImpl::forward(const Tensor& input) const { return F::leaky_relu(input, options_); }
std::string LeakyReLUImpl::repr() const {
  return "LeakyReLU(negative_slope=" + python_float(options_.negative_slope_) + ")";
}

ELUImpl::ELUImpl(ELUOptions options) : options_(options) {}
Tensor ELUImpl::forward(const Tensor& input) const { return F::elu(input, options_); }
std::string ELUImpl::repr() const { return "ELU(alpha=" + python_float(options_.alpha_) + ")"; }

GELUImpl::GELUImpl(GELUOptions options) : options_(std::move(options)) {
  const std::string& a = options_.approximate_;
  check(a == "none" || a == "tanh",
        "GELU: approximate argument must be either none or tanh, got '{}'", a);
}
Tensor GELUImpl::forward(const Tensor& input) const { return F::gelu(input, options_); }
std::string GELUImpl::repr() const { return "GELU(approximate='" + options_.approximate_ + "')"; }

SoftplusImpl::SoftplusImpl(SoftplusOptions options) : options_(options) {}
Tensor SoftplusImpl::forward(const Tensor& input) const { return F::softplus(input, options_); }
std::string SoftplusImpl::repr() const {
  return "Softplus(beta=" + python_number(options_.beta_) +
         ", threshold=" + python_number(options_.threshold_) + ")";
}

HardtanhImpl::HardtanhImpl(HardtanhOptions options) : options_(options) {
  // torch.nn.Hardtanh asserts max_val > min_val
  check(options_.max_val_ > options_.min_val_,
        "Hardtanh: max_val must be greater than min_val, got min_val={}, max_val={}",
        options_.min_val_, options_.max_val_);
}
Tensor HardtanhImpl::forward(const Tensor& input) const { return F::hardtanh(input, options_); }
std::string HardtanhImpl::repr() const {
  return "Hardtanh(min_val=" + python_float(options_.min_val_) +
         ", max_val=" + python_float(options_.max_val_) + ")";
}

SoftmaxImpl::SoftmaxImpl(SoftmaxOptions options) : options_(options) {}
Tensor SoftmaxImpl::forward(const Tensor& input) const {
  return F::softmax(input, options_.dim_);
}
std::string SoftmaxImpl::repr() const { return fmt::format("Softmax(dim={})", options_.dim_); }

LogSoftmaxImpl::LogSoftmaxImpl(LogSoftmaxOptions options) : options_(options) {}
Tensor LogSoftmaxImpl::forward(const Tensor& input) const {
  return F::log_softmax(input, options_.dim_);
}
std::string LogSoftmaxImpl::repr() const {
  return fmt::format("LogSoftmax(dim={})", options_.dim_);
}

GLUImpl::GLUImpl(GLUOptions options) : options_(options) {}
Tensor GLUImpl::forward(const Tensor& input) const { return F::glu(input, options_); }
std::string GLUImpl::repr() const { return fmt::format("GLU(dim={})", options_.dim_); }

PReLUImpl::PReLUImpl(PReLUOptions options) : options_(options) {
  check(options_.num_parameters_ > 0,
        "PReLU: num_parameters must be positive, got num_parameters={}", options_.num_parameters_);
  check(is_floating(options_.dtype_), "PReLU: dtype must be float32 or float64, got {}",
        options_.dtype_);
  weight = register_parameter(
      "weight",
      empty({options_.num_parameters_}, TensorOptions(options_.dtype_).device(options_.device_)));
  reset_parameters();
}

void PReLUImpl::reset_parameters() {
  NoGradGuard no_grad;
  weight.fill_(options_.init_);
}

Tensor PReLUImpl::forward(const Tensor& input) const { return F::prelu(input, weight); }

std::string PReLUImpl::repr() const {
  return fmt::format("PReLU(num_parameters={})", options_.num_parameters_);
}

}  // namespace reel::nn
