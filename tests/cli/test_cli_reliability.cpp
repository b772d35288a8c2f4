// Hostile inputs and hostile conditions, as a careless or unlucky user meets them:
// crafted traces, full disks, signals during slow samples, output paths that hold
// other files, two runs on one path, learning that blows up, files not in UTF-8.
// Every case checks the exact message and exit status.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/io/trace_reader.hpp"
#include "tests/support/cli_support.hpp"
#include "tests/support/trace_fixtures.hpp"

namespace fs = std::filesystem;

namespace {

using phaseless::test::cli;
using phaseless::test::src;
using result = phaseless::test::cli_result;
using phaseless::test::sh;
fs::path tmp(const std::string& name) { return phaseless::test::scratch("phaseless_rel_", name); }
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
void spit(const fs::path& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary);
  f << text;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const std::string small = src("tests/models/good/fmnist_small.textproto");

// The minimal model with absolute data paths, so that copies of it work from any folder.
std::string minimal_text() {
  std::string t = slurp(src("tests/models/good/minimal.textproto"));
  const std::string data = std::string(1, '"').append(src("tests/models/data/"));
  for (std::size_t at; (at = t.find("\"../data/")) != std::string::npos;) t.replace(at, 9, data);
  return t;
}

using phaseless::test::hostile;
using phaseless::test::minimal_trace;

bool no_leftovers(const fs::path& target) {
  const fs::path dir = target.parent_path();
  const std::string name = target.filename().string();
  return !fs::exists(dir / std::string(".").append(name).append(".partial")) &&
         !fs::exists(dir / std::string(".").append(name).append(".lock"));
}

// Waits for a child with a deadline; returns its exit status (128 + signal), or -1
// after killing it when the deadline passed.
int wait_for(pid_t pid, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  int st = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &st, 0);
  return -1;
}

pid_t spawn_run(const std::string& model, const fs::path& out, const std::vector<std::string>& sets) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> args{cli(), "run", model, "-q", "--out", out.string()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::freopen("/dev/null", "w", stdout);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Until `trace` has at least `rows` metrics rows (it appears at the run's first flush).
bool wait_rows(const fs::path& trace, std::size_t rows) {
  for (int k = 0; k < 1200; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      if (phaseless::io::read_dataset(trace, "/metrics/samples").size() >= rows) return true;
    } catch (...) {
    }
  }
  return false;
}

}  // namespace

TEST_CASE("inspect: attributes that are arrays or of the wrong type: exit 2, one message naming file and attribute") {
  struct bad {
    const char* kind;
    const char* message;
  };
  const bad cases[] = {
      {"array_format", "attribute 'format' of / must be a scalar string; found str [3]"},
      {"array_fixed_format", "attribute 'format' of / must be a scalar string; found str [4]"},
      {"array_magic", "attribute 'magic' of / must be a scalar number; found u32 [64]"},
      {"array_seed", "attribute 'seed' of /provenance must be a scalar number; found u64 [50]"},
      {"array_units", "attribute 'time_units' of / must be a scalar string; found str [1000]"},
      {"string_version", "attribute 'version' of / must be 2 numbers; found str scalar"},
      {"provenance_dataset", "/provenance must be a group (the file is damaged or not a trace)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.kind);
    const fs::path f = hostile(c.kind);
    const auto r = sh(cli() + " inspect " + f.string());
    CHECK(r.status == 2);
    CHECK(r.out == "phaseless inspect: error: trace '" + f.string() + "': " + c.message + "\n");
  }
}

TEST_CASE("inspect --csv: a dataset whose element count overflows 64 bits: exit 2, no read") {
  const fs::path f = hostile("huge_shape");
  const std::string msg = "phaseless inspect: error: trace '" + f.string() +
                          "': dataset /metrics/test_accuracy: shape [1099511627776, 1099511627776, "
                          "1099511627776] has more than 2^64 elements\n";
  auto r = sh(cli() + " inspect " + f.string() + " --csv /metrics/test_accuracy");
  CHECK(r.status == 2);
  CHECK(r.out == msg);
  r = sh(cli() + " inspect " + f.string());   // the summary reads the metrics too
  CHECK(r.status == 2);
  CHECK(r.out == msg);
}

TEST_CASE("inspect: a bad metadata checksum fails at once (no SWMR retries), exit 2") {
  const fs::path f = hostile("bad_checksum");
  // `timeout` stands for the user who gives up: 124 would mean a hang (it took minutes).
  const auto r = sh("timeout 60 " + cli() + " inspect " + f.string());
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless inspect: error: cannot read trace '" + f.string() +
                     "': unable to open file (incorrect metadata checksum after all read attempts) (the file is "
                     "damaged or not a trace)\n");
}

