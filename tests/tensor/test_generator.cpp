// reel::Generator: states, handles and clones, the default generator, draws with a generator,
// randperm, and thread safety.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <thread>
#include <vector>

#include "support.hpp"

using namespace reel;

namespace {

// Pearson's chi-square statistic of observed counts against a uniform expectation.
double chi_square_uniform(const std::map<std::vector<std::int64_t>, int>& counts, int cells,
                          int draws) {
  const double expected = static_cast<double>(draws) / cells;
  double chi2 = 0;
  int seen = 0;
  for (const auto& [key, count] : counts) {
    chi2 += (count - expected) * (count - expected) / expected;
    ++seen;
  }
  chi2 += (cells - seen) * expected;  // cells never seen
  return chi2;
}

std::vector<double> sorted_values(const Tensor& t) {
  auto v = t.to_vector<double>();
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("Generator: seeds, states, handles and clones") {
  Generator g(123);
  CHECK(g.initial_seed() == 123);
  CHECK(g.get_state() == GeneratorState{123, 0});
  Generator d;
  CHECK(d.initial_seed() == kDefaultSeed);

  // Two generators with the same seed draw the same values.
  Generator a(7), b(7);
  CHECK(equal(rand({50}, a, kFloat64), rand({50}, b, kFloat64)));
  CHECK(equal(randn({3, 4}, a), randn({3, 4}, b)));
  CHECK(equal(randint(0, 100, {9}, a), randint(0, 100, {9}, b)));
  CHECK(a.get_state() == b.get_state());
  CHECK(a.get_state() == GeneratorState{7, 50 + 12 + 9});
  // Complex draws use two counters per element.
  (void)randn({5}, a, kComplex64);
  CHECK(a.get_state().offset == 71 + 10);

  // A different seed, different values.
  Generator c(8), seven(7);
  CHECK(!equal(rand({50}, c, kFloat64), rand({50}, seven, kFloat64)));

  // Copies are handles on one state; clone() is independent.
  Generator h = a;
  CHECK(h.is_same(a));
  (void)rand({4}, h);
  CHECK(a.get_state() == h.get_state());
  Generator k = a.clone();
  CHECK(!k.is_same(a));
  CHECK(k.get_state() == a.get_state());
  Tensor from_clone = rand({6}, k);
  CHECK(k.get_state() != a.get_state());
  CHECK(equal(rand({6}, a), from_clone));  // the clone replays what a draws next

  // set_state replays the exact same values; manual_seed restarts the stream.
  const GeneratorState s = g.get_state();
  Tensor first = randn({33}, g, kFloat64);
  g.set_state(s);
  CHECK(equal(randn({33}, g, kFloat64), first));
  g.manual_seed(123);
  CHECK(g.get_state() == GeneratorState{123, 0});
  CHECK(equal(randn({33}, g, kFloat64), first));

  // rand_like / randn_like with a generator.
  Generator e1(3), e2(3);
  Tensor like = zeros({2, 5}, kFloat64);
  Tensor u = rand_like(like, e1);
  CHECK(u.sizes() == Shape{2, 5});
  CHECK(u.dtype() == kFloat64);
  CHECK(equal(u, rand({2, 5}, e2, kFloat64)));
  CHECK(equal(randn_like(like, e1), randn({2, 5}, e2, kFloat64)));
}

TEST_CASE("Generator: reserve hands out consecutive counters and refuses to wrap") {
  Generator g(1);
  CHECK(g.reserve(10) == GeneratorState{1, 0});
  CHECK(g.reserve(0) == GeneratorState{1, 10});
  CHECK(g.reserve(5) == GeneratorState{1, 10});
  CHECK(g.get_state() == GeneratorState{1, 15});
  g.set_state({1, ~std::uint64_t{0} - 3});
  CHECK(g.reserve(3).offset == ~std::uint64_t{0} - 3);
  test::check_error([&] { (void)g.reserve(2); }, {"Generator", "2^64"});
  CHECK(g.get_state().offset == ~std::uint64_t{0});  // a refused reservation changes nothing
  test::check_error([&] { (void)rand({2}, g); }, {"Generator"});
}

TEST_CASE("default generator: manual_seed, get_rng_state / set_rng_state, private generators") {
  manual_seed(42);
  CHECK(get_rng_state() == GeneratorState{42, 0});
  CHECK(default_generator().initial_seed() == 42);
  // Draws without a generator are draws from the default one: the same stream as a private
  // generator seeded alike.
  Tensor a = randn({100});
  Tensor b = rand({10}, kFloat64);
  Tensor c = randint(0, 10, {20});
  Generator same(42);
  CHECK(equal(randn({100}, same), a));
  CHECK(equal(rand({10}, same, kFloat64), b));
  CHECK(equal(randint(0, 10, {20}, same), c));
  CHECK(get_rng_state() == GeneratorState{42, 130});

  // A private generator doesn't move the default's state.
  const GeneratorState before = get_rng_state();
  Generator mine(5);
  (void)randn({1000}, mine);
  (void)randperm(100, mine);
  CHECK(get_rng_state() == before);

  // get/set_rng_state replays the exact same values.
  Tensor next = randn({64}, kFloat64);
  Tensor perm = randperm(20);
  set_rng_state(before);
  CHECK(equal(randn({64}, kFloat64), next));
  CHECK(equal(randperm(20), perm));

  // default_generator() is one handle: drawing through it moves get_rng_state().
  Generator def = default_generator();
  CHECK(def.is_same(default_generator()));
  (void)rand({3}, def);
  CHECK(get_rng_state().offset == before.offset + 64 + 20 + 3);
}

TEST_CASE("randperm: a true permutation, deterministic for a state, a fixed state advance") {
  Generator g(2026);
  for (std::int64_t n : {0, 1, 2, 5, 17, 1000}) {
    CAPTURE(n);
    const GeneratorState s = g.get_state();
    Tensor p = randperm(n, g);
    CHECK(p.dtype() == kInt64);
    CHECK(p.sizes() == Shape{n});
    CHECK(g.get_state().offset == s.offset + static_cast<std::uint64_t>(n));
    auto v = p.to_vector<std::int64_t>();
    std::sort(v.begin(), v.end());
    std::vector<std::int64_t> expected(static_cast<std::size_t>(n));
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(v == expected);
    g.set_state(s);
    CHECK(equal(randperm(n, g), p));
  }
  // Large n, fast (one counter per position), and not the identity.
  Generator big(1);
  Tensor p = randperm(60000, big);
  auto v = p.to_vector<std::int64_t>();
  std::int64_t fixed_points = 0;
  for (std::size_t i = 0; i < v.size(); ++i) fixed_points += v[i] == static_cast<std::int64_t>(i);
  CHECK(fixed_points < 10);  // a random permutation has ~1 (Poisson(1))
  std::sort(v.begin(), v.end());
  for (std::size_t i = 0; i < v.size(); ++i) REQUIRE(v[i] == static_cast<std::int64_t>(i));

  // Other dtypes and devices hold the same permutation.
  Generator g1(9), g2(9);
  Tensor as_int = randperm(100, g1);
  CHECK(equal(randperm(100, g2, kFloat32), as_int.to(kFloat32)));
  Generator g3(9);
  CHECK(equal(randperm(100, g3, kInt16), as_int.to(kInt16)));

  // The default-generator overload.
  manual_seed(3);
  Tensor d = randperm(10);
  Generator g4(3);
  CHECK(equal(randperm(10, g4), d));
}

TEST_CASE("randperm: every order of a small n is about equally likely") {
  Generator g(77);
  for (int n : {3, 4}) {
    CAPTURE(n);
    const int cells = n == 3 ? 6 : 24;
    const int draws = 500 * cells;
    std::map<std::vector<std::int64_t>, int> counts;
    for (int d = 0; d < draws; ++d) counts[randperm(n, g).to_vector<std::int64_t>()]++;
    CHECK(static_cast<int>(counts.size()) == cells);
    // Chi-square with cells-1 degrees of freedom; the bound is far in the tail (p < 1e-6 for
    // 5 dof: 35.9; 23 dof: 66.0), so a uniform shuffle passes and a biased one (e.g. the
    // naive swap-with-any shuffle: its most likely order is ~1.5x as likely) fails.
    const double bound = n == 3 ? 35.9 : 66.0;
    CHECK(chi_square_uniform(counts, cells, draws) < bound);
  }
}

TEST_CASE("randperm: bad arguments") {
  test::check_error([] { (void)randperm(-1); }, {"randperm", "n must be non-negative", "-1"});
  test::check_error([] { (void)randperm(3, kBool); }, {"randperm", "dtype", "bool"});
  test::check_error([] { (void)randperm(3, kComplex64); }, {"randperm", "dtype"});
  test::check_error([] { (void)randperm(129, kInt8); }, {"randperm", "128", "129"});
  test::check_error([] { (void)randperm(257, kUInt8); }, {"randperm", "256"});
  test::check_error([] { (void)randperm((std::int64_t{1} << 24) + 2, kFloat32); },
                    {"randperm", "16777217"});
  CHECK(randperm(128, kInt8).sizes() == Shape{128});
  CHECK(randperm(256, kUInt8).to(kInt64).max().item<std::int64_t>() == 255);
  // A refused call doesn't move the generator.
  Generator g(1);
  CHECK_THROWS_AS((void)randperm(-5, g), reel::Error);
  CHECK(g.get_state() == GeneratorState{1, 0});
}

TEST_CASE("Generator: threads drawing from one generator never share a counter") {
  constexpr int kThreads = 4, kDraws = 200;
  Generator g(99);
  std::vector<std::vector<GeneratorState>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kDraws; ++i) got[t].push_back(g.reserve(static_cast<std::uint64_t>(1 + (i + t) % 7)));
    });
  }
  for (auto& th : threads) th.join();
  // The reserved intervals tile [0, total) exactly: no overlap, no gap.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kDraws; ++i) {
      spans.push_back({got[t][i].offset, got[t][i].offset + 1 + (i + t) % 7});
      CHECK(got[t][i].seed == 99);
    }
  }
  std::sort(spans.begin(), spans.end());
  std::uint64_t at = 0;
  for (const auto& [begin, end] : spans) {
    REQUIRE(begin == at);
    at = end;
  }
  CHECK(g.get_state().offset == at);

  // Whole draws: the values drawn by the threads are exactly those of one long draw from the
  // same seed, each counter used once.
  Generator shared(5);
  std::vector<Tensor> parts(kThreads * 50);
  threads.clear();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) parts[static_cast<std::size_t>(t * 50 + i)] = rand({16}, shared, kFloat64);
    });
  }
  for (auto& th : threads) th.join();
  std::vector<double> all;
  for (const auto& p : parts) {
    auto v = p.to_vector<double>();
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  Generator replay(5);
  CHECK(all == sorted_values(rand({kThreads * 50 * 16}, replay, kFloat64)));
}

