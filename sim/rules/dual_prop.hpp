#pragma once
// Dual propagation (Hoier, Staudt, Zach ICML 2023), DP-top (Hoier & Zach ICML
// 2024) and damped DP as neuron behaviour: two-compartment dyads (spec dp-fa.md
// §1-§3, §2.6). A dyad holds s+ and s-, sends its weighted mean
// s_bar = alpha s+ + (1 - alpha) s- upward (activity_out) and its difference
// Delta = s+ - s- downward (error_out; its parents receive W^T Delta, pushed through
// error_input exactly like Z-IL's errors). There is one inference phase: no second,
// "nudged" phase and no global signal.
//
// Per sample, R = rounds sweeps, each message tagged make_tag(sample, r):
//   up r     all parents' s_bar of round r arrived (the input's clamp counts for
//            every round) and the dyad's own down r-1 is done ->
//            a = b + sum_p W_p[i] . s_bar_p;  fb = the W^T Delta of round r-1 (0 at r = 0);
//            closed-form update (r = 0: s+ = s- = f(a), the forward pass, U1);
//            hidden: send s_bar (tag r).  Output: send a (lateral, softmax CE only).
//   nudge r  output only, the target (and for CE every sibling's a) arrived ->
//            closed-form output nudge (§2.2, §3.1); send Delta_L (tag r).
//   down r   hidden, every child's Delta of round r arrived (g = sum_c W_c^T Delta_c,
//            pushed at delivery) -> closed-form update with the a of up r; send Delta
//            (tag r). After down R-1 the dyad is done and sends its final s_bar (tag R).
//   learn    the dyad finished its last compartment update and holds its parents'
//            final s_bar (tag R): G += Delta_i s_bar_pre (local, §2.4); at batch ends a
//            timer applies W <- optimizer(W, -(1/beta) G / n) (R1: local trigger).
// R = 1 is the 2023 schedule (numiter = 1: forward, nudge, one top-down sweep); the
// 2024 MLP schedule (train_DP.jl, n_rounds = 5: 5 x {down, up} plus a final down)
// is R = 6 here: in an up sweep the first hidden layer (input parents only)
// recomputes the value its down step just produced, so the two schedules agree.
// Damped DP uses the same sweeps (rounds 16 for train_DP.jl's 15); there the first
// layer's repeated update in an up sweep is one more damping step, not a no-op:
// how infer_z_DDP! orders its layer updates is UNCONFIRMED (spec §2.6 gives only
// the update and the round count), so this follows the DP schedule above.
// Round 0 is the plain forward pass for every variant (s+ = s- = f(a), the
// authors' forward initialisation), damped included.
//
// eager mode (DESIGN R4): the same steps in the same order. Round 0's up step (the
// forward pass) and nudge wait for the whole forward pass, as in dataflow; every
// later step fires as soon as one message it waits for has arrived (a parent's s_bar
// of round >= r, a child's Delta of round >= r, a sibling's a of round >= r), reading
// the newest values held.
// So that "newest" means the newest of *every* child and not only of those heard in
// the current round, a dyad sends its Delta as the change since its last Delta of
// the sample: g then always holds sum_c W_c^T Delta_c(newest), and is reset only when
// a sample starts. With equal delays each step's messages arrive in one tick and
// eager reproduces dataflow (bitwise for rounds = 1: one Delta per sample).
#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

#include "sim/core/network_spec.hpp"
#include "sim/neurons/frame_sender.hpp"
#include "sim/neurons/learning_population.hpp"
#include "sim/neurons/output_inbox.hpp"
#include "sim/neurons/population_parts.hpp"
#include "sim/neurons/sigma_delta.hpp"
#include "sim/neurons/synaptic_input.hpp"
#include "sim/rules/optimizer.hpp"

