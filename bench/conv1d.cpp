// bench/conv1d: reel's Conv1d on the shapes of conv1d_cases.hpp — forward, and forward +
// backward with x, weight and bias requiring grad — against the machine's limits measured in
// the same run (bench/machine.hpp) and beside python3-torch (bench/conv1d_torch.py, the primary
// anchor: what reel's users run today), optionally LibTorch C++ (bench_conv1d_torch).
//
//   bench_conv1d [--quick] [--threads N] [--only KEY,KEY...] [--torch FILE]
//                [--torch-default-malloc FILE] [--libtorch FILE] [--scaling]
//                [--stream-bytes B]
//   bench_conv1d --list-cases [--quick] [--only ...]
//   bench_conv1d --device cuda [--quick] [--only ...] [--torch FILE] [--no-cudnn-benchmark]
//                [--no-tf32] [--skip-without-gpu]
//
// --list-cases prints the suite ("key N Cin Cout L K stride pad_left pad_right dilation groups"
// per line) for conv1d_torch.py, so the shapes have one source. --torch FILE: conv1d_torch.py's
// results with glibc's allocator warm (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ set; the
// ratio column uses these); --torch-default-malloc FILE: the same script run with glibc's
// defaults (what an untuned user sees; shown, not compared); --libtorch FILE:
// bench_conv1d_torch's results (docs/benchmarks.md, "The LibTorch discrepancy", says when they
// are comparable). --threads N: reel's thread count (default: the number of cores); give the
// other sides the same. --only: a comma-separated subset of the case keys. --scaling: after the
// table, the dense cases at 1 thread and at N (the speedup). --stream-bytes: the direct
// kernels' non-temporal-store line (backends/cpu/conv1d.hpp), for A/B runs.
//
// Columns. GFLOP/s counts 2 flops per multiply-add: the forward pass's, and three times that
// for forward + backward (grad_input and grad_weight each cost a forward). "% peak" divides by
// the FMA peak measured above at the same thread count. For depthwise cases, which are
// memory-bound (a few flops per byte against the machine's ~8 flops/byte balance), GB/s counts
// the bytes the pass must move at the least (see pass_bytes below) and "% copy" divides by the
// memcpy bandwidth measured, in this run and at the same thread count, with buffers as large as
// the pass's working set (so a cache-resident kernel is not compared with a DRAM-bound copy).
// No thresholds: this reports, it does not judge.
//
// --device cuda (issue 11): the same suite on CUDA tensors, against PyTorch on the same GPU
// (conv1d_torch.py --device cuda: torch.backends.cudnn.benchmark on, so PyTorch gets cuDNN's
// fastest algorithm per shape). Each timed batch of calls sits between two
// reel::cuda::synchronize(), so the figure is the kernels' throughput, launch costs included,
// not the host's enqueueing. reel's side turns its own cudnn_benchmark on too (off:
// --no-cudnn-benchmark) and keeps PyTorch's TF32 default for convolutions (cudnn.allow_tf32 on;
// off on both sides: --no-tf32 here and there). GB/s counts pass_bytes' least traffic for every
// case, and "% copy" divides it by a device-to-device copy_ of the same working set, measured in
// this run; the header gives the device's copy bandwidth at 256 MiB (far beyond the L2 cache).
// No FMA-peak column: the GPU's peak is not measured here. --skip-without-gpu: exit 77 (a
// skipped test for CTest) rather than 1 when there is no GPU.
#include <reel/reel.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "conv1d_cases.hpp"
#include "conv1d_reel.hpp"
#include "machine.hpp"
#include "backends/cpu/conv1d.hpp"
#include "nn/functional/conv1d.hpp"
#include "timer.hpp"

