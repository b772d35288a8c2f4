#include "sim/baseline/il.hpp"

#include <algorithm>
#include <cmath>

#include "sim/baseline/forward_pass.hpp"
#include "sim/core/errors.hpp"
#include "sim/rules/il.hpp"

namespace phaseless::baseline {

template <class Real>
il_sync<Real>::il_sync(const network_spec& spec) : spec_(spec) {
  const std::size_t np = spec.populations.size();
  for (auto* v : {&b_, &x_, &a_, &mu_, &eps_, &down_, &up_, &g_, &sq_, &sq_acc_, &grad_b_, &p_}) v->resize(np);
  const rules::optimizer_spec os = rules::il_optimizer(spec.learning);
  bias_opt_.resize(np);
  for (pop_t v = 0; v < np; ++v) {
    const auto& p = spec.populations[v];
    b_[v].assign(p.size, Real(0));
    if (p.bias)
      for (index_t i = 0; i < p.size; ++i) b_[v][i] = static_cast<Real>(p.b[i]);
    for (auto* s : {&x_, &a_, &mu_, &eps_, &down_, &up_, &g_, &sq_, &sq_acc_, &grad_b_, &p_}) (*s)[v].assign(p.size, Real(0));
    bias_opt_[v].init(os, p.size, p.size);
  }
  for (const auto& p : spec.projections) {
    auto& s = syn_.emplace_back();
    s.name = p.syn.name;
    s.n_post = p.syn.n_post;
    s.n_pre = p.syn.n_pre;
    s.dense = p.syn.dense;
    s.row_ptr = p.syn.row_ptr;
    s.col = p.syn.col;
    s.w.assign(p.syn.w.begin(), p.syn.w.end());
    grad_.emplace_back(s.w.size(), Real(0));
    opt_.emplace_back().init(os, s.w.size(), s.n_post);
    learns_.push_back(p.post != spec.input);
    row_.resize(std::max<std::size_t>(row_.size(), s.n_pre));
  }
}

template <class Real>
Real il_sync<Real>::target(const dataset& data, std::uint64_t row, index_t i) const {
  if (spec_.learning.loss == loss_kind::mse && data.target_cols) return static_cast<Real>(data.target(row)[i]);
  return data.labels[row] == i ? Real(1) : Real(0);
}

// mu^t of population v from its parents' values of step t (what the event
// engine's il_population::forward does, neuron by neuron, in the same order).
template <class Real>
void il_sync<Real>::predict(pop_t v, std::uint32_t t, const dataset& data, std::uint64_t row) {
  const auto& pv = spec_.populations[v];
  const auto& L = spec_.learning;
  const std::uint32_t T = L.il.iterations;
  const bool px = prox(), out = v == spec_.output;
  for (index_t i = 0; i < pv.size; ++i) {
    Real a = b_[v][i], sq = 0;
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (p.post != v) continue;
      const auto& s = syn_[k];
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      const Real* xs = row_inputs(s, i, up_[p.pre], tmp_);
      a += kernels::dot(s.w.data() + rb, xs, n);
      ops_ += n;
      if (px && (t == T || out)) sq += kernels::dot(xs, xs, n);
    }
    if (!std::isfinite(a))
      throw numeric_error("population '" + pv.name + "' neuron " + std::to_string(i) + ": prediction became " +
                          std::to_string(double(a)) + "; learning diverged (try a smaller learning rate)");
    a_[v][i] = a;
    sq_[v][i] = sq;
    if (out) {
      mu_[v][i] = a;
      if (t > 0) {
        const Real y = target(data, row, i);
        if (px) {
          const Real nu = sq + (pv.bias ? Real(1) : Real(0)) + static_cast<Real>(L.il.eps_n);
          const Real an = static_cast<Real>(L.il.alpha) * nu;
          x_[v][i] = p_[v][i] / (Real(1) + an) + (an / (Real(1) + an)) * y;
        } else {
          const Real n = static_cast<Real>(L.il.clamp);
          x_[v][i] = n * y + (Real(1) - n) * p_[v][i];
        }
      }
      continue;
    }
    const Real mu = px ? a : activate<Real>(pv.activation, a);
    mu_[v][i] = mu;
    if (t == 0) {
      x_[v][i] = mu;
      up_[v][i] = px ? activate<Real>(pv.activation, mu) : mu;
    }
    const Real e = x_[v][i] - mu;
    eps_[v][i] = e;
    if (t < T) {
      down_[v][i] = px ? e : e * activate_prime<Real>(pv.activation, a);
    } else {
      energy_ += 0.5 * double(e) * double(e);
      down_[v][i] = px ? e : e * activate_prime<Real>(pv.activation, a);   // the learning signal delta
    }
  }
}

