#include "sim/baseline/backprop.hpp"

#include <algorithm>
#include <cmath>

#include "sim/baseline/forward_pass.hpp"
#include "sim/core/errors.hpp"

namespace phaseless::baseline {

namespace {
template <class Real>
std::vector<const std::vector<Real>*> bias_ptrs(const std::vector<std::vector<Real>>& b) {
  std::vector<const std::vector<Real>*> out;
  for (auto& v : b) out.push_back(&v);
  return out;
}
}  // namespace

template <class Real>
backprop<Real>::backprop(const network_spec& spec) : spec_(spec) {
  check_vertices(spec);
  const std::size_t np = spec.populations.size();
  b_.resize(np);
  mu_.resize(np);
  act_.resize(np);
  eps_.resize(np);
  g_.resize(np);
  grad_b_.resize(np);
  for (pop_t v = 0; v < np; ++v) {
    const auto& p = spec.populations[v];
    b_[v].assign(p.size, Real(0));
    if (p.bias)
      for (index_t i = 0; i < p.size; ++i) b_[v][i] = static_cast<Real>(p.b[i]);
    eps_[v].assign(p.size, Real(0));
    g_[v].assign(p.size, Real(0));
    grad_b_[v].assign(p.size, Real(0));
  }
  for (const auto& p : spec.projections) {
    auto& s = syn_.emplace_back(convert<Real>(p.syn));
    grad_.emplace_back(spec.learning.batch > 1 ? s.w.size() : 0, Real(0));
    feedback_.push_back(convert<Real>(p.b));   // B of random feedback (empty otherwise)
  }
  gather_.resize(1);
  reached_.assign(np, 0);
  reached_[spec.output] = 1;
  for (const auto& p : spec.projections)
    if (p.feedback != feedback_kind::none) reached_[p.pre] = 1;
  for (const auto& t : spec.ties) ties_.emplace_back().init(t, spec.learning);
  tie_grad_.assign(spec.projections.size(), nullptr);
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.tie >= 0 && p.plastic && reached_[p.post]) tie_grad_[k] = ties_[p.tie].add_synapses(syn_[k], p.param);
  }
  bias_tie_grad_.assign(np, nullptr);
  for (pop_t v = 0; v < np; ++v) {
    const auto& p = spec.populations[v];
    if (p.bias && p.bias_plastic && p.bias_tie >= 0 && reached_[v]) bias_tie_grad_[v] = ties_[p.bias_tie].add_bias(p.bias_param, &b_[v]);
  }
  if (spec.learning.optimizer.set) {
    const auto os = rules::to_optimizer_spec(spec.learning.optimizer);
    std::size_t widest = 0;
    for (const auto& s : syn_) {
      opt_.emplace_back().init(os, s.w.size(), s.n_post);
      widest = std::max<std::size_t>(widest, s.n_pre);
    }
    for (const auto& p : spec.populations) bias_opt_.emplace_back().init(os, p.size, p.size);
    opt_row_.resize(widest);
  }
}

template <class Real>
void backprop<Real>::forward(std::span<const float> x) {
  ops_ += forward_pass(spec_, syn_, bias_ptrs(b_), x, mu_, act_, gather_[0], &vjp_);
}

template <class Real>
const std::vector<Real>& backprop<Real>::predict(std::span<const float> x) {
  forward(x);
  return mu_[spec_.output];
}

