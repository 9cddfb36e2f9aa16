// The reference conv1d and pad1d kernels. Forward values are computed by hand (the arithmetic is
// in the comments); the backward kernels are pinned by the adjoint identities
//   <conv(x; w), y> == <x, conv_backward_input(y; w)> == <w, conv_backward_weight(y; x)>
// over hundreds of random configurations (a bilinear pairing, sum a*b with no conjugation, so it
// holds for complex too), and every padding/stride/dilation/groups case of the forward is
// reduced by explicit test-side padding, weight dilation and group slicing to the plain case
// the hand computations pin.
#include <complex>
#include <cstdint>
#include <random>
#include <vector>

#include "doctest/doctest.h"

#include "backends/backend.hpp"
#include "support.hpp"

namespace {

using namespace reel;
using namespace reel::backends;
using c64 = std::complex<float>;
using c128 = std::complex<double>;

Backend& ref() { return reference_backend(); }

using reel::test::view;
View none() { return View{}; }  // a null view: data == nullptr

template <typename T>
std::vector<T> vec(std::initializer_list<double> values) {
  std::vector<T> out;
  for (double v : values) out.push_back(T(v));
  return out;
}

template <typename T>
void check_all(const std::vector<T>& got, const std::vector<T>& want, double tol = 1e-6) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK_MESSAGE(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i])), "element ", i,
                  ": got ", got[i], ", want ", want[i]);
  }
}

std::int64_t out_length(std::int64_t length, std::int64_t kernel, const Conv1dParams& p) {
  return (length + p.pad_left + p.pad_right - p.dilation * (kernel - 1) - 1) / p.stride + 1;
}

// Runs the forward kernel on contiguous buffers; `bias` empty means no bias.
template <typename T>
std::vector<T> conv(const std::vector<T>& x, Shape xs, const std::vector<T>& w, Shape ws,
                    const std::vector<T>& bias, const Conv1dParams& p) {
  const Shape ys{xs[0], ws[0], out_length(xs[2], ws[2], p)};
  std::vector<T> y(static_cast<std::size_t>(numel_of(ys)), T(-99));
  ref().conv1d_forward(view(y.data(), ys), view(x.data(), xs), view(w.data(), ws),
                       bias.empty() ? none() : view(bias.data(), {ws[0]}), p);
  return y;
}

template <typename T>
std::vector<T> pad(const std::vector<T>& x, Shape xs, PadMode mode, std::int64_t l,
                   std::int64_t r) {
  const Shape ys{xs[0], xs[1], xs[2] + l + r};
  std::vector<T> y(static_cast<std::size_t>(numel_of(ys)), T(-99));
  ref().pad1d(view(y.data(), ys), view(x.data(), xs), mode, l, r);
  return y;
}

Conv1dParams params(std::int64_t stride, std::int64_t pad_left, std::int64_t pad_right,
                    std::int64_t dilation, std::int64_t groups) {
  return Conv1dParams{stride, pad_left, pad_right, dilation, groups};
}

// Random values in [-1, 1) (both parts for complex).
template <typename T>
std::vector<T> random_vec(std::mt19937_64& rng, std::int64_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& e : v) {
    if constexpr (is_complex_v<T>) e = T(u(rng), u(rng));
    else e = T(u(rng));
  }
  return v;
}

