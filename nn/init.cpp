// nn::init: the initialisers of torch.nn.init (same bounds, same fan rule, same gains).
#include "nn/init.hpp"

#include <cmath>
#include <vector>

#include "autograd/grad_mode.hpp"
#include "tensor/ops.hpp"

namespace reel::nn::init {

namespace {

// The generator to draw from: the one given, else the default.
Generator& source(Generator* generator) {
  return generator != nullptr ? *generator : default_generator();
}

// part <- U(a, b), for a real tensor (or the real/imag view of a complex one).
void fill_uniform(Tensor part, double a, double b, Generator& gen) {
  Tensor u = rand(part.sizes(), gen, TensorOptions(part.dtype()).device(part.device()));
  part.copy_(add(mul(u, b - a), a));  // copy_ bumps the version counter
}

// part <- N(mean, std^2), for a real tensor (or a view).
void fill_normal(Tensor part, double mean, double std, Generator& gen) {
  Tensor z = randn(part.sizes(), gen, TensorOptions(part.dtype()).device(part.device()));
  part.copy_(add(mul(z, std), mean));
}

void check_inexact(const Tensor& t, const char* op) {
  check(t.defined(), "{}: the tensor is undefined", op);
  check(is_inexact(t.dtype()), "{}: expected a floating point or complex tensor, got {}", op,
        t.dtype());
}

void check_real(const Tensor& t, const char* op) {
  check(t.defined(), "{}: the tensor is undefined", op);
  check(t.is_floating_point(), "{}: expected a floating point tensor, got {}", op, t.dtype());
}

double fan_of(const Tensor& t, FanMode mode) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return static_cast<double>(mode == kFanIn ? fan_in : fan_out);
}

}  // namespace

double calculate_gain(std::string_view nonlinearity, std::optional<double> param) {
  for (const char* linear : {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                             "conv_transpose2d", "conv_transpose3d", "sigmoid"}) {
    if (nonlinearity == linear) return 1.0;
  }
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    double slope = param.value_or(0.01);
    check(std::isfinite(slope), "calculate_gain: negative_slope {} not a valid number", slope);
    return std::sqrt(2.0 / (1 + slope * slope));
  }
  if (nonlinearity == "selu") return 3.0 / 4;
  fail("calculate_gain: Unsupported nonlinearity {}", nonlinearity);
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  check(t.dim() >= 2,
        "init: Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
        "(got a tensor of size {})",
        t.sizes());
  std::int64_t receptive_field = 1;
  for (int d = 2; d < t.dim(); ++d) receptive_field *= t.size(d);
  return {t.size(1) * receptive_field, t.size(0) * receptive_field};
}

Tensor uniform_(const Tensor& t, double a, double b, Generator* generator) {
  check_inexact(t, "uniform_");
  check(a <= b, "uniform_: expects to return a [from, to) range, but found from={} > to={}", a, b);
  NoGradGuard no_grad;
  if (t.numel() == 0) return t;
  if (t.is_complex()) {
    // Independent draws for the two parts: each lands in [a, b), as PyTorch's uniform_.
    fill_uniform(real(t), a, b, source(generator));
    fill_uniform(imag(t), a, b, source(generator));
  } else {
    fill_uniform(t, a, b, source(generator));
  }
  return t;
}

Tensor normal_(const Tensor& t, double mean, double std, Generator* generator) {
  check_inexact(t, "normal_");
  check(std >= 0.0, "normal_: expects std >= 0.0, but found std {}", std);
  NoGradGuard no_grad;
  if (t.numel() == 0) return t;
  if (t.is_complex()) {
    // PyTorch's complex normal: mean + std * z, z standard complex normal (each part
    // variance 1/2); the mean is real here.
    fill_normal(real(t), mean, std / std::sqrt(2.0), source(generator));
    fill_normal(imag(t), 0.0, std / std::sqrt(2.0), source(generator));
  } else {
    fill_normal(t, mean, std, source(generator));
  }
  return t;
}

Tensor trunc_normal_(const Tensor& t, double mean, double std, double a, double b,
                     Generator* generator) {
  check_real(t, "trunc_normal_");
  check(std > 0.0, "trunc_normal_: expects std > 0.0, but found std {}", std);
  check(a < b, "trunc_normal_: expects a < b, but found a={}, b={}", a, b);
  // Redrawing the values outside [a, b] until none is left gives exactly the truncated
  // distribution. An interval far out in one tail would take very many rounds, so it is
  // refused (PyTorch only warns, at 2 std).
  check((b - mean) / std > -5.0 && (a - mean) / std < 5.0,
        "trunc_normal_: the interval [{}, {}] is too far from mean {} (std {})", a, b, mean, std);
  NoGradGuard no_grad;
  if (t.numel() == 0) return t;
  Tensor x = add(mul(randn(t.sizes(), source(generator), t.options()), std), mean);
  for (int round = 0; round < 10000; ++round) {
    Tensor outside = logical_or(lt(x, a), gt(x, b));
    if (!any(outside).item<bool>()) break;
    Tensor redraw = add(mul(randn(t.sizes(), source(generator), t.options()), std), mean);
    x = where(outside, redraw, x);
  }
  // a safety net that can't change a value in [a, b]
  Tensor self = t;
  self.copy_(clamp(x, a, b));
  return t;
}

