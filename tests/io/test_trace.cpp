// The HDF5 trace: round trip, CSV export, errors, crash safety (SIGKILL in a forked
// child), reading a live file, and determinism of dataset contents.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/trace_reader.hpp"
#include "sim/io/network_builder.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/session.hpp"
#include "sim/io/trace_writer.hpp"
#include "tests/support/h5_reference.hpp"

namespace {

namespace fs = std::filesystem;
namespace io = phaseless::io;
namespace core = phaseless::core;

struct temp_dir {
  fs::path path;
  temp_dir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("phaseless_trace_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// --- the sample trace: every value is a function of its indices ---
constexpr std::uint64_t big_seed = 12345678901234567890ull;
// Values an f32 trace stores exactly (the writer's default value type).
const double bias_table[2][3] = {{0.1f, 0.2f, 0.3f}, {1.1f, 1.2f, 1.3f}};

io::metrics_row metrics(int i) {
  io::metrics_row r;
  r.samples = 100u * static_cast<unsigned>(i + 1);
  r.ticks = 1000 * (i + 1);
  r.train_loss = 0.1 * (i + 1);
  r.test_accuracy = 0.5 + 0.125 * i;
  r.test_loss = 1.0 / (i + 3);
  r.events = 7u * static_cast<unsigned>(i);
  r.synaptic_ops = (std::uint64_t{1} << 40) + static_cast<unsigned>(i);
  r.wall_time = 0.25 * i;
  return r;
}
std::vector<double> weights(int snapshot, std::size_t n) {
  std::vector<double> w(n);
  for (std::size_t k = 0; k < n; ++k) w[k] = 0.001f * static_cast<float>(k) + static_cast<float>(snapshot);
  return w;
}
std::vector<double> frame(int f) {
  std::vector<double> v(6);
  for (int k = 0; k < 6; ++k) v[k] = 0.5f * static_cast<float>(k) - static_cast<float>(f);
  return v;
}

void write_structure(io::trace_writer& w) {
  io::provenance p;
  p.model_name = "tiny";
  p.model_text = "name: \"tiny\"\n";
  p.effective_model = "name: \"tiny\"\nseed: 42\n";
  p.overrides = "train.seed=42";
  p.command_line = "phaseless train tiny.model";
  p.software_version = "0.1.0";
  p.seed = big_seed;
  p.threads = 2;
  p.sample_order = {3, 1, 2, 0};
  w.write_provenance(p);
  w.add_projection("in_hidden", "input", "hidden", 3, 4, true);
  w.add_projection("hidden_out", "hidden", "output", 2, 3, false);
  w.add_report({"hidden", 3, {"x", "eps"}, 50});
}

void write_sample(const fs::path& file, int rows = 4) {
  io::trace_writer w(file);
  write_structure(w);
  w.start_streaming();
  for (int i = 0; i < rows; ++i) w.append_metrics(metrics(i));
  for (int s = 0; s < 2; ++s) {
    w.append_snapshot("in_hidden", 10u * static_cast<unsigned>(s), weights(s, 12), bias_table[s]);
    w.append_snapshot("hidden_out", 10u * static_cast<unsigned>(s), weights(s, 6), {});
  }
  for (int f = 0; f < 3; ++f) w.append_report("hidden", 50u * static_cast<unsigned>(f), 7 * f, frame(f));
  w.close();
}

template <class T>
std::vector<double> doubles(const std::vector<T>& v) {
  return {v.begin(), v.end()};
}

std::string csv(const fs::path& file, const std::string& ds) {
  std::ostringstream out;
  io::export_csv(file, ds, out);
  return out.str();
}

// Flushes our output first: otherwise the child inherits doctest's buffered lines and
// prints them again if it ever flushes (std::cerr flushes std::cout).
pid_t fork_child() {
  std::cout.flush();
  std::fflush(nullptr);
  return ::fork();
}

bool has_h5py() { return std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("trace: written values read back exactly") {
  temp_dir dir;
  const fs::path file = dir.path / "t.h5";
  write_sample(file);

  const std::vector<std::string> expected_names = {
      "/metrics/events", "/metrics/samples", "/metrics/synaptic_ops", "/metrics/test_accuracy",
      "/metrics/test_loss", "/metrics/ticks", "/metrics/train_loss", "/metrics/wall_time",
      "/provenance/effective_model", "/provenance/model_text", "/provenance/overrides",
      "/provenance/sample_order", "/report/hidden/data", "/report/hidden/mapping/element_ids",
      "/report/hidden/mapping/index_pointers", "/report/hidden/mapping/node_ids",
      "/report/hidden/mapping/samples", "/report/hidden/mapping/ticks",
      "/report/hidden/mapping/time", "/weights/hidden_out/snapshots/data",
      "/weights/hidden_out/snapshots/samples", "/weights/in_hidden/snapshots/bias",
      "/weights/in_hidden/snapshots/data", "/weights/in_hidden/snapshots/samples"};
  CHECK(io::list_datasets(file) == expected_names);

  std::vector<double> samples, ticks, loss, acc, tloss, events, ops, wall;
  for (int i = 0; i < 4; ++i) {
    const auto r = metrics(i);
    samples.push_back(static_cast<double>(r.samples));
    ticks.push_back(static_cast<double>(r.ticks));
    loss.push_back(r.train_loss);
    acc.push_back(r.test_accuracy);
    tloss.push_back(r.test_loss);
    events.push_back(static_cast<double>(r.events));
    ops.push_back(static_cast<double>(r.synaptic_ops));
    wall.push_back(r.wall_time);
  }
  CHECK(io::read_dataset(file, "/metrics/samples") == samples);
  CHECK(io::read_dataset(file, "metrics/ticks") == ticks);   // leading '/' optional
  CHECK(io::read_dataset(file, "/metrics/train_loss") == loss);
  CHECK(io::read_dataset(file, "/metrics/test_accuracy") == acc);
  CHECK(io::read_dataset(file, "/metrics/test_loss") == tloss);
  CHECK(io::read_dataset(file, "/metrics/events") == events);
  CHECK(io::read_dataset(file, "/metrics/synaptic_ops") == ops);
  CHECK(io::read_dataset(file, "/metrics/wall_time") == wall);
  CHECK(io::read_dataset(file, "/provenance/sample_order") == std::vector<double>{3, 1, 2, 0});

  auto w0 = weights(0, 12), w1 = weights(1, 12);
  w0.insert(w0.end(), w1.begin(), w1.end());
  CHECK(io::read_dataset(file, "/weights/in_hidden/snapshots/data") == doubles(w0));
  std::vector<double> b(&bias_table[0][0], &bias_table[0][0] + 6);
  CHECK(io::read_dataset(file, "/weights/in_hidden/snapshots/bias") == doubles(b));
  CHECK(io::read_dataset(file, "/weights/in_hidden/snapshots/samples") == std::vector<double>{0, 10});
  auto v0 = weights(0, 6), v1 = weights(1, 6);
  v0.insert(v0.end(), v1.begin(), v1.end());
  CHECK(io::read_dataset(file, "/weights/hidden_out/snapshots/data") == doubles(v0));

  std::vector<double> frames;
  for (int f = 0; f < 3; ++f) {
    const auto v = frame(f);
    frames.insert(frames.end(), v.begin(), v.end());
  }
  CHECK(io::read_dataset(file, "/report/hidden/data") == doubles(frames));
  CHECK(io::read_dataset(file, "/report/hidden/mapping/samples") == std::vector<double>{0, 50, 100});
  CHECK(io::read_dataset(file, "/report/hidden/mapping/ticks") == std::vector<double>{0, 7, 14});
  CHECK(io::read_dataset(file, "/report/hidden/mapping/node_ids") == std::vector<double>{0, 1, 2});
  CHECK(io::read_dataset(file, "/report/hidden/mapping/index_pointers") ==
        std::vector<double>{0, 2, 4, 6});
  CHECK(io::read_dataset(file, "/report/hidden/mapping/element_ids") ==
        std::vector<double>{0, 1, 0, 1, 0, 1});
  CHECK(io::read_dataset(file, "/report/hidden/mapping/time") == std::vector<double>{0, 150, 50});

  std::ostringstream summary;
  io::print_trace_summary(file, summary);
  const std::string s = summary.str();
  CHECK(s.find("phaseless-trace version 2") != std::string::npos);
  CHECK(s.find("model 'tiny', seed 12345678901234567890, software '0.1.0', threads 2, 4 samples") !=
        std::string::npos);
  CHECK(s.find("/weights/in_hidden/snapshots/data  f32 [2, 3, 4]") != std::string::npos);
  CHECK(s.find("/provenance/model_text  str scalar") != std::string::npos);
  CHECK(s.find("last of 4 metrics rows: samples 400, test_accuracy 0.875, train_loss 0.4") !=
        std::string::npos);
}

TEST_CASE("trace: export_csv") {
  temp_dir dir;
  const fs::path file = dir.path / "t.h5";
  write_sample(file);
  CHECK(csv(file, "/metrics/samples") == "samples\n100\n200\n300\n400\n");
  // The samples column keys every row (it is not repeated when it is the dataset itself).
  CHECK(csv(file, "/metrics/train_loss") ==
        "samples,train_loss\n100,0.10000000000000001\n200,0.20000000000000001\n300,0.30000000000000004\n"
        "400,0.40000000000000002\n");
  CHECK(csv(file, "/report/hidden/mapping/element_ids") == "element_ids\n0\n1\n0\n1\n0\n1\n");
  CHECK(csv(file, "/weights/in_hidden/snapshots/bias") ==
        "samples,bias_0,bias_1,bias_2\n0,0.100000001,0.200000003,0.300000012\n"
        "10,1.10000002,1.20000005,1.29999995\n");
  CHECK(csv(file, "/report/hidden/data") ==
        "samples,data_0,data_1,data_2,data_3,data_4,data_5\n0,0,0.5,1,1.5,2,2.5\n"
        "50,-1,-0.5,0,0.5,1,1.5\n100,-2,-1.5,-1,-0.5,0,0.5\n");
  const std::string three_d = csv(file, "/weights/hidden_out/snapshots/data");
  CHECK(three_d.substr(0, three_d.find('\n')) ==
        "samples,data_0_0,data_0_1,data_0_2,data_1_0,data_1_1,data_1_2");
  CHECK(three_d.substr(three_d.find('\n') + 1, 4) == "0,0,");
  // A whole group is one table, keyed by its samples column; text is printed as it is.
  const std::string metrics = csv(file, "/metrics");
  CHECK(metrics.substr(0, metrics.find('\n')).rfind("samples,", 0) == 0);
  CHECK(metrics.find("train_loss") != std::string::npos);
  CHECK(std::count(metrics.begin(), metrics.end(), '\n') == 5);
  CHECK(csv(file, "/provenance/model_text") == "name: \"tiny\"\n");
}

TEST_CASE("trace: user errors name the file, the folder or the dataset") {
  temp_dir dir;
  const fs::path missing_folder = dir.path / "no_such_folder" / "t.h5";
  try {
    io::trace_writer w(missing_folder);
    FAIL("expected user_error");
  } catch (const core::user_error& e) {
    const std::string msg = e.what();
    CHECK(msg.find(missing_folder.string()) != std::string::npos);
    CHECK(msg.find("does not exist") != std::string::npos);
  }

  const fs::path file = dir.path / "t.h5";
  write_sample(file);
  try {
    io::read_dataset(file, "/metrics/nope");
    FAIL("expected user_error");
  } catch (const core::user_error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("/metrics/nope") != std::string::npos);
    CHECK(msg.find("/metrics/samples") != std::string::npos);   // lists what exists
  }
  CHECK_THROWS_AS(io::export_csv(file, "/nope", std::cout), core::user_error);

  const fs::path text = dir.path / "not_hdf5.h5";
  std::ofstream(text) << "hello\n";
  for (const fs::path& bad : {text, dir.path / "absent.h5"}) {
    std::ostringstream out;
    CHECK_THROWS_WITH_AS(io::print_trace_summary(bad, out),
                         doctest::Contains(bad.string().c_str()), core::user_error);
    CHECK_THROWS_AS(io::read_dataset(bad, "/metrics/samples"), core::user_error);
    CHECK_THROWS_AS(io::list_datasets(bad), core::user_error);
  }
}

TEST_CASE("trace: misuse is an internal error") {
  temp_dir dir;
  io::trace_writer w(dir.path / "t.h5");
  write_structure(w);
  CHECK_THROWS_AS(w.append_snapshot("nope", 0, weights(0, 12), {}), core::internal_error);
  CHECK_THROWS_AS(w.append_report("nope", 0, 0, frame(0)), core::internal_error);
  CHECK_THROWS_AS(w.append_snapshot("in_hidden", 0, weights(0, 11), bias_table[0]), core::internal_error);
  CHECK_THROWS_AS(w.append_snapshot("in_hidden", 0, weights(0, 12), {}), core::internal_error);
  w.append_metrics(metrics(0));   // implicit start_streaming()
  CHECK_THROWS_AS(w.add_projection("late", "a", "b", 1, 1, false), core::internal_error);
  w.close();
  w.close();   // idempotent
  CHECK_THROWS_AS(w.append_metrics(metrics(1)), core::internal_error);
}

TEST_CASE("trace: a write failure is a runtime error naming the file") {
  // A disk-full stand-in: in a child, cap the file size (RLIMIT_FSIZE) just above what
  // the structure needs, so HDF5's writes fail with EFBIG while appending.
  temp_dir dir;
  const fs::path file = dir.path / "full.h5";
  const pid_t pid = fork_child();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 1;
    std::signal(SIGXFSZ, SIG_IGN);   // else exceeding the limit kills the process
    std::freopen("/dev/null", "w", stderr);   // the destructor reports the failure again
    try {
      io::trace_writer w(file);
      write_structure(w);
      w.start_streaming();
      // Until the first flush the file is the partial one beside `file`.
      const rlim_t cap = static_cast<rlim_t>(fs::file_size(io::partial_path(file))) + 4096;
      const rlimit limit{cap, cap};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(5);
      for (int s = 0; s < 1000; ++s) {
        w.append_snapshot("in_hidden", 0, weights(s, 12), bias_table[0]);
        w.append_metrics(metrics(s));
        if (s % 100 == 99) w.flush();
      }
      w.close();
      code = 2;   // no error at all
    } catch (const core::user_error&) {
      code = 3;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      code = msg.find(file.string()) != std::string::npos && msg.find("too large") != std::string::npos
                 ? 0
                 : 4;
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);   // 2: nothing thrown, 3: wrong type, 4: message lacks file
}

TEST_CASE("trace: SIGKILL leaves a file readable up to the last flush") {
  temp_dir dir;
  const fs::path file = dir.path / "killed.h5";
  const pid_t pid = fork_child();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      io::trace_writer w(file);
      write_structure(w);
      w.start_streaming();
      for (int i = 0; i < 5; ++i) w.append_metrics(metrics(i));
      w.append_snapshot("in_hidden", 0, weights(0, 12), bias_table[0]);
      w.append_report("hidden", 0, 0, frame(0));
      w.flush();
      for (int i = 5; i < 8; ++i) w.append_metrics(metrics(i));
      w.append_snapshot("in_hidden", 10, weights(1, 12), bias_table[1]);
      std::raise(SIGKILL);
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  const auto samples = io::read_dataset(file, "/metrics/samples");
  REQUIRE(samples.size() >= 5);
  for (int i = 0; i < 5; ++i) CHECK(samples[i] == static_cast<double>(metrics(i).samples));
  CHECK(io::read_dataset(file, "/weights/in_hidden/snapshots/data").size() >= 12);
  CHECK(io::read_dataset(file, "/report/hidden/data") == doubles(frame(0)));
  std::ostringstream summary;
  CHECK_NOTHROW(io::print_trace_summary(file, summary));

  const std::string quoted = "'" + file.string() + "'";
  CHECK(std::system(("h5dump -H " + quoted + " >/dev/null 2>&1").c_str()) == 0);
  CHECK(std::system(("h5dump " + quoted + " >/dev/null 2>&1").c_str()) == 0);
  REQUIRE_MESSAGE(has_h5py(), "/usr/bin/python3 has no h5py: run tools/setup-deps.sh (python3-h5py)");
  const std::string script =
      "import h5py, sys\n"
      "f = h5py.File(sys.argv[1], 'r')\n"
      "s = list(f['metrics/samples'][:])\n"
      "assert len(s) >= 5 and s[:5] == [100, 200, 300, 400, 500], s\n"
      "assert f.attrs['format'] == 'phaseless-trace'\n"
      "assert f['weights/in_hidden/snapshots/data'].shape[1:] == (3, 4)\n";
  CHECK(std::system(("/usr/bin/python3 -c \"" + script + "\" " + quoted).c_str()) == 0);
}

TEST_CASE("trace: readable while the writer is still running") {
  temp_dir dir;
  const fs::path file = dir.path / "live.h5";
  int ready[2], go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  const pid_t pid = fork_child();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      io::trace_writer w(file);
      write_structure(w);
      for (int i = 0; i < 3; ++i) w.append_metrics(metrics(i));
      w.flush();
      char c = 'r';
      if (::write(ready[1], &c, 1) != 1 || ::read(go[0], &c, 1) != 1) code = 4;
      for (int i = 3; i < 5; ++i) w.append_metrics(metrics(i));
      w.close();
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  CHECK(io::read_dataset(file, "/metrics/samples") == std::vector<double>{100, 200, 300});
  std::ostringstream summary;
  CHECK_NOTHROW(io::print_trace_summary(file, summary));
  CHECK(summary.str().find("last of 3 metrics rows") != std::string::npos);
  REQUIRE(::write(go[1], &c, 1) == 1);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(io::read_dataset(file, "/metrics/samples").size() == 5);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

TEST_CASE("trace: identical calls give identical dataset contents") {
  temp_dir dir;
  const fs::path a = dir.path / "a.h5", b = dir.path / "b.h5";
  write_sample(a);
  write_sample(b);
  const auto names = io::list_datasets(a);
  REQUIRE(names == io::list_datasets(b));
  for (const auto& n : names) {
    if (n.rfind("/provenance/", 0) == 0 && n != "/provenance/sample_order") continue;   // strings
    CAPTURE(n);
    CHECK(io::read_dataset(a, n) == io::read_dataset(b, n));
  }
}

// A shared parameter (conv kernel) is recorded once, under the projection's name, in
// its (C_out, C_in k k) shape, and equals the kernel its copies hold: checked against
// the synapses of the run's final network (every copy of kernel entry j equals it).
TEST_CASE("trace: a conv kernel is recorded once, in its shape, equal to every copy") {
  const auto model = io::load_model(std::string(PHASELESS_SOURCE_DIR) + "/tests/models/good/graph_cnn.textproto");
  const auto dir = fs::temp_directory_path() / "phaseless_trace_tie";
  fs::create_directories(dir);
  io::run_options o;
  o.trace = dir / "cnn.h5";
  o.progress = false;
  const auto res = io::run(model, o);
  const auto spec = io::build_network_spec(model.model);
  const auto arr = phaseless::test::read_array(o.trace, "/weights/k1/snapshots/data");
  const auto& shape = arr.shape;
  REQUIRE(shape.size() == 3);
  CHECK(shape[1] == 3);       // C_out
  CHECK(shape[2] == 1 * 9);   // C_in * 3 * 3
  const auto& kernel = arr.v;
  const std::size_t last = (shape[0] - 1) * 27;
  // res.w_end holds every projection's final weights in synapse order; k1 is projection 0.
  const auto& k1 = spec.projections[0];
  REQUIRE(k1.tie >= 0);
  const auto& w_end = res.w_end[0];
  REQUIRE(w_end.size() == k1.syn.size());
  for (std::uint64_t s = 0; s < k1.syn.size(); ++s) CHECK(float(w_end[s]) == float(kernel[last + k1.param[s]]));
  const auto names = io::list_datasets(o.trace);
  CHECK(std::count_if(names.begin(), names.end(), [](const std::string& n) { return n.find("/weights/k1") == 0; }) ==
        3);   // samples, data, bias: no copies
  fs::remove_all(dir);
}

// A FLOAT64 run's trace keeps doubles: 0.1 + k 1e-12 is not representable in f32 (it
// would read back as 0.100000001490116...), so exact equality needs f64 storage.
TEST_CASE("trace: value type f64 stores weights, biases and reports exactly") {
  temp_dir dir;
  const fs::path file = dir.path / "f64.h5";
  {
    io::trace_writer w(file);
    w.set_value_type(io::value_type::f64);
    w.add_projection("p", "a", "b", 2, 3, true);
    w.add_report({"b", 2, {"x", "eps"}, 10});
    std::vector<double> wv(6), bv(2), rv(4);
    for (int k = 0; k < 6; ++k) wv[k] = 0.1 + k * 1e-12;
    for (int k = 0; k < 2; ++k) bv[k] = -0.3 - k * 1e-13;
    for (int k = 0; k < 4; ++k) rv[k] = 1.0 / 3.0 + k;
    w.append_snapshot("p", 0, wv, bv);
    w.append_report("b", 10, 5, rv);
    w.append_report("b", 20, 9, rv);
    w.close();
    CHECK(io::read_dataset(file, "/weights/p/snapshots/data") == wv);
    CHECK(io::read_dataset(file, "/weights/p/snapshots/bias") == bv);
    auto two = rv;
    two.insert(two.end(), rv.begin(), rv.end());
    CHECK(io::read_dataset(file, "/report/b/data") == two);
    CHECK(io::read_dataset(file, "/report/b/mapping/time") == std::vector<double>{10, 30, 10});
  }
  // A frame off the step is a programming error: the SONATA time axis could not describe it.
  io::trace_writer w(dir.path / "step.h5");
  w.add_report({"b", 2, {"x", "eps"}, 10});
  w.append_report("b", 10, 5, std::vector<double>(4, 0.0));
  CHECK_THROWS_AS(w.append_report("b", 25, 9, std::vector<double>(4, 0.0)), core::internal_error);
  CHECK_THROWS_AS(w.set_value_type(io::value_type::f64), core::internal_error);   // after structure
}

// Every run reports its lost and late messages, also when nothing can be lost: the two
// columns are written, as long as the others, and hold 0 on reliable links; with loss on
// every projection they count some lost messages (cumulative, so never decreasing).
TEST_CASE("trace: every run has messages_dropped and messages_late, 0 on reliable links") {
  temp_dir dir;
  const std::string model = std::string(PHASELESS_SOURCE_DIR) + "/tests/models/good/minimal.textproto";
  for (double drop : {0.0, 0.3}) {
    CAPTURE(drop);
    std::vector<std::string> sets;
    if (drop > 0)
      for (const char* p : {"w1", "w2"}) sets.push_back(std::string("projections[") + p + "].delay.drop_probability=0.3");
    const auto lm = io::load_model(model, sets);
    io::run_options o;
    o.trace = dir.path / (drop > 0 ? "lossy.h5" : "reliable.h5");
    o.progress = false;
    const auto res = io::run(lm, o);
    const auto n = io::read_dataset(o.trace, "/metrics/samples").size();
    const auto dropped = io::read_dataset(o.trace, "/metrics/messages_dropped");
    const auto late = io::read_dataset(o.trace, "/metrics/messages_late");
    REQUIRE(dropped.size() == n);
    REQUIRE(late.size() == n);
    for (std::size_t r = 0; r < n; ++r) {
      CHECK(late[r] == 0.0);   // no jitter
      if (drop == 0) CHECK(dropped[r] == 0.0);
      if (r > 0) CHECK(dropped[r] >= dropped[r - 1]);
    }
    if (drop > 0) CHECK(dropped.back() > 0.0);
    REQUIRE(res.extra_columns.size() >= 2);
    CHECK(res.extra_columns[res.extra_columns.size() - 2] == "messages_dropped");
  }
}
