// CPU backend, issue 10: the reference loops of the normalization, pooling and loss primitives,
// threaded over an independent dim. Each of these primitives computes every slice of one dim
// from that slice alone — a norm's groups (dim 1 of [N, G, D, L]: statistics, affine and
// gradients of group g read and write group g only), a pooling's rows (dim 0 or 1 of
// [N, C, L]), a loss's samples (dim 0) — so the views are cut along that dim into chunks,
// and each chunk runs the reference implementation on its sub-views on a pool thread. Inside a
// chunk the loops, and so the accumulation order and every rounding, are the reference's:
// results equal the reference bit for bit, at any thread count. No SIMD: these are the
// reference's scalar loops (docs/benchmarks.md, "Elementwise and reductions", lists them).
//
// Views whose extents along the cut dim disagree (a shape error), and problems below one grain,
// go to the reference implementation whole, which computes or raises the shared error.
//
// Issue 10 (Fashion-MNIST step): the common layouts take faster paths first and come here only
// when those decline: norm.cpp (SIMD rows over packed samples, in double: the output bitwise,
// the sums in another order) and pool.cpp (MaxPool1d, AdaptiveAvgPool1d and MaxPool1d's
// scatter_add on unit-stride rows: the reference's loops on raw pointers, bitwise), and
// loss.cpp (cross_entropy without weights or smoothing on packed logits: SIMD exp).
#include <algorithm>
#include <initializer_list>

#include "backends/cpu/cpu_backend.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends {

namespace {

// Elements of work per task: the reference loops cost a few ns per element, so ~32 Ki
// elements are worth a hand-off to a pool thread.
constexpr std::int64_t kThreadedWork = 32768;

// v restricted to indices [b, e) of `dim`; a null view stays null.
View slice(const View& v, int dim, std::int64_t b, std::int64_t e) {
  if (v.data == nullptr) return v;
  View s = v;
  s.data = static_cast<char*>(v.data) +
           b * v.strides[dim] * static_cast<std::int64_t>(element_size(v.dtype));
  s.shape[dim] = e - b;
  return s;
}

// A view and the dim it is cut along.
struct Cut {
  const View* view;
  int dim;
};

// Whether every non-null view has rank > dim and `extent` indices along its dim.
bool cuttable(std::initializer_list<Cut> cuts, std::int64_t extent) {
  for (const Cut& c : cuts) {
    if (c.view->data == nullptr) continue;
    if (c.dim >= c.view->shape.size() || c.view->shape[c.dim] != extent) return false;
  }
  return true;
}

// Runs body(b, e) over chunks of [0, extent) on the pool; `work` is the problem's total number
// of elements (the grain follows from it). Returns false (nothing run) when the problem is
// too small to split.
template <class F>
bool run_split(std::int64_t extent, std::int64_t work, F&& body) {
  if (extent < 2 || work < 2 * kThreadedWork || cpu::num_threads() == 1) return false;
  const std::int64_t per_index = std::max<std::int64_t>(1, work / extent);
  cpu::parallel_for(0, extent, std::max<std::int64_t>(1, kThreadedWork / per_index), body);
  return true;
}

// The dim a [N, C, L] pooling is cut along: the longer of N and C.
int pool_dim(const View& v) { return v.shape.size() == 3 && v.shape[1] > v.shape[0] ? 1 : 0; }

}  // namespace

// --- normalization ------------------------------------------------------------------------------
// Packed float32/float64 samples take the SIMD paths of norm.cpp first (within an ulp of these
// loops, not bitwise: their sums accumulate in another order); the rest is cut along G (dim 1
// of the data and statistics, dim 0 of weight and bias); a single group (LayerNorm) with
// per-sample statistics is cut along N for the statistics and the forward.
void CpuBackend::norm_stats_impl(const View& mean, const View& var, const View& in) {
  if (cpu::norm_stats_fast(mean, var, in)) return;  // norm.cpp: packed float32/float64
  const bool ranks = in.shape.size() == 4 && mean.shape.size() == 2 && var.shape.size() == 2;
  if (ranks) {
    const std::int64_t g = in.shape[1], n = in.shape[0];
    if (g >= 2 && cuttable({{&in, 1}, {&mean, 1}, {&var, 1}}, g) &&
        run_split(g, in.numel(), [&](std::int64_t b, std::int64_t e) {
          ReferenceBackend::norm_stats_impl(slice(mean, 1, b, e), slice(var, 1, b, e),
                                            slice(in, 1, b, e));
        })) {
      return;
    }
    if (g == 1 && cuttable({{&in, 0}, {&mean, 0}, {&var, 0}}, n) &&
        run_split(n, in.numel(), [&](std::int64_t b, std::int64_t e) {
          ReferenceBackend::norm_stats_impl(slice(mean, 0, b, e), slice(var, 0, b, e),
                                            slice(in, 0, b, e));
        })) {
      return;
    }
  }
  ReferenceBackend::norm_stats_impl(mean, var, in);
}

