// Tensor::str(): the printout of torch.Tensor.__repr__ (PyTorch 1.13, torch/_tensor_str.py) with
// the default print options (precision 4, threshold 1000, edgeitems 3, linewidth 80, automatic
// scientific notation), re-implemented over a host copy of the elements.
//
// Two deliberate differences, because these are reel's names and not torch's:
//   dtype=float64        (PyTorch: dtype=torch.float64)
//   grad_fn=<MulBackward> (PyTorch: grad_fn=<MulBackward0>; the node's name is printed as-is)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tensor/tensor.hpp"

namespace reel {
namespace {

constexpr int kPrecision = 4;
constexpr std::int64_t kThreshold = 1000;  // more elements than this: summarise with "..."
constexpr std::int64_t kEdgeItems = 3;     // items kept at each end of a summarised dim
constexpr int kLineWidth = 80;

// One stream of real values to format, read in place from a host tensor: its elements, or the
// real or imaginary parts of a complex tensor's. Element i is at `data + i` (i is an element
// offset from the strided walk). Floats are read as double, as Python's float holds an item.
struct Values {
  enum class Kind { Floating, Integer, Bool };
  const void* data;
  DType dtype;
  bool imag_part = false;

  Kind kind() const {
    if (dtype == kBool) return Kind::Bool;
    return is_integral(dtype, /*include_bool=*/false) ? Kind::Integer : Kind::Floating;
  }
  double floating(std::int64_t i) const {
    return visit_dtype(dtype, [&]<typename T>() -> double {
      T v = static_cast<const T*>(data)[i];
      if constexpr (is_complex_v<T>) return imag_part ? v.imag() : v.real();
      else if constexpr (std::is_same_v<T, ComplexHalf>)
        return static_cast<double>(imag_part ? v.imag() : v.real());
      else return static_cast<double>(v);
    });
  }
  std::int64_t integer(std::int64_t i) const {
    return visit_dtype(dtype, [&]<typename T>() -> std::int64_t {
      if constexpr (is_complex_v<T> || std::is_floating_point_v<T> || kIsHalfOrComplexHalf<T>)
        return 0;  // not integers
      else return static_cast<std::int64_t>(static_cast<const T*>(data)[i]);
    });
  }
};

// _Formatter: decides, from the values that will be shown, between integer mode ("1."),
// fixed ("0.1000") and scientific ("1.0000e-05") notation, and the common column width.
class Formatter {
 public:
  Formatter(const Values& values, const std::vector<std::int64_t>& shown) : values_(values) {
    if (values.kind() != Values::Kind::Floating) {
      for (auto i : shown) width_ = std::max(width_, static_cast<int>(plain(i).size()));
      return;
    }
    std::vector<double> nonzero_finite;
    for (auto i : shown) {
      double v = values.floating(i);
      if (std::isfinite(v) && v != 0.0) nonzero_finite.push_back(v);
    }
    if (nonzero_finite.empty()) return;  // zeros, inf and nan only: integer mode, width 1

    double min_abs = INFINITY, max_abs = 0.0;
    for (double v : nonzero_finite) {
      min_abs = std::min(min_abs, std::abs(v));
      max_abs = std::max(max_abs, std::abs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    bool wide_range = max_abs / min_abs > 1000.0 || max_abs > 1.0e8;
    // Integer-valued floats never switch to scientific notation for being small.
    sci_mode_ = int_mode_ ? wide_range : (wide_range || min_abs < 1.0e-4);
    for (double v : nonzero_finite) {
      int len;
      if (sci_mode_) len = static_cast<int>(scientific(v).size());
      else if (int_mode_) len = static_cast<int>(fmt::format("{:.0f}", v).size()) + 1;  // the "."
      else len = static_cast<int>(fixed(v).size());
      width_ = std::max(width_, len);
    }
  }

  int width() const { return width_; }

  // Element i, right-aligned to the column width.
  std::string format(std::int64_t i) const {
    std::string s;
    if (values_.kind() != Values::Kind::Floating) {
      s = plain(i);
    } else {
      double v = values_.floating(i);
      if (std::isnan(v)) s = "nan";  // Python never prints a sign on nan
      else if (sci_mode_) s = scientific(v);
      else if (int_mode_) s = fmt::format("{:.0f}", v) + (std::isinf(v) ? "" : ".");
      else s = fixed(v);
    }
    if (static_cast<int>(s.size()) < width_) s.insert(0, width_ - s.size(), ' ');
    return s;
  }

 private:
  static std::string scientific(double v) { return fmt::format("{:.{}e}", v, kPrecision); }
  static std::string fixed(double v) { return fmt::format("{:.{}f}", v, kPrecision); }
  std::string plain(std::int64_t i) const {
    std::int64_t v = values_.integer(i);
    if (values_.kind() == Values::Kind::Bool) return v ? "True" : "False";
    return fmt::format("{}", v);
  }

  Values values_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  int width_ = 1;
};

// The layout walk shared by the formatter pass and the printing pass: which indices of a dim
// are shown (all, or the first and last kEdgeItems when summarising).
struct Walk {
  Shape shape;
  Strides strides;  // in elements
  bool summarize = false;

  bool elided(int d) const { return summarize && shape[d] > 2 * kEdgeItems; }

  // Calls f(index) for each shown index of dim d, and f(-1) where the "..." goes.
  template <typename F>
  void indices(int d, F&& f) const {
    std::int64_t n = shape[d];
    if (!elided(d)) {
      for (std::int64_t i = 0; i < n; ++i) f(i);
      return;
    }
    for (std::int64_t i = 0; i < kEdgeItems; ++i) f(i);
    f(-1);
    for (std::int64_t i = n - kEdgeItems; i < n; ++i) f(i);
  }

  void collect_shown(int d, std::int64_t base, std::vector<std::int64_t>& out) const {
    if (d == shape.size()) {
      out.push_back(base);
      return;
    }
    indices(d, [&](std::int64_t i) {
      if (i >= 0) collect_shown(d + 1, base + i * strides[d], out);
    });
  }
};

class Printer {
 public:
  Printer(Walk walk, const Formatter& re, const Formatter* im)
      : walk_(std::move(walk)), re_(re), im_(im) {}

  // _tensor_str_with_formatter: the nested brackets from dim d down, at the given indent.
  std::string body(int d, std::int64_t base, int indent) const {
    int ndim = walk_.shape.size();
    if (d == ndim) return element(base);  // 0-dim
    if (d == ndim - 1) return vector(d, base, indent);
    std::vector<std::string> slices;
    walk_.indices(d, [&](std::int64_t i) {
      slices.push_back(i < 0 ? "..." : body(d + 1, base + i * walk_.strides[d], indent + 1));
    });
    std::string sep = "," + std::string(static_cast<std::size_t>(ndim - d - 1), '\n') +
                      std::string(static_cast<std::size_t>(indent + 1), ' ');
    return "[" + join(slices, sep) + "]";
  }

 private:
  std::string element(std::int64_t i) const {
    std::string real = re_.format(i);
    if (!im_) return real;
    std::string imag = im_->format(i) + "j";
    imag.erase(0, imag.find_first_not_of(' '));
    // A leading sign joins directly (handles -0.0 too); otherwise a "+" goes between.
    return real + (imag[0] == '+' || imag[0] == '-' ? "" : "+") + imag;
  }

  // _vector_str: a 1-d row, wrapped to the line width.
  std::string vector(int d, std::int64_t base, int indent) const {
    int element_length = re_.width() + 2 + (im_ ? im_->width() + 1 : 0);
    std::size_t per_line =
        static_cast<std::size_t>(std::max(1, (kLineWidth - indent) / element_length));
    std::vector<std::string> items;
    walk_.indices(d, [&](std::int64_t i) {
      items.push_back(i < 0 ? " ..." : element(base + i * walk_.strides[d]));
    });
    std::vector<std::string> lines;
    for (std::size_t start = 0; start < items.size(); start += per_line) {
      std::size_t stop = std::min(items.size(), start + per_line);
      lines.push_back(join(std::span<const std::string>(items).subspan(start, stop - start), ", "));
    }
    return "[" + join(lines, ",\n" + std::string(static_cast<std::size_t>(indent + 1), ' ')) + "]";
  }

  static std::string join(std::span<const std::string> parts, const std::string& sep) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i) out += sep;
      out += parts[i];
    }
    return out;
  }

