#pragma once
// Train a network_spec on both engines — the event engine and the rule's own
// synchronous form from the registry — over rows 0..n-1, and compare weights.
#include <cmath>
#include <utility>
#include <vector>

#include "sim/baseline/backprop.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/rules/registry.hpp"

namespace phaseless::test {

using weights = std::vector<std::vector<double>>;

template <class Real>
weights weights_of(const std::vector<core::synapse_matrix<Real>>& s) {
  weights out;
  for (const auto& m : s) out.emplace_back(m.w.begin(), m.w.end());
  return out;
}

inline std::vector<std::uint64_t> rows_in_order(std::size_t n, std::size_t rows) {
  std::vector<std::uint64_t> order(n);
  for (std::size_t k = 0; k < n; ++k) order[k] = k % rows;
  return order;
}

template <class Real>
weights train_event(const core::network_spec& spec, const core::dataset& d, std::size_t n,
                    core::mode_kind mode = core::mode_kind::dataflow, unsigned threads = 1) {
  rules::event_network<Real> net(spec, d, rows_in_order(n, d.rows), rules::critical_path(spec) + 1, mode, threads);
  net.run_samples(n);
  return weights_of(net.synapses());
}

template <class Real>
weights train_sync(const core::network_spec& spec, const core::dataset& d, std::size_t n) {
  auto sync = rules::find_rule<Real>(spec.learning.rule).make_sync(spec);
  const auto order = rows_in_order(n, d.rows);
  for (std::size_t k = 0; k < n; ++k) sync->train(d, order[k], k, n);
  return weights_of(sync->synapses());
}

// Test accuracy (feed-forward argmax) after n samples of the event engine in `mode`;
// the weights land in *w when asked for.
template <class Real>
double accuracy_after(const core::network_spec& spec, const core::dataset& d, const core::dataset& test,
                      std::size_t n, core::mode_kind mode, weights* w = nullptr) {
  rules::event_network<Real> net(spec, d, rows_in_order(n, d.rows), rules::critical_path(spec) + 1, mode, 1);
  net.run_samples(n);
  std::vector<const std::vector<Real>*> b(spec.populations.size());
  const std::vector<Real> none;
  for (core::pop_t v = 0; v < spec.populations.size(); ++v) b[v] = v == spec.input ? &none : &net.bias(v);
  if (w) *w = weights_of(net.synapses());
  return baseline::evaluate<Real>(spec, net.synapses(), b, test).accuracy;
}

// (event engine, synchronous form) after n samples.
template <class Real>
std::pair<weights, weights> train_both(const core::network_spec& spec, const core::dataset& d, std::size_t n,
                                       unsigned threads = 1) {
  return {train_event<Real>(spec, d, n, core::mode_kind::dataflow, threads), train_sync<Real>(spec, d, n)};
}

// ||a - b|| / ||b|| over all projections.
inline double relative_error(const weights& a, const weights& b) {
  double num = 0, den = 0;
  for (std::size_t p = 0; p < a.size(); ++p)
    for (std::size_t k = 0; k < a[p].size(); ++k) {
      num += (a[p][k] - b[p][k]) * (a[p][k] - b[p][k]);
      den += b[p][k] * b[p][k];
    }
  return std::sqrt(num / den);
}

}  // namespace phaseless::test
