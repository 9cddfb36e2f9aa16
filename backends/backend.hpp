#pragma once
// The backend contract: the one small interface every backend (reference, cpu, cuda)
// implements. Arguments are plain strided views and parameter structs, never Tensor handles;
// everything else in reel (broadcasting rules, type promotion, autograd, composite ops) is
// built above this interface.
//
// Conventions every primitive follows:
// - A view's `data` points at its first element (the storage offset is already applied);
//   strides are in elements and may be 0 (a broadcast) or, for inputs, negative never.
// - Elementwise primitives receive inputs already broadcast to the output's shape (stride 0
//   on broadcast dims) and already cast to the compute dtype (see each op).
// - Outputs never overlap inputs partially: an output is either disjoint from an input or
//   exactly the same view of it (in-place elementwise ops).
// - Every primitive is synchronous from the caller's point of view or ordered on the backend's
//   single stream; `synchronize()` waits for all work.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "backends/dims.hpp"
#include "backends/dtype.hpp"
#include "backends/op_table.hpp"
#include "backends/kernel_params.hpp"
#include "backends/scalar.hpp"

namespace reel::backends {

// A strided view into one buffer of a backend's memory.
struct View {
  void* data = nullptr;
  DType dtype = kFloat32;
  Shape shape;
  Strides strides;
  std::int64_t numel() const { return numel_of(shape); }
  template <typename T> T* ptr() const { return static_cast<T*>(data); }
};

// --- softmax and losses (issue 7) ---
// The options of cross_entropy / nll_loss over class indices (PyTorch's names).
struct CrossEntropyParams {
  std::int64_t ignore_index = -100;  // targets equal to it add nothing (loss and gradient 0)
  double label_smoothing = 0.0;      // cross_entropy only; in [0, 1]
};

// conv1d geometry, with padding already resolved to (left, right) by the caller.
struct Conv1dParams {
  std::int64_t stride = 1;
  std::int64_t pad_left = 0;
  std::int64_t pad_right = 0;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;

  // The output length for an input of `length` positions and a kernel of `kernel_size` taps,
  // PyTorch's  L_out = (L + pad_left + pad_right - dilation*(K-1) - 1) / stride + 1.
  // The one place it is computed (the functional op, the backends' checks): every term is
  // checked, so extreme parameters (dilation = INT64_MAX, padding = 2^62) give a reel::Error
  // naming them, never a wrapped length. Also raises PyTorch's error when the dilated kernel is
  // longer than the padded input, and for non-positive stride/dilation/kernel_size or negative
  // padding. The index arithmetic of every kernel, t*stride + k*dilation - pad_left with
  // t < L_out and k < K, then stays within [-pad_left, L + pad_right) and cannot overflow.
  std::int64_t out_length(std::int64_t length, std::int64_t kernel_size) const;
};

// --- normalization (issue 7) ---
// The geometry every norm shares. The data is a 4-d view [N, G, D, L]: N samples, G groups of
// D channels each (channel c = g*D + d), L positions. Statistics (mean and biased variance)
// are per (n, g) over (d, l) — or, where the statistics views have extent 1 in dim 0 and N > 1,
// per g over (n, d, l), shared by the batch. The affine weight and bias are per channel, [G, D].
//   BatchNorm1d (N, C, L):  [N, C, 1, L], stats [1, C]    InstanceNorm1d: [N, C, 1, L], stats [N, C]
//   GroupNorm (N, C, *):    [N, G, C/G, *], stats [N, G]  LayerNorm (M, D...): [M, 1, D, 1], stats [M, 1]
struct NormParams {
  double eps = 1e-5;  // rstd = 1 / sqrt(var + eps)
  // norm_backward: whether mean and var were computed from `in` (batch / layer / group /
  // instance statistics: the gradient flows through them) or given (running statistics in
  // eval mode: constants).
  bool input_stats = true;
};

// --- pooling (issue 7) ---
// max_pool1d / avg_pool1d geometry over the last dim (PyTorch's MaxPool1d / AvgPool1d).
struct Pool1dParams {
  std::int64_t kernel_size = 1;
  std::int64_t stride = 1;
  std::int64_t padding = 0;   // on both sides; at most kernel_size / 2
  std::int64_t dilation = 1;  // max_pool1d only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool1d only

