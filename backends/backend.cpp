// The backend contract's shared half: the op table's dtype errors, the checks every backend
// runs before its kernel, the one wording of a missing kernel, and the backend registry.
#include "backends/backend.hpp"

#include <atomic>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "backends/checked_math.hpp"
#include "backends/strided_loop.hpp"

namespace reel::backends {

// --- the op table's rule -----------------------------------------------------------------------
namespace {

const char* category_word(DType t) {
  switch (category(t)) {
    case DTypeCategory::Bool: return "bool";
    case DTypeCategory::Integral: return "integer";
    case DTypeCategory::Floating: return "floating";
    case DTypeCategory::Complex: return "complex";
  }
  return "";
}

}  // namespace

void check_rank3(const char* op, const char* name, const View& v, const char* layout) {
  check(v.shape.size() == 3 && v.strides.size() == 3,
        "{}: expected {} to be a 3-d view {}, got shape {}", op, name, layout, v.shape);
  for (int d = 0; d < 3; ++d) {
    check(v.strides[d] >= 0, "{}: {} has a negative stride {}", op, name, v.strides);
  }
}

Conv1dShape check_conv1d(const char* op, const View& x, const View& y, const View* w,
                         const View* b, const Conv1dParams& p) {
  constexpr const char* kLayout = "[N, C, L] (or [Cout, Cin/groups, K])";
  check(p.stride >= 1, "{}: stride must be positive, got {}", op, p.stride);
  check(p.dilation >= 1, "{}: dilation must be positive, got {}", op, p.dilation);
  check(p.groups >= 1, "{}: groups must be positive, got {}", op, p.groups);
  check(p.pad_left >= 0 && p.pad_right >= 0, "{}: negative padding is not supported, got ({}, {})",
        op, p.pad_left, p.pad_right);
  check(is_inexact(x.dtype), "{}: expected a floating or complex dtype, got {}", op, x.dtype);
  check_rank3(op, "input", x, kLayout);
  check_rank3(op, "output", y, kLayout);

  Conv1dShape g;
  g.batch = x.shape[0];
  g.in_channels = x.shape[1];
  g.length = x.shape[2];
  g.out_channels = y.shape[1];
  g.out_length = y.shape[2];
  check(y.dtype == x.dtype, "{}: expected input and output of one dtype, got {} and {}", op,
        x.dtype, y.dtype);
  check(y.shape[0] == g.batch, "{}: batch sizes differ: input {} vs output {}", op, x.shape,
        y.shape);
  check(g.in_channels % p.groups == 0 && g.out_channels % p.groups == 0,
        "{}: groups={} must divide in_channels={} and out_channels={}", op, p.groups,
        g.in_channels, g.out_channels);
  g.in_per_group = g.in_channels / p.groups;
  g.out_per_group = g.out_channels / p.groups;

  if (w != nullptr) {
    check_rank3(op, "weight", *w, kLayout);
    check(w->dtype == x.dtype, "{}: expected input and weight of one dtype, got {} and {}", op,
          x.dtype, w->dtype);
    check(w->shape[0] == g.out_channels && w->shape[1] == g.in_per_group,
          "{}: expected weight of shape [{}, {}, K] (out_channels, in_channels/groups, K), got {}",
          op, g.out_channels, g.in_per_group, w->shape);
    g.kernel = w->shape[2];
    check(g.kernel >= 1, "{}: kernel size must be positive, got {}", op, g.kernel);
    // Checked (raises when the dilated kernel overflows or outgrows the padded input), so
    // every kernel's index arithmetic stays in range.
    const std::int64_t expected = p.out_length(g.length, g.kernel);
    check(g.out_length == expected, "{}: expected output length {}, got output of shape {}", op,
          expected, y.shape);
  }
  if (b != nullptr) {
    check(b->dtype == x.dtype, "{}: expected input and bias of one dtype, got {} and {}", op,
          x.dtype, b->dtype);
    check(b->shape.size() == 1 && b->shape[0] == g.out_channels && b->strides.size() == 1 &&
              b->strides[0] >= 0,
          "{}: expected bias of shape [{}], got {}", op, g.out_channels, b->shape);
  }
  return g;
}

void check_supported(OpId op, DType t) {
  const OpInfo& info = op_info(op);
  if (info.dtypes.contains(t)) [[likely]] return;
  std::string message = fmt::format("{}: not supported for {} dtype {}", info.name,
                                    category_word(t), t);
  if (*info.hint != '\0') {
    message += fmt::format(". {}", info.hint);
  } else if (is_integral(t, /*include_bool=*/true) && !(info.dtypes - dtypes::kComplex).empty() &&
             !info.dtypes.contains(DType::Int64)) {
    // Ops of floating maths (exp, div, ...) meet integers only when a caller skipped the
    // promotion that tensor/ops does.
    message += "; integer inputs must be promoted to a floating dtype first";
  }
  throw Error(message);
}

void Backend::not_implemented(OpId op, DType t) const {
  fail("{} is not implemented on the {} backend (dtype {})", op_name(op), name(), t);
}

bool Backend::supports(OpId, DType) const { return false; }

bool Backend::require(OpId op, DType t) const {
  if (!op_accepts(op, t)) [[unlikely]] check_supported(op, t);  // raises the table's error
  if (supports(op, t)) [[likely]] return false;
  if (is_reduced_float(t) && supports(op, opmath_dtype(t))) return true;
  not_implemented(op, t);
}

// --- 16-bit dtypes on float32 kernels ------------------------------------------------------------
// A kernel without a 16-bit path runs on float32 (complex64) copies of its 16-bit views: each is
// widened exactly into a contiguous buffer of this backend, the kernel computes (accumulating in
// float32), and the views it writes are rounded back once, to nearest even. This is what
// PyTorch's CPU kernels do for float16/bfloat16 ("opmath" float32), one op at a time; the cost
// is two copies, which the ops that matter for speed avoid with native kernels (supports()).
namespace {

class Widened {
 public:
  Widened(Backend& backend, std::initializer_list<const View*> views, unsigned written)
      : backend_(backend) {
    originals_.reserve(views.size());
    wide_.reserve(views.size());
    for (const View* v : views) {
      originals_.push_back(v);
      View w = *v;
      if (is_reduced_float(v->dtype)) {
        w.dtype = opmath_dtype(v->dtype);
        if (v->data != nullptr) {
          w.strides = contiguous_strides(v->shape);
          const std::size_t bytes =
              static_cast<std::size_t>(v->numel()) * element_size(w.dtype);
          w.data = bytes == 0 ? nullptr : backend_.allocate(bytes);
          buffers_.push_back({w.data, bytes});
          if (bytes != 0) backend_.copy(w, *v);
          if (written & (1u << (wide_.size()))) store_.push_back(wide_.size());
        }
      }
      wide_.push_back(w);
    }
  }
  ~Widened() {
    for (const auto& [ptr, bytes] : buffers_) {
      if (ptr != nullptr) backend_.deallocate(ptr, bytes);
    }
  }
  Widened(const Widened&) = delete;
  Widened& operator=(const Widened&) = delete;

  const View& operator[](std::size_t i) const { return wide_[i]; }
  // Rounds the written views back into the caller's.
  void store() {
    for (std::size_t i : store_) {
      if (wide_[i].data != nullptr) backend_.copy(*originals_[i], wide_[i]);
    }
  }

