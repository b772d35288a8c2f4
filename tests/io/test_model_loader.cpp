// Model loader: the bad-model table (tests/models/bad), --set overrides, defaults.
// Each bad model starts with three comment lines the table test reads:
//   # expect: <fragment of the error message>
//   # wrong: <what is wrong, for the reader>
//   # at: <LINE:COL of the offending field, or "none" when no position applies>
#include <doctest/doctest.h>

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/model_loader.hpp"
#include "sim/io/model_validate.hpp"
#include "sim/io/network_builder.hpp"

#ifndef PHASELESS_SOURCE_DIR
#error "PHASELESS_SOURCE_DIR must name the repository root"
#endif

namespace {

namespace fs = std::filesystem;
namespace v1 = phaseless::v1;
using phaseless::io::load_model;

const fs::path models_dir = fs::path(PHASELESS_SOURCE_DIR) / "tests" / "models";
const fs::path minimal = models_dir / "good" / "minimal.textproto";

// The user_error text, or a marker that makes every CHECK on it fail visibly.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const phaseless::core::user_error& e) {
    return e.what();
  }
  return "<no user_error thrown>";
}

std::string load_error(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { load_model(file, overrides); });
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The first line of a multi-line error message that contains `part`.
std::string line_with(const std::string& msg, const std::string& part) {
  std::istringstream in(msg);
  for (std::string line; std::getline(in, line);) {
    if (contains(line, part)) return line;
  }
  return "";
}

std::string header_value(std::istream& in, const std::string& key) {
  std::string line;
  std::getline(in, line);
  const std::string prefix = "# " + key + ": ";
  return line.starts_with(prefix) ? line.substr(prefix.size()) : "";
}

// A scratch folder removed at scope exit.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "phaseless_loader_XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = made;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("model_loader: every bad model is rejected with its message and position") {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(models_dir / "bad")) {
    if (e.path().extension() == ".textproto") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  CHECK(files.size() >= 18);
  for (const fs::path& file : files) {
    std::ifstream in(file);
    const std::string expect = header_value(in, "expect");
    const std::string wrong = header_value(in, "wrong");
    const std::string at = header_value(in, "at");
    INFO("model: ", file.filename().string(), " (", wrong, ")");
    REQUIRE_FALSE(expect.empty());
    REQUIRE_FALSE(at.empty());
    const std::string msg = load_error(file);
    INFO("message:\n", msg);
    CHECK(contains(msg, expect));
    CHECK(contains(msg, file.filename().string()));
    // The line carrying the expected problem must start with the file and its position.
    const std::string where = file.string() + (at == "none" ? ": " : ":" + at + ": ");
    CHECK(line_with(msg, expect).starts_with(where));
  }
}

TEST_CASE("model_loader: the minimal model loads and its defaults are filled") {
  const auto m = load_model(minimal);
  const v1::Model& x = m.model;
  CHECK(m.path == minimal);
  CHECK(m.dir == minimal.parent_path());
  CHECK(contains(m.text, "schema_version: 1"));
  REQUIRE(x.populations_size() == 3);
  CHECK(x.populations(0).activation() == v1::IDENTITY);
  CHECK(x.populations(1).activation() == v1::RELU);
  CHECK(x.populations(2).activation() == v1::IDENTITY);
  REQUIRE(x.projections_size() == 2);
  const v1::Projection& w1 = x.projections(0);
  const v1::Projection& w2 = x.projections(1);
  CHECK(w1.has_dense());
  CHECK(w1.init().law() == v1::XAVIER_UNIFORM);
  CHECK(w1.init().scale() == 1.0);  // gain 0 -> 1
  CHECK(w1.bias_init().law() == v1::XAVIER_UNIFORM);  // post h1 has a bias: same law as init
  CHECK(w2.init().law() == v1::UNIFORM_FAN_IN);
  CHECK(w1.delay().constant().ticks() == 1);
  CHECK(w2.delay().uniform().max() == 3);
  CHECK(w1.feedback().kind() == v1::NONE);  // pre is the clamped input
  CHECK(w2.feedback().kind() == v1::SYMMETRIC);
  CHECK(w2.feedback().delay().uniform().min() == 1);  // copy of the forward delay
  CHECK(w2.feedback().delay().uniform().max() == 3);
  CHECK(x.rule().loss() == v1::SOFTMAX_CE);
  CHECK(x.rule().zil().gamma() == 1.0);
  CHECK(x.data().pixel_scale() == doctest::Approx(1.0 / 255.0));
  CHECK(x.schedule().epochs() == 2);
  CHECK(x.schedule().batch_size() == 1);
  CHECK(x.schedule().eval_every() == 0);  // left for the runner
  CHECK(x.execution().mode() == v1::DATAFLOW);
  CHECK(x.execution().precision() == v1::FLOAT32);
  CHECK(x.execution().threads() == 1);
  CHECK(x.record().flush_every() == 1000);
}