template <class Real>
void il_sync<Real>::settle_output(std::uint32_t t, const dataset& data, std::uint64_t row) {
  const pop_t v = spec_.output;
  const auto& pv = spec_.populations[v];
  const auto& L = spec_.learning;
  const bool px = prox(), ce = L.loss == loss_kind::softmax_ce;
  const std::uint32_t T = L.il.iterations;
  const auto& z = a_[v];
  Real m = 0, sum = 0;
  if (ce) {
    m = z[0];
    for (index_t k = 1; k < z.size(); ++k) m = std::max(m, z[k]);
    for (index_t k = 0; k < z.size(); ++k) sum += std::exp(z[k] - m);
  }
  for (index_t i = 0; i < pv.size; ++i) {
    const Real y = target(data, row, i);
    Real p;
    if (ce) {
      p = std::exp(z[i] - m) / sum;
      if (t == 0 && y == Real(1)) loss_ += double(std::log(sum) - (z[i] - m));
    } else {
      p = activate<Real>(pv.activation, z[i]);
      if (t == 0) loss_ += 0.5 * double(y - p) * double(y - p);
    }
    if (t == 0) {
      if (px) {
        const Real nu = sq_[v][i] + static_cast<Real>(L.il.eps_n);
        const Real an = static_cast<Real>(L.il.alpha) * nu;
        x_[v][i] = p / (Real(1) + an) + (an / (Real(1) + an)) * y;
      } else {
        const Real n = static_cast<Real>(L.il.clamp);
        x_[v][i] = n * y + (Real(1) - n) * p;
      }
    }
    p_[v][i] = p;
    const Real e = x_[v][i] - p;
    eps_[v][i] = e;
    if (!std::isfinite(e))
      throw numeric_error("population '" + pv.name + "' neuron " + std::to_string(i) + ": error became " +
                          std::to_string(double(e)) + "; learning diverged (try a smaller learning rate)");
    const Real fp = ce ? Real(1) : activate_prime<Real>(pv.activation, z[i]);
    if (t < T) {
      down_[v][i] = ce ? (px ? e : Real(0.5) * e) : e * fp;
    } else {
      if (ce && !px) energy_ += x_[v][i] != Real(0) ? -0.5 * double(x_[v][i]) * std::log(double(p)) : 0.0;
      else energy_ += 0.5 * double(e) * double(e);
      down_[v][i] = px ? e : e * fp;   // the learning signal delta
    }
  }
}