 private:
  Backend& backend_;
  std::vector<const View*> originals_;
  std::vector<View> wide_;
  std::vector<std::pair<void*, std::size_t>> buffers_;
  std::vector<std::size_t> store_;
};

}  // namespace

template <typename F, typename... V>
void Backend::run(OpId op, DType t, unsigned written, F&& impl, const V&... views) {
  if (!require(op, t)) [[likely]] {
    impl(views...);
    return;
  }
  Widened wide(*this, {&views...}, written);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    impl(wide[I]...);
  }(std::index_sequence_for<V...>{});
  wide.store();
}

// --- the entry points: shared checks, then the backend's kernel ---------------------------------
namespace {

void check_same_shape(const char* op, const char* what, const View& v, const View& out) {
  check(v.shape == out.shape, "{}: {} has shape {} but the output has shape {}", op, what,
        v.shape, out.shape);
}

void check_out_dtype(OpId op, const View& out, DType in) {
  const DType expected = op_out_dtype(op, in);
  check(out.dtype == expected, "{}: expected an output of dtype {} for input dtype {}, got {}",
        op_name(op), expected, in, out.dtype);
}

}  // namespace

void Backend::copy(const View& out, const View& in) {
  check_same_shape("copy", "the input", in, out);
  // Copies are what 16-bit views are widened with: every backend has them natively.
  if (require(KernelOp::Copy, out.dtype) || require(KernelOp::Copy, in.dtype)) [[unlikely]]
    not_implemented(KernelOp::Copy, is_reduced_float(out.dtype) ? out.dtype : in.dtype);
  copy_impl(out, in);
}

void Backend::fill(const View& out, Scalar value) {
  if (require(KernelOp::Fill, out.dtype)) [[unlikely]] not_implemented(KernelOp::Fill, out.dtype);
  fill_impl(out, value);
}

void Backend::unary(UnaryOp op, const View& out, const View& in) {
  check_same_shape(op_name(op), "the input", in, out);
  check_out_dtype(op, out, in.dtype);
  run(op, in.dtype, 0x1,
      [&](const View& out_, const View& in_) {
        unary_impl(op, out_, in_);
      },
      out, in);
}

void Backend::binary(BinaryOp op, const View& out, const View& a, const View& b) {
  const char* name = op_name(op);
  check(a.dtype == b.dtype, "{}: expected both inputs to share a dtype, got {} and {}", name,
        a.dtype, b.dtype);
  check(a.shape == out.shape && b.shape == out.shape,
        "{}: inputs must already be broadcast to the output's shape {}, got {} and {}", name,
        out.shape, a.shape, b.shape);
  check_out_dtype(op, out, a.dtype);
  run(op, a.dtype, 0x1,
      [&](const View& out_, const View& a_, const View& b_) {
        binary_impl(op, out_, a_, b_);
      },
      out, a, b);
}

void Backend::where(const View& out, const View& cond, const View& a, const View& b) {
  check(cond.dtype == kBool, "where: expected condition to be a boolean tensor, but got a tensor "
        "with dtype {}", cond.dtype);
  check(a.dtype == out.dtype && b.dtype == out.dtype,
        "where: expected a, b and out to share a dtype, got {}, {} and {}", a.dtype, b.dtype,
        out.dtype);
  check(cond.shape == out.shape && a.shape == out.shape && b.shape == out.shape,
        "where: shapes must already be broadcast to the output's {}, got cond {}, a {}, b {}",
        out.shape, cond.shape, a.shape, b.shape);
  run(KernelOp::Where, out.dtype, 0x1,
      [&](const View& out_, const View& cond_, const View& a_, const View& b_) {
        where_impl(out_, cond_, a_, b_);
      },
      out, cond, a, b);
}

namespace {
// The reductions' shapes: `out` has in's rank, and each dim is either kept (same extent) or
// reduced (extent 1 in out).
void check_reduction_shape(const char* name, const View& out, const View& in) {
  check(out.shape.size() == in.shape.size(),
        "{}: output rank {} must equal input rank {} (reduced dims have extent 1)", name,
        out.shape.size(), in.shape.size());
  for (int d = 0; d < in.shape.size(); ++d) {
    const bool is_reduced = out.shape[d] == 1 && in.shape[d] != 1;
    check(is_reduced || out.shape[d] == in.shape[d],
          "{}: output shape {} is not a reduction of input shape {}", name, out.shape, in.shape);
  }
}

// max/min of nothing has no value: PyTorch's messages.
void check_not_empty(const char* name, const View& out, const Shape& reduced) {
  if (numel_of(reduced) != 0 || numel_of(out.shape) == 0) return;
  if (numel_of(out.shape) == 1) {
    fail("{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
         "reduction dim with the 'dim' argument.", name);
  }
  int dim = 0;
  while (reduced[dim] != 0) ++dim;
  fail("{}(): Expected reduction dim {} to have non-zero size.", name, dim);
}

}  // namespace

void Backend::reduce(ReduceOp op, const View& out, const View& in) {
  check_out_dtype(op, out, in.dtype);
  run(op, in.dtype, 0x1,
      [&](const View& out_, const View& in_) {
        const char* name = op_name(op);
        check_reduction_shape(name, out_, in_);
        if (op == ReduceOp::Max || op == ReduceOp::Min) {
          check_not_empty(name, out_, reduced_shape(out_.shape, in_.shape));
        }
        reduce_impl(op, out_, in_);
      },
      out, in);
}

void Backend::arg_reduce(ArgReduceOp op, const View& values, const View& indices, const View& in,
                         int dim) {
  const char* name = op_name(op);
  check(indices.dtype == kInt64, "{}: expected int64 indices, got {}", name, indices.dtype);
  run(op, in.dtype, 0x3,
      [&](const View& values_, const View& indices_, const View& in_) {
        check(dim >= 0 && dim < in_.shape.size(), "{}: dim {} out of range for input of rank {}",
              name, dim, in_.shape.size());
        const Shape out_shape = with_extent(in_.shape, dim, 1);
        check(indices_.shape == out_shape, "{}: expected indices of shape {}, got {}", name,
              out_shape, indices_.shape);
        // `values` may be a null view (data == nullptr) when only the indices are wanted.
        check(values_.data == nullptr ||
                  (values_.shape == out_shape && values_.dtype == in_.dtype),
              "{}: expected values of shape {} and dtype {}, got {} and {}", name, out_shape,
              in_.dtype, values_.shape, values_.dtype);
        check(in_.shape[dim] > 0, "{}(): Expected reduction dim {} to have non-zero size.", name,
              dim);
        arg_reduce_impl(op, values_, indices_, in_, dim);
      },
      values, indices, in);
}

void Backend::matmul(const View& out, const View& a, const View& b) {
  check(a.dtype == out.dtype && b.dtype == out.dtype,
        "matmul: expected a, b and out of one dtype, got {}, {} and {}", a.dtype, b.dtype,
        out.dtype);
  check(out.shape.size() == 3 && a.shape.size() == 3 && b.shape.size() == 3,
        "matmul: expected 3-d views [B, M, K] @ [B, K, N] -> [B, M, N], got {} @ {} -> {}",
        a.shape, b.shape, out.shape);
  const std::int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
  check(a.shape[0] == batch && b.shape[0] == batch && a.shape[1] == m && b.shape[1] == k &&
            b.shape[2] == n,
        "matmul: shapes do not match: {} @ {} -> {}", a.shape, b.shape, out.shape);
  run(KernelOp::Matmul, out.dtype, 0x1,
      [&](const View& out_, const View& a_, const View& b_) {
        matmul_impl(out_, a_, b_);
      },
      out, a, b);
}

