// Recording inside a sample (record.events): the messages recorded for a sample are the
// messages the engine counted for it, the recorded states end where the activity report
// of that sample is, the rows are the same at 1 and 2 threads, and recording does not
// change the run. Every rule family, DATAFLOW and EAGER, with and without lossy links.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/session.hpp"
#include "sim/io/trace_reader.hpp"
#include "tests/support/h5_reference.hpp"

namespace {

namespace fs = std::filesystem;
namespace io = phaseless::io;
using phaseless::test::read_array;

struct variant {
  const char* name;
  const char* rule;     // the rule { ... } line
  const char* mode;     // DATAFLOW or EAGER
  bool lossy;           // jitter and loss on w2
  double threshold = 0;   // execution.threshold: sigma-delta sends (IL, DP), step markers
};

const variant variants[] = {
    {"zil dataflow", "rule { zil { optimizer { lr: 0.05 } } }", "DATAFLOW", false},
    {"zil eager lossy", "rule { zil { optimizer { lr: 0.05 } } }", "EAGER", true},
    {"fa dataflow lossy",
     "rule { zil { optimizer { lr: 0.05 } } }", "DATAFLOW", true},   // w2 gets random feedback below
    {"il dataflow", "rule { il { optimizer { lr: 0.02 } iterations: 6 } }", "DATAFLOW", false},
    {"il_prox eager lossy", "rule { il_prox { alpha: 2.5 eps_n: 0.25 iterations: 6 } }", "EAGER", true},
    {"dp dataflow", "rule { loss: MSE dp { alpha: 0.5 beta: 0.5 rounds: 3 optimizer { lr: 0.01 } } }", "DATAFLOW",
     false},
    {"dp eager lossy", "rule { loss: MSE dp { alpha: 0.5 beta: 0.5 rounds: 3 optimizer { lr: 0.01 } } }", "EAGER",
     true},
    // Sigma-delta: a neuron with nothing new to say sends an uncounted step marker. The
    // recorder must leave the markers out, or its count exceeds the engine's.
    {"il sigma-delta", "rule { il { optimizer { lr: 0.02 } iterations: 6 } }", "DATAFLOW", false, 0.01},
    {"dp eager sigma-delta lossy", "rule { loss: MSE dp { alpha: 0.5 beta: 0.5 rounds: 3 optimizer { lr: 0.01 } } }",
     "EAGER", true, 0.01},
};

const std::vector<std::uint64_t> recorded = {0, 5, 17};

// tests/models/good/minimal.textproto (12-8-3, random delays 1..3 on w2), with the rule,
// mode and record.events of the variant, written to `dir` with absolute data paths.
fs::path write_model(const fs::path& dir, const variant& v, bool record_events) {
  const fs::path src = fs::path(PHASELESS_SOURCE_DIR) / "tests/models/good/minimal.textproto";
  std::ifstream in(src);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  };
  const std::string data = (fs::path(PHASELESS_SOURCE_DIR) / "tests/models/data").string() + "/";
  for (std::size_t at; (at = text.find("../data/")) != std::string::npos;) text.replace(at, 8, data);
  replace("rule { zil { optimizer { lr: 0.05 } } }", v.rule);
  replace("delay { uniform { min: 1 max: 3 } }",
          std::string("delay { uniform { min: 1 max: 3 }") + (v.lossy ? " jitter_max: 2 drop_probability: 0.3" : "") +
              " }" + (std::string(v.name).rfind("fa", 0) == 0 ? " feedback { kind: RANDOM }" : ""));
  std::string record = "record { populations: [\"h1\", \"out\"] sample_every: 1";
  if (record_events) record += " events { population: [\"in\", \"h1\", \"out\"] samples: [0, 5, 17] }";
  replace("record { populations: [\"h1\", \"out\"] }", record + " }");
  std::ostringstream execution;
  execution << "execution { mode: " << v.mode << " threshold: " << v.threshold << " }\n";
  text += execution.str();
  // A metrics row per sample: the engine's per-sample event counts.
  replace("schedule { epochs: 2 batch_size: 1 }", "schedule { epochs: 4 batch_size: 1 eval_every: 1 }");
  std::string stem = v.name;
  for (char& c : stem) c = c == ' ' ? '_' : c;
  const fs::path file = dir / (stem + (record_events ? "_rec" : "_plain") + ".textproto");
  std::ofstream(file) << text;
  return file;
}

// Per-sample deltas of a cumulative metrics column (row k is after k samples).
double per_sample(const phaseless::test::h5_array& col, std::uint64_t s) { return col[s + 1] - col[s]; }

fs::path run(const fs::path& model, const fs::path& trace, unsigned threads) {
  io::run_options o;
  o.trace = trace;
  o.progress = false;
  o.threads = threads;
  o.shards = threads;
  io::run(io::load_model(model), o);
  return trace;
}

std::vector<double> column(const fs::path& trace, const std::string& path) { return read_array(trace, path).v; }

}  // namespace

