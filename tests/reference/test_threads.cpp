// Determinism across shard counts (one thread per shard): the whole metrics row,
// events and synaptic operations included, and the learned weights are identical at
// 1, 2 and 3 shards. The CNN is the case that needs it most: its tie groups hear
// from every shard, and its convolutions count arrivals per shard. The shard count is
// forced here: the automatic choice would give these small runs a single shard.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/io/session.hpp"

using namespace phaseless;

namespace {

io::run_result run_model(const char* file, unsigned shards, const std::vector<std::string>& extra = {},
                         unsigned threads = 0) {
  std::vector<std::string> sets = {"schedule.max_samples=24", "schedule.eval_every=12", "data.test_subset=50",
                                   "schedule.epochs=1"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  const auto m = io::load_model(std::string(PHASELESS_SOURCE_DIR) + "/models/" + file, sets);
  io::run_options o;
  o.threads = threads ? threads : shards;
  o.shards = shards;
  o.progress = false;
  const auto r = io::run(m, o);
  if (shards) CHECK(r.shards == shards);
  return r;
}

io::run_result run_cnn(unsigned shards, const std::vector<std::string>& extra = {}) {
  return run_model("fmnist_cnn.textproto", shards, extra);
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_same(const io::run_result& a, const io::run_result& b) {
  REQUIRE(a.rows.size() == b.rows.size());
  for (std::size_t r = 0; r < a.rows.size(); ++r) {
    CAPTURE(r);
    CHECK(a.rows[r].samples == b.rows[r].samples);
    CHECK(a.rows[r].ticks == b.rows[r].ticks);
    CHECK(a.rows[r].events == b.rows[r].events);
    CHECK(a.rows[r].synaptic_ops == b.rows[r].synaptic_ops);
    CHECK(same(a.rows[r].train_loss, b.rows[r].train_loss));   // NaN before any training
    CHECK(same(a.rows[r].test_accuracy, b.rows[r].test_accuracy));
  }
  CHECK(a.w_end == b.w_end);
}

}  // namespace

TEST_CASE("CNN: metrics (events included) and weights are identical at 1, 2 and 3 threads") {
  const auto one = run_cnn(1);
  REQUIRE(one.rows.size() == 3);   // samples 0, 12, 24
  CHECK(one.rows.back().events > 0);
  check_same(one, run_cnn(2));
  check_same(one, run_cnn(3));
}

TEST_CASE("CNN with random delays: metrics and weights are identical at 1 and 2 threads") {
  const std::vector<std::string> rd = {"projections[k1].delay.uniform.min=1", "projections[k1].delay.uniform.max=3",
                                       "projections[k2].delay.uniform.min=1", "projections[k2].delay.uniform.max=3"};
  const auto one = run_cnn(1, rd);
  check_same(one, run_cnn(2, rd));
}

TEST_CASE("the default MLP: identical at 1, 2 and 3 shards, and the automatic count") {
  // 80 samples x 9 ticks (about 8 of them busy windows): every kind of window recurs
  // 80 times, and its third one always runs the shards one after another (the first
  // two on the workers), so the engine has run the shards both ways within the run.
  const std::vector<std::string> n = {"schedule.max_samples=80", "schedule.eval_every=40"};
  const auto one = run_model("fmnist_zil.textproto", 1, n);
  CHECK(one.rows.back().events > 0);
  CHECK(one.rows.back().ticks > 3 * 64);
  CHECK(one.parallel_share == 1);   // one shard: nothing to choose
  const auto two = run_model("fmnist_zil.textproto", 2, n);
  CHECK(two.parallel_share > 0);    // both ways ran: whichever was faster, the result is the same
  CHECK(two.parallel_share < 1);
  check_same(one, two);
  check_same(one, run_model("fmnist_zil.textproto", 3, n));
  // 784-256-256-10 holds too little work per window for a second shard: two threads
  // run it on one (and give the same result).
  const auto chosen = run_model("fmnist_zil.textproto", 0, n, 2);
  CHECK(chosen.shards == 1);
  check_same(one, chosen);
}

TEST_CASE("auto_shards: at least min_ops_per_shard synaptic operations per shard and window") {
  using phaseless::core::auto_shards;
  const std::uint64_t mlp = 784 * 256 + 256 * 256 + 256 * 10, wide = 784 * 2048 + 2048 * 2048 + 2048 * 10;
  CHECK(auto_shards(2, mlp, 9) == 1);    // 3 x 268,800 / 9 = 89,600 per window: under one shard's minimum
  CHECK(auto_shards(2, wide, 9) == 2);   // 1.94M per window: 14 shards' worth, capped at the threads
  CHECK(auto_shards(1, wide, 9) == 1);
  CHECK(auto_shards(32, wide, 9) == 14);
  CHECK(auto_shards(0, wide, 9) == 1);   // 0 threads means 1
  CHECK(auto_shards(2, wide, 0) == 2);   // a degenerate interval counts as one tick
  // The boundary (3 x synapses over 3 ticks: the synapses are the work per window).
  CHECK(auto_shards(4, 2 * phaseless::core::min_ops_per_shard, 3) == 2);
  CHECK(auto_shards(4, 2 * phaseless::core::min_ops_per_shard - 1, 3) == 1);
}
