// Fashion-MNIST: the IDX reader (raw or gzip, inflated with zlib) and the dataset loader.
#include "data/datasets/fashion_mnist.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>

#include "backends/checked_math.hpp"

namespace reel::data {

const std::array<const char*, 10> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

std::string fashion_mnist_default_dir() {
  const char* env = std::getenv("REEL_FASHION_MNIST_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "/usr/share/datasets/fashion-mnist";
}

namespace {

constexpr std::uint8_t kIdxUInt8 = 0x08;
constexpr int kMaxIdxDims = 4;

const char* idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08: return "uint8";
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "not an IDX type";
  }
}

// The whole file, or an error naming it.
std::vector<std::byte> read_file(const std::string& path, const char* op) {
  std::error_code ec;
  check(!std::filesystem::is_directory(path, ec), "{}: '{}' is a directory, not a file", op, path);
  std::ifstream in(path, std::ios::binary);
  check(in.is_open(), "{}: cannot open '{}': {}", op, path, std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  check(in.good() && end >= 0, "{}: cannot determine the size of '{}'", op, path);
  std::vector<std::byte> bytes(static_cast<std::size_t>(end));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  check(in.good() && static_cast<std::size_t>(in.gcount()) == bytes.size(),
        "{}: reading the {} bytes of '{}' failed", op, bytes.size(), path);
  return bytes;
}

// Where the IDX bytes come from: the buffer itself (raw), or zlib inflating it (gzip).
// read(dst, n) fills dst with up to n bytes and returns how many it wrote: fewer only when the
// data ends. `remaining_hint` is an upper bound on what is left when known (raw), else -1.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual std::size_t read(std::uint8_t* dst, std::size_t n) = 0;
  virtual std::int64_t remaining_hint() const = 0;
};

class RawStream final : public ByteStream {
 public:
  explicit RawStream(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    const std::size_t k = std::min(n, bytes_.size() - pos_);
    if (k) std::memcpy(dst, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  std::int64_t remaining_hint() const override {
    return static_cast<std::int64_t>(bytes_.size() - pos_);
  }

 private:
  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

// A gzip file: one or more gzip members back to back (as `cat a.gz b.gz` makes, and as gzip -d
// reads), each checked by zlib (header, deflate data, CRC-32 and length trailer). Anything after
// the last member that is not another member is an error, as is a member cut short.
class GzipStream final : public ByteStream {
 public:
  GzipStream(std::span<const std::byte> bytes, std::string_view name)
      : bytes_(bytes), name_(name) {
    std::memset(&zs_, 0, sizeof zs_);
    // 16 + MAX_WBITS: a gzip wrapper (not zlib's), with the largest window.
    check(inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK, "read_idx: {}: zlib inflateInit2 failed",
          name_);
  }
  ~GzipStream() override { inflateEnd(&zs_); }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  std::int64_t remaining_hint() const override { return -1; }

  std::size_t read(std::uint8_t* dst, std::size_t n) override {
    std::size_t produced = 0;
    while (produced < n) {
      if (member_ended_) {
        if (consumed() == bytes_.size()) break;  // the end of the last member: the data ends
        const std::size_t at = consumed();
        check(bytes_.size() - at >= 2 && bytes_[at] == std::byte{0x1f} &&
                  bytes_[at + 1] == std::byte{0x8b},
              "read_idx: {}: {} bytes of trailing garbage after the gzip stream (at byte {} of "
              "{})",
              name_, bytes_.size() - at, at, bytes_.size());
        check(inflateReset(&zs_) == Z_OK, "read_idx: {}: zlib inflateReset failed", name_);
        member_ended_ = false;
      }
      refill();
      // zlib counts in 32-bit uInt: hand it at most 1 GiB of output at a time.
      const std::size_t want = std::min<std::size_t>(n - produced, std::size_t{1} << 30);
      zs_.next_out = reinterpret_cast<Bytef*>(dst + produced);
      zs_.avail_out = static_cast<uInt>(want);
      const int ret = inflate(&zs_, Z_NO_FLUSH);
      produced += want - zs_.avail_out;
      if (ret == Z_STREAM_END) {
        member_ended_ = true;
      } else if (ret == Z_OK || ret == Z_BUF_ERROR) {
        // Z_BUF_ERROR: no progress was possible. Either way, output space left over with all the
        // input consumed means the stream stopped before its end.
        check(!(zs_.avail_in == 0 && fed_ == bytes_.size() && zs_.avail_out != 0),
              "read_idx: {}: the gzip stream is truncated (its {} compressed bytes end before "
              "the stream does)",
              name_, bytes_.size());
        check(ret == Z_OK, "read_idx: {}: zlib made no progress at compressed byte {}", name_,
              consumed());
      } else {
        fail("read_idx: {}: corrupt gzip stream at compressed byte {}: zlib error {} ({})", name_,
             consumed(), ret, zs_.msg != nullptr ? zs_.msg : "no message");
      }
    }
    return produced;
  }

 private:
  std::size_t consumed() const { return fed_ - zs_.avail_in; }
  // Feeds zlib the next input chunk (at most 1 GiB) when it has used the last.
  void refill() {
    if (zs_.avail_in == 0 && fed_ < bytes_.size()) {
      const std::size_t k = std::min<std::size_t>(bytes_.size() - fed_, std::size_t{1} << 30);
      // zlib's API is not const-correct; it only reads next_in.
      zs_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(bytes_.data() + fed_));
      zs_.avail_in = static_cast<uInt>(k);
      fed_ += k;
    }
  }

  std::span<const std::byte> bytes_;
  std::string_view name_;
  z_stream zs_;
  std::size_t fed_ = 0;  // bytes handed to zlib so far (consumed + avail_in)
  bool member_ended_ = false;
};

// An IDX file's header and elements (uint8).
struct IdxData {
  Shape dims;
  std::vector<std::uint8_t> bytes;
};

std::uint32_t big_endian32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

IdxData parse_idx(std::span<const std::byte> file, std::string_view name) {
  check(file.size() >= 2, "read_idx: {}: {} bytes is too short for an IDX file (the magic "
        "alone is 4 bytes)", name, file.size());
  const bool gzip = file[0] == std::byte{0x1f} && file[1] == std::byte{0x8b};
  std::unique_ptr<ByteStream> stream;
  if (gzip) stream = std::make_unique<GzipStream>(file, name);
  else stream = std::make_unique<RawStream>(file);
  const char* form = gzip ? " (inflated)" : "";

  std::uint8_t magic[4];
  const std::size_t got = stream->read(magic, 4);
  check(got == 4, "read_idx: {}: the data{} is {} bytes, too short for the 4-byte magic", name,
        form, got);
  check(magic[0] == 0 && magic[1] == 0,
        "read_idx: {}: bad magic: bytes 0-1 are 0x{:02x}{:02x}, an IDX file starts with 0x0000 "
        "(or is gzipped: 1f 8b)",
        name, magic[0], magic[1]);
  check(magic[2] == kIdxUInt8,
        "read_idx: {}: magic byte 2 (element type) is 0x{:02x} ({}); only 0x08 (uint8) is "
        "supported",
        name, magic[2], idx_type_name(magic[2]));
  const int ndims = magic[3];
  check(ndims >= 1 && ndims <= kMaxIdxDims,
        "read_idx: {}: magic byte 3 (number of dims) is {}; expected 1 to {}", name, ndims,
        kMaxIdxDims);

  std::uint8_t raw_dims[4 * kMaxIdxDims];
  const std::size_t dims_bytes = 4 * static_cast<std::size_t>(ndims);
  const std::size_t got_dims = stream->read(raw_dims, dims_bytes);
  check(got_dims == dims_bytes,
        "read_idx: {}: truncated header: {} dims need {} bytes of sizes, the data{} has {}", name,
        ndims, dims_bytes, form, got_dims);
  IdxData out;
  std::int64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    const std::int64_t size = big_endian32(raw_dims + 4 * d);
    check(size > 0, "read_idx: {}: dim {} has size 0; every IDX dim must be positive", name, d);
    out.dims.push_back(size);
    const auto product = checked_mul(count, size);
    check(product.has_value(), "read_idx: {}: the dims {} hold more than 2^63 elements", name,
          out.dims);
    count = *product;
  }
  // A raw file says up front how many bytes it has: check before allocating anything.
  const std::int64_t hint = stream->remaining_hint();
  if (hint >= 0) {
    check(hint >= count, "read_idx: {}: truncated: the dims {} need {} bytes of data, the file "
          "has {}", name, out.dims, count, hint);
    check(hint == count, "read_idx: {}: {} extra bytes after the data: the dims {} need {} "
          "bytes, the file has {}", name, hint - count, out.dims, count, hint);
  }
  // A gzip stream's size is only known by inflating it. Grow the buffer as data arrives (at most
  // doubling what is there), so a header that lies about its size costs no more memory than the
  // data really present. The first buffer is the whole data when that is under 64 MiB and
  // within what the input can hold (deflate expands at most 1032:1, so a small file never gets
  // a large buffer): a truthful file is then inflated in one pass into one buffer.
  const std::int64_t most_possible =
      checked_mul(static_cast<std::int64_t>(file.size()), 1032).value_or(count);
  const std::int64_t first_chunk =
      std::min<std::int64_t>(std::int64_t{1} << 26, std::max<std::int64_t>(most_possible, 1 << 16));
  std::int64_t filled = 0;
  while (filled < count) {
    const std::int64_t target = std::min(count, std::max(first_chunk, 2 * filled));
    out.bytes.resize(static_cast<std::size_t>(target));
    const std::size_t want = static_cast<std::size_t>(target - filled);
    const std::size_t k = stream->read(out.bytes.data() + filled, want);
    filled += static_cast<std::int64_t>(k);
    check(k == want, "read_idx: {}: truncated: the dims {} need {} bytes of data, the data{} has "
          "{}", name, out.dims, count, form, filled);
  }
  // Nothing may follow. For gzip this reads on to the end of the stream, so zlib checks the
  // CRC-32 and length trailer; it stops at the first extra chunk (a bomb is not inflated whole).
  std::uint8_t extra[4096];
  const std::size_t n_extra = stream->read(extra, sizeof extra);
  check(n_extra == 0, "read_idx: {}: extra bytes after the data: the dims {} need {} bytes, the "
        "data{} has {}{} more", name, out.dims, count, form,
        n_extra == sizeof extra ? "at least " : "", n_extra);
  return out;
}

Tensor to_uint8_tensor(const IdxData& idx) {
  Tensor t = empty(idx.dims, kUInt8);
  if (!idx.bytes.empty()) std::memcpy(t.raw_data(), idx.bytes.data(), idx.bytes.size());
  return t;
}

// "<dir>/<base>.gz", or "<dir>/<base>" when only the raw file is there.
std::string find_fashion_file(const std::string& dir, const std::string& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path gz = fs::path(dir) / (base + ".gz");
  if (fs::exists(gz, ec)) return gz.string();
  const fs::path raw = fs::path(dir) / base;
  if (fs::exists(raw, ec)) return raw.string();
  fail("load_fashion_mnist: '{}' not found (nor '{}'): the Fashion-MNIST files are not in '{}'. "
       "Install them with scripts/setup (Debian's dataset-fashion-mnist package), or set "
       "REEL_FASHION_MNIST_DIR to a folder holding {}.gz",
       gz.string(), raw.string(), dir, base);
}

}  // namespace

Tensor read_idx_bytes(std::span<const std::byte> bytes, std::string_view name) {
  return to_uint8_tensor(parse_idx(bytes, name));
}

Tensor read_idx(const std::string& path) {
  const std::vector<std::byte> file = read_file(path, "read_idx");
  return read_idx_bytes(file, fmt::format("file '{}'", path));
}

ImageSet load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::int64_t expected = train ? 60000 : 10000;
  const std::string images_path = find_fashion_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_fashion_file(dir, prefix + "-labels-idx1-ubyte");
  const std::string images_name = fmt::format("file '{}'", images_path);
  const std::string labels_name = fmt::format("file '{}'", labels_path);