namespace phaseless::rules {

using namespace phaseless::neurons;

// The closed forms both engines share (event dyads and the synchronous form), so
// equal inputs give equal bits.
namespace dyad {

using dp_params = learning_spec::dp_params;
using variant_kind = dp_params::variant_kind;

inline optimizer_spec to_optimizer(const learning_spec& l) {
  optimizer_spec o;
  if (!l.optimizer.set) {
    o.lr = l.lr;
    return o;
  }
  return to_optimizer_spec(l.optimizer);
}

// alpha of a hidden dyad: "old style" DP (train_DP.jl mode 1) keeps 1/2 in the
// hidden layers and uses alpha at the output only (spec §8 item 2).
inline double hidden_alpha(const dp_params& p) { return p.symmetric_hidden ? 0.5 : p.alpha; }

struct state {
  double plus, minus;
};

// Hidden dyad (§2.2, §3.1 table, §2.6). fb = W^T Delta of the children.
//   DP:     s+ = f(a + alpha fb),      s- = f(a - (1 - alpha) fb)
//   DP-top: s+ = f(a + (1 - alpha) fb), s- = f(a - alpha fb)
//   damped: s+ = f((a + L s+ + alpha fb) / (1 + L)), s- = f((a + L s- - (1 - alpha) fb) / (1 + L))
template <class Real>
inline void hidden_update(const dp_params& p, activation_kind f, Real a, Real fb, Real damping, Real& sp, Real& sm) {
  const Real al = static_cast<Real>(hidden_alpha(p));
  const Real one = 1;
  switch (p.variant) {
    case variant_kind::dp:
      sp = activate<Real>(f, a + al * fb);
      sm = activate<Real>(f, a - (one - al) * fb);
      return;
    case variant_kind::dp_top:
      sp = activate<Real>(f, a + (one - al) * fb);
      sm = activate<Real>(f, a - al * fb);
      return;
    case variant_kind::damped: {
      const Real L = damping;
      const Real np = (a + L * sp + al * fb) / (one + L);
      const Real nm = (a + L * sm - (one - al) * fb) / (one + L);
      sp = activate<Real>(f, np);
      sm = activate<Real>(f, nm);
      return;
    }
  }
}

// hidden_update for n dyads, and the forward pass f(a) (round 0), with the activation
// a constant of each loop: the same closed form per dyad, so the same values (the
// forward loop vectorizes for ReLU and identity). Both engines step their rows through these.
template <class Real>
inline void hidden_update_rows(const dp_params& p, activation_kind f, const Real* a, const Real* fb, Real damping,
                               Real* sp, Real* sm, std::size_t n) {
  // The loop does not vectorize (hidden_update branches on p's variant per dyad); it
  // saves the activation switch per dyad.
  with_activation(f, [&](auto F) {
    for (std::size_t k = 0; k < n; ++k) hidden_update<Real>(p, F, a[k], fb[k], damping, sp[k], sm[k]);
  });
}
template <class Real>
inline void forward_rows(activation_kind f, const Real* a, Real* sp, Real* sm, std::size_t n) {
  with_activation(f, [&](auto F) {
    for (std::size_t k = 0; k < n; ++k) sp[k] = sm[k] = activate<Real>(F, a[k]);
  });
}

// Output dyad (linear). g_lin: dloss/da at the evaluation point (softmax - onehot for
// CE, a - y for MSE). y: the MSE target (unused for CE).
//   DP / damped, MSE (exact closed form, train_DP.jl infer_outputs!):
//     s+ = (a + alpha beta y) / (1 + alpha beta),  s- = (a - (1-alpha) beta y) / (1 - (1-alpha) beta)
//   DP / damped, CE (linearised, cnn_dualprop_RAOVR_ff.infer_outputs):
//     s+ = a - alpha beta g,  s- = a + (1 - alpha) beta g
//   DP-top (linearised; only Delta = -beta g matters downstream, §3.1):
//     Julia (g at the current a):          s+ = a - alpha beta g,       s- = a + (1 - alpha) beta g
//     JAX (g at the round-0 prediction):   s+ = a - (1 - alpha) beta g, s- = a + alpha beta g
template <class Real>
inline void output_nudge(const dp_params& p, bool mse, Real a, Real y, Real g_lin, Real& sp, Real& sm) {
  const Real al = static_cast<Real>(p.alpha), be = static_cast<Real>(p.beta), one = 1;
  if (p.variant != variant_kind::dp_top && mse) {
    sp = (a + al * be * y) / (one + al * be);
    sm = (a - (one - al) * be * y) / (one - (one - al) * be);
    return;
  }
  if (p.variant == variant_kind::dp_top && p.output_error_at_forward) {
    sp = a - (one - al) * be * g_lin;
    sm = a + al * be * g_lin;
    return;
  }
  sp = a - al * be * g_lin;
  sm = a + (one - al) * be * g_lin;
}

// One batch-1 step of a dyad's row of W: gradient row Delta * s_bar_pre, scaled by
// `scale`, through the rule's optimizer. Plain SGD runs in one pass with the arithmetic
// of batch1_gradient_row followed by optimizer::step (g = 0 + e x, d = scale g + wd w,
// w -= lr d, element by element), so both engines, which both call this, keep the
// values of the two-pass form; other optimizers take the two passes.
template <class Real>
inline void step_row(optimizer<Real>& opt, std::size_t row, std::size_t offset, std::size_t n, Real* w, Real e,
                     const Real* x, Real* scratch, Real scale) {
  if (!opt.spec().stateless()) {
    opt.step(row, offset, n, w, batch1_gradient_row(opt, e, x, scratch, n), scale);
    return;
  }
  if (e == Real(0)) return;   // every term of the step is a signed zero (batch1_gradient_row)
  const Real lr = static_cast<Real>(opt.spec().lr), wd = static_cast<Real>(opt.spec().weight_decay);
  for (std::size_t k = 0; k < n; ++k) {
    const Real g = Real(0) + e * x[k];
    const Real d = scale * g + wd * w[k];
    w[k] -= lr * d;
  }
}

// |W|_2 by power iteration from the all-ones direction (deterministic; the authors'
// start vector is random, UNCONFIRMED which), `iters` iterations as in train_DP.jl (3).
template <class Real>
inline double spectral_norm(const synapse_matrix<Real>& W, unsigned iters) {
  std::vector<double> v(W.n_pre, 1.0 / std::sqrt(double(std::max<index_t>(W.n_pre, 1)))), u(W.n_post);
  auto mul = [&] {
    for (index_t i = 0; i < W.n_post; ++i) {
      double s = 0;
      for (auto k = W.row_begin(i); k < W.row_end(i); ++k) s += double(W.w[k]) * v[W.pre_of(k)];
      u[i] = s;
    }
  };
  for (unsigned it = 0; it < iters; ++it) {
    mul();
    std::fill(v.begin(), v.end(), 0.0);
    for (index_t i = 0; i < W.n_post; ++i)
      for (auto k = W.row_begin(i); k < W.row_end(i); ++k) v[W.pre_of(k)] += double(W.w[k]) * u[i];
    double n = 0;
    for (double x : v) n += x * x;
    n = std::sqrt(n);
    if (n == 0) return 0;
    for (double& x : v) x /= n;
  }
  mul();
  double n = 0;
  for (double x : u) n += x * x;
  return std::sqrt(n);
}

// Damping constant of a hidden layer from the spectral norms of its out-projections
// (train_DP.jl infer_z_DDP!): L = max(0, (|W|_2^2 - 1) / 2) |1 - 2 alpha| (U6). With
// several out-projections the largest norm is used (an extension: the code has one).
// The JAX class cnn_dualprop_RAOVR_dampened_ff drops the |1 - 2 alpha| factor (and
// runs 50 power iterations); the Julia MLP form is the one replicated here (§6.2 T8).
inline double damping(double sigma, double alpha) {
  return std::max(0.0, (sigma * sigma - 1) / 2) * std::abs(1 - 2 * alpha);
}

// Ticks from a presentation to the last local action of a sample (rounds x the
// per-round latency, from the delays), for the registry.
tick_t critical_path(const network_spec& spec);

}  // namespace dyad

template <class Real>
class dyad_population final : public learning_population<Real> {
 public:
  explicit dyad_population(const population_wiring<Real>& w);
  void deliver(std::uint32_t local_port, std::span<const event> events, shard_context& ctx) override;
  void react(shard_context& ctx) override;

