// Model loader: the bad-model table (tests/models/bad), --set overrides, defaults.
// Each bad model starts with three comment lines the table test reads:
//   # expect: <fragment of the error message>
//   # wrong: <what is wrong, for the reader>
//   # at: <LINE:COL of the offending field, or "none" when no position applies>
#include <doctest/doctest.h>
#include <unistd.h>

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
#include "sim/rules/il.hpp"

#ifndef PHASELESS_SOURCE_DIR
#error "PHASELESS_SOURCE_DIR must name the repository root"
#endif

#include "tests/support/data_files.hpp"
#include "tests/support/loader_support.hpp"

using namespace phaseless::test::loader;

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
  CHECK(contains(msg, "rule.zil.optimizer.lr: is negative"));
  CHECK(contains(msg, "execution.threshold: 0.5 > 0 only applies in EAGER mode"));
  CHECK(contains(msg, "execution.threads: 300 is too many"));
}

TEST_CASE("model_loader: --set overrides scalars, enums, oneofs and name-keyed elements") {
  const auto m = load_model(minimal, {
      "schedule.epochs=5",
      "execution.mode=eager",
      "execution.threshold=0.01",  // allowed now that the mode is EAGER
      "data.shuffle=1",
      "rule.zil.optimizer.lr=+0.2",
      "name=renamed model",
      "populations[1].size=16",
      "populations[out].activation=Identity",
      "seed=18446744073709551615",
      "projections[w1].connectivity=sparse",   // a oneof switches only when asked to
      "projections[w1].sparse.p=0.5",
      "projections[w2].delay.law=constant",
      "projections[w2].delay.constant.ticks=4",
      "record.populations[0]=in",
  });
  const v1::Model& x = m.model;
  CHECK(x.schedule().epochs() == 5);
  CHECK(x.execution().mode() == v1::EAGER);
  CHECK(x.execution().threshold() == 0.01);
  CHECK(x.data().shuffle());
  CHECK(x.rule().zil().optimizer().lr() == 0.2);
  CHECK(x.name() == "renamed model");
  CHECK(x.populations(1).size() == 16);
  CHECK(x.seed() == 18446744073709551615ull);
  CHECK(x.projections(0).has_sparse());  // the oneof member switched from dense
  CHECK_FALSE(x.projections(0).has_dense());
  CHECK(x.projections(0).sparse().p() == 0.5);
  CHECK(x.projections(1).delay().has_constant());  // switched from uniform
  CHECK_FALSE(x.projections(1).delay().has_uniform());
  CHECK(x.projections(1).delay().constant().ticks() == 4);
  CHECK(x.record().populations(0) == "in");
  CHECK(m.overrides.size() == 14);

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
  CHECK(contains(err("rule.zil.optimizer.lr=fast"), "'fast' is not a number"));
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
  CHECK(err("rule.zil.optimizer.lr=nan") ==
        "--set rule.zil.optimizer.lr: rule.zil.optimizer.lr: is NaN; allowed: a finite number > 0, e.g. 0.001");
  CHECK(contains(err("rule.zil.optimizer.lr=-inf"), "--set rule.zil.optimizer.lr: rule.zil.optimizer.lr: is infinite (-inf)"));
  CHECK(contains(err("rule.zil.optimizer.lr=1e999"), "rule.zil.optimizer.lr: is infinite (inf)"));
  // The old form of the rate says what to write instead.
  CHECK(contains(err("rule.zil.lr=0.1"), "rule.zil.lr: is the old form; every rule now takes its rate in its "
                                         "optimizer block: write zil { optimizer { lr: 0.1 } }"));
  CHECK(contains(err("projections[w2].delay.constant.ticks=0"),
                 "--set projections[w2].delay.constant.ticks: projections[1].delay.constant.ticks: zero delay is not allowed"));
  CHECK(contains(err("projections[w2].delay={uniform {min: 0 max: 2}}"),
                 "--set projections[w2].delay: projections[1].delay.uniform.min: zero delay"));
  CHECK(contains(err("populations[in].size=784"), "--set populations[in].size: populations[0].size: the INPUT population"));
}

