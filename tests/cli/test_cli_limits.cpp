// The `phaseless` command at the edges of what it accepts: numeric flags out of range,
// special files given as inputs, models too large for this machine, error lists that
// would flood the terminal. Each ends in one message and exit status 2, never a hang.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "tests/support/cli_support.hpp"

namespace fs = std::filesystem;

namespace {

using phaseless::test::cli;
using phaseless::test::src;
using result = phaseless::test::cli_result;
result sh(const std::string& cmd, int seconds = 60) { return phaseless::test::sh(cmd, seconds); }
fs::path tmp(const std::string& name) { return phaseless::test::scratch("phaseless_cli_limits_", name); }
const std::string minimal = src("tests/models/good/minimal.textproto");

// The minimal model with absolute data paths, and `edit` applied to its text.
fs::path minimal_copy(const std::string& name, const std::string& from = "", const std::string& to = "") {
  std::ifstream in(minimal);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const std::string data = src("tests/models/data");
  for (std::string::size_type p; (p = text.find("\"../data")) != std::string::npos;) text.replace(p + 1, 7, data);
  if (!from.empty()) text.replace(text.find(from), from.size(), to);
  const fs::path f = tmp(name);
  std::ofstream(f) << text;
  return f;
}

}  // namespace

TEST_CASE("--threads: an integer from 1 to 2 x the hardware threads, else exit 2 naming the range") {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const std::string limit = std::to_string(std::min(256u, 2 * hw));
  const std::string allowed = "allowed: an integer from 1 to " + limit + " (2 x the " + std::to_string(hw) +
                              " hardware threads of this machine, at most 256)";
  for (const std::string& bad :
       std::vector<std::string>{"10000", "-1", "0", "4294967296", "2x", "1e3", std::to_string(2 * hw + 1)}) {
    CAPTURE(bad);
    for (const std::string cmd : {"run", "compare"}) {
      const auto r = sh(cli() + " " + cmd + " " + minimal + " -q --threads=" + bad + " --out " + tmp("t.h5").string(), 20);
      CHECK(r.status == 2);
      CHECK(r.out == "phaseless " + cmd + ": error: --threads " + bad + ": " + allowed + "\n");
    }
  }
  CHECK(!fs::exists(tmp("t.h5")));   // refused before anything was written
  const auto ok = sh(cli() + " run " + minimal + " -q --threads " + limit + " --out " + tmp("ok.h5").string());
  CHECK(ok.status == 0);
}

TEST_CASE("a FIFO, a directory or a device as the model or a data file: exit 2 at once, never a hang") {
  const fs::path fifo = tmp("model.fifo");
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const char* cmd : {" validate ", " run "}) {
    CAPTURE(cmd);
    auto r = sh(cli() + cmd + fifo.string() + " -q", 20);
    if (std::string(cmd) == " validate ") r = sh(cli() + cmd + fifo.string(), 20);
    CHECK(r.status == 2);
    CHECK(r.out.find(fifo.string() + ": cannot read model file: it is a FIFO (named pipe); allowed: a regular file") !=
          std::string::npos);
  }
  auto r = sh(cli() + " validate /dev/zero", 20);
  CHECK(r.status == 2);
  CHECK(r.out.find("/dev/zero: cannot read model file: it is a character device; allowed: a regular file") !=
        std::string::npos);
  // The training images: a FIFO, then a character device that never ends.
  for (const std::string& special : std::vector<std::string>{fifo.string(), "/dev/zero"}) {
    CAPTURE(special);
    const std::string images = src("tests/models/data") + "/train-images-idx3-ubyte";
    const auto model = minimal_copy("fifo_data.textproto", images, special);
    r = sh(cli() + " validate " + model.string(), 20);
    CHECK(r.status == 2);
    CHECK(r.out.find("data.idx.train_images: " + special + ": is a") != std::string::npos);
    CHECK(r.out.find("; allowed: a regular IDX file, plain or .gz") != std::string::npos);
  }
}
