#include "sim/baseline/zil_schedule.hpp"

#include <algorithm>
#include <limits>

#include "sim/baseline/forward_pass.hpp"

namespace phaseless::baseline {

std::vector<int> distance_to_output(const network_spec& spec, distance_kind kind) {
  std::vector<int> d(spec.populations.size(), -1);
  d[spec.output] = 0;
  for (auto it = spec.topo.rbegin(); it != spec.topo.rend(); ++it)
    for (const auto& p : spec.projections) {
      if (p.pre != *it || d[p.post] < 0) continue;
      const int via = d[p.post] + 1;
      int& dv = d[*it];
      dv = dv < 0 ? via : kind == distance_kind::longest ? std::max(dv, via) : std::min(dv, via);
    }
  return d;
}

template <class Real>
zil_schedule<Real>::zil_schedule(const network_spec& spec, distance_kind distance)
    : spec_(spec), d_(distance_to_output(spec, distance)) {
  check_vertices(spec);
  const std::size_t np = spec.populations.size();
  for (auto* v : {&b_, &x_, &mu_, &act_, &eps_, &g_, &grad_b_}) v->resize(np);
  for (pop_t v = 0; v < np; ++v) {
    const auto& p = spec.populations[v];
    b_[v].assign(p.size, Real(0));
    if (p.bias)
      for (index_t i = 0; i < p.size; ++i) b_[v][i] = static_cast<Real>(p.b[i]);
    grad_b_[v].assign(p.size, Real(0));
  }
  for (const auto& p : spec.projections) {
    syn_.push_back(convert<Real>(p.syn));
    grad_.emplace_back(p.syn.size(), Real(0));
  }
  for (const auto& t : spec.ties) ties_.emplace_back().init(t, spec.learning);
  tie_grad_.assign(spec.projections.size(), nullptr);
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.tie >= 0 && p.plastic) tie_grad_[k] = ties_[p.tie].add_synapses(syn_[k], p.param);
  }
  bias_tie_grad_.assign(np, nullptr);
  for (pop_t v = 0; v < np; ++v) {
    const auto& p = spec.populations[v];
    if (p.bias && p.bias_plastic && p.bias_tie >= 0) bias_tie_grad_[v] = ties_[p.bias_tie].add_bias(p.bias_param, &b_[v]);
  }
}

template <class Real>
void zil_schedule<Real>::predict() {
  for (pop_t v : spec_.topo) {
    if (v == spec_.input) continue;
    const auto f = spec_.populations[v].activation;
    act_[v].resize(x_[v].size());
    for (std::size_t i = 0; i < x_[v].size(); ++i) act_[v][i] = activate<Real>(f, x_[v][i]);
  }
  for (pop_t v : spec_.topo)
    if (v != spec_.input) ops_ += predict_population(spec_, syn_, b_[v], v, act_, mu_[v], tmp_, &vjp_);
}

template <class Real>
void zil_schedule<Real>::train(const dataset& data, std::uint64_t row, std::uint64_t sample,
                               std::uint64_t samples_total) {
  std::vector<const std::vector<Real>*> bias;
  for (auto& b : b_) bias.push_back(&b);
  ops_ += forward_pass(spec_, syn_, bias, data.sample(row), mu_, act_, tmp_, &vjp_);
  for (pop_t v = 0; v < spec_.populations.size(); ++v)
    if (v != spec_.input) x_[v] = mu_[v];   // C1
  const pop_t out = spec_.output;
  const int steps = *std::max_element(d_.begin(), d_.end());
  const Real gamma = static_cast<Real>(spec_.learning.gamma);
  for (int t = 0; t <= steps; ++t) {
    if (t > 0) predict();
    // Errors of the time-t state: eps_v = x_v - mu_v; the clamped output's -dL/dmu.
    const double loss = output_delta(spec_, data, row, mu_[out], eps_[out]);
    if (t == 0) loss_ += loss;
    for (pop_t v = 0; v < spec_.populations.size(); ++v) {
      if (v == spec_.input || v == out) continue;
      eps_[v].resize(x_[v].size());
      for (std::size_t i = 0; i < x_[v].size(); ++i) eps_[v][i] = x_[v][i] - mu_[v][i];
    }
    // What each vertex receives from its children: sum of VJPs (W^T e; a product
    // child's e carries its other factors).
    auto link_error = [&](std::size_t k, index_t i) {
      const pop_t c = spec_.projections[k].post;
      const Real e = eps_[c][i];
      return spec_.populations[c].combine == combine_kind::product ? e * product_partial(spec_, vjp_.u, k, i) : e;
    };
    for (pop_t v = 0; v < spec_.populations.size(); ++v) g_[v].assign(spec_.populations[v].size, Real(0));
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (p.pre == spec_.input || p.feedback == feedback_kind::none) continue;
      ops_ += send_back(vjp_.back(spec_, syn_, k), [&](index_t i) { return link_error(k, i); }, g_[p.pre].data());
    }
    // C2: the parameters of the vertices at distance t learn from the time-t state.
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (d_[p.post] != t || !p.plastic) continue;
      Real* G = tie_grad_[k] ? tie_grad_[k] : grad_[k].data();
      const auto& s = syn_[k];
      for (index_t i = 0; i < s.n_post; ++i) {
        const auto rb = s.row_begin(i);
        kernels::axpy(link_error(k, i), row_inputs(s, i, act_[p.pre], tmp_), G + rb, s.row_end(i) - rb);
      }
    }
    for (pop_t v = 0; v < spec_.populations.size(); ++v) {
      if (v == spec_.input || d_[v] != t) continue;
      Real* G = bias_tie_grad_[v] ? bias_tie_grad_[v] : grad_b_[v].data();
      for (std::size_t i = 0; i < eps_[v].size(); ++i) G[i] += eps_[v][i];
    }
    // C3: every hidden value node moves at once.
    for (pop_t v = 0; v < spec_.populations.size(); ++v) {
      if (v == spec_.input || v == out) continue;
      const auto f = spec_.populations[v].activation;
      for (std::size_t i = 0; i < x_[v].size(); ++i)
        x_[v][i] += gamma * (-eps_[v][i] + activate_prime<Real>(f, x_[v][i]) * g_[v][i]);
    }
  }
  ++accumulated_;
  if ((sample + 1) % spec_.learning.batch == 0 || sample + 1 == samples_total) apply();
  for (auto& t : ties_) t.sample_done(sample, samples_total);
}

// Plain SGD at batch ends (the schedule is a reference, not a training engine).
template <class Real>
void zil_schedule<Real>::apply() {
  const Real scale = static_cast<Real>(spec_.learning.lr / accumulated_);
  for (std::size_t k = 0; k < syn_.size(); ++k) {
    if (tie_grad_[k] || !spec_.projections[k].plastic) continue;
    kernels::axpy(scale * static_cast<Real>(spec_.projections[k].lr_scale), grad_[k].data(), syn_[k].w.data(),
                  syn_[k].size());
    std::fill(grad_[k].begin(), grad_[k].end(), Real(0));
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    if (spec_.populations[v].bias && spec_.populations[v].bias_plastic && !bias_tie_grad_[v])
      kernels::axpy(scale, grad_b_[v].data(), b_[v].data(), b_[v].size());
    std::fill(grad_b_[v].begin(), grad_b_[v].end(), Real(0));
  }
  accumulated_ = 0;
}

template <class Real>
double zil_schedule<Real>::take_loss() {
  return take(loss_);
}

template class zil_schedule<float>;
template class zil_schedule<double>;

}  // namespace phaseless::baseline