// --- multinomial --------------------------------------------------------------------------------

namespace {

// Counts of each index in a sample (a 1-D int64 tensor, or a row of one).
std::vector<double> frequencies(const std::vector<std::int64_t>& draws, std::int64_t cats) {
  std::vector<double> f(static_cast<std::size_t>(cats), 0.0);
  for (auto d : draws) {
    REQUIRE(d >= 0);
    REQUIRE(d < cats);
    f[static_cast<std::size_t>(d)] += 1.0;
  }
  for (auto& x : f) x /= static_cast<double>(draws.size());
  return f;
}

// |observed - p| within 5 standard errors of a proportion from n draws.
void check_proportion(double observed, double p, std::int64_t n) {
  const double se = std::sqrt(p * (1 - p) / static_cast<double>(n));
  CHECK_MESSAGE(std::abs(observed - p) <= 5 * se + 1e-12, "observed ", observed, " expected ", p);
}

}  // namespace

TEST_CASE("multinomial with replacement: frequencies follow the weights") {
  Generator g(11);
  constexpr std::int64_t kN = 40000;
  // Weights need not sum to 1; zero weights are never drawn.
  Tensor w = tensor({1.0, 0.0, 2.0, 3.0, 4.0, 0.0});
  Tensor s = multinomial(w, kN, /*replacement=*/true, g);
  CHECK(s.dtype() == kInt64);
  CHECK(s.sizes() == Shape{kN});
  auto f = frequencies(s.to_vector<std::int64_t>(), 6);
  const std::vector<double> p = {0.1, 0.0, 0.2, 0.3, 0.4, 0.0};
  for (std::size_t i = 0; i < p.size(); ++i) check_proportion(f[i], p[i], kN);
  CHECK(f[1] == 0.0);
  CHECK(f[5] == 0.0);

  // 2-D: each row is its own distribution; float32 weights.
  Tensor rows = tensor({{0.0f, 0.0f, 5.0f}, {1.0f, 1.0f, 0.0f}, {1.0f, 3.0f, 0.0f}});
  Tensor r = multinomial(rows, 20000, true, g);
  CHECK(r.sizes() == Shape{3, 20000});
  auto all = r.to_vector<std::int64_t>();
  std::vector<std::int64_t> row0(all.begin(), all.begin() + 20000);
  std::vector<std::int64_t> row1(all.begin() + 20000, all.begin() + 40000);
  std::vector<std::int64_t> row2(all.begin() + 40000, all.end());
  CHECK(frequencies(row0, 3)[2] == 1.0);
  auto f1 = frequencies(row1, 3), f2 = frequencies(row2, 3);
  check_proportion(f1[0], 0.5, 20000);
  CHECK(f1[2] == 0.0);
  check_proportion(f2[1], 0.75, 20000);
  CHECK(f2[2] == 0.0);

  // Huge finite weights don't overflow the sums.
  Tensor huge = tensor({1e308, 1e308, 0.0});
  auto fh = frequencies(multinomial(huge, 4000, true, g).to_vector<std::int64_t>(), 3);
  check_proportion(fh[0], 0.5, 4000);
  CHECK(fh[2] == 0.0);
  // More samples than categories is fine with replacement.
  CHECK(multinomial(tensor({1.0, 1.0}), 5, true, g).sizes() == Shape{5});
}

