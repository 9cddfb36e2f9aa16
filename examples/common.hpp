// Helpers shared by the example programs (header-only: examples/CMakeLists.txt builds one
// executable per examples/*.cpp, so shared code lives in headers).
//
//   examples::ProgressBar  a progress line per epoch: batches done/total, loss, accuracy,
//                          samples/s, ETA; redrawn in place on a terminal, one plain line per
//                          epoch when stdout is not a terminal (CI logs, pipes)
//   examples::StepTimer    how long the training loop waits for data, as % of step time
//   examples::MetricsCsv   one row of named numbers per epoch, written as it goes
//   examples::plot_metrics a loss/accuracy plot of that CSV, rendered by gnuplot (SVG)
//   examples::parse_device / device_available
//                          --device cpu|cuda as a reel::Device, and a clear message (not a
//                          crash) when CUDA is asked for where there is none
//   examples::check_loss_falls
//                          --check-loss-falls (the smoke tests): the held-out loss after
//                          training must be below the one before
//
// They use only the standard library, fmt, POSIX (isatty; std::system runs gnuplot) and, for
// the device and the loss check, reel itself, so a user can copy them with the example.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <reel/reel.hpp>

namespace examples {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// "1:05" / "12:03:09": an ETA or elapsed time.
inline std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02d}:{:02d}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{}:{:02d}", t / 60, t % 60);
}

inline bool stdout_is_terminal() { return isatty(fileno(stdout)) == 1; }

// The progress of one epoch. update() after each batch with the running mean loss and
// accuracy (accuracy < 0: not shown) and the samples seen so far this epoch; stop() when the
// epoch's training ends, finish() once at the end prints the final line (and, off a terminal,
// the only one).
//
//   epoch 2/5 [##########..........] 234/468  loss 0.3120  acc 88.71%  6512 samples/s  ETA 0:04
class ProgressBar {
 public:
  ProgressBar(int epoch, int epochs, std::int64_t total_batches,
              std::optional<bool> interactive = std::nullopt)
      : epoch_(epoch), epochs_(epochs), total_(std::max<std::int64_t>(total_batches, 1)),
        interactive_(interactive.value_or(stdout_is_terminal())), start_(Clock::now()),
        last_draw_(start_) {}

  void update(std::int64_t batches_done, double loss, double accuracy, std::int64_t samples) {
    done_ = batches_done;
    loss_ = loss;
    accuracy_ = accuracy;
    samples_ = samples;
    if (!interactive_) return;
    // Redraw at most 10 times a second: printing is not free, and the eye can't follow more.
    auto now = Clock::now();
    if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(false);
  }

  // Ends the epoch's line; `extra` is appended (test accuracy, say).
  void finish(const std::string& extra = "") {
    extra_ = extra;
    draw(true);
  }

  // Stops the clock (the epoch's training is over; evaluation that follows is not counted in
  // its time and samples/s). finish() after it prints the stopped figures.
  void stop() { stopped_ = Clock::now(); }
  double elapsed() const {
    return std::chrono::duration<double>(stopped_.value_or(Clock::now()) - start_).count();
  }
  double samples_per_second() const {
    double t = elapsed();
    return t > 0 ? static_cast<double>(samples_) / t : 0.0;
  }

  // The line as it is printed (without the carriage return); public for tests and logs.
  std::string line(bool final) const {
    double t = elapsed();
    std::string s = fmt::format("epoch {}/{} ", epoch_, epochs_);
    if (interactive_) {
      constexpr int width = 20;
      auto filled = static_cast<int>(width * std::min(done_, total_) / total_);
      s += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    }
    s += fmt::format("{}/{}  loss {:.4f}", done_, total_, loss_);
    if (accuracy_ >= 0) s += fmt::format("  acc {:.2f}%", 100.0 * accuracy_);
    s += fmt::format("  {:.0f} samples/s", samples_per_second());
    if (final) {
      s += fmt::format("  {}", format_duration(t));
    } else {
      double eta = done_ > 0 ? t / static_cast<double>(done_) * static_cast<double>(total_ - done_)
                             : -1.0;
      s += fmt::format("  ETA {}", format_duration(eta));
    }
    if (!extra_.empty()) s += "  " + extra_;
    return s;
  }

