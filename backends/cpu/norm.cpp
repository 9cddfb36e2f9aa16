// CPU backend, issue 10: SIMD paths of the three norm primitives (BatchNorm1d, InstanceNorm1d,
// GroupNorm, LayerNorm) for float32/float64 data whose samples are packed: each sample's
// [G, D, L] block contiguous (any sample stride), as a contiguous or batch-sliced activation is.
//
// The reference (backends/reference/norm.cpp) walks each statistics slot element by element
// with 4-d index arithmetic. Here a task takes a range of groups and walks the data in memory
// order: each sample's run of those groups' G' * D * L elements is one call of a row kernel
// (simd_kernels.hpp, norm_*_kernel) against per-element double arrays — the statistics and
// affine of each element's channel repeated along it — built once per task. So a row of any L
// (BatchNorm1d at L = 7 as at L = 16000) is one vector loop, and a channel's N rows accumulate
// lane by lane into double accumulators.
//
// Results: everything in double as the reference. The normalized output and grad_input are the
// reference's formulas, operation for operation (no fma), so given the same statistics they are
// the reference's bits; the statistics and the gradient sums accumulate in another order
// (lanes, then rows, then the lanes of a channel), which moves a double sum by a few ulps of
// double — invisible after the rounding to float32 almost always, an ulp at most. Every result
// is independent of the thread count (a group's sums never cross tasks).
//
// Not taken (the threaded reference loops of threaded.cpp run instead): other dtypes, samples
// not packed (a transposed input), statistics or grad views not shaped as the reference
// expects, empty inputs, and groups over 2^16 elements per sample (D * L: the per-element
// arrays, 8 bytes each, would outgrow the caches).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends {

