#include "sim/baseline/dual_prop.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "sim/baseline/forward_pass.hpp"
#include "sim/core/errors.hpp"

namespace phaseless::baseline {

namespace dyad = phaseless::rules::dyad;

template <class Real>
dual_prop<Real>::dual_prop(const network_spec& spec) : spec_(spec), dp_(spec.learning.dp) {
  rounds_ = std::max<std::uint32_t>(1, dp_.rounds);
  const std::size_t np = spec.populations.size();
  const rules::optimizer_spec os = dyad::to_optimizer(spec.learning);
  for (auto* v : {&b_, &a_, &sp_, &sm_, &sbar_, &g_, &grad_b_}) v->resize(np);
  bias_opt_.resize(np);
  static_a_.assign(np, 0);
  damping_.assign(np, Real(0));
  damping_sample_.assign(np, ~std::uint64_t{0});
  for (pop_t v = 0; v < np; ++v) {
    const auto& p = spec.populations[v];
    b_[v].assign(p.size, Real(0));
    if (p.bias)
      for (index_t i = 0; i < p.size; ++i) b_[v][i] = static_cast<Real>(p.b[i]);
    for (auto* x : {&a_, &sp_, &sm_, &sbar_, &g_, &grad_b_}) (*x)[v].assign(p.size, Real(0));
    bias_opt_[v].init(os, p.size, p.size);
    // Every parent is the clamped input: a does not change within a sample.
    bool any = false, all_input = true;
    for (const auto& q : spec.projections)
      if (q.post == v) {
        any = true;
        all_input = all_input && q.pre == spec.input;
      }
    static_a_[v] = any && all_input;
  }
  std::size_t widest = 0;
  for (const auto& p : spec.projections) {
    auto& s = syn_.emplace_back();
    s.name = p.syn.name;
    s.n_post = p.syn.n_post;
    s.n_pre = p.syn.n_pre;
    s.dense = p.syn.dense;
    s.row_ptr = p.syn.row_ptr;
    s.col = p.syn.col;
    s.w.assign(p.syn.w.begin(), p.syn.w.end());
    opt_.emplace_back().init(os, s.w.size(), s.n_post);
    grad_.emplace_back(spec.learning.batch > 1 ? s.w.size() : 0, Real(0));
    widest = std::max<std::size_t>(widest, s.n_pre);
  }
  x_.resize(1);
  row_.resize(widest);
  g0_.assign(spec.populations[spec.output].size, Real(0));
  last_gradient.resize(syn_.size());
}

template <class Real>
Real dual_prop<Real>::s_bar(pop_t v, index_t i) const {
  const Real al = static_cast<Real>(v == spec_.output ? dp_.alpha : dyad::hidden_alpha(dp_));
  return al * sp_[v][i] + (Real(1) - al) * sm_[v][i];
}

template <class Real>
Real dual_prop<Real>::damping(pop_t v, std::uint64_t sample) {
  if (dp_.variant != dyad::variant_kind::damped) return Real(0);
  const std::uint64_t batch = spec_.learning.batch;
  if (damping_sample_[v] == ~std::uint64_t{0} || damping_sample_[v] / batch != sample / batch) {
    double sigma = 0;
    for (std::size_t k = 0; k < spec_.projections.size(); ++k)
      if (spec_.projections[k].pre == v && spec_.projections[k].feedback != feedback_kind::none)
        sigma = std::max(sigma, dyad::spectral_norm(syn_[k], dp_.power_iterations));
    damping_[v] = static_cast<Real>(dyad::damping(sigma, dp_.alpha));
    damping_sample_[v] = sample;
  }
  return damping_[v];
}

namespace {
[[noreturn, gnu::cold, gnu::noinline]] void diverged(const std::string& pop, index_t i, double v,
                                                     std::uint64_t sample, const char* what) {
  throw numeric_error("population '" + pop + "' dyad " + std::to_string(i) + ": " + what + " became " +
                      std::to_string(double(v)) + " at sample " + std::to_string(sample) +
                      "; learning diverged (synchronous dual propagation)");
}
// The test inline, the message out of line: it runs for every compartment update.
template <class Real>
inline void check(const std::string& pop, index_t i, Real v, double max_state, std::uint64_t sample, const char* what) {
  if (!(std::isfinite(v) && std::abs(double(v)) <= max_state)) diverged(pop, i, double(v), sample, what);
}
}  // namespace

template <class Real>
void dual_prop<Real>::train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) {
  cur_sample_ = sample;
  const pop_t in = spec_.input, out = spec_.output;
  const auto& pin = spec_.populations[in];
  const auto x = data.sample(row);
  for (index_t i = 0; i < pin.size; ++i) sbar_[in][i] = static_cast<Real>(activate<double>(pin.activation, x[i]));
  const std::size_t np = spec_.populations.size();
  std::vector<Real>& tmp = x_[0];
  for (std::uint32_t r = 0; r < rounds_; ++r) {
    // up: a from the parents' s_bar of this sweep.
    for (pop_t v : spec_.topo) {
      if (v == in) continue;
      const auto& pv = spec_.populations[v];
      if (r == 0 || !static_a_[v]) {
        auto& a = a_[v];
        a.assign(b_[v].begin(), b_[v].end());
        for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
          const auto& p = spec_.projections[k];
          if (p.post != v) continue;
          const auto& s = syn_[k];
          if (s.dense) {   // blocks of rows through dot_rows (each row's result is dot's), as the dyads do
            constexpr index_t block = 16;
            Real u[block];
            for (index_t i0 = 0; i0 < pv.size; i0 += block) {
              const index_t m = std::min(block, pv.size - i0);
              kernels::dot_rows(s.w.data() + s.row_begin(i0), s.n_pre, sbar_[p.pre].data(), s.n_pre, m, u);
              for (index_t q = 0; q < m; ++q) a[i0 + q] += u[q];
            }
            ops_ += s.size();
            continue;
          }
          for (index_t i = 0; i < pv.size; ++i) {
            const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
            a[i] += kernels::dot(s.w.data() + rb, row_inputs(s, i, sbar_[p.pre], tmp), n);
            ops_ += n;
          }
        }
      }
      if (v == out) {
        for (index_t i = 0; i < pv.size; ++i) check(pv.name, i, a_[v][i], dp_.max_state, sample, "output a");
        continue;
      }
      hidden(v, r, true);
    }
    output(r, data, row);
    // down: hidden dyads from the top, with this sweep's Deltas of their children.
    for (auto it = spec_.topo.rbegin(); it != spec_.topo.rend(); ++it) {
      const pop_t v = *it;
      if (v == in || v == out) continue;
      hidden(v, r, false);
    }
  }
  // Accumulate G += Delta_post s_bar_pre^T with the final states (spec §2.4); at batch 1
  // apply() reads Delta and s_bar itself.
  const bool accumulate = spec_.learning.batch > 1 || keep_gradient;
  for (std::size_t k = 0; accumulate && k < spec_.projections.size(); ++k) {
    const auto& p = spec_.projections[k];
    const auto& s = syn_[k];
    if (keep_gradient) last_gradient[k].assign(std::size_t(s.n_post) * s.n_pre, 0.0);
    for (index_t i = 0; i < s.n_post; ++i) {
      const Real d = sp_[p.post][i] - sm_[p.post][i];
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      const Real* xr = row_inputs(s, i, sbar_[p.pre], tmp);
      if (spec_.learning.batch > 1) kernels::axpy(d, xr, grad_[k].data() + rb, n);
      if (keep_gradient)
        for (auto q = rb; q < s.row_end(i); ++q)
          last_gradient[k][std::size_t(i) * s.n_pre + s.pre_of(q)] = -double(d) * double(xr[q - rb]) / dp_.beta;
    }
  }
  for (pop_t v = 0; v < np; ++v)
    if (v != in)
      for (index_t i = 0; i < spec_.populations[v].size; ++i) grad_b_[v][i] += sp_[v][i] - sm_[v][i];
  ++accumulated_;
  if ((sample + 1) % spec_.learning.batch == 0 || sample + 1 == samples_total) apply();
}