namespace {
// The indexing primitives' dtypes and shapes (every backend checks the index values itself,
// where it reads them).
void check_dim(const char* name, int dim, const View& v) {
  check(dim >= 0 && dim < v.shape.size(), "{}: dim {} out of range for a tensor of rank {}", name,
        dim, v.shape.size());
}

void check_index(const char* name, const View& index, bool one_dim) {
  check(index.dtype == kInt64, "{}: expected index of dtype int64, got {}", name, index.dtype);
  check(!one_dim || index.shape.size() <= 1, "{}: expected a 1-d index, got shape {}", name,
        index.shape);
}
}  // namespace

void Backend::index_select(const View& out, const View& in, int dim, const View& index) {
  const char* name = "index_select";
  check_dim(name, dim, in);
  check_index(name, index, true);
  check(out.dtype == in.dtype, "{}: output dtype {} differs from input dtype {}", name, out.dtype,
        in.dtype);
  check(out.shape == with_extent(in.shape, dim, index.numel()),
        "{}: output shape {} does not match input {} with dim {} of size {}", name, out.shape,
        in.shape, dim, index.numel());
  run(KernelOp::IndexSelect, in.dtype, 0x1,
      [&](const View& out_, const View& in_, const View& index_) {
        index_select_impl(out_, in_, dim, index_);
      },
      out, in, index);
}

void Backend::index_add(const View& out, int dim, const View& index, const View& src) {
  const char* name = "index_add";
  check_dim(name, dim, out);
  check_index(name, index, true);
  check(out.dtype == src.dtype, "{}: source dtype {} differs from self dtype {}", name, src.dtype,
        out.dtype);
  check(src.shape == with_extent(out.shape, dim, index.numel()),
        "{}: source shape {} does not match self {} with dim {} of size {}", name, src.shape,
        out.shape, dim, index.numel());
  run(KernelOp::IndexAdd, out.dtype, 0x1,
      [&](const View& out_, const View& index_, const View& src_) {
        index_add_impl(out_, dim, index_, src_);
      },
      out, index, src);
}

void Backend::gather(const View& out, const View& in, int dim, const View& index) {
  const char* name = "gather";
  check_dim(name, dim, in);
  check_index(name, index, false);
  check(out.dtype == in.dtype, "{}: output dtype {} differs from input dtype {}", name, out.dtype,
        in.dtype);
  check(index.shape == out.shape, "{}: index shape {} must equal output shape {}", name,
        index.shape, out.shape);
  check(index.shape.size() == in.shape.size(), "{}: index rank {} must equal input rank {}", name,
        index.shape.size(), in.shape.size());
  for (int d = 0; d < in.shape.size(); ++d) {
    check(d == dim || index.shape[d] <= in.shape[d],
          "{}: Size does not match at dimension {} expected index {} to be smaller than self {} "
          "apart from dimension {}", name, d, index.shape, in.shape, dim);
  }
  run(KernelOp::Gather, in.dtype, 0x1,
      [&](const View& out_, const View& in_, const View& index_) {
        gather_impl(out_, in_, dim, index_);
      },
      out, in, index);
}

void Backend::scatter_add(const View& out, int dim, const View& index, const View& src) {
  const char* name = "scatter_add";
  check_dim(name, dim, out);
  check_index(name, index, false);
  check(out.dtype == src.dtype, "{}: source dtype {} differs from self dtype {}", name, src.dtype,
        out.dtype);
  check(index.shape == src.shape, "{}: index shape {} must equal source shape {}", name,
        index.shape, src.shape);
  check(index.shape.size() == out.shape.size(), "{}: index rank {} must equal self rank {}", name,
        index.shape.size(), out.shape.size());
  for (int d = 0; d < out.shape.size(); ++d) {
    check(d == dim || index.shape[d] <= out.shape[d],
          "{}: Expected index {} to be smaller than self {} apart from dimension {}", name,
          index.shape, out.shape, dim);
  }
  run(KernelOp::ScatterAdd, out.dtype, 0x1,
      [&](const View& out_, const View& index_, const View& src_) {
        scatter_add_impl(out_, dim, index_, src_);
      },
      out, index, src);
}

namespace {
// The draw's parameters against the dtype it fills (every backend's random_impl may rely on it).
void check_random_spec(DType t, const RandomSpec& spec) {
  if (spec.kind == RandomSpec::Kind::Integer) {
    check(is_integral(t, /*include_bool=*/false) || is_floating(t),
          "random: integer draws fill integer, float32 or float64 tensors, got {}", t);
    check(spec.a < spec.b, "random: expected low < high, but got low={} and high={}", spec.a,
          spec.b);
  } else {
    const char* kind = spec.kind == RandomSpec::Kind::Uniform ? "uniform" : "normal";
    check(is_inexact(t), "random: {} draws fill floating or complex tensors, got {}", kind, t);
    if (spec.kind == RandomSpec::Kind::Uniform) {
      check(spec.a <= spec.b, "random: uniform expects from <= to, but got from={} and to={}",
            spec.a, spec.b);
    } else {
      check(spec.b >= 0.0, "random: normal expects std >= 0.0, but got std={}", spec.b);
    }
  }
}
}  // namespace

void Backend::random(const View& out, const RandomSpec& spec) {
  run(KernelOp::Random, out.dtype, 0x1,
      [&](const View& out_) {
        check_random_spec(out_.dtype, spec);
        random_impl(out_, spec);
      },
      out);
}

void Backend::conv1d_forward(const View& out, const View& in, const View& weight,
                             const View& bias, const Conv1dParams& p) {
  check(weight.data != nullptr || weight.numel() == 0, "conv1d: weight is required");
  check_conv1d("conv1d", in, out, &weight, bias.data != nullptr ? &bias : nullptr, p);
  run(KernelOp::Conv1dForward, in.dtype, 0x1,
      [&](const View& out_, const View& in_, const View& weight_, const View& bias_) {
        conv1d_forward_impl(out_, in_, weight_, bias_, p);
      },
      out, in, weight, bias);
}

void Backend::conv1d_backward_input(const View& grad_in, const View& grad_out,
                                    const View& weight, const Conv1dParams& p) {
  check_conv1d("conv1d_backward_input", grad_in, grad_out, &weight, nullptr, p);
  run(KernelOp::Conv1dBackwardInput, grad_out.dtype, 0x1,
      [&](const View& grad_in_, const View& grad_out_, const View& weight_) {
        conv1d_backward_input_impl(grad_in_, grad_out_, weight_, p);
      },
      grad_in, grad_out, weight);
}