TEST_CASE("model_loader: apply_defaults is idempotent and never invents a schema version") {
  v1::Model once = load_model(minimal).model;
  v1::Model twice = once;
  phaseless::io::apply_defaults(twice);
  CHECK(google::protobuf::util::MessageDifferencer::Equals(once, twice));
  v1::Model empty;
  phaseless::io::apply_defaults(empty);
  CHECK(empty.schema_version() == 0);
  CHECK(empty.schedule().epochs() == 1);
  v1::Model again = empty;
  phaseless::io::apply_defaults(again);
  CHECK(google::protobuf::util::MessageDifferencer::Equals(empty, again));
}

TEST_CASE("model_loader: resolve_data_path") {
  phaseless::io::loaded_model m;
  m.dir = "/models/here";
  using phaseless::io::resolve_data_path;
  CHECK(resolve_data_path(m, "$FASHION_MNIST/train-images-idx3-ubyte.gz") ==
        fs::path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"));
  CHECK(resolve_data_path(m, "$FASHION_MNIST") == fs::path("/usr/share/datasets/fashion-mnist"));
  CHECK(resolve_data_path(m, "/abs/x.idx") == fs::path("/abs/x.idx"));
  CHECK(resolve_data_path(m, "../data/x") == fs::path("/models/here/../data/x"));
  CHECK(resolve_data_path(m, "$FASHION_MNISTx") == fs::path("/models/here/$FASHION_MNISTx"));
}

TEST_CASE("model_loader: an unreadable model file is a user_error naming it") {
  const fs::path missing = models_dir / "no-such-model.textproto";
  CHECK(load_error(missing) == missing.string() + ": cannot read model file: No such file or directory");
  CHECK(contains(load_error(models_dir / "good"), "cannot read model file: it is a directory"));
}

TEST_CASE("model_loader: every problem of a model is listed, one per line") {
  temp_dir tmp;
  std::string text = read_file(minimal);
  // Absolute data paths: the copy lives in a temp folder, away from ../data.
  const std::string data = (models_dir / "data").string();
  for (std::string::size_type p; (p = text.find("\"../data")) != std::string::npos;) text.replace(p + 1, 7, data);
  const auto good = tmp.write("ok.textproto", text);
  CHECK_NOTHROW(load_model(good));

  text.replace(text.find("lr: 0.05"), 8, "lr: -1");
  text.replace(text.find("epochs: 2"), 9, "epochs: 2 batch_size: 0");  // defaulted: not an error
  text += "execution { threshold: 0.5 threads: 300 }\n";
  const auto bad = tmp.write("bad.textproto", text);
  const std::string msg = load_error(bad);
  INFO(msg);
  CHECK(std::count(msg.begin(), msg.end(), '\n') == 2);
  CHECK(contains(msg, "rule.zil.lr: is negative"));
  CHECK(contains(msg, "execution.threshold: 0.5 > 0 only applies in EAGER mode"));
  CHECK(contains(msg, "execution.threads: 300 is too many"));
}

TEST_CASE("model_loader: --set overrides scalars, enums, oneofs and name-keyed elements") {
  const auto m = load_model(minimal, {
      "schedule.epochs=5",
      "execution.mode=eager",
      "execution.threshold=0.01",  // allowed now that the mode is EAGER
      "data.shuffle=1",
      "rule.zil.lr=+0.2",
      "name=renamed model",
      "populations[1].size=16",
      "populations[out].activation=Identity",
      "seed=18446744073709551615",
      "projections[w1].sparse.p=0.5",
      "projections[w2].delay.constant.ticks=4",
      "record.populations[0]=out",
  });
  const v1::Model& x = m.model;
  CHECK(x.schedule().epochs() == 5);
  CHECK(x.execution().mode() == v1::EAGER);
  CHECK(x.execution().threshold() == 0.01);
  CHECK(x.data().shuffle());
  CHECK(x.rule().zil().lr() == 0.2);
  CHECK(x.name() == "renamed model");
  CHECK(x.populations(1).size() == 16);
  CHECK(x.seed() == 18446744073709551615ull);
  CHECK(x.projections(0).has_sparse());  // the oneof member switched from dense
  CHECK_FALSE(x.projections(0).has_dense());
  CHECK(x.projections(0).sparse().p() == 0.5);
  CHECK(x.projections(1).delay().has_constant());  // switched from uniform
  CHECK_FALSE(x.projections(1).delay().has_uniform());
  CHECK(x.projections(1).delay().constant().ticks() == 4);
  CHECK(x.record().populations(0) == "out");
  CHECK(m.overrides.size() == 12);

  // Name-keyed and numeric paths reach the same element; a message value takes text format.
  const auto y = load_model(minimal, {"populations[h1].size=24", "projections[1].sparse={ p: 0.25 }",
                                      "projections[w1].init={law: NORMAL scale: 0.1}"});
  CHECK(y.model.populations(1).size() == 24);
  CHECK(y.model.projections(1).sparse().p() == 0.25);
  CHECK(y.model.projections(0).init().law() == v1::NORMAL);
}

TEST_CASE("model_loader: --set mistakes are user_errors naming the path and the choices") {
  auto err = [](const std::string& set) { return load_error(minimal, {set}); };
  CHECK(err("schedule.epoch=3") ==
        "--set schedule.epoch: no field 'epoch' in phaseless.v1.Schedule; fields are: epochs, batch_size, "
        "presentation_interval, eval_every, max_samples");
  CHECK(contains(err("schedule.epochs=abc"), "--set schedule.epochs: 'abc' is not an integer"));
  CHECK(contains(err("schedule.epochs=-1"), "--set schedule.epochs: '-1': epochs is unsigned, so it cannot be negative"));
  CHECK(contains(err("schedule.epochs=99999999999"), "is out of range for epochs (uint32); allowed: 0 to 4294967295"));
  CHECK(contains(err("rule.zil.lr=fast"), "'fast' is not a number"));
  CHECK(contains(err("data.shuffle=maybe"), "'maybe' is not a boolean; allowed: true, false, 1, 0"));
  CHECK(contains(err("execution.mode=fast"), "'fast' is not a phaseless.v1.Mode; allowed: DATAFLOW, EAGER"));
  CHECK(contains(err("populations[7].size=1"), "--set populations[7].size: index 7 is out of range: populations has 3 elements (0 to 2)"));
  CHECK(contains(err("populations[h9].size=1"), "no element of populations is named 'h9'; names are: in, h1, out"));
  CHECK(contains(err("populations.size=1"), "populations is a list; pick one element with populations[N] or populations[NAME]"));
  CHECK(contains(err("schedule[0].epochs=1"), "schedule is not a list"));
  CHECK(contains(err("schedule.epochs.x=1"), "epochs is a uint32, so it has no field 'x'"));
  CHECK(contains(err("schedule.epochs"), "--set schedule.epochs: expected PATH=VALUE"));
  CHECK(contains(err("projections[w1].sparse={ q: 1 }"), "no field named \"q\""));
  // Several bad overrides are reported together.
  const std::string both = load_error(minimal, {"schedule.epoch=1", "seed=x"});
  CHECK(contains(both, "--set schedule.epoch:"));
  CHECK(contains(both, "\n--set seed:"));
}

TEST_CASE("model_loader: semantic problems in overridden fields cite the --set argument") {
  auto err = [](const std::string& set) { return load_error(minimal, {set}); };
  CHECK(err("rule.zil.lr=nan") == "--set rule.zil.lr: rule.zil.lr: is NaN; allowed: a finite number > 0, e.g. 0.01");
  CHECK(contains(err("rule.zil.lr=-inf"), "--set rule.zil.lr: rule.zil.lr: is infinite (-inf)"));
  CHECK(contains(err("rule.zil.lr=1e999"), "rule.zil.lr: is infinite (inf)"));
  CHECK(contains(err("projections[w2].delay.constant.ticks=0"),
                 "--set projections[w2].delay.constant.ticks: projections[1].delay.constant.ticks: zero delay is not allowed"));
  CHECK(contains(err("projections[w2].delay={uniform {min: 0 max: 2}}"),
                 "--set projections[w2].delay: projections[1].delay.uniform.min: zero delay"));
  CHECK(contains(err("populations[in].size=784"), "--set populations[in].size: populations[0].size: the INPUT population"));
}

TEST_CASE("model_loader: validate_model re-derives file positions for a loaded model") {
  auto m = load_model(minimal);
  m.model.mutable_rule()->mutable_zil()->set_lr(std::nan(""));
  // The line and column of `lr:` in the file, 1-based.
  const auto pos = m.text.find("lr: 0.05");
  const auto line = std::count(m.text.begin(), m.text.begin() + static_cast<std::ptrdiff_t>(pos), '\n') + 1;
  const auto col = pos - m.text.rfind('\n', pos);
  const std::string msg = error_of([&] { phaseless::io::validate_model(m); });
  CHECK(msg == minimal.string() + ":" + std::to_string(line) + ":" + std::to_string(col) +
                   ": rule.zil.lr: is NaN; allowed: a finite number > 0, e.g. 0.01");
}

TEST_CASE("model_loader: $FASHION_MNIST paths validate against the Debian package's gzip files") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz")) {
    MESSAGE("dataset-fashion-mnist is not installed; skipping");
    return;
  }
  temp_dir tmp;
  const std::string text = R"(schema_version: 1