// The bilinear pairing <a, b> = sum a[i] * b[i] (no conjugation), and a scale for tolerances.
template <typename T>
T dot(const std::vector<T>& a, const std::vector<T>& b) {
  T s(0);
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
template <typename T>
double abs_dot(const std::vector<T>& a, const std::vector<T>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += std::abs(a[i]) * std::abs(b[i]);
  return s;
}

std::int64_t pick(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

// A random valid geometry.
struct Config {
  std::int64_t n, cin, cout, length, kernel;
  Conv1dParams p;
};
Config random_config(std::mt19937_64& rng) {
  Config c{};
  c.p.groups = pick(rng, 1, 3);
  c.cin = c.p.groups * pick(rng, 1, 3);
  c.cout = c.p.groups * pick(rng, 1, 3);
  c.n = pick(rng, 1, 3);
  c.kernel = pick(rng, 1, 5);
  c.p.stride = pick(rng, 1, 3);
  c.p.dilation = pick(rng, 1, 3);
  c.p.pad_left = pick(rng, 0, 4);
  c.p.pad_right = pick(rng, 0, 4);
  const std::int64_t span = c.p.dilation * (c.kernel - 1) + 1;
  const std::int64_t min_length = std::max<std::int64_t>(0, span - c.p.pad_left - c.p.pad_right);
  c.length = min_length + pick(rng, 0, 9);
  return c;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// conv1d forward, by hand. x = [1, 2, 3, 4, 5], w = [1, 2, 3] unless said otherwise; the
// kernel is not flipped, so out[t] = x[t] + 2 x[t+1] + 3 x[t+2] on the (zero-)padded input.

TEST_CASE_TEMPLATE("conv1d reference: one channel, hand-computed", T, float, double) {
  const auto x = vec<T>({1, 2, 3, 4, 5});
  const auto w = vec<T>({1, 2, 3});
  const Shape xs{1, 1, 5}, ws{1, 1, 3};
  // No padding: 1+4+9, 2+6+12, 3+8+15.
  check_all(conv(x, xs, w, ws, {}, params(1, 0, 0, 1, 1)), vec<T>({14, 20, 26}));
  // Padding 1 both sides reads [0 1 2 3 4 5 0]: first 0+2+6, last 4+10+0.
  check_all(conv(x, xs, w, ws, {}, params(1, 1, 1, 1, 1)), vec<T>({8, 14, 20, 26, 14}));
  // Asymmetric (left 1, right 2) reads [0 1 2 3 4 5 0 0]: one more output, 5+0+0.
  check_all(conv(x, xs, w, ws, {}, params(1, 1, 2, 1, 1)), vec<T>({8, 14, 20, 26, 14, 5}));
  // Causal (left = dilation*(K-1) = 2): out[t] sees x[t-2..t]: 3*1, 2*1+3*2, then as unpadded.
  check_all(conv(x, xs, w, ws, {}, params(1, 2, 0, 1, 1)), vec<T>({3, 8, 14, 20, 26}));
  // Bias is added to every output position.
  check_all(conv(x, xs, w, ws, vec<T>({10}), params(1, 0, 0, 1, 1)), vec<T>({24, 30, 36}));
}

TEST_CASE_TEMPLATE("conv1d reference: stride and dilation, hand-computed", T, float, double) {
  // x = [1..8], taps at t*2 + 2k - pad_left.
  const auto x = vec<T>({1, 2, 3, 4, 5, 6, 7, 8});
  const auto w = vec<T>({1, 2, 3});
  const Shape xs{1, 1, 8}, ws{1, 1, 3};
  // No padding: Lout = (8 - 5) / 2 + 1 = 2; t=0 reads x[0,2,4] = 1+6+15, t=1 x[2,4,6] = 3+10+21.
  check_all(conv(x, xs, w, ws, {}, params(2, 0, 0, 2, 1)), vec<T>({22, 34}));
  // Left pad 1: Lout = (9 - 5) / 2 + 1 = 3; t=0 reads x[-1,1,3] = 0+4+12, x[1,3,5] = 2+8+18,
  // x[3,5,7] = 4+12+24.
  check_all(conv(x, xs, w, ws, {}, params(2, 1, 0, 2, 1)), vec<T>({16, 28, 40}));
}

TEST_CASE_TEMPLATE("conv1d reference: groups, depthwise, batch and bias", T, float, double) {
  SUBCASE("groups=2, 4 in / 4 out channels") {
    // Channels 0,1 feed outputs 0,1; channels 2,3 feed outputs 2,3. K = 2, Lout = 2.
    const auto x = vec<T>({1, 2, 3, /**/ 0, 1, 0, /**/ 2, 0, 1, /**/ 1, 1, 1});
    const auto w = vec<T>({1, 0, 0, 1,    // out 0: x0[t] + x1[t+1]      = 1+1, 2+0
                           0, 1, 2, 0,    // out 1: x0[t+1] + 2 x1[t]    = 2+0, 3+2
                           1, 1, 0, 0,    // out 2: x2[t] + x2[t+1]      = 2+0, 0+1
                           1, 0, 0, 3});  // out 3: x2[t] + 3 x3[t+1]    = 2+3, 0+3
    check_all(conv(x, {1, 4, 3}, w, {4, 2, 2}, {}, params(1, 0, 0, 1, 2)),
              vec<T>({2, 2, 2, 5, 2, 1, 5, 3}));
  }
  SUBCASE("depthwise, multiplier 2 (groups = Cin = 2, Cout = 4)") {
    // Outputs 0,1 read channel 0 = [1,2,3]; outputs 2,3 read channel 1 = [4,5,6].
    const auto x = vec<T>({1, 2, 3, 4, 5, 6});
    const auto w = vec<T>({1, 1,    // x0[t] + x0[t+1]     = 3, 5
                           1, 2,    // x0[t] + 2 x0[t+1]   = 5, 8
                           2, 0,    // 2 x1[t]             = 8, 10
                           0, 1});  // x1[t+1]             = 5, 6
    check_all(conv(x, {1, 2, 3}, w, {4, 1, 2}, {}, params(1, 0, 0, 1, 2)),
              vec<T>({3, 5, 5, 8, 8, 10, 5, 6}));
  }
  SUBCASE("batch of 2, two output channels with bias") {
    const auto x = vec<T>({1, 2, 3, 4, 5, /**/ 5, 4, 3, 2, 1});
    const auto w = vec<T>({1, 2, 3, /**/ 0, 1, 0});
    const auto y = conv(x, {2, 1, 5}, w, {2, 1, 3}, vec<T>({10, -1}), params(1, 0, 0, 1, 1));
    check_all(y, vec<T>({24, 30, 36, 1, 2, 3,      // n=0: 14+10, ...; x[t+1]-1
                         32, 26, 20, 3, 2, 1}));   // n=1: 5+8+9+10, 4+6+6+10, 3+4+3+10
  }
}

TEST_CASE_TEMPLATE("conv1d reference: complex is a plain multiply-accumulate", T, c64, c128) {
  // x = [1+i, 2, i], w = [i, 1-i]: out[0] = i(1+i) + (1-i)2 = (-1+i) + (2-2i) = 1-i,
  // out[1] = 2i + (1-i)i = 2i + (1+i) = 1+3i. (Conjugating w would give 3+i at out[0].)
  using R = typename T::value_type;
  const std::vector<T> x{{1, 1}, {2, 0}, {0, 1}};
  const std::vector<T> w{{0, 1}, {1, -1}};
  const auto y = conv(x, {1, 1, 3}, w, {1, 1, 2}, {}, params(1, 0, 0, 1, 1));
  check_all(y, std::vector<T>{{R(1), R(-1)}, {R(1), R(3)}});
  // With a complex bias 1+2i.
  const auto yb = conv(x, {1, 1, 3}, w, {1, 1, 2}, std::vector<T>{{1, 2}}, params(1, 0, 0, 1, 1));
  check_all(yb, std::vector<T>{{R(2), R(1)}, {R(2), R(5)}});
}

TEST_CASE_TEMPLATE("conv1d reference: backward by hand", T, float, double) {
  // x = [1..5], w = [1, 2, 3], grad_out = [1, 0, 2] (Lout = 3, out[t] = sum_k w[k] x[t+k]).
  //   grad_x[i] = sum_{t+k=i} w[k] g[t] = [1, 2+0, 3+0+2, 0+4, 6]
  //   grad_w[k] = sum_t g[t] x[t+k]     = [1+0+6, 2+0+8, 3+0+10]
  //   grad_b    = 1 + 0 + 2
  const auto x = vec<T>({1, 2, 3, 4, 5});
  const auto w = vec<T>({1, 2, 3});
  const auto g = vec<T>({1, 0, 2});
  const auto p = params(1, 0, 0, 1, 1);
  std::vector<T> gx(5, T(99)), gw(3, T(99)), gb(1, T(99));  // overwritten, not accumulated
  ref().conv1d_backward_input(view(gx.data(), {1, 1, 5}), view(g.data(), {1, 1, 3}),
                              view(w.data(), {1, 1, 3}), p);
  check_all(gx, vec<T>({1, 2, 5, 4, 6}));
  ref().conv1d_backward_weight(view(gw.data(), {1, 1, 3}), view(gb.data(), {1}),
                               view(g.data(), {1, 1, 3}), view(x.data(), {1, 1, 5}), p);
  check_all(gw, vec<T>({7, 10, 13}));
  check_all(gb, vec<T>({3}));

  // Only what is requested is computed.
  std::fill(gw.begin(), gw.end(), T(99));
  std::fill(gb.begin(), gb.end(), T(99));
  ref().conv1d_backward_weight(none(), view(gb.data(), {1}), view(g.data(), {1, 1, 3}),
                               view(x.data(), {1, 1, 5}), p);
  check_all(gb, vec<T>({3}));
  ref().conv1d_backward_weight(view(gw.data(), {1, 1, 3}), none(), view(g.data(), {1, 1, 3}),
                               view(x.data(), {1, 1, 5}), p);
  check_all(gw, vec<T>({7, 10, 13}));
  ref().conv1d_backward_weight(none(), none(), view(g.data(), {1, 1, 3}),
                               view(x.data(), {1, 1, 5}), p);  // nothing to do
}

// ---------------------------------------------------------------------------------------------
// Random configurations.

// Every geometry reduces to the plain case (stride 1, no padding, dilation 1, one group), which
// the hand cases pin: pad x with explicit zeros, spread w's taps `dilation` apart with zeros
// between, convolve each group's channel slice on its own, keep every stride-th output.
TEST_CASE("conv1d reference: padding, dilation, groups and stride reduce to the plain case") {
  std::mt19937_64 rng(20240603);
  for (int trial = 0; trial < 300; ++trial) {
    const Config c = random_config(rng);
    const auto& p = c.p;
    CAPTURE(trial);
    const auto x = random_vec<double>(rng, c.n * c.cin * c.length);
    const auto w = random_vec<double>(rng, c.cout * (c.cin / p.groups) * c.kernel);
    const auto b = random_vec<double>(rng, c.cout);
    const auto y = conv(x, {c.n, c.cin, c.length}, w, {c.cout, c.cin / p.groups, c.kernel}, b, p);

    const std::int64_t lp = c.length + p.pad_left + p.pad_right;
    std::vector<double> xp(static_cast<std::size_t>(c.n * c.cin * lp), 0.0);
    for (std::int64_t r = 0; r < c.n * c.cin; ++r)
      for (std::int64_t i = 0; i < c.length; ++i) xp[r * lp + p.pad_left + i] = x[r * c.length + i];
    const std::int64_t kd = p.dilation * (c.kernel - 1) + 1;
    std::vector<double> wd(static_cast<std::size_t>(c.cout * (c.cin / p.groups) * kd), 0.0);
    for (std::int64_t r = 0; r < c.cout * (c.cin / p.groups); ++r)
      for (std::int64_t k = 0; k < c.kernel; ++k) wd[r * kd + k * p.dilation] = w[r * c.kernel + k];

    const std::int64_t cin_g = c.cin / p.groups, cout_g = c.cout / p.groups;
    const std::int64_t lfull = lp - kd + 1, lout = out_length(c.length, c.kernel, p);
    std::vector<double> expected(static_cast<std::size_t>(c.n * c.cout * lout));
    for (std::int64_t g = 0; g < p.groups; ++g) {
      // The group's input channels as a strided slice of the padded input.
      const View xg = view(xp.data() + g * cin_g * lp, {c.n, cin_g, lp}, {c.cin * lp, lp, 1});
      const View wg = view(wd.data() + g * cout_g * cin_g * kd, {cout_g, cin_g, kd});
      std::vector<double> yg(static_cast<std::size_t>(c.n * cout_g * lfull));
      ref().conv1d_forward(view(yg.data(), {c.n, cout_g, lfull}), xg, wg, none(), Conv1dParams{});
      for (std::int64_t n = 0; n < c.n; ++n)
        for (std::int64_t o = 0; o < cout_g; ++o)
          for (std::int64_t t = 0; t < lout; ++t)
            expected[(n * c.cout + g * cout_g + o) * lout + t] =
                b[g * cout_g + o] + yg[(n * cout_g + o) * lfull + t * p.stride];
    }
    check_all(y, expected, 1e-12);
  }
}

// <conv(x; w) + b, y> == <x, grad_x(y; w)> + <b, grad_b(y)> == <w, grad_w(y; x)> + <b, grad_b(y)>
TEST_CASE_TEMPLATE("conv1d reference: backward kernels are the adjoints of forward", T, double,
                   c128) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const Config c = random_config(rng);
    const auto& p = c.p;
    CAPTURE(trial);
    const Shape xs{c.n, c.cin, c.length}, ws{c.cout, c.cin / p.groups, c.kernel};
    const Shape ys{c.n, c.cout, out_length(c.length, c.kernel, p)};
    const auto x = random_vec<T>(rng, numel_of(xs));
    const auto w = random_vec<T>(rng, numel_of(ws));
    const auto b = random_vec<T>(rng, c.cout);
    const auto gy = random_vec<T>(rng, numel_of(ys));
    const auto y = conv(x, xs, w, ws, b, p);

    std::vector<T> gx(x.size(), T(99)), gw(w.size(), T(99)), gb(b.size(), T(99));
    ref().conv1d_backward_input(view(gx.data(), xs), view(gy.data(), ys), view(w.data(), ws), p);
    ref().conv1d_backward_weight(view(gw.data(), ws), view(gb.data(), {c.cout}),
                                 view(gy.data(), ys), view(x.data(), xs), p);
    const T lhs = dot(y, gy);
    const double tol = 1e-12 * (1.0 + abs_dot(y, gy) + abs_dot(x, gx) + abs_dot(w, gw));
    CHECK(std::abs(lhs - (dot(x, gx) + dot(b, gb))) <= tol);
    CHECK(std::abs(lhs - (dot(w, gw) + dot(b, gb))) <= tol);
    // grad_b by its own formula: the sum of grad_out over batch and positions.
    for (std::int64_t co = 0; co < c.cout; ++co) {
      T s(0);
      for (std::int64_t n = 0; n < c.n; ++n)
        for (std::int64_t t = 0; t < ys[2]; ++t) s += gy[(n * c.cout + co) * ys[2] + t];
      CHECK(std::abs(gb[co] - s) <= 1e-12 * (1.0 + std::abs(s)));
    }
  }
}

TEST_CASE("conv1d reference: strided views give the same result as contiguous ones") {
  // The input stored position-major ([N][L][C] in memory) and the output written into every
  // other element of a larger buffer.
  std::mt19937_64 rng(3);
  const std::int64_t n = 2, cin = 3, cout = 2, length = 6, kernel = 3;
  const auto p = params(1, 1, 1, 1, 1);
  const auto x = random_vec<double>(rng, n * cin * length);
  const auto w = random_vec<double>(rng, cout * cin * kernel);
  std::vector<double> xt(x.size());
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t ch = 0; ch < cin; ++ch)
      for (std::int64_t i = 0; i < length; ++i)
        xt[(a * length + i) * cin + ch] = x[(a * cin + ch) * length + i];
  const auto want = conv(x, {n, cin, length}, w, {cout, cin, kernel}, {}, p);
  std::vector<double> wide(2 * want.size(), -1.0);
  const Shape ys{n, cout, length};
  ref().conv1d_forward(view(wide.data(), ys, {2 * cout * length, 2 * length, 2}),
                       view(xt.data(), {n, cin, length}, {length * cin, 1, cin}),
                       view(w.data(), {cout, cin, kernel}), none(), p);
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(wide[2 * i] == doctest::Approx(want[i]).epsilon(1e-14));
    CHECK(wide[2 * i + 1] == -1.0);  // untouched
  }
}

