// Determinism across thread counts (one shard per thread): the whole metrics row,
// events and synaptic operations included, and the learned weights are identical at
// 1, 2 and 3 threads. The CNN is the case that needs it most: its tie groups hear
// from every shard, and its convolutions count arrivals per shard.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sim/io/session.hpp"

using namespace phaseless;

namespace {

io::run_result run_cnn(unsigned threads, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> sets = {"schedule.max_samples=24", "schedule.eval_every=12", "data.test_subset=50",
                                   "schedule.epochs=1"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  const auto m = io::load_model(std::string(PHASELESS_SOURCE_DIR) + "/models/fmnist_cnn.textproto", sets);
  io::run_options o;
  o.threads = threads;
  o.progress = false;
  return io::run(m, o);
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
