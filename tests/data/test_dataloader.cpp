// data::Dataset, TensorDataset, collate and DataLoader: values, order, determinism across
// worker counts, resume from a state, errors from workers, early exits.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/data/data_support.hpp"
#include "tests/support.hpp"

using namespace reel;
using reel::data::DataLoader;
using reel::data::DataLoaderOptions;
using reel::data::DataLoaderState;
using reel::data::Example;
using reel::test::check_error;
using reel::test::indexed_dataset;

namespace {

// The sample numbers of a batch of indexed_dataset, checking both fields agree.
std::vector<std::int64_t> samples_of(const Example& batch) {
  REQUIRE(batch.size() == 2);
  std::vector<std::int64_t> x = batch[0].to_vector<std::int64_t>();
  std::vector<std::int64_t> y = batch[1].to_vector<std::int64_t>();
  REQUIRE(x.size() == 2 * y.size());
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < y.size(); ++i) {
    CHECK(x[2 * i + 1] == 1000 + x[2 * i]);
    CHECK(y[i] == -x[2 * i]);
    out.push_back(x[2 * i]);
  }
  return out;
}

std::vector<std::vector<std::int64_t>> epoch_samples(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (Example& batch : loader) out.push_back(samples_of(batch));
  return out;
}

// The bytes of every field of every batch of `epochs` epochs.
std::vector<std::vector<std::uint8_t>> epoch_bytes(DataLoader& loader, int epochs) {
  std::vector<std::vector<std::uint8_t>> out;
  for (int e = 0; e < epochs; ++e) {
    for (Example& batch : loader) {
      for (const Tensor& t : batch) {
        Tensor c = t.contiguous();
        const auto* p = static_cast<const std::uint8_t*>(c.raw_data());
        out.emplace_back(p, p + c.numel() * static_cast<std::int64_t>(c.element_size()));
      }
    }
  }
  return out;
}

// A dataset made of get() only (the default get_batch collates), optionally slow, failing at
// one index, and counting its calls.
class ProbeDataset : public data::Dataset {
 public:
  explicit ProbeDataset(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_.load(); }
  Example get(std::int64_t i) const override {
    ++gets;
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (i == fail_at) {
      if (throw_int) throw 42;
      throw std::runtime_error("probe: index " + std::to_string(i) + " is broken");
    }
    return {scalar_tensor(static_cast<double>(i), kFloat64),
            tensor(std::vector<std::int64_t>{i, i * i})};
  }
  mutable std::atomic<std::int64_t> gets{0};
  std::atomic<std::int64_t> n_;
  int delay_ms = 0;
  std::int64_t fail_at = -1;
  bool throw_int = false;
};

}  // namespace

TEST_CASE("DataLoader: bad options raise reel::Error naming the value") {
  auto ds = indexed_dataset(10);
  check_error([&] { DataLoader(ds, DataLoaderOptions().batch_size(0)); },
              {"DataLoader", "batch_size", "0"});
  check_error([&] { DataLoader(ds, DataLoaderOptions().batch_size(-3)); },
              {"DataLoader", "batch_size=-3"});
  check_error([&] { DataLoader(ds, DataLoaderOptions().num_workers(-1)); },
              {"DataLoader", "num_workers=-1"});
  check_error([&] { DataLoader(ds, DataLoaderOptions().num_workers(2).prefetch_factor(0)); },
              {"DataLoader", "prefetch_factor=0"});
  check_error([&] { DataLoader(nullptr, DataLoaderOptions()); }, {"DataLoader", "null"});
  check_error([&] { DataLoader(std::make_shared<ProbeDataset>(0), DataLoaderOptions()); },
              {"DataLoader", "empty", "size 0"});
  check_error([&] { DataLoader(ds, DataLoaderOptions().batch_size(11).drop_last(true)); },
              {"DataLoader", "drop_last", "batch_size=11", "10 samples"});
  // batch_size larger than the dataset without drop_last: one short batch.
  DataLoader big(ds, DataLoaderOptions().batch_size(11));
  CHECK(big.size() == 1);
}

