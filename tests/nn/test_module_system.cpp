// The module system (modules/named_modules/apply, repr, load_state_dict), the containers
// (Sequential, ModuleList, ModuleDict), nn::init and nn::utils. Names, state_dict keys and
// printouts are checked against PyTorch's own (tests/nn/golden/module/, made by
// make_module_golden.py from the same models built in torch); weight_norm and clip_grad_norm_
// against PyTorch's numbers; the random initialisers statistically.
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using reel::test::check_error;
using reel::test::check_values;
using reel::test::error_of;
using nn::Conv1d;
using nn::Conv1dOptions;

namespace {

const std::string kDir = std::string(REEL_TEST_DATA_DIR) + "/nn/golden/module/";

std::string read_text(const std::string& name) {
  std::ifstream f(kDir + name);
  REQUIRE_MESSAGE(f.good(), "missing golden file ", name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> read_lines(const std::string& name) {
  std::istringstream in(read_text(name));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

Tensor golden(const std::string& name) { return load_npy(kDir + name); }

template <typename Named>
std::vector<std::string> names_of(const Named& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

// got == want within rtol/atol (PyTorch's allclose), with a readable failure.
void check_close(const Tensor& got, const Tensor& want, double rtol, double atol = 0.0) {
  REQUIRE(got.defined());
  REQUIRE(got.sizes() == want.sizes());
  Tensor g = got.detach().to(want.dtype()).contiguous();
  CHECK_MESSAGE(allclose(g, want, rtol, atol), "got ", g.str(), "\nwant ", want.str());
}

// The models of make_module_golden.py's build_models(), in reel.
struct NetImpl : nn::Module {
  NetImpl() {
    conv = register_module("conv", Conv1d(Conv1dOptions(3, 8, 5).padding(2)));
    blocks = register_module("blocks", nn::ModuleList());
    for (int i = 0; i < 2; ++i) {
      blocks->push_back(nn::Sequential(Conv1d(Conv1dOptions(8, 8, 3).padding(1)),
                                       Conv1d(Conv1dOptions(8, 8, 1))));
    }
    heads = register_module("heads", nn::ModuleDict());
    heads->insert("mean", Conv1d(Conv1dOptions(8, 1, 1)));
    heads->insert("logvar", Conv1d(Conv1dOptions(8, 1, 1)));
  }
  Conv1d conv{nullptr};
  nn::ModuleList blocks{nullptr};
  nn::ModuleDict heads{nullptr};
};

std::shared_ptr<nn::Module> build_model(const std::string& name) {
  if (name == "seq") {
    return nn::Sequential(Conv1d(Conv1dOptions(2, 4, 3)), Conv1d(Conv1dOptions(4, 4, 1).bias(false)))
        .ptr();
  }
  if (name == "nested") {
    nn::ModuleDict dict;
    dict->insert("head", Conv1d(Conv1dOptions(2, 1, 1)));
    dict->insert("aux", Conv1d(Conv1dOptions(2, 3, 3).padding(1).padding_mode("circular")));
    return nn::Sequential(
               Conv1d(Conv1dOptions(2, 4, 3).stride(2).padding(1)),
               nn::Sequential(Conv1d(Conv1dOptions(4, 4, 1)), Conv1d(Conv1dOptions(4, 2, 1).groups(2))),
               nn::ModuleList(Conv1d(Conv1dOptions(2, 2, 1)), Conv1d(Conv1dOptions(2, 2, 3).dilation(2))),
               dict)
        .ptr();
  }
  if (name == "empty_seq") return nn::Sequential().ptr();
  if (name == "empty_list") return nn::ModuleList().ptr();
  if (name == "empty_dict") return nn::ModuleDict().ptr();
  if (name == "net") return std::make_shared<NetImpl>();
  if (name == "wn_seq") {
    return nn::Sequential(nn::utils::weight_norm(Conv1d(Conv1dOptions(2, 3, 2))),
                          Conv1d(Conv1dOptions(3, 1, 1)))
        .ptr();
  }
  FAIL("unknown model " << name);
  return nullptr;
}

// A module whose registration the test drives from outside (registration is public).
struct Bag : nn::Module {
  std::string repr() const override { return "Bag()"; }
};
struct Plain : nn::Module {};
struct ThingImpl : nn::Module {};

}  // namespace

// --- names, keys, printouts against PyTorch ------------------------------------------------

TEST_CASE("Module system: names, state_dict keys and repr equal PyTorch's for the same models") {
  for (const std::string name : {"seq", "nested", "empty_seq", "empty_list", "empty_dict", "net", "wn_seq"}) {
    CAPTURE(name);
    auto model = build_model(name);
    CHECK(names_of(model->state_dict()) == read_lines("keys_" + name + ".txt"));
    CHECK(names_of(model->named_parameters()) == read_lines("params_" + name + ".txt"));
    CHECK(names_of(model->named_modules()) == read_lines("modules_" + name + ".txt"));
    CHECK(model->pretty() == read_text("repr_" + name + ".txt"));
    std::ostringstream os;
    os << *model;
    CHECK(os.str() == model->pretty());
    if (name == "seq") {
      std::ostringstream via_holder;
      via_holder << nn::Sequential(std::dynamic_pointer_cast<nn::SequentialImpl>(model));
      CHECK(via_holder.str() == read_text("repr_seq.txt"));
    }
  }
}

TEST_CASE("Module system: repr defaults to the class name without Impl; leaves print on one line") {
  CHECK(Plain().repr() == "Plain()");
  CHECK(ThingImpl().repr() == "Thing()");
  CHECK(ThingImpl().name() == "Thing");
  CHECK(nn::Sequential()->name() == "Sequential");
  Conv1d conv(Conv1dOptions(2, 4, 3));
  CHECK(conv->pretty() == conv->repr());
  // a module with children and its own extra_repr: the extra line first, as PyTorch
  struct Wrapped : nn::Module {
    Wrapped() { register_module("inner", Conv1d(Conv1dOptions(1, 1, 1))); }
    std::string repr() const override { return "Wrapped(scale=2)"; }
  };
  CHECK(Wrapped().pretty() ==
        "Wrapped(\n  scale=2\n  (inner): Conv1d(1, 1, kernel_size=(1,), stride=(1,))\n)");
}

// --- the tree walks ------------------------------------------------------------------------

TEST_CASE("Module system: modules, named_modules, children, apply") {
  auto net = std::make_shared<NetImpl>();
  auto named = net->named_modules();
  REQUIRE(named.size() == 12);
  CHECK(named[0].first == "");
  CHECK(named[0].second.get() == net.get());
  CHECK(named[1].second.get() == net->conv.get());
  CHECK(names_of(net->named_modules("model", true))[0] == "model");
  CHECK(names_of(net->named_modules("model", true))[3] == "model.blocks.0");
  CHECK(names_of(net->named_modules("", false))[0] == "conv");
  CHECK(net->modules().size() == 12);
  CHECK(net->modules(false).size() == 11);
  CHECK(net->children().size() == 3);
  CHECK(names_of(net->named_children()) == std::vector<std::string>{"conv", "blocks", "heads"});

  // a module on the stack hands itself out without an owner
  NetImpl on_stack;
  CHECK(on_stack.modules()[0].get() == &on_stack);

  // a module registered twice is listed once, under its first name (PyTorch's memo)
  Bag bag;
  Conv1d shared(Conv1dOptions(1, 1, 1));
  bag.register_module("a", shared);
  bag.register_module("b", shared);
  CHECK(names_of(bag.named_modules()) == std::vector<std::string>{"", "a"});
  CHECK(bag.named_parameters().size() == 2);
  int applied = 0;
  bag.apply([&](nn::Module&) { ++applied; });
  CHECK(applied == 2);  // the shared child once, as PyTorch's children()

  // apply: children first, then the module (PyTorch's order)
  auto seq = build_model("seq");
  std::vector<std::string> visited;
  seq->apply([&](nn::Module& m) { visited.push_back(m.name()); });
  CHECK(visited == std::vector<std::string>{"Conv1d", "Conv1d", "Sequential"});
  std::vector<std::string> paths;
  net->apply([&](const std::string& path, nn::Module&) { paths.push_back(path); });
  CHECK(paths == std::vector<std::string>{"conv", "blocks.0.0", "blocks.0.1", "blocks.0", "blocks.1.0",
                                          "blocks.1.1", "blocks.1", "blocks", "heads.mean",
                                          "heads.logvar", "heads", ""});
  // apply can initialise every Conv1d
  net->apply([](nn::Module& m) {
    if (auto* c = dynamic_cast<nn::Conv1dImpl*>(&m)) nn::init::zeros_(c->weight);
  });
  for (auto& [n, p] : net->named_parameters()) {
    if (n.ends_with("weight")) CHECK(max(abs(p)).item<double>() == 0.0);
  }
}

TEST_CASE("Module system: zero_grad reaches every descendant") {
  auto net = std::make_shared<NetImpl>();
  Tensor x = randn({2, 3, 6});
  Tensor h = net->conv(x);
  for (const auto& block : *net->blocks) h = std::dynamic_pointer_cast<nn::SequentialImpl>(block)->forward(h);
  Tensor y = net->heads->ptr<nn::Conv1dImpl>("mean")->forward(h);
  (y.sum() + net->heads->ptr<nn::Conv1dImpl>("logvar")->forward(h).sum()).backward();
  for (auto& p : net->parameters()) CHECK(p.grad().defined());
  net->zero_grad();
  for (auto& p : net->parameters()) CHECK(!p.grad().defined());
}

// --- containers ----------------------------------------------------------------------------

TEST_CASE("Sequential: forward chains, indexing, typed access, names") {
  manual_seed(3);
  Conv1d a(Conv1dOptions(2, 4, 3)), b(Conv1dOptions(4, 1, 1));
  nn::Sequential seq(a, b);
  Tensor x = randn({2, 2, 7});
  CHECK(equal(seq(x), b(a(x))));
  CHECK(seq->size() == 2);
  CHECK((*seq)[0].get() == a.get());
  CHECK((*seq)[-1].get() == b.get());
  CHECK(seq->ptr<nn::Conv1dImpl>(1)->weight.is_same(b->weight));
  check_error([&] { (*seq)[2]; }, {"Sequential", "index 2 is out of range"});
  check_error([&] { (*seq)[-3]; }, {"out of range"});
  check_error([&] { seq->ptr<nn::SequentialImpl>(0); }, {"Sequential", "Conv1d"});

  nn::Sequential named;
  named->push_back("first", a);
  named->push_back(b.ptr());
  CHECK(names_of(named->named_children()) == std::vector<std::string>{"first", "1"});
  check_error([&] { named->push_back("first", b); }, {"attribute 'first' already exists"});
  check_error([&] { named->push_back("a.b", b); }, {"can't contain \".\""});
  // an empty Sequential passes its input through, as PyTorch
  CHECK(nn::Sequential()->forward(x).is_same(x));
  // holding a module without forward(Tensor) is fine; running into it raises
  nn::Sequential with_list(a, nn::ModuleList(b));
  check_error([&] { with_list(x); }, {"Sequential", "'1'", "ModuleList"});
  // nested Sequentials chain too
  nn::Sequential outer(nn::Sequential(a), b);
  CHECK(equal(outer(x), b(a(x))));
}

TEST_CASE("ModuleList and ModuleDict") {
  Conv1d a(Conv1dOptions(1, 2, 1)), b(Conv1dOptions(2, 2, 1)), c(Conv1dOptions(2, 3, 1));
  nn::ModuleList list(a, b);
  list->push_back(c.ptr());
  CHECK(list->size() == 3);
  CHECK((*list)[-1].get() == c.get());
  std::vector<nn::Module*> seen;
  for (const auto& m : *list) seen.push_back(m.get());
  CHECK(seen == std::vector<nn::Module*>{a.get(), b.get(), c.get()});
  nn::ModuleList more;
  more->extend(*list);
  more->extend(*more);  // by itself: doubles, as Python's list.extend(self)
  CHECK(more->size() == 6);
  CHECK(names_of(more->named_children()).back() == "5");
  CHECK(more->parameters().size() == 6);  // shared modules: each parameter once
  CHECK(names_of(more->state_dict()).size() == 12);
  check_error([&] { (*list)[3]; }, {"ModuleList", "out of range"});
  check_error([&] { list->ptr<nn::SequentialImpl>(0); }, {"ModuleList"});

  nn::ModuleDict dict;
  dict->insert("b", b);
  dict->insert("a", a);
  CHECK(dict->keys() == std::vector<std::string>{"b", "a"});
  dict->insert("b", c);  // replaces in place: order kept
  CHECK(dict->keys() == std::vector<std::string>{"b", "a"});
  CHECK((*dict)["b"].get() == c.get());
  CHECK(dict->contains("a"));
  CHECK(!dict->contains("z"));
  CHECK(dict->values()[1].get() == a.get());
  CHECK(names_of(dict->state_dict()) ==
        std::vector<std::string>{"b.weight", "b.bias", "a.weight", "a.bias"});
  dict->update({{"z", b.ptr()}, {"a", b.ptr()}});
  CHECK(dict->keys() == std::vector<std::string>{"b", "a", "z"});
  CHECK(dict->pop("a").get() == b.get());
  CHECK(dict->keys() == std::vector<std::string>{"b", "z"});
  check_error([&] { (*dict)["a"]; }, {"ModuleDict", "'a'"});
  check_error([&] { dict->insert("x.y", a); }, {"can't contain \".\""});
  dict->clear();
  CHECK(dict->size() == 0);
}

// --- load_state_dict -----------------------------------------------------------------------

TEST_CASE("load_state_dict: round trip in place, with dtype cast") {
  manual_seed(4);
  auto src = build_model("net");
  auto dst = std::make_shared<NetImpl>();
  Tensor held = dst->conv->weight;
  auto version = held.version();
  auto result = dst->load_state_dict(src->state_dict());
  CHECK(result.missing_keys.empty());
  CHECK(result.unexpected_keys.empty());
  CHECK(held.is_same(dst->conv->weight));  // the handle stays
  CHECK(held.version() != version);
  CHECK(held.requires_grad());
  auto want = src->state_dict(), got = dst->state_dict();
  REQUIRE(want.size() == got.size());
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(equal(got[i].second, want[i].second));

  // a float64 checkpoint into a float32 model: cast as copy_
  nn::StateDict sd64;
  for (auto& [k, t] : src->state_dict()) sd64.emplace_back(k, t.to(kFloat64) * 2.0);
  dst->load_state_dict(sd64);
  CHECK(dst->conv->weight.dtype() == kFloat32);
  check_close(dst->conv->weight, sd64[0].second, 1e-6);
  // the loaded values are not on the tape
  CHECK(dst->conv->weight.is_leaf());
}

TEST_CASE("load_state_dict: PyTorch's errors, and nothing written when it raises") {
  auto model = build_model("seq");  // 0.weight (4,2,3), 0.bias (4), 1.weight (4,4,1)
  auto before = model->state_dict();
  std::vector<Tensor> saved;
  for (auto& [k, t] : before) saved.push_back(t.clone());
  auto unchanged = [&] {
    auto now = model->state_dict();
    for (std::size_t i = 0; i < now.size(); ++i) CHECK(equal(now[i].second, saved[i]));
  };

  nn::StateDict sd = {{"0.weight", zeros({3, 2})}, {"1.weight", zeros({4, 4, 1})}, {"x", zeros({1})}};
  // strict: missing, unexpected, size mismatch, in PyTorch's order and words
  CHECK(error_of([&] { model->load_state_dict(sd); }) ==
        "Error(s) in loading state_dict for Sequential:\n"
        "\tMissing key(s) in state_dict: \"0.bias\". \n"
        "\tUnexpected key(s) in state_dict: \"x\". \n"
        "\tsize mismatch for 0.weight: copying a param with shape [3, 2] from checkpoint, the "
        "shape in current model is [4, 2, 3].");
  unchanged();
  // non-strict: the size mismatch still raises
  CHECK(error_of([&] { model->load_state_dict(sd, false); }) ==
        "Error(s) in loading state_dict for Sequential:\n"
        "\tsize mismatch for 0.weight: copying a param with shape [3, 2] from checkpoint, the "
        "shape in current model is [4, 2, 3].");
  unchanged();

  // non-strict without mismatches: loads what matches, reports the rest
  nn::StateDict partial = {{"1.weight", ones({4, 4, 1})}, {"2.weight", zeros({1})}, {"1.bias", zeros({4})}};
  auto result = model->load_state_dict(partial, false);
  CHECK(result.missing_keys == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(result.unexpected_keys == std::vector<std::string>{"2.weight", "1.bias"});
  CHECK(equal(model->named_parameters()[2].second, ones({4, 4, 1})));
  // strict with only missing keys: PyTorch's line, and nothing loaded
  nn::StateDict restore;
  for (std::size_t i = 0; i < before.size(); ++i) restore.emplace_back(before[i].first, saved[i]);
  model->load_state_dict(restore);  // (`before` shares storage with the model: it changed too)
  unchanged();
  CHECK(error_of([&] { model->load_state_dict(partial); }) ==
        "Error(s) in loading state_dict for Sequential:\n"
        "\tMissing key(s) in state_dict: \"0.weight\", \"0.bias\". \n"
        "\tUnexpected key(s) in state_dict: \"2.weight\", \"1.bias\". ");
  unchanged();

  // an undefined entry, and a value copy_ can't make (complex into real) name the key
  check_error([&] { model->load_state_dict({{"0.bias", Tensor()}}, false); },
              {"While copying the parameter named \"0.bias\""});
  // a child's error names the top module's class; buffers: non-persistent ones are unexpected
  Bag bag;
  bag.register_buffer("kept", zeros({2}));
  bag.register_buffer("scratch", zeros({2}), /*persistent=*/false);
  auto r = bag.load_state_dict({{"kept", ones({2})}, {"scratch", ones({2})}}, false);
  CHECK(r.unexpected_keys == std::vector<std::string>{"scratch"});
  CHECK(equal(bag.buffers()[0], ones({2})));
  CHECK(equal(bag.buffers()[1], zeros({2})));
  // PyTorch's backward compatibility: a 1-element 1-D entry loads into a 0-dim tensor
  bag.register_parameter("scale", zeros({}));
  bag.load_state_dict({{"kept", ones({2})}, {"scale", full({1}, 3.0)}});
  CHECK(bag.parameters()[0].item<double>() == 3.0);
}

// --- nn::init ------------------------------------------------------------------------------

TEST_CASE("init: calculate_gain is PyTorch's table") {
  using nn::init::calculate_gain;
  for (const char* linear : {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                             "conv_transpose2d", "conv_transpose3d", "sigmoid"}) {
    CHECK(calculate_gain(linear) == 1.0);
  }
  CHECK(calculate_gain("tanh") == 5.0 / 3);
  CHECK(calculate_gain("relu") == std::sqrt(2.0));
  CHECK(calculate_gain("leaky_relu") == std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  CHECK(calculate_gain("leaky_relu", 0.2) == std::sqrt(2.0 / 1.04));
  CHECK(calculate_gain("leaky_relu", 0.0) == std::sqrt(2.0));
  CHECK(calculate_gain("selu") == 0.75);
  check_error([] { calculate_gain("softplus"); }, {"Unsupported nonlinearity softplus"});
}

namespace {
// mean and variance of a large tensor's values
std::pair<double, double> moments(const Tensor& t) {
  auto v = t.to(kFloat64).contiguous().to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) s += (x - m) * (x - m);
  return {m, s / static_cast<double>(v.size() - 1)};
}
}  // namespace

TEST_CASE("init: the random initialisers have their distributions' moments and bounds") {
  manual_seed(5);
  using namespace nn::init;
  const std::int64_t n = 200000;
  // For n draws with variance s2, the sample mean has sd sqrt(s2/n): 6 sd is the limit here;
  // the sample variance of a normal has relative sd sqrt(2/n) (~0.3%): a 3% limit.
  auto check_normal = [&](const Tensor& t, double mean, double std) {
    auto [m, v] = moments(t);
    CHECK(std::abs(m - mean) < 6 * std / std::sqrt(double(n)));
    CHECK(v == doctest::Approx(std * std).epsilon(0.03));
  };
  auto check_uniform = [&](const Tensor& t, double bound) {
    CHECK(max(t).item<double>() <= bound);
    CHECK(min(t).item<double>() >= -bound);
    CHECK(max(t).item<double>() > 0.99 * bound);
    auto [m, v] = moments(t);
    CHECK(std::abs(m) < 6 * bound / std::sqrt(3.0 * n));
    CHECK(v == doctest::Approx(bound * bound / 3).epsilon(0.03));
  };

  Tensor t = empty({n});
  normal_(t, 2.0, 3.0);
  check_normal(t, 2.0, 3.0);
  uniform_(t, -0.5, 0.5);
  check_uniform(t, 0.5);

  // weights (out, in, k) = (400, 100, 5): fan_in 500, fan_out 2000
  Tensor w = empty({400, 100, 5});
  REQUIRE(w.numel() == n);
  xavier_uniform_(w, 2.0);
  check_uniform(w, 2.0 * std::sqrt(6.0 / 2500));
  xavier_normal_(w);
  check_normal(w, 0.0, std::sqrt(2.0 / 2500));
  kaiming_uniform_(w);  // leaky_relu with a = 0: gain sqrt(2)
  check_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 500));
  kaiming_uniform_(w, 0.0, kFanOut, "relu");
  check_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 2000));
  kaiming_normal_(w, 0.0, kFanIn, "relu");
  check_normal(w, 0.0, std::sqrt(2.0 / 500));
  kaiming_normal_(w, 0.0, kFanOut, "tanh");
  check_normal(w, 0.0, 5.0 / 3 / std::sqrt(2000.0));
  kaiming_uniform_(w, std::sqrt(5.0));  // what Conv1d uses: bound 1/sqrt(fan_in)
  check_uniform(w, 1.0 / std::sqrt(500.0));

  // trunc_normal_: inside [a, b], and the truncated normal's variance
  Tensor tn = empty({n}, TensorOptions(kFloat64));
  trunc_normal_(tn, 0.0, 1.0, -1.0, 1.0);
  CHECK(max(tn).item<double>() <= 1.0);
  CHECK(min(tn).item<double>() >= -1.0);
  // Var of N(0,1) truncated to [-1, 1]: 1 - 2 phi(1) / (2 Phi(1) - 1)
  const double phi1 = std::exp(-0.5) / std::sqrt(2 * M_PI);
  const double mass = std::erf(1.0 / std::sqrt(2.0));
  CHECK(moments(tn).second == doctest::Approx(1 - 2 * phi1 / mass).epsilon(0.03));

  // complex: each part carries half the variance
  Tensor z = empty({n}, TensorOptions(kComplex128));
  normal_(z, 0.0, 2.0);
  CHECK(moments(real(z)).second == doctest::Approx(2.0).epsilon(0.03));
  CHECK(moments(imag(z)).second == doctest::Approx(2.0).epsilon(0.03));
}

TEST_CASE("init: constant_, zeros_, ones_, eye_, and the errors PyTorch raises") {
  using namespace nn::init;
  Tensor w = empty({3, 4}).requires_grad_(true);
  Tensor handle = w;
  constant_(w, 2.5);
  CHECK(equal(w.detach(), full({3, 4}, 2.5)));
  CHECK(w.is_leaf());  // not recorded
  zeros_(w);
  CHECK(equal(w.detach(), zeros({3, 4})));
  ones_(w);
  CHECK(equal(w.detach(), ones({3, 4})));
  eye_(w);
  CHECK(equal(w.detach(), eye(3, 4)));
  CHECK(handle.is_same(w));

  check_error([] { xavier_uniform_(empty({5})); }, {"fewer than 2 dimensions"});
  check_error([] { kaiming_normal_(empty({5})); }, {"fewer than 2 dimensions"});
  check_error([] { orthogonal_(empty({5})); }, {"orthogonal_", "2 or more dimensions"});
  check_error([] { eye_(empty({2, 2, 2})); }, {"eye_", "2 dimensions"});
  check_error([] { kaiming_uniform_(empty({2, 2}), 0.0, kFanIn, "swish"); },
              {"Unsupported nonlinearity swish"});
  check_error([] { normal_(empty({2}, TensorOptions(kInt64))); }, {"normal_", "floating"});
  check_error([] { normal_(empty({2}), 0.0, -1.0); }, {"normal_", "std"});
  check_error([] { uniform_(empty({2}), 1.0, 0.0); }, {"uniform_"});
  check_error([] { trunc_normal_(empty({2}), 0.0, 1.0, 1.0, -1.0); }, {"trunc_normal_"});
  // zero-element tensors are a no-op, as PyTorch
  kaiming_uniform_(empty({0, 3}));
  orthogonal_(empty({0, 3}));
}

TEST_CASE("init: orthogonal_ gives orthonormal rows or columns, times gain") {
  manual_seed(6);
  auto check_orthonormal = [](const Tensor& flat, double gain) {
    // rows <= cols: W W^T = gain^2 I; rows > cols: W^T W = gain^2 I
    Tensor w = flat.to(kFloat64);
    bool wide = w.size(0) <= w.size(1);
    Tensor gram = wide ? matmul(w, w.t()) : matmul(w.t(), w);
    Tensor id = eye(gram.size(0), std::nullopt, TensorOptions(kFloat64)) * (gain * gain);
    CHECK(max(abs(gram - id)).item<double>() < 1e-5 * gain * gain);
  };
  for (Shape shape : {Shape{4, 7}, Shape{7, 4}, Shape{5, 5}, Shape{3, 2, 4}, Shape{10, 1}}) {
    CAPTURE(shape);
    Tensor w = empty(shape);
    nn::init::orthogonal_(w, 1.5);
    check_orthonormal(w.reshape({shape[0], -1}), 1.5);
  }
  Tensor d = empty({6, 3}, TensorOptions(kFloat64));
  nn::init::orthogonal_(d);
  check_orthonormal(d, 1.0);
  // the draws differ between calls (it is random), yet every result is orthonormal
  Tensor e = empty({6, 3}, TensorOptions(kFloat64));
  nn::init::orthogonal_(e);
  CHECK(!allclose(d, e));
}

// --- nn::utils -----------------------------------------------------------------------------

TEST_CASE("utils: clip_grad_norm_ against PyTorch (2, inf, 1, 3; clipped or not)") {
  for (const std::string c : {"l2", "l2_noclip", "inf", "l1", "l3_f32"}) {
    CAPTURE(c);
    double max_norm = c == "l2" ? 1.0 : c == "l2_noclip" ? 100.0 : c == "inf" ? 0.5 : c == "l1" ? 2.0 : 1.5;
    double p = c == "inf" ? std::numeric_limits<double>::infinity() : c == "l1" ? 1.0 : c == "l3_f32" ? 3.0 : 2.0;
    double tol = c == "l3_f32" ? 1e-5 : 1e-12;
    std::vector<Tensor> params, handles;
    for (int i = 0; i < 3; ++i) {
      Tensor g = golden("clip_" + c + "_in" + std::to_string(i) + ".npy");
      Tensor param = zeros(g.sizes(), g.options()).requires_grad_(true);
      param.mutable_grad_set(g.clone());
      params.push_back(param);
      handles.push_back(param.grad());
    }
    params.push_back(zeros({2}).requires_grad_(true));  // no grad: skipped
    Tensor total = nn::utils::clip_grad_norm_(params, max_norm, p);
    CHECK(total.dim() == 0);
    check_close(total, golden("clip_" + c + "_total.npy"), tol);
    for (int i = 0; i < 3; ++i) {
      check_close(params[i].grad(), golden("clip_" + c + "_out" + std::to_string(i) + ".npy"), tol, 1e-12);
      CHECK(params[i].grad().is_same(handles[i]));  // in place
    }
  }
}

TEST_CASE("utils: clip_grad_value_, error_if_nonfinite, no gradients") {
  Tensor p = zeros({4}).requires_grad_(true);
  p.mutable_grad_set(tensor(std::vector<float>{-3.0f, 0.5f, 2.0f, -0.1f}));
  nn::utils::clip_grad_value_(p, 1.0);
  check_values(p.grad(), {-1.0, 0.5, 1.0, -0.1});
  CHECK(nn::utils::clip_grad_norm_(std::vector<Tensor>{zeros({2}).requires_grad_(true)}, 1.0).item<double>() == 0.0);
  p.mutable_grad_set(tensor(std::vector<float>{1.0f, std::numeric_limits<float>::infinity(), 0.0f, 0.0f}));
  check_error([&] { nn::utils::clip_grad_norm_(p, 1.0, 2.0, true); },
              {"clip_grad_norm_", "non-finite", "error_if_nonfinite=False"});
  CHECK(p.grad()[0].item<double>() == 1.0);  // not scaled
}

TEST_CASE("utils: parameters_to_vector and vector_to_parameters") {
  manual_seed(7);
  Conv1d conv(Conv1dOptions(2, 3, 2));
  auto params = conv->parameters();
  Tensor vec = nn::utils::parameters_to_vector(params);
  CHECK(vec.sizes() == Shape{15});
  CHECK(equal(vec.narrow(0, 12, 3), conv->bias.detach()));
  // differentiable, as PyTorch's
  (vec * 2.0).sum().backward();
  CHECK(equal(conv->weight.grad(), full({3, 2, 2}, 2.0)));
  Tensor handle = conv->weight;
  nn::utils::vector_to_parameters(arange(15.0, TensorOptions(kFloat32)), params);
  CHECK(handle.is_same(conv->weight));
  CHECK(equal(conv->weight.detach(), arange(12.0, TensorOptions(kFloat32)).reshape({3, 2, 2})));
  CHECK(equal(conv->bias.detach(), arange(12.0, 15.0, 1.0, TensorOptions(kFloat32))));
  check_error([&] { nn::utils::vector_to_parameters(zeros({14}), params); },
              {"vector_to_parameters", "14"});
  check_error([&] { nn::utils::vector_to_parameters(zeros({3, 5}), params); },
              {"vector_to_parameters", "1-D"});
}

namespace {
struct WnCase {
  std::string name;
  std::int64_t c_in, c_out, k, padding, dilation;
  std::optional<std::int64_t> dim;
  DType dtype;
};
}  // namespace

TEST_CASE("utils: weight_norm'ed Conv1d against PyTorch 1.13 (forward, gradients, names)") {
  std::vector<WnCase> cases = {{"f32_dim0", 3, 4, 3, 2, 1, 0, kFloat32},
                               {"f64_dim0", 2, 5, 2, 0, 2, 0, kFloat64},
                               {"f64_dim1", 3, 2, 3, 1, 1, 1, kFloat64},
                               {"f64_none", 2, 3, 2, 0, 1, std::nullopt, kFloat64}};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto g = [&](const std::string& what) { return golden("wn_" + c.name + "_" + what + ".npy"); };
    double tol = c.dtype == kFloat32 ? 1e-5 : 1e-10;
    Conv1d conv(Conv1dOptions(c.c_in, c.c_out, c.k).padding(c.padding).dilation(c.dilation).dtype(c.dtype));
    Tensor old_weight = conv->weight;
    conv = nn::utils::weight_norm(conv, c.dim);
    CHECK(names_of(conv->named_parameters()) == std::vector<std::string>{"bias", "weight_g", "weight_v"});
    auto params = conv->named_parameters();
    CHECK(params[2].second.is_same(old_weight));  // v is the old weight
    CHECK(params[1].second.sizes() == g("g").sizes());
    conv->load_state_dict({{"bias", g("bias")}, {"weight_g", g("g")}, {"weight_v", g("v")}});
    Tensor x = g("x").requires_grad_(true);
    Tensor out = conv(x);
    check_close(out, g("out"), tol, tol);
    out.backward(g("go"));
    check_close(x.grad(), g("gx"), tol, tol);
    check_close(params[0].second.grad(), g("gb"), tol, tol);
    check_close(params[1].second.grad(), g("gg"), tol, tol);
    check_close(params[2].second.grad(), g("gv"), tol, tol);
    CHECK(!conv->weight.is_leaf());  // the recomputed weight, on the tape

    if (c.name == "f64_dim0") {
      nn::utils::remove_weight_norm(conv);
      CHECK(names_of(conv->named_parameters()) == std::vector<std::string>{"bias", "weight"});
      check_close(conv->weight, golden("wn_removed_weight.npy"), 1e-12, 1e-12);
      CHECK(conv->weight.is_leaf());
      CHECK(conv->weight.requires_grad());
      check_error([&] { nn::utils::remove_weight_norm(conv); },
                  {"remove_weight_norm", "weight_norm of 'weight' not found in Conv1d("});
    }
  }
  CHECK(names_of(nn::utils::weight_norm(Conv1d(Conv1dOptions(1, 1, 1)))->named_parameters()) ==
        read_lines("wn_names.txt"));
}