void Backend::conv1d_backward_weight(const View& grad_weight, const View& grad_bias,
                                     const View& grad_out, const View& in,
                                     const Conv1dParams& p) {
  const bool want_weight = grad_weight.data != nullptr;
  const bool want_bias = grad_bias.data != nullptr;
  if (!want_weight && !want_bias) return;  // nothing requested, nothing computed
  check_conv1d("conv1d_backward_weight", in, grad_out, want_weight ? &grad_weight : nullptr,
               want_bias ? &grad_bias : nullptr, p);
  run(KernelOp::Conv1dBackwardWeight, grad_out.dtype, 0x3,
      [&](const View& grad_weight_, const View& grad_bias_, const View& grad_out_, const View& in_) {
        conv1d_backward_weight_impl(grad_weight_, grad_bias_, grad_out_, in_, p);
      },
      grad_weight, grad_bias, grad_out, in);
}

void Backend::conv1d_backward(const View& grad_in, const View& grad_weight,
                              const View& grad_bias, const View& grad_out, const View& in,
                              const View& weight, const Conv1dParams& p) {
  if (grad_in.data != nullptr)
    check_conv1d("conv1d_backward_input", grad_in, grad_out, &weight, nullptr, p);
  if (grad_weight.data != nullptr || grad_bias.data != nullptr)
    check_conv1d("conv1d_backward_weight", in, grad_out,
                 grad_weight.data != nullptr ? &grad_weight : nullptr,
                 grad_bias.data != nullptr ? &grad_bias : nullptr, p);
  run(KernelOp::Conv1dBackward, grad_out.dtype, 0x7,
      [&](const View& grad_in_, const View& grad_weight_, const View& grad_bias_,
          const View& grad_out_, const View& in_, const View& weight_) {
        conv1d_backward_impl(grad_in_, grad_weight_, grad_bias_, grad_out_, in_, weight_, p);
      },
      grad_in, grad_weight, grad_bias, grad_out, in, weight);
}

namespace {
// x is the unpadded [N, C, L] view, y the padded [N, C, L + left + right] one.
void check_pad(const char* op, const View& x, const View& y, PadMode mode, std::int64_t left,
               std::int64_t right) {
  check(x.shape.size() == 3 && y.shape.size() == 3 && x.strides.size() == 3 &&
            y.strides.size() == 3,
        "{}: expected 3-d views [N, C, L], got input {} and output {}", op, x.shape, y.shape);
  check(x.dtype == y.dtype, "{}: expected input and output of one dtype, got {} and {}", op,
        x.dtype, y.dtype);
  for (int d = 0; d < 3; ++d) {
    check(x.strides[d] >= 0 && y.strides[d] >= 0, "{}: negative strides are not supported", op);
  }
  check(left >= 0 && right >= 0, "{}: negative padding is not supported, got ({}, {})", op, left,
        right);
  const std::int64_t length = x.shape[2];
  std::optional<std::int64_t> padded = checked_add(length, left);
  if (padded) padded = checked_add(*padded, right);
  check(padded.has_value(), "{}: the padded length {} + {} + {} overflows int64", op, length,
        left, right);
  check(y.shape[0] == x.shape[0] && y.shape[1] == x.shape[1] && y.shape[2] == *padded,
        "{}: expected the padded shape [{}, {}, {}] for input {} padded by ({}, {}), got {}", op,
        x.shape[0], x.shape[1], *padded, x.shape, left, right, y.shape);
  switch (mode) {
    case PadMode::Zeros: break;
    case PadMode::Reflect:
      check((left == 0 || left < length) && (right == 0 || right < length),
            "{}: padding size should be less than the corresponding input dimension, but got: "
            "padding ({}, {}) at dimension 2 of input {} (mode reflect)",
            op, left, right, x.shape);
      break;
    case PadMode::Replicate:
      check((left == 0 && right == 0) || length > 0,
            "{}: cannot replicate-pad an empty dimension: input {} padded by ({}, {})", op,
            x.shape, left, right);
      break;
    case PadMode::Circular:
      check(left <= length && right <= length,
            "{}: padding value causes wrapping around more than once: padding ({}, {}) on a "
            "dimension of size {} (mode circular)",
            op, left, right, length);
      break;
    default: fail("{}: unknown padding mode {}", op, static_cast<int>(mode));
  }
}

}  // namespace

void Backend::pad1d(const View& out, const View& in, PadMode mode, std::int64_t left,
                    std::int64_t right) {
  run(KernelOp::Pad1d, in.dtype, 0x1,
      [&](const View& out_, const View& in_) {
        check_pad("pad1d", in_, out_, mode, left, right);
        pad1d_impl(out_, in_, mode, left, right);
      },
      out, in);
}

void Backend::pad1d_backward(const View& grad_in, const View& grad_out, PadMode mode,
                             std::int64_t left, std::int64_t right) {
  run(KernelOp::Pad1dBackward, grad_out.dtype, 0x1,
      [&](const View& grad_in_, const View& grad_out_) {
        check_pad("pad1d_backward", grad_in_, grad_out_, mode, left, right);
        pad1d_backward_impl(grad_in_, grad_out_, mode, left, right);
      },
      grad_in, grad_out);
}

// --- normalization (issue 7) ---
namespace {

// The shared geometry of the norm primitives (see NormParams): in [N, G, D, L], statistics
// [N or 1, G] of in's dtype, and each optional per-channel view [G, D] or null.
void check_norm_views(const char* op, const View& in, const View& mean, const View& var) {
  check(in.shape.size() == 4 && in.strides.size() == 4,
        "{}: expected a 4-d input view [N, G, D, L], got shape {}", op, in.shape);
  for (const View* s : {&mean, &var}) {
    check(s->shape.size() == 2 && s->strides.size() == 2 && s->shape[1] == in.shape[1] &&
              (s->shape[0] == in.shape[0] || s->shape[0] == 1),
          "{}: expected statistics of shape [{}, {}] or [1, {}] for input {}, got {}", op,
          in.shape[0], in.shape[1], in.shape[1], in.shape, s->shape);
    check(s->dtype == in.dtype, "{}: expected statistics of dtype {}, got {}", op, in.dtype,
          s->dtype);
  }
  check(mean.shape == var.shape, "{}: mean has shape {} but var has shape {}", op, mean.shape,
        var.shape);
}

void check_norm_channels(const char* op, const char* what, const View& v, const View& in) {
  if (v.data == nullptr) return;
  check(v.shape.size() == 2 && v.strides.size() == 2 && v.shape[0] == in.shape[1] &&
            v.shape[1] == in.shape[2],
        "{}: expected {} of shape [{}, {}] (groups, channels per group) for input {}, got {}", op,
        what, in.shape[1], in.shape[2], in.shape, v.shape);
  check(v.dtype == in.dtype, "{}: expected {} of dtype {}, got {}", op, what, in.dtype, v.dtype);
}

// `optional`: a null view (data == nullptr) means "not wanted" and is accepted.
void check_norm_like_input(const char* op, const char* what, const View& v, const View& in,
                           bool optional) {
  if (optional && v.data == nullptr) return;
  check(v.shape == in.shape && v.strides.size() == 4,
        "{}: {} has shape {} but the input has shape {}", op, what, v.shape, in.shape);
  check(v.dtype == in.dtype, "{}: expected {} of dtype {}, got {}", op, what, in.dtype, v.dtype);
}

}  // namespace

