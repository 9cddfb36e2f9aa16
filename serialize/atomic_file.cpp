// Atomic file writes (serialize/atomic_file.hpp): temp file, fsync, rename, fsync the directory.
#include "serialize/atomic_file.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/error.hpp"

namespace reel::serialize {
namespace {

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::optional<std::uint64_t> read_fault_env() {
  const char* v = std::getenv("REEL_FAULT_WRITE_ABORT_AFTER_BYTES");
  if (!v) return std::nullopt;
  std::string s(v);
  bool digits = !s.empty() && s.size() <= 18 &&
                s.find_first_not_of("0123456789") == std::string::npos;
  check(digits,
        "REEL_FAULT_WRITE_ABORT_AFTER_BYTES must be a non-negative integer (a byte count), got "
        "'{}'",
        s);
  return std::stoull(s);
}

// Removes `<base>.tmp.<pid>` files in `dir` whose writer process no longer exists.
void remove_stale_temps(const std::string& dir, const std::string& base, pid_t self) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;  // best effort: the save itself succeeded
  std::string prefix = base + ".tmp.";
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string pid_text = name.substr(prefix.size());
    if (pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos)
      continue;
    pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == self) continue;
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      ::unlink((dir + "/" + name).c_str());
    }
  }
  ::closedir(d);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string op)
    : path_(std::move(path)), op_(std::move(op)) {
  check(!path_.empty(), "{}: the path is empty", op_);
  abort_after_ = read_fault_env();
  temp_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  check(fd_ >= 0, "{}: cannot create the temporary file '{}' for '{}': {}", op_, temp_, path_,
        std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t n) {
  check(fd_ >= 0 && !committed_, "{}: write to '{}' after commit", op_, path_);
  const char* p = static_cast<const char*>(data);
  bool die = false;
  if (abort_after_) {
    // Write only up to the fault point, then stop the process as a kill -9 would: no
    // destructors, no cleanup, the temp file left as it is.
    std::uint64_t room = *abort_after_ - written_;
    if (n >= room) {
      n = static_cast<std::size_t>(room);
      die = true;
    }
  }
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    check(w > 0, "{}: writing '{}' failed after {} bytes: {}", op_, temp_, written_,
          w < 0 ? std::strerror(errno) : "no progress");
    p += w;
    n -= static_cast<std::size_t>(w);
    written_ += static_cast<std::uint64_t>(w);
  }
  if (die) ::_exit(kFaultExitStatus);
}

void AtomicFile::commit() {
  check(fd_ >= 0 && !committed_, "{}: '{}' committed twice", op_, path_);
  check(::fsync(fd_) == 0, "{}: fsync of '{}' failed: {}", op_, temp_, std::strerror(errno));
  int rc = ::close(fd_);
  fd_ = -1;
  check(rc == 0, "{}: closing '{}' failed: {}", op_, temp_, std::strerror(errno));
  check(::rename(temp_.c_str(), path_.c_str()) == 0, "{}: renaming '{}' to '{}' failed: {}", op_,
        temp_, path_, std::strerror(errno));
  committed_ = true;
  // The rename is in the directory: fsync it so the new name survives a power loss.
  std::string dir = directory_of(path_);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  check(dfd >= 0, "{}: cannot open the directory '{}' to fsync it: {}", op_, dir,
        std::strerror(errno));
  rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  check(rc == 0, "{}: fsync of the directory '{}' failed: {}", op_, dir, std::strerror(err));
  remove_stale_temps(dir, base_of(path_), ::getpid());
}

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& op) {
  AtomicFile out(path, op);
  out.write(bytes);
  out.commit();
}

}  // namespace reel::serialize