TEST_CASE("utils: weight_norm follows g and v, inside containers, after to(), and loads 2.x names") {
  manual_seed(8);
  Conv1d conv = nn::utils::weight_norm(Conv1d(Conv1dOptions(2, 3, 2).dtype(kFloat64)));
  nn::Sequential seq(conv);
  Tensor x = randn({1, 2, 5}, TensorOptions(kFloat64));
  Tensor before = seq(x);
  // doubling g doubles the weight, so the output without bias: seq goes through the hook
  auto params = conv->named_parameters();
  {
    NoGradGuard no_grad;
    Tensor gp = params[1].second;
    gp.mul_(2.0);
  }
  Tensor after = seq(x);
  check_close(after - params[0].second.reshape({1, 3, 1}),
              (before - params[0].second.reshape({1, 3, 1})) * 2.0, 1e-12, 1e-12);
  // the weight is g v / ||v|| over dims (1, 2)
  Tensor v = params[2].second.detach(), gg = params[1].second.detach();
  check_close(conv->weight, v * (gg / sqrt(sum(square(v), {1, 2}, true))), 1e-12, 1e-14);

  // state_dict: PyTorch 1.13's names; PyTorch 2.x's parametrization names load too
  CHECK(names_of(seq->state_dict()) == std::vector<std::string>{"0.bias", "0.weight_g", "0.weight_v"});
  nn::StateDict v2 = {{"0.bias", zeros({3})},
                      {"0.parametrizations.weight.original0", full({3, 1, 1}, 2.0)},
                      {"0.parametrizations.weight.original1", ones({3, 2, 2})}};
  seq->load_state_dict(v2);
  CHECK(equal(params[1].second.detach(), full({3, 1, 1}, 2.0, TensorOptions(kFloat64))));
  seq(x);
  check_close(conv->weight, full({3, 2, 2}, 1.0, TensorOptions(kFloat64)), 1e-12);

  // to(dtype) keeps the hook working (it captured the handles, which follow set_data)
  seq->to(kFloat32);
  CHECK(seq(x.to(kFloat32)).dtype() == kFloat32);
  CHECK(conv->weight.dtype() == kFloat32);

  check_error([&] { nn::utils::weight_norm(conv); },
              {"Cannot register two weight_norm hooks on the same parameter weight"});
  check_error([] { nn::utils::weight_norm(Conv1d(Conv1dOptions(1, 1, 1)), 3); },
              {"weight_norm", "dim 3"});
  // a member other than weight, named by pointer: here the bias (1-D, dim 0: |b| per element)
  Conv1d biased = nn::utils::weight_norm(Conv1d(Conv1dOptions(1, 2, 1)), &nn::Conv1dImpl::bias, "bias", 0);
  CHECK(names_of(biased->named_parameters()) == std::vector<std::string>{"weight", "bias_g", "bias_v"});
}