TEST_CASE("conv1d reference: invalid views and parameters raise reel::Error") {
  std::vector<double> x(12, 1.0), w(12, 1.0), y(12, 0.0), b(4, 0.0);
  const auto p1 = params(1, 0, 0, 1, 1);
  auto fwd = [&](Shape xs, Shape ws, Shape ys, const Conv1dParams& p) {
    ref().conv1d_forward(view(y.data(), ys), view(x.data(), xs), view(w.data(), ws), none(), p);
  };
  CHECK_NOTHROW(fwd({1, 3, 4}, {2, 3, 2}, {1, 2, 3}, p1));
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 3, 2}, {1, 2, 3}, params(1, 0, 0, 1, 2)), Error);  // 2 ∤ 3
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 2, 2}, {1, 2, 3}, p1), Error);  // weight channels
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 3, 2}, {1, 2, 4}, p1), Error);  // wrong Lout
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 3, 2}, {1, 3, 3}, p1), Error);  // wrong Cout
  CHECK_THROWS_AS(fwd({1, 2, 2}, {1, 2, 3}, {1, 1, 1}, p1), Error);  // kernel > input
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 3, 2}, {1, 2, 3}, params(0, 0, 0, 1, 1)), Error);
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 3, 2}, {1, 2, 3}, params(1, 0, 0, 0, 1)), Error);
  CHECK_THROWS_AS(fwd({1, 3, 4}, {2, 3, 2}, {1, 2, 3}, params(1, -1, 1, 1, 1)), Error);
  CHECK_THROWS_AS(fwd({3, 4}, {2, 3, 2}, {2, 3}, p1), Error);  // rank
  std::vector<float> xf(12, 1.f);
  CHECK_THROWS_AS(ref().conv1d_forward(view(y.data(), {1, 2, 3}), view(xf.data(), {1, 3, 4}),
                                       view(w.data(), {2, 3, 2}), none(), p1),
                  Error);  // dtype mismatch
  std::vector<std::int64_t> xi(12, 1), wi(12, 1), yi(12, 0);
  CHECK_THROWS_AS(ref().conv1d_forward(view(yi.data(), {1, 2, 3}), view(xi.data(), {1, 3, 4}),
                                       view(wi.data(), {2, 3, 2}), none(), p1),
                  Error);  // int64 is not a conv dtype
  CHECK_THROWS_AS(ref().conv1d_forward(view(y.data(), {1, 2, 3}), view(x.data(), {1, 3, 4}),
                                       view(w.data(), {2, 3, 2}), view(b.data(), {3}), p1),
                  Error);  // bias of the wrong length
  CHECK_THROWS_AS(ref().conv1d_backward_input(view(x.data(), {1, 3, 4}), view(y.data(), {1, 2, 2}),
                                              view(w.data(), {2, 3, 2}), p1),
                  Error);
  CHECK_THROWS_AS(ref().conv1d_backward_weight(view(w.data(), {2, 3, 3}), none(),
                                               view(y.data(), {1, 2, 3}),
                                               view(x.data(), {1, 3, 4}), p1),
                  Error);
}

