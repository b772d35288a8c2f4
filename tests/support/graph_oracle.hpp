#pragma once
// Oracles for one training step on a computational graph: every synapse weight (in
// projection order, shared copies included) followed by every bias, after one
// batch of all rows of a dataset, from
//   event_step   the event engine (Z-IL messages),
//   sync_step    any synchronous engine (backprop, the paper's schedule),
//   fd_step      central finite differences of the batch-mean loss (no engine code
//                beyond the forward pass): w - lr dL/dw, shared parameters moving
//                every copy by -lr dL/dtheta, fixed weights not at all.
// relative_step_error compares the steps (after - before), not the weights.
#include <cmath>
#include <numeric>
#include <vector>

#include "sim/baseline/forward_pass.hpp"
#include "sim/baseline/sync_engine.hpp"
#include "sim/rules/event_network.hpp"

namespace phaseless::test {

using namespace phaseless::core;
using flat = std::vector<double>;

template <class Syn, class Bias>
flat flatten(const network_spec& spec, const Syn& syn, Bias&& bias) {
  flat out;
  for (const auto& s : syn) out.insert(out.end(), s.w.begin(), s.w.end());
  for (pop_t v = 0; v < spec.populations.size(); ++v)
    if (v != spec.input) {
      const auto& b = bias(v);
      out.insert(out.end(), b.begin(), b.end());
    }
  return out;
}

inline flat initial_params(const network_spec& spec) {
  std::vector<synapse_matrix<double>> syn;
  for (const auto& p : spec.projections) syn.push_back(p.syn);
  return flatten(spec, syn, [&](pop_t v) {
    const auto& p = spec.populations[v];
    return p.bias ? p.b : std::vector<double>(p.size, 0.0);
  });
}

inline std::vector<std::uint64_t> all_rows(const dataset& d) {
  std::vector<std::uint64_t> r(d.rows);
  std::iota(r.begin(), r.end(), 0);
  return r;
}

inline flat event_step(const network_spec& spec, const dataset& d, unsigned threads = 1) {
  rules::event_network<double> net(spec, d, all_rows(d), rules::critical_path(spec) + 1, mode_kind::dataflow,
                                   threads);
  net.run_samples(d.rows);
  return flatten(spec, net.synapses(), [&](pop_t v) -> const std::vector<double>& { return net.bias(v); });
}

inline flat sync_step(const network_spec& spec, baseline::sync_engine<double>& e, const dataset& d) {
  for (std::uint64_t r = 0; r < d.rows; ++r) e.train(d, r, r, d.rows);
  return flatten(spec, e.synapses(), [&](pop_t v) -> const std::vector<double>& { return e.bias(v); });
}

// Mean loss over the dataset's rows with the given weights and biases.
inline double batch_loss(const network_spec& spec, const std::vector<synapse_matrix<double>>& syn,
                         const std::vector<std::vector<double>>& b, const dataset& d) {
  std::vector<const std::vector<double>*> bias;
  for (const auto& v : b) bias.push_back(&v);
  const std::size_t np = spec.populations.size();
  std::vector<std::vector<double>> mu(np), act(np);
  std::vector<double> tmp, eps;
  double sum = 0;
  for (std::size_t r = 0; r < d.rows; ++r) {
    baseline::forward_pass(spec, syn, bias, d.sample(r), mu, act, tmp);
    sum += baseline::output_delta(spec, d, r, mu[spec.output], eps);
  }
  return sum / double(d.rows);
}

// Fourth-order central difference (-f(2h) + 8f(h) - 8f(-h) + f(-2h)) / 12h with
// h = 1e-3: truncation ~h^4 |f^(5)| / 30 ~ 1e-14, rounding ~1e-16 |L| / h ~ 1e-13, both far
// below the 1e-9 the tests require.
inline flat fd_step(const network_spec& spec, const dataset& d) {
  std::vector<synapse_matrix<double>> syn;
  for (const auto& p : spec.projections) syn.push_back(p.syn);
  std::vector<std::vector<double>> b;
  for (const auto& p : spec.populations) b.push_back(p.bias ? p.b : std::vector<double>(p.size, 0.0));
  const double h = 1e-3, lr = spec.learning.lr;
  // The derivative along a direction that moves a set of entries together.
  auto derivative = [&](auto&& shift) {
    double f[4];
    const double steps[4] = {2 * h, h, -h, -2 * h};
    for (int k = 0; k < 4; ++k) {
      shift(steps[k]);
      f[k] = batch_loss(spec, syn, b, d);
      shift(-steps[k]);
    }
    return (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
  };
  flat out = initial_params(spec);
  std::size_t off = 0;
  std::vector<std::size_t> syn_off;
  for (const auto& s : syn) {
    syn_off.push_back(off);
    off += s.size();
  }
  const std::size_t bias_off = off;
  auto bias_index = [&](pop_t v, index_t i) {
    std::size_t o = bias_off;
    for (pop_t q = 0; q < v; ++q)
      if (q != spec.input) o += spec.populations[q].size;
    return o + i;
  };
  for (std::size_t k = 0; k < syn.size(); ++k) {   // own weights
    const auto& p = spec.projections[k];
    if (!p.plastic || p.tie >= 0) continue;
    const double rate = lr * p.lr_scale;
    for (std::size_t s = 0; s < syn[k].size(); ++s)
      out[syn_off[k] + s] -= rate * derivative([&](double e) { syn[k].w[s] += e; });
  }
  for (std::size_t t = 0; t < spec.ties.size(); ++t)   // shared parameters: all copies at once
    for (std::size_t j = 0; j < spec.ties[t].theta.size(); ++j) {
      auto each_copy = [&](auto&& f) {
        for (std::size_t k = 0; k < syn.size(); ++k)
          if (spec.projections[k].tie == int(t) && spec.projections[k].plastic)
            for (std::size_t s = 0; s < syn[k].size(); ++s)
              if (spec.projections[k].param[s] == j) f(syn[k].w[s], syn_off[k] + s);
        for (pop_t v = 0; v < spec.populations.size(); ++v)
          if (spec.populations[v].bias && spec.populations[v].bias_plastic && spec.populations[v].bias_tie == int(t))
            for (index_t i = 0; i < spec.populations[v].size; ++i)
              if (spec.populations[v].bias_param[i] == j) f(b[v][i], bias_index(v, i));
      };
      const double g = derivative([&](double e) { each_copy([&](double& w, std::size_t) { w += e; }); });
      each_copy([&](double&, std::size_t at) { out[at] -= lr * spec.ties[t].lr_scale * g; });
    }
  for (pop_t v = 0; v < spec.populations.size(); ++v) {   // own biases, at the first in-projection's rate
    const auto& p = spec.populations[v];
    if (v == spec.input || !p.bias || !p.bias_plastic || p.bias_tie >= 0) continue;
    double scale = 1;
    for (const auto& q : spec.projections)
      if (q.post == v) {
        scale = q.lr_scale;
        break;
      }
    for (index_t i = 0; i < p.size; ++i) out[bias_index(v, i)] -= lr * scale * derivative([&](double e) { b[v][i] += e; });
  }
  return out;
}

// The entries of `grown` (the flat layout of a spec with populations and projections
// appended, such as a levelled copy) that belong to `original`'s parameters.
inline flat original_part(const network_spec& original, const network_spec& grown, const flat& f) {
  flat kept;
  std::size_t off = 0;
  for (std::size_t k = 0; k < grown.projections.size(); ++k) {
    const std::size_t n = grown.projections[k].syn.size();
    if (k < original.projections.size()) kept.insert(kept.end(), f.begin() + off, f.begin() + off + n);
    off += n;
  }
  for (pop_t v = 0; v < grown.populations.size(); ++v) {
    if (v == grown.input) continue;
    const std::size_t n = grown.populations[v].size;
    if (v < original.populations.size()) kept.insert(kept.end(), f.begin() + off, f.begin() + off + n);
    off += n;
  }
  return kept;
}

// || (a - before) - (b - before) || / || b - before ||.
inline double relative_step_error(const flat& before, const flat& a, const flat& b) {
  double num = 0, den = 0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    const double da = a[k] - before[k], db = b[k] - before[k];
    num += (da - db) * (da - db);
    den += db * db;
  }
  return std::sqrt(num / den);
}

}  // namespace phaseless::test
