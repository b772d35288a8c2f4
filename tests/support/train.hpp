#pragma once
// Train a network_spec on both engines — the event engine and the rule's own
// synchronous form from the registry — over rows 0..n-1, and compare weights.
#include <cmath>
#include <utility>
#include <vector>

#include "sim/baseline/backprop.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/rules/registry.hpp"
#include "tests/support/specs.hpp"

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

// The eager-mode check every rule shares: the spec's network trained for n samples on
// a teacher task (400 training rows, 300 held out), in eager and in dataflow mode.
struct eager_outcome {
  double before = 0, eager = 0, flow = 0;   // held-out accuracy: untrained, eager, dataflow
  weights w_eager, w_flow;
};
inline eager_outcome eager_and_dataflow(const core::network_spec& spec, std::size_t n) {
  const std::size_t cols = spec.populations[spec.input].size, classes = spec.populations[spec.output].size;
  const auto d = teacher_data(400, cols, classes, 11), held_out = teacher_data(300, cols, classes, 12);
  eager_outcome r;
  r.before = accuracy_after<double>(spec, d, held_out, 0, core::mode_kind::eager);
  r.eager = accuracy_after<double>(spec, d, held_out, n, core::mode_kind::eager, &r.w_eager);
  r.flow = accuracy_after<double>(spec, d, held_out, n, core::mode_kind::dataflow, &r.w_flow);
  return r;
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
