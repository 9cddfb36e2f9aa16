// reel::distributed's collectives on the MPI backend, run by mpirun with 2 and 3 processes
// (tests/CMakeLists.txt): every dtype, every reduce op, against values computed by hand from
// the rank and the world size; the call-mismatch check; the argument errors.
#include <doctest/doctest.h>

#include <complex>
#include <string>
#include <vector>

#include "reel.hpp"

using namespace reel;
namespace dist = reel::distributed;

namespace {
int rank() { return dist::get_rank(); }
int world() { return dist::get_world_size(); }
}  // namespace

TEST_CASE("init: rank and world size come from mpirun") {
  CHECK(dist::is_initialized());
  CHECK(dist::is_mpi_available());
  CHECK(dist::get_backend() == dist::Backend::kMPI);
  CHECK(world() >= 2);
  CHECK(rank() >= 0);
  CHECK(rank() < world());
  // Every rank reports a different rank: their sum is 0 + 1 + ... + (W-1).
  Tensor r = tensor(std::vector<std::int64_t>{rank()});
  dist::all_reduce(r);
  CHECK(r.item<std::int64_t>() == world() * (world() - 1) / 2);
  CHECK_THROWS_WITH_AS(dist::init_process_group(dist::Backend::kMPI),
                       doctest::Contains("already initialized"), reel::Error);
}

TEST_CASE("all_reduce SUM: every numeric dtype, rank r contributes (r + 1) * (i + 1)") {
  const double tri = world() * (world() + 1) / 2.0;  // 1 + 2 + ... + W
  for (DType d : {kUInt8, kInt8, kInt16, kInt32, kInt64, kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(d);
    Tensor t = (arange(5, kFloat64) + 1.0) * static_cast<double>(rank() + 1);
    t = t.to(d);
    dist::all_reduce(t);
    CHECK(t.dtype() == d);
    std::vector<double> got = t.to(kFloat64).to_vector<double>();
    for (int i = 0; i < 5; ++i) CHECK(got[static_cast<std::size_t>(i)] == tri * (i + 1));
  }
}

TEST_CASE("all_reduce: complex dtypes (SUM and PRODUCT)") {
  for (DType d : {kComplex64, kComplex128, kComplex32}) {
    CAPTURE(d);
    // rank r: (r + 1) + 1i
    Tensor t = full({3}, std::complex<double>(rank() + 1, 1.0), d);
    dist::all_reduce(t);
    std::vector<std::complex<double>> got = t.to(kComplex128).to_vector<std::complex<double>>();
    const double tri = world() * (world() + 1) / 2.0;
    for (auto z : got) CHECK(z == std::complex<double>(tri, world()));
    Tensor p = full({2}, std::complex<double>(0.0, 1.0), d);  // i^W
    dist::all_reduce(p, dist::ReduceOp::PRODUCT);
    std::complex<double> expect(1.0, 0.0);
    for (int k = 0; k < world(); ++k) expect *= std::complex<double>(0.0, 1.0);
    for (auto z : p.to(kComplex128).to_vector<std::complex<double>>()) {
      CHECK(z.real() == doctest::Approx(expect.real()));
      CHECK(z.imag() == doctest::Approx(expect.imag()));
    }
    CHECK_THROWS_WITH_AS(dist::all_reduce(t, dist::ReduceOp::MAX),
                         doctest::Contains("not defined for complex"), reel::Error);
  }
}

TEST_CASE("all_reduce: AVG, PRODUCT, MIN, MAX") {
  const int w = world();
  // float: rank r holds r, r + 10
  Tensor f = tensor({static_cast<float>(rank()), static_cast<float>(rank() + 10)});
  dist::all_reduce(f, dist::ReduceOp::AVG);
  CHECK(f.to_vector<float>() ==
        std::vector<float>{static_cast<float>(w - 1) / 2.0f, static_cast<float>(w - 1) / 2.0f + 10.0f});
  // int64 AVG truncates, as NCCL's ncclAvg: (0 + 1 + ... + W-1) / W
  Tensor i = tensor(std::vector<std::int64_t>{rank(), -rank()});
  dist::all_reduce(i, dist::ReduceOp::AVG);
  const std::int64_t s = w * (w - 1) / 2;
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{s / w, -s / w});
  // PRODUCT: 2^W ; MIN / MAX of rank-dependent values
  for (DType d : {kInt32, kFloat32, kFloat64, kFloat16, kBFloat16}) {
    CAPTURE(d);
    Tensor p = full({2}, 2.0, d);
    dist::all_reduce(p, dist::ReduceOp::PRODUCT);
    CHECK(p.to(kFloat64).to_vector<double>() == std::vector<double>(2, std::pow(2.0, w)));
    Tensor mn = tensor({static_cast<double>(rank()), -static_cast<double>(rank())}).to(d);
    Tensor mx = mn.clone();
    dist::all_reduce(mn, dist::ReduceOp::MIN);
    dist::all_reduce(mx, dist::ReduceOp::MAX);
    CHECK(mn.to(kFloat64).to_vector<double>() == std::vector<double>{0.0, -(w - 1.0)});
    CHECK(mx.to(kFloat64).to_vector<double>() == std::vector<double>{w - 1.0, 0.0});
  }
  Tensor h = full({4}, 1.0 + rank(), kFloat16);
  dist::all_reduce(h, dist::ReduceOp::AVG);
  CHECK(h.to(kFloat64).to_vector<double>() == std::vector<double>(4, (w + 1) / 2.0));
}

