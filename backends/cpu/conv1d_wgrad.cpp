// conv1d backward_weight as an implicit gemm (stride-1 float32 dense and grouped convolutions;
// conv1d.hpp says when it runs). For stride 1, tap k of output position t reads
// x[t + offset(k)], so
//
//   grad_W[g*cout + o][i][k] = sum over n, t of grad_y[n][g*cout + o][t] * x[n][g*cin + i][t + offset(k)]
//
// is a gemm whose reduction runs over positions with both operands contiguous along it: row o
// of grad_out, and row i of x shifted by offset(k). The micro-kernel (conv1d_wgrad.avx512.cpp)
// reads both straight from memory, 16 positions at a time, into MR x NC vector accumulators
// (grad_out rows by flattened (i, k) columns) and sums them horizontally once per block of
// positions. Compared with the gemm algorithm there is no im2col (K copies of x), no packing
// (a transpose of the columns) and no product buffer.
//
// Zero padding: per sample, the positions whose taps all read inside [0, L) are read from x
// directly; the few at either edge (within the kernel's reach of the padding) read a small
// zero-padded copy of just their window, shared by every tile of the block.
//
// Work and determinism: the flattened positions q = n * Lout + t are cut into a fixed number of
// slots (from the problem's shape alone: enough (slot, group, row panel) units for the threads
// when there are few panels) and each slot into blocks of kBlock positions; a unit owns the
// rows of one panel of one group for one slot, and adds the blocks' sums in order. The slots'
// partial grad_W are added in slot order after the loop. Nothing depends on the thread count:
// results are bitwise the same at 1 and at N threads. A thread runs a contiguous range of
// units; for each block it walks its panels, so the block's x rows are read from cache by all.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "backends/cpu/caching_allocator.hpp"
#include "backends/cpu/conv1d.hpp"
#include "backends/cpu/conv1d_wgrad_kernel.hpp"
#include "backends/cpu/simd_kernels.hpp"
#include "backends/cpu/thread_pool.hpp"

