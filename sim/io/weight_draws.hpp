#pragma once
// The random draws a model file asks for: initial weights and biases (by init law), and
// per-synapse delays. Each comes from a counter-based stream keyed by the model seed and
// a name, so adding a projection never changes another's draws.
#include <cstdint>
#include <string>

#include "phaseless.pb.h"
#include "sim/core/network_spec.hpp"
#include "sim/core/rng.hpp"

namespace phaseless::io {

// The stream of an init block: its own seed, or one derived from the model seed and `what`.
std::uint64_t stream_seed(const phaseless::v1::WeightInit& init, std::uint64_t model_seed, const std::string& what);

// One value of `init`'s law (fan_in and fan_out for the fan-scaled laws).
double draw(const phaseless::v1::WeightInit& init, core::counter_rng& rng, double fan_in, double fan_out);

// Per-synapse delays in synapse order; distinct values become delay classes.
core::delay_spec draw_delays(const phaseless::v1::Delay& d, std::uint64_t n, std::uint64_t seed);

}  // namespace phaseless::io
