// Training checkpoints (serialize/checkpoint.hpp): what a checkpoint holds, exact round trips of
// its scalars, validation (another model, a missing or stray key, a malformed number: each a
// reel::Error naming the key, and nothing changed), and resuming a run bitwise.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

#include "reel.hpp"
#include "support.hpp"

namespace {

using namespace reel;
namespace F = reel::nn::functional;
namespace optim = reel::optim;
using reel::test::check_error;

std::vector<unsigned char> bytes_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<unsigned char> out(static_cast<std::size_t>(c.numel()) * c.element_size());
  if (!out.empty()) std::memcpy(out.data(), c.raw_data(), out.size());
  return out;
}

// The optimizer state as name -> bytes (a restored optimizer lists a parameter's entries in
// the checkpoint's name order, not their creation order; the values are what matter).
std::map<std::string, std::vector<unsigned char>> optimizer_bytes(const optim::Optimizer& o) {
  std::map<std::string, std::vector<unsigned char>> out;
  for (const auto& [key, t] : o.state_dict().tensors) out[key] = bytes_of(t);
  return out;
}

// Every state-dict entry of two models (same names, same order) bitwise equal.
void check_same_state(nn::Module& a_model, nn::Module& b_model) {
  const auto a = a_model.state_dict(), b = b_model.state_dict();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(bytes_of(a[i].second) == bytes_of(b[i].second));
  }
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          fmt::format("reel_test_checkpoint_{}_{}", ::getpid(), name))
      .string();
}
struct RemoveFile {
  std::string path;
  ~RemoveFile() { std::filesystem::remove(path); }
};

// Batches one after the other, epoch after epoch, as a training loop takes them.
struct BatchStream {
  explicit BatchStream(data::DataLoader& l) : loader(&l) {}
  data::Example next() {
    if (!it) it.emplace(loader->begin());
    else ++*it;
    if (*it == loader->end()) it.emplace(loader->begin());  // the next epoch
    return **it;
  }
  data::DataLoader* loader;
  std::optional<data::DataLoader::iterator> it;
};

// The small model of the resume test: Conv1d + BatchNorm1d + Dropout + Linear.
nn::Sequential make_model(std::int64_t hidden = 8) {
  return nn::Sequential(nn::Conv1d(nn::Conv1dOptions(3, hidden, 3).padding(1)),
                        nn::BatchNorm1d(hidden), nn::ReLU(), nn::Dropout(0.25), nn::Flatten(),
                        nn::Linear(hidden * 16, 4));
}

// A run: model, Adam, StepLR; built the same way by every "process".
struct Run {
  explicit Run(std::uint64_t seed, std::int64_t hidden = 8) {
    manual_seed(seed);
    model = make_model(hidden);
    adam = std::make_unique<optim::Adam>(model->parameters(), optim::AdamOptions(0.01));
    sched = std::make_unique<optim::StepLR>(*adam, 2, 0.5);
  }
  serialize::TrainingState state() {
    serialize::TrainingState s;
    s.model = model.ptr().get();
    s.optimizer = adam.get();
    s.scheduler = sched.get();
    return s;
  }
  void train_step(const Tensor& x, const Tensor& y) {
    adam->zero_grad();
    F::cross_entropy(model->forward(x), y).backward();
    adam->step();
    sched->step();
  }
  nn::Sequential model{nullptr};
  std::unique_ptr<optim::Adam> adam;
  std::unique_ptr<optim::StepLR> sched;
};

Tensor batch_x(int i) {
  manual_seed(1000 + i);
  return randn({5, 3, 16});
}
Tensor batch_y(int i) {
  manual_seed(2000 + i);
  return randint(0, 4, {5});
}

// A checkpoint of a Run after two steps.
serialize::Checkpoint trained_checkpoint(Run& run) {
  for (int i = 0; i < 2; ++i) run.train_step(batch_x(i), batch_y(i));
  serialize::TrainingState s = run.state();
  s.step = 2;
  return serialize::make_checkpoint(s);
}

}  // namespace