TEST_CASE("multinomial without replacement: distinct indices, successive-draw frequencies") {
  Generator g(12);
  const std::vector<double> w = {1.0, 2.0, 3.0, 4.0};
  constexpr int kTrials = 20000;
  std::vector<double> first(4, 0.0), second(4, 0.0);
  Tensor probs = tensor(w);
  for (int t = 0; t < kTrials; ++t) {
    auto v = multinomial(probs, 4, /*replacement=*/false, g).to_vector<std::int64_t>();
    auto sorted = v;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(sorted == std::vector<std::int64_t>{0, 1, 2, 3});  // a permutation
    first[static_cast<std::size_t>(v[0])] += 1.0 / kTrials;
    second[static_cast<std::size_t>(v[1])] += 1.0 / kTrials;
  }
  // P(first = j) = p_j; P(second = j) = sum_{i != j} p_i p_j / (1 - p_i).
  for (std::size_t j = 0; j < 4; ++j) {
    const double pj = w[j] / 10.0;
    double p2 = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      if (i != j) p2 += (w[i] / 10.0) * pj / (1 - w[i] / 10.0);
    }
    CAPTURE(j);
    check_proportion(first[j], pj, kTrials);
    check_proportion(second[j], p2, kTrials);
  }

  // Zero weights are never drawn; 2-D rows each draw distinct indices.
  Tensor rows = tensor({{0.0, 1.0, 0.0, 1.0, 1.0}, {5.0, 0.0, 1.0, 0.0, 0.0}});
  for (int t = 0; t < 200; ++t) {
    auto v = multinomial(rows, 2, false, g).to_vector<std::int64_t>();
    CHECK(v[0] != v[1]);
    for (int k = 0; k < 2; ++k) CHECK((v[k] == 1 || v[k] == 3 || v[k] == 4));
    CHECK(((v[2] == 0 && v[3] == 2) || (v[2] == 2 && v[3] == 0)));
  }
  // A weight far smaller than the row's largest is still a non-zero category (drawn before
  // the zero ones).
  auto tiny = multinomial(tensor({1e300, 0.0, 1e-300}), 2, false, g).to_vector<std::int64_t>();
  CHECK(tiny == std::vector<std::int64_t>{0, 2});
}