void Backend::norm_stats(const View& mean, const View& var, const View& in) {
  check_norm_views("norm_stats", in, mean, var);
  run(KernelOp::NormStats, in.dtype, 0x3,
      [&](const View& mean_, const View& var_, const View& in_) {
        norm_stats_impl(mean_, var_, in_);
      },
      mean, var, in);
}

void Backend::norm_forward(const View& out, const View& in, const View& mean, const View& var,
                           const View& weight, const View& bias, const NormParams& p) {
  check_norm_views("norm_forward", in, mean, var);
  check_norm_like_input("norm_forward", "the output", out, in, false);
  check_norm_channels("norm_forward", "weight", weight, in);
  check_norm_channels("norm_forward", "bias", bias, in);
  run(KernelOp::NormForward, in.dtype, 0xd,
      [&](const View& out_, const View& in_, const View& mean_, const View& var_, const View& weight_, const View& bias_) {
        norm_forward_impl(out_, in_, mean_, var_, weight_, bias_, p);
      },
      out, in, mean, var, weight, bias);
}

void Backend::norm_backward(const View& grad_in, const View& grad_weight, const View& grad_bias,
                            const View& grad_out, const View& in, const View& mean,
                            const View& var, const View& weight, const NormParams& p) {
  check_norm_views("norm_backward", in, mean, var);
  check_norm_like_input("norm_backward", "grad_out", grad_out, in, false);
  check_norm_like_input("norm_backward", "grad_in", grad_in, in, true);
  check_norm_channels("norm_backward", "weight", weight, in);
  check_norm_channels("norm_backward", "grad_weight", grad_weight, in);
  check_norm_channels("norm_backward", "grad_bias", grad_bias, in);
  run(KernelOp::NormBackward, in.dtype, 0x67,
      [&](const View& grad_in_, const View& grad_weight_, const View& grad_bias_, const View& grad_out_, const View& in_, const View& mean_, const View& var_, const View& weight_) {
        norm_backward_impl(grad_in_, grad_weight_, grad_bias_, grad_out_, in_, mean_, var_, weight_, p);
      },
      grad_in, grad_weight, grad_bias, grad_out, in, mean, var, weight);
}

// --- pooling (issue 7) ---
namespace {
// The pools' views: in [N, C, L] and out [N, C, Lout] (grad_in and grad_out for the backwards),
// and indices, when not null, int64 of out's shape.
void check_pool(const char* op, const View& in, const View& out, const View& indices) {
  check_rank3(op, "input", in, "[N, C, L]");
  check_rank3(op, "output", out, "[N, C, L]");
  check(is_floating(in.dtype), "{}: expected a float32 or float64 dtype, got {}", op, in.dtype);
  check(out.dtype == in.dtype, "{}: expected input and output of one dtype, got {} and {}", op,
        in.dtype, out.dtype);
  check(out.shape[0] == in.shape[0] && out.shape[1] == in.shape[1],
        "{}: input {} and output {} differ in N or C", op, in.shape, out.shape);
  if (indices.data != nullptr) {
    check_rank3(op, "indices", indices, "[N, C, L]");
    check(indices.dtype == kInt64 && indices.shape == out.shape,
          "{}: expected int64 indices of shape {}, got {} of shape {}", op, out.shape,
          indices.dtype, indices.shape);
  }
}

void check_window_geometry(const char* op, const View& in, const View& out, const Pool1dParams& p) {
  const std::int64_t expected = p.out_length(in.shape[2], op);
  check(out.shape[2] == expected, "{}: expected output length {}, got output of shape {}", op,
        expected, out.shape);
}

void check_adaptive(const char* op, const View& in, const View& out) {
  check(out.shape[2] >= 0, "{}: negative output size {}", op, out.shape[2]);
  check(in.shape[2] > 0 || out.numel() == 0,
        "{}: an empty input length cannot give output size {}", op, out.shape[2]);
}
}  // namespace

void Backend::max_pool1d(const View& out, const View& indices, const View& in,
                         const Pool1dParams& p) {
  run(KernelOp::MaxPool1d, in.dtype, 0x3,
      [&](const View& out_, const View& indices_, const View& in_) {
        check_pool("max_pool1d", in_, out_, indices_);
        check_window_geometry("max_pool1d", in_, out_, p);
        max_pool1d_impl(out_, indices_, in_, p);
      },
      out, indices, in);
}
void Backend::avg_pool1d(const View& out, const View& in, const Pool1dParams& p) {
  run(KernelOp::AvgPool1d, in.dtype, 0x1,
      [&](const View& out_, const View& in_) {
        check_pool("avg_pool1d", in_, out_, View{});
        check_window_geometry("avg_pool1d", in_, out_, p);
        avg_pool1d_impl(out_, in_, p);
      },
      out, in);
}
void Backend::avg_pool1d_backward(const View& grad_in, const View& grad_out,
                                  const Pool1dParams& p) {
  run(KernelOp::AvgPool1dBackward, grad_out.dtype, 0x1,
      [&](const View& grad_in_, const View& grad_out_) {
        check_pool("avg_pool1d_backward", grad_in_, grad_out_, View{});
        check_window_geometry("avg_pool1d_backward", grad_in_, grad_out_, p);
        avg_pool1d_backward_impl(grad_in_, grad_out_, p);
      },
      grad_in, grad_out);
}
void Backend::adaptive_max_pool1d(const View& out, const View& indices, const View& in) {
  run(KernelOp::AdaptiveMaxPool1d, in.dtype, 0x3,
      [&](const View& out_, const View& indices_, const View& in_) {
        check_pool("adaptive_max_pool1d", in_, out_, indices_);
        check_adaptive("adaptive_max_pool1d", in_, out_);
        adaptive_max_pool1d_impl(out_, indices_, in_);
      },
      out, indices, in);
}
void Backend::adaptive_avg_pool1d(const View& out, const View& in) {
  run(KernelOp::AdaptiveAvgPool1d, in.dtype, 0x1,
      [&](const View& out_, const View& in_) {
        check_pool("adaptive_avg_pool1d", in_, out_, View{});
        check_adaptive("adaptive_avg_pool1d", in_, out_);
        adaptive_avg_pool1d_impl(out_, in_);
      },
      out, in);
}
void Backend::adaptive_avg_pool1d_backward(const View& grad_in, const View& grad_out) {
  run(KernelOp::AdaptiveAvgPool1dBackward, grad_out.dtype, 0x1,
      [&](const View& grad_in_, const View& grad_out_) {
        check_pool("adaptive_avg_pool1d_backward", grad_in_, grad_out_, View{});
        check_adaptive("adaptive_avg_pool1d_backward", grad_in_, grad_out_);
        adaptive_avg_pool1d_backward_impl(grad_in_, grad_out_);
      },
      grad_in, grad_out);
}
void Backend::max_pool1d_impl(const View&, const View&, const View& in, const Pool1dParams&) {
  not_implemented(KernelOp::MaxPool1d, in.dtype);
}
void Backend::avg_pool1d_impl(const View&, const View& in, const Pool1dParams&) {
  not_implemented(KernelOp::AvgPool1d, in.dtype);
}
void Backend::avg_pool1d_backward_impl(const View&, const View& grad_out, const Pool1dParams&) {
  not_implemented(KernelOp::AvgPool1dBackward, grad_out.dtype);
}
void Backend::adaptive_max_pool1d_impl(const View&, const View&, const View& in) {
  not_implemented(KernelOp::AdaptiveMaxPool1d, in.dtype);
}
void Backend::adaptive_avg_pool1d_impl(const View&, const View& in) {
  not_implemented(KernelOp::AdaptiveAvgPool1d, in.dtype);
}
void Backend::adaptive_avg_pool1d_backward_impl(const View&, const View& grad_out) {
  not_implemented(KernelOp::AdaptiveAvgPool1dBackward, grad_out.dtype);
}

