// safetensors reading and writing (serialize/safetensors.hpp). The reader checks the header
// completely (every entry, then the layout of all of them together) before it allocates or
// reads a single tensor, so a lying file costs no more memory than its own size.
#include "serialize/safetensors.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

#include "backends/checked_math.hpp"
#include "serialize/atomic_file.hpp"
#include "serialize/json.hpp"

namespace reel::safetensors {
namespace {

namespace json = serialize::json;

// The buffer is written and read as the host's bytes; safetensors is little-endian, as is every
// platform reel runs on.
static_assert(std::endian::native == std::endian::little,
              "reel's safetensors code assumes a little-endian host");

// --- dtypes ---------------------------------------------------------------------------------

struct StDType {
  std::string_view name;
  std::size_t size;           // bytes per element in the file
  std::optional<DType> reel;  // what it loads as (nullopt: reel can't hold it)
};

// Every dtype of the safetensors spec, so an unsupported one gets its own message rather than
// "unknown".
constexpr std::array<StDType, 15> kDTypes = {{
    {"BOOL", 1, kBool},
    {"U8", 1, kUInt8},
    {"I8", 1, kInt8},
    {"I16", 2, kInt16},
    {"I32", 4, kInt32},
    {"I64", 8, kInt64},
    {"F32", 4, kFloat32},
    {"F64", 8, kFloat64},
    {"F16", 2, kFloat16},
    {"BF16", 2, kBFloat16},
    {"U16", 2, std::nullopt},
    {"U32", 4, std::nullopt},
    {"U64", 8, std::nullopt},
    {"F8_E5M2", 1, std::nullopt},
    {"F8_E4M3", 1, std::nullopt},
}};

const StDType* find_dtype(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.name == name) return &d;
  return nullptr;
}

// --- writing --------------------------------------------------------------------------------

// The header and the host tensors whose bytes follow it, in order.
struct Prepared {
  std::string header;  // the 8-byte length included
  std::vector<Tensor> host;
};

Prepared prepare(const TensorMap& tensors, const Metadata& metadata, std::string_view op) {
  Prepared p;
  std::string h = "{";
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      check(json::valid_utf8(k), "{}: the metadata key \"{}\" is not valid UTF-8", op, k);
      check(json::valid_utf8(v), "{}: the value of metadata key \"{}\" is not valid UTF-8", op,
            k);
      if (!first) h += ',';
      first = false;
      json::append_string(h, k);
      h += ':';
      json::append_string(h, v);
    }
    h += '}';
    if (!tensors.empty()) h += ',';
  }
  std::int64_t offset = 0;
  bool first = true;
  for (const auto& [name, t] : tensors) {
    check(name != "__metadata__",
          "{}: a tensor can't be named \"__metadata__\" (the key of the metadata object)", op);
    check(json::valid_utf8(name), "{}: the tensor name \"{}\" is not valid UTF-8", op, name);
    check(t.defined(), "{}: tensor '{}' is undefined", op, name);
    check(!is_complex(t.dtype()),
          "{}: tensor '{}' is {}, and safetensors has no complex dtype: save its real and "
          "imaginary parts as two {} tensors instead ('{}.real' = t.real(), '{}.imag' = "
          "t.imag()){}",
          op, name, t.dtype(), to_real(t.dtype()), name, name,
          t.dtype() == kComplex32 ? ", or cast it with .to(kComplex64) first" : "");
    Tensor host = t;
    if (!host.device().is_cpu()) host = detail::copy_to_device(host, Device(kCPU));
    if (!host.is_contiguous()) host = detail::copy_as(host, host.dtype());
    auto nbytes = checked_nbytes(host.numel(), host.element_size());
    auto end = nbytes ? checked_add(offset, static_cast<std::int64_t>(*nbytes)) : std::nullopt;
    check(end.has_value(), "{}: the tensors' total size overflows int64 at '{}'", op, name);
    if (!first) h += ',';
    first = false;
    json::append_string(h, name);
    h += fmt::format(":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                     dtype_string(host.dtype()), fmt::join(host.sizes().begin(), host.sizes().end(), ","),
                     offset, *end);
    offset = *end;
    p.host.push_back(std::move(host));
  }
  h += '}';
  // Pad with spaces so the buffer starts 8-byte aligned (the spec allows trailing spaces).
  h.append((8 - h.size() % 8) % 8, ' ');
  std::uint64_t n = h.size();
  p.header.resize(8);
  for (int i = 0; i < 8; ++i) p.header[i] = static_cast<char>(n >> (8 * i) & 0xFF);
  p.header += h;
  return p;
}

