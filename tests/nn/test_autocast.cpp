// reel::autocast (tensor/ops/autocast.hpp): PyTorch's CPU autocast policy for the ops reel has.
#include <doctest/doctest.h>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;

namespace {

void check_identical(const Tensor& got, const Tensor& want) {
  REQUIRE(got.defined());
  CHECK(got.dtype() == want.dtype());
  REQUIRE(got.sizes() == want.sizes());
  CHECK(got.to(kFloat64).to_vector<double>() == want.to(kFloat64).to_vector<double>());
}

}  // namespace

TEST_CASE("autocast: the guard's state, nesting and errors") {
  CHECK_FALSE(is_autocast_enabled());
  {
    autocast outer(kBFloat16);
    CHECK(is_autocast_enabled());
    CHECK(get_autocast_dtype() == kBFloat16);
    {
      autocast inner(kFloat16, /*enabled=*/false);
      CHECK_FALSE(is_autocast_enabled());
      CHECK(get_autocast_dtype() == kFloat16);
    }
    CHECK(is_autocast_enabled());
    CHECK(get_autocast_dtype() == kBFloat16);
  }
  CHECK_FALSE(is_autocast_enabled());
  test::check_error([] { autocast bad(kFloat64); }, {"autocast", "float64"});
  test::check_error([] { autocast bad(kInt32); }, {"autocast", "int32"});
}

TEST_CASE("autocast: matmul, linear and conv1d run in the lower dtype; the float32 list in float32") {
  manual_seed(7);
  Tensor x = randn({4, 3, 10});
  nn::Conv1d conv(nn::Conv1dOptions(3, 5, 3));
  nn::Linear lin(8, 2);
  Tensor a = randn({4, 8}), b = randn({8, 6});
  {
    autocast guard(kBFloat16);
    CHECK(a.matmul(b).dtype() == kBFloat16);
    CHECK(mm(a, b).dtype() == kBFloat16);
    CHECK(lin(a).dtype() == kBFloat16);
    Tensor y = conv(x);
    CHECK(y.dtype() == kBFloat16);
    // The float32 list: reductions, softmax, losses, norms.
    CHECK(y.sum().dtype() == kFloat32);
    CHECK(y.mean().dtype() == kFloat32);
    CHECK(y.softmax(1).dtype() == kFloat32);
    CHECK(y.log_softmax(1).dtype() == kFloat32);
    CHECK(F::mse_loss(y, zeros(y.sizes())).dtype() == kFloat32);
    CHECK(F::layer_norm(y, F::LayerNormFuncOptions({8})).dtype() == kFloat32);
    // Ops on neither list keep their inputs' dtypes; mixed inputs promote as usual.
    CHECK(y.relu().dtype() == kBFloat16);
    CHECK((y + zeros(y.sizes())).dtype() == kFloat32);
    // Integer matmul is left alone.
    CHECK(ones({2, 2}, kInt64).matmul(ones({2, 2}, kInt64)).dtype() == kInt64);
  }
  {
    autocast guard(kFloat16);
    CHECK(lin(a).dtype() == kFloat16);
  }
  CHECK(conv(x).dtype() == kFloat32);  // off again
}

TEST_CASE("autocast: gradients reach float32 parameters as the explicit casts give them") {
  manual_seed(11);
  nn::Conv1d conv(nn::Conv1dOptions(3, 4, 3).padding(1));
  Tensor x = randn({2, 3, 16});
  Tensor target = randn({2, 4, 16});
  Tensor loss_auto;
  {
    autocast guard(kBFloat16);
    loss_auto = F::mse_loss(conv(x), target);
  }
  CHECK(loss_auto.dtype() == kFloat32);
  loss_auto.backward();  // outside the guard, as PyTorch recommends
  Tensor gw_auto = conv->weight.grad().clone(), gb_auto = conv->bias.grad().clone();
  CHECK(gw_auto.dtype() == kFloat32);

  // The same computation with the casts written out.
  conv->zero_grad();
  Tensor y = F::conv1d(x.to(kBFloat16), conv->weight.to(kBFloat16), conv->bias.to(kBFloat16),
                       F::Conv1dFuncOptions().padding(1));
  Tensor loss = F::mse_loss(y.to(kFloat32), target);
  check_identical(loss_auto, loss);
  loss.backward();
  check_identical(gw_auto, conv->weight.grad());
  check_identical(gb_auto, conv->bias.grad());

  // backward() inside the guard: the backward ops keep the forward's dtypes, same gradients.
  conv->zero_grad();
  {
    autocast guard(kBFloat16);
    F::mse_loss(conv(x), target).backward();
  }
  check_identical(conv->weight.grad(), gw_auto);
}
