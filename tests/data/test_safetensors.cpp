// safetensors files (serialize/safetensors.hpp), module save/load (serialize/module_io.hpp) and
// atomic writes (serialize/atomic_file.hpp).
//
// Expected bytes and headers are written out by hand from the safetensors spec; the PyTorch
// side comes from tests/data/safetensors/ (make_safetensors_golden.py wrote those files with
// torch 1.13; check_safetensors.py and torch_roundtrip.py read what the writer case here
// writes: CTest runs them after it, see tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using reel::test::check_error;
namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(REEL_TEST_DATA_DIR) + "/data/safetensors/";

// A fresh temporary directory, removed with everything in it at the end of the scope.
struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "reel_safetensors_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.is_open());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// Same dtype, shape and bytes (so -0.0 and nan payloads count).
void check_identical(const Tensor& got, const Tensor& want) {
  REQUIRE(got.defined());
  CHECK(got.dtype() == want.dtype());
  REQUIRE(got.sizes() == want.sizes());
  Tensor g = got.contiguous(), w = want.contiguous();
  CHECK(std::memcmp(g.raw_data(), w.raw_data(), g.numel() * g.element_size()) == 0);
}

// A header as the spec lays it out: 8-byte little-endian length, then the text.
std::string with_length(const std::string& header, std::uint64_t length) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(length >> (8 * i) & 0xFF);
  return out + header;
}
std::string file_of(const std::string& header, const std::string& buffer) {
  return with_length(header, header.size()) + buffer;
}

// --- the interchange model (make_safetensors_golden.py's Net) --------------------------------

struct NetImpl : nn::Module {
  NetImpl()
      : conv(nn::Conv1dOptions(3, 4, 3).padding(1)),
        bn(nn::BatchNorm1dOptions(4)),
        wconv(nn::utils::weight_norm(nn::Conv1d(nn::Conv1dOptions(4, 4, 2).dilation(2)))),
        fc(nn::LinearOptions(4, 5)) {
    register_module("conv", conv);
    register_module("bn", bn);
    register_module("wconv", wconv);
    register_module("fc", fc);
  }
  Tensor forward(const Tensor& x) {
    Tensor h = bn(conv(x)).relu();
    h = wconv(h).relu();
    return fc(h.mean({2}));
  }
  nn::Conv1d conv;
  nn::BatchNorm1d bn;
  nn::Conv1d wconv;
  nn::Linear fc;
};
struct Net : nn::ModuleHolder<NetImpl> {
  Net() : nn::ModuleHolder<NetImpl>(std::make_shared<NetImpl>()) {}
};

// make_safetensors_golden.py's known_values rule, in state_dict order.
void fill_known_values(nn::Module& m) {
  NoGradGuard guard;
  std::int64_t k = 0;
  for (auto& [name, t] : m.state_dict()) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (std::int64_t j = 0; j < t.numel(); ++j) {
      std::int64_t r = (37 * j + 11 * k) % 101;
      v[j] = name.ends_with("running_var") ? 1 + r / 128.0 : (r - 50) / 64.0;
    }
    if (name.ends_with("num_batches_tracked")) t.fill_(7);
    else t.copy_(tensor(v, t.sizes(), TensorOptions(kFloat64)));
    ++k;
  }
}

bool close(const Tensor& got, const Tensor& want, double rtol, double atol) {
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  if (g.size() != w.size()) return false;
  for (std::size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]))) return false;
  return true;
}

}  // namespace

using safetensors::Metadata;
using safetensors::TensorMap;

// --- the format, byte for byte ----------------------------------------------------------------

TEST_CASE("safetensors: serialize writes the spec's layout byte for byte") {
  // "b" before "a" in the map's construction: the file orders by name all the same.
  TensorMap m{{"b", tensor({1.5f, -2.0f})}, {"a", tensor({std::int64_t{3}})}};
  std::string bytes = safetensors::serialize(m, {{"k", "v"}});
  std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  header.append((8 - header.size() % 8) % 8, ' ');  // the buffer starts 8-byte aligned
  std::string buffer;
  std::int64_t three = 3;
  float b[2] = {1.5f, -2.0f};
  buffer.append(reinterpret_cast<const char*>(&three), 8);
  buffer.append(reinterpret_cast<const char*>(b), 8);
  CHECK(bytes == file_of(header, buffer));
  CHECK((8 + header.size()) % 8 == 0);

  // No tensors, no metadata: the empty object, padded.
  CHECK(safetensors::serialize({}) == file_of("{}      ", ""));
}