namespace reel::backends::cpu {

namespace {

using detail::WgradSegment;
using detail::WgradTile;
using TileFn = void (*)(const WgradTile&);

// The AVX-512 kernel's contract in plain loops (any MR x NC: rows and cols bound the loops).
void kernel_portable(const WgradTile& tile) {
  for (int r = 0; r < tile.rows; ++r) {
    for (int c = 0; c < tile.cols; ++c) {
      float acc = 0.0f;
      for (std::int64_t s = 0; s < tile.segments; ++s) {
        const WgradSegment& seg = tile.segment[s];
        const float* gp = seg.gy + tile.row_off + r * tile.ldgy;
        const float* xp = seg.x + tile.col_ci[c] * seg.ldx + tile.col_k[c];
        for (std::int64_t t = 0; t < seg.count; ++t) acc += gp[t] * xp[t];
      }
      tile.gw[r * tile.ldgw + c] += acc;
    }
  }
}

struct TileShape {
  int mr, nc;
  TileFn fn;
};

// The tile shape with the fewest padded products (rows and columns rounded up to whole tiles);
// ties go to the first (4 x 6: 10 loads per 24 FMAs).
TileShape pick_tile(std::int64_t rows, std::int64_t cols) {
  const bool native = conv1d_implicit_native();
  const TileShape shapes[] = {
      {4, 6, native ? detail::conv1d_wgrad_kernel_4x6_avx512 : kernel_portable},
      {3, 7, native ? detail::conv1d_wgrad_kernel_3x7_avx512 : kernel_portable},
      {3, 8, native ? detail::conv1d_wgrad_kernel_3x8_avx512 : kernel_portable},
  };
  auto padded = [&](const TileShape& s) {
    return (rows + s.mr - 1) / s.mr * s.mr * ((cols + s.nc - 1) / s.nc * s.nc);
  };
  TileShape best = shapes[0];
  for (const TileShape& s : shapes)
    if (padded(s) < padded(best)) best = s;
  return best;
}

constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Positions per block: each tile's accumulators are summed horizontally once per block, so long
// blocks (128 vector steps); the block's grad_out rows of one panel stay in L1/L2 and its x
// rows in L2/L3 while every tile reads them. Fixed, so results do not depend on the machine.
constexpr std::int64_t kBlock = 2048;
// Units wanted at least (slots x groups x panels), fixed: enough for the threads of a typical
// machine without making results depend on its thread count.
constexpr std::int64_t kMinUnits = 16;

// The segments of block [q0, q1) of group g (interior runs read x, edge runs a zero-padded
// window built into `win`). With seg == nullptr only counts: segments and window floats.
void block_segments(const Conv1dProblem& c, std::int64_t g, std::int64_t q0, std::int64_t q1,
                    const float* gy, const float* x, WgradSegment* seg, float* win,
                    std::int64_t& segments, std::int64_t& win_floats) {
  const std::int64_t cin = c.in_per_group, lout = c.out_length, len = c.length;
  const std::int64_t off0 = c.offset(0), reach = (c.kernel - 1) * c.dilation;
  const std::int64_t lo_all = std::min(c.valid_lo(0), lout);  // every tap inside from here
  const std::int64_t hi_all = c.valid_hi(c.kernel - 1);         // up to here
  segments = 0;
  win_floats = 0;
  auto add = [&](const float* gyrow, const float* xg, std::int64_t ta, std::int64_t tb,
                 bool edge) {
    if (tb <= ta) return;
    const std::int64_t count = tb - ta, wlen = count + reach;
    if (seg != nullptr) {
      WgradSegment& s = seg[segments];
      s.gy = gyrow + ta;
      s.count = count;
      if (!edge) {
        s.x = xg + ta + off0;
        s.ldx = len;
      } else {
        float* w = win + win_floats;
        const std::int64_t first = ta + off0;  // x position of window slot 0
        const std::int64_t lo = std::clamp<std::int64_t>(-first, 0, wlen);
        const std::int64_t hi = std::clamp<std::int64_t>(len - first, lo, wlen);
        for (std::int64_t i = 0; i < cin; ++i) {
          float* dst = w + i * wlen;
          std::fill(dst, dst + lo, 0.0f);
          if (hi > lo)
            std::memcpy(dst + lo, xg + i * len + first + lo,
                        sizeof(float) * static_cast<std::size_t>(hi - lo));
          std::fill(dst + hi, dst + wlen, 0.0f);
        }
        s.x = w;
        s.ldx = wlen;
      }
    }
    ++segments;
    if (edge) win_floats += cin * wlen;
  };
  for (std::int64_t q = q0; q < q1;) {
    const std::int64_t n = q / lout, t0 = q % lout, t1 = std::min(lout, t0 + (q1 - q));
    const float* gyrow = gy + (n * c.out_channels + g * c.out_per_group) * lout;
    const float* xg = x + (n * c.in_channels + g * cin) * len;
    if (lo_all < hi_all) {
      const std::int64_t a = std::clamp(lo_all, t0, t1), b = std::clamp(hi_all, a, t1);
      add(gyrow, xg, t0, a, true);
      add(gyrow, xg, a, b, false);
      add(gyrow, xg, b, t1, true);
    } else {
      add(gyrow, xg, t0, t1, true);
    }
    q += t1 - t0;
  }
}

// --- short rows (issue 10) --- With rows of 7-28 positions the 16-position vector steps above
// would be mostly masked. As in the implicit forward's short-row tiles (conv1d_implicit.cpp),
// the tile is transposed instead: both operands are copied channels-last (x with zero margins
// as wide as the taps reach past the row, conv1d_channels_last), and a tile of 6 (input
// channel, tap) pairs x 64 output channels steps over positions: one row of grad_out loaded as
// 4 vectors, 6 values of x broadcast. The positions of the batch, q = n * Lout + t, are cut into
// a fixed number of slots (from the shape alone) and each slot into blocks of kRowsBlock, whose
// grad_out rows stay in L1 while every pair panel reads them; a unit is one (slot, group, panel
// of 64 output channels) and keeps its transposed sums in its own buffer; the slots are added in
// order at the end. As above, results are bitwise the same at any thread count.
constexpr std::int64_t kRowsBlock = 64, kRowsMinUnits = 8;
constexpr int kRowsPairs = 6, kRowsChannels = 64;

void rows_weight_grad(const Conv1dProblem& c, float* gw, const float* gy, const float* x) {
  const std::int64_t cin = c.in_per_group, cout = c.out_per_group, lout = c.out_length;
  const std::int64_t reach = (c.kernel - 1) * c.dilation;
  const Conv1dMargins m = conv1d_channels_last_margins(c.length, lout, c.offset(0), reach);
  const std::int64_t span = m.left + c.length + m.right;
  CachedBuffer<float> xt(c.batch * span * c.in_channels), gyt(c.batch * lout * c.out_channels);
  conv1d_channels_last(x, c.batch, c.in_channels, c.length, m, xt.data);
  conv1d_channels_last(gy, c.batch, c.out_channels, lout, {0, 0}, gyt.data);
  const std::int64_t first = m.left + c.offset(0);  // a block's row read by output 0, tap 0

  const std::int64_t pairs = cin * c.kernel;
  const std::int64_t pair_panels = ceil_div(pairs, kRowsPairs);
  const std::int64_t co_panels = ceil_div(cout, kRowsChannels);
  const std::int64_t ldgw = co_panels * kRowsChannels;
  CachedBuffer<std::int64_t> off(pair_panels * kRowsPairs);
  for (std::int64_t j = 0; j < pair_panels * kRowsPairs; ++j)
    off.data[j] = j < pairs ? j % c.kernel * c.dilation * c.in_channels + j / c.kernel : 0;
  const std::int64_t total = c.batch * lout;
  const std::int64_t slots = std::clamp<std::int64_t>(
      ceil_div(kRowsMinUnits, c.groups * co_panels), 1, ceil_div(total, kRowsBlock));
  const std::int64_t part = pair_panels * kRowsPairs * ldgw;  // one (slot, group)'s sums
  CachedBuffer<float> sums(slots * c.groups * part);
  const std::int64_t unit_macs = pairs * kRowsChannels * ceil_div(total, slots);
  const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 18) / unit_macs);
  parallel_for(0, slots * c.groups * co_panels, grain, [&](std::int64_t u0, std::int64_t u1) {
    detail::WgradRowsSegment seg[kRowsBlock];
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t cp = u % co_panels, g = u / co_panels % c.groups;
      const std::int64_t s = u / (co_panels * c.groups);
      float* gwt = sums.data + (s * c.groups + g) * part + cp * kRowsChannels;
      const std::int64_t q_begin = total * s / slots, q_end = total * (s + 1) / slots;
      for (std::int64_t q0 = q_begin; q0 < q_end; q0 += kRowsBlock) {
        const std::int64_t q1 = std::min(q0 + kRowsBlock, q_end);
        std::int64_t segments = 0;
        for (std::int64_t q = q0; q < q1;) {
          const std::int64_t n = q / lout, t = q % lout, count = std::min(lout - t, q1 - q);
          seg[segments++] = {xt.data + (n * span + first + t) * c.in_channels + g * cin,
                             gyt.data + (n * lout + t) * c.out_channels + g * cout +
                                 cp * kRowsChannels,
                             count};
          q += count;
        }
        for (std::int64_t pp = 0; pp < pair_panels; ++pp) {
          const detail::WgradRowsTile tile{
              seg, segments, c.in_channels, c.out_channels, off.data + pp * kRowsPairs,
              gwt + pp * kRowsPairs * ldgw, ldgw,
              static_cast<int>(std::min<std::int64_t>(kRowsPairs, pairs - pp * kRowsPairs)),
              static_cast<int>(std::min<std::int64_t>(kRowsChannels, cout - cp * kRowsChannels)),
              q0 != q_begin};
          detail::conv1d_wgrad_rows_kernel_6x64_avx512(tile);
        }
      }
    }
  });
  // grad_W[g * cout + o][pair] = the slots' transposed sums, added in slot order.
  const TypedKernels<float>& kern = simd_kernels().get<float>();
  const std::int64_t slot_size = c.groups * part;
  for (std::int64_t s = 1; s < slots; ++s)
    kern.axpy(slot_size, 1.0f, sums.data + s * slot_size, sums.data);
  for (std::int64_t g = 0; g < c.groups; ++g)
    for (std::int64_t j = 0; j < pairs; ++j)
      for (std::int64_t o = 0; o < cout; ++o)
        gw[(g * cout + o) * pairs + j] = sums.data[g * part + j * ldgw + o];
}

}  // namespace

