// The datasets (data/datasets/): the IDX reader and Fashion-MNIST, the TCN synthetic tasks, the
// character corpus. Expected values come from the file formats, the dataset's published facts
// and the TCN repository's layout, never from the code under test.
#include <doctest/doctest.h>
#include <zlib.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "reel.hpp"
#include "tests/support.hpp"

namespace fs = std::filesystem;
using namespace reel;
using reel::test::check_error;

namespace {

using Bytes = std::vector<std::byte>;

// A fresh folder under the system's temp dir, removed (with its files) at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           fmt::format("reel_test_datasets_{}_{}", static_cast<long>(::getpid()), counter++);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  REQUIRE(out.is_open());
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  REQUIRE(out.is_open());
  out << text;
}

// An IDX file's bytes, written from the format's definition: 0x00 0x00 0x08 ndims, the dims as
// big-endian uint32, the data.
Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data,
                std::uint8_t type = 0x08) {
  Bytes b = {std::byte{0}, std::byte{0}, std::byte{type}, std::byte(dims.size())};
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(std::byte((d >> shift) & 0xff));
  }
  for (std::uint8_t v : data) b.push_back(std::byte{v});
  return b;
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 37 + 11);
  return v;
}

// One gzip member of `raw` (zlib's deflate with a gzip wrapper: windowBits 16 + 15).
Bytes gzip_bytes(const Bytes& raw) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, raw.size()) + 64);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A .gz file written by zlib's gzip file API (what `gzip` makes, give or take the header).
void write_gz_file(const std::string& path, const Bytes& raw) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, raw.data(), static_cast<unsigned>(raw.size())) == static_cast<int>(raw.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<std::uint8_t> bytes_of(const Tensor& t) {
  REQUIRE(t.dtype() == kUInt8);
  REQUIRE(t.is_contiguous());
  const auto* p = t.data_ptr<std::uint8_t>();
  return std::vector<std::uint8_t>(p, p + t.numel());
}

// Sets an environment variable for a scope, restoring the old value.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const char* n, const std::string& value) : name(n) {
    if (const char* v = std::getenv(n)) old = v;
    ::setenv(n, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// IDX

TEST_CASE("read_idx: raw and gzipped IDX files give the header's dims and bytes") {
  TempDir dir;
  const auto data = pattern(3 * 4 * 5);
  const Bytes raw = idx_bytes({3, 4, 5}, data);
  write_file(dir.file("a-idx3-ubyte"), raw);
  write_gz_file(dir.file("a-idx3-ubyte.gz"), raw);
  write_gz_file(dir.file("gz-with-another-name.idx"), raw);  // gzip is told by its magic
  for (const char* name : {"a-idx3-ubyte", "a-idx3-ubyte.gz", "gz-with-another-name.idx"}) {
    CAPTURE(name);
    const Tensor t = data::read_idx(dir.file(name));
    CHECK(t.dtype() == kUInt8);
    CHECK(t.device() == Device(kCPU));
    CHECK(t.sizes() == Shape{3, 4, 5});
    CHECK(bytes_of(t) == data);
  }
  // From memory, and 1-D and 4-D (the extremes the format allows).
  CHECK(bytes_of(data::read_idx_bytes(gzip_bytes(raw))) == data);
  const Tensor one = data::read_idx_bytes(idx_bytes({7}, pattern(7)));
  CHECK(one.sizes() == Shape{7});
  CHECK(bytes_of(one) == pattern(7));
  const Tensor four = data::read_idx_bytes(gzip_bytes(idx_bytes({2, 1, 3, 2}, pattern(12))));
  CHECK(four.sizes() == Shape{2, 1, 3, 2});
  CHECK(bytes_of(four) == pattern(12));
  // A gzip file of several members (cat a.gz b.gz) is one stream, as gzip -d reads it.
  const Bytes head(raw.begin(), raw.begin() + 9), tail(raw.begin() + 9, raw.end());
  CHECK(bytes_of(data::read_idx_bytes(concat(gzip_bytes(head), gzip_bytes(tail)))) == data);
  CHECK(bytes_of(data::read_idx_bytes(concat(gzip_bytes(raw), gzip_bytes({})))) == data);
}

TEST_CASE("read_idx: malformed files raise reel::Error naming the file, the field and the values") {
  TempDir dir;
  const Bytes raw = idx_bytes({3, 4, 5}, pattern(60));
  check_error([&] { data::read_idx(dir.file("missing.gz")); },
              {"read_idx", "cannot open", "missing.gz"});
  check_error([&] { data::read_idx(dir.path.string()); }, {"read_idx", "is a directory"});
  write_file(dir.file("empty"), {});
  check_error([&] { data::read_idx(dir.file("empty")); }, {"read_idx", "too short", "0 bytes"});
  write_file(dir.file("bad.idx"), idx_bytes({3, 4, 5}, pattern(59)));
  check_error([&] { data::read_idx(dir.file("bad.idx")); },
              {"read_idx", "bad.idx", "truncated", "[3, 4, 5]", "need 60 bytes", "has 59"});

  auto raw_and_gz = [](const Bytes& b, std::initializer_list<std::string> parts) {
    check_error([&] { data::read_idx_bytes(b, "file 'x'"); }, parts);
    check_error([&] { data::read_idx_bytes(gzip_bytes(b), "file 'x'"); }, parts);
  };
  // The magic: 0x0000, type 0x08, 1..4 dims.
  Bytes b = raw;
  b[1] = std::byte{0x01};
  raw_and_gz(b, {"file 'x'", "bad magic", "0x0001"});
  raw_and_gz(idx_bytes({3, 4, 5}, pattern(240), 0x0D), {"file 'x'", "0x0d", "float32", "uint8"});
  raw_and_gz(idx_bytes({}, {}), {"file 'x'", "number of dims", "is 0"});
  raw_and_gz(idx_bytes({1, 1, 1, 1, 1}, {1}), {"file 'x'", "number of dims", "is 5"});
  raw_and_gz(Bytes(raw.begin(), raw.begin() + 3), {"file 'x'", "too short", "3 bytes"});
  // The dims: positive, their product checked, all present.
  raw_and_gz(idx_bytes({3, 0, 5}, {}), {"file 'x'", "dim 1 has size 0"});
  raw_and_gz(idx_bytes({0xffffffffu, 0xffffffffu}, {}),
             {"file 'x'", "[4294967295, 4294967295]", "2^63"});
  raw_and_gz(Bytes(raw.begin(), raw.begin() + 10), {"file 'x'", "truncated header", "3 dims",
                                                    "12 bytes", "has 6"});
  // The data: exactly the dims' product.
  raw_and_gz(idx_bytes({3, 4, 5}, pattern(59)), {"file 'x'", "truncated", "need 60", "has 59"});
  raw_and_gz(idx_bytes({3, 4, 5}, pattern(62)), {"file 'x'", "extra bytes", "need 60", "2"});
  // A lying header on a small gzip file: a clean error, and no huge buffer.
  check_error([&] { data::read_idx_bytes(gzip_bytes(idx_bytes({60000, 60000, 2000}, pattern(9)))); },
              {"truncated", "[60000, 60000, 2000]", "has 9"});

  // The gzip stream: cut short, corrupt, checksum, garbage after it.
  const Bytes gz = gzip_bytes(raw);
  check_error([&] { data::read_idx_bytes(Bytes(gz.begin(), gz.end() - 6), "file 'x'"); },
              {"file 'x'", "gzip stream is truncated"});
  check_error([&] { data::read_idx_bytes(Bytes(gz.begin(), gz.begin() + 12)); },
              {"gzip stream is truncated"});
  Bytes crc = gz;
  crc[crc.size() - 8] ^= std::byte{0x01};  // the CRC-32 of the trailer
  check_error([&] { data::read_idx_bytes(crc, "file 'x'"); },
              {"file 'x'", "corrupt gzip stream", "incorrect data check"});
  Bytes length = gz;
  length[length.size() - 1] ^= std::byte{0x40};  // ISIZE, the length of the trailer
  check_error([&] { data::read_idx_bytes(length); }, {"corrupt gzip stream", "length check"});
  Bytes method = gz;
  method[2] = std::byte{0x07};  // compression method: only 8 (deflate) exists
  check_error([&] { data::read_idx_bytes(method); }, {"corrupt gzip stream", "compression method"});
  const Bytes garbage = concat(gz, {std::byte{0}, std::byte{0}, std::byte{0}});
  check_error([&] { data::read_idx_bytes(garbage, "file 'x'"); },
              {"file 'x'", "3 bytes of trailing garbage"});
  write_file(dir.file("bad.gz"), Bytes(gz.begin(), gz.end() - 1));
  check_error([&] { data::read_idx(dir.file("bad.gz")); }, {"bad.gz", "truncated"});
}

TEST_CASE("read_idx: fuzz: a mutated file gives a reel::Error or a valid tensor, never a crash") {
  // Random byte flips, truncations, appended bytes and header lies, on the raw bytes, on the
  // gzipped bytes, and on raw bytes gzipped after mutation (a lie inside a valid stream).
  const Bytes raw = idx_bytes({2, 3, 5}, pattern(30));
  const Bytes gz = gzip_bytes(raw);
  TempDir dir;
  std::mt19937_64 rng(20261130);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  int valid = 0, errors = 0;
  for (int iter = 0; iter < 600; ++iter) {
    const int source = iter % 3;  // 0 raw, 1 gz, 2 gzip(mutated raw)
    Bytes b = source == 1 ? gz : raw;
    switch (pick(5)) {
      case 0:  // flip 1..4 random bytes
        for (std::size_t k = 1 + pick(4); k > 0; --k) b[pick(b.size())] ^= std::byte(1 + pick(255));
        break;
      case 1:  // truncate
        b.resize(pick(b.size()));
        break;
      case 2:  // append 1..8 random bytes
        for (std::size_t k = 1 + pick(8); k > 0; --k) b.push_back(std::byte(pick(256)));
        break;
      case 3:  // a header lie: a random byte of the magic or the dims (raw only: inside gz it
               // is a flip of the compressed bytes, also fine)
        b[pick(std::min<std::size_t>(16, b.size()))] = std::byte(pick(256));
        break;
      default: {  // a dim set to a small or a huge value
        if (b.size() >= 16 && source != 1) {
          const std::size_t at = 4 + 4 * pick(3);
          const std::uint32_t v = pick(2) ? static_cast<std::uint32_t>(pick(40))
                                          : static_cast<std::uint32_t>(rng());
          for (int i = 0; i < 4; ++i) b[at + i] = std::byte((v >> (24 - 8 * i)) & 0xff);
        } else if (!b.empty()) {
          b[pick(b.size())] = std::byte(pick(256));
        }
      }
    }
    if (source == 2) b = gzip_bytes(b);
    CAPTURE(iter);
    try {
      Tensor t;
      if (iter % 20 == 0) {  // some through files too
        write_file(dir.file("fuzz"), b);
        t = data::read_idx(dir.file("fuzz"));
      } else {
        t = data::read_idx_bytes(b, "fuzz");
      }
      // A valid result: uint8, 1..4 positive dims, the elements all there.
      REQUIRE(t.dtype() == kUInt8);
      REQUIRE(t.dim() >= 1);
      REQUIRE(t.dim() <= 4);
      std::int64_t n = 1;
      for (auto s : t.sizes()) {
        REQUIRE(s > 0);
        n *= s;
      }
      REQUIRE(t.numel() == n);
      REQUIRE(t.to_vector<std::int64_t>().size() == static_cast<std::size_t>(n));
      ++valid;
    } catch (const reel::Error&) {
      ++errors;
    }
  }
  MESSAGE("read_idx fuzz: ", valid, " valid results, ", errors, " errors");
  CHECK(errors > 300);  // the mutations mostly break the file: the test exercises the checks
  CHECK(valid > 10);    // and some keep it valid (a flipped data byte): both paths are taken
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

TEST_CASE("fashion_mnist_default_dir: Debian's folder, or $REEL_FASHION_MNIST_DIR") {
  {
    ScopedEnv env("REEL_FASHION_MNIST_DIR", "/somewhere/else");
    CHECK(data::fashion_mnist_default_dir() == "/somewhere/else");
  }
  {
    ScopedEnv env("REEL_FASHION_MNIST_DIR", "");
    CHECK(data::fashion_mnist_default_dir() == "/usr/share/datasets/fashion-mnist");
  }
  CHECK(data::kFashionMnistClasses[0] == std::string("T-shirt/top"));
  CHECK(data::kFashionMnistClasses[9] == std::string("Ankle boot"));
}

TEST_CASE("load_fashion_mnist: Debian's files: sizes, first labels, class counts, pixel moments") {
  const std::string dir = data::fashion_mnist_default_dir();
  INFO("the Fashion-MNIST files come from Debian's dataset-fashion-mnist: run scripts/setup");
  // Timed in process CPU time (a loaded CI machine stretches wall time, not CPU time).
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  const data::ImageSet train = data::load_fashion_mnist(dir, true);
  const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("load_fashion_mnist(train): ", cpu, " s of CPU time, ", wall, " s wall");
  CHECK(cpu < 5.0);  // about 0.3 s in a Release build; loose for sanitizer and Debug builds
  const data::ImageSet test = data::load_fashion_mnist(dir, false);

  CHECK(train.images.sizes() == Shape{60000, 28, 28});
  CHECK(train.images.dtype() == kFloat32);
  CHECK(train.labels.sizes() == Shape{60000});
  CHECK(train.labels.dtype() == kInt64);
  CHECK(test.images.sizes() == Shape{10000, 28, 28});
  CHECK(test.labels.sizes() == Shape{10000});

  // The dataset's first labels (the same in torchvision and Keras: train[0] is an ankle boot).
  const auto train_labels = train.labels.to_vector<std::int64_t>();
  CHECK(std::vector<std::int64_t>(train_labels.begin(), train_labels.begin() + 10) ==
        std::vector<std::int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  CHECK(data::kFashionMnistClasses[train_labels[0]] == std::string("Ankle boot"));
  const auto test_labels = test.labels.to_vector<std::int64_t>();
  CHECK(std::vector<std::int64_t>(test_labels.begin(), test_labels.begin() + 5) ==
        std::vector<std::int64_t>{9, 2, 1, 1, 6});
  // Balanced classes: 6000 per class in train, 1000 in test.
  std::vector<int> train_counts(10), test_counts(10);
  for (auto l : train_labels) ++train_counts.at(static_cast<std::size_t>(l));
  for (auto l : test_labels) ++test_counts.at(static_cast<std::size_t>(l));
  CHECK(train_counts == std::vector<int>(10, 6000));
  CHECK(test_counts == std::vector<int>(10, 1000));

  // The training set's pixel mean and std after ToTensor: 0.2860 and 0.3530, the values
  // Normalize((0.2860,), (0.3530,)) uses in the usual Fashion-MNIST recipes.
  const float* px = train.images.data_ptr<float>();
  double sum = 0, sum_sq = 0;
  float lo = 1, hi = 0;
  for (std::int64_t i = 0; i < train.images.numel(); ++i) {
    sum += px[i];
    sum_sq += static_cast<double>(px[i]) * px[i];
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  const double n = static_cast<double>(train.images.numel());
  const double mean = sum / n, stddev = std::sqrt(sum_sq / n - mean * mean);
  CHECK(mean == doctest::Approx(0.2860).epsilon(5e-4));
  CHECK(stddev == doctest::Approx(0.3530).epsilon(5e-4));
  CHECK(lo == 0.0f);
  CHECK(hi == 1.0f);
  // Every value is exactly pixel / 255 in float32: the raw bytes of the same file agree.
  const Tensor raw = data::read_idx(dir + "/t10k-images-idx3-ubyte.gz");
  REQUIRE(raw.sizes() == Shape{10000, 28, 28});
  const auto* bytes = raw.data_ptr<std::uint8_t>();
  const float* tpx = test.images.data_ptr<float>();
  std::int64_t mismatches = 0;
  for (std::int64_t i = 0; i < raw.numel(); ++i) {
    mismatches += tpx[i] != static_cast<float>(bytes[i]) / 255.0f;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("load_fashion_mnist: a missing folder, wrong shapes, counts and labels are errors") {
  TempDir dir;
  check_error([&] { data::load_fashion_mnist(dir.file("nowhere"), true); },
              {"load_fashion_mnist", "train-images-idx3-ubyte.gz", "not found", "scripts/setup",
               "REEL_FASHION_MNIST_DIR"});
  // A test set of blank images (gzipped) with chosen labels; raw files work as well.
  auto write_set = [&](std::uint32_t n_images, std::vector<std::uint32_t> image_dims,
                       std::vector<std::uint8_t> labels) {
    std::vector<std::uint32_t> dims = {n_images};
    dims.insert(dims.end(), image_dims.begin(), image_dims.end());
    std::size_t numel = n_images;
    for (auto d : image_dims) numel *= d;
    write_file(dir.file("t10k-images-idx3-ubyte.gz"),
               gzip_bytes(idx_bytes(dims, std::vector<std::uint8_t>(numel, 0))));
    write_file(dir.file("t10k-labels-idx1-ubyte"),
               idx_bytes({static_cast<std::uint32_t>(labels.size())}, labels));
  };
  std::vector<std::uint8_t> labels(10000);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i % 10);
  write_set(10000, {28, 28}, labels);
  const data::ImageSet ok = data::load_fashion_mnist(dir.path.string(), false);
  CHECK(ok.images.sizes() == Shape{10000, 28, 28});
  CHECK(ok.labels.to_vector<std::int64_t>()[13] == 3);

  auto bad = labels;
  bad[17] = 10;
  write_set(10000, {28, 28}, bad);
  check_error([&] { data::load_fashion_mnist(dir.path.string(), false); },
              {"load_fashion_mnist", "t10k-labels-idx1-ubyte", "label 17 is 10", "[0, 10)"});
  write_set(10000, {28, 28}, std::vector<std::uint8_t>(9999, 1));
  check_error([&] { data::load_fashion_mnist(dir.path.string(), false); },
              {"load_fashion_mnist", "9999 labels", "10000 images"});
  write_set(9999, {28, 28}, std::vector<std::uint8_t>(9999, 1));
  check_error([&] { data::load_fashion_mnist(dir.path.string(), false); },
              {"load_fashion_mnist", "t10k-images-idx3-ubyte.gz", "9999 images", "10000"});
  write_set(10000, {28, 27}, labels);
  check_error([&] { data::load_fashion_mnist(dir.path.string(), false); },
              {"load_fashion_mnist", "[10000, 28, 27]", "[N, 28, 28]"});
  write_set(10000, {784}, labels);
  check_error([&] { data::load_fashion_mnist(dir.path.string(), false); },
              {"load_fashion_mnist", "[10000, 784]", "[N, 28, 28]"});
  fs::remove(dir.file("t10k-labels-idx1-ubyte"));
  check_error([&] { data::load_fashion_mnist(dir.path.string(), false); },
              {"t10k-labels-idx1-ubyte.gz", "not found"});
}

// ---------------------------------------------------------------------------------------------
// The TCN synthetic tasks

namespace {
bool same(const Tensor& a, const Tensor& b) {
  return a.sizes() == b.sizes() && a.dtype() == b.dtype() &&
         a.to_vector<double>() == b.to_vector<double>();
}
}  // namespace

TEST_CASE("adding_problem: the TCN repository's layout: values, two marks, their sum") {
  const std::int64_t n = 4000, T = 10;
  const data::SequenceTask task = data::adding_problem(n, T, 7);
  REQUIRE(task.inputs.sizes() == Shape{n, 2, T});
  REQUIRE(task.targets.sizes() == Shape{n, 1});
  CHECK(task.inputs.dtype() == kFloat32);
  CHECK(task.targets.dtype() == kFloat32);
  const auto x = task.inputs.accessor<float, 3>();
  const auto y = task.targets.accessor<float, 2>();
  std::vector<int> marked_at(T);
  int both_in_first_half = 0;
  double value_sum = 0, value_sq = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<std::int64_t> marks;
    for (std::int64_t t = 0; t < T; ++t) {
      const float v = x[i][0][t];
      REQUIRE(v >= 0.0f);
      REQUIRE(v < 1.0f);
      value_sum += v;
      value_sq += static_cast<double>(v) * v;
      const float m = x[i][1][t];
      REQUIRE((m == 0.0f || m == 1.0f));
      if (m == 1.0f) marks.push_back(t);
    }
    REQUIRE(marks.size() == 2);  // exactly two distinct positions
    ++marked_at[marks[0]];
    ++marked_at[marks[1]];
    both_in_first_half += marks[1] < T / 2;
    CHECK(y[i][0] == x[i][0][marks[0]] + x[i][0][marks[1]]);  // float32 sum, as torch's
  }
  // Positions: each marked with probability 2/T (np.random.choice(T, 2, replace=False));
  // both in the first half with probability (5/10)(4/9) = 2/9 — the repository does not put
  // one in each half. Bounds: 5 standard deviations.
  for (std::int64_t t = 0; t < T; ++t) {
    const double p = 2.0 / T, expect = n * p, sd = std::sqrt(n * p * (1 - p));
    CAPTURE(t);
    CHECK(std::abs(marked_at[t] - expect) < 5 * sd);
  }
  const double p_half = 2.0 / 9.0;
  CHECK(std::abs(both_in_first_half - n * p_half) < 5 * std::sqrt(n * p_half * (1 - p_half)));
  // Values: uniform [0, 1): mean 1/2, variance 1/12.
  const double m = static_cast<double>(n * T);
  const double mean = value_sum / m, var = value_sq / m - mean * mean;
  CHECK(std::abs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / m));
  CHECK(var == doctest::Approx(1.0 / 12).epsilon(0.03));
}

TEST_CASE("copy_memory: the TCN repository's layout: 10 symbols, blanks, nines, the recall") {
  const std::int64_t n = 3000, T = 7, L = T + 20;
  const data::SequenceTask task = data::copy_memory(n, T, 11);
  REQUIRE(task.inputs.sizes() == Shape{n, L});
  REQUIRE(task.targets.sizes() == Shape{n, L});
  CHECK(task.inputs.dtype() == kInt64);
  CHECK(task.targets.dtype() == kInt64);
  const auto x = task.inputs.accessor<std::int64_t, 2>();
  const auto y = task.targets.accessor<std::int64_t, 2>();
  std::vector<int> counts(10);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < 10; ++j) {
      REQUIRE(x[i][j] >= 1);
      REQUIRE(x[i][j] <= 8);
      ++counts[static_cast<std::size_t>(x[i][j])];
      REQUIRE(y[i][T + 10 + j] == x[i][j]);  // recalled in the last 10 steps
    }
    for (std::int64_t j = 10; j < 10 + T - 1; ++j) REQUIRE(x[i][j] == 0);  // T - 1 blanks
    for (std::int64_t j = 10 + T - 1; j < L; ++j) REQUIRE(x[i][j] == 9);   // 11 nines
    for (std::int64_t j = 0; j < T + 10; ++j) REQUIRE(y[i][j] == 0);
  }
  // Symbols uniform over 1..8 (np.random.randint(1, 9)).
  const double draws = n * 10.0, p = 1.0 / 8;
  for (int s = 1; s <= 8; ++s) {
    CAPTURE(s);
    CHECK(std::abs(counts[s] - draws * p) < 5 * std::sqrt(draws * p * (1 - p)));
  }
  // The smallest T: no blanks, the delimiter right after the symbols.
  const data::SequenceTask small = data::copy_memory(1, 1, 3);
  const auto xs = small.inputs.to_vector<std::int64_t>();
  REQUIRE(xs.size() == 21);
  for (int j = 10; j < 21; ++j) CHECK(xs[j] == 9);
}

TEST_CASE("synthetic tasks: a pure function of the seed; the global generator is left alone") {
  manual_seed(123);
  const Tensor expected_draw = rand({16});
  manual_seed(123);
  const data::SequenceTask a1 = data::adding_problem(5, 12, 42);
  const data::SequenceTask c1 = data::copy_memory(5, 12, 42);
  CHECK(same(rand({16}), expected_draw));  // the global stream did not move

  manual_seed(999);  // a different global state changes nothing
  (void)rand({3});
  const data::SequenceTask a2 = data::adding_problem(5, 12, 42);
  const data::SequenceTask c2 = data::copy_memory(5, 12, 42);
  CHECK(same(a1.inputs, a2.inputs));
  CHECK(same(a1.targets, a2.targets));
  CHECK(same(c1.inputs, c2.inputs));
  CHECK(same(c1.targets, c2.targets));
  // Another seed, other data.
  CHECK_FALSE(same(data::adding_problem(5, 12, 43).inputs, a1.inputs));
  CHECK_FALSE(same(data::copy_memory(5, 12, 43).inputs, c1.inputs));
  // The values row is what reel's rand gives for float32 under the same seed (Philox): the
  // documented generator, not an undocumented one.
  manual_seed(42);
  const Tensor r = rand({5 * 12});
  const Tensor values = a1.inputs.select(1, 0).contiguous().reshape({5 * 12});
  CHECK(same(values, r));
}

TEST_CASE("synthetic tasks: bad sizes raise reel::Error naming the task and the value") {
  check_error([] { data::adding_problem(0, 10, 1); }, {"adding_problem", "n", "0"});
  check_error([] { data::adding_problem(4, 1, 1); }, {"adding_problem", "T", "at least 2", "1"});
  check_error([] { data::adding_problem(std::int64_t{1} << 40, std::int64_t{1} << 40, 1); },
              {"adding_problem", "too many"});
  check_error([] { data::copy_memory(-3, 10, 1); }, {"copy_memory", "n", "-3"});
  check_error([] { data::copy_memory(4, 0, 1); }, {"copy_memory", "T", "at least 1", "0"});
  check_error([] { data::copy_memory(4, INT64_MAX - 5, 1); }, {"copy_memory", "too many"});
  check_error([] { data::copy_memory(std::int64_t{1} << 40, std::int64_t{1} << 40, 1); },
              {"copy_memory", "too many"});
}

// ---------------------------------------------------------------------------------------------
// The character corpus

TEST_CASE("CharCorpus: vocabulary, split, encode/decode") {
  TempDir dir;
  write_text(dir.file("a.txt"), "hello world\n");
  write_text(dir.file("b.txt"), "abc\xc3\xa9\n");  // "abcé\n": é is two bytes in UTF-8
  const auto corpus =
      data::CharCorpus::from_files({dir.file("a.txt"), dir.file("b.txt")}, 0.25);
  const std::string text = "hello world\nabc\xc3\xa9\n";  // 18 bytes
  CHECK(corpus.vocabulary() == std::string("\n abcdehlorw\xa9\xc3"));  // sorted by byte
  CHECK(corpus.vocab_size() == 14);
  // The last floor(18 * 0.25) = 4 bytes are held out.
  CHECK(corpus.train().sizes() == Shape{14});
  CHECK(corpus.heldout().sizes() == Shape{4});
  CHECK(corpus.train().dtype() == kInt64);
  CHECK(corpus.heldout().dtype() == kInt64);
  CHECK(corpus.decode(corpus.train()) == text.substr(0, 14));
  CHECK(corpus.decode(corpus.heldout()) == text.substr(14));
  CHECK(corpus.train().to_vector<std::int64_t>()[0] == 7);  // 'h' after "\n", " ", a b c d e
  CHECK(corpus.encode("held") == std::vector<std::int64_t>{7, 6, 8, 5});
  CHECK(corpus.decode(tensor(corpus.encode("world"))) == "world");
  CHECK(corpus.decode(tensor(std::vector<std::int64_t>{7, 6}).to(kInt32)) == "he");
  CHECK(corpus.decode(tensor({{7, 6}, {8, 5}})) == "held");  // any shape, row-major
  CHECK(corpus.encode("").empty());
  // No held-out part.
  const auto all = data::CharCorpus::from_files({dir.file("a.txt")}, 0.0);
  CHECK(all.train().numel() == 12);
  CHECK(all.heldout().numel() == 0);
  CHECK(all.decode(all.heldout()).empty());
}

TEST_CASE("CharCorpus: missing and empty files, bad fractions and unknown characters are errors") {
  TempDir dir;
  write_text(dir.file("a.txt"), "abcabc");
  write_text(dir.file("empty.txt"), "");
  check_error([&] { data::CharCorpus::from_files({dir.file("a.txt"), dir.file("nope.txt")}); },
              {"CharCorpus::from_files", "cannot open", "nope.txt"});
  check_error([&] { data::CharCorpus::from_files({dir.file("empty.txt")}); },
              {"CharCorpus::from_files", "empty.txt", "is empty"});
  check_error([&] { data::CharCorpus::from_files({dir.path.string()}); },
              {"CharCorpus::from_files", "directory"});
  check_error([&] { data::CharCorpus::from_files({}); }, {"CharCorpus::from_files", "no files"});
  for (double f : {1.0, -0.1, std::nan("")}) {
    CAPTURE(f);
    check_error([&] { data::CharCorpus::from_files({dir.file("a.txt")}, f); },
                {"CharCorpus::from_files", "heldout_fraction", "[0, 1)"});
  }
  // 0.84 of 6 characters: floor(5.04) = 5 held out, 1 left for training: fine.
  CHECK(data::CharCorpus::from_files({dir.file("a.txt")}, 0.84).train().numel() == 1);
  const auto corpus = data::CharCorpus::from_files({dir.file("a.txt")});
  check_error([&] { corpus.encode("abz"); },
              {"CharCorpus::encode", "'z'", "0x7a", "position 2", "3 characters"});
  check_error([&] { corpus.decode(tensor({0, 3})); },
              {"CharCorpus::decode", "id 3", "position 1", "[0, 3)"});
  check_error([&] { corpus.decode(tensor({-1})); }, {"CharCorpus::decode", "id -1"});
  check_error([&] { corpus.decode(tensor({0.0f})); }, {"CharCorpus::decode", "integer"});
  check_error([&] { corpus.decode(Tensor()); }, {"CharCorpus::decode", "undefined"});
}

TEST_CASE("fortunes_default_files: the fortunes package's text files, and a corpus of them") {
  INFO("the fortunes come from Debian's fortunes package: run scripts/setup");
  const std::vector<std::string> files = data::fortunes_default_files();
  REQUIRE(files.size() >= 10);
  std::uintmax_t total = 0;
  for (const std::string& f : files) {
    CAPTURE(f);
    CHECK_FALSE(f.ends_with(".dat"));
    CHECK_FALSE(f.ends_with(".u8"));
    CHECK_FALSE(fs::is_symlink(f));
    total += fs::file_size(f);
  }
  CHECK(std::is_sorted(files.begin(), files.end()));
  CHECK(std::find(files.begin(), files.end(), "/usr/share/games/fortunes/fortunes") != files.end());

  const auto corpus = data::CharCorpus::from_files(files);
  const auto n = static_cast<std::int64_t>(total);
  CHECK(corpus.train().numel() + corpus.heldout().numel() == n);
  CHECK(corpus.heldout().numel() == static_cast<std::int64_t>(std::floor(n * 0.1)));
  CHECK(corpus.vocab_size() > 90);  // printable ASCII and then some
  CHECK(corpus.vocab_size() <= 256);
  const std::string& v = corpus.vocabulary();
  CHECK(std::is_sorted(v.begin(), v.end(), [](char a, char b) {
    return static_cast<unsigned char>(a) < static_cast<unsigned char>(b);
  }));
  for (char c : std::string("\n %azAZ09")) {
    CAPTURE(c);
    CHECK(v.find(c) != std::string::npos);  // '%' separates the fortunes
  }
  // The first file starts the training text.
  std::ifstream first(files.front(), std::ios::binary);
  std::string head(64, '\0');
  first.read(head.data(), 64);
  CHECK(corpus.decode(corpus.train().narrow(0, 0, 64)) == head);
}

TEST_CASE("fortunes_default_files: $REEL_FORTUNES_DIR; index files and symlinks are left out") {
  TempDir dir;
  write_text(dir.file("zeta"), "z\n");
  write_text(dir.file("alpha"), "a\n");
  write_text(dir.file("alpha.dat"), "index");
  fs::create_symlink("alpha", dir.path / "alpha.u8");
  fs::create_directory(dir.path / "off");
  {
    ScopedEnv env("REEL_FORTUNES_DIR", dir.path.string());
    CHECK(data::fortunes_default_files() ==
          std::vector<std::string>{dir.file("alpha"), dir.file("zeta")});
  }
  TempDir empty;
  {
    ScopedEnv env("REEL_FORTUNES_DIR", empty.path.string());
    check_error([] { data::fortunes_default_files(); },
                {"fortunes_default_files", "no fortune files", "scripts/setup"});
  }
  {
    ScopedEnv env("REEL_FORTUNES_DIR", empty.file("missing"));
    check_error([] { data::fortunes_default_files(); },
                {"fortunes_default_files", "missing", "scripts/setup"});
  }
}
