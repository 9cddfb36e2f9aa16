// data::collate_padded and data::PaddedCollate (data/pad_collate.hpp): layouts, lengths, masks,
// the DataLoader-style collate, gradients, and bad input.
#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "reel.hpp"
#include "support.hpp"

using namespace reel;
using test::check_error;

namespace {

Tensor int64s(const std::vector<std::int64_t>& v, const Shape& shape) {
  return tensor(v, shape, TensorOptions(kInt64));
}
Tensor bools(const std::vector<std::int64_t>& v, const Shape& shape) {
  return ne(int64s(v, shape), Scalar(0));
}
// Values 1, 2, ..., as doubles, in `shape`.
Tensor counting(const Shape& shape, double start = 1.0) {
  return add(arange(Scalar(numel_of(shape)), TensorOptions(kFloat64)), Scalar(start)).view(shape);
}

}  // namespace

TEST_CASE("collate_padded: batch-first and time-first layouts") {
  // Two sequences [L_i, 2]: lengths 3 and 1.
  std::vector<Tensor> seqs{counting({3, 2}), counting({1, 2}, 10.0)};
  data::PaddedBatch b = data::collate_padded(seqs);  // batch first by default
  CHECK(b.padded.sizes() == Shape{2, 3, 2});
  test::check_values(b.padded, {1, 2, 3, 4, 5, 6, 10, 11, 0, 0, 0, 0});
  CHECK(b.lengths.dtype() == kInt64);
  CHECK(b.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1});
  CHECK(equal(b.mask, bools({1, 1, 1, 1, 0, 0}, {2, 3})));

  data::PaddedBatch t = data::collate_padded(
      seqs, data::PadOptions().layout(data::kTimeFirst).padding_value(-1.0));
  CHECK(t.padded.sizes() == Shape{3, 2, 2});
  test::check_values(t.padded, {1, 2, 10, 11, 3, 4, -1, -1, 5, 6, -1, -1});
  CHECK(equal(t.mask, bools({1, 1, 1, 0, 1, 0}, {3, 2})));
  CHECK(data::PadOptions().batch_first(false).layout_ == data::kTimeFirst);
}

TEST_CASE("collate_padded: channels-first sequences [C, L_i] for Conv1d") {
  std::vector<Tensor> seqs{counting({2, 3}), counting({2, 1}, 10.0), counting({2, 2}, 20.0)};
  data::PaddedBatch b =
      data::collate_padded(seqs, data::PadOptions().layout(data::kChannelsFirst).padding_value(9));
  CHECK(b.padded.sizes() == Shape{3, 2, 3});
  CHECK(b.padded.is_contiguous());
  test::check_values(b.padded, {1, 2, 3, 4, 5, 6,  //
                                10, 9, 9, 11, 9, 9,  //
                                20, 21, 9, 22, 23, 9});
  CHECK(b.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1, 2});
  CHECK(equal(b.mask, bools({1, 1, 1, 1, 0, 0, 1, 1, 0}, {3, 3})));
  // It feeds a Conv1d, and the gradient reaches each sequence's own steps only.
  Tensor a = counting({2, 3}).requires_grad_(), c = counting({2, 1}).requires_grad_();
  data::PaddedBatch g = data::collate_padded({a, c}, data::PadOptions().layout(data::kChannelsFirst));
  nn::Conv1d conv(nn::Conv1dOptions(2, 4, 1));
  conv->to(kFloat64);
  sum(conv(g.padded)).backward();
  REQUIRE(a.grad().defined());
  CHECK(a.grad().sizes() == Shape{2, 3});
  CHECK(c.grad().sizes() == Shape{2, 1});
}

TEST_CASE("collate_padded: the mask feeds a masked loss") {
  // Per-step logits [B, C, L] and padded targets [B, L]: the masked mean is the mean of the
  // real steps' losses.
  std::vector<Tensor> targets{int64s({1, 0, 1}, {3}), int64s({0}, {1})};
  data::PaddedBatch t = data::collate_padded(targets, data::PadOptions().padding_value(-7));
  Tensor logits = zeros({2, 2, 3}, TensorOptions(kFloat64));
  Tensor loss = nn::functional::cross_entropy(
      logits, t.padded, nn::functional::CrossEntropyFuncOptions().mask(t.mask));
  test::check_values(loss, {std::log(2.0)});
}

TEST_CASE("PaddedCollate: a DataLoader collate") {
  // Samples: {features [L_i, 2], per-step targets [L_i], a label []}.
  std::vector<data::Example> samples{
      {counting({2, 2}), int64s({1, 2}, {2}), int64s({5}, {})},
      {counting({3, 2}, 10.0), int64s({3, 4, 5}, {3}), int64s({6}, {})},
  };
  std::function<data::Example(const std::vector<data::Example>&)> collate =
      data::PaddedCollate(0).also_pad(1, -100);
  data::Example batch = collate(samples);
  REQUIRE(batch.size() == 5);
  CHECK(batch[0].sizes() == Shape{2, 3, 2});
  test::check_values(batch[0], {1, 2, 3, 4, 0, 0, 10, 11, 12, 13, 14, 15});
  CHECK(batch[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, -100, 3, 4, 5});
  CHECK(batch[2].to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 6});
  CHECK(batch[3].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 3});
  CHECK(equal(batch[4], bools({1, 1, 0, 1, 1, 1}, {2, 3})));

  // Channels-first: features [C, L_i], targets [L_i].
  std::vector<data::Example> cf{{counting({2, 1}), int64s({1}, {1})},
                                {counting({2, 2}), int64s({0, 1}, {2})}};
  data::Example c = data::PaddedCollate(0, data::PadOptions().layout(data::kChannelsFirst))
                        .also_pad(1, -100)(cf);
  CHECK(c[0].sizes() == Shape{2, 2, 2});
  CHECK(c[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -100, 0, 1});
}

TEST_CASE("collate_padded / PaddedCollate: bad input raises reel::Error") {
  check_error([] { data::collate_padded({}); }, {"collate_padded", "empty"});
  check_error([] { data::collate_padded({zeros({2, 3}), zeros({2, 4})}); }, {"pad_sequence"});
  check_error([] { data::collate_padded({scalar_tensor(1.0)}); }, {"collate_padded", "0-dim"});
  check_error([] {
    data::collate_padded({zeros({3, 2}), zeros({4, 2})},
                         data::PadOptions().layout(data::kChannelsFirst));
  }, {"pad_sequence"});
  data::PaddedCollate collate(0);
  check_error([&] { collate({}); }, {"PaddedCollate", "empty"});
  check_error([&] { collate({{zeros({2})}, {zeros({2}), zeros({1})}}); },
              {"PaddedCollate", "sample 1", "2 fields"});
  check_error([&] { data::PaddedCollate(3)({{zeros({2})}}); }, {"PaddedCollate", "3"});
  check_error([&] {
    data::PaddedCollate(0).also_pad(1, 0)({{zeros({2}), zeros({3})}});
  }, {"PaddedCollate", "length 3", "has 2"});
  check_error([] { data::PaddedCollate(0).also_pad(0, 1.0); }, {"PaddedCollate", "field 0"});
  // Fields that are stacked must agree in shape.
  CHECK_THROWS_AS(collate({{zeros({2}), zeros({3})}, {zeros({1}), zeros({4})}}), reel::Error);
}