TEST_CASE("checkpoint: contents") {
  Run run(1);
  const serialize::Checkpoint cp = trained_checkpoint(run);
  // Every model entry (BatchNorm's running statistics and counter included), the optimizer's
  // per-parameter state and options, the scheduler's state, the version and the step.
  for (const auto& [name, t] : run.model->state_dict()) {
    CAPTURE(name);
    REQUIRE(cp.tensors.contains("model." + name));
    CHECK(bytes_of(cp.tensors.at("model." + name)) == bytes_of(t));
  }
  CHECK(cp.tensors.contains("model.1.running_mean"));
  CHECK(cp.tensors.contains("model.1.num_batches_tracked"));
  CHECK(cp.tensors.contains("optimizer.state.0.exp_avg"));
  CHECK(cp.tensors.contains("optimizer.state.0.exp_avg_sq"));
  CHECK(cp.tensors.contains("optimizer.state.0.step"));
  CHECK(cp.metadata.at("reel.checkpoint") == "1");
  CHECK(cp.metadata.at("step") == "2");
  CHECK(cp.metadata.at("optimizer") == "Adam");
  CHECK(cp.metadata.at("optimizer.param_groups.0.lr") == "0.005");  // after StepLR's first decay
  CHECK(cp.metadata.at("optimizer.param_groups.0.betas.1") == "0.999");
  CHECK(cp.metadata.at("optimizer.param_groups.0.eps") == "1e-08");
  CHECK(cp.metadata.at("scheduler.last_epoch") == "2");
  CHECK(cp.metadata.at("scheduler.base_lrs.0") == "0.01");
  // A snapshot: training on does not change it.
  const auto before = bytes_of(cp.tensors.at("model.0.weight"));
  run.train_step(batch_x(5), batch_y(5));
  CHECK(bytes_of(cp.tensors.at("model.0.weight")) == before);
}

TEST_CASE("checkpoint: step and scalars round-trip exactly") {
  Run run(2);
  serialize::TrainingState s = run.state();
  s.step = std::numeric_limits<std::int64_t>::max();
  const double denormal = std::numeric_limits<double>::denorm_min();
  s.scalars = {{"third", 1.0 / 3.0},
               {"tenth", 0.1},
               {"big", 1.7976931348623157e308},
               {"denormal", denormal},
               {"negative zero", -0.0},
               {"inf", -std::numeric_limits<double>::infinity()},
               {"nan", std::numeric_limits<double>::quiet_NaN()},
               {"pi", 3.141592653589793}};
  const serialize::Checkpoint cp = serialize::make_checkpoint(s);
  Run fresh(3);
  serialize::TrainingState t = fresh.state();
  serialize::restore_checkpoint(cp, t);
  CHECK(t.step == std::numeric_limits<std::int64_t>::max());
  REQUIRE(t.scalars.size() == s.scalars.size());
  for (const auto& [name, v] : s.scalars) {
    CAPTURE(name);
    const double got = t.scalars.at(name);
    if (std::isnan(v)) {
      CHECK(std::isnan(got));
    } else {
      std::uint64_t a, b;
      std::memcpy(&a, &v, 8);
      std::memcpy(&b, &got, 8);
      CHECK(a == b);  // bit for bit (-0.0 included)
    }
  }
  CHECK(cp.metadata.at("scalars.tenth") == "0.1");
  CHECK(cp.metadata.at("scalars.denormal") == "5e-324");
}

