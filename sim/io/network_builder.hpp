#pragma once
// Model file -> network_spec: populations in topological order, projections with
// their initial weights (drawn from each projection's own counter-based stream,
// so adding a projection never changes another's weights) and per-synapse delays.
//
// Graph features (rule zil), laid out as the engines and the reference-gradient
// script expect:
// * conv: sparse rows, post neuron (co, oy, ox) = (co Ho + oy) Wo + ox in order; its
//   synapses run over ci, ky, kx (padded positions have none), col (ci H + iy) W + ix,
//   param ((co Cin + ci) K + ky) K + kx into one tie named after the projection
//   (Cout Cin K K values, fan_in Cin K K, fan_out Cout K K).
// * a bias of a shaped population with height * width > 1: one per channel, a tie
//   "<population>.bias"; bias_param[i] = channel of neuron i.
// * one_to_one: sparse, row i = {col i}, untied. fixed: plastic = false.
// * unroll T: copies "p@1".."p@T" in place of p. Into p: copies "<proj>@t" sharing one
//   tie (n_post x row, post-major; row = step_slice k, then step t reads pre neurons
//   [(t-1) k, t k), or n_pre). p -> p: copies t = 2..T from p@t-1. p -> q unrolled:
//   p@t -> q@t. p -> not unrolled: one untied projection from p@T. A bias of p is one
//   tie "p.bias" shared by the copies.
// * BILINEAR / SOFTMAX (attention): a shaped population (C, H, W) is a C x HW matrix. Into
//   a BILINEAR post P = X' Y' (first in-projection X, second Y, each transposed per its
//   operand), row (r, c) of X's projection reads X'[r, m] and of Y's reads Y'[m, c] for
//   m = 0..K-1, aligned; into a SOFTMAX post, rows {} makes row (r, c) read pre row r.
//   Weights from init, fixed.
// Every copy draws its own delays and random feedback B (streams keyed by its name).
#include "phaseless.pb.h"
#include "sim/core/network_spec.hpp"

namespace phaseless::io {

// `m` must be validated and have defaults applied (load_model does both).
core::network_spec build_network_spec(const phaseless::v1::Model& m);

// The learning part of build_network_spec (learning_builder.cpp).
core::learning_spec build_learning_spec(const phaseless::v1::Model& m);

// The presentation interval a run uses: the model's, or the critical path + 1 when
// it is 0. Throws core::user_error naming schedule.presentation_interval when the
// model's is too short for samples not to overlap.
core::tick_t presentation_interval(const phaseless::v1::Model& m, const core::network_spec& spec);

}  // namespace phaseless::io