// ---------------------------------------------------------------------------------------------
// pad1d.

TEST_CASE_TEMPLATE("pad1d reference: every mode on [1, 2, 3, 4] padded (2, 1)", T, float, double,
                   c128) {
  const auto x = vec<T>({1, 2, 3, 4});
  const Shape s{1, 1, 4};
  check_all(pad(x, s, PadMode::Zeros, 2, 1), vec<T>({0, 0, 1, 2, 3, 4, 0}));
  check_all(pad(x, s, PadMode::Reflect, 2, 1), vec<T>({3, 2, 1, 2, 3, 4, 3}));
  check_all(pad(x, s, PadMode::Replicate, 2, 1), vec<T>({1, 1, 1, 2, 3, 4, 4}));
  check_all(pad(x, s, PadMode::Circular, 2, 1), vec<T>({3, 4, 1, 2, 3, 4, 1}));
  // The bounds: reflect up to L-1, circular up to L, replicate any.
  check_all(pad(x, s, PadMode::Reflect, 3, 3), vec<T>({4, 3, 2, 1, 2, 3, 4, 3, 2, 1}));
  check_all(pad(x, s, PadMode::Circular, 4, 4), vec<T>({1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4}));
  check_all(pad(x, s, PadMode::Replicate, 0, 6), vec<T>({1, 2, 3, 4, 4, 4, 4, 4, 4, 4}));
  // Rows are padded independently: [N=1, C=2, L=2].
  check_all(pad(vec<T>({1, 2, 5, 6}), {1, 2, 2}, PadMode::Reflect, 1, 1),
            vec<T>({2, 1, 2, 1, 6, 5, 6, 5}));
}

