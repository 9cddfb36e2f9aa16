// data::Dataset, TensorDataset and collate: values, copies, and the errors of bad tensors,
// bad indices and samples that do not match.
#include "tests/data/data_support.hpp"
#include "tests/support.hpp"

using namespace reel;
using reel::data::Example;
using reel::test::check_error;
using reel::test::indexed_dataset;

namespace {

// get() only: the default get_batch collates.
class SquaresDataset : public data::Dataset {
 public:
  std::int64_t size() const override { return 4; }
  Example get(std::int64_t i) const override {
    ++gets;
    return {scalar_tensor(static_cast<double>(i), kFloat64),
            tensor(std::vector<std::int64_t>{i, i * i})};
  }
  mutable int gets = 0;
};

}  // namespace

TEST_CASE("TensorDataset: size, get, get_batch") {
  auto ds = indexed_dataset(5);
  CHECK(ds->size() == 5);
  Example s = ds->get(3);
  REQUIRE(s.size() == 2);
  CHECK(s[0].sizes() == Shape{2});
  CHECK(s[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1003});
  CHECK(s[1].dim() == 0);
  CHECK(s[1].item<std::int64_t>() == -3);
  Example b = ds->get_batch({4, 0, 4});
  CHECK(b[0].sizes() == Shape{3, 2});
  CHECK(b[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 1004, 0, 1000, 4, 1004});
  CHECK(b[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{-4, 0, -4});
  // A batch is a copy: writing it leaves the dataset alone.
  b[1].fill_(7);
  CHECK(ds->get(4)[1].item<std::int64_t>() == -4);
  Example empty = ds->get_batch({});
  CHECK(empty[0].sizes() == Shape{0, 2});

  check_error([&] { ds->get(5); }, {"TensorDataset", "index 5", "size 5"});
  check_error([&] { ds->get(-1); }, {"TensorDataset", "index -1"});
  check_error([&] { ds->get_batch({0, 9}); }, {"TensorDataset", "index 9", "size 5"});
}

TEST_CASE("TensorDataset: bad tensors raise reel::Error") {
  check_error([] { data::TensorDataset({}); }, {"TensorDataset", "at least one tensor"});
  check_error([] { data::TensorDataset({zeros({3, 2}), zeros({4})}); },
              {"TensorDataset", "Size mismatch", "3", "4", "tensor 1"});
  check_error([] { data::TensorDataset({zeros({3}), scalar_tensor(1.0)}); },
              {"TensorDataset", "tensor 1", "0-dimensional"});
  check_error([] { data::TensorDataset({Tensor()}); }, {"TensorDataset", "undefined"});
}

TEST_CASE("collate stacks field by field and names what does not match") {
  Example a{tensor({1.0f, 2.0f}), scalar_tensor(5, kInt64)};
  Example b{tensor({3.0f, 4.0f}), scalar_tensor(6, kInt64)};
  Example batch = data::collate({a, b});
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].sizes() == Shape{2, 2});
  CHECK(batch[0].dtype() == kFloat32);
  CHECK(batch[0].to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  CHECK(batch[1].sizes() == Shape{2});
  CHECK(batch[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 6});

  check_error([] { data::collate({}); }, {"collate", "at least one sample"});
  check_error([&] { data::collate({a, Example{tensor({1.0f, 2.0f, 3.0f}), a[1]}}); },
              {"collate", "field 0", "sample 1", "[2]", "[3]"});
  check_error([&] { data::collate({a, Example{a[0]}}); },
              {"collate", "number of fields", "sample 1", "2", "1"});
  check_error([&] { data::collate({a, Example{a[0].to(kFloat64), a[1]}}); },
              {"collate", "dtype", "field 0", "sample 1"});
  check_error([&] { data::collate({a, Example{a[0], Tensor()}}); },
              {"collate", "field 1", "sample 1", "undefined"});
}

TEST_CASE("Dataset::get_batch defaults to collating get()") {
  SquaresDataset ds;
  Example b = ds.get_batch({2, 3});
  CHECK(ds.gets == 2);
  CHECK(b[0].to_vector<double>() == std::vector<double>{2, 3});
  CHECK(b[1].sizes() == Shape{2, 2});
  CHECK(b[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 4, 3, 9});
}