std::int64_t Pool1dParams::out_length(std::int64_t length, const char* op) const {
  check(kernel_size > 0, "{}: kernel_size must be greater than zero, but got {}", op, kernel_size);
  check(stride > 0, "{}: stride must be greater than zero, but got {}", op, stride);
  check(padding >= 0, "{}: padding must be non-negative, but got {}", op, padding);
  check(dilation > 0, "{}: dilation must be greater than zero, but got {}", op, dilation);
  check(padding <= kernel_size / 2,
        "{}: pad should be at most half of kernel size, but got pad={} and "
        "kernel_size={}",
        op, padding, kernel_size);
  check(length >= 0, "{}: negative input length {}", op, length);
  // length + 2*padding (padding <= kernel_size/2, so 2*padding <= kernel_size) and the
  // dilated kernel's span, checked.
  std::optional<std::int64_t> padded = checked_add(length, 2 * padding);
  std::optional<std::int64_t> span = checked_mul(dilation, kernel_size - 1);
  std::optional<std::int64_t> num;
  if (padded && span) num = checked_add(*padded - *span - 1, ceil_mode ? stride - 1 : 0);
  check(num.has_value(),
        "{}: the window geometry (length={}, padding={}, dilation={}, kernel_size={}) "
        "overflows int64",
        op, length, padding, dilation, kernel_size);
  // Rounded towards minus infinity, as PyTorch's div_rtn.
  std::int64_t out = (*num >= 0 ? *num / stride : -((-*num + stride - 1) / stride)) + 1;
  if (ceil_mode && out > 0) {
    // The last window must start inside the input or the left padding.
    const std::optional<std::int64_t> last_start = checked_mul(out - 1, stride);
    if (!last_start || *last_start >= length + padding) --out;
  }
  return out;
}

// --- softmax and losses (issue 7) ---
namespace {

void check_softmax_views(const char* op, const View& out, const View& in, int dim) {
  check(out.shape == in.shape, "{}: the output has shape {} but the input has shape {}", op,
        out.shape, in.shape);
  check(out.dtype == in.dtype, "{}: expected an output of dtype {}, got {}", op, in.dtype,
        out.dtype);
  check(dim >= 0 && dim < static_cast<int>(in.shape.size()),
        "{}: dim {} is out of range for a view of rank {}", op, dim, in.shape.size());
}

// in [N, C, L]; target [N, L] int64; weight [C] or null; every per-element output [N, L] (or
// null where allowed) of in's dtype.
void check_class_views(const char* op, const View& in, const View& target, const View& weight,
                       std::initializer_list<const View*> per_element) {
  check(in.shape.size() == 3, "{}: expected input of shape [N, C, L], got {}", op, in.shape);
  check(target.dtype == kInt64, "{}: expected int64 class indices, got {}", op, target.dtype);
  check(target.shape == Shape{in.shape[0], in.shape[2]},
        "{}: expected target of shape [{}, {}] for input {}, got {}", op, in.shape[0],
        in.shape[2], in.shape, target.shape);
  if (weight.data != nullptr) {
    check(weight.dtype == in.dtype && weight.shape == Shape{in.shape[1]},
          "{}: expected a weight of shape [{}] and dtype {}, got {} of dtype {}", op,
          in.shape[1], in.dtype, weight.shape, weight.dtype);
  }
  for (const View* v : per_element) {
    if (v->data == nullptr) continue;
    check(v->dtype == in.dtype && v->shape == target.shape,
          "{}: expected per-element views of shape {} and dtype {}, got {} of dtype {}", op,
          target.shape, in.dtype, v->shape, v->dtype);
  }
}

void check_label_smoothing(const char* op, double s) {
  check(s >= 0.0 && s <= 1.0, "{}: label_smoothing must be between 0.0 and 1.0. Got: {}", op, s);
}

}  // namespace

void Backend::softmax(const View& out, const View& in, int dim, bool log) {
  const KernelOp op = log ? KernelOp::LogSoftmax : KernelOp::Softmax;
  check_softmax_views(op_name(op), out, in, dim);
  run(op, in.dtype, 0x1,
      [&](const View& out_, const View& in_) {
        softmax_impl(out_, in_, dim, log);
      },
      out, in);
}

void Backend::softmax_backward(const View& grad_in, const View& grad_out, const View& out,
                               int dim, bool log) {
  const KernelOp op = log ? KernelOp::LogSoftmaxBackward : KernelOp::SoftmaxBackward;
  check_softmax_views(op_name(op), grad_out, out, dim);
  check_softmax_views(op_name(op), grad_in, out, dim);
  run(op, out.dtype, 0x5,
      [&](const View& grad_in_, const View& grad_out_, const View& out_) {
        softmax_backward_impl(grad_in_, grad_out_, out_, dim, log);
      },
      grad_in, grad_out, out);
}

void Backend::cross_entropy(const View& losses, const View& lse, const View& target_weight,
                            const View& in, const View& target, const View& weight,
                            const CrossEntropyParams& p) {
  // An empty view may have no data (the CUDA allocator gives none for 0 bytes): it is given.
  const auto given = [](const View& v) { return v.data != nullptr || v.numel() == 0; };
  check(given(losses) && given(lse), "cross_entropy: losses and lse must be given");
  check_class_views("cross_entropy", in, target, weight, {&losses, &lse, &target_weight});
  check_label_smoothing("cross_entropy", p.label_smoothing);
  run(KernelOp::CrossEntropy, in.dtype, 0x7,
      [&](const View& losses_, const View& lse_, const View& target_weight_, const View& in_, const View& target_, const View& weight_) {
        cross_entropy_impl(losses_, lse_, target_weight_, in_, target_, weight_, p);
      },
      losses, lse, target_weight, in, target, weight);
}

void Backend::cross_entropy_backward(const View& grad_in, const View& grad_losses,
                                     const View& in, const View& lse, const View& target,
                                     const View& weight, const CrossEntropyParams& p) {
  check(grad_in.shape == in.shape && grad_in.dtype == in.dtype,
        "cross_entropy_backward: grad_in has shape {} and dtype {}, expected {} and {}",
        grad_in.shape, grad_in.dtype, in.shape, in.dtype);
  check_class_views("cross_entropy_backward", in, target, weight, {&grad_losses, &lse});
  check_label_smoothing("cross_entropy_backward", p.label_smoothing);
  run(KernelOp::CrossEntropyBackward, in.dtype, 0x9,
      [&](const View& grad_in_, const View& grad_losses_, const View& in_, const View& lse_, const View& target_, const View& weight_) {
        cross_entropy_backward_impl(grad_in_, grad_losses_, in_, lse_, target_, weight_, p);
      },
      grad_in, grad_losses, in, lse, target, weight);
}

