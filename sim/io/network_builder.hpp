#pragma once
// Model file -> network_spec: populations in topological order, projections with
// their initial weights (drawn from each projection's own counter-based stream,
// so adding a projection never changes another's weights) and per-synapse delays.
#include "phaseless.pb.h"
#include "sim/core/network_spec.hpp"

namespace phaseless::io {

// `m` must be validated and have defaults applied (load_model does both).
core::network_spec build_network_spec(const phaseless::v1::Model& m);

// The presentation interval a run uses: the model's, or the critical path + 1 when
// it is 0. Throws core::user_error naming schedule.presentation_interval when the
// model's is too short for samples not to overlap.
core::tick_t presentation_interval(const phaseless::v1::Model& m, const core::network_spec& spec);

}  // namespace phaseless::io