TEST_CASE("DataLoader: in order without shuffle, last batch short or dropped") {
  for (int workers : {0, 2}) {
    CAPTURE(workers);
    auto ds = indexed_dataset(10);
    DataLoader loader(ds, DataLoaderOptions().batch_size(3).num_workers(workers));
    CHECK(loader.size() == 4);
    auto batches = epoch_samples(loader);
    CHECK(batches == std::vector<std::vector<std::int64_t>>{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}});
    CHECK(epoch_samples(loader) == batches);  // no shuffle: every epoch the same

    DataLoader dropping(ds, DataLoaderOptions(3).drop_last(true).num_workers(workers));
    CHECK(dropping.size() == 3);
    CHECK(epoch_samples(dropping) ==
          std::vector<std::vector<std::int64_t>>{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}});
  }
}

TEST_CASE("DataLoader: shuffle gives a new permutation each epoch, fixed by the seed") {
  auto ds = indexed_dataset(50);
  auto flat = [](const std::vector<std::vector<std::int64_t>>& batches) {
    std::vector<std::int64_t> out;
    for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  };
  DataLoader a(ds, DataLoaderOptions().batch_size(8).shuffle(true).seed(7));
  DataLoader b(ds, DataLoaderOptions().batch_size(8).shuffle(true).seed(7));
  DataLoader c(ds, DataLoaderOptions().batch_size(8).shuffle(true).seed(8));
  std::vector<std::int64_t> identity(50);
  for (std::int64_t i = 0; i < 50; ++i) identity[static_cast<std::size_t>(i)] = i;
  std::vector<std::int64_t> a0 = flat(epoch_samples(a)), a1 = flat(epoch_samples(a));
  std::vector<std::int64_t> b0 = flat(epoch_samples(b)), b1 = flat(epoch_samples(b));
  std::vector<std::int64_t> c0 = flat(epoch_samples(c));
  for (const auto* p : {&a0, &a1, &c0}) {
    std::vector<std::int64_t> sorted = *p;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == identity);  // every sample once
  }
  CHECK(a0 == b0);
  CHECK(a1 == b1);
  CHECK(a0 != a1);        // 1 in 50! to fail by chance
  CHECK(a0 != c0);
  CHECK(a0 != identity);

  // No seed: drawn from the default generator when the loader is made.
  manual_seed(123);
  DataLoader d(ds, DataLoaderOptions().batch_size(8).shuffle(true));
  manual_seed(123);
  DataLoader e(ds, DataLoaderOptions().batch_size(8).shuffle(true));
  DataLoader f(ds, DataLoaderOptions().batch_size(8).shuffle(true));  // the next draw
  std::vector<std::int64_t> d0 = flat(epoch_samples(d));
  CHECK(d0 == flat(epoch_samples(e)));
  CHECK(d0 != flat(epoch_samples(f)));
  // The loader's epochs draw from its own generator, never the default one.
  manual_seed(5);
  Tensor before = rand({4});
  manual_seed(5);
  epoch_samples(d);
  CHECK(rand({4}).to_vector<float>() == before.to_vector<float>());
}