TEST_CASE("all_reduce: bool SUM/MAX are a logical or, PRODUCT/MIN a logical and") {
  // Element k is true on rank k only (and element W on every rank).
  std::vector<std::int64_t> mine(static_cast<std::size_t>(world()) + 1, 0);
  mine[static_cast<std::size_t>(rank())] = 1;
  mine.back() = 1;
  Tensor t = tensor(mine).to(kBool);
  Tensor any = t.clone(), all = t.clone();
  dist::all_reduce(any, dist::ReduceOp::SUM);
  dist::all_reduce(all, dist::ReduceOp::MIN);
  std::vector<std::int64_t> got_any = any.to(kInt64).to_vector<std::int64_t>();
  std::vector<std::int64_t> got_all = all.to(kInt64).to_vector<std::int64_t>();
  for (int k = 0; k <= world(); ++k) {
    CHECK(got_any[static_cast<std::size_t>(k)] == 1);
    CHECK(got_all[static_cast<std::size_t>(k)] == (k == world() ? 1 : 0));
  }
  CHECK_THROWS_WITH_AS(dist::all_reduce(t, dist::ReduceOp::AVG),
                       doctest::Contains("AVG is not defined for bool"), reel::Error);
}

TEST_CASE("broadcast: from every root, every dtype's bytes") {
  for (int src = 0; src < world(); ++src) {
    for (DType d : {kBool, kInt8, kInt64, kFloat32, kFloat64, kBFloat16, kComplex64}) {
      CAPTURE(src);
      CAPTURE(d);
      Tensor t = (arange(6, kFloat64) + 100.0 * rank()).to(d);
      Tensor expect = (arange(6, kFloat64) + 100.0 * src).to(d);
      dist::broadcast(t, src);
      CHECK(equal(t, expect));
    }
  }
  Tensor t = zeros({2});
  CHECK_THROWS_WITH_AS(dist::broadcast(t, world()), doctest::Contains("src must be a rank in"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(dist::broadcast(t, -1), doctest::Contains("src must be a rank in"),
                       reel::Error);
}

TEST_CASE("all_gather and all_gather_into_tensor: rank order") {
  Tensor in = full({2, 3}, static_cast<double>(rank() + 1), kFloat32);
  std::vector<Tensor> outs;
  for (int r = 0; r < world(); ++r) outs.push_back(empty({2, 3}, kFloat32));
  dist::all_gather(outs, in);
  for (int r = 0; r < world(); ++r) CHECK(equal(outs[static_cast<std::size_t>(r)], full({2, 3}, r + 1.0, kFloat32)));

  Tensor flat = empty({world() * 2}, kInt16);
  dist::all_gather_into_tensor(flat, tensor(std::vector<std::int64_t>{rank(), 7 * rank()}).to(kInt16));
  std::vector<std::int64_t> got = flat.to(kInt64).to_vector<std::int64_t>();
  for (int r = 0; r < world(); ++r) {
    CHECK(got[2 * static_cast<std::size_t>(r)] == r);
    CHECK(got[2 * static_cast<std::size_t>(r) + 1] == 7 * r);
  }
  // Wrong arguments are caught before any rank communicates.
  CHECK_THROWS_WITH_AS(dist::all_gather(std::vector<Tensor>{empty({2, 3})}, in),
                       doctest::Contains("one tensor per rank"), reel::Error);
  std::vector<Tensor> bad(static_cast<std::size_t>(world()), empty({3, 2}));
  CHECK_THROWS_WITH_AS(dist::all_gather(bad, in), doctest::Contains("must have the input's dtype and shape"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(dist::all_gather_into_tensor(empty({5}), in),
                       doctest::Contains("world_size x its elements"), reel::Error);
}

TEST_CASE("async collectives and barrier") {
  Tensor a = full({1000}, 1.0), b = full({10}, 2.0, kFloat64);
  dist::WorkHandle wa = dist::all_reduce_async(a);
  dist::WorkHandle wb = dist::all_reduce_async(b, dist::ReduceOp::MAX);
  wa->wait();
  wb->wait();
  CHECK(wa->is_completed());
  CHECK(equal(a, full({1000}, static_cast<double>(world()))));
  CHECK(equal(b, full({10}, 2.0, kFloat64)));
  dist::barrier();
  // Zero elements: a valid call.
  Tensor none = empty({0});
  dist::all_reduce(none);
  CHECK(none.numel() == 0);
}

TEST_CASE("mismatched calls raise the same error on every rank, and the group stays usable") {
  // Rank 0 reduces 3 elements, the others 4: MPI would read past a buffer or hang.
  Tensor t = ones({rank() == 0 ? 3 : 4});
  CHECK_THROWS_WITH_AS(dist::all_reduce(t), doctest::Contains("the ranks' calls disagree"),
                       reel::Error);
  // Rank 0 broadcasts while the others reduce.
  Tensor u = ones({2});
  if (rank() == 0) {
    CHECK_THROWS_WITH_AS(dist::broadcast(u, 0), doctest::Contains("rank 1: all_reduce(float32, 2 elements, op SUM)"),
                         reel::Error);
  } else {
    CHECK_THROWS_WITH_AS(dist::all_reduce(u), doctest::Contains("rank 0: broadcast(float32, 2 elements, src 0)"),
                         reel::Error);
  }
  Tensor v = ones({2});
  dist::all_reduce(v);
  CHECK(equal(v, full({2}, static_cast<double>(world()))));
}

TEST_CASE("argument errors name the op and the parameter") {
  Tensor nc = zeros({4, 4}).transpose(0, 1);
  CHECK_THROWS_WITH_AS(dist::all_reduce(nc), doctest::Contains("all_reduce: Tensors must be contiguous"),
                       reel::Error);
  CHECK_THROWS_WITH_AS(dist::all_reduce(Tensor()), doctest::Contains("undefined"), reel::Error);
  CHECK_THROWS_WITH_AS(dist::init_process_group("gloo"), doctest::Contains("unknown backend 'gloo'"),
                       reel::Error);
}