 private:
  void draw(bool final) {
    // \r and the erase-to-end-of-line escape rewrite the line in place on a terminal.
    if (interactive_) fmt::print("\r{}\x1b[K{}", line(final), final ? "\n" : "");
    else if (final) fmt::print("{}\n", line(true));
    std::fflush(stdout);
  }

  int epoch_, epochs_;
  std::int64_t total_, done_ = 0, samples_ = 0;
  double loss_ = 0, accuracy_ = -1;
  bool interactive_;
  Clock::time_point start_, last_draw_;
  std::optional<Clock::time_point> stopped_;
  std::string extra_;
};

// Measures the time a training loop waits for its next batch, as a share of the step time.
// Call begin_step() first thing in the loop body (the wait is the time since the previous
// end_step(), or since start() for the first batch) and end_step() last:
//
//   timer.start();
//   for (data::Example& batch : loader) { timer.begin_step(); ...train...; timer.end_step(); }
//   fmt::print("{}\n", timer.report());
class StepTimer {
 public:
  void start() {
    mark_ = Clock::now();
    running_ = true;
  }
  void begin_step() {
    auto now = Clock::now();
    if (running_) wait_ += std::chrono::duration<double>(now - mark_).count();
    mark_ = now;
    running_ = true;
  }
  void end_step() {
    auto now = Clock::now();
    compute_ += std::chrono::duration<double>(now - mark_).count();
    mark_ = now;
    ++steps_;
  }
  // Adds another timer's totals (an epoch's into the run's).
  void add(const StepTimer& other) {
    wait_ += other.wait_;
    compute_ += other.compute_;
    steps_ += other.steps_;
  }
  double wait_seconds() const { return wait_; }
  double compute_seconds() const { return compute_; }
  std::int64_t steps() const { return steps_; }
  // Waiting for data as a percentage of the whole step time (wait + compute).
  double wait_percent() const {
    double total = wait_ + compute_;
    return total > 0 ? 100.0 * wait_ / total : 0.0;
  }
  std::string report() const {
    return fmt::format("waiting for data: {:.2f}% of step time ({:.2f} s of {:.2f} s, {} steps)",
                       wait_percent(), wait_, wait_ + compute_, steps_);
  }

 private:
  Clock::time_point mark_{};
  bool running_ = false;
  double wait_ = 0, compute_ = 0;
  std::int64_t steps_ = 0;
};

// A CSV of metrics, one row per call, flushed at once so a crashed or interrupted run keeps
// what it had. The first column is usually the epoch.
class MetricsCsv {
 public:
  // append: keep the rows of an existing file (a resumed run), whose header must be `columns`.
  MetricsCsv(const std::filesystem::path& path, std::vector<std::string> columns,
             bool append = false)
      : path_(path), columns_(std::move(columns)) {
    std::string header;
    for (std::size_t i = 0; i < columns_.size(); ++i) header += (i ? "," : "") + columns_[i];
    if (append && std::filesystem::exists(path)) {
      std::ifstream in(path);
      std::string first;
      std::getline(in, first);
      if (first != header)
        throw std::runtime_error(fmt::format("cannot append to {}: its header is '{}', not '{}'",
                                             path.string(), first, header));
      out_.open(path, std::ios::app);
      if (!out_) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
      return;
    }
    out_.open(path);
    if (!out_) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
    out_ << header << '\n' << std::flush;
  }
  void row(const std::vector<double>& values) {
    if (values.size() != columns_.size())
      throw std::invalid_argument(fmt::format("MetricsCsv::row: {} values for {} columns",
                                              values.size(), columns_.size()));
    for (std::size_t i = 0; i < values.size(); ++i) out_ << (i ? "," : "") << fmt::format("{:.10g}", values[i]);
    out_ << '\n' << std::flush;
  }
  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& columns() const { return columns_; }