TEST_CASE_TEMPLATE("pad1d reference: backward by hand", T, float, double) {
  // grad_out = ones: each input element gets the number of output positions that read it.
  const auto ones = vec<T>({1, 1, 1, 1, 1, 1, 1});
  auto back = [&](PadMode mode) {
    std::vector<T> gx(4, T(99));
    ref().pad1d_backward(view(gx.data(), {1, 1, 4}), view(ones.data(), {1, 1, 7}), mode, 2, 1);
    return gx;
  };
  check_all(back(PadMode::Zeros), vec<T>({1, 1, 1, 1}));
  check_all(back(PadMode::Reflect), vec<T>({1, 2, 3, 1}));    // [3 2 1 2 3 4 3]
  check_all(back(PadMode::Replicate), vec<T>({3, 1, 1, 2}));  // [1 1 1 2 3 4 4]
  check_all(back(PadMode::Circular), vec<T>({2, 1, 2, 2}));   // [3 4 1 2 3 4 1]
  // Weighted: grad_out = [1..7] under reflect: x0 <- 3, x1 <- 2+4, x2 <- 1+5+7, x3 <- 6.
  std::vector<T> gx(4);
  const auto g = vec<T>({1, 2, 3, 4, 5, 6, 7});
  ref().pad1d_backward(view(gx.data(), {1, 1, 4}), view(g.data(), {1, 1, 7}), PadMode::Reflect, 2, 1);
  check_all(gx, vec<T>({3, 6, 13, 6}));
}