TEST_CASE("inspect: a report whose data is a row longer than its mapping is read up to the shorter") {
  const fs::path f = hostile("longer_report");
  const auto r = sh(cli() + " inspect " + f.string());
  CHECK(r.status == 0);
  const auto n = std::to_string(phaseless::io::read_dataset(f, "/report/h1/mapping/samples").size());
  const auto n1 = std::to_string(phaseless::io::read_dataset(f, "/report/h1/data").size() / 16);
  CHECK(contains(r.out, "  /report/h1: " + n + " rows (some of its datasets hold up to " + n1 +
                            ": the run was killed during a flush; use the first " + n + ")\n"));
  CHECK(contains(r.out, "  /report/out: " + n + " rows\n"));
  // The CSV export reads it up to the shorter too, keyed by its samples, and says so.
  for (const std::string what : {"/report/h1", "/report/h1/data"}) {
    CAPTURE(what);
    const auto c = sh(cli() + " inspect " + f.string() + " --csv " + what);
    CHECK(c.status == 0);
    std::istringstream lines(c.out);
    int table = 0;   // header and rows; the notes go to stderr, merged here
    for (std::string l; std::getline(lines, l);) table += l.rfind("phaseless inspect: note:", 0) != 0;
    CHECK(table == 1 + std::stoi(n));
    CHECK(c.out.rfind("samples,", 0) == 0);
    CHECK(contains(c.out, "phaseless inspect: note: left out data: rows after " + n +
                              " (cut short by a kill during a flush; the table ends there)\n"));
  }
}

TEST_CASE("test labels beyond the output population: exit 2 naming the label file, item and label") {
  // The minimal model has 3 output neurons; its test labels are 0..2. One becomes 7.
  const fs::path labels = tmp("t10k-labels-bad");
  std::string bytes = slurp(src("tests/models/data/t10k-labels-idx1-ubyte"));
  REQUIRE(bytes.size() == 8 + 3);
  bytes[8 + 2] = 7;   // item 2
  spit(labels, bytes);
  std::string text = minimal_text();
  const std::string from = src("tests/models/data/t10k-labels-idx1-ubyte");
  text.replace(text.find(from), from.size(), labels.string());
  const fs::path model = tmp("badlabels.textproto");
  spit(model, text);
  const auto r = sh(cli() + " run " + model.string() + " -q --out " + tmp("badlabels.h5").string());
  // Validation reads the label files' maxima, so the model is refused before any
  // evaluation could index past the output (the run's own check stays behind it).
  CHECK(r.status == 2);
  CHECK(r.out.rfind("phaseless run: error: " + model.string() + ":", 0) == 0);
  CHECK(r.out.find("populations[2].size: the OUTPUT population 'out' has 3 neurons, but data.idx.test_labels holds "
                   "label 7 (8 classes, one output neuron each); allowed: at least 8\n") != std::string::npos);
  CHECK(!fs::exists(tmp("badlabels.h5")));
}