TEST_CASE("model_loader: validate_model re-derives file positions for a loaded model") {
  auto m = load_model(minimal);
  m.model.mutable_rule()->mutable_zil()->mutable_optimizer()->set_lr(std::nan(""));
  // The line and column of `lr:` in the file, 1-based.
  const auto pos = m.text.find("lr: 0.05");
  const auto line = std::count(m.text.begin(), m.text.begin() + static_cast<std::ptrdiff_t>(pos), '\n') + 1;
  const auto col = pos - m.text.rfind('\n', pos);
  const std::string msg = error_of([&] { phaseless::io::validate_model(m); });
  CHECK(msg == minimal.string() + ":" + std::to_string(line) + ":" + std::to_string(col) +
                   ": rule.zil.optimizer.lr: is NaN; allowed: a finite number > 0, e.g. 0.001");
}

TEST_CASE("model_loader: $FASHION_MNIST paths validate against the Debian package's gzip files") {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  REQUIRE_MESSAGE(fs::exists(dir / "train-images-idx3-ubyte.gz"),
                  "dataset-fashion-mnist is missing: run tools/setup-deps.sh");
  temp_dir tmp;
  const std::string text = R"(schema_version: 1
populations { name: "in" role: INPUT size: 784 }
populations { name: "out" role: OUTPUT size: 10 }
projections { name: "w" pre: "in" post: "out" }
rule { zil { optimizer { lr: 0.01 } } }
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

TEST_CASE("model_loader: IL-Adam and IL-prox Adam are optimizer blocks, filled like every rule's") {
  using phaseless::rules::il_optimizer;
  using phaseless::rules::optimizer_kind;
  auto learning = [](const std::string& rule) {
    return phaseless::io::build_network_spec(load_model(minimal, {"rule={" + rule + "}"}).model).learning;
  };
  // Without a block: IL is plain SGD at lr; IL-prox is the normalized step (rate 1 on G/nu).
  const auto il_sgd = il_optimizer(learning("il {optimizer { lr: 0.03 }}"));
  CHECK(il_sgd.kind == optimizer_kind::sgd);
  CHECK(il_sgd.lr == 0.03);
  CHECK(il_sgd.stateless());
  const auto prox = il_optimizer(learning("il_prox {alpha: 2.5}"));
  CHECK(prox.kind == optimizer_kind::sgd);
  CHECK(prox.lr == 1.0);
  // IL-Adam (spec §5: Adam 1e-5, n 0.95) and IL-prox Adam (3e-5): torch's Adam defaults filled.
  const auto il_adam = il_optimizer(learning("il {clamp: 0.95 optimizer {kind: ADAM lr: 1e-5}}"));
  CHECK(il_adam.kind == optimizer_kind::adam);
  CHECK(il_adam.lr == 1e-5);
  CHECK(il_adam.beta1 == 0.9);
  CHECK(il_adam.beta2 == 0.999);
  CHECK(il_adam.eps == 1e-8);
  const auto prox_adam = il_optimizer(learning("il_prox {alpha: 100 eps_n: 5 optimizer {kind: ADAM lr: 3e-5}}"));
  CHECK(prox_adam.kind == optimizer_kind::adam);
  CHECK(prox_adam.lr == 3e-5);
  // The optimizer block carries the rate; without it nothing is learned; a bad block is named.
  CHECK(load_error(minimal, {"rule={il {optimizer {kind: ADAM lr: 1e-5}}}"}) == "<no user_error thrown>");
  CHECK(contains(load_error(minimal, {"rule={il {}}"}), "rule.il.optimizer: missing"));
  CHECK(contains(load_error(minimal, {"rule={il {optimizer {kind: ADAM lr: 0}}}"}), "rule.il.optimizer.lr"));
}

TEST_CASE("model_loader: every model shipped in models/ loads, validates and builds") {
  // The models read Fashion-MNIST from the Debian package that the setup step installs.
  REQUIRE_MESSAGE(fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"),
                  "dataset-fashion-mnist is missing: run tools/setup-deps.sh");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(PHASELESS_SOURCE_DIR) / "models"))
    if (e.path().extension() == ".textproto") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  CHECK(files.size() >= 17);
  // CIFAR-10 is not available offline: such models read generated batches of its format.
  const fs::path cifar = fs::temp_directory_path() / ("phaseless_cifar_" + std::to_string(::getpid()));
  phaseless::test::data::write_cifar10(cifar, 2);
  for (const fs::path& file : files) {
    INFO("model: ", file.filename().string());
    std::ifstream in(file);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> sets;
    if (text.find("cifar10 {") != std::string::npos) sets.push_back("data.cifar10.dir=" + cifar.string());
    CHECK(error_of([&] { phaseless::io::build_network_spec(load_model(file, sets).model); }) == "<no user_error thrown>");
  }
  fs::remove_all(cifar);
}