  // PyTorch's pooling_output_shape: floor (or ceil with ceil_mode) of
  // (L + 2*padding - dilation*(K-1) - 1) / stride, plus one; with ceil_mode the last window
  // must start inside the input or the left padding, else it is dropped. Checks every term
  // (overflow included) and raises reel::Error naming `op` for invalid parameters; may return
  // 0 or less (the callers word that error themselves).
  std::int64_t out_length(std::int64_t length, const char* op) const;
};

// --- optimizer updates (issue 7) ---
// The scalar hyperparameters of the fused optimizer updates (Backend::sgd_step, ...). Each
// update is PyTorch 1.13's single-tensor implementation (torch/optim/*.py, foreach=False) of
// one parameter, done in one pass in the parameter's dtype with PyTorch's order of operations;
// the scalars are cast to that dtype where PyTorch's kernels cast them. What depends on the
// step count only (bias corrections, Adagrad's decayed lr) is computed by the caller in double,
// as PyTorch computes it in Python.
//
// `complex_param`: the views are a complex parameter's view_as_real views. PyTorch does some of
// the update on the complex tensors themselves — the weight decay term of Adam, RMSprop and
// Adagrad, and all of SGD — and complex arithmetic rounds a product before adding it, where
// ATen's real kernels fuse `x.add_(y, alpha=a)` into one fused multiply-add; the flag selects
// the rounding PyTorch applies to those steps.
struct SgdStepParams {
  double lr = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // the momentum buffer is new: it is set to the gradient (clone)
  bool complex_param = false;  // the views are a complex parameter's view_as_real (see above)
};

struct AdamStepParams {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double lr = 1e-3;                     // AdamW's decoupled decay: param *= 1 - lr * weight_decay
  double step_size = 1e-3;              // lr / (1 - beta1^step)
  double bias_correction2_sqrt = 1.0;   // sqrt(1 - beta2^step)
  bool amsgrad = false;
  bool maximize = false;
  bool decoupled_weight_decay = false;  // AdamW
  bool complex_param = false;  // the views are a complex parameter's view_as_real (see above)
};

struct RmspropStepParams {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
  bool complex_param = false;  // the views are a complex parameter's view_as_real (see above)
};

struct AdagradStepParams {
  double clr = 1e-2;  // lr / (1 + (step - 1) * lr_decay)
  double eps = 1e-10;
  double weight_decay = 0.0;
  bool maximize = false;
  bool complex_param = false;  // the views are a complex parameter's view_as_real (see above)
};

// The interface. Every primitive has a public entry point here that runs the checks every
// backend shares — the op table's dtype rule (op_table.hpp), the output dtype, shapes where
// they are the same for everyone — and then asks the backend: if `supports(op, dtype)` says
// no, it raises "<op> is not implemented on the <backend> backend"; otherwise it calls the
// protected `*_impl` virtual. A backend overrides `supports` and the `*_impl`s it has kernels
// for; the defaults raise the same error, so a missing kernel is never a crash. The CPU
// backend derives from the reference one and overrides only its fast paths.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  // Whether this backend has a kernel for `op` on data of dtype `t` (only asked for pairs the
  // op table accepts). The base has none.
  virtual bool supports(OpId op, DType t) const;

