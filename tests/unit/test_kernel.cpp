// Kernel pieces against closed-form expectations: event order, calendar,
// fan-in gates, graph-derived delivery tables, executor error propagation, pacing.
#include <doctest/doctest.h>

#include <stdexcept>
#include <thread>

#include "sim/core/calendar.hpp"
#include "sim/core/executor.hpp"
#include "sim/core/graph.hpp"
#include "sim/core/kernels.hpp"
#include "sim/core/pacing.hpp"
#include "sim/core/rng.hpp"

using namespace phaseless::core;

namespace {
event ev(tick_t t, port_t p, index_t s, tick_t seq) { return event{t, p, s, 0, 0, 0, seq, 0, 0.0}; }
}  // namespace

TEST_CASE("the total order is (tick, port, source, seq)") {
  CHECK(event_before(ev(1, 9, 9, 9), ev(2, 0, 0, 0)));
  CHECK(event_before(ev(2, 0, 9, 9), ev(2, 1, 0, 0)));
  CHECK(event_before(ev(2, 1, 0, 9), ev(2, 1, 1, 0)));
  CHECK(event_before(ev(2, 1, 1, 3), ev(2, 1, 1, 4)));
  CHECK_FALSE(event_before(ev(2, 1, 1, 4), ev(2, 1, 1, 4)));
}

TEST_CASE("calendar buckets are canonicalized into the total order whatever the insertion order") {
  calendar c(8);
  // As shards would append them: shard 1's events before shard 0's, ports interleaved,
  // and two emission ticks (different delays) landing on the same tick.
  const event in[] = {ev(5, 2, 7, 3), ev(5, 1, 4, 4), ev(5, 2, 1, 4), ev(5, 1, 0, 3), ev(5, 2, 1, 3), ev(5, 0, 9, 4)};
  for (auto& e : in) c.push(4, e);
  c.canonicalize(5, 3);
  const auto& b = c.bucket(5);
  REQUIRE(b.size() == 6);
  for (std::size_t k = 1; k < b.size(); ++k) CHECK(event_before(b[k - 1], b[k]));
  CHECK(c.pending() == 6);
  c.consume(5);
  CHECK(c.pending() == 0);
  CHECK_THROWS_AS(c.push(4, ev(4, 0, 0, 0)), internal_error);    // zero delay
  CHECK_THROWS_AS(c.push(4, ev(40, 0, 0, 0)), internal_error);   // beyond the horizon
}

TEST_CASE("fan-in gate: dataflow completion counts first messages of the current step only") {
  fanout f;
  f.n_sources = 3;
  f.n_targets = 2;
  f.all_targets = false;
  f.expected = {3, 2};
  fan_in_gate g;
  g.init(f, 1);
  event e{0, 0, 0, 0, 0, 0, 0, make_tag(5, 0), 0.0};
  CHECK_FALSE(g.arrive(0, e));
  CHECK_FALSE(g.arrive(0, e));
  event refine = e;
  refine.repeat = 1;
  CHECK_FALSE(g.arrive(0, refine));   // a refinement is not a new sender
  CHECK(g.arrive(0, e));
  CHECK(g.complete(0, 0, make_tag(5, 0)));
  event newer = e;
  newer.tag = make_tag(6, 0);
  CHECK_FALSE(g.arrive(0, newer));    // a newer step restarts the count
  CHECK_FALSE(g.complete(0, 0, make_tag(5, 0)));
  CHECK_FALSE(g.arrive(0, e));        // a stale step is ignored
  CHECK_FALSE(g.complete(0, 0, make_tag(6, 0)));
}

TEST_CASE("delivery tables come from the neuron graph: contiguous out-edges by (port, class, target)") {
  graph_builder gb;
  gb.add_population(0, 2);   // sources 0,1
  gb.add_population(1, 3);   // targets 2,3,4
  // source 0 -> all targets, target 1 on delay class 1; source 1 -> target 2 only
  gb.add_edge(0, 2, {7, 0, 0});
  gb.add_edge(0, 3, {7, 1, 1});
  gb.add_edge(0, 4, {7, 0, 2});
  gb.add_edge(1, 4, {7, 0, 5});
  gb.add_edge(1, 2, {8, 0, 9});   // another port: ignored
  const auto g = gb.build();
  CHECK(num_vertices(g) == 5);
  CHECK(num_edges(g) == 5);
  const fanout f = make_fanout(g, 7, 0, 2, 2, 3, 2);
  CHECK_FALSE(f.all_targets);
  CHECK(f.expected == std::vector<std::uint32_t>{1, 1, 2});
  auto [a, z] = f.slice(0, 0, 0, 3);
  REQUIRE(z - a == 2);
  CHECK(f.target[a] == 0);
  CHECK(f.target[a + 1] == 2);
  CHECK(f.synapse[a + 1] == 2);
  auto [a1, z1] = f.slice(0, 0, 1, 3);   // restricted to rows [1, 3)
  CHECK(z1 - a1 == 1);
  CHECK(f.target[a1] == 2);
  auto [a2, z2] = f.slice(1, 0, 0, 3);
  CHECK(z2 - a2 == 1);
  CHECK(f.synapse[a2] == 5);
}