TEST_CASE("multinomial: generators, determinism, empty batches") {
  Tensor w = tensor({{0.2, 0.3, 0.5}, {0.6, 0.3, 0.1}});
  Generator a(5), b(5);
  CHECK(equal(multinomial(w, 7, true, a), multinomial(w, 7, true, b)));
  CHECK(equal(multinomial(w, 3, false, a), multinomial(w, 3, false, b)));
  // The advance is a pure function of the arguments: rows x samples with replacement,
  // rows x categories without.
  CHECK(a.get_state() == GeneratorState{5, 2 * 7 + 2 * 3});
  (void)multinomial(w, 2, false, a);
  CHECK(a.get_state().offset == 20 + 6);

  // A private generator leaves the default alone; the plain overload draws from the default.
  manual_seed(8);
  const GeneratorState before = get_rng_state();
  Generator mine(1);
  (void)multinomial(w, 5, true, mine);
  CHECK(get_rng_state() == before);
  Tensor d = multinomial(w, 5, true);
  Generator same(8);
  CHECK(equal(multinomial(w, 5, true, same), d));
  set_rng_state(before);
  CHECK(equal(multinomial(w, 5, true), d));

  // No rows: an empty result of the right shape.
  Tensor none = multinomial(zeros({0, 3}, kFloat64), 2, false, a);
  CHECK(none.sizes() == Shape{0, 2});
}