  // --- memory -------------------------------------------------------------------------------
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes) = 0;
  // Host <-> backend memory, contiguous bytes.
  virtual void copy_from_host(void* dst, const void* host_src, std::size_t nbytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, std::size_t nbytes) = 0;
  virtual void synchronize() {}

  // --- elementwise --------------------------------------------------------------------------
  // out[i] = cast(in[i]): strided copy with dtype conversion (complex -> real drops imag).
  void copy(const View& out, const View& in);
  void fill(const View& out, Scalar value);
  // out dtype: op_out_dtype(op, in.dtype).
  void unary(UnaryOp op, const View& out, const View& in);
  // a and b share a dtype (the compute dtype); out's dtype is op_out_dtype(op, a.dtype).
  void binary(BinaryOp op, const View& out, const View& a, const View& b);
  // out = cond ? a : b; cond is bool, a/b/out share a dtype.
  void where(const View& out, const View& cond, const View& a, const View& b);

  // --- reductions ---------------------------------------------------------------------------
  // `out` has in's rank; every dim where out.shape[d] == 1 != in.shape[d] is reduced.
  // Sum/Prod/Max/Min: out dtype == in dtype. Any/All: out dtype bool.
  void reduce(ReduceOp op, const View& out, const View& in);
  // Reduces one dim `dim` (values and indices have in's rank with size 1 there). Index of the
  // first extreme; NaN counts as the extreme, as in PyTorch. indices: int64. values may be a
  // null view (data == nullptr) when only the indices are wanted.
  void arg_reduce(ArgReduceOp op, const View& values, const View& indices, const View& in,
                  int dim);

  // --- linear algebra -----------------------------------------------------------------------
  // Batched: out[B, M, N] = a[B, M, K] @ b[B, K, N]; any strides (stride-0 batch broadcasts).
  void matmul(const View& out, const View& a, const View& b);

  // --- indexing -----------------------------------------------------------------------------
  // out = in.index_select(dim, index); index is 1-D int64, values already bounds-checked.
  void index_select(const View& out, const View& in, int dim, const View& index);
  // out[..., index[i], ...] += src[..., i, ...] along dim (index_select's adjoint).
  void index_add(const View& out, int dim, const View& index, const View& src);
  // out[i][j] = in[index[i][j]][j] (dim 0 example); index has out's shape.
  void gather(const View& out, const View& in, int dim, const View& index);
  // out[index[i][j]][j] += src[i][j] (dim 0 example); index has src's shape.
  void scatter_add(const View& out, int dim, const View& index, const View& src);

  // --- random -------------------------------------------------------------------------------
  void random(const View& out, const RandomSpec& spec);

  // --- conv1d and pad1d ---------------------------------------------------------------------
  // out[N, Cout, Lout] = bias + conv(in[N, Cin, L], weight[Cout, Cin/groups, K]); bias may be
  // null (data == nullptr). Zero padding is index arithmetic, never a padded copy.
  void conv1d_forward(const View& out, const View& in, const View& weight, const View& bias,
                      const Conv1dParams& p);
  void conv1d_backward_input(const View& grad_in, const View& grad_out, const View& weight,
                             const Conv1dParams& p);
  // grad_weight / grad_bias may be null views (data == nullptr): only what is needed is computed.
  void conv1d_backward_weight(const View& grad_weight, const View& grad_bias,
                              const View& grad_out, const View& in, const Conv1dParams& p);
  // Every gradient of one conv1d in one call, so that a backend may read grad_out once for all
  // of them: grad_in, grad_weight and grad_bias may each be a null view (not computed); `weight`
  // is read only for grad_in, `in` only for grad_weight. Unless a backend overrides
  // conv1d_backward_impl, the two calls above (the CPU backend's own fused depthwise pass was
  // measured slower than its two passes, so it has none: docs/benchmarks.md).
  void conv1d_backward(const View& grad_in, const View& grad_weight, const View& grad_bias,
                       const View& grad_out, const View& in, const View& weight,
                       const Conv1dParams& p);
  // out[N, C, L + left + right] = in padded in `mode` (Reflect, Replicate, Circular).
  void pad1d(const View& out, const View& in, PadMode mode, std::int64_t left,
             std::int64_t right);
  void pad1d_backward(const View& grad_in, const View& grad_out, PadMode mode,
                      std::int64_t left, std::int64_t right);

  // --- normalization (issue 7) ---
  // in [N, G, D, L] (NormParams has the geometry); mean and var [N or 1, G], of in's dtype.
  // mean and biased variance (divisor: the number of elements per group), accumulated in double.
  void norm_stats(const View& mean, const View& var, const View& in);
  // out = (in - mean) / sqrt(var + eps) * weight + bias, per group's mean/var and per channel's
  // weight [G, D] and bias [G, D] (either may be a null view: 1 and 0).
  void norm_forward(const View& out, const View& in, const View& mean, const View& var,
                    const View& weight, const View& bias, const NormParams& p);
  // The gradients of norm_forward (with norm_stats before it when p.input_stats). Any of
  // grad_in, grad_weight, grad_bias may be a null view: only what is needed is computed.
  //   xhat = (x - mean) * rstd, grad_bias = sum gy, grad_weight = sum gy * xhat (over n, l),
  //   grad_in = rstd * (gy*w - mean_g(gy*w) - xhat * mean_g(gy*w * xhat))   (input_stats)
  //           = rstd * gy*w                                                  (given stats)
  void norm_backward(const View& grad_in, const View& grad_weight, const View& grad_bias,
                     const View& grad_out, const View& in, const View& mean, const View& var,
                     const View& weight, const NormParams& p);

  // --- pooling (issue 7) ----------------------------------------------------------------------
  // Over the last dim of [N, C, L] views; the output length is out's (checked against p).
  // max_pool1d: values and int64 indices (positions in [0, L)) of each window's maximum: the
  // first maximum; a NaN counts as the maximum (the last NaN of the window, as PyTorch's CPU
  // kernel); a window of -inf gives its first valid position. indices may be a null view.
  // (The backward is a scatter_add of grad_out at the indices.)
  void max_pool1d(const View& out, const View& indices, const View& in, const Pool1dParams& p);
  // avg_pool1d: the mean of each window with PyTorch's divisor (count_include_pad: the window
  // clipped to the padded input; else: the elements inside the input).
  void avg_pool1d(const View& out, const View& in, const Pool1dParams& p);
  void avg_pool1d_backward(const View& grad_in, const View& grad_out, const Pool1dParams& p);
  // Adaptive pools: out[t] reduces in[floor(t*L/Lout) .. ceil((t+1)*L/Lout)), Lout = out's.
  void adaptive_max_pool1d(const View& out, const View& indices, const View& in);
  void adaptive_avg_pool1d(const View& out, const View& in);
  void adaptive_avg_pool1d_backward(const View& grad_in, const View& grad_out);

  // --- softmax and losses (issue 7) ---
  // out = softmax(in) along `dim` (log_softmax when `log`), each slice shifted by its maximum
  // so exp never overflows. out and in share shape and dtype; any strides.
  void softmax(const View& out, const View& in, int dim, bool log);
  // The gradient from grad_out and the forward's output y, along `dim`:
  //   softmax:      grad_in = y * (grad_out - sum(grad_out * y))
  //   log_softmax:  grad_in = grad_out - exp(y) * sum(grad_out)
  void softmax_backward(const View& grad_in, const View& grad_out, const View& out, int dim,
                        bool log);
  // Cross-entropy of logits in[N, C, L] against int64 class indices target[N, L], per element:
  //   losses[n, l] = (1 - s) * w[t] * (lse - x[t]) + s / C * sum_c w[c] * (lse - x[c])
  // with t = target[n, l], lse = log(sum_c exp(x[c])) over the class dim, s = label_smoothing
  // and w = weight (a null view: all ones). Also writes lse[n, l] (what the backward needs) and,
  // when target_weight is not a null view, target_weight[n, l] = w[t] (the mean's divisor).
  // Targets equal to ignore_index give 0 in all three; any other target outside [0, C) raises
  // reel::Error naming it. losses, lse, target_weight: [N, L] of in's dtype.
  void cross_entropy(const View& losses, const View& lse, const View& target_weight,
                     const View& in, const View& target, const View& weight,
                     const CrossEntropyParams& p);
  // grad_in[n, c, l] = grad_losses[n, l] * ((1 - s) * w[t] * (p[c] - [c == t])
  //                                          + s / C * (p[c] * sum(w) - w[c])),
  // p[c] = exp(x[c] - lse[n, l]); 0 for ignored targets.
  void cross_entropy_backward(const View& grad_in, const View& grad_losses, const View& in,
                              const View& lse, const View& target, const View& weight,
                              const CrossEntropyParams& p);
  // The negative log-likelihood of log-probabilities in[N, C, L]: losses[n, l] = -w[t] * in[t]
  // (label_smoothing must be 0); target_weight as cross_entropy's.
  void nll_loss(const View& losses, const View& target_weight, const View& in,
                const View& target, const View& weight, const CrossEntropyParams& p);
  // grad_in[n, c, l] = -grad_losses[n, l] * w[t] * [c == t] (0 for ignored targets).
  void nll_loss_backward(const View& grad_in, const View& grad_losses, const View& target,
                         const View& weight, const CrossEntropyParams& p);
  // --- end softmax and losses ---

  // --- optimizer updates (issue 7) ---
  // One parameter's update in place: `param` and the state views are read and written, `grad`
  // is read. Every view has param's shape and dtype (floating; a complex parameter is passed as
  // its view_as_real views). Optional state is a null view (data == nullptr) when the options
  // don't use it: SGD's momentum_buffer when momentum == 0, Adam's max_exp_avg_sq without
  // amsgrad, RMSprop's grad_avg when not centered and momentum_buffer when momentum == 0.
  void sgd_step(const View& param, const View& grad, const View& momentum_buffer,
                const SgdStepParams& p);
  void adam_step(const View& param, const View& grad, const View& exp_avg,
                 const View& exp_avg_sq, const View& max_exp_avg_sq, const AdamStepParams& p);
  void rmsprop_step(const View& param, const View& grad, const View& square_avg,
                    const View& grad_avg, const View& momentum_buffer,
                    const RmspropStepParams& p);
  void adagrad_step(const View& param, const View& grad, const View& sum,
                    const AdagradStepParams& p);

 protected:
  // The kernels, called after the shared checks (and only for pairs `supports` accepts). Each
  // default raises "<op> is not implemented on the <backend> backend".
  virtual void copy_impl(const View& out, const View& in);
  virtual void fill_impl(const View& out, Scalar value);
  virtual void unary_impl(UnaryOp op, const View& out, const View& in);
  virtual void binary_impl(BinaryOp op, const View& out, const View& a, const View& b);
  virtual void where_impl(const View& out, const View& cond, const View& a, const View& b);
  virtual void reduce_impl(ReduceOp op, const View& out, const View& in);
  virtual void arg_reduce_impl(ArgReduceOp op, const View& values, const View& indices,
                               const View& in, int dim);
  virtual void matmul_impl(const View& out, const View& a, const View& b);
  virtual void index_select_impl(const View& out, const View& in, int dim, const View& index);
  virtual void index_add_impl(const View& out, int dim, const View& index, const View& src);
  virtual void gather_impl(const View& out, const View& in, int dim, const View& index);
  virtual void scatter_add_impl(const View& out, int dim, const View& index, const View& src);
  virtual void random_impl(const View& out, const RandomSpec& spec);
  virtual void conv1d_forward_impl(const View& out, const View& in, const View& weight,
                                   const View& bias, const Conv1dParams& p);
  virtual void conv1d_backward_input_impl(const View& grad_in, const View& grad_out,
                                          const View& weight, const Conv1dParams& p);
  virtual void conv1d_backward_weight_impl(const View& grad_weight, const View& grad_bias,
                                           const View& grad_out, const View& in,
                                           const Conv1dParams& p);
  virtual void conv1d_backward_impl(const View& grad_in, const View& grad_weight,
                                    const View& grad_bias, const View& grad_out, const View& in,
                                    const View& weight, const Conv1dParams& p);
  virtual void pad1d_impl(const View& out, const View& in, PadMode mode, std::int64_t left,
                          std::int64_t right);
  virtual void pad1d_backward_impl(const View& grad_in, const View& grad_out, PadMode mode,
                                   std::int64_t left, std::int64_t right);
  // --- normalization (issue 7) ---
  virtual void norm_stats_impl(const View& mean, const View& var, const View& in);
  virtual void norm_forward_impl(const View& out, const View& in, const View& mean,
                                 const View& var, const View& weight, const View& bias,
                                 const NormParams& p);
  virtual void norm_backward_impl(const View& grad_in, const View& grad_weight,
                                  const View& grad_bias, const View& grad_out, const View& in,
                                  const View& mean, const View& var, const View& weight,
                                  const NormParams& p);

  // --- pooling (issue 7) ---
  virtual void max_pool1d_impl(const View& out, const View& indices, const View& in,
                               const Pool1dParams& p);
  virtual void avg_pool1d_impl(const View& out, const View& in, const Pool1dParams& p);
  virtual void avg_pool1d_backward_impl(const View& grad_in, const View& grad_out,
                                        const Pool1dParams& p);
  virtual void adaptive_max_pool1d_impl(const View& out, const View& indices, const View& in);
  virtual void adaptive_avg_pool1d_impl(const View& out, const View& in);
  virtual void adaptive_avg_pool1d_backward_impl(const View& grad_in, const View& grad_out);
  // --- softmax and losses (issue 7) ---
  virtual void softmax_impl(const View& out, const View& in, int dim, bool log);
  virtual void softmax_backward_impl(const View& grad_in, const View& grad_out, const View& out,
                                     int dim, bool log);
  virtual void cross_entropy_impl(const View& losses, const View& lse, const View& target_weight,
                                  const View& in, const View& target, const View& weight,
                                  const CrossEntropyParams& p);
  virtual void cross_entropy_backward_impl(const View& grad_in, const View& grad_losses,
                                           const View& in, const View& lse, const View& target,
                                           const View& weight, const CrossEntropyParams& p);
  virtual void nll_loss_impl(const View& losses, const View& target_weight, const View& in,
                             const View& target, const View& weight,
                             const CrossEntropyParams& p);
  virtual void nll_loss_backward_impl(const View& grad_in, const View& grad_losses,
                                      const View& target, const View& weight,
                                      const CrossEntropyParams& p);
  // --- end softmax and losses ---
  // --- optimizer updates (issue 7) ---
  virtual void sgd_step_impl(const View& param, const View& grad, const View& momentum_buffer,
                             const SgdStepParams& p);
  virtual void adam_step_impl(const View& param, const View& grad, const View& exp_avg,
                              const View& exp_avg_sq, const View& max_exp_avg_sq,
                              const AdamStepParams& p);
  virtual void rmsprop_step_impl(const View& param, const View& grad, const View& square_avg,
                                 const View& grad_avg, const View& momentum_buffer,
                                 const RmspropStepParams& p);
  virtual void adagrad_step_impl(const View& param, const View& grad, const View& sum,
                                 const AdagradStepParams& p);

  // The one wording of a missing kernel.
  [[noreturn]] void not_implemented(OpId op, DType t) const;

 private:
  // The op table's dtype rule (PyTorch's error for a refused dtype), then supports(). Returns
  // true when the kernel is to run on float32 copies: a 16-bit dtype `t` this backend has no
  // kernel for, but its opmath dtype (float32, complex64) it has.
  bool require(OpId op, DType t) const;
  // require(op, t), then impl(views...) — on the views themselves, or on float32 copies of the
  // 16-bit ones, rounding back those whose bit is set in `written` (bit i: the i-th view).
  template <typename F, typename... V>
  void run(OpId op, DType t, unsigned written, F&& impl, const V&... views);
};

