// The loader's limits: the error list stays short on a generated model with thousands
// of problems, and the sample order is drawn only as far as max_samples reaches.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "sim/io/session.hpp"
#include "tests/support/loader_support.hpp"

using namespace phaseless::test::loader;

TEST_CASE("model_loader: 3000 problems print the first 50 and a count, each line short") {
  temp_dir tmp;
  std::string text = "schema_version: 1\n";
  for (int i = 0; i < 3000; ++i)
    text += "populations { name: \"p" + std::to_string(i) + "\" role: HIDDEN size: 1 }\n";
  for (int i = 0; i < 3000; ++i)
    text += "projections { name: \"w" + std::to_string(i) + "\" pre: \"p" + std::to_string(i) + "\" post: \"q" +
            std::to_string(i) + "\" }\n";
  const auto file = tmp.write("many.textproto", text);
  const std::string msg = load_error(file);
  std::istringstream in(msg);
  int lines = 0;
  std::string line, last;
  std::size_t longest = 0;
  while (std::getline(in, line)) ++lines, last = line, longest = std::max(longest, line.size());
  CHECK(lines == 51);
  // Each "no population named" line lists 20 known names and the count, not all 3000.
  CHECK(longest < 400);
  CHECK(msg.size() < 16000);   // was quadratic: every line listed every population
  CHECK(contains(line_with(msg, "projections[0].post"),
                 "no population named 'q0'; known populations: p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, "
                 "p13, p14, p15, p16, p17, p18, p19, ... (3000 in all)"));
  // 3000 unknown posts, no INPUT, no OUTPUT, no rule, no data, ...: the count names what was left out.
  CHECK(last.starts_with(file.string() + ": and "));
  CHECK(contains(last, " more problems (the first 50 are listed; fix them and validate again)"));
}