TEST_CASE("Module: forward pre-hooks run on calls through the holder and containers, not impl->forward") {
  Conv1d conv(Conv1dOptions(1, 1, 1));
  int calls = 0;
  auto id = conv->register_forward_pre_hook([&](nn::Module& m) {
    CHECK(&m == conv.get());
    ++calls;
  });
  Tensor x = randn({1, 1, 3});
  conv(x);
  CHECK(calls == 1);
  conv->forward(x);  // PyTorch's module.forward(x) skips hooks too
  CHECK(calls == 1);
  nn::Sequential seq(conv);
  seq(x);
  CHECK(calls == 2);
  conv->register_forward_pre_hook([&](nn::Module&) { calls += 10; }, "tagged");
  CHECK(conv->has_forward_pre_hook("tagged"));
  conv(x);
  CHECK(calls == 13);  // both, in registration order
  conv->remove_forward_pre_hook(id);
  conv(x);
  CHECK(calls == 23);
  conv->remove_forward_pre_hook(std::string("tagged"));
  CHECK(!conv->has_forward_pre_hook("tagged"));
  conv(x);
  CHECK(calls == 23);
}

TEST_CASE("Module: load_state_dict pre-hooks may rename keys; holders copy, wrap and start empty") {
  Conv1d conv(Conv1dOptions(1, 2, 1));
  conv->register_load_state_dict_pre_hook([](nn::StateDict& sd, const std::string& prefix) {
    for (auto& [k, t] : sd) {
      if (k == prefix + "kernel") k = prefix + "weight";
    }
  });
  nn::Sequential seq(conv);
  seq->load_state_dict({{"0.kernel", full({2, 1, 1}, 5.0)}, {"0.bias", zeros({2})}});
  CHECK(equal(conv->weight.detach(), full({2, 1, 1}, 5.0)));

  Conv1d copy(conv);  // a copy shares the module, as LibTorch's holders
  CHECK(copy.get() == conv.get());
  Conv1d wrapped(conv.ptr());
  CHECK(wrapped.get() == conv.get());
  Conv1d empty{nullptr};
  CHECK(empty.is_empty());
  empty = conv;
  CHECK(!empty.is_empty());
  const nn::Module& as_const = *seq;
  CHECK(as_const.modules().size() == 2);
}