void Backend::nll_loss(const View& losses, const View& target_weight, const View& in,
                       const View& target, const View& weight, const CrossEntropyParams& p) {
  check(losses.data != nullptr || losses.numel() == 0, "nll_loss: losses must be given");
  check_class_views("nll_loss", in, target, weight, {&losses, &target_weight});
  check(p.label_smoothing == 0.0, "nll_loss: label_smoothing is cross_entropy's, got {}",
        p.label_smoothing);
  run(KernelOp::NllLoss, in.dtype, 0x3,
      [&](const View& losses_, const View& target_weight_, const View& in_, const View& target_, const View& weight_) {
        nll_loss_impl(losses_, target_weight_, in_, target_, weight_, p);
      },
      losses, target_weight, in, target, weight);
}

void Backend::nll_loss_backward(const View& grad_in, const View& grad_losses, const View& target,
                                const View& weight, const CrossEntropyParams& p) {
  check_class_views("nll_loss_backward", grad_in, target, weight, {&grad_losses});
  check(p.label_smoothing == 0.0, "nll_loss_backward: label_smoothing is cross_entropy's, got {}",
        p.label_smoothing);
  run(KernelOp::NllLossBackward, grad_in.dtype, 0x1,
      [&](const View& grad_in_, const View& grad_losses_, const View& target_, const View& weight_) {
        nll_loss_backward_impl(grad_in_, grad_losses_, target_, weight_, p);
      },
      grad_in, grad_losses, target, weight);
}
// --- end softmax and losses ---

// --- the defaults: no kernel ---------------------------------------------------------------------
void Backend::copy_impl(const View& out, const View&) { not_implemented(KernelOp::Copy, out.dtype); }
void Backend::fill_impl(const View& out, Scalar) { not_implemented(KernelOp::Fill, out.dtype); }
void Backend::unary_impl(UnaryOp op, const View&, const View& in) { not_implemented(op, in.dtype); }
void Backend::binary_impl(BinaryOp op, const View&, const View& a, const View&) {
  not_implemented(op, a.dtype);
}
void Backend::where_impl(const View& out, const View&, const View&, const View&) {
  not_implemented(KernelOp::Where, out.dtype);
}
void Backend::reduce_impl(ReduceOp op, const View&, const View& in) {
  not_implemented(op, in.dtype);
}
void Backend::arg_reduce_impl(ArgReduceOp op, const View&, const View&, const View& in, int) {
  not_implemented(op, in.dtype);
}
void Backend::matmul_impl(const View& out, const View&, const View&) {
  not_implemented(KernelOp::Matmul, out.dtype);
}
void Backend::index_select_impl(const View&, const View& in, int, const View&) {
  not_implemented(KernelOp::IndexSelect, in.dtype);
}
void Backend::index_add_impl(const View& out, int, const View&, const View&) {
  not_implemented(KernelOp::IndexAdd, out.dtype);
}
void Backend::gather_impl(const View&, const View& in, int, const View&) {
  not_implemented(KernelOp::Gather, in.dtype);
}
void Backend::scatter_add_impl(const View& out, int, const View&, const View&) {
  not_implemented(KernelOp::ScatterAdd, out.dtype);
}
void Backend::random_impl(const View& out, const RandomSpec&) {
  not_implemented(KernelOp::Random, out.dtype);
}
void Backend::conv1d_forward_impl(const View&, const View& in, const View&, const View&,
                                  const Conv1dParams&) {
  not_implemented(KernelOp::Conv1dForward, in.dtype);
}
void Backend::conv1d_backward_input_impl(const View&, const View& grad_out, const View&,
                                         const Conv1dParams&) {
  not_implemented(KernelOp::Conv1dBackwardInput, grad_out.dtype);
}
void Backend::conv1d_backward_weight_impl(const View&, const View&, const View& grad_out,
                                          const View&, const Conv1dParams&) {
  not_implemented(KernelOp::Conv1dBackwardWeight, grad_out.dtype);
}
// The unfused default: the two primitives' kernels, on the views run() prepared.
void Backend::conv1d_backward_impl(const View& grad_in, const View& grad_weight,
                                   const View& grad_bias, const View& grad_out, const View& in,
                                   const View& weight, const Conv1dParams& p) {
  if (grad_in.data != nullptr) conv1d_backward_input_impl(grad_in, grad_out, weight, p);
  if (grad_weight.data != nullptr || grad_bias.data != nullptr)
    conv1d_backward_weight_impl(grad_weight, grad_bias, grad_out, in, p);
}
void Backend::pad1d_impl(const View&, const View& in, PadMode, std::int64_t, std::int64_t) {
  not_implemented(KernelOp::Pad1d, in.dtype);
}
void Backend::pad1d_backward_impl(const View&, const View& grad_out, PadMode, std::int64_t,
                                  std::int64_t) {
  not_implemented(KernelOp::Pad1dBackward, grad_out.dtype);
}

// --- normalization (issue 7) ---
void Backend::norm_stats_impl(const View&, const View&, const View& in) {
  not_implemented(KernelOp::NormStats, in.dtype);
}
void Backend::norm_forward_impl(const View&, const View& in, const View&, const View&,
                                const View&, const View&, const NormParams&) {
  not_implemented(KernelOp::NormForward, in.dtype);
}
void Backend::norm_backward_impl(const View&, const View&, const View&, const View&,
                                 const View& in, const View&, const View&, const View&,
                                 const NormParams&) {
  not_implemented(KernelOp::NormBackward, in.dtype);
}

// --- softmax and losses (issue 7) ---
void Backend::softmax_impl(const View&, const View& in, int, bool log) {
  not_implemented(log ? KernelOp::LogSoftmax : KernelOp::Softmax, in.dtype);
}
void Backend::softmax_backward_impl(const View&, const View&, const View& out, int, bool log) {
  not_implemented(log ? KernelOp::LogSoftmaxBackward : KernelOp::SoftmaxBackward, out.dtype);
}
void Backend::cross_entropy_impl(const View&, const View&, const View&, const View& in,
                                 const View&, const View&, const CrossEntropyParams&) {
  not_implemented(KernelOp::CrossEntropy, in.dtype);
}
void Backend::cross_entropy_backward_impl(const View&, const View&, const View& in, const View&,
                                          const View&, const View&, const CrossEntropyParams&) {
  not_implemented(KernelOp::CrossEntropyBackward, in.dtype);
}
void Backend::nll_loss_impl(const View&, const View&, const View& in, const View&, const View&,
                            const CrossEntropyParams&) {
  not_implemented(KernelOp::NllLoss, in.dtype);
}
void Backend::nll_loss_backward_impl(const View& grad_in, const View&, const View&, const View&,
                                     const CrossEntropyParams&) {
  not_implemented(KernelOp::NllLossBackward, grad_in.dtype);
}
// --- end softmax and losses ---

