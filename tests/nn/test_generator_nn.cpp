// Generators in nn: F::dropout / nn::Dropout / Dropout1d with .generator(g), and the nn::init
// functions that draw, with a trailing Generator*.
#include <cmath>

#include "support.hpp"

using namespace reel;
namespace F = reel::nn::functional;

TEST_CASE("dropout with a generator: reproducible masks, the default generator untouched") {
  Tensor x = ones({1000}, kFloat64);
  Generator a(21), b(21);
  manual_seed(4);
  const GeneratorState before = get_rng_state();
  Tensor ya = F::dropout(x, F::DropoutFuncOptions().p(0.3).generator(a));
  Tensor yb = F::dropout(x, F::DropoutFuncOptions().p(0.3).generator(b));
  CHECK(equal(ya, yb));
  CHECK(get_rng_state() == before);
  CHECK(a.get_state() == GeneratorState{21, 1000});
  // The mask is that of rand from the same state: kept where u < 1 - p.
  Generator c(21);
  Tensor keep = lt(rand({1000}, c, kFloat64), 0.7);
  CHECK(equal(ya, div(keep.to(kFloat64), 0.7)));
  // The keep rate is 1 - p within 5 standard errors.
  const double kept = ne(ya, 0.0).to(kFloat64).sum().item<double>() / 1000.0;
  CHECK(std::abs(kept - 0.7) < 5 * std::sqrt(0.7 * 0.3 / 1000.0));
  // The options hold a handle: a second call continues g's stream.
  F::DropoutFuncOptions o = F::DropoutFuncOptions().p(0.5).generator(a);
  Tensor first = F::dropout(x, o), second = F::dropout(x, o);
  CHECK(!equal(first, second));
  CHECK(a.get_state().offset == 3000);

  // dropout1d: one draw per channel.
  Generator d1(2), d2(2);
  Tensor x3 = ones({4, 8, 5}, kFloat64);
  Tensor y1 = F::dropout1d(x3, F::Dropout1dFuncOptions().p(0.5).generator(d1));
  CHECK(equal(y1, F::dropout1d(x3, F::Dropout1dFuncOptions().p(0.5).generator(d2))));
  CHECK(d1.get_state().offset == 32);
  CHECK(get_rng_state() == before);
}

TEST_CASE("nn::Dropout / Dropout1d with DropoutOptions().generator(g)") {
  Generator a(8), b(8);
  nn::Dropout da(nn::DropoutOptions(0.4).generator(a));
  nn::Dropout db(nn::DropoutOptions(0.4).generator(b));
  CHECK(da->repr() == "Dropout(p=0.4, inplace=False)");
  Tensor x = randn({50, 20}, kFloat64);
  const GeneratorState before = get_rng_state();
  CHECK(equal(da(x), db(x)));
  CHECK(equal(da(x), db(x)));  // the stream continues alike
  CHECK(get_rng_state() == before);
  CHECK(a.get_state().offset == 2000);
  da->eval();
  CHECK(equal(da(x), x));
  CHECK(a.get_state().offset == 2000);  // eval draws nothing

  Generator c(9), d(9);
  nn::Dropout1d d1(nn::Dropout1dOptions(0.5).generator(c));
  nn::Dropout1d d2(nn::Dropout1dOptions(0.5).generator(d));
  Tensor x3 = randn({3, 6, 4}, kFloat64);
  CHECK(equal(d1(x3), d2(x3)));
  CHECK(c.get_state().offset == 18);
}

TEST_CASE("nn::init with a generator: same seed, same values; the default untouched") {
  auto fresh = [] { return empty({16, 8}, kFloat64); };
  using Init = std::function<void(const Tensor&, Generator*)>;
  const std::vector<std::pair<const char*, Init>> inits = {
      {"uniform_", [](const Tensor& t, Generator* g) { nn::init::uniform_(t, -1, 1, g); }},
      {"normal_", [](const Tensor& t, Generator* g) { nn::init::normal_(t, 0, 2, g); }},
      {"trunc_normal_",
       [](const Tensor& t, Generator* g) { nn::init::trunc_normal_(t, 0, 1, -1, 1, g); }},
      {"xavier_uniform_", [](const Tensor& t, Generator* g) { nn::init::xavier_uniform_(t, 1, g); }},
      {"xavier_normal_", [](const Tensor& t, Generator* g) { nn::init::xavier_normal_(t, 1, g); }},
      {"kaiming_uniform_",
       [](const Tensor& t, Generator* g) {
         nn::init::kaiming_uniform_(t, std::sqrt(5.0), nn::init::kFanIn, "leaky_relu", g);
       }},
      {"kaiming_normal_",
       [](const Tensor& t, Generator* g) {
         nn::init::kaiming_normal_(t, 0, nn::init::kFanOut, "relu", g);
       }},
      {"orthogonal_", [](const Tensor& t, Generator* g) { nn::init::orthogonal_(t, 1, g); }},
  };
  for (const auto& [name, init] : inits) {
    CAPTURE(name);
    manual_seed(99);
    const GeneratorState before = get_rng_state();
    Generator a(31), b(31);
    Tensor ta = fresh(), tb = fresh();
    init(ta, &a);
    init(tb, &b);
    CHECK(equal(ta, tb));
    CHECK(a.get_state() == b.get_state());
    CHECK(a.get_state().offset > 0);
    CHECK(get_rng_state() == before);  // the default generator didn't move
    // nullptr: the default generator, the same stream as a private one seeded alike.
    Tensor td = fresh();
    init(td, nullptr);
    CHECK(get_rng_state() != before);
    Generator same(99);
    Tensor ts = fresh();
    init(ts, &same);
    CHECK(equal(td, ts));
    // Another seed, other values.
    Generator other(32);
    Tensor to = fresh();
    init(to, &other);
    CHECK(!equal(to, ta));
  }
  // Complex uniform_/normal_ draw both parts from the generator.
  Generator c1(4), c2(4);
  Tensor z1 = empty({10}, kComplex128), z2 = empty({10}, kComplex128);
  nn::init::normal_(z1, 0, 1, &c1);
  nn::init::normal_(z2, 0, 1, &c2);
  CHECK(equal(z1, z2));
  CHECK(c1.get_state().offset == 20);  // the real and the imaginary parts, 10 counters each
}
