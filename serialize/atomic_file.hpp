#pragma once
// Atomic file writes: a reader of `path` sees either the old file or the complete new one,
// never a torn mix, even when the writer is killed (or the machine loses power) mid-write.
//
//   serialize::AtomicFile out("model.safetensors", "save_file");
//   out.write(header.data(), header.size());
//   ...
//   out.commit();   // without it (an exception), the destructor removes the temp file
//
// How: the bytes go to `<path>.tmp.<pid>` in the same directory (so the rename stays on one
// file system), which is fsync'ed, renamed over `path` (rename(2) is atomic), and then the
// directory is fsync'ed so the rename itself is durable. commit() also removes temp files of
// `path` left behind by writers that died (`<path>.tmp.<pid>` whose process no longer exists);
// a live writer's temp file is left alone.
//
// Fault injection, for the tests that prove the above: when the environment variable
// REEL_FAULT_WRITE_ABORT_AFTER_BYTES=N is set, the process calls _exit(77) as soon as it has
// written exactly N bytes of the temp file (at the first write when N = 0). It is read when an
// AtomicFile is made; a value that is not a non-negative integer raises reel::Error. When the
// file is shorter than N bytes the save completes normally.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reel::serialize {

// The exit status of a process stopped by REEL_FAULT_WRITE_ABORT_AFTER_BYTES.
inline constexpr int kFaultExitStatus = 77;

class AtomicFile {
 public:
  // Creates (or truncates) the temp file. `op` names the operation in errors ("save_file").
  AtomicFile(std::string path, std::string op);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // fsync, close, rename over the path, fsync the directory. Once only.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }
  std::uint64_t bytes_written() const { return written_; }

 private:
  std::string path_, temp_, op_;
  int fd_ = -1;
  bool committed_ = false;
  std::uint64_t written_ = 0;
  std::optional<std::uint64_t> abort_after_;
};

// The whole file at once.
void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& op);

}  // namespace reel::serialize
