#include "sim/baseline/alignment.hpp"

#include <cmath>

#include "sim/baseline/forward_pass.hpp"

namespace phaseless::baseline {

using namespace phaseless::core;

namespace {

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    ab += a[k] * b[k];
    aa += a[k] * a[k];
    bb += b[k] * b[k];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// g[j] = sum_i delta[i] m[i][j]: what the pre population receives through m.
template <class Real>
std::vector<double> back_through(const synapse_matrix<Real>& m, const std::vector<double>& delta) {
  std::vector<double> g(m.n_pre, 0.0);
  for (index_t i = 0; i < m.n_post; ++i)
    for (auto k = m.row_begin(i); k < m.row_end(i); ++k) g[m.pre_of(k)] += delta[i] * double(m.w[k]);
  return g;
}

}  // namespace

template <class Real>
std::vector<alignment> measure_alignment(const network_spec& spec, const std::vector<synapse_matrix<Real>>& w,
                                         const std::vector<const std::vector<Real>*>& bias, const dataset& data,
                                         std::size_t rows) {
  std::vector<alignment> out;
  std::vector<synapse_matrix<Real>> b(spec.projections.size());
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.feedback != feedback_kind::random) continue;
    b[k] = w[k];   // tied B := W^T reads W; otherwise B's own weights
    if (!p.b_tied()) b[k].w.assign(p.b.w.begin(), p.b.w.end());
    alignment a{k};
    std::vector<double> wf(w[k].w.begin(), w[k].w.end()), bf(b[k].w.begin(), b[k].w.end());
    a.weight_cosine = cosine(wf, bf);
    out.push_back(a);
  }
  if (out.empty() || rows == 0) return out;
  const std::size_t np = spec.populations.size();
  std::vector<std::vector<Real>> mu(np), act(np);
  std::vector<Real> tmp;
  rows = std::min(rows, data.rows);
  for (std::size_t r = 0; r < rows; ++r) {
    forward_pass(spec, w, bias, data.sample(r), mu, act, tmp);
    // The errors feedback alignment actually sends: -dL/dmu at the output, then
    // through each projection's feedback matrix (B, or W^T where symmetric).
    std::vector<std::vector<double>> delta(np);
    const auto& po = spec.populations[spec.output];
    auto& dz = delta[spec.output];
    dz.resize(po.size);
    const auto& z = mu[spec.output];
    if (spec.learning.loss == loss_kind::softmax_ce) {
      double m = z[0], s = 0;
      for (auto v : z) m = std::max(m, double(v));
      for (auto v : z) s += std::exp(double(v) - m);
      for (index_t i = 0; i < po.size; ++i) dz[i] = (data.labels[r] == i ? 1.0 : 0.0) - std::exp(double(z[i]) - m) / s;
    } else {
      for (index_t i = 0; i < po.size; ++i) {
        const double t = data.target_cols ? data.target(r)[i] : (data.labels[r] == i ? 1.0 : 0.0);
        dz[i] = (t - activate<double>(po.activation, double(z[i]))) * activate_prime<double>(po.activation, double(z[i]));
      }
    }
    for (auto it = spec.topo.rbegin(); it != spec.topo.rend(); ++it) {
      const pop_t v = *it;
      if (v == spec.output || v == spec.input) continue;
      std::vector<double> g(spec.populations[v].size, 0.0);
      for (std::size_t k = 0; k < spec.projections.size(); ++k) {
        const auto& p = spec.projections[k];
        if (p.pre != v || p.feedback == feedback_kind::none || delta[p.post].empty()) continue;
        const auto gk = back_through(p.feedback == feedback_kind::random ? b[k] : w[k], delta[p.post]);
        for (std::size_t j = 0; j < g.size(); ++j) g[j] += gk[j];
      }
      delta[v].resize(g.size());
      for (std::size_t j = 0; j < g.size(); ++j)
        delta[v][j] = activate_prime<double>(spec.populations[v].activation, double(mu[v][j])) * g[j];
    }
    for (auto& a : out) {
      const auto& p = spec.projections[a.projection];
      if (delta[p.post].empty()) continue;
      a.signal_cosine += cosine(back_through(b[a.projection], delta[p.post]), back_through(w[a.projection], delta[p.post]));
    }
  }
  for (auto& a : out) a.signal_cosine /= double(rows);
  return out;
}

template std::vector<alignment> measure_alignment<float>(const network_spec&, const std::vector<synapse_matrix<float>>&,
                                                         const std::vector<const std::vector<float>*>&, const dataset&,
                                                         std::size_t);
template std::vector<alignment> measure_alignment<double>(const network_spec&,
                                                          const std::vector<synapse_matrix<double>>&,
                                                          const std::vector<const std::vector<double>*>&,
                                                          const dataset&, std::size_t);

}  // namespace phaseless::baseline
