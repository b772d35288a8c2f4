// One dyad's steps (dual_prop.hpp): its compartment updates (up, nudge, down), the
// messages they send (s_bar up, Delta down) and its learning (the Hebbian term at the
// end of a sample, the optimizer step when its timer fires). Used dyad by dyad in
// eager mode, for sigma-delta and per-neuron gates, and for the output; a hidden
// shard in dataflow takes the same steps over its rows (dual_prop_rows.cpp).
#include <cmath>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/rules/dual_prop.hpp"

namespace phaseless::rules {

template <class Real>
void dyad_population<Real>::process(index_t i, shard_context& ctx) {
  const unsigned s = ctx.shard;
  if (sample_[i] == ~std::uint64_t{0}) return;
  for (bool progress = true; progress;) {
    progress = false;
    // up r: after own down r-1 (or nudge r-1), with the parents' s_bar of round r.
    if (ups_[i] < rounds_ && ups_[i] == downs_[i] && parents_ready(i, s, ups_[i])) {
      up(i, ctx);
      progress = true;
    }
    if (downs_[i] < rounds_ && ups_[i] == downs_[i] + 1) {
      if (is_output() ? nudge_ready(i, s, downs_[i]) : children_ready(i, s, downs_[i])) {
        is_output() ? nudge(i, ctx) : down(i, ctx);
        progress = true;
      }
    }
    if (downs_[i] == rounds_ && !learned_[i] && parents_ready(i, s, rounds_)) {
      learn(i, ctx);
      progress = true;
    }
  }
}

template <class Real>
void dyad_population<Real>::check(index_t i, Real v, const char* what) const {
  if (std::isfinite(v) && std::abs(double(v)) <= dp_->max_state) return;
  throw numeric_error("population '" + spec_->name + "' dyad " + std::to_string(i) + ": " + what + " became " +
                      std::to_string(double(v)) + " at sample " + std::to_string(sample_[i]) +
                      (std::isfinite(v) ? " (beyond rule.dp.max_state " + std::to_string(dp_->max_state) + ")" : "") +
                      "; learning diverged (dual propagation with asymmetric nudging needs DP_TOP or damping, "
                      "spec dp-fa.md §2.6; or try a smaller learning rate or beta)");
}

// Damped DP: L_k from this layer's out-weights (U6). They change only at batch
// ends (and the children apply their updates before the next sample is presented),
// so each shard computes L once per batch, as train_DP.jl does once per minibatch.
template <class Real>
Real dyad_population<Real>::damping(index_t i, unsigned s) {
  if (dp_->variant != dyad::variant_kind::damped) return Real(0);
  const std::uint64_t batch = learning_->batch;
  if (damping_sample_[s] == ~std::uint64_t{0} || damping_sample_[s] / batch != sample_[i] / batch) {
    double sigma = 0;
    for (auto* l : w_.back) sigma = std::max(sigma, dyad::spectral_norm(*l->syn, dp_->power_iterations));
    damping_[s] = static_cast<Real>(dyad::damping(sigma, dp_->alpha));
    damping_sample_[s] = sample_[i];
  }
  return damping_[s];
}

template <class Real>
void dyad_population<Real>::up(index_t i, shard_context& ctx) {
  const std::uint32_t r = ups_[i];
  const unsigned s = ctx.shard;
  // With only the clamp as parent, a is fixed for the sample once round 0 has it all
  // (eager mode too: round 0 waits for the whole forward pass).
  if (r == 0 || !static_a_) {
    Real a = b_[i];
    for (auto& in : in_) {
      a += in.potential(i, in.pre_values(i, s));
      // Sigma-delta: after the forward pass (new weights, a full sum) a receiver only
      // integrates what changed; those multiply-adds are counted where the messages leave.
      if (!sd_.on() || r == 0) ctx.stats.synaptic_ops += in.fan_in(i);
    }
    a_[i] = a;
  }
  ++ctx.stats.reactions;
  ++ups_[i];
  const Real a = a_[i];
  if (is_output()) {
    check(i, a, "output a");
    if (w_.lateral_fan) ctx.out.emit(w_.lateral_out, i, tag(i, r), double(a));
    return;
  }
  if (r == 0) {
    sp_[i] = sm_[i] = activate<Real>(spec_->activation, a);   // the forward pass (U1)
  } else {
    dyad::hidden_update<Real>(*dp_, spec_->activation, a, g_[i], damping(i, s), sp_[i], sm_[i]);
  }
  check(i, sp_[i], "s+");
  check(i, sm_[i], "s-");
  send_up(i, r, ctx);
}

// s_bar of `round` to the children.
template <class Real>
void dyad_population<Real>::send_up(index_t i, std::uint32_t round, shard_context& ctx) {
  const Real al = static_cast<Real>(dyad::hidden_alpha(*dp_));
  sigma_delta::send m{double(al * sp_[i] + (Real(1) - al) * sm_[i]), true};
  if (sd_.on()) {   // the forward pass (round 0) is always sent: it opens the sample
    m = sd_.level(i, m.value, round == 0);
    if (m.sent && round > 0) ctx.stats.synaptic_ops += w_.fan_out[i];   // one per synapse reached
  }
  if (shared_)
    up_frames_.add(ctx, i, tag(i, round), m.value, m.sent);
  else
    ctx.out.emit(w_.activity_out, i, tag(i, round), m.value, 0, m.sent);
}

template <class Real>
void dyad_population<Real>::nudge(index_t i, shard_context& ctx) {
  const std::uint32_t r = downs_[i];
  const unsigned s = ctx.shard;
  const std::uint64_t row = out_.target().row(s);
  const auto& data = *w_.data;
  const Real a = a_[i];
  const bool mse = learning_->loss == loss_kind::mse;
  Real y = 0, g = 0;
  if (mse) {
    y = data.target_cols ? static_cast<Real>(data.target(row)[i]) : (data.labels[row] == i ? Real(1) : Real(0));
    g = a - y;
    if (r == 0) loss_[i] += 0.5 * double(y - a) * double(y - a);
  } else {   // softmax CE from the siblings' a (lateral): g = softmax(a) - onehot
    const auto [p, nll] = out_.softmax(s, i, a);
    const bool hot = data.labels[row] == i;
    g = p - (hot ? Real(1) : Real(0));
    if (r == 0 && hot) loss_[i] += double(nll);
  }
  // DP-top, JAX form (spec §8 item 6): the error of the round-0 prediction, fixed.
  if (dp_->variant == dyad::variant_kind::dp_top && dp_->output_error_at_forward) {
    if (r == 0) g0_[i] = g;
    g = g0_[i];
  }
  dyad::output_nudge<Real>(*dp_, mse, a, y, g, sp_[i], sm_[i]);
  check(i, sp_[i], "output s+");
  check(i, sm_[i], "output s-");
  ++ctx.stats.reactions;
  ++downs_[i];
  send_delta(i, r, ctx);
}

template <class Real>
void dyad_population<Real>::down(index_t i, shard_context& ctx) {
  const std::uint32_t r = downs_[i];
  dyad::hidden_update<Real>(*dp_, spec_->activation, a_[i], g_[i], damping(i, ctx.shard), sp_[i], sm_[i]);
  check(i, sp_[i], "s+");
  check(i, sm_[i], "s-");
  ++ctx.stats.reactions;
  ++downs_[i];
  send_delta(i, r, ctx);
  if (downs_[i] == rounds_) send_up(i, rounds_, ctx);   // done: the final s_bar, for the children's synapses
}

// Delta = s+ - s- of round r to the parents: the value itself in dataflow, the change
// since the last one in eager mode (see the header).
template <class Real>
void dyad_population<Real>::send_delta(index_t i, std::uint32_t r, shard_context& ctx) {
  if (w_.error_out == ~out_t{0}) return;
  const Real delta = sp_[i] - sm_[i];
  if (sd_.on()) {   // a change, in both modes (sigma_delta.hpp); its receivers count the ops
    const auto m = sd_.change(i, double(delta));
    if (shared_)
      down_frames_.add(ctx, i, tag(i, r), m.value, m.sent);
    else
      ctx.out.emit(w_.error_out, i, tag(i, r), m.value, 0, m.sent);
    return;
  }
  if (shared_) {
    down_frames_.add(ctx, i, tag(i, r), double(delta));
    return;
  }
  Real v = delta;
  if (eager_) {
    v = delta - sent_delta_[i];
    sent_delta_[i] = delta;
  }
  ctx.out.emit(w_.error_out, i, tag(i, r), double(v));
}

template <class Real>
void dyad_population<Real>::learn(index_t i, shard_context& ctx) {
  learned_[i] = 1;
  const Real delta = sp_[i] - sm_[i];
  if (learning_->batch > 1)
    for (std::size_t k = 0; k < in_.size(); ++k) {
      const auto& syn = *w_.in[k]->syn;
      const auto rb = syn.row_begin(i);
      kernels::axpy(delta, in_[k].pre_values(i, ctx.shard), grad_[k].data() + rb, syn.row_end(i) - rb);
    }
  grad_b_[i] += delta;
  ++accumulated_[i];
  const std::uint64_t sample = sample_[i];
  const bool batch_end = (sample + 1) % learning_->batch == 0 || sample + 1 == w_.samples_total;
  // The update waits for the timer: the dyad's Deltas are read through its row of
  // W when they are delivered, so the row must not change before that.
  if (batch_end) timers_.arm(ctx, w_.timer_out, i, tag(i, rounds_));
}

// W <- optimizer step on the gradient -(1/beta) mean(Delta s_bar_pre) (spec §2.4;
// the 1/beta of get_J / train_DP.jl. The 2023 Julia code scales by 2 gamma / B instead;
// with Adam the constant does not matter, with SGD it sets the effective rate, §8 9d).
template <class Real>
void dyad_population<Real>::apply(index_t i, unsigned shard) {
  if (accumulated_[i] == 0) return;
  const Real scale = static_cast<Real>(-1.0 / (dp_->beta * double(accumulated_[i])));
  const Real delta = sp_[i] - sm_[i];
  for (std::size_t k = 0; k < in_.size(); ++k) {
    auto& syn = *w_.in[k]->syn;
    const auto rb = syn.row_begin(i), n = syn.row_end(i) - rb;
    if (learning_->batch > 1) {
      opt_[k].step_and_clear(i, rb, n, syn.w.data() + rb, grad_[k].data() + rb, scale);
    } else {
      dyad::step_row(opt_[k], i, rb, n, syn.w.data() + rb, delta, in_[k].pre_values(i, shard), scratch_[shard].data(),
                     scale);
    }
  }
  if (spec_->bias) bias_opt_.step(i, i, 1, &b_[i], &grad_b_[i], scale);
  grad_b_[i] = 0;
  accumulated_[i] = 0;
}

#define PHASELESS_DP_STEPS(Real)                                                         \
  template void dyad_population<Real>::process(index_t, shard_context&);                 \
  template void dyad_population<Real>::check(index_t, Real, const char*) const;          \
  template Real dyad_population<Real>::damping(index_t, unsigned);                       \
  template void dyad_population<Real>::up(index_t, shard_context&);                      \
  template void dyad_population<Real>::send_up(index_t, std::uint32_t, shard_context&);  \
  template void dyad_population<Real>::nudge(index_t, shard_context&);                   \
  template void dyad_population<Real>::down(index_t, shard_context&);                    \
  template void dyad_population<Real>::send_delta(index_t, std::uint32_t, shard_context&); \
  template void dyad_population<Real>::learn(index_t, shard_context&);                   \
  template void dyad_population<Real>::apply(index_t, unsigned);
PHASELESS_DP_STEPS(float)
PHASELESS_DP_STEPS(double)
#undef PHASELESS_DP_STEPS

}  // namespace phaseless::rules
