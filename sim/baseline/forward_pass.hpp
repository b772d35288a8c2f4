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
#include "sim/core/vertex.hpp"
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

// What a backward pass needs from the forward pass besides mu and act: per
// projection into a product vertex, u_k; into a bilinear or softmax vertex, the
// Jacobian rows its errors travel back through (core/vertex.hpp).
template <class Real>
struct vjp_state {
  std::vector<std::vector<Real>> u;          // by projection (product posts only)
  std::vector<synapse_matrix<Real>> jac;     // by projection (bilinear/softmax posts only)
  // The matrix errors cross going back over projection k: W, or the Jacobian.
  const synapse_matrix<Real>& back(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                                   std::size_t k) const {
    const auto c = spec.populations[spec.projections[k].post].combine;
    return c == combine_kind::bilinear || c == combine_kind::softmax ? jac[k] : syn[k];
  }
};

// mu[v] from the activities of v's parents (combine_kind in network_spec.hpp), with
// u_k = W_k x_pre over v's in-projections in projection order; `st` (optional) keeps
// what the backward pass needs. Returns MACs done.
template <class Real>
std::uint64_t predict_population(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                                 const std::vector<Real>& bias, pop_t v, const std::vector<std::vector<Real>>& act,
                                 std::vector<Real>& mu, std::vector<Real>& tmp, vjp_state<Real>* st) {
  std::uint64_t ops = 0;
  const auto& pv = spec.populations[v];
  std::vector<std::size_t> in;
  for (std::size_t k = 0; k < spec.projections.size(); ++k)
    if (spec.projections[k].post == v) in.push_back(k);
  if (st) {
    st->u.resize(spec.projections.size());
    st->jac.resize(spec.projections.size());
  }
  if (pv.combine == combine_kind::bilinear || pv.combine == combine_kind::softmax) {
    const bool bilinear = pv.combine == combine_kind::bilinear;
    for (std::size_t k : in)
      if (st && st->jac[k].size() != syn[k].size()) st->jac[k] = syn[k];   // the layout; values per sample
    std::vector<Real> tmp1;
    mu.resize(pv.size);
    const auto& s0 = syn[in[0]];
    for (index_t i = 0; i < pv.size; ++i) {
      const auto rb = s0.row_begin(i), n = s0.row_end(i) - rb;
      const Real* x0 = row_inputs(s0, i, act[spec.projections[in[0]].pre], tmp);
      Real* j0 = st ? st->jac[in[0]].w.data() + rb : nullptr;
      if (bilinear) {
        const auto& s1 = syn[in[1]];
        const auto rb1 = s1.row_begin(i);
        const Real* x1 = row_inputs(s1, i, act[spec.projections[in[1]].pre], tmp1);
        mu[i] = bilinear_vertex(s0.w.data() + rb, x0, s1.w.data() + rb1, x1, n, j0,
                                st ? st->jac[in[1]].w.data() + rb1 : nullptr);
        ops += 2 * n;
      } else {
        mu[i] = softmax_vertex(s0.w.data() + rb, x0, n, i % n, j0);
        ops += n;
      }
    }
    return ops;
  }
  const bool product = pv.combine == combine_kind::product;
  if (product)
    mu.assign(pv.size, Real(1));
  else
    mu.assign(bias.begin(), bias.end());
  for (std::size_t k : in) {
    const auto& p = spec.projections[k];
    const auto& s = syn[k];
    if (st && product) st->u[k].resize(pv.size);
    // Dense rows: blocks of rows through dot_rows (each row's result is dot's).
    constexpr index_t block = 16;
    Real u[block];
    for (index_t i0 = 0; i0 < pv.size; i0 += block) {
      const index_t m = std::min(block, pv.size - i0);
      if (s.dense) {
        kernels::dot_rows(s.w.data() + s.row_begin(i0), s.n_pre, act[p.pre].data(), s.n_pre, m, u);
      } else {
        for (index_t q = 0; q < m; ++q) {
          const auto rb = s.row_begin(i0 + q);
          u[q] = kernels::dot(s.w.data() + rb, row_inputs(s, i0 + q, act[p.pre], tmp), s.row_end(i0 + q) - rb);
        }
      }
      for (index_t q = 0; q < m; ++q) {
        const index_t i = i0 + q;
        if (product) {
          mu[i] *= u[q];
          if (st) st->u[k][i] = u[q];
        } else {
          mu[i] += u[q];
        }
        ops += s.row_end(i) - s.row_begin(i);
      }
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
                           std::vector<Real>& tmp, vjp_state<Real>* st = nullptr) {
  std::uint64_t ops = 0;
  const auto& in = spec.populations[spec.input];
  act[spec.input].resize(in.size);
  for (index_t i = 0; i < in.size; ++i)
    act[spec.input][i] = static_cast<Real>(activate<double>(in.activation, x[i]));
  for (pop_t v : spec.topo) {
    if (v == spec.input) continue;
    const auto& pv = spec.populations[v];
    ops += predict_population(spec, syn, *bias[v], v, act, mu[v], tmp, st);
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