TEST_CASE("a disk that fills while the trace is set up: exit 4, one message, the old file untouched") {
  const fs::path f = tmp("setup_full.h5");
  spit(f, "an older file\n");
  // A file size limit stands for the full disk; the shell ignores SIGXFSZ so writes fail
  // with EFBIG, which HDF5 reports, instead of killing the process.
  const auto r = sh("trap '' XFSZ; ulimit -f 1000; " + cli() + " run " + small + " -q --force --out " + f.string() +
                    " --set schedule.epochs=100");
  CHECK(r.status == 4);
  CHECK(r.out == "phaseless run: error: trace '" + f.string() +
                     "': cannot flush: unable to flush file's cached information (File too large)\n");
  CHECK(slurp(f) == "an older file\n");
  CHECK(no_leftovers(f));

  // A small file system: the writer sees that the provenance will not fit and stops first.
  const auto dir = tmp("setupdisk");
  fs::create_directories(dir);
  REQUIRE(sh("mount -t tmpfs -o size=6000k tmpfs " + dir.string()).status == 0);
  const auto g = dir / "t.h5";
  spit(g, "an older file\n");
  const auto q = sh(cli() + " run " + small + " -q --force --out " + g.string() + " --set schedule.epochs=100");
  CHECK(q.status == 4);
  CHECK(contains(q.out, "phaseless run: error: trace '" + g.string() + "': only "));
  CHECK(contains(q.out, " KiB needed); stopped before writing it, and left whatever was at that path untouched\n"));
  CHECK(slurp(g) == "an older file\n");
  CHECK(no_leftovers(g));
  sh("umount " + dir.string());
}

TEST_CASE("SIGINT during a slow rule (IL, 1000 relaxation steps a sample): exit 130 within 10 s") {
  // Before, the stop flag was read every 500 samples here: about 100 s at 0.2 s a sample.
  const fs::path f = tmp("slow_il.h5");
  fs::remove(f);
  const pid_t pid = spawn_run(src("models/fmnist_il.textproto"), f,
                              {"rule.il.iterations=1000", "data.test_subset=200", "data.train_subset=2000"});
  REQUIRE(pid > 0);
  REQUIRE(wait_rows(f, 1));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ::kill(pid, SIGINT);
  CHECK(wait_for(pid, std::chrono::seconds(10)) == 130);
  const auto samples = phaseless::io::read_dataset(f, "/metrics/samples");
  REQUIRE(samples.size() >= 2);
  CHECK(samples.back() > 0);
  CHECK(samples.back() < 500);
  CHECK(sh("h5dump -H " + f.string() + " > /dev/null").status == 0);
}

TEST_CASE("--out never destroys a file that is not a trace, an input, or a device") {
  const std::string model_copy = tmp("m.textproto").string();
  spit(model_copy, minimal_text());
  const std::string run = cli() + " run " + model_copy + " -q --out ";

  const fs::path text = tmp("notes.txt");
  spit(text, "my notes\n");
  auto r = sh(run + text.string());
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless run: error: cannot write trace '" + text.string() +
                     "': the file exists and is not a phaseless trace; refusing to replace it (remove it, choose "
                     "another path, or pass --force)\n");
  CHECK(slurp(text) == "my notes\n");
  r = sh(run + text.string() + " --force");
  CHECK(r.status == 0);
  CHECK(phaseless::io::is_trace(text));

  const std::string input = "; an input is never replaced, not even with --force\n";
  r = sh(run + model_copy + " --force");
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless run: error: cannot write trace '" + model_copy + "': it is the run's model file '" +
                     model_copy + "'" + input);
  CHECK(slurp(model_copy) == minimal_text());
  const std::string labels = src("tests/models/data/train-labels-idx1-ubyte");
  const std::string before = slurp(labels);
  r = sh(run + labels + " --force");
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless run: error: cannot write trace '" + labels + "': it is the run's training labels file '" +
                     labels + "'" + input);
  CHECK(slurp(labels) == before);

  r = sh(run + "/dev/null --force");
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless run: error: cannot write trace '/dev/null': it is not a regular file (a device, FIFO or "
                 "socket); such a path is never replaced, not even with --force\n");
  struct stat st{};
  CHECK((::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)));

  // An older trace is replaced, as before.
  const fs::path old = tmp("old.h5");
  REQUIRE(sh(run + old.string()).status == 0);
  CHECK(sh(run + old.string()).status == 0);
  CHECK(no_leftovers(old));
}