TEST_CASE("checkpoint: restoring puts back the model, optimizer and scheduler state") {
  Run run(4);
  const serialize::Checkpoint cp = trained_checkpoint(run);
  Run fresh(5);  // other initial values
  serialize::TrainingState t = fresh.state();
  serialize::restore_checkpoint(cp, t);
  CHECK(t.step == 2);
  check_same_state(*run.model, *fresh.model);
  CHECK(optimizer_bytes(*run.adam) == optimizer_bytes(*fresh.adam));
  CHECK(run.adam->state_dict().tensors.size() == 18);  // 6 parameters x 3 entries
  CHECK(run.adam->state_dict().scalars == fresh.adam->state_dict().scalars);
  CHECK(run.sched->state_dict() == fresh.sched->state_dict());
  CHECK(fresh.sched->get_last_lr() == run.sched->get_last_lr());
}

TEST_CASE("checkpoint: a run resumes bitwise from a file (fixed batches)") {
  // K steps, checkpoint file, M more steps; a fresh run (other seed, new objects) loads the
  // file and runs the same M steps. Dropout draws from the default generator, whose
  // state the checkpoint carries. The batches come from a generator of their own.
  const int K = 3, M = 3;
  Generator data_gen(99);
  std::vector<Tensor> xs, ys;
  for (int i = 0; i < K + M; ++i) {
    xs.push_back(randn({5, 3, 16}, data_gen));
    ys.push_back(randint(0, 4, {5}, data_gen));
  }
  Run first(6);
  for (int i = 0; i < K; ++i) first.train_step(xs[i], ys[i]);
  serialize::TrainingState s = first.state();
  s.step = K;
  const std::string path = temp_path("resume.safetensors");
  const RemoveFile remove{path};
  serialize::save_checkpoint(path, s);
  const GeneratorState rng_at_checkpoint = get_rng_state();
  for (int i = K; i < K + M; ++i) first.train_step(xs[i], ys[i]);
  const GeneratorState rng_after_first = get_rng_state();

  Run second(8);
  serialize::TrainingState t = second.state();
  serialize::load_checkpoint(path, t);
  REQUIRE(t.step == K);
  CHECK(get_rng_state() == rng_at_checkpoint);
  for (int i = K; i < K + M; ++i) second.train_step(xs[i], ys[i]);

  check_same_state(*first.model, *second.model);
  CHECK(optimizer_bytes(*first.adam) == optimizer_bytes(*second.adam));
  CHECK(first.adam->state_dict().scalars == second.adam->state_dict().scalars);
  CHECK(first.sched->state_dict() == second.sched->state_dict());
  // The default generator is where the first run left it: the next dropout masks agree too.
  CHECK(get_rng_state() == rng_after_first);
  CHECK(rng_after_first.offset > rng_at_checkpoint.offset);  // dropout did draw
}

