#include "sim/rules/il.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/rules/event_network.hpp"

namespace phaseless::rules {

tick_t il_critical_path(const network_spec& spec) {
  // Earliest-completion recurrence on the slowest delay of every projection:
  // F[v] the tick v computes mu^t (parents' activity t arrived, and its own x^t),
  // E[v] the tick it sends its error (output: after the lateral softmax),
  // A[v] the tick it sends activity tagged t (hidden: its relaxation step t-1).
  const std::size_t n = spec.populations.size();
  const std::uint32_t T = spec.learning.il.iterations;
  const bool lateral = spec.learning.loss == loss_kind::softmax_ce;
  std::vector<tick_t> A(n, 0), F(n, 0), E(n, 0);
  A[spec.input] = 1;   // the clamp message; the input sends once per sample
  tick_t cp = 0;
  for (std::uint32_t t = 0; t <= T; ++t) {
    for (pop_t v : spec.topo) {
      if (v == spec.input) continue;
      tick_t f = t == 0 ? 0 : (v == spec.output ? E[v] : A[v]);
      for (const auto& p : spec.projections)
        if (p.post == v) f = std::max(f, A[p.pre] + p.forward.max());
      F[v] = f;
      E[v] = f + (v == spec.output && lateral ? 1 : 0);
      if (t == 0 && v != spec.output) A[v] = f;
    }
    if (t == T) break;
    for (auto it = spec.topo.rbegin(); it != spec.topo.rend(); ++it) {
      const pop_t v = *it;
      if (v == spec.input || v == spec.output) continue;
      tick_t b = F[v];
      for (const auto& p : spec.projections)
        if (p.pre == v && p.feedback != feedback_kind::none) b = std::max(b, E[p.post] + p.backward.max());
      A[v] = b;   // x^{t+1} goes up
    }
  }
  for (pop_t v = 0; v < n; ++v)
    if (v != spec.input) cp = std::max(cp, E[v] + timer_delay(spec, v));
  return cp;
}

optimizer_spec il_optimizer(const learning_spec& L) {
  // A model's optimizer block: IL-Adam (torch.optim.Adam at rate alpha, §2.3 step 5), or
  // IL-prox Adam (G/nu fed to Adam, §2.5).
  if (L.optimizer.set) return to_optimizer_spec(L.optimizer);
  optimizer_spec o;
  // IL: torch.optim.SGD(lr = alpha) without momentum (§2.3 step 5). IL-prox: W <- W - G/nu,
  // no learning rate (§2.4 step 5), i.e. SGD at rate 1 on the normalized gradient.
  o.lr = L.rule == "il_prox" ? 1.0 : L.lr;
  return o;
}

template <class Real>
il_population<Real>::il_population(const population_wiring<Real>& w)
    : w_(w), spec_(w.spec), learning_(w.learning), T_(w.learning->il.iterations), prox_(w.learning->rule == "il_prox") {
  const index_t n = spec_->size;
  const optimizer_spec os = il_optimizer(*learning_);
  frames_ = w_.mode == mode_kind::dataflow;
  // At batch 1 in dataflow the parents' final values stay in place until the timer
  // applies the update (they send nothing more in the sample), so the gradient row is
  // formed there, rounded as accumulating it into a zeroed buffer would be.
  batch1_ = frames_ && learning_->batch == 1;
  in_.resize(w_.in.size());
  for (std::size_t k = 0; k < in_.size(); ++k) {
    in_[k].init(*w_.in[k], w_.shards);
    grad_.emplace_back(batch1_ ? 0 : w_.in[k]->syn->size(), Real(0));   // batch1_: no gradient buffer
    opt_.emplace_back().init(os, w_.in[k]->syn->size(), n);
    // An in-link whose events all carry step 0: the input is clamped and sends once.
    in_from_input_.push_back(w_.in[k]->from_input);
  }
  bias_opt_.init(os, n, n);
  back_.resize(w_.back.size());
  for (std::size_t k = 0; k < back_.size(); ++k) back_[k].init(*w_.back[k], w_.shards);
  b_.assign(n, Real(0));
  if (spec_->bias)
    for (index_t i = 0; i < n; ++i) b_[i] = static_cast<Real>(spec_->b[i]);
  grad_b_.assign(n, Real(0));
  sample_.assign(n, 0);
  iter_.assign(n, 0);
  fwd_done_.assign(n, 0);
  out_done_.assign(n, 0);
  for (auto* v : {&x_, &a_, &mu_, &eps_, &g_, &p_, &sq_, &sq_acc_}) v->assign(n, Real(0));
  accumulated_.assign(n, 0);
  seen_fwd_.assign(n, no_tag);
  seen_err_.assign(n, no_tag);
  sent_down_.assign(n, Real(0));
  ff_in_.assign(n, 0);
  ff_expected_.assign(n, 0);
  for (const auto* l : w_.in)
    for (index_t i = 0; i < n; ++i) ff_expected_[i] += l->fan.expected_of(i);
  loss_.assign(n, 0.0);
  energy_.assign(n, 0.0);
  shard_sample_.assign(w_.shards, 0);
  ready_.init(n, w_.shards);
  timers_.init(w_.shards);
  out_.init(w_, n);
  seen_lat_.assign(w_.shards, no_tag);
  shared_ = frames_ && (!w_.lateral_fan || w_.lateral_fan->counted_per_shard());
  for (auto& in : in_) shared_ = shared_ && in.gate().shared();
  for (auto& b : back_) shared_ = shared_ && b.gate().shared();
  up_frames_.init(w_.activity_out, w_.shards);
  down_frames_.init(w_.error_out, w_.shards);
  delta_.assign(n, Real(0));
  std::size_t widest = 0;
  for (auto* l : w_.in) widest = std::max<std::size_t>(widest, l->syn->n_pre);
  row_.assign(w_.shards, std::vector<Real>(batch1_ ? widest : 0));
  sd_.init(learning_->threshold, n);
}

// A message of a newer sample starts that sample locally (R6): step 0, no error
// fed back yet. Weights, gradients and optimizer state are untouched.
template <class Real>
void il_population<Real>::start(index_t lo, index_t hi, std::uint64_t sample) {
  for (index_t i = lo; i < hi; ++i) {
    if (sample + 1 <= sample_[i]) continue;
    sample_[i] = sample + 1;
    iter_[i] = 0;
    fwd_done_[i] = out_done_[i] = 0;
    g_[i] = Real(0);
    sent_down_[i] = Real(0);
    ff_in_[i] = 0;
    sd_.start(i);
  }
}

namespace {
inline bool newer_tag(tag_t a, tag_t seen) { return seen == no_tag || a > seen; }
}  // namespace

template <class Real>
void il_population<Real>::deliver(std::uint32_t port, std::span<const event> events, shard_context& ctx) {
  const unsigned s = ctx.shard;
  const bool eager = w_.mode == mode_kind::eager;
  auto open_shard = [&](tag_t tag) {
    const std::uint64_t smp = tag_sample(tag);
    if (smp + 1 > shard_sample_[s]) {
      shard_sample_[s] = smp + 1;
      start(ctx.lo, ctx.hi, smp);
    }
  };
  if (port < in_.size()) {
    in_[port].deliver(
        events, ctx,
        [&](tag_t tag, bool complete) {
          open_shard(tag);
          if (eager)
            for (index_t i = ctx.lo; i < ctx.hi; ++i) heard_forward(i, tag);
          if (complete || eager) ready_.mark_all(s);
        },
        [&](index_t i, tag_t tag, bool complete) {
          start(i, i + 1, tag_sample(tag));
          if (eager) heard_forward(i, tag);
          if (complete || eager) ready_.mark(s, i);
        },
        !eager);   // dataflow: only the step and its completion matter, not each sender
    return;
  }
  if (port < in_.size() + back_.size()) {
    back_[port - in_.size()].deliver(
        events, ctx, g_.data(),
        [&](index_t lo, index_t hi, tag_t tag) {
          // Errors follow the neuron's own activity of the same sample: a no-op
          // unless the first message of the sample is an error (eager).
          if (hi - lo > 1) open_shard(tag);
          else start(lo, hi, tag_sample(tag));
          if (eager)
            for (index_t i = lo; i < hi; ++i)
              if (newer_tag(tag, seen_err_[i])) seen_err_[i] = tag;
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
    timers_.fire(events, ctx, [&](index_t i) { apply(i, s); });
    return;
  }
  if (port == w_.lateral_port)   // eager mode reads the newest sibling step seen
    for (const event& e : events)
      if (newer_tag(e.tag, seen_lat_[s])) seen_lat_[s] = e.tag;
  if (out_.deliver(port, events, s, ready_)) return;
  throw internal_error("il_population: unknown port");
}

// Eager bookkeeping of a forward message to neuron i: the newest step heard, and the
// feed-forward messages (step 0) of its current sample, counted apart from the gates
// because a parent's step-1 value may overtake another parent's step-0 value.
template <class Real>
void il_population<Real>::heard_forward(index_t i, tag_t tag) {
  if (newer_tag(tag, seen_fwd_[i])) seen_fwd_[i] = tag;
  if (tag_iteration(tag) == 0 && tag_sample(tag) + 1 == sample_[i]) ++ff_in_[i];
}

template <class Real>
void il_population<Real>::react(shard_context& ctx) {
  if (shared_)
    react_shard(ctx);
  else
    ready_.drain(ctx, [&](index_t i) { process(i, ctx); });
  if (frames_) {
    up_frames_.flush(ctx);
    down_frames_.flush(ctx);
  }
}

// process() for a whole shard whose gates all count per shard (dataflow): its neurons
// hear the same messages in the same ticks and start samples together, so they are
// always at the same step. Readiness is asked once, for the first row, and each step
// runs over the shard's rows (step by step rather than neuron by neuron: the messages
// are the same, and the total order sorts them the same).
template <class Real>
void il_population<Real>::react_shard(shard_context& ctx) {
  bool marked = false;
  ready_.drain(ctx, [&](index_t) { marked = true; });
  const index_t lo = ctx.lo, hi = ctx.hi;
  if (!marked || lo == hi || sample_[lo] == 0) return;
  const unsigned s = ctx.shard;
  for (;;) {
    const std::uint32_t t = iter_[lo];
    if (!fwd_done_[lo]) {
      if (!forward_ready(lo, s, t)) return;
      forward_rows(lo, hi, ctx);
    }
    if (is_output()) {
      if (out_done_[lo] || !lateral_ready(lo, s, t)) return;
      for (index_t i = lo; i < hi; ++i) settle_output(i, ctx);
      if (t == T_) return;
      for (index_t i = lo; i < hi; ++i) {
        ++iter_[i];
        fwd_done_[i] = out_done_[i] = 0;
      }
      continue;
    }
    if (t == T_ || !backward_ready(lo, s, t)) return;
    relax_rows(lo, hi, ctx);
  }
}

template <class Real>
bool il_population<Real>::forward_ready(index_t i, unsigned s, std::uint32_t t) const {
  const std::uint64_t smp = sample_[i] - 1;
  if (w_.mode == mode_kind::eager) {
    // Step 0 is the feed-forward initialization (C1 of spec pc-family.md §3): it waits
    // for the whole feed-forward input, so that no value node starts from a half
    // arrived sample mixed with the previous one (with IL's small gamma_top it would
    // barely move away). The relaxation is what runs eagerly: a later step needs
    // one message of step >= t from a relaxing parent (the clamped input never changes).
    if (t == 0) return ff_in_[i] == ff_expected_[i];
    bool relaxing_parent = false;
    for (std::size_t k = 0; k < in_.size(); ++k) relaxing_parent |= !in_from_input_[k];
    const tag_t need = make_tag(smp, relaxing_parent ? t : 0);
    return seen_fwd_[i] != no_tag && tag_sample(seen_fwd_[i]) == smp && seen_fwd_[i] >= need;
  }
  for (std::size_t k = 0; k < in_.size(); ++k) {
    const tag_t tag = make_tag(smp, in_from_input_[k] ? 0 : t);
    if (!const_cast<forward_input<Real>&>(in_[k]).gate().complete(s, i, tag)) return false;
  }
  return true;
}

template <class Real>
bool il_population<Real>::backward_ready(index_t i, unsigned s, std::uint32_t t) const {
  if (back_.empty()) return true;   // no error path into this neuron: fb = 0
  const tag_t tag = make_tag(sample_[i] - 1, t);
  if (w_.mode == mode_kind::eager) return seen_err_[i] != no_tag && seen_err_[i] >= tag;
  for (const auto& b : back_)
    if (!const_cast<error_input<Real>&>(b).gate().complete(s, i, tag)) return false;
  return true;
}

template <class Real>
bool il_population<Real>::lateral_ready(index_t i, unsigned s, std::uint32_t t) const {
  const std::uint64_t smp = sample_[i] - 1;
  const tag_t target = out_.target().tag(s);
  if (target == no_tag || tag_sample(target) != smp) return false;
  if (!w_.lateral_fan) return true;
  const tag_t tag = make_tag(smp, t);
  // Eager: the first target comes from the complete feed-forward prediction (step 0);
  // later steps take the siblings' newest logits.
  if (w_.mode == mode_kind::eager && t > 0) return seen_lat_[s] != no_tag && seen_lat_[s] >= tag;
  return out_.lateral_complete(s, i, tag);
}

template <class Real>
void il_population<Real>::process(index_t i, shard_context& ctx) {
  if (sample_[i] == 0) return;
  const unsigned s = ctx.shard;
  for (;;) {
    const std::uint32_t t = iter_[i];
    if (!fwd_done_[i]) {
      if (!forward_ready(i, s, t)) return;
      forward(i, ctx);
    }
    if (is_output()) {
      if (out_done_[i] || !lateral_ready(i, s, t)) return;
      settle_output(i, ctx);
      if (t == T_) return;
      ++iter_[i];   // wait for the parents' next values
      fwd_done_[i] = out_done_[i] = 0;
      continue;
    }
    if (t == T_ || !backward_ready(i, s, t)) return;
    relax(i, ctx);
  }
}

template <class Real>
void il_population<Real>::diverged(index_t i, const char* what, double v) const {
  throw numeric_error("population '" + spec_->name + "' neuron " + std::to_string(i) + ": " + what + " became " +
                      std::to_string(v) + " at sample " + std::to_string(sample_[i] - 1) + ", relaxation step " +
                      std::to_string(iter_[i]) + "; " + diverged_hint(w_.mode));
}

template <class Real>
Real il_population<Real>::target_of(index_t i, unsigned s) const {
  const std::uint64_t row = out_.target().row(s);
  const auto& data = *w_.data;
  if (learning_->loss == loss_kind::mse && data.target_cols) return static_cast<Real>(data.target(row)[i]);
  return data.labels[row] == i ? Real(1) : Real(0);
}

template <class Real>
double il_population<Real>::take_loss() {
  return drain_sum(loss_);
}

template <class Real>
double il_population<Real>::take_energy() {
  return drain_sum(energy_);
}

template class il_population<float>;
template class il_population<double>;

}  // namespace phaseless::rules
