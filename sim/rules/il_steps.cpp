// One IL neuron's steps (il.hpp): its prediction and error (forward), the output's
// error once every logit is in (settle_output), a relaxation step (relax), the
// messages they send (activity up, errors down) and its learning (the gradient at the
// relaxed state, the optimizer step when its timer fires). Used neuron by neuron in
// eager mode, with sigma-delta and for the output; a hidden shard in dataflow takes
// the same steps over its rows (il_rows.cpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/rules/il.hpp"

namespace phaseless::rules {

// mu^t (and eps^t for a hidden neuron) from the parents' values of step t.
template <class Real>
void il_population<Real>::forward(index_t i, shard_context& ctx) {
  const unsigned s = ctx.shard;
  const std::uint32_t t = iter_[i];
  const bool px = prox();
  Real a = b_[i], sq = 0;
  for (auto& in : in_) {
    const Real* xs = in.pre_values(i, s);
    a += in.potential(i, xs);
    // Sigma-delta: after the feed-forward pass (new weights, a full sum) a receiver only
    // integrates what changed; those multiply-adds are counted where the messages leave.
    if (!sd_.on() || t == 0) ctx.stats.synaptic_ops += in.fan_in(i);
    // IL-prox needs ||s_pre||^2: for its normalized weight step (at T) and, at the
    // output, for nu at every step (§2.4). Local: the neuron holds these values.
    if (px && (t == T_ || is_output())) sq += kernels::dot(xs, xs, in.fan_in(i));
  }
  ++ctx.stats.reactions;
  if (!std::isfinite(a)) diverged(i, "prediction", double(a));
  a_[i] = a;
  sq_[i] = sq;
  fwd_done_[i] = 1;
  if (is_output()) {
    mu_[i] = a;
    if (t > 0) {
      // §2.3/§2.4 step 4: the target is re-set every sweep from the previous sweep's
      // prediction p^{t-1} (and, for IL-prox, nu from the *updated* x_{L-1}).
      const Real y = target_of(i, s);
      if (px) {
        // In-loop nu includes the +1 bias term (code quirk, §2.8); per sample (B = 1
        // form of the code's batch sum, UNCONFIRMED for B > 1: see il_sync).
        const Real nu = sq + (spec_->bias ? Real(1) : Real(0)) + static_cast<Real>(learning_->il.eps_n);
        const Real an = static_cast<Real>(learning_->il.alpha) * nu;
        x_[i] = p_[i] / (Real(1) + an) + (an / (Real(1) + an)) * y;
      } else {
        const Real n = static_cast<Real>(learning_->il.clamp);
        x_[i] = n * y + (Real(1) - n) * p_[i];
      }
    }
    if (w_.lateral_fan) ctx.out.emit(w_.lateral_out, i, make_tag(sample_[i] - 1, t), double(a));
    return;
  }
  const Real mu = px ? a : activate<Real>(spec_->activation, a);
  mu_[i] = mu;
  const tag_t tag = make_tag(sample_[i] - 1, t);
  if (t == 0) {
    x_[i] = mu;   // feed-forward initialization: eps = 0
    send_up(i, tag, px ? activate<Real>(spec_->activation, mu) : mu, ctx);
  }
  const Real eps = x_[i] - mu;
  eps_[i] = eps;
  if (t < T_) {
    send_down(i, tag, px ? eps : eps * activate_prime<Real>(spec_->activation, a), ctx);
    return;
  }
  energy_[i] += 0.5 * double(eps) * double(eps);
  // Hidden local loss 1/2 ||mu(x_pre) - x||^2: -dl/da = eps f'(a) (IL, §2.3 step 5);
  // IL-prox: e = x - mu with mu linear in the weights (§2.4 step 5).
  learn(i, px ? eps : eps * activate_prime<Real>(spec_->activation, a), ctx);
}

// The output's error of step t, once every logit of the step is known.
template <class Real>
void il_population<Real>::settle_output(index_t i, shard_context& ctx) {
  const unsigned s = ctx.shard;
  const std::uint32_t t = iter_[i];
  const bool px = prox(), ce = w_.lateral_fan != nullptr;
  const Real y = target_of(i, s);
  Real p;
  if (ce) {
    const auto sm = out_.softmax(s, i, a_[i]);
    p = sm.p;
    if (t == 0 && y == Real(1)) loss_[i] += double(sm.nll);   // feed-forward CE
  } else {
    p = activate<Real>(spec_->activation, a_[i]);
    if (t == 0) loss_[i] += 0.5 * double(y - p) * double(y - p);
  }
  if (t == 0) {
    // §2.3 step 2 / §2.4 step 2: the first target. IL-prox's first nu omits the +1
    // bias term that the loop adds (code quirk, §2.4).
    if (px) {
      const Real nu = sq_[i] + static_cast<Real>(learning_->il.eps_n);
      const Real an = static_cast<Real>(learning_->il.alpha) * nu;
      x_[i] = p / (Real(1) + an) + (an / (Real(1) + an)) * y;
    } else {
      const Real n = static_cast<Real>(learning_->il.clamp);
      x_[i] = n * y + (Real(1) - n) * p;
    }
  }
  p_[i] = p;
  const Real eps = x_[i] - p;
  eps_[i] = eps;
  out_done_[i] = 1;
  ++ctx.stats.reactions;
  if (!std::isfinite(eps)) diverged(i, "error", double(eps));
  const Real fp = ce ? Real(1) : activate_prime<Real>(spec_->activation, a_[i]);
  if (t < T_) {
    // IL softmax-CE: eps_L = 1/2 (x_L - softmax(mu_L)) (the code's 1/2, §2.3 step 4);
    // IL-prox: no 1/2 in the MLP code (§2.4 step 4).
    const Real down = ce ? (px ? eps : Real(0.5) * eps) : eps * fp;
    send_down(i, make_tag(sample_[i] - 1, t), down, ctx);
    return;
  }
  // Energy of the relaxed state: IL softmax-CE 1/2 CE(x_L, p) (its neuron's share
  // -1/2 x_i log p_i); otherwise 1/2 (x_L - p)^2.
  if (ce && !px) energy_[i] += x_[i] != Real(0) ? -0.5 * double(x_[i]) * std::log(double(p)) : 0.0;
  else energy_[i] += 0.5 * double(eps) * double(eps);
  // Output local loss: IL CE(x_L, softmax(a)) -> -dl/da = x_L - p (no 1/2 here);
  // MSE -> (x_L - f(a)) f'(a); IL-prox e = x_L - softmax(mu_L).
  learn(i, px ? eps : eps * fp, ctx);
}

// Relaxation step t -> t+1 of a hidden neuron (Jacobi: eps and g are of step t).
template <class Real>
void il_population<Real>::relax(index_t i, shard_context& ctx) {
  const auto& il = learning_->il;
  const bool px = prox();
  // IL: fb = (eps_c f'(a_c)) W_c, summed at delivery. IL-prox: fb = (eps_c W_c) ReLU'(x).
  const Real fb = px ? g_[i] * activate_prime<Real>(spec_->activation, x_[i]) : g_[i];
  const Real x = x_[i];
  x_[i] = x - static_cast<Real>(il.gamma_top) * eps_[i] + static_cast<Real>(il.gamma_bot) * fb -
          static_cast<Real>(il.gamma_dec) * x;
  // Eager and sigma-delta: errors come as changes, g holds the children's newest errors.
  if (w_.mode == mode_kind::dataflow && !sd_.on()) g_[i] = Real(0);
  ++ctx.stats.reactions;
  if (!std::isfinite(x_[i])) diverged(i, "value node", double(x_[i]));
  const std::uint32_t t = ++iter_[i];
  fwd_done_[i] = 0;
  send_up(i, make_tag(sample_[i] - 1, t), px ? activate<Real>(spec_->activation, x_[i]) : x_[i], ctx);
}

template <class Real>
void il_population<Real>::send_up(index_t i, tag_t tag, Real value, shard_context& ctx) {
  sigma_delta::send m{double(value), true};
  if (sd_.on()) {   // the feed-forward pass (step 0) is always sent: it opens the sample
    m = sd_.level(i, m.value, tag_iteration(tag) == 0);
    if (m.sent && tag_iteration(tag) > 0) ctx.stats.synaptic_ops += w_.fan_out[i];   // one per synapse reached
  }
  if (frames_)
    up_frames_.add(ctx, i, tag, m.value, m.sent);
  else
    ctx.out.emit(w_.activity_out, i, tag, m.value, 0, m.sent);
}

// The error eps' of step `tag` to the parents. Eager mode sends the change since the
// neuron's last error of the sample (see il.hpp), so that a parent's g is always the
// sum of every child's newest error, whichever steps have reached it.
template <class Real>
void il_population<Real>::send_down(index_t i, tag_t tag, Real down, shard_context& ctx) {
  if (w_.error_out == ~out_t{0}) return;
  if (sd_.on()) {   // a change, in both modes (sigma_delta.hpp); its receivers count the ops
    const auto m = sd_.change(i, double(down));
    if (frames_)
      down_frames_.add(ctx, i, tag, m.value, m.sent);
    else
      ctx.out.emit(w_.error_out, i, tag, m.value, 0, m.sent);
    return;
  }
  if (frames_) {
    down_frames_.add(ctx, i, tag, double(down));
    return;
  }
  const Real v = down - sent_down_[i];   // eager: the change
  sent_down_[i] = down;
  ctx.out.emit(w_.error_out, i, tag, double(v));
}

// delta = -dl/da of the local loss at the relaxed state: G -= delta s_pre.
template <class Real>
void il_population<Real>::learn(index_t i, Real delta, shard_context& ctx) {
  delta_[i] = delta;
  for (std::size_t k = 0; !batch1_ && k < in_.size(); ++k) {
    const auto& syn = *w_.in[k]->syn;
    const auto rb = syn.row_begin(i);
    kernels::axpy(-delta, in_[k].pre_values(i, ctx.shard), grad_[k].data() + rb, syn.row_end(i) - rb);
  }
  grad_b_[i] -= delta;
  sq_acc_[i] += sq_[i];
  ++accumulated_[i];
  const std::uint64_t sample = sample_[i] - 1;
  const bool batch_end = (sample + 1) % learning_->batch == 0 || sample + 1 == w_.samples_total;
  // Applied through the timer: errors this neuron sent are read through its row of
  // W at delivery, so the row must not change before they have all arrived.
  if (batch_end) timers_.arm(ctx, w_.timer_out, i, make_tag(sample, T_));
}

template <class Real>
void il_population<Real>::apply(index_t i, unsigned shard) {
  if (accumulated_[i] == 0) return;
  Real scale = Real(1) / static_cast<Real>(accumulated_[i]);
  if (prox()) {
    // §2.4 step 5: nu_l = mean_b ||a_b||^2 + bias + eps_n; W <- W - G/nu.
    const Real nu = sq_acc_[i] / static_cast<Real>(accumulated_[i]) + (spec_->bias ? Real(1) : Real(0)) +
                    static_cast<Real>(learning_->il.eps_n);
    scale = scale / nu;
  }
  for (std::size_t k = 0; k < in_.size(); ++k) {
    auto& syn = *w_.in[k]->syn;
    const auto rb = syn.row_begin(i), n = syn.row_end(i) - rb;
    if (!batch1_) {
      opt_[k].step_and_clear(i, rb, n, syn.w.data() + rb, grad_[k].data() + rb, scale);
    } else if (const Real* g =
                   batch1_gradient_row(opt_[k], -delta_[i], in_[k].pre_values(i, shard), row_[shard].data(), n)) {
      opt_[k].step(i, rb, n, syn.w.data() + rb, g, scale);
    }
  }
  if (spec_->bias) bias_opt_.step(i, i, 1, &b_[i], &grad_b_[i], scale);
  grad_b_[i] = Real(0);
  sq_acc_[i] = Real(0);
  accumulated_[i] = 0;
}

#define PHASELESS_IL_STEPS(Real)                                                         \
  template void il_population<Real>::forward(index_t, shard_context&);                    \
  template void il_population<Real>::settle_output(index_t, shard_context&);              \
  template void il_population<Real>::relax(index_t, shard_context&);                      \
  template void il_population<Real>::send_up(index_t, tag_t, Real, shard_context&);       \
  template void il_population<Real>::send_down(index_t, tag_t, Real, shard_context&);     \
  template void il_population<Real>::learn(index_t, Real, shard_context&);                \
  template void il_population<Real>::apply(index_t, unsigned);
PHASELESS_IL_STEPS(float)
PHASELESS_IL_STEPS(double)
#undef PHASELESS_IL_STEPS

}  // namespace phaseless::rules