TEST_CASE("checkpoint: generators") {
  Generator noise(5), other(7);
  (void)randn({10}, noise);
  (void)randn({3}, other);
  manual_seed(11);
  (void)rand({4});
  serialize::TrainingState s;
  s.generators = {{"noise", noise}, {"other", other}};
  const serialize::Checkpoint cp = serialize::make_checkpoint(s);
  CHECK(cp.metadata.at("rng.seed") == "11");
  CHECK(cp.metadata.at("rng.offset") == std::to_string(get_rng_state().offset));
  CHECK(cp.metadata.at("generators.noise.seed") == "5");
  CHECK(cp.metadata.at("generators.noise.offset") == std::to_string(noise.get_state().offset));
  const Tensor expected_noise = randn({6}, noise);
  const Tensor expected_default = rand({6});

  Generator noise2(1), other2(2);
  manual_seed(12);
  serialize::TrainingState t;
  t.generators = {{"noise", noise2}, {"other", other2}};
  serialize::restore_checkpoint(cp, t);
  CHECK(noise2.get_state() == GeneratorState{5, 10});
  CHECK(other2.get_state() == other.get_state());
  CHECK(bytes_of(randn({6}, noise2)) == bytes_of(expected_noise));
  CHECK(bytes_of(rand({6})) == bytes_of(expected_default));

  // A generator the checkpoint lacks, one it has in excess, a malformed seed.
  serialize::TrainingState u;
  u.generators = {{"noise", noise2}, {"third", Generator(3)}};
  check_error([&] { serialize::restore_checkpoint(cp, u); },
              {"missing metadata key 'generators.third.seed'"});
  u.generators = {{"noise", noise2}};
  const GeneratorState before = noise2.get_state();
  check_error([&] { serialize::restore_checkpoint(cp, u); },
              {"unexpected metadata key 'generators.other."});
  CHECK(noise2.get_state() == before);
  serialize::Checkpoint bad = cp;
  bad.metadata["rng.offset"] = "-1";
  check_error([&] { serialize::restore_checkpoint(bad, t); },
              {"'rng.offset' = '-1' is not an unsigned integer"});
  bad = cp;
  bad.metadata["generators.noise.seed"] = "18446744073709551616";  // 2^64
  check_error([&] { serialize::restore_checkpoint(bad, t); }, {"'generators.noise.seed'"});
  bad = cp;
  bad.metadata["generators.noise.seed"] = "18446744073709551615";  // 2^64 - 1: fine
  serialize::restore_checkpoint(bad, t);
  CHECK(noise2.get_state().seed == 18446744073709551615ull);
  // Without the default generator on either side.
  serialize::TrainingState v;
  v.default_generator = false;
  check_error([&] { serialize::restore_checkpoint(cp, v); },
              {"the checkpoint has a default generator state", "'rng.seed'"});
}