TEST_CASE("safetensors: every reel dtype round-trips bit for bit, with metadata") {
  manual_seed(3);
  Tensor f64 = randn({3, 4}, kFloat64);
  TensorMap m{
      {"f64", f64},
      {"f32", tensor({0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, 3.5f})},
      {"i64", tensor({std::int64_t{0}, INT64_MAX, INT64_MIN})},
      {"i32", tensor({0, 1, -1}, kInt32)},
      {"i16", tensor({std::int16_t{-32768}, std::int16_t{32767}})},
      {"i8", tensor({std::int8_t{-128}, std::int8_t{127}})},
      {"u8", tensor({std::uint8_t{0}, std::uint8_t{255}})},
      {"bool", tensor({true, false, true})},
      {"scalar", scalar_tensor(2.5)},
      {"empty", zeros({0, 3})},
      {"transposed", f64.t()},              // not contiguous: written in C order
      {"sliced", f64.slice(1, 1, 4, 2)},    // a strided view
      {"unicodé \"name\"\n", ones({2})},    // escapes and UTF-8 in names
  };
  Metadata meta{{"step", "10"}, {"text", "tab\t quote\" back\\slash é ✓ \x01"}, {"", ""}};
  safetensors::File f = safetensors::deserialize(safetensors::serialize(m, meta));
  CHECK(f.metadata == meta);
  REQUIRE(f.tensors.size() == m.size());
  for (const auto& [name, t] : m) {
    CAPTURE(name);
    REQUIRE(f.tensors.count(name) == 1);
    check_identical(f.tensors.at(name), t);
    CHECK(f.tensors.at(name).is_contiguous());
    CHECK(f.tensors.at(name).device().is_cpu());
  }
  // The loaded tensors own their memory: writing one leaves the source alone.
  f.tensors.at("f64").fill_(0);
  CHECK(f64.abs().sum().item<double>() > 0);
}

TEST_CASE("safetensors: float16 and bfloat16 are written as F16 and BF16 and read back bitwise") {
  // Values that need every part of the format: subnormals, -0, inf, a NaN.
  Tensor f = tensor(std::vector<float>{1.5f, -0.0f, 6e-8f, 65504.0f, INFINITY, NAN, 0.1f, -3.0f},
                    Shape{2, 4}, kFloat32);
  for (DType t : {kFloat16, kBFloat16}) {
    CAPTURE(t);
    Tensor h = f.to(t);
    const std::string bytes = safetensors::serialize({{"h", h}});
    CHECK(bytes.find(t == kFloat16 ? "\"dtype\":\"F16\"" : "\"dtype\":\"BF16\"") !=
          std::string::npos);
    safetensors::File back = safetensors::deserialize(bytes);
    check_identical(back.tensors.at("h"), h);
  }
}

TEST_CASE("safetensors: what can't be written raises, naming the tensor") {
  check_error([] { safetensors::serialize({{"z", zeros({2}, kComplex64)}}); },
              {"serialize", "'z'", "complex64", "no complex dtype", "real", "imag"});
  check_error([] { safetensors::serialize({{"z", zeros({2}, kComplex128)}}); },
              {"complex128", "float64"});
  check_error([] { safetensors::serialize({{"z", zeros({2}, kComplex32)}}); },
              {"complex32", "no complex dtype", "kComplex64"});
  check_error([] { safetensors::serialize({{"u", Tensor()}}); }, {"'u'", "undefined"});
  check_error([] { safetensors::serialize({{"__metadata__", zeros({1})}}); }, {"__metadata__"});
  check_error([] { safetensors::serialize({{"bad\xff", zeros({1})}}); }, {"UTF-8"});
  check_error([] { safetensors::serialize({}, {{"k", "\xc0\x80"}}); }, {"\"k\"", "UTF-8"});
  TempDir dir;
  // save_file fails before it creates anything: no file, no temp file.
  CHECK_THROWS_AS(safetensors::save_file({{"z", zeros({2}, kComplex64)}}, dir.file("c")), Error);
  CHECK(fs::is_empty(dir.path));
}