 private:
  std::filesystem::path path_;
  std::vector<std::string> columns_;
  std::ofstream out_;
};

inline bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

// One panel of the plot: the CSV columns drawn against the first column, on one y axis.
struct PlotPanel {
  std::string title;                 // "loss"
  std::vector<std::string> columns;  // {"train_loss", "test_loss"}
};

// Plots a MetricsCsv file with gnuplot: one panel per PlotPanel, stacked, x = the CSV's first
// column. Writes `<image without extension>.gp` (the script, kept so the plot can be restyled
// and rerun by hand) and renders `image` (SVG). Returns the image path, or nothing when
// gnuplot is missing or fails — the CSV stays, and the caller says so; a plot is never worth
// failing a training run for.
inline std::optional<std::filesystem::path> plot_metrics(const std::filesystem::path& csv,
                                                         const std::filesystem::path& image,
                                                         const std::string& title,
                                                         const std::vector<PlotPanel>& panels) {
  std::ifstream in(csv);
  std::string header;
  if (!in || !std::getline(in, header)) return std::nullopt;
  std::vector<std::string> names;
  for (std::size_t start = 0;;) {
    auto comma = header.find(',', start);
    names.push_back(header.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::int64_t rows = 0;
  for (std::string line; std::getline(in, line);) rows += !line.empty();
  auto column_of = [&](const std::string& name) -> int {
    auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin()) + 1;
  };
  // Gnuplot strings in single quotes: only ' needs escaping (doubled).
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
  };

  // The script sits beside the image and names its files relative to its own folder, so the
  // output folder can be moved and the plot restyled and rerun by hand (cd there; gnuplot X.gp).
  std::filesystem::path script = image;
  script.replace_extension(".gp");
  const std::filesystem::path dir = script.parent_path().empty() ? "." : script.parent_path();
  std::error_code ec;
  const bool csv_beside = std::filesystem::equivalent(
      csv.parent_path().empty() ? "." : csv.parent_path(), dir, ec);
  const std::string csv_ref =
      csv_beside ? csv.filename().string() : std::filesystem::absolute(csv).string();
  {
    std::ofstream gp(script);
    if (!gp) return std::nullopt;
    gp << "# Written by examples/common.hpp (plot_metrics); rerun in this folder: gnuplot "
       << script.filename().string() << "\n";
    // noenhanced: column names such as train_loss are shown as they are, not as subscripts.
    gp << "set terminal svg size 720," << 300 * panels.size()
       << " dynamic noenhanced font 'sans,11' background rgb 'white'\n";
    gp << "set output " << quote(image.filename().string()) << "\n";
    gp << "set datafile separator ','\n";
    gp << "set key outside right top\n";
    gp << "set grid\n";
    if (rows <= 20) gp << "set xtics 1\n";  // whole epochs
    gp << "set multiplot layout " << panels.size() << ",1 title " << quote(title) << "\n";
    for (const PlotPanel& panel : panels) {
      gp << "set title " << quote(panel.title) << "\n";
      gp << "set xlabel " << quote(names.front()) << "\n";
      std::string plot;
      for (const std::string& c : panel.columns) {
        int k = column_of(c);
        if (k < 0) continue;
        plot += fmt::format("{}{} using 1:{} with linespoints lw 2 pt 7 ps 0.6 title {}",
                            plot.empty() ? "plot " : ", ", quote(csv_ref), k, quote(c));
      }
      if (plot.empty()) plot = "plot NaN notitle";
      gp << plot << "\n";
    }
    gp << "unset multiplot\n";
  }
  if (!gnuplot_available()) return std::nullopt;
  // Shell quoting: single quotes, with ' written as '\''.
  auto shell_quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::filesystem::remove(image, ec);  // so a stale image from an earlier run can't pass for new
  // gnuplot's messages (warnings such as "empty x range" for a one-epoch run) go to
  // <script>.log beside it, so they don't interleave with the training output.
  const std::string cmd = "cd " + shell_quote(dir.string()) + " && gnuplot " +
                          shell_quote(script.filename().string()) + " > " +
                          shell_quote(script.filename().string() + ".log") + " 2>&1";
  if (std::system(cmd.c_str()) != 0 || !std::filesystem::exists(image)) return std::nullopt;
  return image;
}

