#pragma once
// The math ops on tensors. Each validates its arguments (reel::Error naming the op, the
// parameter and the values), computes the result dtype by PyTorch's promotion rules and the
// result shape by broadcasting, calls the backend of its inputs' device, and — when grad mode
// is on and an input requires grad — records one tape entry with its backward closure.
//
// Where the ops live, under tensor/ops/: arithmetic.cpp (add, sub, mul, div, in place),
// unary.cpp, binary.cpp (pow, maximum, comparisons, where, masked_fill), complex.cpp,
// reduce.cpp, softmax.cpp, linalg.cpp, join.cpp (cat, stack, split, chunk), indexing.cpp,
// compare.cpp (allclose, equal); the shared plumbing is elementwise_core.cpp. The Tensor members
// that compute or record are here too: views.cpp (view, permute, slice, ..., real, imag) and
// tensor_methods.cpp (clone, to, copy_, fill_, and the member forms of the ops).
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "tensor/ops/autocast.hpp"
#include "tensor/tensor.hpp"

namespace reel {

// --- promotion and broadcasting helpers ------------------------------------------------------
// torch.result_type for two tensors (0-dim tensors and dimensioned ones follow PyTorch's
// category rules).
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, Scalar b);
// torch.broadcast_shapes; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Sums `grad` down to `shape` (the adjoint of broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// --- elementwise: binary (broadcasting, type promotion) --------------------------------------
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = 1);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division (ints -> float32)
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, Scalar exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);
Tensor where(const Tensor& cond, Scalar a, const Tensor& b);
// comparisons -> bool (complex: eq/ne only)
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);

// scalar forms: the scalar is a "wrapped number": it doesn't raise the tensor's dtype within
// a category (float32 + 2.5 is float32) but does across categories (int64 * 2.5 is float32).
Tensor add(const Tensor& a, Scalar b, Scalar alpha = 1);
Tensor sub(const Tensor& a, Scalar b, Scalar alpha = 1);
Tensor mul(const Tensor& a, Scalar b);
Tensor div(const Tensor& a, Scalar b);
Tensor maximum(const Tensor& a, Scalar b);
Tensor minimum(const Tensor& a, Scalar b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor gt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);

// --- elementwise: unary ----------------------------------------------------------------------
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);  // complex -> real magnitude
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, PyTorch's default approximate='none'
Tensor silu(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor sign(const Tensor& x);  // real tensors; sgn for complex is x/|x|
Tensor reciprocal(const Tensor& x);
Tensor square(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor isnan(const Tensor& x);

// --- complex -----------------------------------------------------------------------------------
Tensor real(const Tensor& x);  // a copy for complex input (reel has no complex views of real)
Tensor imag(const Tensor& x);
Tensor conj(const Tensor& x);  // identity (a view) for real tensors
Tensor complex(const Tensor& real, const Tensor& imag);
Tensor angle(const Tensor& x);

// --- in place (check the broadcast fits self; bump the version counter) ------------------------
Tensor& add_(Tensor& self, const Tensor& o, Scalar alpha = 1);
Tensor& sub_(Tensor& self, const Tensor& o, Scalar alpha = 1);
Tensor& mul_(Tensor& self, const Tensor& o);
Tensor& div_(Tensor& self, const Tensor& o);
Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor& masked_fill_(Tensor& self, const Tensor& mask, Scalar value);

// --- reductions (dims empty = all; keepdim keeps reduced dims as size 1) ----------------------
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
// correction = 1 is the unbiased estimator (PyTorch's default)
Tensor var(const Tensor& x, const Shape& dims = {}, std::int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims = {}, std::int64_t correction = 1, bool keepdim = false);
Tensor prod(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor min(const Tensor& x);
// (values, indices) along dim
std::tuple<Tensor, Tensor> max(const Tensor& x, std::int64_t dim, bool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);
Tensor any(const Tensor& x);
Tensor all(const Tensor& x);

// --- linear algebra -----------------------------------------------------------------------------
// torch.matmul: 1-D·1-D dot, 2-D·2-D mm, batched with broadcasting of the batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);

// --- joining and splitting ----------------------------------------------------------------------
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<std::int64_t>& sizes,
                                     std::int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);

// --- indexing -------------------------------------------------------------------------------------
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
// out-of-place: a copy of x with src added at index along dim
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
// rows of `weight` [num_embeddings, dim] picked by int64 `indices` of any shape
Tensor embedding(const Tensor& weight, const Tensor& indices);
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);

// --- operators ------------------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, Scalar b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, Scalar b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, Scalar b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, Scalar b) { return div(a, b); }
inline Tensor operator+(Scalar a, const Tensor& b) { return add(b, a); }
inline Tensor operator*(Scalar a, const Tensor& b) { return mul(b, a); }
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
inline Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
inline Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
inline Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
inline Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
inline Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
inline Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
inline Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }
inline Tensor operator==(const Tensor& a, Scalar b) { return eq(a, b); }
inline Tensor operator!=(const Tensor& a, Scalar b) { return ne(a, b); }
inline Tensor& operator+=(Tensor& a, const Tensor& b) { return add_(a, b); }
inline Tensor& operator-=(Tensor& a, const Tensor& b) { return sub_(a, b); }
inline Tensor& operator*=(Tensor& a, const Tensor& b) { return mul_(a, b); }
inline Tensor& operator/=(Tensor& a, const Tensor& b) { return div_(a, b); }

// --- utilities --------------------------------------------------------------------------------
// True when shapes match and |a - b| <= atol + rtol * |b| everywhere (NaNs equal if equal_nan).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);
bool equal(const Tensor& a, const Tensor& b);  // same shape and exactly equal values

}  // namespace reel
