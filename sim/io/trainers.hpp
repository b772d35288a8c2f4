#pragma once
// The engines behind a run, as the training loop in session.cpp sees them: the event
// engine (message passing) and a rule's synchronous form, behind one interface; and the
// weights as the trace records them (dense per projection, a shared parameter once).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sim/baseline/sync_engine.hpp"
#include "sim/core/dataset.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/rules/registry.hpp"

namespace phaseless::io::detail {

using namespace phaseless::core;

// What the loop needs of an engine, event-driven or synchronous.
template <class Real>
struct trainer {
  virtual ~trainer() = default;
  virtual void run_samples(std::uint64_t n) = 0;
  virtual std::vector<synapse_matrix<Real>>& synapses() = 0;
  virtual const std::vector<Real>* bias(pop_t v) = 0;
  virtual double take_loss() = 0;
  virtual double take_energy() = 0;   // relaxation energy summed since the last call (0: rule has none)
  virtual counters totals() const = 0;
  virtual tick_t now() const = 0;
  virtual double parallel_share() const { return 1; }   // event engine: windows run on the workers
  virtual std::vector<double> report(pop_t v, std::uint64_t last_row) = 0;
  virtual std::vector<std::string> elements(pop_t v) = 0;   // names of report() values per neuron
  // After a numeric_error in run_samples(to) started at `from`: the 1-based number of
  // the sample that was being learned.
  virtual std::uint64_t failed_sample(std::uint64_t from, std::uint64_t to) const = 0;
};

template <class Real>
struct event_trainer final : trainer<Real> {
  event_trainer(const network_spec& s, const dataset& d, std::vector<std::uint64_t> o, tick_t iv, mode_kind m,
                unsigned shards)
      : spec(s), data(d), interval(iv), net(s, d, std::move(o), iv, m, shards) {}
  void run_samples(std::uint64_t n) override { net.run_samples(n); }
  std::vector<synapse_matrix<Real>>& synapses() override { return net.synapses(); }
  const std::vector<Real>* bias(pop_t v) override { return v == spec.input ? &empty : &net.bias(v); }
  double take_loss() override { return net.take_loss(); }
  double take_energy() override {
    double e = 0;   // in population order: deterministic at any thread count
    for (pop_t v = 0; v < spec.populations.size(); ++v)
      if (v != spec.input) e += net.learner(v)->take_energy();
    return e;
  }
  counters totals() const override { return net.totals(); }
  tick_t now() const override { return net.now(); }
  double parallel_share() const override { return net.parallel_share(); }
  std::vector<double> report(pop_t v, std::uint64_t last_row) override {
    std::vector<double> out;
    if (v == spec.input) {
      for (float x : data.sample(last_row)) out.push_back(x);
      return out;
    }
    auto* l = net.learner(v);
    const auto k = static_cast<unsigned>(l->elements().size());
    for (index_t i = 0; i < spec.populations[v].size; ++i)
      for (unsigned e = 0; e < k; ++e) out.push_back(l->element(i, e));
    return out;
  }
  std::vector<std::string> elements(pop_t v) override {
    return v == spec.input ? std::vector<std::string>{"x"} : net.learner(v)->elements();
  }
  std::uint64_t failed_sample(std::uint64_t from, std::uint64_t to) const override {
    // Sample k (0-based) is presented at tick k * interval and done by (k + 1) * interval.
    const auto k = static_cast<std::uint64_t>(std::max<tick_t>(net.now(), 0) / interval);
    return std::clamp<std::uint64_t>(k + 1, from + 1, std::max(from + 1, to));
  }
  const network_spec& spec;
  const dataset& data;
  tick_t interval;
  rules::event_network<Real> net;
  std::vector<Real> empty;
};

template <class Real>
struct baseline_trainer final : trainer<Real> {
  baseline_trainer(const network_spec& s, const dataset& d, std::vector<std::uint64_t> o)
      : spec(s), data(d), order(std::move(o)), sync(rules::find_rule<Real>(s.learning.rule).make_sync(s)) {}
  void run_samples(std::uint64_t n) override {
    for (; done < n && done < order.size(); ++done) sync->train(data, order[done], done, order.size());
  }
  std::vector<synapse_matrix<Real>>& synapses() override { return sync->synapses(); }
  const std::vector<Real>* bias(pop_t v) override { return &sync->bias(v); }
  double take_loss() override { return sync->take_loss(); }
  double take_energy() override { return sync->take_energy(); }
  counters totals() const override { return counters{0, sync->synaptic_ops(), 0}; }
  tick_t now() const override { return 0; }
  std::vector<double> report(pop_t v, std::uint64_t last_row) override {
    std::vector<double> out;
    if (v == spec.input)
      for (float x : data.sample(last_row)) out.push_back(x);
    return out;   // the synchronous form keeps no per-neuron relaxation state to report
  }
  std::vector<std::string> elements(pop_t v) override {
    return v == spec.input ? std::vector<std::string>{"x"} : std::vector<std::string>{};
  }
  std::uint64_t failed_sample(std::uint64_t, std::uint64_t) const override { return done + 1; }
  const network_spec& spec;
  const dataset& data;
  std::vector<std::uint64_t> order;
  std::unique_ptr<baseline::sync_engine<Real>> sync;
  std::uint64_t done = 0;
};

template <class Real>
std::vector<double> dense_weights(const synapse_matrix<Real>& s) {
  std::vector<Real> row(s.n_pre);
  std::vector<double> out;
  out.reserve(std::size_t(s.n_post) * s.n_pre);
  for (index_t i = 0; i < s.n_post; ++i) {
    s.dense_row(i, row.data());
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// A tie's parameters as the copies hold them now (every engine keeps its copies in
// step with the parameter); entries no copy uses keep their initial values.
template <class Real>
std::vector<double> shared_values(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn, int tie) {
  std::vector<double> theta = spec.ties[tie].theta;
  std::vector<char> seen(theta.size(), 0);
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.tie != tie) continue;
    for (std::size_t s = 0; s < p.param.size(); ++s)
      if (!seen[p.param[s]]) {
        seen[p.param[s]] = 1;
        theta[p.param[s]] = double(syn[k].w[s]);
      }
  }
  return theta;
}

}  // namespace phaseless::io::detail