populations { name: "in" role: INPUT size: 784 }
populations { name: "out" role: OUTPUT size: 10 }
projections { name: "w" pre: "in" post: "out" }
rule { zil { lr: 0.01 } }
data { idx {
  train_images: "$FASHION_MNIST/train-images-idx3-ubyte.gz"
  train_labels: "$FASHION_MNIST/train-labels-idx1-ubyte.gz"
  test_images: "$FASHION_MNIST/t10k-images-idx3-ubyte.gz"
  test_labels: "$FASHION_MNIST/t10k-labels-idx1-ubyte.gz"
} }
)";
  const auto file = tmp.write("fashion.textproto", text);
  CHECK_NOTHROW(load_model(file));
  const std::string msg = load_error(file, {"data.train_subset=70000", "populations[in].size=100"});
  CHECK(contains(msg, "--set data.train_subset: data.train_subset: 70000 exceeds the 60000 samples"));
  CHECK(contains(msg, "holds 28x28 = 784 pixels per image; allowed: 784"));
}

// ---- Graph features: the layouts network_builder gives conv, shared biases, unrolling ----

namespace {

using phaseless::core::network_spec;
using phaseless::core::projection_spec;

network_spec build(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  return phaseless::io::build_network_spec(load_model(file, overrides).model);
}

const projection_spec& projection(const network_spec& s, const std::string& name) {
  for (const auto& p : s.projections)
    if (p.name == name) return p;
  FAIL("no projection " << name);
  throw std::logic_error("unreachable");
}

int population(const network_spec& s, const std::string& name) {
  for (std::size_t v = 0; v < s.populations.size(); ++v)
    if (s.populations[v].name == name) return static_cast<int>(v);
  return -1;
}

// Every shared weight and bias starts at its parameter's value; members name their tie.
void check_ties(const network_spec& s) {
  for (const auto& p : s.projections) {
    if (p.tie < 0) {
      CHECK(p.param.empty());
      continue;
    }
    INFO("projection ", p.name);
    REQUIRE(p.tie < static_cast<int>(s.ties.size()));
    const auto& theta = s.ties[p.tie].theta;
    REQUIRE(p.param.size() == p.syn.w.size());
    for (std::size_t k = 0; k < p.param.size(); ++k) {
      REQUIRE(p.param[k] < theta.size());
      CHECK(p.syn.w[k] == theta[p.param[k]]);
    }
    CHECK((p.name == s.ties[p.tie].name || p.name.starts_with(s.ties[p.tie].name + "@")));
  }
  for (const auto& q : s.populations) {
    if (q.bias_tie < 0) {
      CHECK(q.bias_param.empty());
      continue;
    }
    INFO("population ", q.name);
    const auto& t = s.ties[q.bias_tie];
    REQUIRE(q.bias_param.size() == q.size);
    REQUIRE(q.b.size() == q.size);
    for (std::size_t i = 0; i < q.size; ++i) CHECK(q.b[i] == t.theta[q.bias_param[i]]);
  }
}

}  // namespace