TEST_CASE("multinomial: bad arguments raise PyTorch's messages and leave the generator alone") {
  Generator g(3);
  auto refused = [&](auto fn, std::initializer_list<std::string> parts) {
    const GeneratorState s = g.get_state();
    test::check_error(fn, parts);
    CHECK(g.get_state() == s);
  };
  refused([&] { (void)multinomial(ones({2, 2, 2}), 1, true, g); },
          {"multinomial", "prob_dist must be 1 or 2 dim"});
  refused([&] { (void)multinomial(scalar_tensor(1.0), 1, true, g); },
          {"prob_dist must be 1 or 2 dim"});
  refused([&] { (void)multinomial(tensor({1, 2}), 1, true, g); },
          {"multinomial only supports floating-point dtypes for input, got: int64"});
  refused([&] { (void)multinomial(tensor({1.0, 2.0}), 0, true, g); },
          {"cannot sample n_sample <= 0 samples"});
  refused([&] { (void)multinomial(tensor({1.0, 2.0}), 3, false, g); },
          {"cannot sample n_sample > prob_dist.size(-1) samples without replacement"});
  refused([&] { (void)multinomial(tensor({1.0, -1.0}), 1, true, g); },
          {"probability tensor contains either `inf`, `nan` or element < 0", "-1"});
  refused([&] { (void)multinomial(tensor({1.0, std::nan("")}), 1, false, g); },
          {"probability tensor contains either `inf`, `nan` or element < 0"});
  refused([&] { (void)multinomial(tensor({1.0, HUGE_VAL}), 1, true, g); },
          {"probability tensor contains either `inf`, `nan` or element < 0"});
  refused([&] { (void)multinomial(tensor({{1.0, 1.0}, {0.0, 0.0}}), 1, true, g); },
          {"invalid multinomial distribution (sum of probabilities <= 0)", "row 1"});
  refused([&] { (void)multinomial(tensor({0.0, 0.0}), 1, false, g); },
          {"invalid multinomial distribution (sum of probabilities <= 0)"});
  refused([&] { (void)multinomial(tensor({1.0, 0.0, 0.0}), 2, false, g); },
          {"not enough non-negative category to sample", "1 non-zero", "2 samples"});
  refused([&] { (void)multinomial(ones({2, 0}, kFloat64), 1, false, g); },
          {"cannot sample n_sample > prob_dist.size(-1)"});
  refused([&] { (void)multinomial(ones({1, 0}, kFloat64), 1, true, g); },
          {"sum of probabilities <= 0"});
}
