// Output-path safety: what may be replaced, exclusive writers, temporary names.
#include "sim/io/output_path.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include "sim/core/errors.hpp"

namespace phaseless::io {

namespace fs = std::filesystem;

namespace {

std::string quoted(const fs::path& p) { return std::string("'").append(p.string()).append("'"); }

fs::path beside(const fs::path& target, const std::string& suffix) {
  std::string name(1, '.');
  name.append(target.filename().string()).append(suffix);
  return target.parent_path() / name;
}

}  // namespace

fs::path partial_path(const fs::path& target) { return beside(target, ".partial"); }

void check_replaceable(const fs::path& target, const std::string& kind, const std::vector<named_path>& inputs,
                       bool force, bool (*ours)(const fs::path&)) {
  const auto refuse = [&](const std::string& why) {
    throw core::user_error("cannot write " + kind + " " + quoted(target) + ": " + why);
  };
  std::error_code ec;
  const auto st = fs::status(target, ec);
  if (!fs::exists(st)) return;
  for (const auto& in : inputs) {
    std::error_code e2;
    if (!in.path.empty() && fs::equivalent(target, in.path, e2))
      refuse("it is the run's " + in.role + " " + quoted(in.path) +
             "; an input is never replaced, not even with --force");
  }
  if (fs::is_directory(st)) refuse("it is a folder");
  if (!fs::is_regular_file(st))
    refuse("it is not a regular file (a device, FIFO or socket); such a path is never replaced, not even with --force");
  if (!force && !ours(target))
    refuse("the file exists and is not a phaseless " + kind +
           "; refusing to replace it (remove it, choose another path, or pass --force)");
}

output_lock::output_lock(const fs::path& target, const std::string& kind) : lock_(beside(target, ".lock")) {
  // After locking, the lock file must still be the one at the path: a holder removes
  // it before unlocking, and a lock taken on a removed file excludes nobody.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(lock_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw core::user_error("cannot write " + kind + " " + quoted(target) + ": cannot create its lock file " +
                             quoted(lock_) + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        throw core::user_error("cannot write " + kind + " " + quoted(target) +
                               ": another phaseless process is writing it (lock file " + quoted(lock_) +
                               "); wait for it to finish or choose another path");
      throw core::user_error("cannot write " + kind + " " + quoted(target) + ": cannot lock " + quoted(lock_) + ": " +
                             std::strerror(err));
    }
    struct stat held{}, now{};
    if (::fstat(fd_, &held) == 0 && ::stat(lock_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev)
      return;
    ::close(fd_);
    fd_ = -1;
  }
  throw core::user_error("cannot write " + kind + " " + quoted(target) + ": its lock file " + quoted(lock_) +
                         " keeps changing");
}

output_lock::output_lock(output_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)), lock_(std::move(o.lock_)) {}

output_lock& output_lock::operator=(output_lock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = std::exchange(o.fd_, -1);
    lock_ = std::move(o.lock_);
  }
  return *this;
}

void output_lock::release() noexcept {
  if (fd_ < 0) return;
  ::unlink(lock_.c_str());
  ::close(fd_);
  fd_ = -1;
}

void write_text_output(const fs::path& target, const std::string& kind, const std::string& text) {
  output_lock lock(target, kind);
  const fs::path part = partial_path(target);
  const auto fail = [&](const std::string& what) {
    const int err = errno;
    std::error_code ignored;
    fs::remove(part, ignored);
    throw core::io_error("cannot write " + kind + " " + quoted(target) + ": " + what + ": " + std::strerror(err));
  };
  FILE* f = std::fopen(part.c_str(), "wbe");
  if (f == nullptr) fail("cannot create " + quoted(part));
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  if (std::fclose(f) != 0 || !wrote) fail("writing " + quoted(part) + " failed");
  if (std::rename(part.c_str(), target.c_str()) != 0) fail("cannot rename " + quoted(part) + " to it");
}

}  // namespace phaseless::io
