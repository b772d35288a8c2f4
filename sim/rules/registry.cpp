#include "sim/rules/registry.hpp"

#include <map>

#include "sim/core/errors.hpp"
#include "sim/baseline/backprop.hpp"
#include "sim/baseline/dual_prop.hpp"
#include "sim/rules/dual_prop.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/baseline/il.hpp"
#include "sim/rules/il.hpp"
#include "sim/rules/zil.hpp"

namespace phaseless::rules {

namespace {
template <class Real>
const std::map<std::string, rule_entry<Real>>& table() {
  // One line per rule: its neurons, its critical path, its synchronous form, and
  // whether it reports an energy.
  static const std::map<std::string, rule_entry<Real>> t = {
      {"zil", {[](const auto& w) { return std::make_unique<zil_population<Real>>(w); }, wave_critical_path,
               [](const auto& s) { return std::make_unique<baseline::backprop<Real>>(s); }}},
      {"il", {[](const auto& w) { return std::make_unique<il_population<Real>>(w); }, il_critical_path,
              [](const auto& s) { return std::make_unique<baseline::il_sync<Real>>(s); }, true}},
      {"il_prox", {[](const auto& w) { return std::make_unique<il_population<Real>>(w); }, il_critical_path,
                   [](const auto& s) { return std::make_unique<baseline::il_sync<Real>>(s); }, true}},
      {"dp", {[](const auto& w) { return std::make_unique<dyad_population<Real>>(w); }, dyad::critical_path,
              [](const auto& s) { return std::make_unique<baseline::dual_prop<Real>>(s); }}},
  };
  return t;
}
}  // namespace

template <class Real>
const rule_entry<Real>& find_rule(const std::string& rule) {
  const auto& t = table<Real>();
  auto it = t.find(rule);
  if (it == t.end()) {
    std::string known;
    for (auto& [k, v] : t) known += (known.empty() ? "" : ", ") + k;
    throw core::user_error("unknown learning rule '" + rule + "'; known rules: " + known);
  }
  return it->second;
}

std::vector<std::string> known_rules() {
  std::vector<std::string> out;
  for (auto& [k, v] : table<double>()) out.push_back(k);
  return out;
}

template const rule_entry<float>& find_rule<float>(const std::string&);
template const rule_entry<double>& find_rule<double>(const std::string&);

}  // namespace phaseless::rules