std::size_t byte_size(const Tensor& t) { return static_cast<std::size_t>(t.numel()) * t.element_size(); }

// --- reading --------------------------------------------------------------------------------

// Where the bytes come from.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly n bytes at `offset` (the caller checked they exist).
  virtual void read(std::uint64_t offset, void* dst, std::size_t n) = 0;
  std::string op, what;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void read(std::uint64_t offset, void* dst, std::size_t n) override {
    if (n) std::memcpy(dst, bytes_.data() + offset, n);
  }

 private:
  std::string_view bytes_;
};

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path) : in_(path, std::ios::binary) {
    op = "load_file";
    what = fmt::format("file '{}'", path);
    check(in_.is_open(), "{}: cannot open {}: {}", op, what, std::strerror(errno));
    in_.seekg(0, std::ios::end);
    auto end = in_.tellg();
    check(in_.good() && end >= 0, "{}: cannot determine the size of {}", op, what);
    size_ = static_cast<std::uint64_t>(end);
  }
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, void* dst, std::size_t n) override {
    if (n == 0) return;
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    check(in_.good() && static_cast<std::size_t>(in_.gcount()) == n,
          "{}: reading {} bytes at offset {} of {} failed (was the file changed while it was "
          "read?)",
          op, n, offset, what);
  }

 private:
  std::ifstream in_;
  std::uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  const StDType* dtype = nullptr;
  Shape shape;
  std::int64_t begin = 0, end = 0;  // in the buffer
};