// Raises the op table's error when `op` does not accept dtype `t`: "relu: not supported for
// complex dtype complex64", with the row's hint where it has one.
void check_supported(OpId op, DType t);

// v is a 3-d view with non-negative strides; `layout` names its dims in the message
// ("conv1d: expected input to be a 3-d view [N, C, L], got shape [2, 3]").
void check_rank3(const char* op, const char* name, const View& v, const char* layout);

// The sizes of one conv1d, read off (and checked against) its views.
struct Conv1dShape {
  std::int64_t batch = 0;          // N
  std::int64_t in_channels = 0;    // Cin
  std::int64_t out_channels = 0;   // Cout
  std::int64_t length = 0;         // L
  std::int64_t out_length = 0;     // Lout
  std::int64_t kernel = 0;         // K (0 when no weight-shaped view was given)
  std::int64_t in_per_group = 0;   // Cin / G
  std::int64_t out_per_group = 0;  // Cout / G
};
// Every check the conv1d entry points share (Backend::conv1d_*): parameters, dtypes, ranks and
// non-negative strides, groups dividing the channels, the weight's [Cout, Cin/G, K], the bias's
// [Cout], and Lout against Conv1dParams::out_length. x is input-shaped [N, Cin, L], y
// output-shaped [N, Cout, Lout]; w and b may be null (not given). After it, a kernel that
// walks the sum of backends/reference/conv1d.cpp cannot index out of bounds.
Conv1dShape check_conv1d(const char* op, const View& x, const View& y, const View* w,
                         const View* b, const Conv1dParams& p);