// One closed-form update of hidden population v (up: fb from the previous sweep).
template <class Real>
void dual_prop<Real>::hidden(pop_t v, std::uint32_t r, bool up) {
  const auto& pv = spec_.populations[v];
  auto& g = g_[v];
  if (!up) {   // g = sum over children of W^T Delta, child projection by projection, row by row
    std::fill(g.begin(), g.end(), Real(0));
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (p.pre != v || p.feedback == feedback_kind::none) continue;
      const auto& s = syn_[k];
      ops_ += send_back(s, [&](index_t i) { return sp_[p.post][i] - sm_[p.post][i]; }, g.data());
    }
  }
  if (up && r == 0)
    dyad::forward_rows<Real>(pv.activation, a_[v].data(), sp_[v].data(), sm_[v].data(), pv.size);   // (U1)
  else
    dyad::hidden_update_rows<Real>(dp_, pv.activation, a_[v].data(), g.data(), damping(v, cur_sample_), sp_[v].data(),
                                   sm_[v].data(), pv.size);
  for (index_t i = 0; i < pv.size; ++i) {
    check(pv.name, i, sp_[v][i], dp_.max_state, cur_sample_, "s+");
    check(pv.name, i, sm_[v][i], dp_.max_state, cur_sample_, "s-");
    sbar_[v][i] = s_bar(v, i);
  }
}

