// The `phaseless` command as a user meets it: exit statuses, messages, traces
// that survive SIGKILL and SIGINT, and bit-identical traces at any thread count.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "sim/io/trace_reader.hpp"
#include "tests/support/cli_support.hpp"

namespace fs = std::filesystem;

namespace {

using phaseless::test::cli;
using phaseless::test::src;
using result = phaseless::test::cli_result;
using phaseless::test::sh;
fs::path tmp(const std::string& name) { return phaseless::test::scratch("phaseless_cli_", name); }
const std::string small = src("tests/models/good/fmnist_small.textproto");

// Starts a long run of the small model writing `trace`, and returns its pid once at
// least two metrics rows have been flushed (or -1 if that never happened in 60 s).
pid_t start_long_run(const fs::path& trace) {
  fs::remove(trace);
  const pid_t pid = fork();
  if (pid == 0) {
    ::execl(PHASELESS_CLI, PHASELESS_CLI, "run", small.c_str(), "-q", "--out", trace.c_str(), "--set",
            "schedule.epochs=50", static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int k = 0; k < 600 && pid > 0; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    try {
      if (phaseless::io::read_dataset(trace, "/metrics/samples").size() >= 2) return pid;
    } catch (...) {
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("every malformed model file: exit status 2 and one message naming the file, never a crash") {
  int n = 0;
  for (const auto& e : fs::directory_iterator(src("tests/models/bad"))) {
    if (e.path().extension() != ".textproto") continue;
    ++n;
    CAPTURE(e.path().filename().string());
    const auto r = sh(cli() + " validate " + e.path().string());
    CHECK(r.status == 2);
    CHECK(r.out.find(e.path().filename().string()) != std::string::npos);
    CHECK(r.out.find("error") != std::string::npos);
    const auto rr = sh(cli() + " run " + e.path().string() + " --out " + tmp("bad.h5").string() + " -q");
    CHECK(rr.status == 2);
  }
  CHECK(n >= 15);
}

TEST_CASE("flag mistakes: one message naming the flag, exit status 2") {
  auto r = sh(cli() + " run " + small + " --threads banana");
  CHECK(r.status == 2);
  CHECK(r.out.find("threads") != std::string::npos);
  r = sh(cli() + " run " + small + " --shards 0");
  CHECK(r.status == 2);
  CHECK(r.out.find("--shards 0: allowed: an integer from 1") != std::string::npos);
  r = sh(cli() + " run " + small + " --frobnicate");
  CHECK(r.status == 2);
  CHECK(r.out.find("frobnicate") != std::string::npos);
  r = sh(cli() + " run " + small + " --set schedule.epoks=3");
  CHECK(r.status == 2);
  CHECK(r.out.find("epoks") != std::string::npos);
  r = sh(cli() + " explode");
  CHECK(r.status == 2);
  r = sh(cli() + " run " + small + " --out /nonexistent-folder/x.h5 -q");
  CHECK(r.status == 2);
  CHECK(r.out.find("/nonexistent-folder") != std::string::npos);
  r = sh(cli() + " inspect " + small);   // not a trace
  CHECK(r.status == 2);
  for (const char* c : {"run", "validate", "compare", "inspect"}) CHECK(sh(cli() + " " + c + " --help").status == 0);
}

TEST_CASE("same model and seed: bit-identical trace at --threads 1 and --threads 2 --shards 2") {
  // --shards: the automatic count would run this small network on one shard at 2 threads.
  const auto a = tmp("t1.h5"), b = tmp("t2.h5");
  REQUIRE(sh(cli() + " run " + small + " -q --threads 1 --out " + a.string()).status == 0);
  const auto r2 = sh(cli() + " run " + small + " -q --threads 2 --shards 2 --out " + b.string());
  REQUIRE(r2.status == 0);
  CHECK(r2.out.find("shards       2") != std::string::npos);
  const auto names = phaseless::io::list_datasets(a);
  CHECK(names == phaseless::io::list_datasets(b));
  int compared = 0;
  for (const auto& n : names) {
    if (n == "/metrics/wall_time") continue;   // wall time is the only field allowed to differ
    if (n.rfind("/provenance/", 0) == 0 && n != "/provenance/sample_order") continue;   // text
    CAPTURE(n);
    const auto x = phaseless::io::read_dataset(a, n), y = phaseless::io::read_dataset(b, n);
    REQUIRE(x.size() == y.size());   // bit patterns, so NaN rows (no loss yet) compare equal too
    CHECK(std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0);
    ++compared;
  }
  CHECK(compared >= 10);
}

TEST_CASE("a run killed with SIGKILL leaves a trace h5dump and h5py read up to the last flush") {
  const auto f = tmp("killed.h5");
  const pid_t pid = start_long_run(f);
  REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st));
  CHECK(sh("h5dump -H " + f.string() + " > /dev/null").status == 0);
  const auto samples = phaseless::io::read_dataset(f, "/metrics/samples");
  CHECK(samples.size() >= 2);
  CHECK(samples[1] == 1000);
  CHECK(sh("/usr/bin/python3 -c \"import h5py,sys; f=h5py.File('" + f.string() +
           "','r'); assert f['metrics/samples'][1]==1000; assert f.attrs['magic']==0x0A7A\"")
            .status == 0);
}

TEST_CASE("SIGINT: the run stops, flushes, closes the trace and exits with 130") {
  const auto f = tmp("interrupted.h5");
  const pid_t pid = start_long_run(f);
  REQUIRE(pid > 0);
  ::kill(pid, SIGINT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 130);
  const auto samples = phaseless::io::read_dataset(f, "/metrics/samples");
  CHECK(samples.size() >= 3);   // a last evaluation row at the point of interruption
  CHECK(sh("h5dump -H " + f.string() + " > /dev/null").status == 0);
}

TEST_CASE("compare: event engine and baseline agree on the small model and inspect exports CSV") {
  const auto rep = tmp("cmp.txt"), tr = tmp("cmp.h5");
  const auto r = sh(cli() + " compare " + small + " -q --report " + rep.string() + " --out " + tr.string());
  REQUIRE(r.status == 0);
  CHECK(r.out.find("cosine") != std::string::npos);
  CHECK(fs::file_size(rep) > 100);
  // Random delays 1..3 reassociate float sums only: every projection's update has
  // cosine 1 to 6+ digits and the final accuracies are equal.
  CHECK(r.out.find("difference 0.00 points") != std::string::npos);
  const auto csv = sh(cli() + " inspect " + tr.string() + " --csv /metrics/test_accuracy");
  CHECK(csv.status == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') >= 7);   // header + 7 evaluations
  const auto sum = sh(cli() + " inspect " + tr.string());
  CHECK(sum.status == 0);
  CHECK(sum.out.find("/weights/w1/snapshots/data") != std::string::npos);
  const auto bad = sh(cli() + " inspect " + tr.string() + " --csv /metrics/nope");
  CHECK(bad.status == 2);
  CHECK(bad.out.find("/metrics/test_accuracy") != std::string::npos);   // lists what exists
}

TEST_CASE("a disk that fills mid-run: exit status 4, one message, and a trace that still reads") {
  // A small tmpfs stands for a full disk (the suite runs as root, as CI does).
  const auto dir = tmp("fulldisk");
  fs::create_directories(dir);
  REQUIRE(sh("mount -t tmpfs -o size=9000k tmpfs " + dir.string()).status == 0);
  const auto f = dir / "t.h5";
  const auto r = sh(cli() + " run " + small + " -q --out " + f.string() +
                    " --set schedule.epochs=40 --set record.snapshot_every=100");
  CHECK(r.status == 4);
  CHECK(r.out.find("left on its disk") != std::string::npos);
  CHECK(r.out.find("Segmentation") == std::string::npos);
  CHECK(sh("h5dump -H " + f.string() + " > /dev/null").status == 0);
  CHECK(phaseless::io::read_dataset(f, "/metrics/samples").size() >= 2);
  sh("umount " + dir.string());
}

TEST_CASE("dyad traces: the report holds s_plus and s_minus as SONATA elements 0 and 1") {
  const auto f = tmp("dyads.h5");
  REQUIRE(sh(cli() + " run " + src("tests/models/good/dp_small.textproto") + " -q --out " + f.string()).status == 0);
  const auto ids = phaseless::io::read_dataset(f, "/report/h/mapping/element_ids");
  REQUIRE(ids.size() == 16 * 4);
  CHECK(ids[0] == 0);
  CHECK(ids[1] == 1);
  CHECK(ids[4] == 0);
  const auto data = phaseless::io::read_dataset(f, "/report/h/data");
  REQUIRE(data.size() == 2 * 16 * 4);   // two frames (500, 1000 samples)
  for (std::size_t n = 0; n < 16; ++n) {   // element 2 is delta = s_plus - s_minus
    const double* v = data.data() + 16 * 4 + n * 4;
    CHECK(v[2] == doctest::Approx(v[0] - v[1]).epsilon(1e-5));
  }
  CHECK(sh("/usr/bin/python3 -c \"import h5py; f=h5py.File('" + f.string() +
           "','r'); assert f['report/h/mapping'].attrs['element_names']=='s_plus,s_minus,delta,s_bar'\"")
            .status == 0);
}

TEST_CASE("learning that diverges: exit status 3, one message, a readable trace ending in a NaN row") {
  const auto f = tmp("diverged.h5");
  const auto r = sh(cli() + " run " + small + " -q --out " + f.string() + " --set rule.zil.optimizer.lr=1e37");
  CHECK(r.status == 3);
  CHECK(r.out.find("diverged") != std::string::npos);
  CHECK(r.out.find("smaller learning rate") != std::string::npos);
  CHECK(sh("h5dump -H " + f.string() + " > /dev/null").status == 0);
  const auto acc = phaseless::io::read_dataset(f, "/metrics/test_accuracy");
  REQUIRE(acc.size() >= 2);
  CHECK(std::isnan(acc.back()));   // the marked row
  CHECK(!std::isnan(acc.front()));
}

TEST_CASE("learning that diverges in eager mode: the message names the mode and the delays, not only the rate") {
  const auto f = tmp("diverged_eager.h5");
  const auto r = sh(cli() + " run " + small + " -q --out " + f.string() +
                    " --set rule.zil.optimizer.lr=1e37 --set execution.mode=EAGER");
  CHECK(r.status == 3);
  CHECK(r.out.find("learning diverged (EAGER mode: the result depends on the delays") != std::string::npos);
  CHECK(r.out.find("check the same model in DATAFLOW mode") != std::string::npos);
}