TEST_CASE("sample_order: 1e6 epochs with max_samples 100 draw 100 entries, the same as 2 epochs would") {
  v1::Model m;
  m.mutable_data()->set_shuffle(true);
  m.set_seed(11);
  m.mutable_schedule()->set_max_samples(100);
  m.mutable_schedule()->set_epochs(1'000'000);
  const auto many = phaseless::io::sample_order(m, 60'000);   // every epoch drawn first: 480 GB
  CHECK(many.size() == 100);
  m.mutable_schedule()->set_epochs(2);
  CHECK(phaseless::io::sample_order(m, 60'000) == many);
  m.mutable_schedule()->set_max_samples(0);
  m.mutable_schedule()->set_epochs(3);
  const auto all = phaseless::io::sample_order(m, 40);
  REQUIRE(all.size() == 120);
  m.mutable_schedule()->set_max_samples(50);   // a cut inside the second epoch keeps its prefix
  CHECK(phaseless::io::sample_order(m, 40) == std::vector<std::uint64_t>(all.begin(), all.begin() + 50));
}

TEST_CASE("--set never switches a oneof by writing into another member, ONEOF=MEMBER does") {
  auto err = [](const std::vector<std::string>& sets) { return load_error(minimal, sets); };
  // minimal's rule is zil: writing into il would have made it an IL model without a word.
  CHECK(err({"rule.il.optimizer.lr=0.1"}) ==
        "--set rule.il.optimizer.lr: rule.kind is 'zil' (one of: zil, il, il_prox, dp), so rule.il is not in use; a --set never "
        "switches it: to use il instead, first --set rule.kind=il");
  CHECK(err({"rule.il={optimizer {lr: 0.1}}"}) ==
        "--set rule.il: rule.kind is 'zil' (one of: zil, il, il_prox, dp), so rule.il is not in use; a --set never "
        "switches it: to use il instead, first --set rule.kind=il");
  // w2 has a uniform delay: its constant branch is not in use.
  CHECK(err({"projections[w2].delay.constant.ticks=4"}) ==
        "--set projections[w2].delay.constant.ticks: projections[1].delay.law is 'uniform' (one of: constant, uniform), "
        "so projections[1].delay.constant is not in use; a --set never switches it: to use constant instead, first --set "
        "projections[1].delay.law=constant");
  CHECK(err({"rule.kind=sgd"}) == "--set rule.kind: 'sgd' is not a member of kind; allowed: zil, il, il_prox, dp");
  CHECK(err({"rule.kind.lr=1"}) ==
        "--set rule.kind.lr: kind names a choice (one of: zil, il, il_prox, dp); write kind=MEMBER to select one, e.g. "
        "kind=zil");

  // Asked for explicitly, the switch happens, and the new branch gets its defaults.
  const auto m = load_model(minimal, {"rule.kind=il", "rule.il.optimizer.lr=0.1"});
  REQUIRE(m.model.rule().has_il());
  CHECK_FALSE(m.model.rule().has_zil());
  CHECK(m.model.rule().il().optimizer().lr() == 0.1);
  CHECK(m.model.rule().il().iterations() == 25);   // default filled
  // Selecting the member already in use keeps its contents.
  CHECK(load_model(minimal, {"rule.kind=zil"}).model.rule().zil().optimizer().lr() == 0.05);
  // A field unset in the file (w1 has no delay): any member may be written.
  CHECK(load_model(minimal, {"projections[w1].delay.uniform.min=2", "projections[w1].delay.uniform.max=3"})
            .model.projections(0).delay().uniform().max() == 3);
}

TEST_CASE("--set PATH+=VALUE appends to a list, and a problem in what an override created cites that override") {
  const auto m = load_model(minimal, {"record.populations+=in"});
  REQUIRE(m.model.record().populations_size() == 3);
  CHECK(m.model.record().populations(2) == "in");
  CHECK(load_error(minimal, {"record.populations+=h1"}) ==
        "--set record.populations: record.populations[2]: 'h1' is listed twice (record.populations[0] has it too); "
        "allowed: each population once");
  CHECK(load_error(minimal, {"record.populations[0]+=h1"}) ==
        "--set record.populations[0]: += appends to the list populations, so it takes no [0]");
  CHECK(load_error(minimal, {"schedule.epochs+=2"}) ==
        "--set schedule.epochs: epochs is not a list, so += cannot append to it; allowed: epochs=VALUE");
  // A message element: text format, like any message value.
  const auto two = load_model(minimal, {"populations+={name: \"h2\" role: HIDDEN size: 4}",
                                        "projections[w2].pre=h2", "projections+={name: \"w0\" pre: \"h1\" post: \"h2\"}"});
  CHECK(two.model.populations(3).name() == "h2");
  CHECK(two.model.projections(2).post() == "h2");
  // w1 has no delay in the file: the uniform block is made by the override, so its
  // missing min is reported at the --set the user wrote, not at some line of the file.
  CHECK(load_error(minimal, {"projections[w1].delay.uniform.max=5"}) ==
        "--set projections[w1].delay.uniform.max: projections[0].delay.uniform.min: zero delay is not allowed: every "
        "message takes at least one tick; allowed: >= 1");
}

TEST_CASE("model_loader: a message about a 10000-step unroll names the first steps and the last, not all") {
  const std::string msg = load_error(minimal, {"populations[h1].unroll=10000"});
  // Without a recurrence only the last step reaches the output; recording 'h1' needs steps.
  const std::string file = minimal.string();
  CHECK(msg == file + ":8:1: populations[1]: the OUTPUT population 'out' is not reachable from h1@1, h1@2, h1@3, ..., "
               "h1@9999 (9999 steps) (steps of the unrolled population 'h1'), so it never affects the loss; allowed: "
               "every HIDDEN population on a path to the output (only the last step feeds a population that is not "
               "unrolled; a projection from 'h1' to itself links the steps)\n" +
               file + ":36:10: record.populations[0]: 'h1' is unrolled, so it is recorded step by step; allowed: h1@1, "
               "h1@2, h1@3, ..., h1@10000");
}
