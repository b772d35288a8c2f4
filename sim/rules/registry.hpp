#pragma once
// Learning rules by name. Adding a rule = one population model file in sim/rules
// plus one line in registry.cpp; the kernel and the wiring do not change.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/baseline/sync_engine.hpp"
#include "sim/neurons/learning_population.hpp"
#include "sim/neurons/wiring.hpp"

namespace phaseless::rules {

template <class Real>
using population_factory =
    std::function<std::unique_ptr<neurons::learning_population<Real>>(const neurons::population_wiring<Real>&)>;

template <class Real>
struct rule_entry {
  // The rule's neurons on the event engine, one learning population at a time.
  population_factory<Real> make;
  // Ticks from a presentation to the last local action it causes (samples must
  // not overlap: the presentation interval is at least this + 1).
  std::function<core::tick_t(const core::network_spec&)> critical_path;
  // The rule's synchronous form (baseline and oracle).
  std::function<std::unique_ptr<baseline::sync_engine<Real>>(const core::network_spec&)> make_sync;
  // The rule relaxes to an equilibrium and reports its energy per sample (metric "energy").
  bool reports_energy = false;
};

// Throws core::user_error listing the known rules when `rule` is not one of them.
template <class Real>
const rule_entry<Real>& find_rule(const std::string& rule);

std::vector<std::string> known_rules();

}  // namespace phaseless::rules