template <class Real>
void dual_prop<Real>::output(std::uint32_t r, const dataset& data, std::uint64_t row) {
  const pop_t out = spec_.output;
  const auto& po = spec_.populations[out];
  const auto& z = a_[out];
  const bool mse = spec_.learning.loss == loss_kind::mse;
  Real m = 0, sum = 0;
  if (!mse) {
    m = z[0];
    for (index_t k = 1; k < z.size(); ++k) m = std::max(m, z[k]);
    for (index_t k = 0; k < z.size(); ++k) sum += std::exp(z[k] - m);
  }
  for (index_t i = 0; i < po.size; ++i) {
    const Real a = z[i];
    Real y = 0, g = 0;
    if (mse) {
      y = data.target_cols ? static_cast<Real>(data.target(row)[i]) : (data.labels[row] == i ? Real(1) : Real(0));
      g = a - y;
      if (r == 0) loss_ += 0.5 * double(y - a) * double(y - a);
    } else {
      const bool hot = data.labels[row] == i;
      g = std::exp(z[i] - m) / sum - (hot ? Real(1) : Real(0));
      if (r == 0 && hot) loss_ += double(std::log(sum) - (z[i] - m));
    }
    if (dp_.variant == dyad::variant_kind::dp_top && dp_.output_error_at_forward) {
      if (r == 0) g0_[i] = g;
      g = g0_[i];
    }
    dyad::output_nudge<Real>(dp_, mse, a, y, g, sp_[out][i], sm_[out][i]);
    check(po.name, i, sp_[out][i], dp_.max_state, cur_sample_, "output s+");
    check(po.name, i, sm_[out][i], dp_.max_state, cur_sample_, "output s-");
  }
}

// W <- optimizer step on -(1/beta) mean(Delta s_bar^T), row by row (spec §2.4).
template <class Real>
void dual_prop<Real>::apply() {
  const Real scale = static_cast<Real>(-1.0 / (dp_.beta * double(accumulated_)));
  std::vector<Real>& tmp = x_[0];
  for (std::size_t k = 0; k < syn_.size(); ++k) {
    const auto& p = spec_.projections[k];
    auto& s = syn_[k];
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      if (spec_.learning.batch > 1) {
        opt_[k].step(i, rb, n, s.w.data() + rb, grad_[k].data() + rb, scale);
      } else {
        const Real d = sp_[p.post][i] - sm_[p.post][i];
        dyad::step_row(opt_[k], i, rb, n, s.w.data() + rb, d, row_inputs(s, i, sbar_[p.pre], tmp), row_.data(), scale);
      }
    }
    if (spec_.learning.batch > 1) std::fill(grad_[k].begin(), grad_[k].end(), Real(0));
  }
  for (pop_t v = 0; v < spec_.populations.size(); ++v) {
    if (v == spec_.input) continue;
    if (spec_.populations[v].bias)
      for (index_t i = 0; i < b_[v].size(); ++i) bias_opt_[v].step(i, i, 1, &b_[v][i], &grad_b_[v][i], scale);
    std::fill(grad_b_[v].begin(), grad_b_[v].end(), Real(0));
  }
  accumulated_ = 0;
}

template <class Real>
double dual_prop<Real>::take_loss() {
  return take(loss_);
}

template class dual_prop<float>;
template class dual_prop<double>;

}  // namespace phaseless::baseline
