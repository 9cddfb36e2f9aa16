// The MPI process group (distributed/process_group.hpp), built when CMake finds MPI.
//
// Threading: one communication thread per process makes every MPI call, MPI_Init_thread
// included (so MPI_THREAD_FUNNELED is all it needs), from a queue of Work items, in the order
// they were queued: the order of the collectives is then the callers' order on every rank, as
// MPI requires. Each item starts non-blocking collectives (MPI_Iallreduce, ...) and polls them
// against a deadline (MPI's blocking calls can't time out), sleeping between polls once a wait
// is not short: on a 2-core machine the polling thread shares a core with the computation.
//
// Failure: a deadline passed leaves a request MPI can't cancel. The group is then "broken": the
// item and every later one raise reel::Error, and shutdown() calls MPI_Abort (which ends every
// rank of the job, the hung one included) instead of MPI_Finalize (which would wait forever).
#include <mpi.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "backends/error.hpp"
#include "backends/dtype.hpp"
#include "backends/half.hpp"
#include "distributed/detail.hpp"
#include "tensor/ops.hpp"

namespace reel::distributed::detail {

namespace {

using Clock = std::chrono::steady_clock;

// MPI counts are int: larger buffers go in chunks of this many elements.
constexpr std::int64_t kMaxChunk = std::int64_t{1} << 30;

std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(buf, static_cast<std::size_t>(len));
}

void check_mpi(int code, std::string_view what, std::string_view call) {
  if (code != MPI_SUCCESS) fail("{}: {} failed: {}", what, call, mpi_error_string(code));
}

// The rank mpirun gave this process, before MPI_Init says so (for the init timeout's message).
std::string launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}) {
    if (const char* v = std::getenv(var)) return v;
  }
  return "?";
}

// --- reductions MPI has no type for: float16, bfloat16, complex32, in float32 ------------------
template <typename T, ReduceOp Op>
void half_reduce(void* in, void* inout, int* len, MPI_Datatype*) {
  const T* a = static_cast<const T*>(in);
  T* b = static_cast<T*>(inout);
  for (int i = 0; i < *len; ++i) {
    const float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]);
    float r;
    if constexpr (Op == ReduceOp::PRODUCT) r = x * y;
    else if constexpr (Op == ReduceOp::MIN) r = (x != x || y != y) ? x + y : (x < y ? x : y);
    else if constexpr (Op == ReduceOp::MAX) r = (x != x || y != y) ? x + y : (x > y ? x : y);
    else r = x + y;  // SUM, AVG
    b[i] = T(r);
  }
}

template <ReduceOp Op>
void complex_half_reduce(void* in, void* inout, int* len, MPI_Datatype*) {
  const ComplexHalf* a = static_cast<const ComplexHalf*>(in);
  ComplexHalf* b = static_cast<ComplexHalf*>(inout);
  for (int i = 0; i < *len; ++i) {
    const std::complex<float> x(static_cast<float>(a[i].re), static_cast<float>(a[i].im));
    const std::complex<float> y(static_cast<float>(b[i].re), static_cast<float>(b[i].im));
    const std::complex<float> r = Op == ReduceOp::PRODUCT ? x * y : x + y;
    b[i] = ComplexHalf(r);
  }
}

// Divides in place by the world size (AVG after a SUM).
void divide(void* data, std::int64_t n, DType dtype, int size) {
  visit_dtype(dtype, [&]<typename T>() {
    T* p = static_cast<T*>(data);
    if constexpr (std::is_same_v<T, bool>) {
      fail("all_reduce: ReduceOp AVG is not defined for bool tensors");
    } else if constexpr (std::is_same_v<T, ComplexHalf>) {
      for (std::int64_t i = 0; i < n; ++i) {
        p[i] = ComplexHalf(std::complex<float>(static_cast<float>(p[i].re),
                                               static_cast<float>(p[i].im)) /
                           static_cast<float>(size));
      }
    } else if constexpr (kIsHalfType<T>) {
      for (std::int64_t i = 0; i < n; ++i) p[i] = T(static_cast<float>(p[i]) / static_cast<float>(size));
    } else if constexpr (std::is_integral_v<T>) {
      for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] / static_cast<T>(size));
    } else if constexpr (std::is_floating_point_v<T>) {
      for (std::int64_t i = 0; i < n; ++i) p[i] /= static_cast<T>(size);
    } else {  // std::complex
      for (std::int64_t i = 0; i < n; ++i) p[i] /= static_cast<typename T::value_type>(size);
    }
  });
}

