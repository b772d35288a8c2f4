#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

#include "sim/core/errors.hpp"
#include "sim/io/isolated_read.hpp"
#include "sim/io/trace_reader.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

namespace {

namespace fs = std::filesystem;

// Writes the CSV to a temporary file beside `out` and renames it into place only when
// complete: a full disk leaves the old file (if any) untouched and no partial one.
std::vector<std::string> export_to_file(const std::string& trace, const std::string& csv, const fs::path& out) {
  std::error_code ec;
  if (fs::is_directory(out, ec)) throw core::user_error("--out: '" + out.string() + "' is a folder; allowed: a file path");
  if (fs::exists(out, ec) && fs::exists(trace, ec) && fs::equivalent(out, trace, ec))
    throw core::user_error("--out: '" + out.string() + "' is the trace being read; allowed: another file");
  const fs::path folder = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, ec))
    throw core::user_error("--out: cannot write '" + out.string() + "': folder '" + folder.string() + "' does not exist");
  const fs::path tmp = folder / std::string(".").append(out.filename().string()).append(".tmp").append(std::to_string(::getpid()));
  std::vector<std::string> skipped;
  try {
    std::ofstream f(tmp);
    if (!f) throw core::user_error("--out: cannot write '" + out.string() + "' (permission denied?)");
    skipped = io::export_csv(trace, csv, f);
    f.close();
    if (!f) throw core::io_error("--out: writing '" + out.string() + "' failed (disk full?); nothing was written");
  } catch (const core::io_error&) {
    fs::remove(tmp, ec);
    throw core::io_error("--out: writing '" + out.string() + "' failed (disk full?); nothing was written");
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, out, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw core::io_error("--out: cannot move the CSV into place at '" + out.string() + "': " + ec.message());
  }
  return skipped;
}

// Damaged files can crash the HDF5 library itself or make it loop forever (see
// sim/io/isolated_read.hpp); no check of ours can precede either. The reading therefore
// runs in a child process the parent watches: whatever the library does, the user gets
// one message and exit 2, never a core dump or a hang.
// Returns -1 in the child (which goes on to read), the exit status in the parent.
int isolate_read(const std::string& trace, double stall_seconds) {
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;   // no child to be had: read in this process
  if (pid == 0) return -1;
  const io::isolated_outcome o = io::watch_child(pid, stall_seconds);
  if (o.how == io::isolated_outcome::exited) return o.code;
  std::cout.flush();
  if (o.how == io::isolated_outcome::crashed && (o.code == SIGINT || o.code == SIGTERM)) return exit_interrupted;
  std::cerr << "phaseless inspect: error: trace '" << trace << "': the HDF5 library " << o.what()
            << " while reading it: the file is damaged or not a trace; nothing was written\n";
  return exit_user;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  po::options_description opts("options");
  std::string trace, csv, out;
  double stall_seconds = io::default_stall_seconds;
  opts.add_options()("trace", po::value(&trace)->required(), "trace file (.h5)")(
      "csv", po::value(&csv),
      "export a dataset or a whole group as CSV, samples column first (e.g. /metrics, "
      "/metrics/test_accuracy, /report/out); a text dataset such as /provenance/model_text prints as text")(
      "out,o", po::value(&out), "write the CSV here instead of standard output (replaced only when complete)")(
      "stall-timeout", po::value(&stall_seconds),
      "end the read with exit 2 when it keeps the CPU busy this many seconds without reading or writing "
      "anything, as a damaged file can make the HDF5 library loop (default 10; 0.1 to 86400)");
  po::variables_map vm;
  if (!parse("inspect", "TRACE [--csv DATASET_OR_GROUP [--out FILE]]", opts, "trace", argc, argv, vm)) return exit_ok;
  if (!(stall_seconds >= 0.1 && stall_seconds <= 86400))
    throw core::user_error("--stall-timeout " + std::to_string(stall_seconds) + ": allowed: 0.1 to 86400 seconds");
  if (const int status = isolate_read(trace, stall_seconds); status >= 0) return status;
  if (csv.empty()) {
    io::print_trace_summary(trace, std::cout);
    return exit_ok;
  }
  std::vector<std::string> skipped;
  if (!out.empty()) {
    skipped = export_to_file(trace, csv, out);
  } else {
    try {
      skipped = io::export_csv(trace, csv, std::cout);
      std::cout.flush();
      if (!std::cout) throw core::io_error("");
    } catch (const core::io_error&) {
      throw core::io_error("writing the CSV of " + csv + " to standard output failed (disk full, or a closed pipe?)");
    }
  }
  for (const auto& s : skipped) std::cerr << "phaseless inspect: note: left out " << s << "\n";
  return exit_ok;
}

}  // namespace phaseless::cli
