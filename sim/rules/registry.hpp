#pragma once
// Learning rules by name. Adding a rule = one population model file in sim/rules
// plus one line in registry.cpp; the kernel and the wiring do not change.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/neurons/learning_population.hpp"
#include "sim/neurons/wiring.hpp"

namespace phaseless::rules {

template <class Real>
using population_factory =
    std::function<std::unique_ptr<neurons::learning_population<Real>>(const neurons::population_wiring<Real>&)>;

// Throws core::user_error listing the known rules when `rule` is not one of them.
template <class Real>
population_factory<Real> find_rule(const std::string& rule);

std::vector<std::string> known_rules();

}  // namespace phaseless::rules