// Validates one tensor entry of the header.
Entry parse_entry(const std::string& name, const json::Value& v, std::int64_t buffer_size,
                  const Source& src) {
  const std::string& op = src.op;
  const std::string& what = src.what;
  check(v.is_object(), "{}: {}: tensor '{}': the entry is {}, expected an object with dtype, "
        "shape and data_offsets", op, what, name, v.kind_name());
  const json::Value *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (const auto& [key, field] : v.object) {
    if (key == "dtype") dtype = &field;
    else if (key == "shape") shape = &field;
    else if (key == "data_offsets") offsets = &field;
    else fail("{}: {}: tensor '{}': unknown field \"{}\" (expected dtype, shape and "
              "data_offsets)", op, what, name, key);
  }
  check(dtype, "{}: {}: tensor '{}': the field \"dtype\" is missing", op, what, name);
  check(shape, "{}: {}: tensor '{}': the field \"shape\" is missing", op, what, name);
  check(offsets, "{}: {}: tensor '{}': the field \"data_offsets\" is missing", op, what, name);

  Entry e;
  e.name = name;
  check(dtype->is_string(), "{}: {}: tensor '{}': dtype is {}, expected a string such as \"F32\"",
        op, what, name, dtype->kind_name());
  e.dtype = find_dtype(dtype->string);
  check(e.dtype, "{}: {}: tensor '{}': unknown dtype \"{}\" (safetensors' dtypes: BOOL, U8, I8, "
        "I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E5M2, F8_E4M3)", op, what, name,
        dtype->string);
  check(e.dtype->reel.has_value(), "{}: {}: tensor '{}': dtype {} is not supported by reel "
        "(it reads BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64)", op, what, name,
        e.dtype->name);

  check(shape->is_array(), "{}: {}: tensor '{}': shape is {}, expected an array of sizes", op,
        what, name, shape->kind_name());
  check(shape->array.size() <= static_cast<std::size_t>(kMaxDims),
        "{}: {}: tensor '{}': the shape has {} dimensions; reel supports at most {}", op, what,
        name, shape->array.size(), kMaxDims);
  std::int64_t bound = 1;  // the product of max(size, 1): keeps every stride in int64 too
  for (std::size_t i = 0; i < shape->array.size(); ++i) {
    const json::Value& d = shape->array[i];
    check(d.is_integer(), "{}: {}: tensor '{}': shape[{}] is {}, expected an integer", op, what,
          name, i, d.kind_name());
    check(d.integer >= 0, "{}: {}: tensor '{}': shape[{}] is {}; sizes must be non-negative", op,
          what, name, i, d.integer);
    auto next = checked_mul(bound, std::max<std::int64_t>(d.integer, 1));
    check(next.has_value(), "{}: {}: tensor '{}': the shape's element count overflows int64 at "
          "shape[{}] = {}", op, what, name, i, d.integer);
    bound = *next;
    e.shape.push_back(d.integer);
  }

  check(offsets->is_array() && offsets->array.size() == 2,
        "{}: {}: tensor '{}': data_offsets is {}, expected an array [begin, end]", op, what, name,
        offsets->is_array() ? fmt::format("an array of {} items", offsets->array.size())
                            : std::string(offsets->kind_name()));
  for (int i = 0; i < 2; ++i) {
    const json::Value& o = offsets->array[i];
    check(o.is_integer(), "{}: {}: tensor '{}': data_offsets[{}] is {}, expected an integer", op,
          what, name, i, o.kind_name());
    check(o.integer >= 0, "{}: {}: tensor '{}': data_offsets[{}] is {}; offsets must be "
          "non-negative", op, what, name, i, o.integer);
  }
  e.begin = offsets->array[0].integer;
  e.end = offsets->array[1].integer;
  check(e.begin <= e.end, "{}: {}: tensor '{}': data_offsets [{}, {}] end before they begin", op,
        what, name, e.begin, e.end);
  std::int64_t numel = *checked_numel(e.shape);  // <= bound: no overflow
  auto nbytes = checked_nbytes(numel, e.dtype->size);
  check(nbytes.has_value(), "{}: {}: tensor '{}': shape {} of {} needs more than 2^63 bytes", op,
        what, name, e.shape, e.dtype->name);
  check(static_cast<std::uint64_t>(e.end - e.begin) == *nbytes,
        "{}: {}: tensor '{}': data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}",
        op, what, name, e.begin, e.end, e.end - e.begin, e.shape, e.dtype->name, *nbytes);
  check(e.end <= buffer_size, "{}: {}: tensor '{}': data_offsets [{}, {}] run past the end of "
        "the data buffer ({} bytes)", op, what, name, e.begin, e.end, buffer_size);
  return e;
}