// <pad(x), y> == <x, pad_backward(y)> for every mode over random shapes and pads.
TEST_CASE_TEMPLATE("pad1d reference: backward is the adjoint of forward", T, double, c128) {
  std::mt19937_64 rng(11);
  for (PadMode mode : {PadMode::Zeros, PadMode::Reflect, PadMode::Replicate, PadMode::Circular}) {
    for (int trial = 0; trial < 100; ++trial) {
      const std::int64_t n = pick(rng, 1, 2), ch = pick(rng, 1, 3), length = pick(rng, 1, 9);
      const std::int64_t bound = mode == PadMode::Reflect    ? length - 1
                                 : mode == PadMode::Circular ? length
                                                             : 12;
      const std::int64_t l = pick(rng, 0, bound), r = pick(rng, 0, bound);
      CAPTURE(trial);
      const Shape xs{n, ch, length}, ys{n, ch, length + l + r};
      const auto x = random_vec<T>(rng, numel_of(xs));
      const auto gy = random_vec<T>(rng, numel_of(ys));
      const auto y = pad(x, xs, mode, l, r);
      std::vector<T> gx(x.size(), T(99));
      ref().pad1d_backward(view(gx.data(), xs), view(gy.data(), ys), mode, l, r);
      CHECK(std::abs(dot(y, gy) - dot(x, gx)) <= 1e-12 * (1.0 + abs_dot(y, gy)));
    }
  }
}