// --- reading files PyTorch wrote --------------------------------------------------------------

TEST_CASE("safetensors: PyTorch's dtypes load as PyTorch reads them") {
  safetensors::File f = safetensors::load_file(kDir + "dtypes.safetensors");
  CHECK(f.metadata == Metadata{{"note", "dtypes"}});
  const std::vector<std::pair<std::string, DType>> want = {
      {"f64", kFloat64}, {"f32", kFloat32}, {"f16", kFloat16}, {"bf16", kBFloat16},
      {"i64", kInt64},   {"i32", kInt32},   {"i16", kInt16},   {"i8", kInt8},
      {"u8", kUInt8},    {"bool", kBool},   {"scalar", kFloat32}, {"empty", kFloat32}};
  CHECK(f.tensors.size() == want.size());
  for (const auto& [name, dtype] : want) {
    CAPTURE(name);
    REQUIRE(f.tensors.count(name) == 1);
    Tensor got = f.tensors.at(name);
    Tensor npy = load_npy(kDir + "dtypes/" + name + ".npy");  // integers load as int64
    CHECK(got.dtype() == dtype);
    REQUIRE(got.sizes() == npy.sizes());
    if (is_floating(dtype)) {
      // torch's .float() of the half / bfloat16 values, bit for bit.
      check_identical(got.to(npy.dtype()), npy);
    } else if (dtype == kBool) {
      CHECK(got.to_vector<bool>() == npy.to_vector<bool>());
    } else {
      CHECK(got.to_vector<std::int64_t>() == npy.to_vector<std::int64_t>());
    }
  }
}

TEST_CASE("safetensors: PyTorch -> reel: a state_dict PyTorch saved loads into the same model") {
  safetensors::File f = safetensors::load_file(kDir + "torch_model.safetensors");
  CHECK(f.metadata == Metadata{{"format", "pt"}});
  Net net;
  auto names = net->state_dict();
  REQUIRE(f.tensors.size() == names.size());
  reel::load(net, kDir + "torch_model.safetensors");
  for (const auto& [name, t] : net->state_dict()) {
    CAPTURE(name);
    Tensor want = load_npy(kDir + "torch_state/" + name + ".npy");
    check_identical(f.tensors.at(name), want);
    if (name.ends_with("num_batches_tracked")) {
      CHECK(t.dtype() == kInt64);
      CHECK(t.item<std::int64_t>() == want.item<std::int64_t>());
    } else {
      check_identical(t, want);  // in the model itself
    }
  }
  net->eval();
  Tensor y = net(load_npy(kDir + "input.npy"));
  Tensor want = load_npy(kDir + "output.npy");
  REQUIRE(y.sizes() == want.sizes());
  CHECK(close(y, want, 1e-5, 1e-6));
}

TEST_CASE("safetensors: load checks the names (strict) and converts dtypes as copy_ does") {
  Net net;
  TempDir dir;
  std::string path = dir.file("m.safetensors");
  safetensors::File f = safetensors::load_file(kDir + "torch_model.safetensors");

  // A missing and an unexpected key: PyTorch's message, prefixed with the file.
  TensorMap partial = f.tensors;
  partial.erase("fc.bias");
  partial.emplace("fc.extra", zeros({1}));
  safetensors::save_file(partial, path);
  Tensor before = net->fc->weight.clone();
  check_error([&] { reel::load(net, path); },
              {"load: file '" + path + "'", "Error(s) in loading state_dict for Net",
               "Missing key(s) in state_dict: \"fc.bias\"",
               "Unexpected key(s) in state_dict: \"fc.extra\""});
  check_identical(net->fc->weight, before);  // nothing written
  auto keys = reel::load(net, path, /*strict=*/false);
  CHECK(keys.missing_keys == std::vector<std::string>{"fc.bias"});
  CHECK(keys.unexpected_keys == std::vector<std::string>{"fc.extra"});
  check_identical(net->fc->weight, f.tensors.at("fc.weight"));

  // A size mismatch raises even when not strict.
  TensorMap wrong = f.tensors;
  wrong["fc.weight"] = zeros({5, 3});
  safetensors::save_file(wrong, path);
  check_error([&] { reel::load(net, path, false); }, {"size mismatch for fc.weight"});

  // float64 values load into the float32 model (PyTorch's load_state_dict: copy_ casts).
  TensorMap wide;
  for (const auto& [name, t] : f.tensors) wide[name] = is_floating(t.dtype()) ? t.to(kFloat64) : t;
  safetensors::save_file(wide, path);
  Net other;
  reel::load(other, path);
  CHECK(other->conv->weight.dtype() == kFloat32);
  check_identical(other->conv->weight, f.tensors.at("conv.weight"));  // exact: float32 -> 64 -> 32
}