  const IdxData images = parse_idx(read_file(images_path, "load_fashion_mnist"), images_name);
  check(images.dims.size() == 3 && images.dims[1] == 28 && images.dims[2] == 28,
        "load_fashion_mnist: {}: images have dims {}; expected [N, 28, 28]", images_name,
        images.dims);
  check(images.dims[0] == expected,
        "load_fashion_mnist: {}: {} images; the Fashion-MNIST {} set has {}", images_name,
        images.dims[0], train ? "training" : "test", expected);
  const IdxData labels = parse_idx(read_file(labels_path, "load_fashion_mnist"), labels_name);
  check(labels.dims.size() == 1, "load_fashion_mnist: {}: labels have dims {}; expected [N]",
        labels_name, labels.dims);
  check(labels.dims[0] == images.dims[0],
        "load_fashion_mnist: {} has {} labels but {} has {} images", labels_name, labels.dims[0],
        images_name, images.dims[0]);

  ImageSet set;
  set.labels = empty({labels.dims[0]}, kInt64);
  auto* label_out = set.labels.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < labels.bytes.size(); ++i) {
    const std::uint8_t v = labels.bytes[i];
    check(v < 10, "load_fashion_mnist: {}: label {} is {}; labels are in [0, 10)", labels_name, i,
          v);
    label_out[i] = v;
  }
  // pixel / 255 in float32, as torchvision's ToTensor (img.float().div(255)): one table lookup
  // per pixel, in one pass.
  std::array<float, 256> scale;
  for (int p = 0; p < 256; ++p) scale[p] = static_cast<float>(p) / 255.0f;
  set.images = empty(images.dims, kFloat32);
  float* pixel_out = set.images.data_ptr<float>();
  const std::uint8_t* pixel_in = images.bytes.data();
  for (std::size_t i = 0, n = images.bytes.size(); i < n; ++i) pixel_out[i] = scale[pixel_in[i]];
  return set;
}

}  // namespace reel::data
