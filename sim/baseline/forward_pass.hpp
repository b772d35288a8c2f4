#pragma once
// One feed-forward pass through a network_spec's DAG in topological order, with
// the engine's arithmetic: mu_v = b_v + sum over in-projections (in projection
// order) of dot(W row, presynaptic values). Shared by training and evaluation.
#include <span>
#include <vector>

#include "sim/core/kernels.hpp"
#include "sim/core/network_spec.hpp"

namespace phaseless::baseline {

using namespace phaseless::core;

// The presynaptic values row i of `s` sees, gathered in row order (dense: no copy).
template <class Real>
const Real* row_inputs(const synapse_matrix<Real>& s, index_t i, const std::vector<Real>& pre, std::vector<Real>& tmp) {
  if (s.dense) return pre.data();
  tmp.resize(s.n_pre);
  const auto rb = s.row_begin(i);
  for (auto k = rb; k < s.row_end(i); ++k) tmp[k - rb] = pre[s.pre_of(k)];
  return tmp.data();
}

// g[pre] += e(i) * s[i][pre] for every post row i with e(i) != 0, rows in order: what
// the pre population receives back through one projection (W^T e, or B^T e). The
// event engine's error_input does the same operations in the same order, which keeps
// the synchronous forms bitwise equal to it. Returns the multiply-adds done.
template <class Real, class Error>
std::uint64_t send_back(const synapse_matrix<Real>& s, Error&& e, Real* g) {
  std::uint64_t ops = 0;
  for (index_t i = 0; i < s.n_post; ++i) {
    const Real ei = e(i);
    if (ei == Real(0)) continue;
    const auto rb = s.row_begin(i);
    if (s.dense) {
      kernels::axpy(ei, s.w.data() + rb, g, s.n_pre);
    } else {
      for (auto q = rb; q < s.row_end(i); ++q) g[s.pre_of(q)] += ei * s.w[q];
    }
    ops += s.row_end(i) - rb;
  }
  return ops;
}

// act[v] = f(mu[v]) (input: f(x)), mu[v] for non-input populations. Returns MACs done.
template <class Real>
std::uint64_t forward_pass(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                           const std::vector<const std::vector<Real>*>& bias, std::span<const float> x,
                           std::vector<std::vector<Real>>& mu, std::vector<std::vector<Real>>& act,
                           std::vector<Real>& tmp) {
  std::uint64_t ops = 0;
  const auto& in = spec.populations[spec.input];
  act[spec.input].resize(in.size);
  for (index_t i = 0; i < in.size; ++i)
    act[spec.input][i] = static_cast<Real>(activate<double>(in.activation, x[i]));
  for (pop_t v : spec.topo) {
    if (v == spec.input) continue;
    const auto& pv = spec.populations[v];
    mu[v].assign(bias[v]->begin(), bias[v]->end());
    for (std::size_t k = 0; k < spec.projections.size(); ++k) {
      const auto& p = spec.projections[k];
      if (p.post != v) continue;
      const auto& s = syn[k];
      for (index_t i = 0; i < pv.size; ++i) {
        const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
        mu[v][i] += kernels::dot(s.w.data() + rb, row_inputs(s, i, act[p.pre], tmp), n);
        ops += n;
      }
    }
    act[v].resize(pv.size);
    for (index_t i = 0; i < pv.size; ++i) act[v][i] = activate<Real>(pv.activation, mu[v][i]);
  }
  return ops;
}

}  // namespace phaseless::baseline