// --- reel -> PyTorch ------------------------------------------------------------------------

// Writes reel_model.safetensors (reel::save of Net with the known values) and reel_io.safetensors
// (an input and reel's output for it). Into $REEL_SAFETENSORS_OUT_DIR when set: CTest's
// safetensors_write test sets it, and check_safetensors.py (stdlib, always) and
// torch_roundtrip.py (where torch is) read the files from there. Otherwise into a temp dir.
TEST_CASE("safetensors: reel writes reel_model.safetensors for the Python checkers") {
  TempDir tmp;
  const char* env = std::getenv("REEL_SAFETENSORS_OUT_DIR");
  fs::path out = env ? fs::path(env) : tmp.path;
  fs::create_directories(out);
  Net net;
  fill_known_values(*net);
  std::string model_path = (out / "reel_model.safetensors").string();
  reel::save(net, model_path);

  // Read back: names, order of the bytes, values.
  safetensors::File f = safetensors::load_file(model_path);
  CHECK(f.metadata == Metadata{{"format", "pt"}});
  auto state = net->state_dict();
  REQUIRE(f.tensors.size() == state.size());
  for (const auto& [name, t] : state) check_identical(f.tensors.at(name), t);
  CHECK(f.tensors.at("bn.num_batches_tracked").item<std::int64_t>() == 7);
  CHECK(f.tensors.at("wconv.weight_g").sizes() == Shape{4, 1, 1});

  net->eval();
  Tensor x = load_npy(kDir + "input.npy");
  Tensor y = net(x);
  safetensors::save_file({{"input", x}, {"output", y}}, (out / "reel_io.safetensors").string());
  CHECK(fs::exists(out / "reel_io.safetensors"));
}

// --- malformed files ----------------------------------------------------------------------