TEST_CASE("network_builder: a model without graph features has no ties and plastic projections") {
  const network_spec s = build(minimal);
  CHECK(s.ties.empty());
  for (const auto& p : s.projections) {
    CHECK(p.plastic);
    CHECK(p.tie == -1);
  }
  for (const auto& q : s.populations) CHECK(q.bias_tie == -1);
  CHECK(s.populations[1].b.size() == 8);
}

TEST_CASE("network_builder: a padded, strided conv matches a brute-force enumeration") {
  temp_dir tmp;
  // in 2x5x4, kernel 3, stride 2, padding 1: H_out = (5 + 2 - 3) / 2 + 1 = 3, W_out = (4 + 2 - 3) / 2 + 1 = 2.
  const auto file = tmp.write("conv.textproto", R"(schema_version: 1
populations { name: "in" role: INPUT size: 40 shape { channels: 2 height: 5 width: 4 } }
populations { name: "c" role: HIDDEN size: 18 activation: TANH bias: true shape { channels: 3 height: 3 width: 2 } }
populations { name: "out" role: OUTPUT size: 2 }
projections { name: "k" pre: "in" post: "c" conv { kernel: 3 stride: 2 padding: 1 } lr_scale: 0.5 weight_decay: 0.01 }
projections { name: "w" pre: "c" post: "out" }
rule { loss: MSE zil { lr: 0.1 } }
data { teacher { kind: LINEAR inputs: 40 outputs: 2 train_samples: 4 } }
)");
  const network_spec s = build(file);
  const projection_spec& k = projection(s, "k");
  const int Cin = 2, H = 5, W = 4, Cout = 3, Ho = 3, Wo = 2, K = 3, S = 2, P = 1;
  // Expected synapses by walking every (post, pre) pair: pre (ci, iy, ix) is in the window
  // of post (co, oy, ox) when its kernel offset iy - (oy S - P) lies in [0, K), same for x.
  std::map<int, std::vector<std::pair<int, int>>> want;   // row -> (col, param), cols ascending
  for (int co = 0; co < Cout; ++co)
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox)
        for (int ci = 0; ci < Cin; ++ci)
          for (int iy = 0; iy < H; ++iy)
            for (int ix = 0; ix < W; ++ix) {
              const int ky = iy - (oy * S - P), kx = ix - (ox * S - P);
              if (ky < 0 || ky >= K || kx < 0 || kx >= K) continue;
              want[(co * Ho + oy) * Wo + ox].push_back({(ci * H + iy) * W + ix, ((co * Cin + ci) * K + ky) * K + kx});
            }
  CHECK_FALSE(k.syn.dense);
  REQUIRE(k.syn.n_post == 18);
  REQUIRE(k.syn.n_pre == 40);
  std::size_t total = 0;
  for (int i = 0; i < 18; ++i) {
    INFO("row ", i);
    const auto& row = want[i];
    REQUIRE(k.syn.row_end(i) - k.syn.row_begin(i) == row.size());
    for (std::size_t n = 0; n < row.size(); ++n) {
      CHECK(k.syn.col[k.syn.row_begin(i) + n] == static_cast<unsigned>(row[n].first));
      CHECK(k.param[k.syn.row_begin(i) + n] == static_cast<unsigned>(row[n].second));
    }
    total += row.size();
  }
  CHECK(k.syn.w.size() == total);
  CHECK(total == 210);   // per channel pair, (2 + 3 + 2) rows x (2 + 3) columns of taps inside the padding
  REQUIRE(k.tie >= 0);
  const auto& t = s.ties[k.tie];
  CHECK(t.name == "k");
  CHECK(t.theta.size() == std::size_t(Cout * Cin * K * K));
  CHECK(t.lr_scale == 0.5);
  CHECK(t.weight_decay == 0.01);
  for (double x : t.theta) CHECK(std::abs(x) <= 1 / std::sqrt(18.0));   // UNIFORM_FAN_IN, fan_in Cin K K
  CHECK(std::set<double>(t.theta.begin(), t.theta.end()).size() == t.theta.size());
  // The bias of c: one per channel, shared by its 3x2 positions.
  const auto& c = s.populations[population(s, "c")];
  REQUIRE(c.bias_tie >= 0);
  CHECK(s.ties[c.bias_tie].name == "c.bias");
  CHECK(s.ties[c.bias_tie].theta.size() == 3);
  for (unsigned i = 0; i < 18; ++i) CHECK(c.bias_param[i] == i / 6);
  CHECK(c.b[0] == c.b[5]);
  CHECK(c.b[0] != c.b[6]);
  check_ties(s);
}