template <class Real>
void il_sync<Real>::train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) {
  const auto& L = spec_.learning;
  const std::uint32_t T = L.il.iterations;
  const bool px = prox();
  const auto& in = spec_.populations[spec_.input];
  const auto xs = data.sample(row);
  for (index_t i = 0; i < in.size; ++i) up_[spec_.input][i] = static_cast<Real>(activate<double>(in.activation, xs[i]));
  // Feed-forward initialization (step 0), then the first output target.
  for (pop_t v : spec_.topo)
    if (v != spec_.input) predict(v, 0, data, row);
  settle_output(0, data, row);
  for (std::uint32_t t = 0; t < T; ++t) {
    // Jacobi sweep t -> t+1: every hidden value node moves from the errors of step t.
    for (pop_t v : spec_.topo) {
      if (v == spec_.input || v == spec_.output) continue;
      auto& g = g_[v];
      std::fill(g.begin(), g.end(), Real(0));
      for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
        const auto& p = spec_.projections[k];
        if (p.pre != v || p.feedback == feedback_kind::none) continue;
        const auto& s = syn_[k];
        ops_ += send_back(s, [&](index_t i) { return down_[p.post][i]; }, g.data());
      }
      const auto& pv = spec_.populations[v];
      for (index_t i = 0; i < pv.size; ++i) {
        const Real fb = px ? g[i] * activate_prime<Real>(pv.activation, x_[v][i]) : g[i];
        const Real x = x_[v][i];
        x_[v][i] = x - static_cast<Real>(L.il.gamma_top) * eps_[v][i] + static_cast<Real>(L.il.gamma_bot) * fb -
                   static_cast<Real>(L.il.gamma_dec) * x;
        if (!std::isfinite(x_[v][i]))
          throw numeric_error("population '" + pv.name + "' neuron " + std::to_string(i) +
                              ": value node became " + std::to_string(double(x_[v][i])) +
                              "; learning diverged (try a smaller learning rate)");
        up_[v][i] = px ? activate<Real>(pv.activation, x_[v][i]) : x_[v][i];
      }
    }
    for (pop_t v : spec_.topo)
      if (v != spec_.input) predict(v, t + 1, data, row);
    settle_output(t + 1, data, row);
  }
  // Local learning at the relaxed state: G -= delta s_pre, per projection (batch 1:
  // formed row by row when applied, as the event engine does).
  for (std::size_t k = 0; L.batch > 1 && k < spec_.projections.size(); ++k) {
    if (!learns_[k]) continue;
    const auto& p = spec_.projections[k];
    const auto& s = syn_[k];
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i);
      kernels::axpy(-down_[p.post][i], row_inputs(s, i, up_[p.pre], tmp_), grad_[k].data() + rb, s.row_end(i) - rb);
    }
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    if (v == spec_.input) continue;
    for (index_t i = 0; i < spec_.populations[v].size; ++i) {
      grad_b_[v][i] -= down_[v][i];
      sq_acc_[v][i] += sq_[v][i];
    }
  }
  ++accumulated_;
  if ((sample + 1) % L.batch == 0 || sample + 1 == samples_total) apply();
}

template <class Real>
void il_sync<Real>::apply() {
  const auto& L = spec_.learning;
  auto scale_of = [&](pop_t v, index_t i) {
    Real scale = Real(1) / static_cast<Real>(accumulated_);
    if (prox()) {
      const Real nu = sq_acc_[v][i] / static_cast<Real>(accumulated_) +
                      (spec_.populations[v].bias ? Real(1) : Real(0)) + static_cast<Real>(L.il.eps_n);
      scale = scale / nu;
    }
    return scale;
  };
  for (std::size_t k = 0; k < syn_.size(); ++k) {
    if (!learns_[k]) continue;
    const auto& p = spec_.projections[k];
    auto& s = syn_[k];
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      if (L.batch > 1) {
        opt_[k].step_and_clear(i, rb, n, s.w.data() + rb, grad_[k].data() + rb, scale_of(p.post, i));
      } else if (const Real* g = rules::batch1_gradient_row(opt_[k], -down_[p.post][i],
                                                        row_inputs(s, i, up_[p.pre], tmp_), row_.data(), n)) {
        opt_[k].step(i, rb, n, s.w.data() + rb, g, scale_of(p.post, i));
      }
    }
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    if (v == spec_.input) continue;
    const auto& pv = spec_.populations[v];
    for (index_t i = 0; i < pv.size; ++i) {
      if (pv.bias) bias_opt_[v].step(i, i, 1, &b_[v][i], &grad_b_[v][i], scale_of(v, i));
      grad_b_[v][i] = Real(0);
      sq_acc_[v][i] = Real(0);
    }
  }
  accumulated_ = 0;
}

template <class Real>
double il_sync<Real>::take_loss() {
  return take(loss_);
}

template <class Real>
double il_sync<Real>::take_energy() {
  return take(energy_);
}

template class il_sync<float>;
template class il_sync<double>;

}  // namespace phaseless::baseline
