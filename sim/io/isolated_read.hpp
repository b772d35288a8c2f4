#pragma once
// Reading files that may be damaged, in a child process watched by the parent.
//
// libhdf5 trusts on-disk sizes: a crafted or damaged trace can crash it (segfault,
// overlapping copies) or make it loop forever (Debian's HDF5 1.10 spins decoding a global
// heap whose object has index 0 and size 0; any variable-length string reaches it). No
// check of ours can precede either, so readers that face user files run the library in a
// child: a crash becomes a signal, and a loop becomes a child that keeps the CPU busy
// without reading or writing anything, which the parent ends.
#include <functional>
#include <string>

namespace phaseless::io {

// Seconds of CPU-busy time without a single read or write after which a reading child
// counts as stuck. Reading a real trace makes read() calls all the time, and formatting
// output makes write() calls; a child that waits on the disk or on a pipe uses no CPU and
// is left alone.
inline constexpr double default_stall_seconds = 10.0;

struct isolated_outcome {
  enum kind { exited, crashed, stalled, not_isolated } how = not_isolated;
  int code = 0;     // exit status (exited) or signal number (crashed)
  std::string what() const;   // "crashed (signal 11, Segmentation fault)", "stopped making progress ..."
};

// Runs `body` in a forked child and returns how the child ended; the child exits with the
// value body returns (an exception that escapes body exits 1). When fork is impossible,
// returns not_isolated without running body, and the caller reads in-process.
// The caller flushes its own buffered output first; the child flushes stdout and stderr.
isolated_outcome run_isolated(const std::function<int()>& body, double stall_seconds = default_stall_seconds);

// Waits for child `pid` (its own fork); SIGKILLs it when it stalls as described above.
isolated_outcome watch_child(int pid, double stall_seconds);

// Opens `file` and reads every variable-length string in it (attributes and datasets),
// the values that reach the HDF5 decoders which crash or loop on damage. Returns 0 when
// all were read, 2 when the file is not HDF5 or a read failed cleanly. Run it through
// run_isolated: on a damaged file it is the call that crashes or never returns.
int probe_variable_length(const std::string& file);

// Runs probe_variable_length in a watched child and throws core::user_error
// "<what>: the HDF5 library crashed (...) [or: stopped making progress (...)] while reading it:
// the file is damaged" when the library crashed or stalled there. Every reader
// of a user's HDF5 file calls it before reading in-process (where a loop would hang and a
// crash would kill the caller); clean read errors are left to the reader's own messages.
void require_decodable(const std::string& file, const std::string& what,
                       double stall_seconds = default_stall_seconds);

}  // namespace phaseless::io