// --- the call signature every rank exchanges before a checked collective -----------------------
enum class Kind : std::int64_t { kAllReduce = 1, kBroadcast, kAllGather, kBarrier };

struct Signature {
  std::int64_t kind = 0, dtype = -1, numel = 0, arg = 0;  // arg: the ReduceOp or the root
};

std::string describe(const Signature& s) {
  switch (static_cast<Kind>(s.kind)) {
    case Kind::kAllReduce:
      return fmt::format("all_reduce({}, {} elements, op {})", static_cast<DType>(s.dtype), s.numel,
                         reduce_op_name(static_cast<ReduceOp>(s.arg)));
    case Kind::kBroadcast:
      return fmt::format("broadcast({}, {} elements, src {})", static_cast<DType>(s.dtype), s.numel,
                         s.arg);
    case Kind::kAllGather:
      return fmt::format("all_gather({}, {} elements per rank)", static_cast<DType>(s.dtype), s.numel);
    case Kind::kBarrier: return "barrier()";
  }
  return fmt::format("an unknown call (kind {})", s.kind);
}

class MpiWork;

// What the communication thread and the callers share. Owned through shared_ptr by both the
// group and the thread, so a thread stuck in MPI_Init (a rank never joined) may outlive it.
struct State {
  std::chrono::milliseconds timeout;
  bool check_calls = true;
  int rank = -1, size = 0;
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Datatype two_bytes = MPI_DATATYPE_NULL, four_bytes = MPI_DATATYPE_NULL;
  // [dtype index][op]: float16, bfloat16, complex32 reductions.
  MPI_Op half_ops[3][5] = {};

  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::shared_ptr<MpiWork>> queue;
  bool stop = false;
  std::atomic<bool> broken{false};
  std::string broken_reason;  // set once, before `broken`
};

class MpiWork : public Work {
 public:
  // `body` runs on the communication thread: it starts the collective and waits for it (through
  // State), then finishes it (AVG's division, all_gather's copies). It throws on failure.
  MpiWork(std::string what, std::vector<Tensor> keep, std::function<void(State&)> body)
      : what_(std::move(what)), keep_(std::move(keep)), body_(std::move(body)) {}

  bool is_completed() override {
    std::lock_guard lock(mutex_);
    return done_;
  }
  void wait() override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return done_; });
    if (error_) std::rethrow_exception(error_);
  }

  void run(State& s) {
    std::exception_ptr error;
    try {
      check(!s.broken.load(), "{}: the process group is unusable after an earlier failure: {}",
            what_, s.broken_reason);
      body_(s);
    } catch (...) {
      error = std::current_exception();
    }
    body_ = nullptr;
    std::lock_guard lock(mutex_);
    error_ = error;
    keep_.clear();  // the tensors are the caller's again
    done_ = true;
    cv_.notify_all();
  }

  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::vector<Tensor> keep_;
  std::function<void(State&)> body_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::exception_ptr error_;
};

