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
