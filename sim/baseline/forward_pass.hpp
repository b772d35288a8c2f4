#pragma once
// One feed-forward pass through a network_spec's DAG in topological order, with
// the engine's arithmetic: mu_v = b_v + sum over in-projections (in projection
// order) of dot(W row, presynaptic values). Shared by training and evaluation.
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "sim/core/dataset.hpp"
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

// mu[v] from the activities of v's parents: b + sum_k u_k, or prod_k u_k for a product
// vertex, with u_k = W_k x_pre over v's in-projections in projection order; when `u`
// is given, u[k] keeps them (a product's backward needs prod_{k' != k} u_k').
// Returns MACs done.
template <class Real>
std::uint64_t predict_population(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                                 const std::vector<Real>& bias, pop_t v, const std::vector<std::vector<Real>>& act,
                                 std::vector<Real>& mu, std::vector<Real>& tmp, std::vector<std::vector<Real>>* u) {
  std::uint64_t ops = 0;
  const auto& pv = spec.populations[v];
  const bool product = pv.combine == combine_kind::product;
  if (product)
    mu.assign(pv.size, Real(1));
  else
    mu.assign(bias.begin(), bias.end());
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.post != v) continue;
    const auto& s = syn[k];
    if (u && product) (*u)[k].resize(pv.size);
    for (index_t i = 0; i < pv.size; ++i) {
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      const Real uk = kernels::dot(s.w.data() + rb, row_inputs(s, i, act[p.pre], tmp), n);
      if (product) {
        mu[i] *= uk;
        if (u) (*u)[k][i] = uk;
      } else {
        mu[i] += uk;
      }
      ops += n;
    }
  }
  return ops;
}

// act[v] = f(mu[v]) (input: f(x)), mu[v] for non-input populations, in topological
// order. Returns MACs done.
template <class Real>
std::uint64_t forward_pass(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                           const std::vector<const std::vector<Real>*>& bias, std::span<const float> x,
                           std::vector<std::vector<Real>>& mu, std::vector<std::vector<Real>>& act,
                           std::vector<Real>& tmp, std::vector<std::vector<Real>>* u = nullptr) {
  std::uint64_t ops = 0;
  const auto& in = spec.populations[spec.input];
  act[spec.input].resize(in.size);
  for (index_t i = 0; i < in.size; ++i)
    act[spec.input][i] = static_cast<Real>(activate<double>(in.activation, x[i]));
  for (pop_t v : spec.topo) {
    if (v == spec.input) continue;
    const auto& pv = spec.populations[v];
    ops += predict_population(spec, syn, *bias[v], v, act, mu[v], tmp, u);
    act[v].resize(pv.size);
    for (index_t i = 0; i < pv.size; ++i) act[v][i] = activate<Real>(pv.activation, mu[v][i]);
  }
  return ops;
}

// The output delta -dL/dmu into eps (softmax cross-entropy: y - softmax(z); squared
// loss: (t - f(z)) f'(z)); returns the sample's loss.
template <class Real>
double output_delta(const network_spec& spec, const dataset& data, std::uint64_t row, const std::vector<Real>& z,
                    std::vector<Real>& eps) {
  const auto& po = spec.populations[spec.output];
  eps.resize(po.size);
  if (spec.learning.loss == loss_kind::softmax_ce) {
    Real m = z[0];
    for (index_t k = 1; k < z.size(); ++k) m = std::max(m, z[k]);
    Real sum = 0;
    for (index_t k = 0; k < z.size(); ++k) sum += std::exp(z[k] - m);
    const index_t label = data.labels[row];
    for (index_t i = 0; i < po.size; ++i) eps[i] = (i == label ? Real(1) : Real(0)) - std::exp(z[i] - m) / sum;
    return double(std::log(sum) - (z[label] - m));
  }
  double loss = 0;
  for (index_t i = 0; i < po.size; ++i) {
    const Real t = data.target_cols ? static_cast<Real>(data.target(row)[i]) : (data.labels[row] == i ? Real(1) : Real(0));
    const Real a = activate<Real>(po.activation, z[i]);
    loss += 0.5 * double(t - a) * double(t - a);
    eps[i] = (t - a) * activate_prime<Real>(po.activation, z[i]);
  }
  return loss;
}

// For a product vertex: d mu_i / d u_k(i) = prod over its other in-projections k'
// of u_k'(i), in projection order (no division: exact with zeros).
template <class Real>
Real product_partial(const network_spec& spec, const std::vector<std::vector<Real>>& u, std::size_t k, index_t i) {
  Real d = Real(1);
  for (std::size_t q = 0; q < spec.projections.size(); ++q)
    if (q != k && spec.projections[q].post == spec.projections[k].post) d *= u[q][i];
  return d;
}

}  // namespace phaseless::baseline