void CpuBackend::norm_forward_impl(const View& out, const View& in, const View& mean,
                                   const View& var, const View& weight, const View& bias,
                                   const NormParams& p) {
  if (cpu::norm_forward_fast(out, in, mean, var, weight, bias, p)) return;
  const bool ranks = in.shape.size() == 4 && out.shape.size() == 4 && mean.shape.size() == 2 &&
                     var.shape.size() == 2;
  if (ranks) {
    const std::int64_t g = in.shape[1], n = in.shape[0];
    if (g >= 2 &&
        cuttable({{&out, 1}, {&in, 1}, {&mean, 1}, {&var, 1}, {&weight, 0}, {&bias, 0}}, g) &&
        run_split(g, in.numel(), [&](std::int64_t b, std::int64_t e) {
          ReferenceBackend::norm_forward_impl(slice(out, 1, b, e), slice(in, 1, b, e),
                                              slice(mean, 1, b, e), slice(var, 1, b, e),
                                              slice(weight, 0, b, e), slice(bias, 0, b, e), p);
        })) {
      return;
    }
    if (g == 1 && cuttable({{&out, 0}, {&in, 0}, {&mean, 0}, {&var, 0}}, n) &&
        run_split(n, in.numel(), [&](std::int64_t b, std::int64_t e) {
          ReferenceBackend::norm_forward_impl(slice(out, 0, b, e), slice(in, 0, b, e),
                                              slice(mean, 0, b, e), slice(var, 0, b, e), weight,
                                              bias, p);
        })) {
      return;
    }
  }
  ReferenceBackend::norm_forward_impl(out, in, mean, var, weight, bias, p);
}

void CpuBackend::norm_backward_impl(const View& grad_in, const View& grad_weight,
                                    const View& grad_bias, const View& grad_out, const View& in,
                                    const View& mean, const View& var, const View& weight,
                                    const NormParams& p) {
  if (cpu::norm_backward_fast(grad_in, grad_weight, grad_bias, grad_out, in, mean, var, weight, p))
    return;
  // Only along G: grad_weight and grad_bias sum over N, which a cut along N would reorder.
  const bool ranks = in.shape.size() == 4 && grad_out.shape.size() == 4 &&
                     mean.shape.size() == 2 && var.shape.size() == 2;
  const std::int64_t g = ranks ? in.shape[1] : 0;
  if (ranks && g >= 2 &&
      cuttable({{&grad_in, 1}, {&grad_weight, 0}, {&grad_bias, 0}, {&grad_out, 1}, {&in, 1},
                {&mean, 1}, {&var, 1}, {&weight, 0}},
               g) &&
      run_split(g, in.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::norm_backward_impl(
            slice(grad_in, 1, b, e), slice(grad_weight, 0, b, e), slice(grad_bias, 0, b, e),
            slice(grad_out, 1, b, e), slice(in, 1, b, e), slice(mean, 1, b, e),
            slice(var, 1, b, e), slice(weight, 0, b, e), p);
      })) {
    return;
  }
  ReferenceBackend::norm_backward_impl(grad_in, grad_weight, grad_bias, grad_out, in, mean, var,
                                       weight, p);
}

// --- pooling ------------------------------------------------------------------------------------
void CpuBackend::max_pool1d_impl(const View& out, const View& indices, const View& in,
                                 const Pool1dParams& p) {
  if (cpu::max_pool1d_fast(out, indices, in, p)) return;  // pool.cpp: unit-stride rows
  const int d = pool_dim(in);
  const std::int64_t extent = in.shape.size() == 3 ? in.shape[d] : 0;
  if (in.shape.size() == 3 && out.shape.size() == 3 &&
      cuttable({{&out, d}, {&indices, d}, {&in, d}}, extent) &&
      run_split(extent, in.numel() + out.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::max_pool1d_impl(slice(out, d, b, e), slice(indices, d, b, e),
                                          slice(in, d, b, e), p);
      })) {
    return;
  }
  ReferenceBackend::max_pool1d_impl(out, indices, in, p);
}

void CpuBackend::avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p) {
  const int d = pool_dim(in);
  const std::int64_t extent = in.shape.size() == 3 ? in.shape[d] : 0;
  if (in.shape.size() == 3 && out.shape.size() == 3 && cuttable({{&out, d}, {&in, d}}, extent) &&
      run_split(extent, in.numel() + out.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::avg_pool1d_impl(slice(out, d, b, e), slice(in, d, b, e), p);
      })) {
    return;
  }
  ReferenceBackend::avg_pool1d_impl(out, in, p);
}

void CpuBackend::avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                          const Pool1dParams& p) {
  const int d = pool_dim(grad_in);
  const std::int64_t extent = grad_in.shape.size() == 3 ? grad_in.shape[d] : 0;
  if (grad_in.shape.size() == 3 && grad_out.shape.size() == 3 &&
      cuttable({{&grad_in, d}, {&grad_out, d}}, extent) &&
      run_split(extent, grad_in.numel() + grad_out.numel(),
                [&](std::int64_t b, std::int64_t e) {
                  ReferenceBackend::avg_pool1d_backward_impl(slice(grad_in, d, b, e),
                                                             slice(grad_out, d, b, e), p);
                })) {
    return;
  }
  ReferenceBackend::avg_pool1d_backward_impl(grad_in, grad_out, p);
}