TEST_CASE("a dense single-delay projection needs no tables") {
  graph_builder gb;
  gb.add_population(0, 2);
  gb.add_population(1, 2);
  for (std::uint32_t s = 0; s < 2; ++s)
    for (std::uint32_t t = 2; t < 4; ++t) gb.add_edge(s, t, {0, 0, 0});
  const auto f = make_fanout(gb.build(), 0, 0, 2, 2, 2, 1);
  CHECK(f.all_targets);
  CHECK(f.expected_of(1) == 2);
}

TEST_CASE("a dense projection with two delay classes, counted per shard, completes after every class event") {
  // 2 sources x 3 targets, all connected; source 0 reaches target 1 through class 1,
  // every other synapse is class 0.
  graph_builder gb;
  gb.add_population(0, 2);
  gb.add_population(1, 3);
  for (std::uint32_t s = 0; s < 2; ++s)
    for (std::uint32_t t = 2; t < 5; ++t) gb.add_edge(s, t, {0, s == 0 && t == 3 ? 1u : 0u, 0});
  fanout f = make_fanout(gb.build(), 0, 0, 2, 2, 3, 2);
  CHECK_FALSE(f.all_targets);
  f.shard_counted = true;   // what the network builder sets for every such link in dataflow mode
  CHECK(f.shard_expected() == 4);   // each of the 2 emissions goes out once per class
  fan_in_gate gate;
  gate.init(f, 1);
  REQUIRE(gate.shared());
  const tag_t tag = make_tag(3, 0);
  auto ev = [&](index_t source, klass_t klass) { return event{1, 0, source, klass, 0, 0, 0, tag, 0.5}; };
  // Per target, target 0 would be complete after (0, 0) and (1, 0); per shard it waits
  // for source 0's class-1 event too (the one only target 1 reads).
  CHECK_FALSE(gate.arrive_shard(0, ev(0, 0)));
  CHECK_FALSE(gate.arrive_shard(0, ev(1, 0)));
  CHECK_FALSE(gate.arrive_shard(0, ev(1, 1)));
  CHECK_FALSE(gate.complete(0, 0, tag));
  CHECK(gate.arrive_shard(0, ev(0, 1)));
  for (index_t i = 0; i < 3; ++i) CHECK(gate.complete(0, i, tag));
  CHECK_FALSE(gate.complete(0, 0, make_tag(4, 0)));   // the next sample starts afresh
}

TEST_CASE("executor: every task runs and the lowest failing task's exception is rethrown at the join") {
  for (unsigned threads : {1u, 2u, 4u}) {
    executor ex(threads);
    std::vector<int> ran(6, 0);
    CHECK_THROWS_WITH_AS(ex.parallel_for(6,
                                         [&](unsigned i) {
                                           ran[i] = 1;
                                           if (i == 2 || i == 4) throw std::runtime_error("task " + std::to_string(i));
                                         }),
                         "task 2", std::runtime_error);
    CHECK(ran == std::vector<int>(6, 1));
    ex.parallel_for(3, [&](unsigned i) { ran[i] = 7; });   // usable after a failure
    CHECK(ran[0] == 7);
  }
}

TEST_CASE("executor: here = true runs every task on the calling thread, in order, with the same errors") {
  executor ex(2);
  const auto caller = std::this_thread::get_id();
  std::vector<unsigned> order;
  bool elsewhere = false;
  CHECK_THROWS_WITH_AS(ex.parallel_for(
                           4,
                           [&](unsigned i) {
                             order.push_back(i);
                             elsewhere = elsewhere || std::this_thread::get_id() != caller;
                             if (i == 1 || i == 3) throw std::runtime_error("task " + std::to_string(i));
                           },
                           true),
                       "task 1", std::runtime_error);
  CHECK(order == std::vector<unsigned>{0, 1, 2, 3});   // every task ran, though task 1 threw
  CHECK_FALSE(elsewhere);
}

// Workers wait between windows by spinning, then blocking: thousands of back-to-back
// generations must neither lose a wake-up (a hang; ctest's timeout catches it) nor
// run a share twice or skip one.
TEST_CASE("executor: back-to-back windows run every share exactly once") {
  for (unsigned threads : {2u, 3u}) {
    executor ex(threads);
    std::vector<std::uint64_t> count(threads, 0);
    for (int g = 0; g < 20000; ++g) ex.parallel_for(threads, [&](unsigned i) { ++count[i]; });
    CHECK(count == std::vector<std::uint64_t>(threads, 20000));
  }
}

