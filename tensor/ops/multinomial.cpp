// multinomial: indices drawn from the categorical distributions in the rows of a weight tensor
// (torch.multinomial). Computed on the host in double from a host copy of the weights: the
// draw is sequential per row and small next to the model that made the weights, and the same
// state gives the same indices on every backend.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "backends/checked_math.hpp"
#include "backends/philox.hpp"
#include "tensor/ops/multinomial.hpp"
#include "tensor/ops.hpp"

namespace reel {

Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement) {
  return multinomial(probs, num_samples, replacement, default_generator());
}

Tensor multinomial(const Tensor& probs, std::int64_t num_samples, bool replacement,
                   Generator& gen) {
  check(probs.dim() == 1 || probs.dim() == 2,
        "multinomial: prob_dist must be 1 or 2 dim, got a {}-d tensor of shape {}", probs.dim(),
        probs.sizes());
  check(is_floating(probs.dtype()),
        "multinomial: multinomial only supports floating-point dtypes for input, got: {}",
        probs.dtype());
  check(num_samples > 0, "multinomial: cannot sample n_sample <= 0 samples (got {})",
        num_samples);
  const std::int64_t rows = probs.dim() == 2 ? probs.size(0) : 1;
  const std::int64_t cats = probs.size(-1);
  check(replacement || num_samples <= cats,
        "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
        "(n_sample={}, {} categories)",
        num_samples, cats);
  // PyTorch's bound (indices are exact in float32 there); it keeps the counters per row small.
  check(cats <= (std::int64_t{1} << 24),
        "multinomial: number of categories cannot exceed 2^24, got {}", cats);
  const Shape out_shape =
      probs.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  const std::optional<std::int64_t> out_numel = checked_mul(rows, num_samples);
  check(out_numel.has_value(), "multinomial: {} rows x {} samples overflow int64", rows,
        num_samples);

  const Tensor host = probs.detach().to(Device(kCPU)).to(kFloat64).contiguous();
  const double* w = host.data_ptr<double>();

  // Validate every row before drawing, so a refused call leaves the generator alone.
  std::vector<double> scale(static_cast<std::size_t>(rows), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* row = w + r * cats;
    double max = 0.0;
    std::int64_t nonzero = 0;
    for (std::int64_t i = 0; i < cats; ++i) {
      const double p = row[i];
      check(std::isfinite(p) && p >= 0,
            "multinomial: probability tensor contains either `inf`, `nan` or element < 0 (row "
            "{}, category {}: {})",
            r, i, p);
      max = std::max(max, p);
      nonzero += p > 0;
    }
    check(max > 0,
          "multinomial: invalid multinomial distribution (sum of probabilities <= 0) in row {}", r);
    check(replacement || nonzero >= num_samples,
          "multinomial: invalid multinomial distribution (with replacement=False, not enough "
          "non-negative category to sample): row {} has {} non-zero categories, {} samples "
          "requested",
          r, nonzero, num_samples);
    // Weights are divided by the row's largest: the sums stay finite for any finite weights.
    scale[static_cast<std::size_t>(r)] = max;
  }

  // Counters: with replacement one per sample, without one per category (the exponential keys
  // below); the advance is a pure function of the shape and the arguments.
  const std::int64_t per_row = replacement ? num_samples : cats;
  const std::optional<std::int64_t> counters = checked_mul(rows, per_row);
  check(counters.has_value(), "multinomial: {} rows x {} draws overflow int64", rows, per_row);
  const GeneratorState at = gen.reserve(static_cast<std::uint64_t>(*counters));
  const auto uniform = [&](std::int64_t k) {  // in [0, 1), 53 random bits
    const backends::philox::Block b =
        backends::philox::block_at(at.seed, at.offset + static_cast<std::uint64_t>(k));
    return backends::philox::uniform53(b.x[0], b.x[1]);
  };

  Tensor out = empty(out_shape, kInt64);
  std::int64_t* o = out.data_ptr<std::int64_t>();
  std::vector<double> cumulative(static_cast<std::size_t>(cats));
  std::vector<double> keys(static_cast<std::size_t>(cats));
  std::vector<std::int64_t> order(static_cast<std::size_t>(cats));
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* row = w + r * cats;
    const double s = scale[static_cast<std::size_t>(r)];
    std::int64_t* dst = o + r * num_samples;
    if (replacement) {
      // Inverse CDF: the first category whose running sum passes u * total. A zero-weight
      // category adds nothing to the sum, so it is never the first to pass.
      double sum = 0;
      for (std::int64_t i = 0; i < cats; ++i) cumulative[static_cast<std::size_t>(i)] = sum += row[i] / s;
      for (std::int64_t k = 0; k < num_samples; ++k) {
        const double target = uniform(r * per_row + k) * sum;
        auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
        if (it == cumulative.end()) --it;  // unreachable (target < sum); kept for safety
        // Rounding can leave a zero-weight category's sum equal to the last positive one's:
        // step back over any category that adds no weight.
        auto i = static_cast<std::int64_t>(it - cumulative.begin());
        while (i > 0 && row[i] == 0) --i;
        dst[k] = i;
      }
    } else {
      // Without replacement (Efraimidis & Spirakis): category i gets the key E_i / w_i with
      // E_i ~ Exp(1); the categories in increasing key order are distributed as successive
      // draws without replacement. Zero weights get +inf and are never taken (there are enough
      // non-zero ones, checked above).
      for (std::int64_t i = 0; i < cats; ++i) {
        const double e = -std::log1p(-uniform(r * per_row + i));  // Exp(1): 1 - u in (0, 1]
        keys[static_cast<std::size_t>(i)] =
            row[i] > 0 ? e / (row[i] / s) : std::numeric_limits<double>::infinity();
      }
      std::iota(order.begin(), order.end(), std::int64_t{0});
      std::partial_sort(order.begin(), order.begin() + num_samples, order.end(),
                        [&](std::int64_t a, std::int64_t b) {
                          // Zero weights last, even after a positive weight so small next to
                          // the row's largest that its key overflowed to +inf too.
                          const bool za = row[a] == 0, zb = row[b] == 0;
                          if (za != zb) return zb;
                          const double ka = keys[static_cast<std::size_t>(a)];
                          const double kb = keys[static_cast<std::size_t>(b)];
                          return ka < kb || (ka == kb && a < b);
                        });
      std::copy(order.begin(), order.begin() + num_samples, dst);
    }
  }
  return probs.device().is_cpu() ? out : out.to(probs.device());
}

}  // namespace reel