// Polls `requests` until all are done, or the deadline: then the group is broken.
void wait_all(State& s, std::vector<MPI_Request>& requests, std::string_view what) {
  const auto start = Clock::now();
  auto nap = std::chrono::microseconds(10);
  for (;;) {
    int flag = 0;
    check_mpi(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &flag,
                          MPI_STATUSES_IGNORE),
              what, "MPI_Testall");
    if (flag) return;
    const auto waited = Clock::now() - start;
    if (waited > s.timeout) {
      std::string reason = fmt::format(
          "{}: rank {} of {} timed out after {:.1f} s waiting for the other ranks (the timeout is "
          "{:.1f} s): a rank stopped calling collectives, hangs, or called them in another order",
          what, s.rank, s.size, std::chrono::duration<double>(waited).count(),
          std::chrono::duration<double>(s.timeout).count());
      s.broken_reason = reason;
      s.broken.store(true);
      fail("{}", reason);
    }
    // Spin for the first millisecond, then sleep longer and longer, up to 200 µs, so a slow
    // peer doesn't cost this process's computation a core. Measured here (2 ranks, OpenMPI 4.1,
    // bench_distributed): napping after 50 µs instead made a 256 KiB all_reduce take 572 µs
    // instead of 109 (MPI progresses a message only inside MPI_Test), and a sched_yield poll
    // made a 4-byte one take 8.8 ms instead of 1 µs.
    if (waited > std::chrono::microseconds(1000)) {
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds(200));
    }
  }
}

// Exchanges the call signature; raises the same error on every rank when they differ.
void check_signature(State& s, const Signature& mine, std::string_view what) {
  std::vector<Signature> all(static_cast<std::size_t>(s.size));
  std::vector<MPI_Request> req(1);
  check_mpi(MPI_Iallgather(&mine, 4, MPI_INT64_T, all.data(), 4, MPI_INT64_T, s.comm, &req[0]),
            what, "MPI_Iallgather");
  wait_all(s, req, what);
  bool same = true;
  for (const Signature& o : all) {
    same = same && o.kind == all[0].kind && o.dtype == all[0].dtype && o.numel == all[0].numel &&
           o.arg == all[0].arg;
  }
  if (same) return;
  std::string calls;
  for (int r = 0; r < s.size; ++r) {
    calls += fmt::format("{}rank {}: {}", r ? "; " : "", r, describe(all[static_cast<std::size_t>(r)]));
  }
  fail("{}: the ranks' calls disagree ({}). Every rank must call the same collectives, in the "
       "same order, with tensors of the same dtype and size",
       what, calls);
}

MPI_Datatype mpi_type(const State& s, DType d) {
  switch (d) {
    case kBool: return MPI_C_BOOL;
    case kUInt8: return MPI_UINT8_T;
    case kInt8: return MPI_INT8_T;
    case kInt16: return MPI_INT16_T;
    case kInt32: return MPI_INT32_T;
    case kInt64: return MPI_INT64_T;
    case kFloat32: return MPI_FLOAT;
    case kFloat64: return MPI_DOUBLE;
    case kComplex64: return MPI_C_FLOAT_COMPLEX;
    case kComplex128: return MPI_C_DOUBLE_COMPLEX;
    case kFloat16: case kBFloat16: return s.two_bytes;
    case kComplex32: return s.four_bytes;
  }
  fail("distributed: no MPI type for dtype {}", d);
}

MPI_Op mpi_op(const State& s, DType d, ReduceOp op) {
  const int o = static_cast<int>(op);
  if (d == kFloat16) return s.half_ops[0][o];
  if (d == kBFloat16) return s.half_ops[1][o];
  if (d == kComplex32) return s.half_ops[2][o];
  if (d == kBool) {
    return op == ReduceOp::SUM || op == ReduceOp::MAX ? MPI_LOR : MPI_LAND;
  }
  switch (op) {
    case ReduceOp::SUM: case ReduceOp::AVG: return MPI_SUM;
    case ReduceOp::PRODUCT: return MPI_PROD;
    case ReduceOp::MIN: return MPI_MIN;
    case ReduceOp::MAX: return MPI_MAX;
  }
  return MPI_SUM;
}