void CpuBackend::adaptive_max_pool1d_impl(const View& out, const View& indices, const View& in) {
  const int d = pool_dim(in);
  const std::int64_t extent = in.shape.size() == 3 ? in.shape[d] : 0;
  if (in.shape.size() == 3 && out.shape.size() == 3 &&
      cuttable({{&out, d}, {&indices, d}, {&in, d}}, extent) &&
      run_split(extent, in.numel() + out.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::adaptive_max_pool1d_impl(slice(out, d, b, e), slice(indices, d, b, e),
                                                   slice(in, d, b, e));
      })) {
    return;
  }
  ReferenceBackend::adaptive_max_pool1d_impl(out, indices, in);
}

void CpuBackend::adaptive_avg_pool1d_impl(const View& out, const View& in) {
  if (cpu::adaptive_avg_pool1d_fast(out, in)) return;  // pool.cpp: unit-stride rows
  const int d = pool_dim(in);
  const std::int64_t extent = in.shape.size() == 3 ? in.shape[d] : 0;
  if (in.shape.size() == 3 && out.shape.size() == 3 && cuttable({{&out, d}, {&in, d}}, extent) &&
      run_split(extent, in.numel() + out.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::adaptive_avg_pool1d_impl(slice(out, d, b, e), slice(in, d, b, e));
      })) {
    return;
  }
  ReferenceBackend::adaptive_avg_pool1d_impl(out, in);
}

void CpuBackend::adaptive_avg_pool1d_backward_impl(const View& grad_in, const View& grad_out) {
  if (cpu::adaptive_avg_pool1d_backward_fast(grad_in, grad_out)) return;
  const int d = pool_dim(grad_in);
  const std::int64_t extent = grad_in.shape.size() == 3 ? grad_in.shape[d] : 0;
  if (grad_in.shape.size() == 3 && grad_out.shape.size() == 3 &&
      cuttable({{&grad_in, d}, {&grad_out, d}}, extent) &&
      run_split(extent, grad_in.numel() + grad_out.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::adaptive_avg_pool1d_backward_impl(slice(grad_in, d, b, e),
                                                            slice(grad_out, d, b, e));
      })) {
    return;
  }
  ReferenceBackend::adaptive_avg_pool1d_backward_impl(grad_in, grad_out);
}

// MaxPool1d's backward: zeros.scatter_add(2, indices, grad_out) (pool.cpp; other scatters are
// the reference's).
void CpuBackend::scatter_add_impl(const View& out, int dim, const View& index, const View& src) {
  if (cpu::scatter_add_last_fast(out, dim, index, src)) return;
  ReferenceBackend::scatter_add_impl(out, dim, index, src);
}

// --- losses -------------------------------------------------------------------------------------
// Cut along N (dim 0 of every view but the class weight). A target out of range raises from
// the chunk that meets it (with several bad targets, which one is named may depend on timing).
void CpuBackend::cross_entropy_impl(const View& losses, const View& lse, const View& target_weight,
                                    const View& in, const View& target, const View& weight,
                                    const CrossEntropyParams& p) {
  if (cpu::cross_entropy_fast(losses, lse, target_weight, in, target, weight, p)) return;
  const std::int64_t n = in.shape.size() == 3 ? in.shape[0] : 0;
  if (in.shape.size() == 3 && target.shape.size() == 2 &&
      cuttable({{&losses, 0}, {&lse, 0}, {&target_weight, 0}, {&in, 0}, {&target, 0}}, n) &&
      run_split(n, in.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::cross_entropy_impl(slice(losses, 0, b, e), slice(lse, 0, b, e),
                                             slice(target_weight, 0, b, e), slice(in, 0, b, e),
                                             slice(target, 0, b, e), weight, p);
      })) {
    return;
  }
  ReferenceBackend::cross_entropy_impl(losses, lse, target_weight, in, target, weight, p);
}

void CpuBackend::cross_entropy_backward_impl(const View& grad_in, const View& grad_losses,
                                             const View& in, const View& lse, const View& target,
                                             const View& weight, const CrossEntropyParams& p) {
  if (cpu::cross_entropy_backward_fast(grad_in, grad_losses, in, lse, target, weight, p)) return;
  const std::int64_t n = in.shape.size() == 3 ? in.shape[0] : 0;
  if (in.shape.size() == 3 && grad_in.shape.size() == 3 && target.shape.size() == 2 &&
      cuttable({{&grad_in, 0}, {&grad_losses, 0}, {&in, 0}, {&lse, 0}, {&target, 0}}, n) &&
      run_split(n, in.numel(), [&](std::int64_t b, std::int64_t e) {
        ReferenceBackend::cross_entropy_backward_impl(
            slice(grad_in, 0, b, e), slice(grad_losses, 0, b, e), slice(in, 0, b, e),
            slice(lse, 0, b, e), slice(target, 0, b, e), weight, p);
      })) {
    return;
  }
  ReferenceBackend::cross_entropy_backward_impl(grad_in, grad_losses, in, lse, target, weight, p);
}

}  // namespace reel::backends