TEST_CASE("checkpoint: validation names the key and changes nothing") {
  Run run(9);
  const serialize::Checkpoint good = trained_checkpoint(run);

  // Each failing restore must leave the target exactly as it was.
  auto check_rejected = [&](const serialize::Checkpoint& cp, Run& target,
                            std::initializer_list<std::string> parts) {
    const auto before = target.model->state_dict();
    std::vector<std::vector<unsigned char>> saved;
    for (const auto& [n, t] : before) saved.push_back(bytes_of(t));
    const auto sched_before = target.sched->state_dict();
    const auto lr_before = target.adam->param_groups()[0].options().get("lr");
    serialize::TrainingState t = target.state();
    t.step = 123;
    check_error([&] { serialize::restore_checkpoint(cp, t, "'run.ckpt'"); }, parts);
    CHECK(t.step == 123);
    const auto after = target.model->state_dict();
    for (std::size_t i = 0; i < after.size(); ++i) CHECK(bytes_of(after[i].second) == saved[i]);
    CHECK(target.sched->state_dict() == sched_before);
    CHECK(target.adam->param_groups()[0].options().get("lr") == lr_before);
    CHECK(target.adam->state_dict().tensors.empty());  // still no state
  };

  SUBCASE("another model: a shape differs") {
    Run other(10, /*hidden=*/6);
    check_rejected(good, other, {"load_checkpoint", "'run.ckpt'", "model.0.weight", "shape"});
  }
  SUBCASE("a missing model tensor") {
    serialize::Checkpoint cp = good;
    cp.tensors.erase("model.1.running_var");
    Run fresh(11);
    check_rejected(cp, fresh, {"'run.ckpt'", "missing tensor 'model.1.running_var'"});
  }
  SUBCASE("a tensor of another dtype") {
    serialize::Checkpoint cp = good;
    cp.tensors["model.5.bias"] = cp.tensors["model.5.bias"].to(kFloat64);
    Run fresh(11);
    check_rejected(cp, fresh, {"'model.5.bias'", "float64"});
  }
  SUBCASE("a stray tensor or metadata key") {
    serialize::Checkpoint cp = good;
    cp.tensors["model.9.weight"] = zeros({2});
    Run fresh(12);
    check_rejected(cp, fresh, {"unexpected tensor 'model.9.weight'"});
    cp = good;
    cp.tensors["extra"] = zeros({2});
    check_rejected(cp, fresh, {"unexpected tensor 'extra'"});
    cp = good;
    cp.metadata["scheduler.gamma2"] = "1";
    check_rejected(cp, fresh, {"unexpected metadata key 'scheduler.gamma2'"});
    cp = good;
    cp.metadata["lr"] = "1";
    check_rejected(cp, fresh, {"unexpected metadata key 'lr'"});
  }
  SUBCASE("a malformed number") {
    Run fresh(13);
    for (const char* bad : {"0.1x", "", " 0.1", "0x1p3", "+1", "one"}) {
      CAPTURE(bad);
      serialize::Checkpoint cp = good;
      cp.metadata["optimizer.param_groups.0.lr"] = bad;
      check_rejected(cp, fresh, {"'optimizer.param_groups.0.lr'", "not a number"});
    }
    serialize::Checkpoint cp = good;
    cp.metadata["step"] = "2.5";
    check_rejected(cp, fresh, {"'step'", "not an integer"});
    cp = good;
    cp.metadata["step"] = "99999999999999999999";
    check_rejected(cp, fresh, {"'step'", "not an integer"});
    cp = good;
    cp.metadata["scheduler.last_epoch"] = "1.5";  // a number, but the scheduler wants an integer
    check_rejected(cp, fresh, {"'run.ckpt'", "scheduler", "last_epoch"});
  }
  SUBCASE("a missing scheduler or optimizer entry") {
    Run fresh(14);
    serialize::Checkpoint cp = good;
    cp.metadata.erase("scheduler.base_lrs.0");
    check_rejected(cp, fresh, {"missing metadata key 'scheduler.base_lrs.0'"});
    cp = good;
    cp.tensors.erase("optimizer.state.1.exp_avg_sq");
    check_rejected(cp, fresh, {"'run.ckpt'", "missing tensor 'optimizer.state.1.exp_avg_sq'"});
    cp = good;
    cp.metadata.erase("step");
    check_rejected(cp, fresh, {"missing metadata key 'step'"});
  }
  SUBCASE("parts and kinds that differ") {
    Run fresh(15);
    serialize::Checkpoint cp = good;
    cp.metadata["reel.checkpoint"] = "2";
    check_rejected(cp, fresh, {"'reel.checkpoint'", "format 1"});
    cp = good;
    cp.metadata["optimizer"] = "SGD";
    check_rejected(cp, fresh, {"'optimizer' = 'SGD'", "Adam"});
    serialize::TrainingState s = run.state();
    s.scheduler = nullptr;
    cp = serialize::make_checkpoint(s);
    check_rejected(cp, fresh, {"the checkpoint has no scheduler", "has one"});
  }
  SUBCASE("a state without a part the checkpoint has") {
    Run fresh(16);
    serialize::TrainingState t = fresh.state();
    t.optimizer = nullptr;
    t.scheduler = nullptr;
    check_error([&] { serialize::restore_checkpoint(good, t); }, {"the checkpoint has an optimizer", "has none"});
  }
}