void create_types_and_ops(State& s) {
  check_mpi(MPI_Type_contiguous(2, MPI_BYTE, &s.two_bytes), "init_process_group", "MPI_Type_contiguous");
  check_mpi(MPI_Type_commit(&s.two_bytes), "init_process_group", "MPI_Type_commit");
  check_mpi(MPI_Type_contiguous(4, MPI_BYTE, &s.four_bytes), "init_process_group", "MPI_Type_contiguous");
  check_mpi(MPI_Type_commit(&s.four_bytes), "init_process_group", "MPI_Type_commit");
  MPI_User_function* fns[3][5] = {
      {half_reduce<Half, ReduceOp::SUM>, half_reduce<Half, ReduceOp::AVG>,
       half_reduce<Half, ReduceOp::PRODUCT>, half_reduce<Half, ReduceOp::MIN>,
       half_reduce<Half, ReduceOp::MAX>},
      {half_reduce<BFloat16, ReduceOp::SUM>, half_reduce<BFloat16, ReduceOp::AVG>,
       half_reduce<BFloat16, ReduceOp::PRODUCT>, half_reduce<BFloat16, ReduceOp::MIN>,
       half_reduce<BFloat16, ReduceOp::MAX>},
      {complex_half_reduce<ReduceOp::SUM>, complex_half_reduce<ReduceOp::AVG>,
       complex_half_reduce<ReduceOp::PRODUCT>, nullptr, nullptr}};
  for (int t = 0; t < 3; ++t) {
    for (int o = 0; o < 5; ++o) {
      if (fns[t][o] == nullptr) continue;
      check_mpi(MPI_Op_create(fns[t][o], /*commute=*/1, &s.half_ops[t][o]), "init_process_group",
                "MPI_Op_create");
    }
  }
}

void free_types_and_ops(State& s) {
  for (auto& row : s.half_ops) {
    for (MPI_Op& op : row) {
      if (op != MPI_OP_NULL && op != MPI_Op{}) MPI_Op_free(&op);
    }
  }
  if (s.two_bytes != MPI_DATATYPE_NULL) MPI_Type_free(&s.two_bytes);
  if (s.four_bytes != MPI_DATATYPE_NULL) MPI_Type_free(&s.four_bytes);
}

// The communication thread: MPI_Init, then the queue until stop, then MPI_Finalize or Abort.
void comm_thread(std::shared_ptr<State> sp, std::shared_ptr<std::promise<void>> ready) {
  State& s = *sp;
  try {
    int initialized = 0;
    MPI_Initialized(&initialized);
    check(!initialized,
          "init_process_group(mpi): MPI was already initialized by the program; reel makes all "
          "its MPI calls on its own thread and must initialize MPI itself");
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
              "init_process_group(mpi)", "MPI_Init_thread");
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &s.comm), "init_process_group(mpi)", "MPI_Comm_dup");
    // Errors come back as codes (reel::Error), never MPI's default abort.
    MPI_Comm_set_errhandler(s.comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(s.comm, &s.rank);
    MPI_Comm_size(s.comm, &s.size);
    create_types_and_ops(s);
    ready->set_value();
  } catch (...) {
    ready->set_exception(std::current_exception());
    return;
  }

  for (;;) {
    std::shared_ptr<MpiWork> work;
    {
      std::unique_lock lock(s.mutex);
      s.cv.wait(lock, [&] { return s.stop || !s.queue.empty(); });
      if (s.queue.empty()) break;  // stop, with nothing left to run
      work = std::move(s.queue.front());
      s.queue.pop_front();
    }
    work->run(s);
  }

  if (s.broken.load()) {
    // A collective is still pending on some rank; MPI_Finalize would wait for it forever.
    std::fprintf(stderr, "reel::distributed: aborting the MPI job: %s\n", s.broken_reason.c_str());
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return;
  }
  free_types_and_ops(s);
  MPI_Comm_free(&s.comm);
  MPI_Finalize();
}