TEST_CASE("safetensors: malformed headers raise reel::Error naming the field and values") {
  const std::string entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string buf8(8, '\0');
  auto bad = [](const std::string& bytes, std::initializer_list<std::string> parts) {
    check_error([&] { safetensors::deserialize(bytes, "f.st"); }, parts);
  };
  // The frame.
  bad("", {"deserialize", "f.st", "too short", "0 bytes"});
  bad(std::string(7, '\0'), {"too short", "7 bytes"});
  bad(with_length("{}", 100'000'001), {"header length is 100000001", "limit"});
  bad(with_length("{}", 3), {"header length is 3", "only 2 bytes follow"});
  bad(file_of("[]", ""), {"does not start with '{'"});
  bad(file_of("", ""), {"does not start with '{'"});
  // JSON.
  bad(file_of("{" + entry + "," + entry + "}", buf8 + buf8), {"duplicate key \"a\""});
  bad(file_of("{" + entry + "}x", buf8), {"after the end", "'x'"});
  bad(file_of("{" + entry + "}" + std::string(1, '\0'), buf8), {"after the end", "0x00"});
  bad(file_of("{" + entry, buf8), {"expected ',' or '}'"});
  bad(file_of(R"({"a\q":{}})", ""), {"invalid escape"});
  bad(file_of(R"({"\ud800":{}})", ""), {"surrogate"});
  bad(file_of("{\"\xff\":{}}", ""), {"invalid UTF-8"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", buf8),
      {"not fractions"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}})", buf8),
      {"leading zero"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})",
              buf8),
      {"does not fit in int64"});
  bad(file_of(std::string(100, '[') + std::string(100, ']'), ""), {"does not start"});
  bad(file_of("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", ""),
      {"nesting deeper"});
  // Entries.
  bad(file_of(R"({"a":[1]})", ""), {"tensor 'a'", "is an array, expected an object"});
  bad(file_of(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", buf8), {"'a'", "\"dtype\" is missing"});
  bad(file_of(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", buf8), {"\"shape\" is missing"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2]}})", buf8), {"\"data_offsets\" is missing"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", buf8),
      {"unknown field \"x\""});
  bad(file_of(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", buf8),
      {"'a'", "unknown dtype \"F31\""});
  bad(file_of(R"({"a":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", buf8),
      {"'a'", "dtype U16 is not supported by reel"});
  bad(file_of(R"({"a":{"dtype":3,"shape":[2],"data_offsets":[0,8]}})", buf8),
      {"dtype is an integer"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", buf8),
      {"shape[0] is -2"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", buf8),
      {"shape[0] is a string"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})", buf8),
      {"9 dimensions", "at most 8"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
              buf8),
      {"overflows int64"});
  bad(file_of(R"({"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})",
              buf8),
      {"2^63 bytes"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", buf8),
      {"data_offsets is an array of 1 items"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", buf8),
      {"data_offsets[0] is -8", "non-negative"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", buf8),
      {"[8, 0] end before they begin"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,8]}})", buf8),
      {"tensor 'a'", "[0, 8] hold 8 bytes", "shape [2, 3] of F32 needs 24"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", buf8),
      {"[0, 16] run past the end", "(8 bytes)"});
  // Layout.
  bad(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              buf8 + std::string(4, '\0')),
      {"tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])"});
  bad(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", buf8),
      {"buffer bytes [0, 4) are not covered", "gap before tensor 'a'"});
  bad(file_of("{" + entry + "}", buf8 + "xy"), {"buffer bytes [8, 10) are not covered"});
  bad(file_of("{}", "z"), {"buffer bytes [0, 1) are not covered"});
  // Metadata.
  bad(file_of(R"({"__metadata__":{"step":10}})", ""),
      {"__metadata__ value of \"step\" is an integer", "must be strings"});
  bad(file_of(R"({"__metadata__":["x"]})", ""), {"__metadata__ is an array"});
  // Values.
  bad(file_of(R"({"b":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)),
      {"tensor 'b' (BOOL): element 1 is the byte 2"});

  // Fine: padding spaces, whitespace inside, keys in any order, empty tensors sharing an offset.
  auto ok = safetensors::deserialize(file_of(
      R"({ "e" : {"shape":[0],"dtype":"F32","data_offsets":[8,8]}, )"
      R"("a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},)"
      R"("f":{"dtype":"I64","shape":[0,5],"data_offsets":[8,8]}}  )" "\n\t ",
      buf8));
  CHECK(ok.tensors.size() == 3);
  CHECK(ok.tensors.at("f").sizes() == Shape{0, 5});
}

TEST_CASE("safetensors: load_file names the file; a missing file is an error") {
  TempDir dir;
  std::string path = dir.file("cut.safetensors");
  std::string bytes = safetensors::serialize({{"w", ones({4, 4})}});
  write_bytes(path, bytes.substr(0, bytes.size() - 3));  // truncated
  check_error([&] { safetensors::load_file(path); },
              {"load_file", "file '" + path + "'", "tensor 'w'", "run past the end", "(61 bytes)"});
  check_error([&] { safetensors::load_file(dir.file("nope")); }, {"cannot open", "nope"});
  Net net;
  check_error([&] { reel::load(net, dir.file("nope")); }, {"cannot open"});
}

// --- fuzzing ---------------------------------------------------------------------------------