TEST_CASE("record.events: messages, states and determinism for every rule and mode") {
  const fs::path dir = fs::temp_directory_path() / ("phaseless_events_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const variant& v : variants) {
    const std::string variant_name = v.name;
    CAPTURE(variant_name);
    const fs::path model = write_model(dir, v, true);
    const fs::path one = run(model, dir / "one.h5", 1);
    const fs::path two = run(model, dir / "two.h5", 2);
    const fs::path plain = run(write_model(dir, v, false), dir / "plain.h5", 1);

    // Independent count: the engine's cumulative events per metrics row. Every population
    // is recorded, so the messages recorded in sample s are all the events of sample s.
    const auto events = read_array(one, "/metrics/events");
    std::vector<double> msg_sample, msg_dropped;
    for (const char* pop : {"in", "h1", "out"}) {
      const auto s = column(one, std::string("/events/") + pop + "/messages/sample");
      const auto d = column(one, std::string("/events/") + pop + "/messages/dropped");
      msg_sample.insert(msg_sample.end(), s.begin(), s.end());
      msg_dropped.insert(msg_dropped.end(), d.begin(), d.end());
    }
    std::uint64_t total_dropped = 0;
    for (std::uint64_t s : recorded) {
      std::uint64_t n = 0, dropped = 0;
      for (std::size_t k = 0; k < msg_sample.size(); ++k)
        if (msg_sample[k] == double(s)) ++n, dropped += msg_dropped[k] != 0;
      CHECK(double(n) == per_sample(events, s));
      total_dropped += dropped;
      if (v.lossy) {   // the engine counts losses too (messages_dropped): the same per sample
        const auto engine_dropped = read_array(one, "/metrics/messages_dropped");
        CHECK(double(dropped) == per_sample(engine_dropped, s));
      } else {
        CHECK(dropped == 0);
      }
    }
    if (v.lossy) CHECK(total_dropped > 0);   // 30 % loss on w2: some recorded message was lost
    if (v.threshold > 0) {   // markers did replace messages, so the count check above had teeth
      variant dense = v;
      dense.threshold = 0;
      const auto all = read_array(run(write_model(dir, dense, false), dir / "dense.h5", 1), "/metrics/events");
      double sent = 0, full = 0;
      for (std::uint64_t s : recorded) sent += per_sample(events, s), full += per_sample(all, s);
      CHECK(sent < full);
    }

    // The state after a sample's last tick is the activity report of that sample.
    for (const char* pop : {"h1", "out"}) {
      CAPTURE(pop);
      const std::string base = std::string("/events/") + pop + "/state/";
      const auto data = read_array(one, base + "data");
      const auto sample = column(one, base + "sample");
      const auto report = read_array(one, std::string("/report/") + pop + "/data");
      const auto frames = column(one, std::string("/report/") + pop + "/mapping/samples");
      const std::size_t width = data.shape.at(1);
      REQUIRE(report.shape.at(1) == width);   // minimal's populations have at most 64 neurons: all kept
      for (std::uint64_t s : recorded) {
        std::size_t last = sample.size();
        for (std::size_t r = 0; r < sample.size(); ++r)
          if (sample[r] == double(s)) last = r;
        REQUIRE(last < sample.size());
        std::size_t frame = frames.size();
        for (std::size_t f = 0; f < frames.size(); ++f)
          if (frames[f] == double(s + 1)) frame = f;
        REQUIRE(frame < frames.size());
        for (std::size_t c = 0; c < width; ++c) CHECK(data[last * width + c] == report[frame * width + c]);
      }
    }

    // Bit-identical at 1 and 2 threads (2 shards: frames are cut differently), and the
    // run itself is unchanged by recording.
    for (const auto& name : io::list_datasets(one)) {
      if (name.rfind("/events/", 0) != 0 && name.rfind("/weights/", 0) != 0 && name != "/metrics/events") continue;
      CAPTURE(name);
      CHECK(column(one, name) == column(two, name));
      if (name.rfind("/events/", 0) != 0) CHECK(column(one, name) == column(plain, name));
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("record.events: a request whose per-tick states exceed the bound is refused before training") {
  // 100 samples x (interval of 200 IL relaxation steps) x 1024 neurons x (x, eps) is far
  // beyond max_recorded_state_values: refused when the run is set up, naming the field.
  const fs::path dir = fs::temp_directory_path() / ("phaseless_events_big_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string samples;
  for (int s = 0; s < 100; ++s) samples += (s ? ", " : "") + std::to_string(s);
  std::string neurons;
  for (int i = 0; i < 1024; ++i) neurons += (i ? ", " : "") + std::to_string(i);
  const fs::path model = dir / "big.textproto";
  std::ofstream(model) << "schema_version: 1\n"
                          "populations { name: \"in\" role: INPUT size: 784 }\n"
                          "populations { name: \"h\" role: HIDDEN size: 1024 activation: RELU }\n"
                          "populations { name: \"out\" role: OUTPUT size: 10 }\n"
                          "projections { name: \"w1\" pre: \"in\" post: \"h\" }\n"
                          "projections { name: \"w2\" pre: \"h\" post: \"out\" }\n"
                          "rule { il { optimizer { lr: 0.01 } iterations: 200 } }\n"
                          "data { idx { train_images: \"$FASHION_MNIST/train-images-idx3-ubyte.gz\"\n"
                          "  train_labels: \"$FASHION_MNIST/train-labels-idx1-ubyte.gz\"\n"
                          "  test_images: \"$FASHION_MNIST/t10k-images-idx3-ubyte.gz\"\n"
                          "  test_labels: \"$FASHION_MNIST/t10k-labels-idx1-ubyte.gz\" }\n"
                          "  train_subset: 200 test_subset: 10 }\n"
                          "record { events { population: \"h\" samples: ["
                       << samples << "] neurons: [" << neurons << "] } }\n";
  io::run_options o;
  o.trace = dir / "big.h5";
  o.progress = false;
  const auto m = io::load_model(model);   // within the model file's bounds: 100 samples, 1024 neurons
  try {
    io::run(m, o);
    FAIL("the run started");
  } catch (const phaseless::core::user_error& e) {
    const std::string what = e.what();
    CHECK(what.find("record.events: the per-tick states would hold") == 0);
    CHECK(what.find("allowed: at most 50000000") != std::string::npos);
  }
  CHECK(!fs::exists(o.trace));   // refused before the trace was written
  fs::remove_all(dir);
}