TEST_CASE("compare --report never truncates the model file or a file that is not a report") {
  const std::string model_copy = tmp("cm.textproto").string();
  spit(model_copy, minimal_text());
  const std::string compare = cli() + " compare " + model_copy + " -q --report ";
  auto r = sh(compare + model_copy + " --force");
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless compare: error: cannot write report '" + model_copy + "': it is the run's model file '" +
                     model_copy + "'; an input is never replaced, not even with --force\n");
  CHECK(slurp(model_copy) == minimal_text());
  const fs::path text = tmp("paper.txt");
  spit(text, "draft\n");
  r = sh(compare + text.string());
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless compare: error: cannot write report '" + text.string() +
                     "': the file exists and is not a phaseless report; refusing to replace it (remove it, choose "
                     "another path, or pass --force)\n");
  CHECK(slurp(text) == "draft\n");
  const fs::path rep = tmp("cmp.txt");
  REQUIRE(sh(compare + rep.string()).status == 0);
  CHECK(sh(compare + rep.string()).status == 0);   // a report replaces a report
  CHECK(slurp(rep).rfind("phaseless compare ", 0) == 0);
  r = sh(compare + rep.string() + " --out " + rep.string());
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless compare: error: --report and --out name the same file '" + rep.string() +
                     "'; give them different paths\n");
}

TEST_CASE("two runs with the same --out: the second fails at once, exit 2, the first is undisturbed") {
  const fs::path f = tmp("shared.h5");
  fs::remove(f);
  const pid_t first = spawn_run(small, f, {"schedule.epochs=50"});
  REQUIRE(first > 0);
  REQUIRE(wait_rows(f, 2));
  const auto r = sh(cli() + " run " + small + " -q --out " + f.string());
  CHECK(r.status == 2);
  const std::string lock = (f.parent_path() / ".shared.h5.lock").string();
  CHECK(r.out == "phaseless run: error: cannot write trace '" + f.string() +
                     "': another phaseless process is writing it (lock file '" + lock +
                     "'); wait for it to finish or choose another path\n");
  ::kill(first, SIGINT);
  CHECK(wait_for(first, std::chrono::seconds(60)) == 130);
  CHECK(phaseless::io::read_dataset(f, "/metrics/samples").size() >= 3);
  CHECK(no_leftovers(f));
}

TEST_CASE("a model error found after the trace was started leaves the old trace untouched") {
  const fs::path f = tmp("keep.h5");
  fs::remove(f);
  REQUIRE(sh(cli() + " run " + small + " -q --out " + f.string()).status == 0);
  const std::string before = slurp(f);
  // The same population twice in record.populations: found when the trace's reports are
  // added (or, with validation that catches it, before): either way nothing is replaced.
  std::string text = minimal_text();
  const std::string rec = "record { populations: [\"h1\", \"out\"] }";
  REQUIRE(text.find(rec) != std::string::npos);
  text.replace(text.find(rec), rec.size(), "record { populations: [\"h1\", \"h1\"] }");
  const fs::path model = tmp("dup.textproto");
  spit(model, text);
  const auto r = sh(cli() + " run " + model.string() + " -q --out " + f.string());
  CHECK(r.status != 0);
  CHECK(r.status < 128);
  CHECK(slurp(f) == before);
  CHECK(no_leftovers(f));
}

TEST_CASE("weights beyond the divergence bound: exit 3 naming the projection and the sample, before any NaN") {
  const fs::path f = tmp("blowup.h5");
  const auto r = sh(cli() + " run " + small + " -q --out " + f.string() + " --set rule.zil.optimizer.lr=1e6");
  CHECK(r.status == 3);
  CHECK(contains(r.out, "phaseless run: projection 'w"));
  CHECK(contains(r.out, ", beyond the divergence bound |value| <= 1e6; learning diverged (try a smaller learning "
                        "rate)"));
  const auto at = r.out.find("by training sample ");
  REQUIRE(at != std::string::npos);
  const double sample = std::stod(r.out.substr(at + 19));
  const auto samples = phaseless::io::read_dataset(f, "/metrics/samples");
  const auto acc = phaseless::io::read_dataset(f, "/metrics/test_accuracy");
  REQUIRE(samples.size() >= 2);
  CHECK(samples.back() == sample);   // the NaN row is at the detection
  CHECK(std::isnan(acc.back()));
}

