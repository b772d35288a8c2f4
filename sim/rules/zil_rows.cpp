// Z-IL's hidden neurons of one shard stepped together (dataflow, every gate counted
// per shard): when a shard's step completes, all of its rows are ready at once, so
// they take their forward or backward step as runs of rows over arrays instead of
// one neuron at a time. Each row does exactly what forward() and backward() do for
// it, with the same arithmetic in the same order, and sends the same messages (as
// frames of consecutive neurons); only the per-neuron control is shared.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "sim/rules/zil.hpp"

namespace phaseless::rules {

namespace {
// The first row in [a, hi) whose flag (0 or 1) equals v, or hi.
inline index_t find_flag(const char* flags, index_t a, index_t hi, char v) {
  if (a >= hi) return hi;
  const void* p = std::memchr(flags + a, v, hi - a);
  return p ? index_t(static_cast<const char*>(p) - flags) : hi;
}

// The first row of [a, b) whose value is not finite, or b (one pass that vectorizes;
// the search runs only when something diverged).
template <class Real>
index_t first_non_finite(const Real* v, index_t a, index_t b) {
  bool ok = true;
  for (index_t i = a; i < b; ++i) ok &= std::isfinite(v[i]);
  if (ok) return b;
  while (std::isfinite(v[a])) ++a;
  return a;
}
}  // namespace

template <class Real>
void zil_population<Real>::react_rows(shard_context& ctx, bool fwd_ready, bool bwd_ready) {
  // Every row of the shard holds the shard's step (dataflow opens it for all rows at
  // once), so the gates' answers hold for each of them. The flags are 0 or 1, so
  // runs are found with memchr (a shard's rows are usually one run, or none).
  if (shard_tag_[ctx.shard] == no_tag) return;
  const char* fwd = fwd_done_.data();
  const char* bwd = bwd_done_.data();
  if (fwd_ready)   // runs of rows not yet forward
    for (index_t a = find_flag(fwd, ctx.lo, ctx.hi, 0); a < ctx.hi;) {
      const index_t b = find_flag(fwd, a, ctx.hi, 1);
      forward_rows(a, b, ctx);
      a = find_flag(fwd, b, ctx.hi, 0);
    }
  if (bwd_ready)   // runs of rows forward but not yet backward
    for (index_t a = find_flag(bwd, ctx.lo, ctx.hi, 0); a < ctx.hi;) {
      if (!fwd[a]) {
        a = find_flag(bwd, find_flag(fwd, a, ctx.hi, 1), ctx.hi, 0);
        continue;
      }
      const index_t b = std::min(find_flag(bwd, a, ctx.hi, 1), find_flag(fwd, a, ctx.hi, 0));
      backward_rows(a, b, ctx);
      a = find_flag(bwd, b, ctx.hi, 0);
    }
}

// forward() for rows [a, b): mu = b + sum over in-links (link order) of W x; dense
// rows go through dot_rows, which gives each row dot's result bit for bit.
template <class Real>
void zil_population<Real>::forward_rows(index_t a, index_t b, shard_context& ctx) {
  const unsigned s = ctx.shard;
  std::copy(b_.begin() + a, b_.begin() + b, mu_.begin() + a);
  for (auto& in : in_) {
    const auto& syn = *in.link().syn;
    if (in.direct()) {
      constexpr index_t block = 16;
      Real u[block];
      const Real* x = in.pre_values(a, s);
      for (index_t i0 = a; i0 < b; i0 += block) {
        const index_t m = std::min(block, b - i0);
        kernels::dot_rows(syn.w.data() + syn.row_begin(i0), syn.n_pre, x, syn.n_pre, m, u);
        for (index_t q = 0; q < m; ++q) mu_[i0 + q] += u[q];
      }
    } else {
      for (index_t i = a; i < b; ++i) mu_[i] += in.potential(i, in.pre_values(i, s));
    }
    ctx.stats.synaptic_ops += syn.row_end(b - 1) - syn.row_begin(a);
  }
  ctx.stats.reactions += b - a;
  if (const index_t i = first_non_finite(mu_.data(), a, b); i < b) diverged(i, "prediction", mu_[i]);
  const tag_t tag = shard_tag_[s];
  double* __restrict y = act_frames_[s].run(a, tag, b - a, w_.activity_out, ctx.out);
  const Real* __restrict mu = mu_.data();
  Real* __restrict last = last_sent_.data();
  with_activation(spec_->activation, [&](auto f) {
    for (index_t i = a; i < b; ++i) {
      const Real yi = activate<Real>(f, mu[i]);   // C1: x = mu, eps = 0
      last[i] = yi;
      y[i - a] = double(yi);
    }
  });
  std::fill(fwd_done_.begin() + a, fwd_done_.begin() + b, 1);
  std::fill(sent_.begin() + a, sent_.begin() + b, 1u);
}

// backward() and learn() for rows [a, b) of a hidden neuron: eps = gamma f'(mu) g.
template <class Real>
void zil_population<Real>::backward_rows(index_t a, index_t b, shard_context& ctx) {
  const unsigned s = ctx.shard;
  const Real gamma = static_cast<Real>(learning_->gamma);
  Real* __restrict eps = eps_.data();
  const Real* __restrict mu = mu_.data();
  const Real* __restrict g = g_.data();
  with_activation(spec_->activation, [&](auto f) {
    for (index_t i = a; i < b; ++i) eps[i] = gamma * activate_prime<Real>(f, mu[i]) * g[i];
  });
  if (const index_t i = first_non_finite(eps, a, b); i < b) diverged(i, "error", eps[i]);
  ctx.stats.reactions += b - a;
  const tag_t tag = shard_tag_[s];
  if (w_.error_out != ~out_t{0}) {
    double* __restrict e = err_frames_[s].run(a, tag, b - a, w_.error_out, ctx.out);
    for (index_t i = a; i < b; ++i) e[i - a] = double(eps[i]);
  }
  if (collects_) collect_rows(a, b, s);
  Real* __restrict G = w_.bias_tie_grad ? w_.bias_tie_grad : grad_b_.data();
  std::fill(bwd_done_.begin() + a, bwd_done_.begin() + b, 1);
  for (index_t i = a; i < b; ++i) G[i] += eps[i];
  learned(a, b, tag, ctx);
}

// learn()'s G += eps x_pre for rows [a, b), link by link. Each row writes its own
// entries of G, so the order of rows and links changes nothing. A row whose eps is 0
// is skipped: its terms are signed zeros, and G + 0 = G since G is never -0 (it starts
// at +0, and a sum is -0 only when both terms are), with x_pre finite (checked as
// predictions): a ReLU layer's inactive half.
template <class Real>
void zil_population<Real>::collect_rows(index_t a, index_t b, unsigned s) {
  for (std::size_t k = 0; k < in_.size(); ++k) {
    const auto& link = *w_.in[k];
    Real* G = link.tie_grad ? link.tie_grad : learning_->batch > 1 && link.plastic ? grad_[k].data() : nullptr;
    if (!G) continue;
    const auto& syn = *link.syn;
    for (index_t i = a; i < b; ++i) {
      if (eps_[i] == Real(0)) continue;
      const auto rb = syn.row_begin(i);
      kernels::axpy(eps_[i], in_[k].pre_values(i, s), G + rb, syn.row_end(i) - rb);
    }
  }
}

#define PHASELESS_ZIL_ROWS(Real)                                                          \
  template void zil_population<Real>::react_rows(shard_context&, bool, bool);            \
  template void zil_population<Real>::forward_rows(index_t, index_t, shard_context&);    \
  template void zil_population<Real>::backward_rows(index_t, index_t, shard_context&);   \
  template void zil_population<Real>::collect_rows(index_t, index_t, unsigned);
PHASELESS_ZIL_ROWS(float)
PHASELESS_ZIL_ROWS(double)
#undef PHASELESS_ZIL_ROWS

}  // namespace phaseless::rules