template <class Real>
void backprop<Real>::train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) {
  forward(data.sample(row));
  const pop_t out = spec_.output;
  loss_ += output_delta(spec_, data, row, mu_[out], eps_[out]);
  // Backward in reverse topological order: g = W^T eps, summed child projection by
  // child projection and, within one, post-neuron by post-neuron (axpy over rows).
  for (auto it = spec_.topo.rbegin(); it != spec_.topo.rend(); ++it) {
    const pop_t v = *it;
    if (v == out || v == spec_.input) continue;
    auto& g = g_[v];
    std::fill(g.begin(), g.end(), Real(0));
    bool any = false;
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (p.pre != v || p.feedback == feedback_kind::none) continue;
      any = true;
      // Feedback alignment: errors go back through the fixed matrix B instead of W^T.
      const auto& s = p.feedback == feedback_kind::random && !p.b_tied() ? feedback_[k] : vjp_.back(spec_, syn_, k);
      ops_ += send_back(s, [&](index_t i) { return link_error(k, i); }, g.data());
    }
    const auto& pv = spec_.populations[v];
    const Real gamma = static_cast<Real>(spec_.learning.gamma);
    for (index_t i = 0; i < pv.size; ++i)
      eps_[v][i] = any ? gamma * activate_prime<Real>(pv.activation, mu_[v][i]) * g[i] : Real(0);
  }
  // Accumulate: G += e x_pre^T for every projection into a learning population.
  // At batch 1 apply() uses e and x directly (same rounding, no G traffic); shared
  // parameters always collect their copies' contributions for the deferred step.
  for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
    const auto& p = spec_.projections[k];
    Real* G = tie_grad_[k] ? tie_grad_[k] : spec_.learning.batch > 1 && learns(k) ? grad_[k].data() : nullptr;
    if (!G) continue;
    const auto& s = syn_[k];
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i);
      kernels::axpy(link_error(k, i), row_inputs(s, i, act_[p.pre], gather_[0]), G + rb, s.row_end(i) - rb);
    }
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    if (v == spec_.input) continue;
    Real* G = bias_tie_grad_[v] ? bias_tie_grad_[v] : grad_b_[v].data();
    for (index_t i = 0; i < spec_.populations[v].size; ++i) G[i] += eps_[v][i];
  }
  ++accumulated_;
  if ((sample + 1) % spec_.learning.batch == 0 || sample + 1 == samples_total) apply();
  for (auto& t : ties_) t.sample_done(sample, samples_total);
}

template <class Real>
void backprop<Real>::apply() {
  if (!opt_.empty()) {
    apply_optimizer();
    return;
  }
  const double base = spec_.learning.lr / accumulated_;
  for (std::size_t k = 0; k < syn_.size(); ++k) {
    if (!learns(k)) continue;
    const auto& p = spec_.projections[k];
    auto& s = syn_[k];
    const Real scale = static_cast<Real>(base * p.lr_scale);
    const Real decay = static_cast<Real>(spec_.learning.lr * p.lr_scale * p.weight_decay);
    const bool batched = spec_.learning.batch > 1;
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      const Real* x = batched ? nullptr : row_inputs(s, i, act_[p.pre], gather_[0]);
      const Real e = link_error(k, i);
      if (p.weight_decay != 0)
        kernels::decayed_update(scale, decay, e, x, x ? nullptr : grad_[k].data() + rb, s.w.data() + rb, n);
      else if (x)
        kernels::outer_update(scale, e, x, s.w.data() + rb, n);
      else
        kernels::axpy(scale, grad_[k].data() + rb, s.w.data() + rb, n);
    }
    if (batched) std::fill(grad_[k].begin(), grad_[k].end(), Real(0));
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    double lr_scale = 1;   // the bias learns at its population's first in-projection's rate
    for (const auto& p : spec_.projections)
      if (p.post == v) {
        lr_scale = p.lr_scale;
        break;
      }
    const Real scale = static_cast<Real>(base * lr_scale);
    if (spec_.populations[v].bias && spec_.populations[v].bias_plastic && !bias_tie_grad_[v])
      for (index_t i = 0; i < b_[v].size(); ++i) b_[v][i] += scale * grad_b_[v][i];
    std::fill(grad_b_[v].begin(), grad_b_[v].end(), Real(0));
  }
  accumulated_ = 0;
}