TEST_CASE("utils: a weight-normed causal Conv1d stack trains (TCN style): fresh graph per call, clipping") {
  manual_seed(11);
  auto block = [](std::int64_t cin, std::int64_t cout, std::int64_t dilation) {
    return nn::utils::weight_norm(
        Conv1d(Conv1dOptions(cin, cout, 3).padding(kCausal).dilation(dilation).dtype(kFloat64)));
  };
  nn::Sequential net(block(2, 4, 1), block(4, 4, 2), block(4, 1, 4));
  CHECK(names_of(net->named_parameters()) ==
        std::vector<std::string>{"0.bias", "0.weight_g", "0.weight_v", "1.bias", "1.weight_g",
                                 "1.weight_v", "2.bias", "2.weight_g", "2.weight_v"});
  Tensor x = randn({2, 2, 16}, TensorOptions(kFloat64));
  // two calls, one backward each: gradients accumulate, each call has its own graph
  net(x).sum().backward();
  auto first = net->parameters();
  std::vector<Tensor> g1;
  for (auto& p : first) g1.push_back(p.grad().clone());
  net(x).sum().backward();
  for (std::size_t i = 0; i < first.size(); ++i) check_close(first[i].grad(), g1[i] * 2.0, 1e-12, 1e-14);
  // the gradient of g matches finite differences of the loss
  Tensor g = net->ptr<nn::Conv1dImpl>(1)->named_parameters()[1].second;
  const double eps = 1e-6;
  auto loss = [&] { return net(x).sum().item<double>(); };
  double analytic = g1[4].contiguous().to_vector<double>()[2];
  {
    NoGradGuard no_grad;
    auto bump = [&](double d) {
      Tensor delta = zeros(g.sizes(), g.options());
      delta.select(0, 2).fill_(d);
      g.add_(delta);
    };
    bump(eps);
    double up = loss();
    bump(-2 * eps);
    double down = loss();
    bump(eps);
    CHECK(analytic == doctest::Approx((up - down) / (2 * eps)).epsilon(1e-6));
  }
  // clipping the whole model's gradients to norm 1
  Tensor total = nn::utils::clip_grad_norm_(net->parameters(), 1.0);
  CHECK(total.item<double>() > 1.0);
  double after = 0;
  for (auto& p : net->parameters()) after += sum(square(p.grad())).item<double>();
  CHECK(std::sqrt(after) == doctest::Approx(1.0).epsilon(1e-5));
}