TEST_CASE("network_builder: the tiny CNN, with feedback alignment on a conv") {
  const network_spec s = build(models_dir / "good" / "graph_cnn.textproto", {"projections[k2].feedback.kind=RANDOM"});
  REQUIRE(s.populations.size() == 4);
  const auto& k1 = projection(s, "k1");
  const auto& k2 = projection(s, "k2");
  CHECK(k1.syn.w.size() == 3 * 22 * 22);   // 22 = 2 + 6 * 3 + 2 valid taps along each side of 8 with padding 1
  CHECK(k2.syn.w.size() == 4 * 9 * 27);    // no padding: every window is full
  CHECK(s.ties[k1.tie].theta.size() == 27);
  CHECK(s.ties[k2.tie].theta.size() == 108);
  CHECK(s.ties[s.populations[1].bias_tie].theta.size() == 3);
  CHECK(s.ties[s.populations[2].bias_tie].theta.size() == 4);
  CHECK(projection(s, "w3").tie == -1);
  // B: per synapse, untied, the layout of W.
  CHECK(k2.feedback == phaseless::core::feedback_kind::random);
  CHECK(k2.b.col == k2.syn.col);
  CHECK(k2.b.w.size() == k2.syn.w.size());
  CHECK(k2.b.w != k2.syn.w);
  check_ties(s);
}

