#pragma once
// Output files (traces, compare reports) never destroy a user's file: they are written
// beside the target under a temporary name and renamed into place, an existing file
// is replaced only when it is an output of the same kind (or with --force), an input of
// the run never, and two runs writing the same path exclude each other.
#include <filesystem>
#include <string>
#include <vector>

namespace phaseless::io {

// A file the run reads, e.g. {"model file", "models/x.textproto"}.
struct named_path {
  std::string role;
  std::filesystem::path path;
};

// Throws core::user_error "cannot write KIND 'TARGET': REASON" unless `target` may be
// replaced: absent, or a regular file that is not one of `inputs` and either satisfies
// `ours` (a file of the kind we write) or `force` is set. Never replaces a folder, a
// device, a FIFO or a socket.
void check_replaceable(const std::filesystem::path& target, const std::string& kind,
                       const std::vector<named_path>& inputs, bool force,
                       bool (*ours)(const std::filesystem::path&));

// An exclusive lock on TARGET for this process, held through a lock file
// ".NAME.lock" beside it (flock: released by the kernel if the process dies).
// Throws core::user_error naming the target when another process holds it.
class output_lock {
 public:
  output_lock() = default;
  output_lock(const std::filesystem::path& target, const std::string& kind);
  output_lock(output_lock&& o) noexcept;
  output_lock& operator=(output_lock&& o) noexcept;
  output_lock(const output_lock&) = delete;
  output_lock& operator=(const output_lock&) = delete;
  ~output_lock() { release(); }
  void release() noexcept;   // removes the lock file, then unlocks

 private:
  int fd_ = -1;
  std::filesystem::path lock_;
};

// ".NAME.partial" beside `target`: where an output is written before it is renamed
// into place (the same folder, so the rename is atomic).
std::filesystem::path partial_path(const std::filesystem::path& target);

// Writes `text` to `target` through partial_path + rename, under output_lock, after
// check_replaceable. Throws core::io_error naming the file when a write fails.
void write_text_output(const std::filesystem::path& target, const std::string& kind, const std::string& text);

}  // namespace phaseless::io