namespace {

namespace F = reel::nn::functional;

// A results file: "key value" lines; numeric values in `ns`, the others (torch_version) in
// `text`. Written by conv1d_torch.py and bench_conv1d_torch.
struct Results {
  std::string path;
  std::map<std::string, double> ns;
  std::map<std::string, std::string> text;
  bool has(const std::string& key) const { return ns.count(key) != 0; }
  double get(const std::string& key, double fallback = -1) const {
    auto it = ns.find(key);
    return it == ns.end() ? fallback : it->second;
  }
};

Results read_results(const char* path, const char* what) {
  Results r;
  r.path = path;
  std::ifstream in(path);
  reel::check(static_cast<bool>(in), "bench_conv1d: cannot read {} results from '{}'", what, path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    if (!(fields >> key >> value)) continue;
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && *end == '\0') r.ns[key] = v;
    else r.text[key] = value;
  }
  return r;
}

// The least bytes a pass must move (float32, 4 bytes each), for GB/s:
//   forward:  read x and w (and b), write y;
//   fwd+bwd:  the forward's, plus read grad_out and x (and w) and write grad_x, grad_w and
//             grad_b: a fused backward that reads grad_out once for both gradients.
// `working_set` is the distinct buffers the pass touches (x, w, b, y; and grad_out, grad_x,
// grad_w, grad_b for fwd+bwd): the size the copy it is compared with uses.
struct PassBytes {
  double moved = 0;
  std::int64_t working_set = 0;
};
PassBytes pass_bytes(const reel_bench::Conv1dCase& c, bool backward) {
  const std::int64_t x = c.n * c.cin * c.length, y = c.n * c.cout * c.out_length();
  const std::int64_t w = c.cout * (c.cin / c.groups) * c.kernel, b = c.cout;
  PassBytes p;
  if (!backward) {
    p.moved = 4.0 * static_cast<double>(x + w + b + y);
    p.working_set = 4 * (x + w + b + y);
  } else {
    p.moved = 4.0 * static_cast<double>((x + w + b + y) + (y + x + w) + (x + w + b));
    p.working_set = 4 * (2 * (x + w + b + y));
  }
  return p;
}

std::string mebibytes(std::int64_t bytes) {
  if (bytes < (1 << 20)) return fmt::format("{:.0f} KiB", static_cast<double>(bytes) / 1024);
  return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / (1 << 20));
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// The geometric mean of ratios and how many are below 1.
struct RatioSummary {
  double log_sum = 0;
  int count = 0, below_one = 0;
  void add(double r) {
    log_sum += std::log(r);
    ++count;
    below_one += r < 1.0;
  }
  std::string format(const char* who) const {
    if (count == 0) return fmt::format("{}: no ratios.", who);
    return fmt::format("{}: geometric mean of the time ratios {:.2f} over {} rows; reel faster "
                       "(ratio < 1.0) on {} of {}.", who, std::exp(log_sum / count), count,
                       below_one, count);
  }
};

// timer.hpp's method (one warm-up batch, the batch grown to about config.target_batch, the
// median of config.batches batches) for CUDA work: each batch starts and ends with a
// reel::cuda::synchronize(), so it times the calls' kernels, not only their launches.
template <typename Fn>
double median_ns_per_call_cuda(Fn&& fn, const reel_bench::TimerConfig& config) {
  using clock = std::chrono::steady_clock;
  auto time_batch = [&](std::int64_t n) {
    reel::cuda::synchronize();  // nothing of the previous batch still running
    const auto t0 = clock::now();
    for (std::int64_t i = 0; i < n; ++i) fn();
    reel::cuda::synchronize();  // this batch's kernels finished
    return std::chrono::duration<double, std::nano>(clock::now() - t0).count();
  };
  time_batch(1);  // warm-up: the caching allocator, cuDNN's plans (and benchmark), lazy loading
  std::int64_t n = 1;
  const double target = static_cast<double>(config.target_batch.count());
  for (double t = time_batch(n); t < target && n < (std::int64_t{1} << 30); t = time_batch(n))
    n = t <= 0 ? n * 10 : std::max<std::int64_t>(n + 1, static_cast<std::int64_t>(n * 1.2 * target / t));
  std::vector<double> per_call;
  for (int b = 0; b < config.batches; ++b) per_call.push_back(time_batch(n) / static_cast<double>(n));
  std::nth_element(per_call.begin(), per_call.begin() + per_call.size() / 2, per_call.end());
  return per_call[per_call.size() / 2];
}

