#include "sim/rules/zil.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include "sim/core/errors.hpp"
#include "sim/core/vertex.hpp"

namespace phaseless::rules {

template <class Real>
zil_population<Real>::zil_population(const population_wiring<Real>& w)
    : w_(w), spec_(w.spec), learning_(w.learning) {
  const index_t n = spec_->size;
  in_.resize(w_.in.size());
  for (std::size_t k = 0; k < in_.size(); ++k) {
    in_[k].init(*w_.in[k], w_.shards);
    if (learning_->batch > 1) grad_.emplace_back(w_.in[k]->syn->size(), Real(0));
  }
  if (learning_->optimizer.set) {   // a local optimizer instead of plain SGD (sim/rules/optimizer.hpp)
    const auto os = to_optimizer_spec(learning_->optimizer);
    std::size_t widest = 0;
    for (auto* l : w_.in) {
      opt_.emplace_back().init(os, l->syn->size(), n);
      widest = std::max<std::size_t>(widest, l->syn->n_pre);
    }
    bias_opt_.init(os, n, n);
    opt_row_.resize(widest);
  }
  back_.resize(w_.back.size());
  for (std::size_t k = 0; k < back_.size(); ++k) back_[k].init(*w_.back[k], w_.shards);
  b_.assign(n, Real(0));
  if (spec_->bias)
    for (index_t i = 0; i < n; ++i) b_[i] = static_cast<Real>(spec_->b[i]);
  grad_b_.assign(n, Real(0));
  tag_.assign(n, no_tag);
  mu_.assign(n, Real(0));
  eps_.assign(n, Real(0));
  g_.assign(n, Real(0));
  last_sent_.assign(n, Real(0));
  if (product()) u_.assign(in_.size(), std::vector<Real>(n, Real(0)));
  fwd_done_.assign(n, 0);
  bwd_done_.assign(n, 0);
  fwd_news_.assign(n, 0);
  sent_.assign(n, 0);
  accumulated_.assign(n, 0);
  loss_.assign(n, 0.0);
  shard_tag_.assign(w_.shards, no_tag);
  done_.assign(w_.shards, std::pair<std::uint32_t, tag_t>{0, no_tag});
  ready_.init(n, w_.shards);
  timers_.init(w_.shards);
  out_.init(w_, n);
  framing_.assign(w_.shards, 0);
  act_frames_.assign(w_.shards, frame_buffer{});
  err_frames_.assign(w_.shards, frame_buffer{});
  plain_batch1_ = learning_->batch == 1 && opt_.empty() && !product();
  for (auto* l : w_.in) plain_batch1_ = plain_batch1_ && l->weight_decay == 0;
  collects_ = false;
  for (auto* l : w_.in) collects_ = collects_ || l->tie_grad || (learning_->batch > 1 && l->plastic);
  shared_gates_ = w_.mode == mode_kind::dataflow && (!w_.lateral_fan || w_.lateral_fan->counted_per_shard());
  for (auto& in : in_) shared_gates_ = shared_gates_ && in.gate().shared();
  for (auto& b : back_) shared_gates_ = shared_gates_ && b.gate().shared();
  rows_ = shared_gates_ && !is_output() && spec_->combine == combine_kind::sum && !in_.empty() &&
          w_.link_error_out.empty();
}

// A message of a newer step starts that step locally (R6): the neuron forgets the
// previous sample's per-step state. Weights and gradients are untouched.
template <class Real>
void zil_population<Real>::begin(index_t lo, index_t hi, tag_t tag) {
  bool all = true;   // usually every row is behind (the shard's step advanced): plain fills
  for (index_t i = lo; i < hi; ++i) all = all & tag_newer(tag, tag_[i]);
  if (all) {
    std::fill(tag_.begin() + lo, tag_.begin() + hi, tag);
    for (auto* v : {&fwd_done_, &bwd_done_}) std::fill(v->begin() + lo, v->begin() + hi, 0);
    for (auto* v : {&g_, &eps_}) std::fill(v->begin() + lo, v->begin() + hi, Real(0));
    std::fill(sent_.begin() + lo, sent_.begin() + hi, 0u);
    return;
  }
  for (index_t i = lo; i < hi; ++i) {
    if (!tag_newer(tag, tag_[i])) continue;
    tag_[i] = tag;
    fwd_done_[i] = bwd_done_[i] = 0;
    g_[i] = eps_[i] = Real(0);
    sent_[i] = 0;
  }
}

template <class Real>
void zil_population<Real>::deliver(std::uint32_t port, std::span<const event> events, shard_context& ctx) {
  const unsigned s = ctx.shard;
  const bool eager = w_.mode == mode_kind::eager;
  if (port < in_.size()) {
    in_[port].deliver(
        events, ctx,
        [&](tag_t tag, bool complete) {
          if (tag_newer(tag, shard_tag_[s])) {
            shard_tag_[s] = tag;
            begin(ctx.lo, ctx.hi, tag);
          }
          if (complete || eager) ready_.mark_all(s);
          if (eager) std::fill(fwd_news_.begin() + ctx.lo, fwd_news_.begin() + ctx.hi, 1);   // read by eager only
        },
        [&](index_t i, tag_t tag, bool complete) {
          // Only a neuron that may react needs its step opened: in dataflow, the
          // arrival that completes one link (the others complete later or already did).
          if (complete || eager) {
            begin(i, i + 1, tag);
            fwd_news_[i] = 1;
            ready_.mark(s, i);
          }
        },
        !eager);   // dataflow: only the step and its completion matter, not each sender
    return;
  }
  if (port < in_.size() + back_.size()) {
    back_[port - in_.size()].deliver(
        events, ctx, g_.data(),
        [&](index_t lo, index_t hi, tag_t tag) {
          // In dataflow an error always follows the neuron's own forward step of the
          // same sample (its child needed that activity), which opened the step; in
          // eager mode an error may open it.
          if (!eager) return;
          if (hi - lo > 1) {
            if (!tag_newer(tag, shard_tag_[s])) return;
            shard_tag_[s] = tag;
          }
          begin(lo, hi, tag);
        },
        [&](tag_t, bool complete) {
          if (complete || eager) ready_.mark_all(s);
        },
        [&](index_t i, tag_t, bool complete) {
          if (complete || eager) ready_.mark(s, i);
        });
    return;
  }
  if (port == w_.timer_port) {
    // One timer event per shard and tick stands for the timers its neurons set then.
    if (!plain_batch1_) {
      timers_.fire(events, ctx, [&](index_t i) { apply(i, s); });
      return;
    }
    apply_rows(timers_.fired(events, ctx), s);
    return;
  }
  if (out_.deliver(port, events, s, ready_)) return;
  throw internal_error("zil_population: unknown port");
}

template <class Real>
void zil_population<Real>::react(shard_context& ctx) {
  if (shared_gates_) {
    // Every gate of this population counts per shard, so whether the shard's neurons
    // may step forward or backward is one answer for all of them, asked once per tick;
    // each neuron still reacts only to its own state (a row whose step differs asks
    // for itself).
    const unsigned s = ctx.shard;
    const tag_t tag = shard_tag_[s];
    const bool fr = tag != no_tag && ctx.lo < ctx.hi && forward_ready(ctx.lo, s, tag);
    const bool br = tag != no_tag && ctx.lo < ctx.hi && backward_ready(ctx.lo, s, tag);
    framing_[s] = 1;
    if (rows_ && ready_.take_all(ctx)) {
      react_rows(ctx, fr, br);
    } else {
      ready_.drain(ctx, [&](index_t i) {
        if (tag_[i] == tag)
          process_ready(i, ctx, fr, br);
        else
          process(i, ctx);
      });
    }
    flush_frames(ctx);
    framing_[s] = 0;
  } else {
    ready_.drain(ctx, [&](index_t i) { process(i, ctx); });
  }
  // One record per shard and tick carries the "contribution in" messages of the
  // neurons that finished (samples never overlap, so they share one tag); it counts
  // as that many messages, at any shard count.
  auto& [count, tag] = done_[ctx.shard];
  if (count > 0) {
    ctx.out.emit_frame(w_.done_out, ctx.lo, tag, double(count), count);
    count = 0;
  }
}

template <class Real>
bool zil_population<Real>::forward_ready(index_t i, unsigned s, tag_t tag) const {
  for (const auto& in : in_)
    if (!const_cast<forward_input<Real>&>(in).gate().complete(s, i, tag)) return false;
  return true;
}

template <class Real>
bool zil_population<Real>::backward_ready(index_t i, unsigned s, tag_t tag) const {
  if (is_output()) {
    return out_.target().tag(s) == tag && out_.lateral_complete(s, i, tag);
  }
  for (const auto& b : back_)
    if (!const_cast<error_input<Real>&>(b).gate().complete(s, i, tag)) return false;
  return !back_.empty();
}

template <class Real>
void zil_population<Real>::process(index_t i, shard_context& ctx) {
  const unsigned s = ctx.shard;
  const tag_t tag = tag_[i];
  if (tag == no_tag) return;
  if (w_.mode == mode_kind::dataflow) {
    if (!fwd_done_[i] && forward_ready(i, s, tag)) forward(i, ctx, true);
  } else if (!fwd_done_[i] && fwd_news_[i]) {
    // Eager: recompute from whatever has arrived; the prediction is settled (and final
    // for the sample) once every parent's settled value is in.
    forward(i, ctx, forward_ready(i, s, tag));
  }
  fwd_news_[i] = 0;
  // The error wave needs the neuron's own forward step first, and each sample
  // teaches a synapse once: the learning trigger of the rule table (DESIGN §2).
  if (fwd_done_[i] && !bwd_done_[i] && backward_ready(i, s, tag)) backward(i, ctx);
}

// process() with the gates' answers for the neuron's step given (dataflow).
template <class Real>
void zil_population<Real>::process_ready(index_t i, shard_context& ctx, bool fwd_ready, bool bwd_ready) {
  if (!fwd_done_[i] && fwd_ready) forward(i, ctx, true);
  fwd_news_[i] = 0;
  if (fwd_done_[i] && !bwd_done_[i] && bwd_ready) backward(i, ctx);
}

template <class Real>
void zil_population<Real>::forward(index_t i, shard_context& ctx, bool settled) {
  Real mu;
  const auto combine = spec_->combine;
  if (combine == combine_kind::bilinear || combine == combine_kind::softmax) {
    // Nonlinear vertex: mu and the Jacobian rows its error will travel back through.
    auto row = [&](std::size_t k) {
      const auto& syn = *w_.in[k]->syn;
      const auto rb = syn.row_begin(i);
      ctx.stats.synaptic_ops += in_[k].fan_in(i);
      return std::tuple{syn.w.data() + rb, in_[k].pre_values(i, ctx.shard), w_.in[k]->jac->w.data() + rb,
                        syn.row_end(i) - rb};
    };
    const auto [w0, x0, j0, n] = row(0);
    if (combine == combine_kind::bilinear) {
      const auto [w1, x1, j1, n1] = row(1);
      mu = bilinear_vertex(w0, x0, w1, x1, n, j0, j1);
    } else {
      mu = softmax_vertex(w0, x0, n, i % n, j0);
    }
  } else if (product()) {   // u_0 u_1 ..., in link order (no bias)
    mu = Real(1);
    for (std::size_t k = 0; k < in_.size(); ++k) {
      u_[k][i] = in_[k].potential(i, in_[k].pre_values(i, ctx.shard));
      mu *= u_[k][i];
      ctx.stats.synaptic_ops += in_[k].fan_in(i);
    }
  } else {
    mu = b_[i];
    for (auto& in : in_) {
      mu += in.potential(i, in.pre_values(i, ctx.shard));
      ctx.stats.synaptic_ops += in.fan_in(i);
    }
  }
  ++ctx.stats.reactions;
  mu_[i] = mu;   // C1: the value node starts at its prediction, so eps = 0
  fwd_done_[i] = settled;
  if (!std::isfinite(mu)) diverged(i, "prediction", mu);
  // The settled message goes out with repeat 0, the number receivers' gates count:
  // it is always sent. An eager partial prediction is a refinement (repeat >= 1),
  // sent only when it differs from the last message by more than the threshold.
  if (is_output()) {
    if (w_.lateral_fan) ctx.out.emit(w_.lateral_out, i, tag_[i], double(mu), settled ? 0 : ++sent_[i]);
    return;
  }
  const Real y = activate<Real>(spec_->activation, mu);
  if (!settled && std::abs(double(y - last_sent_[i])) <= learning_->threshold) return;   // eager: no news
  last_sent_[i] = y;
  send_activity(i, double(y), ctx, settled ? 0 : ++sent_[i]);
}

// Dataflow: a neuron sends its activity and its error once per step (repeat 0), so
// the neurons of a shard that react in one tick share frames; the receivers see the
// same messages, in the same order, as from one emit() per neuron.
template <class Real>
void zil_population<Real>::send_activity(index_t i, double y, shard_context& ctx, std::uint32_t repeat) {
  if (!framing_[ctx.shard] || repeat != 0) {
    ctx.out.emit(w_.activity_out, i, tag_[i], y, repeat);
    return;
  }
  act_frames_[ctx.shard].add(i, tag_[i], y, w_.activity_out, ctx.out);
}

template <class Real>
void zil_population<Real>::send_error(index_t i, double eps, shard_context& ctx) {
  if (framing_[ctx.shard])
    err_frames_[ctx.shard].add(i, tag_[i], eps, w_.error_out, ctx.out);
  else
    ctx.out.emit(w_.error_out, i, tag_[i], eps);
}

template <class Real>
void zil_population<Real>::flush_frames(shard_context& ctx) {
  act_frames_[ctx.shard].flush(w_.activity_out, ctx.out);
  err_frames_[ctx.shard].flush(w_.error_out, ctx.out);
}

template <class Real>
void zil_population<Real>::diverged(index_t i, const char* what, Real v) const {
  throw numeric_error("population '" + spec_->name + "' neuron " + std::to_string(i) + ": " + what + " became " +
                      std::to_string(double(v)) + " at sample " + std::to_string(tag_sample(tag_[i])) + "; " +
                      diverged_hint(w_.mode));
}

template <class Real>
Real zil_population<Real>::output_error(index_t i, unsigned s) {
  const std::uint64_t row = out_.target().row(s);
  const auto& data = *w_.data;
  if (w_.lateral_fan) {   // softmax cross-entropy: -dL/dmu_i = y_i - p_i
    const auto [p, nll] = out_.softmax(s, i, mu_[i]);
    const bool hot = data.labels[row] == i;
    if (hot) loss_[i] += double(nll);
    return (hot ? Real(1) : Real(0)) - p;
  }
  // squared loss 1/2 (t - f(mu))^2: -dL/dmu = (t - f(mu)) f'(mu)
  const Real t = data.target_cols ? static_cast<Real>(data.target(row)[i])
                                  : (data.labels[row] == i ? Real(1) : Real(0));
  const Real a = activate<Real>(spec_->activation, mu_[i]);
  loss_[i] += 0.5 * double(t - a) * double(t - a);
  return (t - a) * activate_prime<Real>(spec_->activation, mu_[i]);
}

template <class Real>
void zil_population<Real>::backward(index_t i, shard_context& ctx) {
  Real eps;
  if (is_output()) {
    eps = output_error(i, ctx.shard);   // the output value node is clamped: no gamma
  } else {
    // One inference step from x = mu with rate gamma: x += gamma(-(x - mu) + f'(x) g).
    const Real gamma = static_cast<Real>(learning_->gamma);
    eps = gamma * activate_prime<Real>(spec_->activation, mu_[i]) * g_[i];
  }
  ++ctx.stats.reactions;
  eps_[i] = eps;
  bwd_done_[i] = 1;
  if (!std::isfinite(eps)) diverged(i, "error", eps);
  if (!w_.link_error_out.empty()) {
    for (std::size_t k = 0; k < in_.size(); ++k)
      if (w_.link_error_out[k] != ~out_t{0}) ctx.out.emit(w_.link_error_out[k], i, tag_[i], double(link_error(k, i)));
  } else if (w_.error_out != ~out_t{0}) {
    send_error(i, double(eps), ctx);
  }
  learn(i, eps, ctx);
}

template <class Real>
void zil_population<Real>::learn(index_t i, Real eps, shard_context& ctx) {
  // At batch 1 the update is applied straight from eps and the presynaptic values
  // (still held until the next sample arrives): no gradient buffer to fill and clear.
  // Shared weights always collect (their step waits for every copy).
  for (std::size_t k = 0; collects_ && k < in_.size(); ++k) {
    const auto& link = *w_.in[k];
    Real* G = link.tie_grad ? link.tie_grad : learning_->batch > 1 && link.plastic ? grad_[k].data() : nullptr;
    if (!G) continue;
    const auto rb = link.syn->row_begin(i);
    kernels::axpy(link_error(k, i), in_[k].pre_values(i, ctx.shard), G + rb, link.syn->row_end(i) - rb);
  }
  (w_.bias_tie_grad ? w_.bias_tie_grad : grad_b_.data())[i] += eps;
  learned(i, i + 1, tag_[i], ctx);
}

// The bookkeeping after rows [lo, hi) (one step, `tag`) have learned from their errors.
template <class Real>
void zil_population<Real>::learned(index_t lo, index_t hi, tag_t tag, shard_context& ctx) {
  if (w_.done_out != ~out_t{0}) done_[ctx.shard] = {done_[ctx.shard].first + (hi - lo), tag};
  for (index_t i = lo; i < hi; ++i) ++accumulated_[i];
  const std::uint64_t sample = tag_sample(tag);
  const bool batch_end =
      learning_->batch == 1 || (sample + 1) % learning_->batch == 0 || sample + 1 == w_.samples_total;
  // The update waits for the timer: this neuron's errors are read through its row
  // of W when they are delivered, so the row must not change before that.
  if (batch_end) timers_.arm_rows(ctx, w_.timer_out, lo, hi, tag);
}

// A product vertex's VJP: d mu / d u_k = prod of the other factors (link order).
template <class Real>
Real zil_population<Real>::link_error(std::size_t k, index_t i) const {
  if (!product()) return eps_[i];
  Real d = Real(1);
  for (std::size_t q = 0; q < in_.size(); ++q)
    if (q != k) d *= u_[q][i];
  return eps_[i] * d;
}

template <class Real>
double zil_population<Real>::take_loss() {
  return drain_sum(loss_);
}

template class zil_population<float>;
template class zil_population<double>;

}  // namespace phaseless::rules