// The optimizer path, row by row as the Z-IL neurons do it: gradient = -G / n.
template <class Real>
void backprop<Real>::apply_optimizer() {
  const Real scale = static_cast<Real>(-1.0 / double(accumulated_));
  for (std::size_t k = 0; k < syn_.size(); ++k) {
    if (!learns(k)) continue;
    const auto& p = spec_.projections[k];
    auto& s = syn_[k];
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      if (spec_.learning.batch > 1) {
        opt_[k].step(i, rb, n, s.w.data() + rb, grad_[k].data() + rb, scale);
      } else {
        const Real* x = row_inputs(s, i, act_[p.pre], gather_[0]);
        const Real e = link_error(k, i);
        for (std::size_t j = 0; j < n; ++j) opt_row_[j] = Real(0) + e * x[j];
        opt_[k].step(i, rb, n, s.w.data() + rb, opt_row_.data(), scale);
      }
    }
    if (spec_.learning.batch > 1) std::fill(grad_[k].begin(), grad_[k].end(), Real(0));
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    if (spec_.populations[v].bias && spec_.populations[v].bias_plastic && !bias_tie_grad_[v])
      for (index_t i = 0; i < b_[v].size(); ++i) bias_opt_[v].step(i, i, 1, &b_[v][i], &grad_b_[v][i], scale);
    std::fill(grad_b_[v].begin(), grad_b_[v].end(), Real(0));
  }
  accumulated_ = 0;
}

// A product vertex's error reaches in-projection k scaled by the other factors.
template <class Real>
Real backprop<Real>::link_error(std::size_t k, index_t i) const {
  const pop_t post = spec_.projections[k].post;
  if (spec_.populations[post].combine != combine_kind::product) return eps_[post][i];
  return eps_[post][i] * product_partial(spec_, vjp_.u, k, i);
}

template <class Real>
bool backprop<Real>::learns(std::size_t k) const {
  const auto& p = spec_.projections[k];
  return p.plastic && p.tie < 0 && reached_[p.post];
}

template <class Real>
double backprop<Real>::take_loss() {
  return take(loss_);
}

template <class Real>
evaluation evaluate(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                    const std::vector<const std::vector<Real>*>& bias, const dataset& test) {
  const std::size_t np = spec.populations.size();
  std::vector<std::vector<Real>> mu(np), act(np);
  std::vector<Real> tmp;
  evaluation e;
  double se = 0, st = 0;
  std::uint64_t correct = 0;
  const auto& po = spec.populations[spec.output];
  for (std::size_t r = 0; r < test.rows; ++r) {
    forward_pass(spec, syn, bias, test.sample(r), mu, act, tmp);
    const auto& z = mu[spec.output];
    const index_t arg = static_cast<index_t>(std::max_element(z.begin(), z.end()) - z.begin());
    const index_t label = test.labels.empty() ? 0 : test.labels[r];
    if (!test.labels.empty() && arg == label) ++correct;
    if (spec.learning.loss == loss_kind::softmax_ce) {
      double m = z[0], sum = 0;
      for (auto v : z) m = std::max(m, double(v));
      for (auto v : z) sum += std::exp(double(v) - m);
      e.loss += std::log(sum) - (double(z[label]) - m);
    } else {
      for (index_t i = 0; i < po.size; ++i) {
        const double t = test.target_cols ? test.target(r)[i] : (label == i ? 1.0 : 0.0);
        const double d = t - activate<double>(po.activation, double(z[i]));
        e.loss += 0.5 * d * d;
        se += d * d;
        st += t * t;
      }
    }
  }
  if (test.rows) {
    e.accuracy = double(correct) / double(test.rows);
    e.loss /= double(test.rows);
  }
  e.nse = test.target_cols && st > 0 ? se / st : std::nan("");
  return e;
}

template class backprop<float>;
template class backprop<double>;
template evaluation evaluate<float>(const network_spec&, const std::vector<synapse_matrix<float>>&,
                                    const std::vector<const std::vector<float>*>&, const dataset&);
template evaluation evaluate<double>(const network_spec&, const std::vector<synapse_matrix<double>>&,
                                     const std::vector<const std::vector<double>*>&, const dataset&);

}  // namespace phaseless::baseline
