// A shard's dyads stepped together (dual_prop.hpp): in dataflow mode with every gate
// counted per shard, the dyads of a shard hear the same messages in the same ticks and
// start samples together, so they are always at the same step. Readiness is asked once,
// for the first row, and each step runs over the shard's rows. A hidden shard without
// sigma-delta takes each step as loops over arrays (the *_rows functions): every row
// does what up(), down() and learn() do for it, with the same arithmetic in the same
// order, and sends the same messages as frames of consecutive dyads; only the
// per-dyad control is shared. The output (a few dyads, lateral softmax) and
// sigma-delta shards step dyad by dyad.
#include <algorithm>
#include <cmath>

#include "sim/rules/dual_prop.hpp"

namespace phaseless::rules {

template <class Real>
void dyad_population<Real>::react_shard(shard_context& ctx) {
  bool marked = ready_.take_all(ctx);
  if (!marked) ready_.drain(ctx, [&](index_t) { marked = true; });
  const index_t lo = ctx.lo, hi = ctx.hi;
  const unsigned s = ctx.shard;
  if (!marked || lo == hi || sample_[lo] == ~std::uint64_t{0}) return;
  for (bool progress = true; progress;) {
    progress = false;
    if (ups_[lo] < rounds_ && ups_[lo] == downs_[lo] && parents_ready(lo, s, ups_[lo])) {
      if (rows_)
        up_rows(ctx);
      else
        for (index_t i = lo; i < hi; ++i) up(i, ctx);
      progress = true;
    }
    if (downs_[lo] < rounds_ && ups_[lo] == downs_[lo] + 1 &&
        (is_output() ? nudge_ready(lo, s, downs_[lo]) : children_ready(lo, s, downs_[lo]))) {
      if (rows_)
        down_rows(ctx);
      else
        for (index_t i = lo; i < hi; ++i) is_output() ? nudge(i, ctx) : down(i, ctx);
      progress = true;
    }
    if (downs_[lo] == rounds_ && !learned_[lo] && parents_ready(lo, s, rounds_)) {
      if (rows_)
        learn_rows(ctx);
      else
        for (index_t i = lo; i < hi; ++i) learn(i, ctx);
      progress = true;
    }
  }
}

// up() for the shard's rows: a = b + sum over in-links (link order) of W x, dense
// rows through dot_rows (each row's result is dot's, bit for bit); then the forward
// pass (round 0) or the closed-form update with the previous round's W^T Delta.
template <class Real>
void dyad_population<Real>::up_rows(shard_context& ctx) {
  const index_t lo = ctx.lo, hi = ctx.hi;
  const unsigned s = ctx.shard;
  const std::uint32_t r = ups_[lo];
  Real* a = a_.data();
  if (r == 0 || !static_a_) {
    std::copy(b_.begin() + lo, b_.begin() + hi, a_.begin() + lo);
    for (auto& in : in_) {
      const auto& syn = *in.link().syn;
      if (in.direct()) {
        constexpr index_t block = 16;
        Real u[block];
        const Real* x = in.pre_values(lo, s);
        for (index_t i0 = lo; i0 < hi; i0 += block) {
          const index_t m = std::min(block, hi - i0);
          kernels::dot_rows(syn.w.data() + syn.row_begin(i0), syn.n_pre, x, syn.n_pre, m, u);
          for (index_t q = 0; q < m; ++q) a[i0 + q] += u[q];
        }
      } else {
        for (index_t i = lo; i < hi; ++i) a[i] += in.potential(i, in.pre_values(i, s));
      }
      ctx.stats.synaptic_ops += syn.row_end(hi - 1) - syn.row_begin(lo);
    }
  }
  ctx.stats.reactions += hi - lo;
  for (index_t i = lo; i < hi; ++i) ++ups_[i];
  const activation_kind f = spec_->activation;
  Real* sp = sp_.data();
  Real* sm = sm_.data();
  if (r == 0)
    dyad::forward_rows<Real>(f, a + lo, sp + lo, sm + lo, hi - lo);   // the forward pass (U1)
  else
    dyad::hidden_update_rows<Real>(*dp_, f, a + lo, g_.data() + lo, damping(lo, s), sp + lo, sm + lo, hi - lo);
  check_rows(lo, hi);
  send_up_rows(r, ctx);
}

// down() for the shard's rows, with this round's W^T Delta of the children.
template <class Real>
void dyad_population<Real>::down_rows(shard_context& ctx) {
  const index_t lo = ctx.lo, hi = ctx.hi;
  const std::uint32_t r = downs_[lo];
  const activation_kind f = spec_->activation;
  const Real L = damping(lo, ctx.shard);
  const Real* a = a_.data();
  const Real* g = g_.data();
  Real* sp = sp_.data();
  Real* sm = sm_.data();
  dyad::hidden_update_rows<Real>(*dp_, f, a + lo, g + lo, L, sp + lo, sm + lo, hi - lo);
  check_rows(lo, hi);
  ctx.stats.reactions += hi - lo;
  for (index_t i = lo; i < hi; ++i) ++downs_[i];
  if (w_.error_out != ~out_t{0}) {   // Delta = s+ - s- of round r to the parents
    double* v = down_frames_.run(ctx, lo, tag(lo, r), hi - lo);
    for (index_t i = lo; i < hi; ++i) v[i - lo] = double(sp[i] - sm[i]);
  }
  if (downs_[lo] == rounds_) send_up_rows(rounds_, ctx);   // done: the final s_bar
}

// s_bar of `round` of the shard's rows to the children, one frame.
template <class Real>
void dyad_population<Real>::send_up_rows(std::uint32_t round, shard_context& ctx) {
  const index_t lo = ctx.lo, hi = ctx.hi;
  const Real al = static_cast<Real>(dyad::hidden_alpha(*dp_));
  const Real* sp = sp_.data();
  const Real* sm = sm_.data();
  double* v = up_frames_.run(ctx, lo, tag(lo, round), hi - lo);
  for (index_t i = lo; i < hi; ++i) v[i - lo] = double(al * sp[i] + (Real(1) - al) * sm[i]);
}

// learn() for the shard's rows; their timers share one entry.
template <class Real>
void dyad_population<Real>::learn_rows(shard_context& ctx) {
  const index_t lo = ctx.lo, hi = ctx.hi;
  if (learning_->batch > 1) {
    for (index_t i = lo; i < hi; ++i) learn(i, ctx);
    return;
  }
  std::fill(learned_.begin() + lo, learned_.begin() + hi, char(1));
  for (index_t i = lo; i < hi; ++i) grad_b_[i] += sp_[i] - sm_[i];
  for (index_t i = lo; i < hi; ++i) ++accumulated_[i];
  // Batch 1: every sample ends a batch (learn()'s test with batch 1).
  timers_.arm_rows(ctx, w_.timer_out, lo, hi, tag(lo, rounds_));
}

// apply() for the dyads whose timers fired together, link by link: each dyad still
// writes only its own rows and bias, with apply()'s arithmetic, and the per-link
// constants are looked up once. Not batch 1 after all (some dyad accumulated more
// than one sample): apply() dyad by dyad.
template <class Real>
void dyad_population<Real>::apply_rows(const std::vector<index_t>& rows, unsigned shard) {
  for (index_t i : rows)
    if (accumulated_[i] > 1 || learning_->batch > 1) {
      for (index_t r : rows) apply(r, shard);
      return;
    }
  const Real scale = static_cast<Real>(-1.0 / (dp_->beta * 1.0));
  for (std::size_t k = 0; k < in_.size(); ++k) {
    auto& syn = *w_.in[k]->syn;
    Real* w = syn.w.data();
    Real* scratch = scratch_[shard].data();
    for (index_t i : rows) {
      if (accumulated_[i] == 0) continue;
      const auto rb = syn.row_begin(i);
      dyad::step_row(opt_[k], i, rb, syn.row_end(i) - rb, w + rb, sp_[i] - sm_[i], in_[k].pre_values(i, shard),
                     scratch, scale);
    }
  }
  // Plain SGD keeps no per-row state: a run of consecutive biases takes one step call
  // (the same arithmetic per bias).
  const index_t first = rows.empty() ? 0 : rows.front();
  const bool run = bias_opt_.spec().stateless() && !rows.empty() && rows.back() - first + 1 == rows.size() &&
                   std::all_of(rows.begin(), rows.end(), [&](index_t i) { return accumulated_[i] == 1; });
  if (spec_->bias && run) bias_opt_.step(first, first, rows.size(), &b_[first], &grad_b_[first], scale);
  for (index_t i : rows) {
    if (accumulated_[i] == 0) continue;
    if (spec_->bias && !run) bias_opt_.step(i, i, 1, &b_[i], &grad_b_[i], scale);
    grad_b_[i] = 0;
    accumulated_[i] = 0;
  }
}

// check() of s+ and s- for rows [lo, hi): one pass that vectorizes; the dyad-by-dyad
// checks (and their error) only when a value is out of bounds.
template <class Real>
void dyad_population<Real>::check_rows(index_t lo, index_t hi) const {
  // |v| <= max_state in Real: the largest Real not above the bound decides the same.
  const double bound = dp_->max_state;
  Real rb = static_cast<Real>(bound);
  if (double(rb) > bound) rb = std::nextafter(rb, Real(0));
  const Real* sp = sp_.data();
  const Real* sm = sm_.data();
  unsigned bad = 0;
  for (index_t i = lo; i < hi; ++i) bad |= unsigned(!(std::abs(sp[i]) <= rb)) | unsigned(!(std::abs(sm[i]) <= rb));
  if (!bad && std::isfinite(rb)) return;   // NaN fails the comparisons
  for (index_t i = lo; i < hi; ++i) {
    check(i, sp_[i], "s+");
    check(i, sm_[i], "s-");
  }
}

#define PHASELESS_DP_ROWS(Real)                                                        \
  template void dyad_population<Real>::react_shard(shard_context&);                    \
  template void dyad_population<Real>::up_rows(shard_context&);                        \
  template void dyad_population<Real>::down_rows(shard_context&);                      \
  template void dyad_population<Real>::learn_rows(shard_context&);                     \
  template void dyad_population<Real>::send_up_rows(std::uint32_t, shard_context&);    \
  template void dyad_population<Real>::check_rows(index_t, index_t) const;             \
  template void dyad_population<Real>::apply_rows(const std::vector<index_t>&, unsigned);
PHASELESS_DP_ROWS(float)
PHASELESS_DP_ROWS(double)
#undef PHASELESS_DP_ROWS

}  // namespace phaseless::rules