// --- registry ---------------------------------------------------------------------------------
enum class Kind : std::uint8_t { Reference, Cpu, Cuda };

Backend& reference_backend();
Backend& cpu_backend();
// The CUDA backend; throws reel::Error when reel was built without CUDA or no GPU is present.
Backend& cuda_backend();
bool cuda_available();
int cuda_device_count();
// The CUDA caching allocator's bytes: handed out to tensors (allocated) and held from CUDA
// (reserved = allocated + cached free blocks). Both 0 without CUDA.
struct CudaMemory {
  std::size_t allocated = 0;
  std::size_t reserved = 0;
};
CudaMemory cuda_memory();
// Returns the cached free blocks to CUDA (no-op without CUDA or before the first allocation).
void cuda_empty_cache();
// Whether float32 matmul may use TF32 tensor cores (PyTorch's torch.backends.cuda.matmul.
// allow_tf32; default false). Stored without CUDA too, so a program sets it unconditionally.
void cuda_set_allow_tf32_matmul(bool allow);
bool cuda_allow_tf32_matmul();
// Whether float32 convolutions may use TF32 (torch.backends.cudnn.allow_tf32; default true, as
// in PyTorch). Only cuDNN's algorithms use it; reel's own conv1d kernels compute in float32.
void cuda_set_allow_tf32_conv(bool allow);
bool cuda_allow_tf32_conv();
// torch.backends.cudnn.benchmark: when on, the first conv1d of each shape times cuDNN's
// algorithms and caches the fastest; when off (default), cuDNN's heuristic picks one.
void cuda_set_cudnn_benchmark(bool on);
bool cuda_cudnn_benchmark();