template <class T>
bool conv1d_implicit_backward_weight(const Conv1dProblem& c, T* gw, T* gb, const T* gy,
                                     const T* x) {
  if constexpr (!std::is_same_v<T, float>) {
    return false;
  } else {
    if (c.stride != 1) return false;
    if (c.batch > 1 && c.out_length <= kConv1dShortRows &&
        c.out_per_group >= kConv1dRowsMinChannels && conv1d_implicit_native()) {
      rows_weight_grad(c, gw, gy, x);
      if (gb != nullptr) conv1d_bias_grad<float>(c, gb, gy);
      return true;
    }
    const std::int64_t rows = c.out_per_group, cols = c.in_per_group * c.kernel;
    const TileShape shape = pick_tile(rows, cols);
    const std::int64_t panels = ceil_div(rows, shape.mr), colblocks = ceil_div(cols, shape.nc);
    const std::int64_t total = c.batch * c.out_length;
    const std::int64_t slots = std::clamp<std::int64_t>(
        ceil_div(kMinUnits, c.groups * panels), 1, ceil_div(total, kBlock));
    CachedBuffer<std::int64_t> col_ci(cols), col_k(cols);
    for (std::int64_t j = 0; j < cols; ++j) {
      col_ci.data[j] = j / c.kernel;
      col_k.data[j] = j % c.kernel * c.dilation;
    }
    const std::int64_t wsize = c.out_channels * cols;
    CachedBuffer<float> partials((slots - 1) * wsize);
    const std::int64_t units = slots * c.groups * panels;
    const std::int64_t unit_macs = shape.mr * cols * ceil_div(total, slots);
    const std::int64_t grain = std::max<std::int64_t>(1, (std::int64_t{1} << 18) / unit_macs);
    parallel_for(0, units, grain, [&](std::int64_t u0, std::int64_t u1) {
      for (std::int64_t u = u0; u < u1;) {
        // A run of panels [p0, p1) of one (slot, group).
        const std::int64_t sg = u / panels, p0 = u % panels;
        const std::int64_t p1 = std::min(panels, p0 + (u1 - u));
        const std::int64_t s = sg / c.groups, g = sg % c.groups;
        float* acc = (s == 0 ? gw : partials.data + (s - 1) * wsize) + g * rows * cols;
        const std::int64_t r0 = p0 * shape.mr, r1 = std::min(rows, p1 * shape.mr);
        std::fill(acc + r0 * cols, acc + r1 * cols, 0.0f);
        const std::int64_t q_begin = total * s / slots, q_end = total * (s + 1) / slots;
        for (std::int64_t q0 = q_begin; q0 < q_end; q0 += kBlock) {
          const std::int64_t q1 = std::min(q0 + kBlock, q_end);
          std::int64_t segments = 0, win_floats = 0;
          block_segments(c, g, q0, q1, gy, x, nullptr, nullptr, segments, win_floats);
          auto* seg = static_cast<WgradSegment*>(
              conv1d_scratch(1, static_cast<std::size_t>(segments) * sizeof(WgradSegment)));
          float* win = scratch<float>(0, win_floats);
          block_segments(c, g, q0, q1, gy, x, seg, win, segments, win_floats);
          for (std::int64_t p = p0; p < p1; ++p) {
            const std::int64_t o0 = p * shape.mr;
            for (std::int64_t cb = 0; cb < colblocks; ++cb) {
              const std::int64_t j0 = cb * shape.nc;
              const WgradTile tile{seg,
                                   segments,
                                   o0 * c.out_length,
                                   c.out_length,
                                   col_ci.data + j0,
                                   col_k.data + j0,
                                   acc + o0 * cols + j0,
                                   cols,
                                   static_cast<int>(std::min<std::int64_t>(shape.mr, rows - o0)),
                                   static_cast<int>(std::min<std::int64_t>(shape.nc, cols - j0))};
              shape.fn(tile);
            }
          }
        }
        u += p1 - p0;
      }
    });
    const TypedKernels<float>& kern = simd_kernels().get<float>();
    for (std::int64_t s = 1; s < slots; ++s) kern.axpy(wsize, 1.0f, partials.data + (s - 1) * wsize, gw);
    if (gb != nullptr) conv1d_bias_grad<float>(c, gb, gy);
    return true;
  }
}

template bool conv1d_implicit_backward_weight<float>(const Conv1dProblem&, float*, float*,
                                                     const float*, const float*);
template bool conv1d_implicit_backward_weight<double>(const Conv1dProblem&, double*, double*,
                                                      const double*, const double*);

}  // namespace reel::backends::cpu