TEST_CASE("dot has one summation order: equal to a reference pairwise sum of 16 lanes") {
  std::vector<double> a(37), b(37);
  counter_rng r(3, 3);
  for (std::size_t k = 0; k < a.size(); ++k) {
    a[k] = r.uniform(-1, 1);
    b[k] = r.uniform(-1, 1);
  }
  double lanes[16] = {};
  for (std::size_t j = 0; j < 32; ++j) lanes[j % 16] += a[j] * b[j];
  double tail = 0;
  for (std::size_t j = 32; j < 37; ++j) tail += a[j] * b[j];
  for (int w = 8; w > 0; w /= 2)
    for (int k = 0; k < w; ++k) lanes[k] += lanes[k + w];
  // Bitwise: the engine and the baseline rely on this order being fixed.
  CHECK(kernels::dot(a.data(), b.data(), a.size()) == lanes[0] + tail);
}

template <class Real>
void check_dot_rows() {
  counter_rng r(5, 1);
  for (std::size_t n : {3u, 16u, 37u, 100u}) {
    const std::size_t rows = 7, stride = n + 3;   // 4 + 3: the blocked rows and the rest
    std::vector<Real> w(rows * stride), x(n), out(rows);
    for (auto& v : w) v = static_cast<Real>(r.uniform(-1, 1));
    for (auto& v : x) v = static_cast<Real>(r.uniform(-1, 1));
    kernels::dot_rows(w.data(), stride, x.data(), n, rows, out.data());
    for (std::size_t q = 0; q < rows; ++q) CHECK(out[q] == kernels::dot(w.data() + q * stride, x.data(), n));
  }
}

TEST_CASE("dot_rows gives every row dot's result bit for bit (float and double)") {
  // Bitwise: the event engine's blocked forward step and a row-by-row baseline must agree.
  check_dot_rows<float>();
  check_dot_rows<double>();
}

TEST_CASE("counter-based rng: a pure function of (seed, stream, counter)") {
  counter_rng a(1, 2), b(1, 2), c(1, 3);
  CHECK(a.at(10) == b.at(10));
  CHECK(a.at(10) != c.at(10));
  double s = 0;
  for (int k = 0; k < 10000; ++k) s += a.uniform();
  CHECK(s / 10000 == doctest::Approx(0.5).epsilon(0.02));   // mean of U(0,1); 4 sigma = 0.012
}

// The pacing policy alone, fed made-up window times (no clock): which way each window of
// a kind runs. `par` and `ser`: a window's time each way; `sum`: its shards' times added.
namespace {
struct paced {
  std::vector<bool> ways;   // true: one shard after another
  unsigned serial = 0;
};
paced pace_windows(pacing& p, std::uint64_t key, int n, double par, double ser, double sum) {
  paced r;
  for (int k = 0; k < n; ++k) {
    const bool s = p.serial(key);
    p.ran(s ? ser : par, sum);
    r.ways.push_back(s);
    r.serial += s;
  }
  return r;
}
}  // namespace

TEST_CASE("pacing: a clear parallel win is probed serially once, a slow parallel kind runs serially") {
  pacing p;
  // Heavy window: parallel 1.0 against shards adding up to 1.9 (and 2.0 serially).
  const auto heavy = pace_windows(p, 1, 500, 1.0, 2.0, 1.9);
  CHECK(heavy.serial == 1);       // only the third window, the first timed serial run
  CHECK(heavy.ways[2]);
  // Tiny window whose barrier costs more than its work: after the first probe it runs
  // serially, with parallel probes ever rarer (gap doubling up to max_gap).
  const auto tiny = pace_windows(p, 2, 500, 3.0, 1.0, 1.0);
  CHECK(!tiny.ways[0]);
  CHECK(!tiny.ways[1]);
  CHECK(tiny.serial > 490);
  CHECK(tiny.serial < 500);
  // The kinds are paced apart: the heavy kind is still parallel after the tiny one.
  CHECK(!pace_windows(p, 1, 10, 1.0, 2.0, 1.9).ways.back());
  CHECK(p.ran_parallel() + p.ran_serial() == 1010);
}

TEST_CASE("pacing: parallel without a clear win keeps being probed, and a probe can overturn the choice") {
  pacing p;
  // Parallel slightly faster (0.9 against 1.0) but not beyond doubt (shards add up to 1.0):
  // serial probes continue, at doubling gaps from 4 to max_gap.
  const auto close = pace_windows(p, 7, 1000, 0.9, 1.0, 1.0);
  CHECK(close.serial >= 8);   // windows 2, 10, 26, 58, 122, then every 128th
  CHECK(close.serial <= 12);
  CHECK(!close.ways.back());
  // The machine gets busy: parallel windows now take 5.0. Their own best-of-two flips the
  // choice to serial after two windows, without waiting for a probe.
  const auto busy = pace_windows(p, 7, 10, 5.0, 1.0, 1.0);
  CHECK(busy.ways.back());
  CHECK(busy.serial >= 8);
}