namespace {

// Elements of data per task (a pool hand-off costs a few microseconds).
constexpr std::int64_t kNormGrain = 16384;
// Elements of a group's sample run above which the per-element arrays are not worth it.
constexpr std::int64_t kMaxGroupRun = std::int64_t{1} << 16;

// Whether v is a 4-d [N, G, D, L] view with `shape` whose samples are packed (dims 1..3
// contiguous); the sample stride is free.
bool packed_samples(const View& v, const Shape& shape) {
  if (v.data == nullptr || v.shape.size() != 4 || v.shape != shape) return false;
  std::int64_t expect = 1;
  for (int d = 3; d >= 1; --d) {
    if (v.shape[d] != 1 && v.strides[d] != expect) return false;
    expect *= v.shape[d];
  }
  return true;
}

bool stats_shaped(const View& v, std::int64_t rows, std::int64_t g) {
  return v.data != nullptr && v.shape.size() == 2 && v.shape[0] == rows && v.shape[1] == g;
}

bool affine_shaped(const View& v, std::int64_t g, std::int64_t d) {
  return v.data == nullptr || (v.shape.size() == 2 && v.shape[0] == g && v.shape[1] == d);
}

inline std::int64_t at2(const View& v, std::int64_t i, std::int64_t j) {
  return i * v.strides[0] + j * v.strides[1];
}

template <class T>
double read2(const View& v, std::int64_t i, std::int64_t j, double fallback) {
  return v.data == nullptr ? fallback : static_cast<double>(v.ptr<const T>()[at2(v, i, j)]);
}

// The geometry of one call.
struct Geo {
  std::int64_t n, g, d, l;
  bool shared;  // one statistics row for the batch (BatchNorm)
  std::int64_t dl() const { return d * l; }
  std::int64_t count() const { return (shared ? n : 1) * d * l; }  // elements per slot
  std::int64_t rows() const { return shared ? 1 : n; }
};

// Runs body(g0, g1) over ranges of groups (each task several, none split), or over samples
// when `by_sample` (body(n0, n1)); serial when small.
template <class F>
void split(std::int64_t extent, std::int64_t work_per_index, F&& body) {
  const std::int64_t grain =
      std::max<std::int64_t>(1, kNormGrain / std::max<std::int64_t>(1, work_per_index));
  cpu::parallel_for(0, extent, grain, body);
}

// Calls f(b0, b1) over blocks of groups [g0, g1) whose runs hold about kBlockRun elements (one
// group at least): a task's per-element arrays stay cache-sized however many groups it got.
// Each group's sums are its own, so the blocking changes no result.
constexpr std::int64_t kBlockRun = 4096;
template <class F>
void for_group_blocks(std::int64_t g0, std::int64_t g1, std::int64_t dl, F&& f) {
  const std::int64_t step = std::max<std::int64_t>(1, kBlockRun / std::max<std::int64_t>(1, dl));
  for (std::int64_t b = g0; b < g1; b += step) f(b, std::min(g1, b + step));
}

// Fills a[i * len .. (i + 1) * len) with values[i] for i < count.
void repeat_into(double* a, const double* values, std::int64_t count, std::int64_t len) {
  for (std::int64_t i = 0; i < count; ++i) std::fill(a + i * len, a + (i + 1) * len, values[i]);
}

template <class T>
const T* sample_ptr(const View& v, std::int64_t n, std::int64_t g0, std::int64_t dl) {
  return v.ptr<const T>() + n * v.strides[0] + g0 * dl;
}
template <class T>
T* sample_out(const View& v, std::int64_t n, std::int64_t g0, std::int64_t dl) {
  return v.ptr<T>() + n * v.strides[0] + g0 * dl;
}

// Mean and (biased) variance of slots (row, g) for g in [g0, g1) and rows [r0, r1) of the
// statistics (the batch's single row when shared).
template <class T>
void stats_range(const Geo& geo, const View& mean, const View& var, const View& in,
                 std::int64_t r0, std::int64_t r1, std::int64_t g0, std::int64_t g1) {
  const cpu::TypedKernels<T>& k = cpu::simd_kernels().get<T>();
  const std::int64_t dl = geo.dl(), run = (g1 - g0) * dl;
  const double m = static_cast<double>(geo.count());
  std::vector<double> s(static_cast<std::size_t>(run)), acc1(s.size()), acc2(s.size());
  std::vector<double> mu(static_cast<std::size_t>(g1 - g0));
  for (std::int64_t row = r0; row < r1; ++row) {
    const std::int64_t n0 = geo.shared ? 0 : row, n1 = geo.shared ? geo.n : row + 1;
    // Pass 1: the sums (s = 0), then pass 2: the squared deviations from the double mean.
    std::fill(s.begin(), s.end(), 0.0);
    for (int pass = 0; pass < 2; ++pass) {
      std::fill(acc1.begin(), acc1.end(), 0.0);
      std::fill(acc2.begin(), acc2.end(), 0.0);
      for (std::int64_t n = n0; n < n1; ++n)
        k.norm_sums(run, sample_ptr<T>(in, n, g0, dl), s.data(), acc1.data(), acc2.data());
      for (std::int64_t g = g0; g < g1; ++g) {
        const auto off = static_cast<std::size_t>((g - g0) * dl);
        double sum = 0.0;
        const std::vector<double>& acc = pass == 0 ? acc1 : acc2;
        for (std::int64_t i = 0; i < dl; ++i) sum += acc[off + static_cast<std::size_t>(i)];
        const double value = m > 0 ? sum / m : std::numeric_limits<double>::quiet_NaN();
        if (pass == 0) {
          mu[static_cast<std::size_t>(g - g0)] = value;
          mean.ptr<T>()[at2(mean, row, g)] = static_cast<T>(value);
        } else {
          var.ptr<T>()[at2(var, row, g)] = static_cast<T>(value);
        }
      }
      if (pass == 0) repeat_into(s.data(), mu.data(), g1 - g0, dl);
    }
  }
}

// The per-element arrays of statistics row `row` over groups [g0, g1): s = mean, r = rstd.
template <class T>
void stats_arrays(const Geo& geo, const View& mean, const View& var, double eps, std::int64_t row,
                  std::int64_t g0, std::int64_t g1, std::vector<double>& s,
                  std::vector<double>& r) {
  const std::int64_t dl = geo.dl();
  for (std::int64_t g = g0; g < g1; ++g) {
    const auto off = static_cast<std::ptrdiff_t>((g - g0) * dl);
    const double mu = read2<T>(mean, row, g, 0.0);
    const double rstd = 1.0 / std::sqrt(read2<T>(var, row, g, 0.0) + eps);
    std::fill(s.begin() + off, s.begin() + off + dl, mu);
    std::fill(r.begin() + off, r.begin() + off + dl, rstd);
  }
}

// The per-element affine arrays over groups [g0, g1): weight (1 when absent), bias (0).
template <class T>
void affine_arrays(const Geo& geo, const View& weight, const View& bias, std::int64_t g0,
                   std::int64_t g1, std::vector<double>& w, std::vector<double>* b) {
  for (std::int64_t g = g0; g < g1; ++g) {
    for (std::int64_t c = 0; c < geo.d; ++c) {
      const auto off = static_cast<std::ptrdiff_t>(((g - g0) * geo.d + c) * geo.l);
      std::fill(w.begin() + off, w.begin() + off + geo.l, read2<T>(weight, g, c, 1.0));
      if (b) std::fill(b->begin() + off, b->begin() + off + geo.l, read2<T>(bias, g, c, 0.0));
    }
  }
}

template <class T>
void forward_range(const Geo& geo, const View& out, const View& in, const View& mean,
                   const View& var, const View& weight, const View& bias, double eps,
                   std::int64_t n0, std::int64_t n1, std::int64_t g0, std::int64_t g1) {
  const cpu::TypedKernels<T>& k = cpu::simd_kernels().get<T>();
  const std::int64_t dl = geo.dl();
  const auto run = static_cast<std::size_t>((g1 - g0) * dl);
  std::vector<double> s(run), r(run), w(run), b(run);
  affine_arrays<T>(geo, weight, bias, g0, g1, w, &b);
  if (geo.shared) stats_arrays<T>(geo, mean, var, eps, 0, g0, g1, s, r);
  for (std::int64_t n = n0; n < n1; ++n) {
    if (!geo.shared) stats_arrays<T>(geo, mean, var, eps, n, g0, g1, s, r);
    k.norm_apply(static_cast<std::int64_t>(run), sample_ptr<T>(in, n, g0, dl), s.data(),
                 r.data(), w.data(), b.data(), sample_out<T>(out, n, g0, dl));
  }
}

// Gradients of groups [g0, g1) over every sample: grad_weight and grad_bias sum over the batch
// in sample order, so a group's sums never depend on how the groups were split.
template <class T>
void backward_range(const Geo& geo, const View& grad_in, const View& grad_weight,
                    const View& grad_bias, const View& grad_out, const View& in,
                    const View& mean, const View& var, const View& weight, const NormParams& p,
                    std::int64_t g0, std::int64_t g1) {
  const cpu::TypedKernels<T>& k = cpu::simd_kernels().get<T>();
  const std::int64_t dl = geo.dl(), gs = g1 - g0, channels = gs * geo.d;
  const auto run = static_cast<std::size_t>(gs * dl);
  const double m = static_cast<double>(geo.count());
  std::vector<double> s(run), r(run), w(run), md(run), mdx(run), acc1(run), acc2(run);
  // Per channel (g, c) of the range: sum gy and sum gy * (x - mean) of the current slot row,
  // and the batch totals of sum gy and sum gy * xhat (grad_bias, grad_weight).
  std::vector<double> sg(static_cast<std::size_t>(channels)), sgx(sg.size()), tot_g(sg.size(), 0.0),
      tot_gxhat(sg.size(), 0.0);
  affine_arrays<T>(geo, weight, View{}, g0, g1, w, nullptr);
  for (std::int64_t row = 0; row < geo.rows(); ++row) {
    const std::int64_t n0 = geo.shared ? 0 : row, n1 = geo.shared ? geo.n : row + 1;
    stats_arrays<T>(geo, mean, var, p.eps, row, g0, g1, s, r);
    std::fill(acc1.begin(), acc1.end(), 0.0);
    std::fill(acc2.begin(), acc2.end(), 0.0);
    for (std::int64_t n = n0; n < n1; ++n)
      k.norm_grad_sums(static_cast<std::int64_t>(run), sample_ptr<T>(grad_out, n, g0, dl),
                       sample_ptr<T>(in, n, g0, dl), s.data(), acc1.data(), acc2.data());
    for (std::int64_t ch = 0; ch < channels; ++ch) {
      double a = 0.0, b = 0.0;
      for (std::int64_t t = 0; t < geo.l; ++t) {
        a += acc1[static_cast<std::size_t>(ch * geo.l + t)];
        b += acc2[static_cast<std::size_t>(ch * geo.l + t)];
      }
      // sum gy * xhat; an empty slot (NaN statistics) adds nothing, as the reference's loop.
      const double gxhat = m > 0 ? b * r[static_cast<std::size_t>(ch * geo.l)] : 0.0;
      sg[static_cast<std::size_t>(ch)] = a;
      sgx[static_cast<std::size_t>(ch)] = gxhat;
      tot_g[static_cast<std::size_t>(ch)] += a;
      tot_gxhat[static_cast<std::size_t>(ch)] += gxhat;
    }
    if (grad_in.data == nullptr) continue;
    // The slot's means of dxhat = gy * w and dxhat * xhat, repeated over its elements.
    for (std::int64_t g = g0; g < g1; ++g) {
      double mean_dxhat = 0.0, mean_dxhat_xhat = 0.0;
      for (std::int64_t c = 0; c < geo.d; ++c) {
        const auto ch = static_cast<std::size_t>((g - g0) * geo.d + c);
        const double wv = w[ch * static_cast<std::size_t>(geo.l)];
        mean_dxhat += sg[ch] * wv;
        mean_dxhat_xhat += sgx[ch] * wv;
      }
      if (m > 0) {
        mean_dxhat /= m;
        mean_dxhat_xhat /= m;
      }
      const auto off = static_cast<std::ptrdiff_t>((g - g0) * dl);
      std::fill(md.begin() + off, md.begin() + off + dl, mean_dxhat);
      std::fill(mdx.begin() + off, mdx.begin() + off + dl, mean_dxhat_xhat);
    }
    for (std::int64_t n = n0; n < n1; ++n)
      k.norm_grad_apply(static_cast<std::int64_t>(run), p.input_stats,
                        sample_ptr<T>(grad_out, n, g0, dl), sample_ptr<T>(in, n, g0, dl),
                        s.data(), r.data(), w.data(), md.data(), mdx.data(),
                        sample_out<T>(grad_in, n, g0, dl));
  }
  for (std::int64_t g = g0; g < g1; ++g) {
    for (std::int64_t c = 0; c < geo.d; ++c) {
      const auto ch = static_cast<std::size_t>((g - g0) * geo.d + c);
      if (grad_weight.data != nullptr)
        grad_weight.ptr<T>()[at2(grad_weight, g, c)] = static_cast<T>(tot_gxhat[ch]);
      if (grad_bias.data != nullptr)
        grad_bias.ptr<T>()[at2(grad_bias, g, c)] = static_cast<T>(tot_g[ch]);
    }
  }
}

bool fast_dtype(DType t) { return t == kFloat32 || t == kFloat64; }

// f.template operator()<float or double>() by t (float32 or float64).
template <class F>
void by_dtype(DType t, F&& f) {
  if (t == kFloat32) f.template operator()<float>();
  else f.template operator()<double>();
}

}  // namespace

