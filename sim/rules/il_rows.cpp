// IL's rows of one shard stepped together (dataflow, every gate counted per shard,
// react_shard): all rows are at the same step, so a step runs as passes over the
// shard's rows instead of one call per neuron. Each row does exactly what forward()
// and relax() do for it, with the same arithmetic in the same order, and sends the
// same messages (one run of consecutive senders per frame); only the per-neuron
// control is shared. Sigma-delta (threshold > 0) decides per neuron, so it and the
// output population keep the per-neuron calls.
#include <algorithm>
#include <cmath>

#include "sim/rules/il.hpp"

namespace phaseless::rules {

// forward() of rows lo .. hi - 1 at step t = iter_[lo].
template <class Real>
void il_population<Real>::forward_rows(index_t lo, index_t hi, shard_context& ctx) {
  if (is_output() || sd_.on()) {
    for (index_t i = lo; i < hi; ++i) forward(i, ctx);
    return;
  }
  const unsigned s = ctx.shard;
  const std::uint32_t t = iter_[lo];
  const bool px = prox();
  const activation_kind act = spec_->activation;
  Real* a = a_.data();
  for (index_t i = lo; i < hi; ++i) a[i] = b_[i];
  for (index_t i = lo; i < hi; ++i) sq_[i] = Real(0);
  for (auto& in : in_) {
    std::uint64_t ops = 0;
    for (index_t i = lo; i < hi; ++i) {
      const Real* xs = in.pre_values(i, s);
      a[i] += in.potential(i, xs);
      ops += in.fan_in(i);
      if (px && t == T_) sq_[i] += kernels::dot(xs, xs, in.fan_in(i));   // IL-prox's ||s_pre||^2 (forward())
    }
    ctx.stats.synaptic_ops += ops;
  }
  ctx.stats.reactions += hi - lo;
  for (index_t i = lo; i < hi; ++i)
    if (!std::isfinite(a[i])) diverged(i, "prediction", double(a[i]));
  std::fill(fwd_done_.begin() + lo, fwd_done_.begin() + hi, char(1));
  Real* mu = mu_.data();
  Real* x = x_.data();
  Real* eps = eps_.data();
  for (index_t i = lo; i < hi; ++i) mu[i] = px ? a[i] : activate<Real>(act, a[i]);
  const tag_t tag = make_tag(sample_[lo] - 1, t);
  if (t == 0) {   // feed-forward initialization: x = mu, eps = 0
    std::copy(mu + lo, mu + hi, x + lo);
    double* up = up_frames_.run(ctx, lo, tag, hi - lo);
    for (index_t i = lo; i < hi; ++i) up[i - lo] = px ? double(activate<Real>(act, mu[i])) : double(mu[i]);
  }
  for (index_t i = lo; i < hi; ++i) eps[i] = x[i] - mu[i];
  if (t < T_) {
    if (w_.error_out == ~out_t{0}) return;
    double* down = down_frames_.run(ctx, lo, tag, hi - lo);
    for (index_t i = lo; i < hi; ++i)
      down[i - lo] = px ? double(eps[i]) : double(eps[i] * activate_prime<Real>(act, a[i]));
    return;
  }
  for (index_t i = lo; i < hi; ++i) {
    energy_[i] += 0.5 * double(eps[i]) * double(eps[i]);
    learn(i, px ? eps[i] : eps[i] * activate_prime<Real>(act, a[i]), ctx);
  }
}

// relax() of rows lo .. hi - 1 (Jacobi step t -> t + 1); the values go up as one run.
template <class Real>
void il_population<Real>::relax_rows(index_t lo, index_t hi, shard_context& ctx) {
  if (sd_.on()) {
    for (index_t i = lo; i < hi; ++i) relax(i, ctx);
    return;
  }
  const auto& il = learning_->il;
  const bool px = prox();
  const activation_kind act = spec_->activation;
  const Real top = static_cast<Real>(il.gamma_top), bot = static_cast<Real>(il.gamma_bot),
             dec = static_cast<Real>(il.gamma_dec);
  Real* x = x_.data();
  Real* g = g_.data();
  const Real* eps = eps_.data();
  for (index_t i = lo; i < hi; ++i) {
    const Real fb = px ? g[i] * activate_prime<Real>(act, x[i]) : g[i];
    const Real xi = x[i];
    x[i] = xi - top * eps[i] + bot * fb - dec * xi;
    g[i] = Real(0);   // dataflow without sigma-delta: g sums one step's errors
  }
  ctx.stats.reactions += hi - lo;
  for (index_t i = lo; i < hi; ++i)
    if (!std::isfinite(x[i])) diverged(i, "value node", double(x[i]));
  const std::uint32_t t = iter_[lo] + 1;
  std::fill(iter_.begin() + lo, iter_.begin() + hi, t);
  std::fill(fwd_done_.begin() + lo, fwd_done_.begin() + hi, char(0));
  double* up = up_frames_.run(ctx, lo, make_tag(sample_[lo] - 1, t), hi - lo);
  for (index_t i = lo; i < hi; ++i) up[i - lo] = px ? double(activate<Real>(act, x[i])) : double(x[i]);
}

#define PHASELESS_IL_ROWS(Real)                                                      \
  template void il_population<Real>::forward_rows(index_t, index_t, shard_context&); \
  template void il_population<Real>::relax_rows(index_t, index_t, shard_context&);
PHASELESS_IL_ROWS(float)
PHASELESS_IL_ROWS(double)
#undef PHASELESS_IL_ROWS

}  // namespace phaseless::rules
