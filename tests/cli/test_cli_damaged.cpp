// Files that break the HDF5 library itself: it crashes, or loops forever, inside its own
// decoders. Readers run it in a watched child process; every case here must end with one
// message and exit 2, within a bound (`timeout` turns a hang into status 124, a failure).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/cli_support.hpp"
#include "tests/support/trace_fixtures.hpp"

namespace fs = std::filesystem;
using phaseless::test::cli;
using phaseless::test::hostile;
using phaseless::test::sh;
using phaseless::test::src;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::string looping_message(const fs::path& f) {
  return "phaseless inspect: error: trace '" + f.string() +
         "': the HDF5 library stopped making progress (it kept the CPU busy without reading anything) while "
         "reading it: the file is damaged or not a trace; nothing was written\n";
}

}  // namespace

TEST_CASE("inspect on a file that crashes the HDF5 library: one message and exit 2, never a core dump") {
  // Found by the trace fuzzer: a damaged global heap makes libhdf5 1.10 itself segfault
  // while it decodes a variable-length string.
  const auto r = sh(cli() + " inspect " + src("tests/cli/data/hdf5_segfault.trace"));
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer catches the fault in the child and exits 1 itself: the parent still
  // lives to report it, and nothing is killed by a signal.
  CHECK(r.status != 0);
  CHECK(r.status < 128);
#else
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless inspect: error: trace '" + src("tests/cli/data/hdf5_segfault.trace") +
                     "': the HDF5 library crashed (signal 11, Segmentation fault) while reading it: the file is "
                     "damaged or not a trace; nothing was written\n");
#endif
}

TEST_CASE("inspect on a file that makes the HDF5 library loop forever: exit 2 once it stalls") {
  // A global heap object with index 0 and size 0: libhdf5 1.10's walk over the heap
  // advances by 0 bytes for ever, on the first variable-length string it decodes (the
  // summary reads the model text). Without the watch this never returned.
  const fs::path f = hostile("looping_heap");
  const auto r = sh(cli() + " inspect --stall-timeout 1 " + f.string(), 120);
  CHECK(r.status == 2);
  CHECK(r.out == looping_message(f));

  SUBCASE("--csv --out: the same, and no CSV is left behind") {
    const fs::path csv = f.parent_path() / "looping.csv";
    fs::remove(csv);
    const auto c = sh(cli() + " inspect --stall-timeout 1 " + f.string() + " --csv /provenance/model_text --out " +
                          csv.string(),
                      120);
    CHECK(c.status == 2);
    CHECK(c.out == looping_message(f));
    CHECK_FALSE(fs::exists(csv));
  }
  SUBCASE("numeric datasets never reach the damaged heap and still export") {
    const auto c = sh(cli() + " inspect --stall-timeout 1 " + f.string() + " --csv /metrics/samples", 120);
    CHECK(c.status == 0);
    CHECK(c.out.rfind("samples\n", 0) == 0);
  }
}

TEST_CASE("run --out on a file that makes the HDF5 library loop: refused, the file untouched, no hang") {
  // Whether --out holds a trace (which a run may replace) is asked in a watched child
  // too; the default stall timeout (10 s) bounds it.
  const fs::path f = hostile("looping_heap");
  const std::string before = slurp(f);
  const auto r = sh(cli() + " run " + src("tests/models/good/minimal.textproto") + " -q --out " + f.string(), 120);
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless run: error: cannot write trace '" + f.string() +
                     "': the file exists and is not a phaseless trace; refusing to replace it (remove it, choose "
                     "another path, or pass --force)\n");
  CHECK(slurp(f) == before);
}

TEST_CASE("inspect --stall-timeout: outside 0.1..86400 seconds is a flag error") {
  for (const char* bad : {"0", "-1", "1e9", "nan"}) {
    CAPTURE(bad);
    const auto r = sh(cli() + " inspect --stall-timeout " + bad + " " + phaseless::test::minimal_trace().string());
    CHECK(r.status == 2);
    CHECK(r.out.find("phaseless inspect: error: --stall-timeout ") == 0);
    CHECK(r.out.find(": allowed: 0.1 to 86400 seconds\n") != std::string::npos);
  }
}

TEST_CASE("export --sonata and HDF5 data files that make the library loop: exit 2 naming the file, no hang") {
  // Both read in-process after a probe in a watched child (default stall timeout 10 s).
  const fs::path f = hostile("looping_heap");
  const std::string stalled =
      ": the HDF5 library stopped making progress (it kept the CPU busy without reading anything) while reading "
      "it: the file is damaged\n";
  SUBCASE("export --sonata from the trace") {
    const fs::path dir = f.parent_path() / "looping_sonata";
    const auto r = sh(cli() + " export --sonata " + f.string() + " " + dir.string(), 120);
    CHECK(r.status == 2);
    CHECK(r.out == "phaseless export: error: cannot export trace '" + f.string() + "'" + stalled);
    CHECK_FALSE(fs::exists(dir));
  }
  SUBCASE("the same file as a model's hdf5 data source") {
    const auto r = sh(cli() + " validate " + src("tests/models/good/minimal.textproto") +
                          " --set data.source=hdf5 --set 'data.hdf5={file: \"" + f.string() +
                          "\" images: \"metrics/samples\" labels: \"metrics/samples\"}'",
                      120);
    CHECK(r.status == 2);
    CHECK(r.out.find("data.hdf5.images: " + f.string() + " dataset 'metrics/samples'" + stalled) !=
          std::string::npos);
  }
}
