// Unreliable links (core/channel.hpp): per-message jitter and loss on a projection.
// Oracles: the channel's contract checked message by message (pure function of the
// message's identity, FIFO, what a lost message carries, the drawn rates against their
// binomial bounds), and the engine with jitter and loss against the engine without:
// dataflow waits for every input, so jitter must not change what it learns; loss must
// never stall it; every run is bit-identical at any thread count.
#include <doctest/doctest.h>

#include <cmath>

#include "sim/core/channel.hpp"
#include "tests/support/specs.hpp"
#include "tests/support/train.hpp"

using namespace phaseless;
using namespace phaseless::core;

TEST_CASE("channel: a message's fate is a pure function of its identity, and links stay FIFO") {
  channel a(42, 5, 0.3, false, 4), b(42, 5, 0.3, false, 4);
  // b sees other senders' messages in between: a's fates must not depend on them.
  tick_t last = -1;
  for (tick_t now = 0; now < 2000; ++now) {
    b.pass(1, make_tag(std::uint64_t(now), 0), 0, now, 7.0);
    const auto fa = a.pass(0, make_tag(std::uint64_t(now / 3), std::uint32_t(now % 3)), 0, now, double(now));
    const auto fb = b.pass(0, make_tag(std::uint64_t(now / 3), std::uint32_t(now % 3)), 0, now, double(now));
    CHECK(fa.extra == fb.extra);
    CHECK(fa.dropped == fb.dropped);
    CHECK(fa.value == fb.value);
    CHECK(fa.extra >= 0);
    CHECK(fa.extra <= 5);
    CHECK(now + fa.extra >= last);   // never overtakes the sender's previous message
    last = now + fa.extra;
  }
}

TEST_CASE("channel: a lost activity carries the sender's last delivered value, a lost error carries 0") {
  channel act(9, 0, 0.5, false, 1), err(9, 0, 0.5, true, 1);
  double held = 0;   // what the receivers hold (nothing delivered yet: 0)
  int lost = 0;
  for (tick_t t = 0; t < 400; ++t) {
    const double v = 1.0 + double(t);
    const auto f = act.pass(0, make_tag(std::uint64_t(t), 0), 0, t, v);
    const auto g = err.pass(0, make_tag(std::uint64_t(t), 0), 0, t, v);
    CHECK(f.dropped == g.dropped);   // same stream and identity: same fate
    CHECK(f.extra == 0);
    if (f.dropped) {
      ++lost;
      CHECK(f.value == held);
      CHECK(g.value == 0.0);
    } else {
      CHECK(f.value == v);
      CHECK(g.value == v);
      held = v;
    }
  }
  CHECK(lost > 0);
  CHECK(lost < 400);
}

TEST_CASE("channel: drop rate and jitter histogram match their laws") {
  // n = 200,000 draws: a count's standard deviation is sqrt(n p (1-p)); 5 sd bounds
  // fail by chance with probability below 1e-6 (and the draws are fixed by the seed).
  const int n = 200000, J = 3;
  channel c(123, J, 0.1, false, 1);
  int dropped = 0;
  std::vector<int> hist(J + 1, 0);
  for (int k = 0; k < n; ++k) {
    // Far-apart emission ticks: the FIFO hold never binds, so extra is the raw draw.
    const auto f = c.pass(0, make_tag(std::uint64_t(k), 0), 0, tick_t(k) * 100, 1.0);
    dropped += f.dropped;
    ++hist[std::size_t(f.extra)];
  }
  CHECK(std::abs(dropped - 0.1 * n) < 5 * std::sqrt(n * 0.1 * 0.9));
  const double p = 1.0 / (J + 1);
  for (int h : hist) CHECK(std::abs(h - p * n) < 5 * std::sqrt(n * p * (1 - p)));
}

namespace {

struct noisy_run {
  test::weights w;
  counters c;
};

noisy_run run_noisy(network_spec spec, mode_kind mode, unsigned threads, std::size_t n) {
  const auto d = test::teacher_data(200, spec.populations[spec.input].size, spec.populations[spec.output].size, 11);
  rules::event_network<double> net(spec, d, test::rows_in_order(n, d.rows), rules::critical_path(spec) + 1, mode,
                                   threads);
  net.run_samples(n);
  return {test::weights_of(net.synapses()), net.totals()};
}

network_spec noisy_mlp(tick_t jitter, double drop) {
  test::mlp_options o{{8, 12, 10, 3}, activation_kind::relu, loss_kind::softmax_ce};
  o.delay_min = 1;
  o.delay_max = 3;
  auto spec = test::make_mlp(o);
  for (std::size_t k = 0; k < spec.projections.size(); ++k)
    for (delay_spec* d : {&spec.projections[k].forward, &spec.projections[k].backward}) {
      d->jitter = jitter;
      d->drop = drop;
      d->stream = 1000 + k + (d == &spec.projections[k].backward ? 500 : 0);
    }
  return spec;
}

}  // namespace

TEST_CASE("dataflow with jitter learns exactly what it learns without (up to the order of sums)") {
  const auto plain = run_noisy(noisy_mlp(0, 0), mode_kind::dataflow, 1, 200);
  const auto jittered = run_noisy(noisy_mlp(4, 0), mode_kind::dataflow, 1, 200);
  // Reassociation of the error sums only: a few ulp per sample in double.
  CHECK(test::relative_error(jittered.w, plain.w) < 1e-12);
  CHECK(jittered.c.late > 0);
  CHECK(jittered.c.dropped == 0);
  CHECK(plain.c.late == 0);
}

TEST_CASE("message loss never stalls a run: every sample still teaches every layer, in both modes") {
  for (mode_kind mode : {mode_kind::dataflow, mode_kind::eager}) {
    CAPTURE(int(mode));
    const auto spec = noisy_mlp(2, 0.2);
    const auto lossy = run_noisy(spec, mode, 1, 100);
    const auto one_less = run_noisy(spec, mode, 1, 99);
    // The 100th sample changed every projection: nobody waited forever for a lost input.
    for (std::size_t p = 0; p < lossy.w.size(); ++p) CHECK(lossy.w[p] != one_less.w[p]);
    // Loss on every projection: about 20 % of the projection messages (not clamp, target,
    // lateral): more than 10 % of all events, and fewer than 20 %.
    CHECK(lossy.c.dropped > lossy.c.events / 10);
    CHECK(lossy.c.dropped < lossy.c.events / 5);
  }
}

TEST_CASE("jitter and loss: bit-identical weights and counts at 1 and 2 threads") {
  for (mode_kind mode : {mode_kind::dataflow, mode_kind::eager}) {
    CAPTURE(int(mode));
    const auto one = run_noisy(noisy_mlp(3, 0.1), mode, 1, 60);
    const auto two = run_noisy(noisy_mlp(3, 0.1), mode, 2, 60);
    CHECK(one.w == two.w);
    CHECK(one.c.events == two.c.events);
    CHECK(one.c.dropped == two.c.dropped);
    CHECK(one.c.late == two.c.late);
  }
}
