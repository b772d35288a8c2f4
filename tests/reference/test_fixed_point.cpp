// Low-precision messages (projection `message` / `feedback_message`, core::fixed_point in
// core/channel.hpp). Oracles: the format's definition checked value by value (levels,
// the documented error bounds, saturation, ties to even), stochastic rounding's mean
// against the exact value with a stated tolerance, and the engine with an absent format
// against the plain engine (unchanged) and with a format against its own bound.
#include <doctest/doctest.h>

#include <cmath>

#include "sim/core/channel.hpp"
#include "sim/rules/event_network.hpp"
#include "tests/support/specs.hpp"
#include "tests/support/train.hpp"

using namespace phaseless;
using namespace phaseless::core;

TEST_CASE("fixed point: levels, nearest within half a step, saturation at both ends") {
  const fixed_point f{8, 4.0, false};   // step 4/128 = 1/32, range [-4, 4 - 1/32]
  const double step = f.step();
  CHECK(step == 1.0 / 32);
  for (int k = -200000; k <= 200000; ++k) {
    const double v = k * 1.3e-5;   // inside the range, not on the grid
    const double r = f.round(v, 0.0);
    CHECK(std::abs(r - v) <= step / 2);
    CHECK(std::nearbyint(r / step) == r / step);   // on a level
  }
  CHECK(f.round(100.0, 0.0) == 4.0 - step);   // saturates to the top level
  CHECK(f.round(-100.0, 0.0) == -4.0);        // and to the bottom one
  CHECK(f.round(4.0, 0.0) == 4.0 - step);
  CHECK(f.round(-4.0, 0.0) == -4.0);
  CHECK(f.round(1.5 * step, 0.0) == 2 * step);   // ties to even
  CHECK(f.round(2.5 * step, 0.0) == 2 * step);
  CHECK(std::isnan(f.round(std::nan(""), 0.0)));   // divergence still shows
}

TEST_CASE("fixed point: stochastic rounding is below one step and unbiased") {
  const fixed_point f{6, 1.0, true};   // step 1/32
  const double step = f.step();
  // Bound: every draw u in [0, 1) lands on one of the two levels around v.
  for (double v : {0.3, -0.71, 0.0123, 1.0 / 64})
    for (int k = 0; k < 1000; ++k) {
      const double r = f.round(v, k / 1000.0);
      CHECK(std::abs(r - v) < step);
      CHECK(std::nearbyint(r / step) == r / step);
    }
  // Mean over n draws of the channel's own RNG: the rounding error is a two-point
  // variable with sd <= step/2, so the mean's sd is <= step/(2 sqrt n); 5 sd = 5 step/(2 sqrt n).
  const int n = 100000;
  for (double v : {0.3, -0.71, 0.0123}) {
    CAPTURE(v);
    channel c(77, 0, 0.0, false, 1, f);
    double sum = 0;
    for (int k = 0; k < n; ++k) sum += c.pass(0, make_tag(std::uint64_t(k), 0), 0, tick_t(k), v).value;
    CHECK(std::abs(sum / n - v) < 5 * step / (2 * std::sqrt(double(n))));
  }
  // The same message rounds the same way on every route and in every run (R7).
  channel a(5, 0, 0.0, false, 2, f), b(5, 0, 0.0, false, 2, f);
  for (int k = 0; k < 100; ++k) {
    const tag_t t = make_tag(std::uint64_t(k / 4), std::uint32_t(k % 4));
    CHECK(a.pass(1, t, 0, k, 0.37).value == b.pass(1, t, 0, k, 0.37).value);
  }
}

namespace {

struct outcome {
  test::weights w;
  counters c;
};

outcome run(const network_spec& spec, mode_kind mode, std::size_t n) {
  const auto d = test::teacher_data(100, spec.populations[spec.input].size, spec.populations[spec.output].size, 3);
  rules::event_network<double> net(spec, d, test::rows_in_order(n, d.rows), rules::critical_path(spec) + 1, mode, 1);
  net.run_samples(n);
  return {test::weights_of(net.synapses()), net.totals()};
}

network_spec mlp(const char* rule, fixed_point fwd, fixed_point back) {
  test::mlp_options o{{8, 12, 3}, activation_kind::tanh, loss_kind::softmax_ce};
  o.delay_max = 2;
  auto s = test::make_mlp(o);
  s.learning.rule = rule;
  s.learning.il.iterations = 6;
  for (auto& p : s.projections) {
    p.forward.format = fwd;
    p.backward.format = back;
    p.forward.stream = 11, p.backward.stream = 12;
  }
  return s;
}

}  // namespace

TEST_CASE("fixed point in the engine: absent is the plain run, 24 bits stays within its bound, counts unchanged") {
  for (const char* rule : {"zil", "il_prox", "dp"})
    for (mode_kind mode : {mode_kind::dataflow, mode_kind::eager}) {
      CAPTURE(std::string(rule));
      CAPTURE(int(mode));
      const auto plain = run(mlp(rule, {}, {}), mode, 40);
      auto no_format = mlp(rule, {}, {});
      for (auto& p : no_format.projections) p.forward.stream = p.backward.stream = 0;
      CHECK(run(no_format, mode, 40).w == plain.w);   // bits 0: no channel, the float path
      // 24 bits over [-8, 8): step 2^-20 ~ 1e-6 per message, so weights move by about that.
      const auto fine = run(mlp(rule, {24, 8.0, false}, {24, 8.0, true}), mode, 40);
      const double e = test::relative_error(fine.w, plain.w);
      CHECK(e > 0);
      CHECK(e < 1e-3);
      CHECK(fine.c.events == plain.c.events);   // rounding never adds or removes a message
      CHECK(fine.c.synaptic_ops <= plain.c.synaptic_ops);   // an error rounded to 0 moves nothing
      CHECK(fine.c.dropped == 0);
      CHECK(fine.c.late == 0);
      // 4 bits: coarse, visibly different, and the run still completes every sample.
      const auto coarse = run(mlp(rule, {4, 2.0, false}, {4, 1.0, true}), mode, 40);
      CHECK(test::relative_error(coarse.w, plain.w) > e);
    }
}

TEST_CASE("channel: a sigma-delta step marker keeps its FIFO place but is never lost or rounded") {
  channel c(3, 2, 0.5, false, 1, fixed_point{4, 1.0, true});
  const double held = c.pass(0, make_tag(0, 0), 0, 0, 0.3).value;   // the first message: not lost (or held 0)
  double now_held = held;
  for (tick_t t = 1; t < 300; ++t) {
    const auto f = c.pass(0, make_tag(0, std::uint32_t(t)), 0, t * 10, 123.0, false);
    CHECK_FALSE(f.dropped);
    CHECK(f.value == now_held);   // what the receivers hold, whatever the marker's value
  }
}