namespace cpu {

bool norm_stats_fast(const View& mean, const View& var, const View& in) {
  if (in.shape.size() != 4 || !fast_dtype(in.dtype) || mean.shape.size() != 2) return false;
  const Shape& sh = in.shape;
  const Geo geo{sh[0], sh[1], sh[2], sh[3], mean.shape[0] == 1 && sh[0] != 1};
  if (!packed_samples(in, sh) || !stats_shaped(mean, geo.rows(), geo.g) ||
      !stats_shaped(var, geo.rows(), geo.g) || mean.dtype != in.dtype ||
      var.dtype != in.dtype || geo.dl() > kMaxGroupRun || geo.dl() == 0 || geo.n == 0 || geo.g == 0) {
    return false;
  }
  by_dtype(in.dtype, [&]<typename T>() {
    {
      if (geo.shared) {
        split(geo.g, geo.n * geo.dl(), [&](std::int64_t g0, std::int64_t g1) {
          for_group_blocks(g0, g1, geo.dl(), [&](std::int64_t b0, std::int64_t b1) {
            stats_range<T>(geo, mean, var, in, 0, 1, b0, b1);
          });
        });
      } else {
        split(geo.n, geo.g * geo.dl(), [&](std::int64_t n0, std::int64_t n1) {
          for_group_blocks(0, geo.g, geo.dl(), [&](std::int64_t b0, std::int64_t b1) {
            stats_range<T>(geo, mean, var, in, n0, n1, b0, b1);
          });
        });
      }
    }
  });
  return true;
}

bool norm_forward_fast(const View& out, const View& in, const View& mean, const View& var,
                       const View& weight, const View& bias, const NormParams& p) {
  if (in.shape.size() != 4 || !fast_dtype(in.dtype) || mean.shape.size() != 2) return false;
  const Shape& sh = in.shape;
  const Geo geo{sh[0], sh[1], sh[2], sh[3], mean.shape[0] == 1 && sh[0] != 1};
  if (!packed_samples(in, sh) || !packed_samples(out, sh) || out.dtype != in.dtype ||
      !stats_shaped(mean, geo.rows(), geo.g) || !stats_shaped(var, geo.rows(), geo.g) ||
      mean.dtype != in.dtype || var.dtype != in.dtype || !affine_shaped(weight, geo.g, geo.d) ||
      !affine_shaped(bias, geo.g, geo.d) ||
      (weight.data != nullptr && weight.dtype != in.dtype) ||
      (bias.data != nullptr && bias.dtype != in.dtype) || geo.dl() > kMaxGroupRun || geo.dl() == 0 || geo.n == 0) {
    return false;
  }
  by_dtype(in.dtype, [&]<typename T>() {
    {
      if (geo.g > 1) {
        split(geo.g, geo.n * geo.dl(), [&](std::int64_t g0, std::int64_t g1) {
          for_group_blocks(g0, g1, geo.dl(), [&](std::int64_t b0, std::int64_t b1) {
            forward_range<T>(geo, out, in, mean, var, weight, bias, p.eps, 0, geo.n, b0, b1);
          });
        });
      } else {
        split(geo.n, geo.g * geo.dl(), [&](std::int64_t n0, std::int64_t n1) {
          for_group_blocks(0, geo.g, geo.dl(), [&](std::int64_t b0, std::int64_t b1) {
            forward_range<T>(geo, out, in, mean, var, weight, bias, p.eps, n0, n1, b0, b1);
          });
        });
      }
    }
  });
  return true;
}

bool norm_backward_fast(const View& grad_in, const View& grad_weight, const View& grad_bias,
                        const View& grad_out, const View& in, const View& mean, const View& var,
                        const View& weight, const NormParams& p) {
  if (in.shape.size() != 4 || !fast_dtype(in.dtype) || mean.shape.size() != 2) return false;
  const Shape& sh = in.shape;
  const Geo geo{sh[0], sh[1], sh[2], sh[3], mean.shape[0] == 1 && sh[0] != 1};
  const DType t = in.dtype;
  auto dtype_ok = [t](const View& v) { return v.data == nullptr || v.dtype == t; };
  if (!packed_samples(in, sh) || !packed_samples(grad_out, sh) ||
      (grad_in.data != nullptr && !packed_samples(grad_in, sh)) ||
      !stats_shaped(mean, geo.rows(), geo.g) || !stats_shaped(var, geo.rows(), geo.g) ||
      !affine_shaped(weight, geo.g, geo.d) || !affine_shaped(grad_weight, geo.g, geo.d) ||
      !affine_shaped(grad_bias, geo.g, geo.d) || !dtype_ok(grad_in) || !dtype_ok(grad_weight) ||
      !dtype_ok(grad_bias) || !dtype_ok(grad_out) || !dtype_ok(mean) || !dtype_ok(var) ||
      !dtype_ok(weight) || geo.dl() > kMaxGroupRun || geo.dl() == 0 || geo.n == 0) {
    return false;
  }
  by_dtype(t, [&]<typename T>() {
    {
      // Along groups only: grad_weight and grad_bias sum over the samples (LayerNorm's single
      // group runs on one thread, in the fast loops).
      split(geo.g, geo.n * geo.dl(), [&](std::int64_t g0, std::int64_t g1) {
        for_group_blocks(g0, g1, geo.dl(), [&](std::int64_t b0, std::int64_t b1) {
          backward_range<T>(geo, grad_in, grad_weight, grad_bias, grad_out, in, mean, var,
                            weight, p, b0, b1);
        });
      });
    }
  });
  return true;
}

}  // namespace cpu

}  // namespace reel::backends