// --- the device -------------------------------------------------------------------------------
//
// The examples train where --device says, as a PyTorch script does with
//   device = torch.device("cuda" if ... else "cpu"); model.to(device); x = x.to(device)
// The model moves once, before its optimizer is made (reel's Module::to moves in place, so an
// optimizer made earlier would see the moved parameters too, but this is the order PyTorch
// documents); each batch moves as it comes out of the loader, which builds batches on the CPU.

// The exit code of a run that could not happen for want of a GPU when the caller asked for a
// skip (--skip-without-gpu): automake's and CTest's convention (SKIP_RETURN_CODE 77), so a
// test on a machine without a GPU is counted as skipped, not as passed or failed.
inline constexpr int kExitSkipped = 77;

// "cpu" -> the CPU, "cuda" -> the first CUDA device. CLI::IsMember has already checked the
// spelling; anything else is a programming error.
inline reel::Device parse_device(const std::string& name) {
  if (name == "cpu") return reel::Device(reel::kCPU);
  if (name == "cuda") return reel::Device(reel::kCUDA, 0);
  throw std::invalid_argument("--device must be cpu or cuda, not '" + name + "'");
}

// Whether `device` can be used here. When it cannot (CUDA asked for, and reel was built without
// its CUDA backend, or no GPU is visible), it says why on stderr and returns false; the caller
// then exits with device_exit_code(skip_without_gpu): 1, an error, or kExitSkipped for tests.
inline bool device_available(const reel::Device& device, std::string_view program,
                             bool skip_without_gpu) {
  if (!device.is_cuda() || reel::cuda::is_available()) return true;
#ifdef REEL_WITH_CUDA
  const char* why = "no CUDA GPU is visible (reel has its CUDA backend, but the driver reports "
                    "no device: check nvidia-smi and CUDA_VISIBLE_DEVICES)";
#else
  const char* why = "this build of reel has no CUDA backend (configure with -DREEL_CUDA=ON, "
                    "on a machine with nvcc)";
#endif
  fmt::print(stderr, "{}: --device cuda: {}{}\n", program, why,
             skip_without_gpu ? "; skipped (--skip-without-gpu)" : "; use --device cpu");
  return false;
}
inline int device_exit_code(bool skip_without_gpu) { return skip_without_gpu ? kExitSkipped : 1; }

// --- the smoke tests' loss check --------------------------------------------------------------

// --check-loss-falls: the example evaluates its held-out loss once before the first training
// step and once after the last (the same data, the same evaluation, no random draws, so the
// training itself is the same with or without the check) and the run fails unless the loss
// fell. Prints one line either way; returns the exit code (0, or 1 when it did not fall).
inline int check_loss_falls(std::string_view program, std::string_view what, double before,
                            double after) {
  const bool falls = std::isfinite(before) && std::isfinite(after) && after < before;
  fmt::print("loss check: {} {:.6f} before training, {:.6f} after: {}\n", what, before, after,
             falls ? "falls" : "does NOT fall");
  std::fflush(stdout);
  if (!falls)
    fmt::print(stderr, "{}: --check-loss-falls: the {} did not fall ({:.6f} -> {:.6f})\n",
               program, what, before, after);
  return falls ? 0 : 1;
}

}  // namespace examples
