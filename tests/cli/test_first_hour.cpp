// What a new user meets in the first hour: --version, the record defaults of a short
// run, `inspect --csv` (keyed tables, groups, text, a full disk), and the plotting script.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sim/io/trace_reader.hpp"
#include "tests/support/cli_support.hpp"
#include "tests/support/data_files.hpp"

namespace fs = std::filesystem;

namespace {

using phaseless::test::cli;
using phaseless::test::src;
using result = phaseless::test::cli_result;
using phaseless::test::sh;
fs::path tmp(const std::string& name) { return phaseless::test::scratch("phaseless_first_hour_", name); }
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A short run of the small model (3000 samples would take a few seconds; 600 suffice).
const fs::path& short_trace() {
  static const fs::path f = [] {
    const auto t = tmp("short.h5");
    const auto r = sh(cli() + " run " + src("tests/models/good/fmnist_small.textproto") + " -q --out " +
                      t.string() + " --set schedule.max_samples=600 --set record.sample_every=0");
    REQUIRE_MESSAGE(r.status == 0, r.out);
    return t;
  }();
  return f;
}

}  // namespace

TEST_CASE("phaseless --version: the version and the commit, which the trace records too") {
  const auto r = sh(cli() + " --version");
  CHECK(r.status == 0);
  REQUIRE(r.out.rfind("phaseless 0.", 0) == 0);
  const auto open = r.out.find("(commit ");
  REQUIRE(open != std::string::npos);
  const std::string commit = r.out.substr(open + 8, r.out.find(')') - open - 8);
  CHECK(!commit.empty());
  std::ostringstream summary;
  phaseless::io::print_trace_summary(short_trace(), summary);
  CHECK(has(summary.str(), "commit " + commit));
}

TEST_CASE("record defaults: a short run reports activity frames and keys them by samples") {
  // 600 samples with sample_every 0: total / 20 = every 30 samples -> 20 frames.
  const auto samples = phaseless::io::read_dataset(short_trace(), "/report/h/mapping/samples");
  CHECK(samples.size() == 20);
  const auto r = sh(cli() + " inspect " + short_trace().string() + " --csv /report/h");
  CHECK(r.status == 0);
  CHECK(r.out.rfind("samples,data_0,", 0) == 0);
  CHECK(has(r.out, "\n30,"));
}

TEST_CASE("inspect --csv: samples first, a whole group, the model text") {
  const auto t = short_trace().string();
  const auto acc = sh(cli() + " inspect " + t + " --csv /metrics/test_accuracy");
  CHECK(acc.status == 0);
  CHECK(acc.out.rfind("samples,test_accuracy\n0,", 0) == 0);
  const auto group = sh(cli() + " inspect " + t + " --csv /metrics");
  CHECK(group.status == 0);
  CHECK(group.out.rfind("samples,", 0) == 0);
  CHECK(has(group.out.substr(0, group.out.find('\n')), "test_loss"));
  const auto text = sh(cli() + " inspect " + t + " --csv /provenance/model_text");
  CHECK(text.status == 0);
  CHECK(has(text.out, "name: \"fmnist_small\""));
  const auto none = sh(cli() + " inspect " + t + " --csv /nothing");
  CHECK(none.status == 2);
  CHECK(has(none.out, "'/nothing'"));
}

TEST_CASE("inspect --csv --out on a full disk: exit 4 naming the file, no partial file, old file kept") {
  // A tiny tmpfs stands for a full disk (the suite runs as root, as CI does).
  const auto dir = tmp("fullcsv");
  fs::create_directories(dir);
  REQUIRE(sh("mount -t tmpfs -o size=16k tmpfs " + dir.string()).status == 0);
  const auto target = dir / "w.csv";
  std::ofstream(target) << "keep me\n";
  const auto r = sh(cli() + " inspect " + short_trace().string() + " --csv /weights/w1/snapshots --out " +
                    target.string());
  CHECK(r.status == 4);
  CHECK(has(r.out, target.string()));
  CHECK(!has(r.out, "internal error"));
  std::ifstream in(target);
  std::string first;
  std::getline(in, first);
  CHECK(first == "keep me");
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  CHECK(files == 1);   // no temporary left behind
  sh("umount " + dir.string());
  // On a disk with room the same export lands whole.
  const auto ok = tmp("w.csv");
  CHECK(sh(cli() + " inspect " + short_trace().string() + " --csv /metrics --out " + ok.string()).status == 0);
  std::ifstream whole(ok);
  std::getline(whole, first);
  CHECK(first.rfind("samples,", 0) == 0);
}

TEST_CASE("the CIFAR-10 model runs end to end on generated batches, event engine equal to the baseline") {
  const auto dir = tmp("cifar-10-batches-bin");
  phaseless::test::data::write_cifar10(dir, 2);
  const auto r = sh(cli() + " compare " + src("models/cifar10_cnn.textproto") + " -q --report " +
                    tmp("cifar.txt").string() + " --set data.cifar10.dir=" + dir.string());
  CHECK(r.status == 0);
  INFO(r.out);
  CHECK(has(r.out, "final test accuracy: event"));
  CHECK(has(r.out, "difference 0.00 points"));
}

TEST_CASE("inspect --csv to a full standard output: exit 4 naming standard output") {
  // (In a subshell: its stderr still reaches us.)
  const auto r = sh("(" + cli() + " inspect " + short_trace().string() + " --csv /weights/w1/snapshots/data > /dev/full)");
  CHECK(r.status == 4);
  CHECK(has(r.out, "standard output"));
  CHECK(!has(r.out, "internal error"));
}

TEST_CASE("progress lines show an ETA") {
  const auto r = sh(cli() + " run " + src("models/first_model.textproto") + " --out " + tmp("eta.h5").string() +
                    " --set schedule.max_samples=2000");
  CHECK(r.status == 0);
  CHECK(has(r.out, "[event] 1000/2000 samples"));
  CHECK(has(r.out, "ETA "));
}