class MpiGroup final : public GroupBase {
 public:
  explicit MpiGroup(const InitProcessGroupOptions& options) : state_(std::make_shared<State>()) {
    state_->timeout = options.timeout_;
    state_->check_calls = options.check_calls_;
    auto ready = std::make_shared<std::promise<void>>();
    std::future<void> joined = ready->get_future();
    thread_ = std::thread(comm_thread, state_, ready);
    if (joined.wait_for(options.timeout_) != std::future_status::ready) {
      // The thread is stuck in MPI_Init, waiting for a rank that never came; it keeps the state
      // alive. Leaving the program (after this error) makes mpirun end the job.
      thread_.detach();
      fail("init_process_group(mpi): rank {} waited {:.1f} s (the timeout) for the other ranks "
           "to join: a rank never started, or is stuck before init_process_group",
           launcher_rank(), std::chrono::duration<double>(options.timeout_).count());
    }
    try {
      joined.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }

  ~MpiGroup() override {
    try {
      shutdown();
    } catch (...) {
    }
  }

  void shutdown() override {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(state_->mutex);
      state_->stop = true;
    }
    state_->cv.notify_all();
    thread_.join();
  }

  int rank() const override { return state_->rank; }
  int size() const override { return state_->size; }
  Backend backend() const override { return Backend::kMPI; }
  std::chrono::milliseconds timeout() const override { return state_->timeout; }

  WorkHandle all_reduce(const Tensor& t, ReduceOp op, std::optional<bool> checked) override {
    check_tensor_arg(t, "all_reduce", "tensor", Backend::kMPI);
    const std::string what = fmt::format("all_reduce({}, {} elements, op {})", t.dtype(), t.numel(),
                                         reduce_op_name(op));
    check_reduce_op(t.dtype(), op, what);
    const bool verify = checked.value_or(state_->check_calls);
    Signature sig{static_cast<std::int64_t>(Kind::kAllReduce), static_cast<std::int64_t>(t.dtype()),
                  t.numel(), static_cast<std::int64_t>(op)};
    t.bump_version();
    return enqueue(what, {t}, [t, op, sig, verify, what](State& s) {
      if (verify) check_signature(s, sig, what);
      char* base = static_cast<char*>(t.raw_data());
      const std::int64_t n = t.numel(), esize = static_cast<std::int64_t>(t.element_size());
      const MPI_Datatype type = mpi_type(s, t.dtype());
      const MPI_Op mop = mpi_op(s, t.dtype(), op);
      std::vector<MPI_Request> reqs;
      for (std::int64_t first = 0; first < n; first += kMaxChunk) {
        const int count = static_cast<int>(std::min(kMaxChunk, n - first));
        reqs.emplace_back();
        check_mpi(MPI_Iallreduce(MPI_IN_PLACE, base + first * esize, count, type, mop, s.comm,
                                 &reqs.back()),
                  what, "MPI_Iallreduce");
      }
      wait_all(s, reqs, what);
      if (op == ReduceOp::AVG) divide(base, n, t.dtype(), s.size);
    });
  }

  WorkHandle broadcast(const Tensor& t, int src, std::optional<bool> checked) override {
    check_tensor_arg(t, "broadcast", "tensor", Backend::kMPI);
    check(src >= 0 && src < state_->size,
          "broadcast: src must be a rank in [0, {}) (the world size), got {}", state_->size, src);
    const std::string what = fmt::format("broadcast({}, {} elements, src {})", t.dtype(), t.numel(), src);
    const bool verify = checked.value_or(state_->check_calls);
    Signature sig{static_cast<std::int64_t>(Kind::kBroadcast), static_cast<std::int64_t>(t.dtype()),
                  t.numel(), src};
    t.bump_version();
    return enqueue(what, {t}, [t, src, sig, verify, what](State& s) {
      if (verify) check_signature(s, sig, what);
      char* base = static_cast<char*>(t.raw_data());
      const std::int64_t bytes = t.numel() * static_cast<std::int64_t>(t.element_size());
      std::vector<MPI_Request> reqs;
      for (std::int64_t first = 0; first < bytes; first += kMaxChunk) {
        const int count = static_cast<int>(std::min(kMaxChunk, bytes - first));
        reqs.emplace_back();
        check_mpi(MPI_Ibcast(base + first, count, MPI_BYTE, src, s.comm, &reqs.back()), what,
                  "MPI_Ibcast");
      }
      wait_all(s, reqs, what);
    });
  }