  Walk walk_;
  const Formatter& re_;
  const Formatter* im_;
};

// _tensor_str for a non-empty tensor: the bracketed contents.
std::string contents(const Tensor& t, int indent) {
  // A CPU tensor is read in place through its strides, so printing a huge one copies nothing;
  // a CUDA one is copied to the host (a copy that records nothing on the tape).
  Tensor host = t.device().is_cpu() ? t : detail::copy_to_device(t, Device(kCPU));
  Walk walk{host.sizes(), host.strides(), host.numel() > kThreshold};
  std::vector<std::int64_t> shown;  // element offsets of the shown elements
  walk.collect_shown(0, 0, shown);
  Values re{host.raw_data(), host.dtype()};
  Formatter re_formatter(re, shown);
  if (!host.is_complex()) return Printer(walk, re_formatter, nullptr).body(0, 0, indent);
  Values im{host.raw_data(), host.dtype(), true};
  Formatter im_formatter(im, shown);
  return Printer(walk, re_formatter, &im_formatter).body(0, 0, indent);
}

// Python's repr of a tuple of ints: (), (5,), (2, 3).
std::string python_tuple(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape.begin(), shape.end(), ", "));
}

// _add_suffixes: ", suffix" on the last line while it fits in the line width, else on a new
// line at the indent. (The "+ 1" and the count from rfind are PyTorch's, kept for equal output.)
std::string add_suffixes(std::string s, const std::vector<std::string>& suffixes, int indent) {
  auto newline = s.rfind('\n');
  std::int64_t newline_pos = newline == std::string::npos ? -1 : static_cast<std::int64_t>(newline);
  std::int64_t last_line_len = static_cast<std::int64_t>(s.size()) - newline_pos + 1;
  for (const auto& suffix : suffixes) {
    auto len = static_cast<std::int64_t>(suffix.size());
    if (last_line_len + len + 2 > kLineWidth) {
      s += ",\n" + std::string(static_cast<std::size_t>(indent), ' ') + suffix;
      last_line_len = indent + len;
    } else {
      s += ", " + suffix;
      last_line_len += len + 2;
    }
  }
  return s + ")";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  std::vector<std::string> suffixes;
  if (device().is_cuda()) suffixes.push_back(fmt::format("device='{}'", device()));

  std::string body;
  if (numel() == 0) {
    // As NumPy: the shape is shown unless it is (0,); the dtype always unless the default.
    if (dim() != 1) suffixes.push_back("size=" + python_tuple(sizes()));
    if (dtype() != kFloat32) suffixes.push_back(fmt::format("dtype={}", dtype()));
    body = "[]";
  } else {
    // The default float dtype, its complex twin, int64 and bool are implied by the values.
    DType t = dtype();
    bool implied = t == kFloat32 || t == kComplex64 || t == kInt64 || t == kBool;
    if (!implied) suffixes.push_back(fmt::format("dtype={}", t));
    body = contents(*this, indent);
  }

  if (const char* node = grad_fn_name()) suffixes.push_back(fmt::format("grad_fn=<{}>", node));
  else if (requires_grad()) suffixes.push_back("requires_grad=True");

  return add_suffixes(prefix + body, suffixes, indent);
}

}  // namespace reel