TEST_CASE("network_builder: an unrolled RNN becomes steps, tied copies and a many-to-one readout") {
  const network_spec s = build(models_dir / "good" / "graph_rnn.textproto");
  std::vector<std::string> names;
  for (const auto& p : s.populations) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"in", "h@1", "h@2", "h@3", "out"});
  CHECK(s.topo == std::vector<phaseless::core::pop_t>{0, 1, 2, 3, 4});
  std::vector<std::tuple<std::string, std::string, std::string>> links;
  for (const auto& p : s.projections) links.emplace_back(p.name, s.populations[p.pre].name, s.populations[p.post].name);
  using L = std::tuple<std::string, std::string, std::string>;
  CHECK(links == std::vector<L>{{"wx@1", "in", "h@1"}, {"wx@2", "in", "h@2"}, {"wh@2", "h@1", "h@2"},
                                {"wx@3", "in", "h@3"}, {"wh@3", "h@2", "h@3"}, {"wo", "h@3", "out"}});
  const int wx = projection(s, "wx@1").tie, wh = projection(s, "wh@2").tie;
  REQUIRE(wx >= 0);
  REQUIRE(wh >= 0);
  CHECK(s.ties[wx].name == "wx");
  CHECK(s.ties[wx].theta.size() == 5 * 4);   // n_post x step_slice, post-major
  CHECK(s.ties[wh].name == "wh");
  CHECK(s.ties[wh].theta.size() == 25);
  for (int t = 1; t <= 3; ++t) {
    const auto& x = projection(s, "wx@" + std::to_string(t));
    CHECK(x.tie == wx);
    CHECK_FALSE(x.syn.dense);
    CHECK(x.syn.n_pre == 12);
    for (unsigned i = 0; i < 5; ++i)
      for (unsigned j = 0; j < 4; ++j) {
        const auto k = x.syn.row_begin(i) + j;
        CHECK(x.syn.col[k] == (t - 1) * 4 + j);   // step t reads in[(t-1) 4, t 4)
        CHECK(x.param[k] == i * 4 + j);
      }
  }
  for (int t = 2; t <= 3; ++t) {
    const auto& h = projection(s, "wh@" + std::to_string(t));
    CHECK(h.tie == wh);
    CHECK(h.syn.dense);
    for (std::size_t k = 0; k < h.param.size(); ++k) CHECK(h.param[k] == k);
  }
  const auto& wo = projection(s, "wo");
  CHECK(wo.tie == -1);
  CHECK(wo.syn.dense);
  // One bias for every step.
  const int bias = s.populations[1].bias_tie;
  REQUIRE(bias >= 0);
  CHECK(s.ties[bias].name == "h.bias");
  CHECK(s.ties[bias].theta.size() == 5);
  for (int v = 1; v <= 3; ++v) {
    CHECK(s.populations[v].bias_tie == bias);
    CHECK(s.populations[v].bias_param == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
    CHECK(s.populations[v].b == s.ties[bias].theta);
  }
  CHECK(s.populations[4].bias_tie == -1);
  check_ties(s);
}