  std::vector<Real>& bias() override { return b_; }
  double take_loss() override;
  // Activity reports (SONATA elements): 0 = s+, 1 = s-, 2 = Delta, 3 = s_bar.
  std::vector<std::string> elements() const override { return {"s_plus", "s_minus", "delta", "s_bar"}; }
  Real element(index_t i, unsigned k) const override;

 private:
  bool is_output() const { return spec_->role == role_kind::output; }
  void start_sample(index_t lo, index_t hi, std::uint64_t sample);
  void process(index_t i, shard_context& ctx);
  void react_shard(shard_context& ctx);
  // A hidden shard's dyads stepped together (dual_prop_rows.cpp; shared_, no sigma-delta).
  void up_rows(shard_context& ctx);
  void down_rows(shard_context& ctx);
  void learn_rows(shard_context& ctx);
  void send_up_rows(std::uint32_t round, shard_context& ctx);
  void check_rows(index_t lo, index_t hi) const;
  void apply_rows(const std::vector<index_t>& rows, unsigned shard);
  void send_up(index_t i, std::uint32_t round, shard_context& ctx);
  bool parents_ready(index_t i, unsigned shard, std::uint32_t round) const;
  bool children_ready(index_t i, unsigned shard, std::uint32_t round) const;
  bool nudge_ready(index_t i, unsigned shard, std::uint32_t round) const;
  void send_delta(index_t i, std::uint32_t round, shard_context& ctx);
  void up(index_t i, shard_context& ctx);
  void nudge(index_t i, shard_context& ctx);
  void down(index_t i, shard_context& ctx);
  void learn(index_t i, shard_context& ctx);
  void apply(index_t i, unsigned shard);
  void check(index_t i, Real v, const char* what) const;
  Real damping(index_t i, unsigned shard);
  tag_t tag(index_t i, std::uint32_t round) const { return make_tag(sample_[i], round); }