TEST_CASE("DataLoader: batches are bitwise the same for 0, 1, 2 and 4 workers") {
  manual_seed(3);
  Tensor x = randn({203, 3, 5});
  Tensor y = randint(0, 10, {203});
  Tensor w = rand({203}, kFloat64);
  auto ds = std::make_shared<data::TensorDataset>(std::vector<Tensor>{x, y, w});
  for (bool drop_last : {false, true}) {
    CAPTURE(drop_last);
    auto run = [&](int workers) {
      DataLoader loader(ds, DataLoaderOptions()
                                .batch_size(16)
                                .shuffle(true)
                                .drop_last(drop_last)
                                .seed(99)
                                .num_workers(workers)
                                .prefetch_factor(workers == 4 ? 1 : 3));
      return epoch_bytes(loader, 3);
    };
    auto reference = run(0);
    CHECK(reference.size() == 3 * 3 * (drop_last ? 12 : 13));
    for (int workers : {1, 2, 4}) {
      CAPTURE(workers);
      CHECK(run(workers) == reference);
    }
  }
  // The default collate path (get() then stack) agrees with the values of get() too.
  auto probe = std::make_shared<ProbeDataset>(37);
  auto run_probe = [&](int workers) {
    DataLoader loader(probe, DataLoaderOptions(5).shuffle(true).seed(4).num_workers(workers));
    return epoch_bytes(loader, 2);
  };
  auto probe_reference = run_probe(0);
  CHECK(run_probe(3) == probe_reference);
}

TEST_CASE("DataLoader: state() and load_state() resume mid-epoch exactly") {
  auto ds = indexed_dataset(23);
  const auto options = [](int workers) {
    return DataLoaderOptions().batch_size(4).shuffle(true).seed(11).num_workers(workers);
  };
  // The uninterrupted run: 3 epochs.
  DataLoader full(ds, options(0));
  std::vector<std::vector<std::vector<std::int64_t>>> epochs;
  for (int e = 0; e < 3; ++e) epochs.push_back(epoch_samples(full));
  REQUIRE(epochs[0].size() == 6);

  for (int workers : {0, 2}) {
    for (std::int64_t k : {0, 1, 3, 5, 6}) {
      CAPTURE(workers);
      CAPTURE(k);
      // Stop epoch 1 after k batches and take the state.
      DataLoader first(ds, options(workers));
      epoch_samples(first);
      DataLoaderState s;
      std::int64_t seen = 0;
      if (k == 0) {
        s = first.state();
      } else {
        for (Example& batch : first) {
          CHECK(samples_of(batch) == epochs[1][static_cast<std::size_t>(seen)]);
          if (++seen == k) {
            s = first.state();
            break;
          }
        }
      }
      if (k < 6) {
        CHECK(s.epoch == 1);
        CHECK(s.batches_done == k);
      } else {
        CHECK(s.epoch == 2);  // the whole epoch was handed out: the next one is due
        CHECK(s.batches_done == 0);
      }
      // A fresh loader (other worker count) resumes from it.
      DataLoader second(ds, options(2 - workers));
      second.load_state(s);
      CHECK(second.state() == s);
      std::vector<std::vector<std::int64_t>> rest = epoch_samples(second);
      if (k < 6) {
        std::vector<std::vector<std::int64_t>> expected(epochs[1].begin() + k, epochs[1].end());
        CHECK(rest == expected);
        CHECK(epoch_samples(second) == epochs[2]);
      } else {
        CHECK(rest == epochs[2]);
      }
    }
  }
  // A state taken between epochs, and one at the end of an epoch reloaded as is.
  DataLoader a(ds, options(0));
  epoch_samples(a);
  DataLoaderState between = a.state();
  CHECK(between.epoch == 1);
  CHECK(between.batches_done == 0);
  DataLoader b(ds, options(0));
  b.load_state({0, 6, DataLoader(ds, options(0)).state().generator});
  CHECK(b.state() == between);
  CHECK(epoch_samples(b) == epochs[1]);
}

TEST_CASE("DataLoader: load_state validates the state") {
  auto ds = indexed_dataset(10);
  DataLoader loader(ds, DataLoaderOptions(3));
  check_error([&] { loader.load_state({0, 5, {}}); }, {"load_state", "batches_done", "[0, 4]", "5"});
  check_error([&] { loader.load_state({0, -1, {}}); }, {"load_state", "batches_done", "-1"});
  check_error([&] { loader.load_state({-2, 0, {}}); }, {"load_state", "epoch", "-2"});
}