TEST_CASE("pad1d reference: out-of-bounds pads raise reel::Error instead of reading outside") {
  const auto x = vec<double>({1, 2, 3, 4});
  const Shape s{1, 1, 4};
  CHECK_THROWS_AS(pad(x, s, PadMode::Reflect, 4, 0), Error);  // reflect needs pad < L
  CHECK_THROWS_AS(pad(x, s, PadMode::Reflect, 0, 4), Error);
  CHECK_THROWS_AS(pad(x, s, PadMode::Circular, 5, 0), Error);  // wraps around more than once
  CHECK_THROWS_AS(pad(x, s, PadMode::Circular, 0, 5), Error);
  CHECK_THROWS_AS(pad(x, s, PadMode::Zeros, -1, 0), Error);
  std::vector<double> empty;
  CHECK_THROWS_AS(pad(empty, {1, 1, 0}, PadMode::Replicate, 1, 0), Error);
  CHECK_NOTHROW(pad(empty, {1, 1, 0}, PadMode::Zeros, 1, 1));
  std::vector<double> y(8);
  CHECK_THROWS_AS(ref().pad1d(view(y.data(), {1, 1, 8}), view(x.data(), s), PadMode::Zeros, 2, 1),
                  Error);  // output length != L + left + right
  CHECK_THROWS_AS(ref().pad1d_backward(view(y.data(), {1, 1, 4}), view(x.data(), {1, 1, 4}),
                                       PadMode::Reflect, 2, 1),
                  Error);
}