TEST_CASE("network_builder: each step's copy draws its own delays") {
  const network_spec s = build(models_dir / "good" / "graph_rnn.textproto",
                               {"projections[wh].delay={uniform {min: 1 max: 9}}"});
  const auto& a = projection(s, "wh@2");
  const auto& b = projection(s, "wh@3");
  REQUIRE(a.forward.klass.size() == 25);
  REQUIRE(b.forward.klass.size() == 25);
  CHECK(a.forward.klass != b.forward.klass);
}

TEST_CASE("network_builder: product vertices, one-to-one relays and fixed projections") {
  const network_spec s = build(models_dir / "good" / "graph_product.textproto");
  using phaseless::core::combine_kind;
  CHECK(s.populations[population(s, "p")].combine == combine_kind::product);
  CHECK(s.populations[population(s, "a")].combine == combine_kind::sum);
  for (const char* name : {"ra", "rb", "skip"}) {
    const auto& r = projection(s, name);
    INFO(name);
    CHECK_FALSE(r.plastic);
    CHECK(r.tie == -1);
    CHECK_FALSE(r.syn.dense);
    REQUIRE(r.syn.w.size() == 3);
    for (unsigned i = 0; i < 3; ++i) {
      CHECK(r.syn.row_end(i) - r.syn.row_begin(i) == 1);
      CHECK(r.syn.col[i] == i);
      CHECK(r.syn.w[i] == 1.0);   // CONSTANT 1: an identity relay
    }
  }
  CHECK(projection(s, "wo").plastic);
  CHECK(s.ties.empty());
}