Tensor constant_(const Tensor& t, double value) {
  check_inexact(t, "constant_");
  NoGradGuard no_grad;
  Tensor self = t;
  self.fill_(value);
  return t;
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor eye_(const Tensor& t) {
  check(t.defined(), "eye_: the tensor is undefined");
  check(t.dim() == 2, "eye_: Only tensors with 2 dimensions are supported, got {} dims", t.dim());
  NoGradGuard no_grad;
  Tensor self = t;
  self.copy_(eye(t.size(0), t.size(1), t.options()));
  return t;
}

Tensor xavier_uniform_(const Tensor& t, double gain, Generator* generator) {
  check_inexact(t, "xavier_uniform_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  double a = std::sqrt(3.0) * std;
  return uniform_(t, -a, a, generator);
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator* generator) {
  check_inexact(t, "xavier_normal_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(t, 0.0, std, generator);
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, std::string_view nonlinearity,
                        Generator* generator) {
  check_inexact(t, "kaiming_uniform_");
  if (t.numel() == 0) return t;  // PyTorch: "Initializing zero-element tensors is a no-op"
  double std = calculate_gain(nonlinearity, a) / std::sqrt(fan_of(t, mode));
  double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound, generator);
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, std::string_view nonlinearity,
                       Generator* generator) {
  check_inexact(t, "kaiming_normal_");
  if (t.numel() == 0) return t;
  double std = calculate_gain(nonlinearity, a) / std::sqrt(fan_of(t, mode));
  return normal_(t, 0.0, std, generator);
}

Tensor orthogonal_(const Tensor& t, double gain, Generator* generator) {
  check_real(t, "orthogonal_");
  check(t.dim() >= 2, "orthogonal_: Only tensors with 2 or more dimensions are supported, got {}",
        t.sizes());
  if (t.numel() == 0) return t;
  NoGradGuard no_grad;
  const std::int64_t rows = t.size(0), cols = t.numel() / rows;
  // A is m x n with m >= n: the normal draws, transposed when rows < cols (as PyTorch).
  const bool wide = rows < cols;
  const std::int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  std::vector<double> z = randn({rows, cols}, source(generator), TensorOptions(kFloat64)).to_vector<double>();
  std::vector<double> A(static_cast<std::size_t>(m * n));
  auto at = [&](std::vector<double>& M, std::int64_t i, std::int64_t j) -> double& {
    return M[static_cast<std::size_t>(i * n + j)];
  };
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      (wide ? at(A, c, r) : at(A, r, c)) = z[static_cast<std::size_t>(r * cols + c)];
    }
  }
  // Householder QR: column k's reflector v_k (unit, zero above k) maps A[k:, k] onto
  // alpha_k e_k; R's diagonal is alpha_k.
  std::vector<std::vector<double>> vs(static_cast<std::size_t>(n));
  std::vector<double> diag_r(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    double norm = 0;
    for (std::int64_t i = k; i < m; ++i) norm += at(A, i, k) * at(A, i, k);
    norm = std::sqrt(norm);
    double alpha = at(A, k, k) > 0 ? -norm : norm;  // the sign that avoids cancellation
    std::vector<double> v(static_cast<std::size_t>(m), 0.0);
    for (std::int64_t i = k; i < m; ++i) v[i] = at(A, i, k);
    v[k] -= alpha;
    double vnorm = 0;
    for (std::int64_t i = k; i < m; ++i) vnorm += v[i] * v[i];
    vnorm = std::sqrt(vnorm);
    if (vnorm > 0) {
      for (std::int64_t i = k; i < m; ++i) v[i] /= vnorm;
      for (std::int64_t j = k; j < n; ++j) {
        double dot = 0;
        for (std::int64_t i = k; i < m; ++i) dot += v[i] * at(A, i, j);
        for (std::int64_t i = k; i < m; ++i) at(A, i, j) -= 2 * v[i] * dot;
      }
    }
    diag_r[k] = at(A, k, k);
    vs[k] = std::move(v);
  }
  // Q (m x n) = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
  std::vector<double> Q(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) at(Q, i, i) = 1.0;
  for (std::int64_t k = n - 1; k >= 0; --k) {
    const auto& v = vs[k];
    for (std::int64_t j = 0; j < n; ++j) {
      double dot = 0;
      for (std::int64_t i = k; i < m; ++i) dot += v[i] * at(Q, i, j);
      for (std::int64_t i = k; i < m; ++i) at(Q, i, j) -= 2 * v[i] * dot;
    }
  }
  // PyTorch: q *= sign(diag(r)), which makes the result independent of the QR's sign choices.
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = diag_r[j] > 0 ? 1.0 : (diag_r[j] < 0 ? -1.0 : 0.0);
      double q = at(Q, i, j) * s * gain;
      // back to (rows, cols): Q is (cols, rows) when wide
      out[static_cast<std::size_t>(wide ? j * cols + i : i * cols + j)] = q;
    }
  }
  Tensor result = tensor(out, Shape{rows, cols}, TensorOptions(kFloat64));
  Tensor self = t;
  self.copy_(result.reshape(t.sizes()).to(t.device()));  // copy_ casts, but stays on a device
  return t;
}

}  // namespace reel::nn::init