TEST_CASE("DataLoader: an exception in the dataset reaches the consumer at its batch") {
  for (int workers : {0, 1, 3}) {
    for (bool std_exception : {true, false}) {
      CAPTURE(workers);
      CAPTURE(std_exception);
      auto ds = std::make_shared<ProbeDataset>(20);
      ds->fail_at = 7;  // in batch 2 (samples 6, 7, 8)
      ds->throw_int = !std_exception;
      DataLoader loader(ds, DataLoaderOptions(3).num_workers(workers));
      auto it = loader.begin();
      CHECK((*it)[0].to_vector<double>() == std::vector<double>{0, 1, 2});
      ++it;
      CHECK((*it)[0].to_vector<double>() == std::vector<double>{3, 4, 5});
      std::string message = reel::test::error_of([&] { ++it; });
      CHECK(message.find("DataLoader") != std::string::npos);
      CHECK(message.find("batch 2 of epoch 0") != std::string::npos);
      if (std_exception) CHECK(message.find("probe: index 7 is broken") != std::string::npos);
      else CHECK(message.find("not a std::exception") != std::string::npos);
      // The failed batch counts as handed out; the loop may go on.
      CHECK(loader.state().batches_done == 3);
      ++it;
      CHECK((*it)[0].to_vector<double>() == std::vector<double>{9, 10, 11});
    }
  }
  // Failing in the very first batch: begin() throws, and the loader stays usable.
  auto ds = std::make_shared<ProbeDataset>(6);
  ds->fail_at = 0;
  DataLoader loader(ds, DataLoaderOptions(2).num_workers(2));
  check_error([&] { loader.begin(); }, {"DataLoader", "batch 0 of epoch 0", "index 0"});
  ds->fail_at = -1;
  CHECK(loader.size() == 3);
  std::int64_t n = 0;
  for (Example& batch : loader) n += batch[0].size(0);
  CHECK(n == 6);
}

TEST_CASE("DataLoader: breaking out early, a new begin(), destruction mid-epoch") {
  auto ds = std::make_shared<ProbeDataset>(40);
  ds->delay_ms = 2;
  {
    DataLoader loader(ds, DataLoaderOptions(2).num_workers(4).prefetch_factor(2));
    for (Example& batch : loader) {
      (void)batch;
      break;
    }
    CHECK(loader.state().epoch == 0);
    CHECK(loader.state().batches_done == 1);
    // The next loop is the next epoch, in full.
    std::int64_t batches = 0;
    for (Example& batch : loader) {
      (void)batch;
      ++batches;
    }
    CHECK(batches == 20);
    CHECK(loader.state().epoch == 2);

    // An iterator of an abandoned epoch refuses to go on.
    auto old = loader.begin();
    auto current = loader.begin();
    check_error([&] { ++old; }, {"DataLoader::iterator", "abandoned"});
    check_error([&] { *old; }, {"DataLoader::iterator", "abandoned"});
    bool more = current != loader.end();
    CHECK(more);
    CHECK(loader.state().epoch == 3);
    // Destroyed here, mid-epoch, with workers sleeping in get(): no hang.
  }
  // Destroyed right after begin() with a slow dataset and a deep queue.
  ds->delay_ms = 5;
  auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, DataLoaderOptions(1).num_workers(3).prefetch_factor(4));
    auto it = loader.begin();
    bool more = it != loader.end();
    CHECK(more);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // A moved loader keeps working.
  ds->delay_ms = 0;
  DataLoader a(ds, DataLoaderOptions(10).num_workers(2));
  DataLoader b = std::move(a);
  std::int64_t seen = 0;
  for (Example& batch : b) seen += batch[0].size(0);
  CHECK(seen == 40);
}

TEST_CASE("DataLoader: the queue holds at most num_workers * prefetch_factor batches") {
  auto ds = std::make_shared<ProbeDataset>(100);
  DataLoader loader(ds, DataLoaderOptions(1).num_workers(2).prefetch_factor(3));
  auto it = loader.begin();  // batch 0 handed out: 6 more may be made ahead
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(ds->gets.load() <= 7);
  CHECK(ds->gets.load() >= 2);  // the workers did make batches ahead
  ++it;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(ds->gets.load() <= 8);
}

