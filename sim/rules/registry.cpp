#include "sim/rules/registry.hpp"

#include <map>

#include "sim/core/errors.hpp"
#include "sim/rules/zil.hpp"

namespace phaseless::rules {

namespace {
template <class Real>
const std::map<std::string, population_factory<Real>>& table() {
  static const std::map<std::string, population_factory<Real>> t = {
      {"zil", [](const auto& w) { return std::make_unique<zil_population<Real>>(w); }},
  };
  return t;
}
}  // namespace

template <class Real>
population_factory<Real> find_rule(const std::string& rule) {
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

template population_factory<float> find_rule<float>(const std::string&);
template population_factory<double> find_rule<double>(const std::string&);

}  // namespace phaseless::rules
