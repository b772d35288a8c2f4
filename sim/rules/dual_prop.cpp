// Dual propagation's dyads (dual_prop.hpp): the messages in (deliver), when a dyad
// may take its next step (readiness), and what a new sample resets. The steps
// themselves are in dual_prop_steps.cpp (one dyad at a time) and dual_prop_rows.cpp
// (a shard's dyads together).
#include "sim/rules/dual_prop.hpp"

#include <algorithm>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/rules/event_network.hpp"

namespace phaseless::rules {

namespace dyad {

// Latest tick of each population's up, nudge/down and learning step, round by
// round, along the slowest delays (dataflow order of dual_prop.hpp).
tick_t critical_path(const network_spec& spec) {
  const std::size_t n = spec.populations.size();
  const std::uint32_t R = std::max<std::uint32_t>(1, spec.learning.dp.rounds);
  const bool lateral = spec.learning.loss == loss_kind::softmax_ce;
  std::vector<tick_t> up(n, 0), down(n, 0), prev_down(n, 0);
  const tick_t clamp = 1;   // the clamp (and target) message
  for (std::uint32_t r = 0; r < R; ++r) {
    for (pop_t v : spec.topo) {
      if (v == spec.input) continue;
      tick_t t = r == 0 ? clamp : prev_down[v];
      for (const auto& p : spec.projections)
        if (p.post == v) {
          const tick_t from = p.pre == spec.input ? clamp : up[p.pre];
          t = std::max(t, from + p.forward.max());
        }
      up[v] = t;
    }
    down[spec.output] = up[spec.output] + (lateral ? 1 : 0);
    for (auto it = spec.topo.rbegin(); it != spec.topo.rend(); ++it) {
      const pop_t v = *it;
      if (v == spec.output || v == spec.input) continue;
      tick_t t = up[v];
      for (const auto& p : spec.projections)
        if (p.pre == v && p.feedback != feedback_kind::none) t = std::max(t, down[p.post] + p.backward.max());
      down[v] = t;
    }
    prev_down = down;
  }
  // Learning: own last update, and every non-input parent's final s_bar.
  tick_t cp = 0;
  for (pop_t v = 0; v < n; ++v) {
    if (v == spec.input) continue;
    tick_t t = down[v];
    for (const auto& p : spec.projections)
      if (p.post == v && p.pre != spec.input) t = std::max(t, down[p.pre] + p.forward.max());
    cp = std::max(cp, t + timer_delay(spec, v));
  }
  return cp;
}

}  // namespace dyad

template <class Real>
dyad_population<Real>::dyad_population(const population_wiring<Real>& w)
    : w_(w), spec_(w.spec), learning_(w.learning), dp_(&w.learning->dp) {
  const index_t n = spec_->size;
  rounds_ = std::max<std::uint32_t>(1, dp_->rounds);
  static_a_ = !w_.in.empty();
  eager_ = w_.mode == mode_kind::eager;
  const optimizer_spec os = dyad::to_optimizer(*learning_);
  in_.resize(w_.in.size());
  opt_.resize(w_.in.size());
  for (std::size_t k = 0; k < in_.size(); ++k) {
    in_[k].init(*w_.in[k], w_.shards);
    static_a_ = static_a_ && w_.in[k]->from_input;
    opt_[k].init(os, w_.in[k]->syn->size(), n);
    if (learning_->batch > 1) grad_.emplace_back(w_.in[k]->syn->size(), Real(0));
  }
  bias_opt_.init(os, n, n);
  back_.resize(w_.back.size());
  for (std::size_t k = 0; k < back_.size(); ++k) back_[k].init(*w_.back[k], w_.shards);
  b_.assign(n, Real(0));
  if (spec_->bias)
    for (index_t i = 0; i < n; ++i) b_[i] = static_cast<Real>(spec_->b[i]);
  grad_b_.assign(n, Real(0));
  sample_.assign(n, ~std::uint64_t{0});
  ups_.assign(n, 0);
  downs_.assign(n, 0);
  learned_.assign(n, 0);
  a_.assign(n, Real(0));
  sp_.assign(n, Real(0));
  sm_.assign(n, Real(0));
  g_.assign(n, Real(0));
  g0_.assign(n, Real(0));
  g_tag_.assign(n, no_tag);
  accumulated_.assign(n, 0);
  loss_.assign(n, 0.0);
  seen_fwd_.assign(n, no_tag);
  seen_err_.assign(n, no_tag);
  ff_in_.assign(n, 0);
  ff_expected_.assign(n, 0);
  for (const auto* l : w_.in)
    for (index_t i = 0; i < n; ++i) ff_expected_[i] += l->fan.expected_of(i);
  sent_delta_.assign(n, Real(0));
  seen_lat_.assign(w_.shards, no_tag);
  shard_sample_.assign(w_.shards, ~std::uint64_t{0});
  shard_g_tag_.assign(w_.shards, no_tag);
  ready_.init(n, w_.shards);
  timers_.init(w_.shards);
  damping_.assign(w_.shards, Real(0));
  damping_sample_.assign(w_.shards, ~std::uint64_t{0});
  std::size_t widest = 0;
  for (auto* l : w_.in) widest = std::max<std::size_t>(widest, l->syn->n_pre);
  scratch_.assign(w_.shards, std::vector<Real>(widest));
  out_.init(w_, n);
  shared_ = !eager_ && (!w_.lateral_fan || w_.lateral_fan->counted_per_shard());
  for (auto& in : in_) shared_ = shared_ && in.gate().shared();
  for (auto& b : back_) shared_ = shared_ && b.gate().shared();
  sd_.init(learning_->threshold, n);
  rows_ = shared_ && !sd_.on() && !is_output();
  up_frames_.init(w_.activity_out, w_.shards);
  down_frames_.init(w_.error_out, w_.shards);
}

template <class Real>
Real dyad_population<Real>::element(index_t i, unsigned k) const {
  const Real al = static_cast<Real>(is_output() ? dp_->alpha : dyad::hidden_alpha(*dp_));
  switch (k) {
    case 0: return sp_[i];
    case 1: return sm_[i];
    case 2: return sp_[i] - sm_[i];
    default: return al * sp_[i] + (Real(1) - al) * sm_[i];
  }
}

// A message of a newer sample starts it locally (R6): per-sample state is reset;
// weights, gradients and optimizer state are untouched.
template <class Real>
void dyad_population<Real>::start_sample(index_t lo, index_t hi, std::uint64_t sample) {
  // Usually the sample is new to every row (a shard opens together): array by array.
  bool all = true;
  for (index_t i = lo; i < hi; ++i) all &= (sample_[i] == ~std::uint64_t{0}) | (sample > sample_[i]);
  if (all && !sd_.on()) {
    std::fill(sample_.begin() + lo, sample_.begin() + hi, sample);
    for (auto* v : {&ups_, &downs_}) std::fill(v->begin() + lo, v->begin() + hi, 0u);
    std::fill(learned_.begin() + lo, learned_.begin() + hi, char(0));
    std::fill(g_.begin() + lo, g_.begin() + hi, Real(0));
    std::fill(g_tag_.begin() + lo, g_tag_.begin() + hi, no_tag);
    if (eager_) {   // what only eager mode reads
      std::fill(ff_in_.begin() + lo, ff_in_.begin() + hi, 0u);
      std::fill(sent_delta_.begin() + lo, sent_delta_.begin() + hi, Real(0));
    }
    return;
  }
  for (index_t i = lo; i < hi; ++i) {
    if (sample_[i] != ~std::uint64_t{0} && sample <= sample_[i]) continue;
    sample_[i] = sample;
    ups_[i] = downs_[i] = 0;
    learned_[i] = 0;
    g_[i] = Real(0);
    g_tag_[i] = no_tag;
    sent_delta_[i] = Real(0);
    ff_in_[i] = 0;
    sd_.start(i);
  }
}

template <class Real>
void dyad_population<Real>::deliver(std::uint32_t port, std::span<const event> events, shard_context& ctx) {
  const unsigned s = ctx.shard;
  // A message of a newer sample opens it for the neurons it reaches (R6).
  auto open = [&](index_t lo, index_t hi, tag_t tag) {
    const std::uint64_t smp = tag_sample(tag);
    if (lo == ctx.lo && hi == ctx.hi) {   // the whole shard: one check per event
      if (shard_sample_[s] != ~std::uint64_t{0} && smp <= shard_sample_[s]) return;
      shard_sample_[s] = smp;
    }
    start_sample(lo, hi, smp);
  };
  auto heard = [&](std::vector<tag_t>& seen, index_t lo, index_t hi, tag_t tag) {
    if (eager_)
      for (index_t i = lo; i < hi; ++i)
        if (tag_newer(tag, seen[i])) seen[i] = tag;
  };
  // Eager: the forward-pass messages (round 0) of each dyad's current sample, counted
  // apart from the gates, which a parent's round-1 value may move on.
  auto count_forward = [&](index_t lo, index_t hi, tag_t tag) {
    if (eager_ && tag_iteration(tag) == 0)
      for (index_t i = lo; i < hi; ++i)
        if (sample_[i] == tag_sample(tag)) ++ff_in_[i];
  };
  if (port < in_.size()) {
    in_[port].deliver(
        events, ctx,
        [&](tag_t tag, bool complete) {
          open(ctx.lo, ctx.hi, tag);
          heard(seen_fwd_, ctx.lo, ctx.hi, tag);
          count_forward(ctx.lo, ctx.hi, tag);
          if (complete || eager_) ready_.mark_all(s);
        },
        [&](index_t i, tag_t tag, bool complete) {
          open(i, i + 1, tag);
          heard(seen_fwd_, i, i + 1, tag);
          count_forward(i, i + 1, tag);
          if (complete || eager_) ready_.mark(s, i);
        },
        !eager_);   // dataflow: only the round and its completion matter, not each sender
    return;
  }
  if (port < in_.size() + back_.size()) {
    back_[port - in_.size()].deliver(
        events, ctx, g_.data(),
        [&](index_t lo, index_t hi, tag_t tag) {
          if (eager_) {
            // Deltas come as changes, so g is only reset when a sample starts; a
            // child may step on another parent's message and send before this
            // dyad heard of the sample, so the error can open it.
            open(lo, hi, tag);
            heard(seen_err_, lo, hi, tag);
            return;
          }
          if (sd_.on()) return;   // sigma-delta: Deltas come as changes too, g is reset per sample
          // Dataflow: g holds W^T Delta of one round, and a Delta of a newer round
          // starts it afresh. The previous round's g has been used by then (the up
          // step that needs it precedes every child's Delta of the next round).
          if (hi - lo > 1) {
            if (!tag_newer(tag, shard_g_tag_[s])) return;
            shard_g_tag_[s] = tag;
          }
          for (index_t i = lo; i < hi; ++i)
            if (tag_newer(tag, g_tag_[i])) {
              g_tag_[i] = tag;
              g_[i] = Real(0);
            }
        },
        [&](tag_t, bool complete) {
          if (complete || eager_) ready_.mark_all(s);
        },
        [&](index_t i, tag_t, bool complete) {
          if (complete || eager_) ready_.mark(s, i);
        });
    return;
  }
  if (port == w_.timer_port) {
    if (!rows_) {
      timers_.fire(events, ctx, [&](index_t i) { apply(i, s); });
      return;
    }
    apply_rows(timers_.fired(events, ctx), s);
    return;
  }
  if (port == w_.lateral_port && eager_)
    for (const event& e : events)
      if (tag_newer(e.tag, seen_lat_[s])) seen_lat_[s] = e.tag;
  if (out_.deliver(port, events, s, ready_)) return;
  throw internal_error("dyad_population: unknown port");
}

template <class Real>
void dyad_population<Real>::react(shard_context& ctx) {
  if (shared_) {
    react_shard(ctx);
    up_frames_.flush(ctx);
    down_frames_.flush(ctx);
  } else {
    ready_.drain(ctx, [&](index_t i) { process(i, ctx); });   // each once, in index order (R2)
  }
}

// Parents' s_bar of `round` (the clamped input counts for every round; its
// message is tagged round 0). Round R is the final s_bar used for learning.
template <class Real>
bool dyad_population<Real>::parents_ready(index_t i, unsigned s, std::uint32_t round) const {
  if (eager_) {
    // Round 0 is the forward pass, the authors' initialization: it waits for the whole
    // feed-forward input (else it would mix the sample with the previous one, and with
    // rounds 1 every later step would read that). Later rounds need one message of
    // round >= r from a parent that changes within the sample (the clamp does not).
    if (round == 0) return ff_in_[i] == ff_expected_[i];
    const tag_t need = tag(i, static_a_ ? 0 : round);
    return seen_fwd_[i] != no_tag && tag_sample(seen_fwd_[i]) == sample_[i] && seen_fwd_[i] >= need;
  }
  for (const auto& in : in_) {
    const bool fixed = in.link().from_input;
    if (fixed && round > 0) continue;   // checked at round 0; its value stays for the sample
    if (!const_cast<forward_input<Real>&>(in).gate().complete(s, i, tag(i, fixed ? 0 : round))) return false;
  }
  return true;
}

template <class Real>
bool dyad_population<Real>::children_ready(index_t i, unsigned s, std::uint32_t round) const {
  if (eager_) return back_.empty() || (seen_err_[i] != no_tag && seen_err_[i] >= tag(i, round));
  for (const auto& b : back_)
    if (!const_cast<error_input<Real>&>(b).gate().complete(s, i, tag(i, round))) return false;
  return true;
}

template <class Real>
bool dyad_population<Real>::nudge_ready(index_t i, unsigned s, std::uint32_t round) const {
  if (out_.target().tag(s) != tag(i, 0)) return false;
  // Eager: the round-0 nudge reads every sibling's forward-pass a; later rounds the newest.
  if (eager_ && round > 0) return !w_.lateral_fan || (seen_lat_[s] != no_tag && seen_lat_[s] >= tag(i, round));
  return out_.lateral_complete(s, i, tag(i, round));
}

template <class Real>
double dyad_population<Real>::take_loss() {
  return drain_sum(loss_);
}

template class dyad_population<float>;
template class dyad_population<double>;

}  // namespace phaseless::rules