// CUDA graphs (reel::cuda::Graph, tensor/cuda_graph.hpp): capture the CUDA backend's stream,
// then replay it. Opaque state owned by the caller; every function throws reel::Error without
// CUDA or a GPU (the stub), and on a CUDA failure naming what failed.
struct CudaGraphState;
CudaGraphState* cuda_graph_create();
void cuda_graph_destroy(CudaGraphState* g) noexcept;
void cuda_graph_capture_begin(CudaGraphState* g);
void cuda_graph_capture_end(CudaGraphState* g);
void cuda_graph_replay(CudaGraphState* g);
bool cuda_graph_is_capturing();

// Which backend runs CPU tensors: the fast one (default) or the reference loops. Tests use
// this to run one body on every backend.
void set_cpu_backend(Kind kind);
Kind cpu_backend_kind();
Backend& host_backend();  // the one selected by set_cpu_backend

// Threads the CPU backend's pool uses (the calling thread included; n >= 1). Declared here so
// the layers above reach the setting through the contract, never through backends/cpu/.
void set_num_threads(int n);
int get_num_threads();

// reel::use_deterministic_algorithms (tensor/runtime.hpp): read by the backends' algorithm
// choices (the CPU conv1d's choose()). Process-wide, relaxed atomic.
void set_deterministic_algorithms(bool mode);
bool deterministic_algorithms();

}  // namespace reel::backends