// Random mutations of a valid file: every outcome is a clean reel::Error or a valid File (whose
// tensors can be read whole), never a crash, a hang or another exception. The sanitizer build
// (REEL_SANITIZE) runs this too.
TEST_CASE("safetensors: fuzzed files give a clean error or a valid result") {
  manual_seed(11);
  TensorMap m{{"w", randn({3, 4})},
              {"b", randn({4}, kFloat64)},
              {"steps", tensor({std::int64_t{1}, std::int64_t{2}})},
              {"mask", tensor({true, false, true})},
              {"idx", tensor({std::int16_t{7}})},
              {"u", tensor({std::uint8_t{9}, std::uint8_t{10}})},
              {"s", scalar_tensor(1.0f)},
              {"e", zeros({0, 2})}};
  const std::string valid = safetensors::serialize(m, {{"format", "pt"}, {"step", "3"}});
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(valid[i]);
  const std::size_t header_end = 8 + static_cast<std::size_t>(n);

  std::mt19937_64 rng(1234);
  auto uniform = [&](std::size_t lo, std::size_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  auto set_length = [](std::string& s, std::uint64_t len) {
    for (int i = 0; i < 8 && i < static_cast<int>(s.size()); ++i)
      s[i] = static_cast<char>(len >> (8 * i) & 0xFF);
  };
  const std::vector<std::string> dtypes = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16",
                                           "I8",  "U8",  "BOOL", "U16", "C64", ""};
  const std::vector<std::string> numbers = {"0", "1", "-1", "8", "9223372036854775807",
                                            "9223372036854775808", "4294967296", "100000000",
                                            "2", "3", "1.5", "1e3"};
  int errors = 0, valid_results = 0;
  for (int iter = 0; iter < 1000; ++iter) {
    CAPTURE(iter);
    std::string s = valid;
    int rounds = static_cast<int>(uniform(1, 3));
    for (int r = 0; r < rounds; ++r) {
      switch (uniform(0, 6)) {
        case 0: {  // flip bits anywhere
          if (s.empty()) break;
          for (std::size_t k = uniform(1, 4); k > 0; --k)
            s[uniform(0, s.size() - 1)] ^= static_cast<char>(1 << uniform(0, 7));
          break;
        }
        case 1:  // flip bits in the data buffer only: usually still a valid file
          if (s.size() > header_end) s[uniform(header_end, s.size() - 1)] ^= static_cast<char>(1 << uniform(0, 7));
          break;
        case 2:  // truncate
          s.resize(uniform(0, s.size()));
          break;
        case 3: {  // lie about the header length
          std::uint64_t lie = uniform(0, 3) == 0 ? rng() : n + uniform(0, 16) - 8;
          set_length(s, lie);
          break;
        }
        case 4: {  // replace a number in the header
          std::size_t end = std::min(s.size(), header_end);
          std::vector<std::size_t> starts;
          for (std::size_t i = 8; i < end; ++i)
            if (std::isdigit(static_cast<unsigned char>(s[i])) &&
                !std::isdigit(static_cast<unsigned char>(s[i - 1])))
              starts.push_back(i);
          if (starts.empty()) break;
          std::size_t a = starts[uniform(0, starts.size() - 1)], b = a;
          while (b < s.size() && std::isdigit(static_cast<unsigned char>(s[b]))) ++b;
          std::string with = numbers[uniform(0, numbers.size() - 1)];
          s.replace(a, b - a, with);
          if (uniform(0, 1)) set_length(s, n + with.size() - (b - a));  // keep the frame
          break;
        }
        case 5: {  // replace a dtype
          for (const char* d : {"\"F32\"", "\"F64\"", "\"I64\"", "\"BOOL\"", "\"I16\"", "\"U8\""}) {
            auto at = s.find(d);
            if (at != std::string::npos && uniform(0, 2) == 0) {
              std::string with = "\"" + dtypes[uniform(0, dtypes.size() - 1)] + "\"";
              s.replace(at, std::strlen(d), with);
              if (uniform(0, 1)) set_length(s, n + with.size() - std::strlen(d));
              break;
            }
          }
          break;
        }
        case 6: {  // insert or delete a header byte (JSON structure)
          if (s.size() <= 9) break;
          std::size_t at = uniform(8, std::min(s.size(), header_end) - 1);
          if (uniform(0, 1)) s.erase(at, 1);
          else s.insert(at, 1, "{}[],:\" 0-\\"[uniform(0, 10)]);
          break;
        }
      }
    }
    try {
      safetensors::File f = safetensors::deserialize(s, "fuzz");
      for (const auto& [name, t] : f.tensors) {
        // Every element readable; the size the header promised.
        CHECK(t.is_contiguous());
        if (t.dtype() == kBool) (void)t.to_vector<bool>();
        else (void)t.to_vector<double>();
      }
      ++valid_results;
    } catch (const Error&) {
      ++errors;
    }
  }
  MESSAGE("fuzz: ", errors, " errors, ", valid_results, " valid results");
  CHECK(errors > 100);
  CHECK(valid_results > 10);
}