// The forward's and the forward + backward's median ns per call for one case, on `device` (the
// inputs drawn on the CPU, so both devices convolve the same numbers, then moved: a no-op for
// the CPU).
std::pair<double, double> time_case(const reel_bench::Conv1dCase& c,
                                    const reel_bench::TimerConfig& config,
                                    const reel::Device& device = reel::kCPU) {
  auto median_ns = [&](auto&& fn) {
    return device.is_cuda() ? median_ns_per_call_cuda(fn, config)
                            : reel_bench::median_ns_per_call(fn, config);
  };
  reel::Tensor x = reel::randn({c.n, c.cin, c.length}).to(device);
  reel::Tensor w = reel::randn({c.cout, c.cin / c.groups, c.kernel}).to(device);
  reel::Tensor b = reel::randn({c.cout}).to(device);
  reel::Tensor gy = reel::randn({c.n, c.cout, c.out_length()}).to(device);
  const auto options = reel_bench::conv1d_options(c);
  const double fwd = median_ns([&] {
    reel::NoGradGuard no_grad;
    reel::Tensor y = F::conv1d(x, w, b, options);
    reel_bench::keep(y);
  });

  // Gradients reset to undefined before each step (zero_grad is set_to_none), so every step
  // writes fresh ones, as PyTorch's side does with .grad = None.
  reel::Tensor xg = x.detach().clone().requires_grad_();
  reel::Tensor wg = w.detach().clone().requires_grad_();
  reel::Tensor bg = b.detach().clone().requires_grad_();
  const double fwdbwd = median_ns([&] {
    for (reel::Tensor* t : {&xg, &wg, &bg}) t->zero_grad();
    reel::Tensor y = F::conv1d(xg, wg, bg, options);
    y.backward(gy);
  });

  return {fwd, fwdbwd};
}

// --- --device cuda -------------------------------------------------------------------------------

// A device-to-device copy_ of `bytes` (float32) through reel, in GB/s counting the read and the
// write (as pass_bytes counts a kernel's traffic, and as CUDA's bandwidthTest reports a device
// to device copy).
double device_copy_gbps(std::int64_t bytes, const reel_bench::TimerConfig& config) {
  const std::int64_t n = std::max<std::int64_t>(bytes / 4, 1);
  const reel::TensorOptions on_gpu = reel::TensorOptions(reel::kFloat32).device(reel::kCUDA);
  reel::Tensor src = reel::zeros({n}, on_gpu), dst = reel::zeros({n}, on_gpu);
  const double ns = median_ns_per_call_cuda([&] { dst.copy_(src); }, config);
  return 2.0 * 4.0 * static_cast<double>(n) / ns;
}

// A field of a results file as text, whether it was read as a number or not ("" if absent).
std::string field(const Results& r, const std::string& key) {
  if (r.text.count(key)) return r.text.at(key);
  if (r.has(key)) return fmt::format("{}", r.get(key));
  return "";
}

// Issue 11's targets are per kind of case: dense (and grouped) within 5% of PyTorch, depthwise
// and short causal kernels at least 3x faster. The kind of a case, for the summary lines.
const char* case_kind(const reel_bench::Conv1dCase& c) {
  if (c.depthwise()) return "depthwise";
  if (c.causal()) return "causal";
  return "dense";
}