  WorkHandle all_gather(const std::vector<Tensor>& outputs, const Tensor& input) override {
    check_all_gather_args(outputs, input, state_->size, Backend::kMPI);
    Tensor flat = empty({state_->size * input.numel()}, input.options());
    std::vector<Tensor> keep = outputs;
    keep.push_back(input);
    auto gather = gather_body(flat, input, state_->check_calls);
    for (const Tensor& o : outputs) o.bump_version();
    return enqueue(gather.first, std::move(keep), [gather, flat, outputs](State& s) {
      gather.second(s);
      const std::size_t bytes = static_cast<std::size_t>(outputs[0].numel()) * outputs[0].element_size();
      for (std::size_t r = 0; r < outputs.size(); ++r) {
        if (bytes) std::memcpy(outputs[r].raw_data(), static_cast<char*>(flat.raw_data()) + r * bytes, bytes);
      }
    });
  }

  WorkHandle all_gather_into_tensor(const Tensor& output, const Tensor& input,
                                    std::optional<bool> checked) override {
    check_all_gather_into_args(output, input, state_->size, Backend::kMPI);
    auto gather = gather_body(output, input, checked.value_or(state_->check_calls));
    output.bump_version();
    return enqueue(gather.first, {output, input}, gather.second);
  }

  WorkHandle barrier() override {
    const bool verify = state_->check_calls;
    return enqueue("barrier()", {}, [verify](State& s) {
      if (verify) check_signature(s, Signature{static_cast<std::int64_t>(Kind::kBarrier), -1, 0, 0}, "barrier()");
      std::vector<MPI_Request> reqs(1);
      check_mpi(MPI_Ibarrier(s.comm, &reqs[0]), "barrier()", "MPI_Ibarrier");
      wait_all(s, reqs, "barrier()");
    });
  }

 private:
  // all_gather's MPI part: input's bytes from every rank into `flat`, in rank order.
  std::pair<std::string, std::function<void(State&)>> gather_body(const Tensor& flat, const Tensor& input,
                                                                  bool verify) {
    const std::int64_t bytes = input.numel() * static_cast<std::int64_t>(input.element_size());
    std::string what = fmt::format("all_gather({}, {} elements per rank)", input.dtype(), input.numel());
    check(bytes <= INT_MAX,
          "{}: {} bytes per rank exceed MPI's count limit ({} bytes); gather it in parts", what,
          bytes, INT_MAX);
    Signature sig{static_cast<std::int64_t>(Kind::kAllGather), static_cast<std::int64_t>(input.dtype()),
                  input.numel(), 0};
    return {what, [flat, input, bytes, sig, verify, what](State& s) {
              if (verify) check_signature(s, sig, what);
              std::vector<MPI_Request> reqs(1);
              check_mpi(MPI_Iallgather(input.raw_data(), static_cast<int>(bytes), MPI_BYTE,
                                       flat.raw_data(), static_cast<int>(bytes), MPI_BYTE, s.comm,
                                       &reqs[0]),
                        what, "MPI_Iallgather");
              wait_all(s, reqs, what);
            }};
  }

  WorkHandle enqueue(std::string what, std::vector<Tensor> keep, std::function<void(State&)> body) {
    auto work = std::make_shared<MpiWork>(std::move(what), std::move(keep), std::move(body));
    {
      std::lock_guard lock(state_->mutex);
      check(!state_->stop, "{}: the process group was destroyed", work->what());
      state_->queue.push_back(work);
    }
    state_->cv.notify_all();
    return work;
  }

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<GroupBase> make_mpi_group(const InitProcessGroupOptions& options) {
  return std::make_unique<MpiGroup>(options);
}

}  // namespace reel::distributed::detail