// --- atomic writes --------------------------------------------------------------------------

// The child side of the kill test: does nothing unless the parent exec'ed this binary with
// REEL_TEST_ATOMIC_CHILD_PATH set (and REEL_FAULT_WRITE_ABORT_AFTER_BYTES, so it dies mid-save).
TEST_CASE("safetensors: atomic child writer") {
  const char* path = std::getenv("REEL_TEST_ATOMIC_CHILD_PATH");
  if (!path) return;
  manual_seed(99);
  safetensors::save_file({{"new", randn({64, 64})}, {"z", zeros({10})}}, path, {{"v", "new"}});
}

namespace {
// Runs the child writer in a fresh process (fork + exec of this test binary) with the fault
// point at `abort_after` bytes; returns its pid and wait status.
std::pair<pid_t, int> run_child_writer(const std::string& path, std::int64_t abort_after) {
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("REEL_TEST_ATOMIC_CHILD_PATH", path.c_str(), 1);
    ::setenv("REEL_FAULT_WRITE_ABORT_AFTER_BYTES", std::to_string(abort_after).c_str(), 1);
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0) { ::dup2(devnull, 1); ::dup2(devnull, 2); }
    std::string filter = "--test-case=safetensors: atomic child writer";
    char* argv[] = {exe.data(), filter.data(), nullptr};
    ::execv(exe.c_str(), argv);
    ::_exit(127);  // exec failed
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return {pid, status};
}
}  // namespace

TEST_CASE("safetensors: a writer killed mid-save leaves the previous file intact") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  safetensors::save_file({{"old", arange(6, TensorOptions(kFloat32))}}, path, {{"v", "old"}});
  const std::string old_bytes = read_bytes(path);
  manual_seed(99);  // what the child writes, to compare the torn temp file with
  const std::string new_bytes =
      safetensors::serialize({{"new", randn({64, 64})}, {"z", zeros({10})}}, {{"v", "new"}});
  REQUIRE(new_bytes.size() > 16000);

  for (std::int64_t n : {std::int64_t{0}, std::int64_t{5}, std::int64_t{100},
                         static_cast<std::int64_t>(new_bytes.size() / 2),
                         static_cast<std::int64_t>(new_bytes.size() - 1)}) {
    CAPTURE(n);
    auto [pid, status] = run_child_writer(path, n);
    // The child really died at the fault point...
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == serialize::kFaultExitStatus);
    // ...after writing exactly n bytes of the new file into its temp file: a writer that wrote
    // over `path` in place would have left exactly this torn file, which doesn't load.
    std::string temp = path + ".tmp." + std::to_string(pid);
    REQUIRE(fs::exists(temp));
    std::string torn = read_bytes(temp);
    CHECK(torn == new_bytes.substr(0, static_cast<std::size_t>(n)));
    CHECK_THROWS_AS(safetensors::deserialize(torn), Error);
    // The path still holds the old file, whole.
    CHECK(read_bytes(path) == old_bytes);
    safetensors::File f = safetensors::load_file(path);
    CHECK(f.metadata.at("v") == "old");
    CHECK(f.tensors.at("old").to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  }

  // Five dead writers, five stale temp files.
  auto count_temps = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir.path))
      n += e.path().filename().string().starts_with("model.safetensors.tmp.");
    return n;
  };
  CHECK(count_temps() == 5);

  // A fault point past the end of the file: the child completes its save, undisturbed by the
  // stale temp files, and removes them (their processes are gone).
  auto [pid, status] = run_child_writer(path, static_cast<std::int64_t>(new_bytes.size()) + 10);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_bytes(path) == new_bytes);
  CHECK(safetensors::load_file(path).metadata.at("v") == "new");
  CHECK(count_temps() == 0);

  // A stale temp file under this very process's name (a pid reused) is truncated, not appended
  // to, by the next save.
  write_bytes(path + ".tmp." + std::to_string(::getpid()), std::string(100000, 'x'));
  safetensors::save_file({{"next", ones({2})}}, path);
  CHECK(safetensors::load_file(path).tensors.at("next").to_vector<float>() ==
        std::vector<float>{1, 1});
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.path)) left.push_back(e.path().filename());
  CHECK(left == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("safetensors: the fault-injection variable is validated; a failed save leaves no temp") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  ::setenv("REEL_FAULT_WRITE_ABORT_AFTER_BYTES", "12x", 1);
  std::string msg = test::error_of([&] { safetensors::save_file({{"a", ones({1})}}, path); });
  ::unsetenv("REEL_FAULT_WRITE_ABORT_AFTER_BYTES");
  CHECK(msg.find("REEL_FAULT_WRITE_ABORT_AFTER_BYTES") != std::string::npos);
  CHECK(msg.find("'12x'") != std::string::npos);
  CHECK(fs::is_empty(dir.path));
  // A directory that doesn't exist: the temp file can't be made, the error names both paths.
  check_error([&] { safetensors::save_file({{"a", ones({1})}}, dir.file("no/such/m.st")); },
              {"save_file", "cannot create the temporary file", "no/such/m.st.tmp."});
  // The path is a directory: rename fails, the temp file is removed.
  fs::create_directory(dir.file("d"));
  fs::create_directory(dir.file("d/x"));
  check_error([&] { safetensors::save_file({{"a", ones({1})}}, dir.file("d")); },
              {"renaming", "failed"});
  CHECK_FALSE(fs::exists(dir.file("d.tmp." + std::to_string(::getpid()))));
}