  population_wiring<Real> w_;
  const population_spec* spec_;
  const learning_spec* learning_;
  const learning_spec::dp_params* dp_;
  std::uint32_t rounds_;
  bool static_a_;   // every parent is the clamped input: a does not change within a sample
  bool eager_;
  bool shared_;   // dataflow, every gate counted per shard: the shard's dyads step together
  bool rows_;     // shared_, hidden, no sigma-delta: each step runs over the shard's rows at once
  sigma_delta sd_;   // execution.threshold > 0: sends only what changed by more (sigma_delta.hpp)
  frame_sender up_frames_, down_frames_;   // dataflow: a shard's s_bar and Delta of one tick as frames
  std::vector<forward_input<Real>> in_;
  std::vector<error_input<Real>> back_;
  std::vector<optimizer<Real>> opt_;   // per in-link
  optimizer<Real> bias_opt_;
  std::vector<std::vector<Real>> grad_;   // per in-link, batch > 1
  std::vector<Real> b_, grad_b_;
  // Per neuron, the current sample.
  std::vector<std::uint64_t> sample_;
  std::vector<std::uint32_t> ups_, downs_;   // compartment updates done this sample
  std::vector<char> learned_;
  std::vector<Real> a_, sp_, sm_, g_, g0_;
  std::vector<tag_t> g_tag_;
  std::vector<std::uint32_t> accumulated_;
  std::vector<double> loss_;
  std::vector<tag_t> seen_fwd_, seen_err_;   // eager: the newest tag heard, per dyad
  std::vector<Real> sent_delta_;             // eager: the Delta the last error message brought to
  std::vector<std::uint32_t> ff_in_, ff_expected_;   // eager: forward-pass (round 0) messages in / due

  // Per shard.
  std::vector<std::uint64_t> shard_sample_;
  std::vector<tag_t> shard_g_tag_;
  ready_set ready_;
  timer_queue timers_;
  std::vector<Real> damping_;                  // per shard: L of this layer (damped DP)
  std::vector<std::uint64_t> damping_sample_;  // per shard: the sample it was computed for
  std::vector<std::vector<Real>> scratch_;     // per shard: one gradient row (batch 1)
  std::vector<tag_t> seen_lat_;                // per shard, eager: the newest sibling a heard
  // Output only.
  output_inbox<Real> out_;
};

}  // namespace phaseless::rules