TEST_CASE("network_builder: attention from a model file: operand and rows layouts") {
  // q, k, v, z: (4, 1, 3) = 4 x 3 matrices, entry [c, t] = neuron 3c + t; S, A: 3 x 3.
  const network_spec s = build(models_dir / "good" / "zil_graph" / "attention.textproto");
  using phaseless::core::combine_kind;
  CHECK(s.populations[population(s, "S")].combine == combine_kind::bilinear);
  CHECK(s.populations[population(s, "A")].combine == combine_kind::softmax);
  CHECK(s.populations[population(s, "z")].combine == combine_kind::bilinear);
  CHECK_NOTHROW(phaseless::core::check_vertices(s));
  CHECK(s.ties.size() == 3);   // the three 1x1 conv kernels
  auto row = [](const projection_spec& p, unsigned i) {
    std::vector<unsigned> cols;
    for (auto k = p.syn.row_begin(i); k < p.syn.row_end(i); ++k) cols.push_back(p.syn.col[k]);
    return cols;
  };
  for (const char* name : {"sq", "sk", "sa", "zv", "za"}) {
    const auto& p = projection(s, name);
    INFO(name);
    CHECK_FALSE(p.plastic);
    CHECK(p.tie == -1);
    CHECK_FALSE(p.syn.dense);
    for (double w : p.syn.w) CHECK(w == (std::string(name) == "sq" ? 0.5 : 1.0));
  }
  // S = q^T k: neuron (r, c) = (1, 2) = 5 reads q^T[1, m] = q[m, 1] and k[m, 2], m = 0..3.
  CHECK(row(projection(s, "sq"), 5) == std::vector<unsigned>{1, 4, 7, 10});
  CHECK(row(projection(s, "sk"), 5) == std::vector<unsigned>{2, 5, 8, 11});
  // A = softmax over the rows of S: neuron (2, 1) = 7 reads row 2 of S.
  CHECK(row(projection(s, "sa"), 7) == std::vector<unsigned>{6, 7, 8});
  // z = v A^T: neuron (2, 1) = 7 reads v[2, m] and A^T[m, 1] = A[1, m], m = 0..2.
  CHECK(row(projection(s, "zv"), 7) == std::vector<unsigned>{6, 7, 8});
  CHECK(row(projection(s, "za"), 7) == std::vector<unsigned>{3, 4, 5});
}

TEST_CASE("model_loader: graph models keep model names for --set and step names for record") {
  const fs::path rnn = models_dir / "good" / "graph_rnn.textproto";
  const network_spec s = build(rnn, {"populations[h].size=7"});
  CHECK(s.populations[2].size == 7);
  CHECK(contains(load_error(rnn, {"populations[h].unroll=4"}),
                 "projections[0].step_slice: step_slice 4 x 4 steps of 'h' = 16 neurons, "
                 "but the pre population 'in' has 12; allowed: 3 (step_slice * steps = size of 'in')"));
  CHECK(contains(load_error(rnn, {"record.populations[0]=h@4"}),
                 "no population named 'h@4'; known populations: in, h@1, h@2, h@3, out"));
  CHECK(contains(load_error(rnn, {"rule={dp {optimizer {lr: 0.001}}}"}), "unroll is supported by rule zil only, but the rule is dp"));
}