TEST_CASE("safetensors: JSON escapes in names and metadata decode to UTF-8") {
  // \u00e9 = é, \ud83d\ude00 = U+1F600 (a surrogate pair), \/ and \" and \\ and \n.
  std::string header =
      R"({"__metadata__":{"k\/\"\\":"line\nnext \u00e9"},)"
      R"("caf\u00e9\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  safetensors::File f = safetensors::deserialize(file_of(header, "\x05"));
  CHECK(f.metadata == Metadata{{"k/\"\\", "line\nnext \xc3\xa9"}});
  REQUIRE(f.tensors.count("caf\xc3\xa9\xf0\x9f\x98\x80") == 1);
  CHECK(f.tensors.at("caf\xc3\xa9\xf0\x9f\x98\x80").to_vector<std::int64_t>() ==
        std::vector<std::int64_t>{5});
  // Overlong and surrogate UTF-8 encodings are not UTF-8.
  CHECK_FALSE(serialize::json::valid_utf8("\xc0\xaf"));
  CHECK_FALSE(serialize::json::valid_utf8("\xed\xa0\x80"));
  CHECK_FALSE(serialize::json::valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK(serialize::json::valid_utf8("\xf4\x8f\xbf\xbf"));
}

TEST_CASE("safetensors: reel::save adds the caller's metadata to format=pt; write_file_atomic") {
  TempDir dir;
  Net net;
  reel::save(net, dir.file("m.safetensors"), {{"epoch", "3"}});
  CHECK(safetensors::load_file(dir.file("m.safetensors")).metadata ==
        Metadata{{"epoch", "3"}, {"format", "pt"}});
  // A module holding one tensor under two names writes it under each; both load.
  struct Tied : nn::Module {
    Tied() {
      w = register_parameter("a", ones({2}));
      register_parameter("b", w);
    }
    Tensor w;
  };
  Tied tied;
  reel::save(tied, dir.file("t.safetensors"));
  auto f = safetensors::load_file(dir.file("t.safetensors"));
  CHECK(f.tensors.size() == 2);
  Tied other;
  { NoGradGuard g; other.w.fill_(0); }
  reel::load(other, dir.file("t.safetensors"));
  CHECK(other.w.to_vector<float>() == std::vector<float>{1, 1});

  serialize::write_file_atomic(dir.file("raw"), "hello", "test");
  CHECK(read_bytes(dir.file("raw")) == "hello");
  serialize::write_file_atomic(dir.file("raw"), "", "test");
  CHECK(read_bytes(dir.file("raw")).empty());
}
