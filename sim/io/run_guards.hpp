#pragma once
// Checks the run loop makes on what it is given and on what learning produces.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/core/dataset.hpp"
#include "sim/core/network_spec.hpp"

namespace phaseless::io {

// Every label must name an output neuron: evaluation reads the output z[label], and
// the squared-error target of a label without a neuron would silently be all zeros.
// Throws core::user_error naming the label file, the item and the label.
void check_labels(const core::dataset& d, const std::filesystem::path& file, const core::population_spec& out);

// Throws core::numeric_error "WHAT reached V by training sample S, beyond the
// divergence bound ..." for the first value of `v` outside [-weight_bound, weight_bound].
// The message ends with the mode's advice (neurons::diverged_hint).
[[noreturn]] void beyond_bound(const std::string& what, double value, std::uint64_t s, core::mode_kind mode);
template <class Real>
void check_bound(const std::string& what, const std::vector<Real>& v, std::uint64_t s, core::mode_kind mode) {
  for (const Real x : v)
    if (!(std::abs(double(x)) <= 1e6)) beyond_bound(what, double(x), s, mode);
}

}  // namespace phaseless::io