// The suite on CUDA tensors beside PyTorch on the same GPU (conv1d_torch.py --device cuda).
int run_cuda(const std::vector<reel_bench::Conv1dCase>& cases, const reel_bench::TimerConfig& config,
             const char* torch_file, bool quick, bool cudnn_benchmark, bool tf32) {
  reel::cuda::set_cudnn_benchmark(cudnn_benchmark);
  reel::cuda::set_allow_tf32_conv(tf32);
  Results torch;
  if (torch_file) torch = read_results(torch_file, "PyTorch on CUDA");

  // The copies are timed more briefly than the convolutions: they are only the yardstick.
  const reel_bench::TimerConfig copy_config{quick ? 3 : 5, std::chrono::milliseconds(quick ? 1 : 10)};
  const std::int64_t dram_bytes = quick ? (std::int64_t{16} << 20) : (std::int64_t{256} << 20);
  const double dram_gbps = device_copy_gbps(dram_bytes, copy_config);
  reel::manual_seed(0);

  fmt::print("conv1d, float32 on CUDA (device 0 of {}): median of {} timed batches per number, "
             "each batch between two reel::cuda::synchronize().\n",
             reel::cuda::device_count(), config.batches);
  fmt::print("Device copy bandwidth: {:.0f} GB/s (reel, copy_ of a {} float32 tensor, device to "
             "device, read + write counted).\n", dram_gbps, mebibytes(dram_bytes));
  fmt::print("reel: cudnn_benchmark {}, TF32 for convolutions {} (reel::cuda::allow_tf32_conv), "
             "TF32 for matmul {}.\n", reel::cuda::cudnn_benchmark() ? "on" : "off",
             reel::cuda::allow_tf32_conv() ? "on" : "off", reel::cuda::allow_tf32() ? "on" : "off");
  if (torch.path.empty()) {
    fmt::print("PyTorch: not measured (--torch FILE: conv1d_torch.py --device cuda's results).\n");
  } else {
    fmt::print("PyTorch: torch {} (CUDA {}, cuDNN {}) on {}: cudnn.benchmark {}, "
               "cudnn.allow_tf32 {}, matmul.allow_tf32 {}.\n",
               field(torch, "torch_version"), field(torch, "cuda_version"),
               field(torch, "cudnn_version"), field(torch, "gpu_name"),
               field(torch, "cudnn_benchmark"), field(torch, "cudnn_allow_tf32"),
               field(torch, "matmul_allow_tf32"));
    if (field(torch, "device") != "cuda")
      fmt::print("WARNING: '{}' was not run with --device cuda: not a GPU comparison.\n", torch.path);
    if (torch.has("cudnn_allow_tf32") && (torch.get("cudnn_allow_tf32") == 1) != tf32)
      fmt::print("WARNING: TF32 for convolutions differs between the two sides.\n");
    if (torch.has("cudnn_benchmark") && (torch.get("cudnn_benchmark") == 1) != cudnn_benchmark)
      fmt::print("WARNING: cudnn benchmark differs between the two sides.\n");
  }
  fmt::print("Shape: (N, Cin, Cout, L, K, stride, padding, dilation, groups); \"causal p\": p "
             "zeros on the left only (PyTorch: F.pad, then the convolution). fwd+bwd: x, weight "
             "and bias require grad.\n\n");
  fmt::print("| case | shape | pass | reel ms | reel GFLOP/s | reel GB/s | % copy (copy GB/s at "
             "the working set) | PyTorch ms | ratio reel / PyTorch |\n"
             "|---|---|---|---:|---:|---:|---:|---:|---:|\n");

  RatioSummary all;
  std::map<std::string, RatioSummary> by_kind;
  std::map<std::int64_t, double> copy_at;  // working-set bytes -> copy GB/s, measured once each
  int failed = 0;
  for (const reel_bench::Conv1dCase& c : cases) {
    // A case reel cannot run on CUDA yet is a row that says so, not the end of the table.
    std::vector<std::string> lines;
    try {
      const auto [fwd, fwdbwd] = time_case(c, config, reel::kCUDA);
      const struct { const char* pass; const char* suffix; double ns; double flops; bool backward; } rows[] = {
          {"fwd", "fwd", fwd, c.forward_flops(), false},
          {"fwd+bwd", "fwdbwd", fwdbwd, 3 * c.forward_flops(), true}};
      for (const auto& r : rows) {
        const std::string key = fmt::format("{}_{}", c.key, r.suffix);
        const PassBytes bytes = pass_bytes(c, r.backward);
        auto [it, fresh] = copy_at.try_emplace(bytes.working_set, 0.0);
        // Half the working set copied: the copy reads and writes, so it touches all of it.
        if (fresh) it->second = device_copy_gbps(bytes.working_set / 2, copy_config);
        const double gbps = bytes.moved / r.ns;
        std::string torch_cols = "n/a | n/a";
        if (torch.has(key)) {
          const double t = torch.get(key);
          torch_cols = fmt::format("{:.4f} | {:.2f}", t / 1e6, r.ns / t);
          all.add(r.ns / t);
          by_kind[case_kind(c)].add(r.ns / t);
        }
        lines.push_back(fmt::format(
            "| {} | {} | {} | {:.4f} | {:.1f} | {:.1f} | {:.0f}% ({:.0f} GB/s at {}) | {} |\n",
            c.label, reel_bench::shape_of(c), r.pass, r.ns / 1e6, r.flops / r.ns, gbps,
            100 * gbps / it->second, it->second, mebibytes(bytes.working_set), torch_cols));
      }
    } catch (const std::exception& e) {
      ++failed;
      std::string what = e.what();  // on one line, without the table's separator
      std::replace(what.begin(), what.end(), '\n', ' ');
      std::replace(what.begin(), what.end(), '|', '/');
      lines = {fmt::format("| {} | {} | fwd, fwd+bwd | error: {} | | | | | |\n", c.label,
                           reel_bench::shape_of(c), what)};
    }
    for (const std::string& line : lines) fmt::print("{}", line);
    std::fflush(stdout);
  }
  fmt::print("\n{}\n", all.format("reel / PyTorch, CUDA"));
  for (const auto& [kind, summary] : by_kind)
    fmt::print("{}\n", summary.format(fmt::format("reel / PyTorch, CUDA, {} cases", kind).c_str()));
  if (failed) fmt::print("{} case(s) did not run on CUDA (the rows marked error).\n", failed);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const reel_bench::TimerConfig config = reel_bench::conv1d_timer_config(argc, argv);
  const char* torch_file = nullptr;
  const char* torch_default_file = nullptr;
  const char* libtorch_file = nullptr;
  bool quick = false, list_cases = false, scaling = false;
  const char* device = "cpu";
  bool cudnn_benchmark = true, tf32 = true, skip_without_gpu = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    list_cases = list_cases || std::strcmp(argv[i], "--list-cases") == 0;
    scaling = scaling || std::strcmp(argv[i], "--scaling") == 0;
    if (std::strcmp(argv[i], "--torch") == 0 && has_value) torch_file = argv[i + 1];
    if (std::strcmp(argv[i], "--torch-default-malloc") == 0 && has_value) torch_default_file = argv[i + 1];
    if (std::strcmp(argv[i], "--libtorch") == 0 && has_value) libtorch_file = argv[i + 1];
    if (std::strcmp(argv[i], "--only") == 0 && has_value) only = split_commas(argv[i + 1]);
    if (std::strcmp(argv[i], "--device") == 0 && has_value) device = argv[i + 1];
    cudnn_benchmark = cudnn_benchmark && std::strcmp(argv[i], "--no-cudnn-benchmark") != 0;
    tf32 = tf32 && std::strcmp(argv[i], "--no-tf32") != 0;
    skip_without_gpu = skip_without_gpu || std::strcmp(argv[i], "--skip-without-gpu") == 0;
    if (std::strcmp(argv[i], "--threads") == 0 && has_value)
      reel::set_num_threads(std::atoi(argv[i + 1]));
    // The direct kernels' non-temporal-store line, in bytes of output (0: twice the L3, the
    // default; 1: always; a huge value: never), for A/B runs of the streamed stores.
    if (std::strcmp(argv[i], "--stream-bytes") == 0 && has_value)
      reel::backends::cpu::set_conv1d_stream_bytes(std::atoll(argv[i + 1]));
  }

  std::vector<reel_bench::Conv1dCase> cases;
  for (reel_bench::Conv1dCase c : reel_bench::kConv1dCases) {
    if (!only.empty() && std::find(only.begin(), only.end(), c.key) == only.end()) continue;
    cases.push_back(quick ? reel_bench::quick_case(c) : c);
  }
  for (const std::string& key : only)
    reel::check(std::any_of(cases.begin(), cases.end(), [&](const auto& c) { return key == c.key; }),
                "bench_conv1d: --only: no case '{}' (bench_conv1d --list-cases lists them)", key);

  if (list_cases) {
    fmt::print("# bench/conv1d_cases.hpp{}: key N Cin Cout L K stride pad_left pad_right dilation "
               "groups\n", quick ? " (--quick shapes)" : "");
    for (const auto& c : cases)
      fmt::print("{} {} {} {} {} {} {} {} {} {} {}\n", c.key, c.n, c.cin, c.cout, c.length,
                 c.kernel, c.stride, c.pad_left, c.pad_right, c.dilation, c.groups);
    return 0;
  }

  const bool on_cuda = std::strcmp(device, "cuda") == 0;
  reel::check(on_cuda || std::strcmp(device, "cpu") == 0,
              "bench_conv1d: --device must be cpu or cuda, not '{}'", device);
  if (on_cuda) {
    if (!reel::cuda::is_available()) {
      fmt::print(stderr, "bench_conv1d: --device cuda: no CUDA GPU (reel::cuda::is_available() "
                 "is false){}\n", skip_without_gpu ? "; skipped" : "");
      return skip_without_gpu ? 77 : 1;  // 77: CTest's SKIP_RETURN_CODE
    }
    try {
      return run_cuda(cases, config, torch_file, quick, cudnn_benchmark, tf32);
    } catch (const std::exception& e) {
      fmt::print(stderr, "bench_conv1d: --device cuda: {}\n", e.what());
      return 1;
    }
  }

  Results torch, torch_default, libtorch;
  if (torch_file) torch = read_results(torch_file, "python3-torch");
  if (torch_default_file) torch_default = read_results(torch_default_file, "python3-torch (default malloc)");
  if (libtorch_file) libtorch = read_results(libtorch_file, "LibTorch");

  const int threads = reel::get_num_threads();
  // The machine's limits first, in this run, at reel's thread count.
  const reel_bench::MachineLimits machine = reel_bench::measure_machine(threads, quick);
  fmt::print("{}\n", reel_bench::format_machine_limits(machine));

  reel::manual_seed(0);
  fmt::print("conv1d, float32 on the CPU: median of {} timed batches per number.\n",
             config.batches);
  fmt::print("Threads: reel {}", threads);
  auto describe = [](const Results& r, const char* who) {
    if (r.path.empty()) return fmt::format("; {}: not measured", who);
    std::string s = fmt::format("; {} {} (its default {})", who, static_cast<int>(r.get("threads")),
                                static_cast<int>(r.get("default_threads")));
    if (r.text.count("torch_version")) s += fmt::format(", torch {}", r.text.at("torch_version"));
    if (r.has("malloc_tuned"))
      s += r.get("malloc_tuned") == 1 ? ", glibc malloc warm (MALLOC_MMAP_THRESHOLD_ set)"
                                      : ", glibc malloc defaults";
    return s;
  };
  fmt::print("{}{}{}.\n", describe(torch, "python3-torch"),
             describe(torch_default, "python3-torch (default malloc)"),
             describe(libtorch, "LibTorch C++"));
  if (!torch.path.empty() && torch.get("malloc_tuned") == 0)
    fmt::print("WARNING: '{}' was run with glibc's default malloc settings: its column is not "
               "the warm-allocator comparison.\n", torch.path);
  for (const Results* r : {&torch, &torch_default, &libtorch})
    if (!r->path.empty() && r->get("threads") != threads)
      fmt::print("WARNING: '{}' ran at {} threads, reel at {}: not a like-for-like comparison.\n",
                 r->path, r->get("threads"), threads);
  fmt::print("Shape: (N, Cin, Cout, L, K, stride, padding, dilation, groups); \"causal p\": p "
             "zeros on the left only (PyTorch: F.pad, then the convolution). fwd+bwd: x, weight "
             "and bias require grad.\n\n");

  const bool with_libtorch = !libtorch.path.empty();
  fmt::print("| case | shape | pass | reel ms | reel GFLOP/s | % FMA peak | reel GB/s | % copy "
             "(copy GB/s at the working set) | PyTorch ms (warm malloc) | ratio reel / PyTorch "
             "| PyTorch ms (default malloc; page faults per call){} |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|{}\n",
             with_libtorch ? " | LibTorch ms | ratio reel / LibTorch" : "",
             with_libtorch ? "---:|---:|" : "");

  RatioSummary vs_torch, vs_libtorch;
  std::map<std::int64_t, double> copy_at;  // working-set bytes -> copy GB/s, measured once each
  for (const reel_bench::Conv1dCase& c : cases) {
    const auto [fwd, fwdbwd] = time_case(c, config);

    const struct { const char* pass; const char* suffix; double ns; double flops; bool backward; } rows[] = {
        {"fwd", "fwd", fwd, c.forward_flops(), false},
        {"fwd+bwd", "fwdbwd", fwdbwd, 3 * c.forward_flops(), true}};
    for (const auto& r : rows) {
      const std::string key = fmt::format("{}_{}", c.key, r.suffix);
      const double gflops = r.flops / r.ns;
      std::string bandwidth = "— | —";
      if (c.depthwise()) {
        const PassBytes bytes = pass_bytes(c, r.backward);
        auto [it, fresh] = copy_at.try_emplace(bytes.working_set, 0.0);
        if (fresh)
          it->second = reel_bench::measure_copy("kernel", bytes.working_set / 2, threads, quick).gbps;
        const double gbps = bytes.moved / r.ns;
        bandwidth = fmt::format("{:.1f} | {:.0f}% ({:.1f} GB/s at {})", gbps, 100 * gbps / it->second,
                                it->second, mebibytes(bytes.working_set));
      }
      std::string torch_cols = "n/a | n/a";
      if (torch.has(key)) {
        const double t = torch.get(key);
        torch_cols = fmt::format("{:.3f} | {:.2f}", t / 1e6, r.ns / t);
        vs_torch.add(r.ns / t);
      }
      // The untuned user's figure, with the page faults per call that explain it.
      std::string default_col = "n/a";
      if (torch_default.has(key)) {
        default_col = fmt::format("{:.3f}", torch_default.get(key) / 1e6);
        if (torch_default.has(key + "_faults"))
          default_col += fmt::format(" ({:.0f} faults)", torch_default.get(key + "_faults"));
      }
      std::string libtorch_cols;
      if (with_libtorch) {
        libtorch_cols = " | n/a | n/a";
        if (libtorch.has(key)) {
          const double t = libtorch.get(key);
          libtorch_cols = fmt::format(" | {:.3f} | {:.2f}", t / 1e6, r.ns / t);
          vs_libtorch.add(r.ns / t);
        }
      }
      fmt::print("| {} | {} | {} | {:.3f} | {:.1f} | {:.0f}% | {} | {} | {}{} |\n", c.label,
                 reel_bench::shape_of(c), r.pass, r.ns / 1e6, gflops,
                 100 * gflops / machine.fma_gflops(threads), bandwidth, torch_cols, default_col,
                 libtorch_cols);
    }
  }
  fmt::print("\n{}\n", vs_torch.format("reel / python3-torch (warm malloc)"));
  if (with_libtorch) fmt::print("{}\n", vs_libtorch.format("reel / LibTorch C++"));

  // Thread scaling on the dense shapes (issue 10: N threads >= 1.8x one thread at N = 2): each
  // case timed at 1 thread, then at N, back to back.
  if (scaling && threads > 1) {
    fmt::print("\nThread scaling, dense shapes: median ms per call at 1 thread and at {} threads, "
               "and the speedup.\n\n| case | pass | 1 thread ms | {} threads ms | speedup |\n"
               "|---|---|---:|---:|---:|\n", threads, threads);
    for (const reel_bench::Conv1dCase& c : cases) {
      if (std::strncmp(c.key, "dense", 5) != 0) continue;
      reel::set_num_threads(1);
      const auto [fwd1, fwdbwd1] = time_case(c, config);
      reel::set_num_threads(threads);
      const auto [fwdn, fwdbwdn] = time_case(c, config);
      fmt::print("| {} | fwd | {:.3f} | {:.3f} | {:.2f} |\n", c.label, fwd1 / 1e6, fwdn / 1e6, fwd1 / fwdn);
      fmt::print("| {} | fwd+bwd | {:.3f} | {:.3f} | {:.2f} |\n", c.label, fwdbwd1 / 1e6,
                 fwdbwdn / 1e6, fwdbwd1 / fwdbwdn);
    }
  }
  return 0;
}