File load(Source& src) {
  const std::string& op = src.op;
  const std::string& what = src.what;
  const std::uint64_t size = src.size();
  check(size >= 8, "{}: {} is too short to be a safetensors file ({} bytes; the 8-byte header "
        "length alone needs 8)", op, what, size);
  unsigned char len_bytes[8];
  src.read(0, len_bytes, 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | len_bytes[i];
  check(n <= kMaxHeaderSize, "{}: {}: the header length is {} bytes, over the limit of {}", op,
        what, n, kMaxHeaderSize);
  check(n <= size - 8, "{}: {}: the header length is {} bytes, but only {} bytes follow the "
        "length field (truncated file or wrong length)", op, what, n, size - 8);
  std::string header(static_cast<std::size_t>(n), '\0');
  src.read(8, header.data(), header.size());
  check(n > 0 && header[0] == '{', "{}: {}: the header does not start with '{{' (a JSON object)",
        op, what);
  json::Value root = json::parse(header, what, op);
  const std::int64_t buffer_size = static_cast<std::int64_t>(size - 8 - n);

  File file;
  std::vector<Entry> entries;
  for (const auto& [key, v] : root.object) {
    if (key == "__metadata__") {
      check(v.is_object(), "{}: {}: __metadata__ is {}, expected an object of strings", op, what,
            v.kind_name());
      for (const auto& [mk, mv] : v.object) {
        check(mv.is_string(), "{}: {}: __metadata__ value of \"{}\" is {}; metadata values must "
              "be strings", op, what, mk, mv.kind_name());
        file.metadata.emplace(mk, mv.string);
      }
      continue;
    }
    entries.push_back(parse_entry(key, v, buffer_size, src));
  }

  // The layout: sorted by position, the tensors must tile the buffer exactly.
  std::vector<const Entry*> order;
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::int64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : order) {
    if (e->begin < covered) {
      fail("{}: {}: tensor '{}' (data_offsets [{}, {}]) overlaps tensor '{}' (data_offsets [{}, "
           "{}])", op, what, e->name, e->begin, e->end, previous->name, previous->begin,
           previous->end);
    }
    check(e->begin == covered, "{}: {}: buffer bytes [{}, {}) are not covered by any tensor "
          "(a gap before tensor '{}')", op, what, covered, e->begin, e->name);
    covered = e->end;
    previous = e;
  }
  check(covered == buffer_size, "{}: {}: buffer bytes [{}, {}) are not covered by any tensor "
        "(trailing bytes after the last tensor)", op, what, covered, buffer_size);

  // Only now: allocate and read.
  const std::uint64_t base = 8 + n;
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, TensorOptions(*e.dtype->reel));
    std::size_t nbytes = static_cast<std::size_t>(e.end - e.begin);
    src.read(base + static_cast<std::uint64_t>(e.begin), t.raw_data(), nbytes);
    if (e.dtype->reel == kBool) {
      // A C++ bool holding anything but 0 or 1 is undefined behaviour: check the bytes.
      const auto* b = static_cast<const unsigned char*>(t.raw_data());
      for (std::size_t i = 0; i < nbytes; ++i) {
        check(b[i] <= 1, "{}: {}: tensor '{}' (BOOL): element {} is the byte {}, not 0 or 1", op,
              what, e.name, i, b[i]);
      }
    }
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

}  // namespace

std::string_view dtype_string(DType dtype) {
  switch (dtype) {
    case DType::Bool: return "BOOL";
    case DType::UInt8: return "U8";
    case DType::Int8: return "I8";
    case DType::Int16: return "I16";
    case DType::Int32: return "I32";
    case DType::Int64: return "I64";
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Float16: return "F16";
    case DType::BFloat16: return "BF16";
    case DType::Complex32:
    case DType::Complex64:
    case DType::Complex128: break;
  }
  fail("safetensors: {} has no safetensors dtype (safetensors has no complex type: save the real "
       "and imaginary parts as two tensors)", dtype);
}

std::string serialize(const TensorMap& tensors, const Metadata& metadata) {
  Prepared p = prepare(tensors, metadata, "serialize");
  std::string out = std::move(p.header);
  for (const Tensor& t : p.host) out.append(static_cast<const char*>(t.raw_data()), byte_size(t));
  return out;
}

void save_file(const TensorMap& tensors, const std::string& path, const Metadata& metadata) {
  // Everything that can fail on the tensors fails here, before the temp file exists.
  Prepared p = prepare(tensors, metadata, "save_file");
  serialize::AtomicFile out(path, "save_file");
  out.write(p.header);
  for (const Tensor& t : p.host) out.write(t.raw_data(), byte_size(t));
  out.commit();
}

File deserialize(std::string_view bytes, const std::string& what) {
  MemorySource src(bytes);
  src.op = "deserialize";
  src.what = what;
  return load(src);
}

File load_file(const std::string& path) {
  FileSource src(path);
  return load(src);
}

}  // namespace reel::safetensors