TEST_CASE("checkpoint: a run resumes bitwise from a file (shuffled DataLoader, 2 workers)") {
  // 40 samples in batches of 5: 8 batches per epoch. K = 11 steps (inside epoch 1), then the
  // checkpoint, then M = 7 more. A fresh "process" (new objects, another seed) loads the file
  // and runs the same M steps: parameters, BatchNorm statistics, optimizer and scheduler state,
  // the generators and the next batch must all be bitwise equal.
  const int K = 11, M = 7;
  Generator data_gen(99);
  const Tensor X = randn({40, 3, 16}, data_gen);
  const Tensor Y = randint(0, 4, {40}, data_gen);
  auto ds = std::make_shared<data::TensorDataset>(std::vector<Tensor>{X, Y});
  const auto options = [] {
    return data::DataLoaderOptions().batch_size(5).shuffle(true).num_workers(2);
  };
  const std::string path = temp_path("resume_loader.safetensors");
  const RemoveFile remove{path};

  Run first(6);
  data::DataLoader loader1(ds, options());  // its seed comes from the default generator
  BatchStream stream1(loader1);
  for (int step = 1; step <= K; ++step) {
    const data::Example b = stream1.next();
    first.train_step(b[0], b[1]);
  }
  serialize::TrainingState s = first.state();
  s.loader = &loader1;
  s.step = K;
  s.scalars["best_loss"] = 0.25;
  serialize::save_checkpoint(path, s);
  for (int step = K + 1; step <= K + M; ++step) {
    const data::Example b = stream1.next();
    first.train_step(b[0], b[1]);
  }
  const GeneratorState rng1 = get_rng_state();
  const data::Example next1 = stream1.next();

  Run second(8);
  data::DataLoader loader2(ds, options());
  serialize::TrainingState t = second.state();
  t.loader = &loader2;
  serialize::load_checkpoint(path, t);
  CHECK(t.step == K);
  CHECK(t.scalars.at("best_loss") == 0.25);
  BatchStream stream2(loader2);
  for (int step = K + 1; step <= K + M; ++step) {
    const data::Example b = stream2.next();
    second.train_step(b[0], b[1]);
  }
  CHECK(get_rng_state() == rng1);
  const data::Example next2 = stream2.next();

  check_same_state(*first.model, *second.model);
  CHECK(optimizer_bytes(*first.adam) == optimizer_bytes(*second.adam));
  CHECK(first.adam->state_dict().scalars == second.adam->state_dict().scalars);
  CHECK(first.sched->state_dict() == second.sched->state_dict());
  CHECK(loader1.state() == loader2.state());
  REQUIRE(next1.size() == next2.size());
  for (std::size_t i = 0; i < next1.size(); ++i) CHECK(bytes_of(next1[i]) == bytes_of(next2[i]));

  // A loader position this loader can't have, and a loader the checkpoint lacks.
  serialize::Checkpoint bad = serialize::make_checkpoint(t);
  bad.metadata["loader.batches_done"] = "9";
  check_error([&] { serialize::restore_checkpoint(bad, t); },
              {"'loader.batches_done' = 9", "8 batches per epoch"});
  CHECK(loader2.state() == loader1.state());
  serialize::TrainingState no_loader = second.state();
  check_error([&] { serialize::load_checkpoint(path, no_loader); },
              {"the checkpoint has a loader", "'loader.epoch'"});
}

TEST_CASE("checkpoint: files: errors name the file; mutated files never crash") {
  Run run(21);
  serialize::TrainingState s = run.state();
  s.step = 4;
  const std::string path = temp_path("fuzz.safetensors");
  const RemoveFile remove{path};
  serialize::save_checkpoint(path, s);
  check_error([&] { serialize::load_checkpoint(path + ".absent", s); }, {".absent"});
  Run other(22, /*hidden=*/6);
  serialize::TrainingState o = other.state();
  check_error([&] { serialize::load_checkpoint(path, o); }, {path, "model.0.weight", "shape"});

  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(bytes.size() > 100);
  std::mt19937_64 rng(7);
  int ok = 0, errors = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::string m = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % m.size();
      switch (rng() % 3) {
        case 0: m[at] = static_cast<char>(rng()); break;                      // a byte
        case 1: m.resize(at); break;                                          // truncation
        default: m[at] = "0123456789.-e\"{}:,"[rng() % 18]; break;            // a JSON-ish byte
      }
      if (m.empty()) break;
    }
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(m.data(), static_cast<std::streamsize>(m.size()));
    }
    Run target(23);
    serialize::TrainingState t = target.state();
    try {
      serialize::load_checkpoint(path, t);
      ++ok;
    } catch (const Error&) {
      ++errors;
    }
  }
  CHECK(ok + errors == 200);
  CHECK(errors > 0);
}
