#pragma once
// The levelling pass of Salvatori et al. (AAAI 2022; spec pc-family.md §3.3): on a
// levelled graph every path from a non-clamped vertex to the output has the same
// length, which the paper's layer-timed schedule (zil_schedule.hpp) needs to equal
// backprop. An edge u -> c that skips levels (L_u - L_c > 1, L = longest path to the
// output) gets L_u - L_c - 1 identity vertices: relay populations of u's size, fed
// one-to-one with fixed weight 1, with no bias and identity activation (value and
// error nodes, like any vertex). The projection itself, its weights, tie and delays,
// now leaves the last relay. Edges from the clamped input need no relays.
//
// The event engine never needs this: a neuron learns when all its children's errors
// have arrived, whatever the path lengths.
#include "sim/core/network_spec.hpp"

namespace phaseless::baseline {

// The levelled copy of `spec`. Relays are named "<u>~<c>#k", appended after the
// original populations; their projections "<u>~<c>#k:in" are appended too.
core::network_spec level(const core::network_spec& spec);

}  // namespace phaseless::baseline