TEST_CASE("a NaN during learning: the NaN row's samples is the sample that diverged") {
  const fs::path f = tmp("nan.h5");
  // (lr 1e37 now meets the weight bound first; 1e38 overflows a float in sample 3.)
  const auto r = sh(cli() + " run " + small + " -q --out " + f.string() + " --set rule.zil.optimizer.lr=1e38");
  CHECK(r.status == 3);
  const std::string tag = "; learning diverged (try a smaller learning rate) (training sample ";
  const auto at = r.out.find(tag);
  REQUIRE(at != std::string::npos);
  const double sample = std::stod(r.out.substr(at + tag.size()));
  CHECK(contains(r.out, " of 6000, counting from 1)\n"));
  const auto samples = phaseless::io::read_dataset(f, "/metrics/samples");
  REQUIRE(samples.size() >= 2);
  CHECK(sample >= 1);
  CHECK(samples.back() == sample);   // before: the start of the chunk (0)
}

TEST_CASE("running out of memory: exit 5 and a message naming what to reduce") {
  // One weight matrix of 784 x 100000 floats (314 MB, with its snapshots and gradients
  // well over 1 GB) against a 1 GB address-space limit; validation's estimate (about 9 GB)
  // is below this machine's memory, so the run gets as far as allocating.
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's shadow memory needs terabytes of address space (no limit can be
  // set) and its operator new aborts instead of throwing std::bad_alloc: the case
  // cannot happen in this build. Said out loud rather than skipped silently.
  MESSAGE("not run under AddressSanitizer: its operator new never throws std::bad_alloc");
  return;
#endif
  const auto r = sh("ulimit -v 1000000; " + cli() + " run " + small + " -q --out " + tmp("oom.h5").string() +
                    " --set populations[h].size=100000");
  CHECK(r.status == 5);
  CHECK(r.out == "phaseless run: error: out of memory: the model needs more memory than is free (reduce "
                 "populations[].size, data.train_subset / data.test_subset, schedule.epochs or record.*; see "
                 "'phaseless validate' for the estimate); any trace written so far is closed\n");
}

TEST_CASE("model files: a UTF-8 byte-order mark is accepted, Latin-1 text is an error at its position") {
  const fs::path bom = tmp("bom.textproto");
  spit(bom, "\xEF\xBB\xBF" + minimal_text());
  auto r = sh(cli() + " validate " + bom.string());
  CHECK(r.status == 0);
  std::string text = minimal_text();
  const auto at = text.find("name: \"minimal\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 15, "name: \"caf\xE9\"");
  const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  const fs::path latin = tmp("latin.textproto");
  spit(latin, text);
  r = sh(cli() + " validate " + latin.string());
  CHECK(r.status == 2);
  CHECK(r.out == "phaseless validate: error: " + latin.string() + ":" + std::to_string(line) +
                     ":11: byte 0xE9 is not UTF-8; allowed: UTF-8 text (save the file as UTF-8, e.g. iconv -f "
                     "LATIN1 -t UTF-8)\n");
}

TEST_CASE("a Latin-1 model file name: the trace's strings still decode as UTF-8") {
  const fs::path model = tmp("mod\xE8le.textproto");
  spit(model, minimal_text());
  const fs::path f = tmp("latin_name.h5");
  REQUIRE(sh(cli() + " run '" + model.string() + "' -q --out " + f.string()).status == 0);
  CHECK(sh("/usr/bin/python3 -c \"import h5py; f=h5py.File('" + f.string() +
           "','r'); p=f['provenance']; c=p.attrs['command_line']; assert 'mod\\u00e8le' in c, c; "
           "p['model_text'][()].decode()\"")
            .status == 0);
}
