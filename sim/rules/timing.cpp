// How long the network's actions take, in ticks: the timers' delay and the critical
// path that bounds the presentation interval (declared in event_network.hpp).
#include <algorithm>

#include "sim/rules/event_network.hpp"
#include "sim/rules/registry.hpp"

namespace phaseless::rules {

namespace {

tick_t min_delay(const network_spec& spec) {
  tick_t m = 1;   // clamp, target and lateral messages take one tick
  for (const auto& p : spec.projections) {
    m = std::min(m, p.forward.class_delay.front());
    if (p.feedback != feedback_kind::none) m = std::min(m, p.backward.class_delay.front());
  }
  return m;
}

}  // namespace

// A learning neuron applies its batch update once every error it sent has been
// delivered (they read its row of W) and a whole window later, so the write never
// shares a window with a read on another shard.
tick_t timer_delay(const network_spec& spec, pop_t v) {
  tick_t d = 0;
  for (const auto& p : spec.projections)
    if (p.post == v && p.feedback != feedback_kind::none) d = std::max(d, p.backward.max());
  return d + min_delay(spec);
}

tick_t critical_path(const network_spec& spec) {
  return find_rule<double>(spec.learning.rule).critical_path(spec);
}

tick_t wave_critical_path(const network_spec& spec) {
  const std::size_t n = spec.populations.size();
  std::vector<tick_t> fwd(n, 0), err(n, 0);
  fwd[spec.input] = 1;   // the clamp message
  for (pop_t v : spec.topo)
    for (const auto& p : spec.projections)
      if (p.post == v) fwd[v] = std::max(fwd[v], fwd[p.pre] + p.forward.max());
  const bool lateral = spec.learning.loss == loss_kind::softmax_ce;
  err[spec.output] = fwd[spec.output] + (lateral ? 1 : 0);
  for (auto it = spec.topo.rbegin(); it != spec.topo.rend(); ++it) {
    const pop_t v = *it;
    if (v == spec.output) continue;
    err[v] = fwd[v];
    for (const auto& p : spec.projections)
      if (p.pre == v && p.feedback != feedback_kind::none) err[v] = std::max(err[v], err[p.post] + p.backward.max());
  }
  tick_t cp = 0;
  for (pop_t v = 0; v < n; ++v)
    if (v != spec.input) cp = std::max(cp, err[v] + timer_delay(spec, v));
  return cp;
}

}  // namespace phaseless::rules