TEST_CASE("DataLoader: custom collate, dataset size changes, wait_seconds") {
  auto ds = std::make_shared<ProbeDataset>(9);
  std::atomic<int> calls{0};
  DataLoader summing(ds, DataLoaderOptions(4).num_workers(2).collate(
                             [&](const std::vector<Example>& items) {
                               ++calls;
                               double sum = 0;
                               for (const Example& e : items) sum += e[0].item<double>();
                               return Example{scalar_tensor(sum, kFloat64)};
                             }));
  std::vector<double> sums;
  for (Example& batch : summing) sums.push_back(batch[0].item<double>());
  CHECK(sums == std::vector<double>{0 + 1 + 2 + 3, 4 + 5 + 6 + 7, 8});
  CHECK(calls == 3);

  ds->n_ = 10;
  check_error([&] { summing.begin(); }, {"DataLoader", "size changed", "9", "10"});
  ds->n_ = 9;

  ds->delay_ms = 10;
  DataLoader inline_loader(ds, DataLoaderOptions(3));
  CHECK(inline_loader.wait_seconds() == 0);
  for (Example& batch : inline_loader) (void)batch;
  // With no workers the consumer waits for every get(): 9 x 10 ms at least.
  CHECK(inline_loader.wait_seconds() >= 0.085);
  inline_loader.reset_wait_seconds();
  CHECK(inline_loader.wait_seconds() == 0);
}

TEST_CASE("DataLoader: workers run ops while the consumer runs ops") {
  // Workers index_select and stack while this thread runs matmuls through the CPU backend's
  // pool: the batches stay exact.
  manual_seed(9);
  Tensor x = randn({256, 64});
  auto ds = std::make_shared<data::TensorDataset>(std::vector<Tensor>{x});
  DataLoader loader(ds, DataLoaderOptions(8).shuffle(true).seed(2).num_workers(3));
  DataLoader reference(ds, DataLoaderOptions(8).shuffle(true).seed(2));
  std::vector<Tensor> expected;
  for (Example& batch : reference) expected.push_back(batch[0]);
  std::size_t i = 0;
  Tensor w = randn({64, 64});
  for (Example& batch : loader) {
    Tensor h = matmul(batch[0], w);
    for (int r = 0; r < 3; ++r) h = matmul(h.tanh(), w);
    REQUIRE(i < expected.size());
    CHECK(batch[0].to_vector<float>() == expected[i].to_vector<float>());
    ++i;
  }
  CHECK(i == expected.size());
}

TEST_CASE("DataLoader: PaddedCollate batches variable-length samples, same for any worker count") {
  // Sample i: a sequence of length 1 + i % 4 filled with i, and the label i.
  class Sequences : public data::Dataset {
   public:
    std::int64_t size() const override { return 10; }
    Example get(std::int64_t i) const override {
      return {full({1 + i % 4}, static_cast<double>(i)), scalar_tensor(i, kInt64)};
    }
  };
  auto ds = std::make_shared<Sequences>();
  auto run = [&](int workers) {
    DataLoader loader(ds, DataLoaderOptions(3).shuffle(true).seed(5).num_workers(workers)
                              .collate(data::PaddedCollate(0)));
    std::vector<std::vector<std::int64_t>> out;
    for (Example& batch : loader) {
      REQUIRE(batch.size() == 4);  // padded, label, lengths, mask
      std::vector<std::int64_t> labels = batch[1].to_vector<std::int64_t>();
      std::vector<std::int64_t> lengths = batch[2].to_vector<std::int64_t>();
      for (std::size_t k = 0; k < labels.size(); ++k) CHECK(lengths[k] == 1 + labels[k] % 4);
      out.push_back(labels);
    }
    return out;
  };
  auto reference = run(0);
  CHECK(reference.size() == 4);
  CHECK(run(2) == reference);
}