// --- optimizer updates (issue 7) ---
namespace {

// Every view of a fused optimizer update has the parameter's shape and dtype; optional state is
// a null view only when the options don't use it; nothing is written through a broadcast
// (stride-0) dim, which would update one element several times.
void check_optim_view(const char* op, const char* what, const View& v, const View& param,
                      bool needed, bool written) {
  if (v.data == nullptr) {
    check(!needed, "{}: the {} is required by these options but was not given", op, what);
    return;
  }
  check(v.shape == param.shape, "{}: the {} has shape {} but the parameter has shape {}", op,
        what, v.shape, param.shape);
  check(v.dtype == param.dtype, "{}: the {} has dtype {} but the parameter has dtype {}", op,
        what, v.dtype, param.dtype);
  check(v.strides.size() == v.shape.size(), "{}: the {} has {} strides for {} dims", op, what,
        v.strides.size(), v.shape.size());
  for (int d = 0; d < v.shape.size(); ++d) {
    check(v.strides[d] >= 0, "{}: the {} has a negative stride", op, what);
    check(!written || v.strides[d] != 0 || v.shape[d] <= 1,
          "{}: the {} is written in place and cannot be a broadcast (stride 0) view", op, what);
  }
}

}  // namespace

void Backend::sgd_step(const View& param, const View& grad, const View& momentum_buffer,
                       const SgdStepParams& p) {
  const char* op = "sgd_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "momentum buffer", momentum_buffer, param, p.momentum != 0.0, true);
  run(KernelOp::SgdStep, param.dtype, 0x5,
      [&](const View& param_, const View& grad_, const View& momentum_buffer_) {
        sgd_step_impl(param_, grad_, momentum_buffer_, p);
      },
      param, grad, momentum_buffer);
}

void Backend::adam_step(const View& param, const View& grad, const View& exp_avg,
                        const View& exp_avg_sq, const View& max_exp_avg_sq,
                        const AdamStepParams& p) {
  const char* op = "adam_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "exp_avg", exp_avg, param, true, true);
  check_optim_view(op, "exp_avg_sq", exp_avg_sq, param, true, true);
  check_optim_view(op, "max_exp_avg_sq", max_exp_avg_sq, param, p.amsgrad, true);
  run(KernelOp::AdamStep, param.dtype, 0x1d,
      [&](const View& param_, const View& grad_, const View& exp_avg_, const View& exp_avg_sq_, const View& max_exp_avg_sq_) {
        adam_step_impl(param_, grad_, exp_avg_, exp_avg_sq_, max_exp_avg_sq_, p);
      },
      param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
}

void Backend::rmsprop_step(const View& param, const View& grad, const View& square_avg,
                           const View& grad_avg, const View& momentum_buffer,
                           const RmspropStepParams& p) {
  const char* op = "rmsprop_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "square_avg", square_avg, param, true, true);
  check_optim_view(op, "grad_avg", grad_avg, param, p.centered, true);
  check_optim_view(op, "momentum buffer", momentum_buffer, param, p.momentum > 0.0, true);
  run(KernelOp::RmspropStep, param.dtype, 0x1d,
      [&](const View& param_, const View& grad_, const View& square_avg_, const View& grad_avg_, const View& momentum_buffer_) {
        rmsprop_step_impl(param_, grad_, square_avg_, grad_avg_, momentum_buffer_, p);
      },
      param, grad, square_avg, grad_avg, momentum_buffer);
}

void Backend::adagrad_step(const View& param, const View& grad, const View& sum,
                           const AdagradStepParams& p) {
  const char* op = "adagrad_step";
  check_optim_view(op, "parameter", param, param, true, true);
  check_optim_view(op, "gradient", grad, param, true, false);
  check_optim_view(op, "sum", sum, param, true, true);
  run(KernelOp::AdagradStep, param.dtype, 0x5,
      [&](const View& param_, const View& grad_, const View& sum_) {
        adagrad_step_impl(param_, grad_, sum_, p);
      },
      param, grad, sum);
}

void Backend::sgd_step_impl(const View& param, const View&, const View&, const SgdStepParams&) {
  not_implemented(KernelOp::SgdStep, param.dtype);
}
void Backend::adam_step_impl(const View& param, const View&, const View&, const View&,
                             const View&, const AdamStepParams&) {
  not_implemented(KernelOp::AdamStep, param.dtype);
}
void Backend::rmsprop_step_impl(const View& param, const View&, const View&, const View&,
                                const View&, const RmspropStepParams&) {
  not_implemented(KernelOp::RmspropStep, param.dtype);
}
void Backend::adagrad_step_impl(const View& param, const View&, const View&,
                                const AdagradStepParams&) {
  not_implemented(KernelOp::AdagradStep, param.dtype);
}

// --- conv1d geometry --------------------------------------------------------------------------

std::int64_t Conv1dParams::out_length(std::int64_t length, std::int64_t kernel_size) const {
  check(stride > 0, "conv1d: non-positive stride is not supported (stride={})", stride);
  check(dilation > 0, "conv1d: non-positive dilation is not supported (dilation={})", dilation);
  check(kernel_size > 0, "conv1d: kernel_size must be positive, but got kernel_size={}",
        kernel_size);
  check(pad_left >= 0 && pad_right >= 0,
        "conv1d: negative padding is not supported (padding=({}, {}))", pad_left, pad_right);
  check(length >= 0, "conv1d: negative input length {}", length);
  std::optional<std::int64_t> padded = checked_add(length, pad_left);
  if (padded) padded = checked_add(*padded, pad_right);
  check(padded.has_value(),
        "conv1d: the padded input length {} + {} + {} (length + pad_left + pad_right) overflows "
        "int64",
        length, pad_left, pad_right);
  std::optional<std::int64_t> span = checked_mul(dilation, kernel_size - 1);
  if (span) span = checked_add(*span, 1);
  check(span.has_value(),
        "conv1d: the dilated kernel size {} * ({} - 1) + 1 (dilation * (kernel_size - 1) + 1) "
        "overflows int64",
        dilation, kernel_size);
  check(*padded >= *span,
        "conv1d: Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size "
        "can't be greater than actual input size",
        *padded, *span);
  return (*padded - *span) / stride + 1;
}

// --- registry ---------------------------------------------------------------------------------
namespace {
Kind g_cpu_kind = Kind::Cpu;
std::atomic<bool> g_deterministic{false};
}

void set_deterministic_algorithms(bool mode) { g_deterministic.store(mode, std::memory_order_relaxed); }
bool deterministic_algorithms() { return g_deterministic.load(std::memory_order_relaxed); }

// The cuDNN switches live here, not in the CUDA backend, so that a program sets them whether
// or not reel was built with CUDA (the backend reads them at each conv1d call).
namespace {
std::atomic<bool> g_allow_tf32_conv{true};  // torch.backends.cudnn.allow_tf32's default
std::atomic<bool> g_cudnn_benchmark{false};
}  // namespace
void cuda_set_allow_tf32_conv(bool allow) { g_allow_tf32_conv.store(allow, std::memory_order_relaxed); }
bool cuda_allow_tf32_conv() { return g_allow_tf32_conv.load(std::memory_order_relaxed); }
void cuda_set_cudnn_benchmark(bool on) { g_cudnn_benchmark.store(on, std::memory_order_relaxed); }
bool cuda_cudnn_benchmark() { return g_cudnn_benchmark.load(std::memory_order_relaxed); }

void set_cpu_backend(Kind kind) {
  check(kind != Kind::Cuda, "set_cpu_backend: the CPU backend must be Reference or Cpu");
  g_cpu_kind = kind;
}
Kind cpu_backend_kind() { return g_cpu_kind; }
Backend& host_backend() {
  return g_cpu_kind == Kind::Reference ? reference_backend() : cpu_backend();
}

}  // namespace reel::backends
