#pragma once
// Z-IL (Song et al. 2020; Salvatori et al. AAAI 2022; spec pc-family.md §3) as
// neuron behaviour. Each neuron holds a value node x and an error node
// eps = x - mu. With feed-forward initialization (C1) and inference rate gamma = 1
// (C3), its error equals backprop's delta at the moment the error of every child
// has arrived, and that is when it updates its own in-synapses (C2, made local:
// no schedule, no "learn now" broadcast). Because a neuron waits for all of its
// children, any DAG is exact without identity vertices, whatever the delays.
//
// Per sample, for a hidden neuron i:
//   forward   all parents' activity arrived -> mu = b + sum_p W_p[i] . x_p;  x = mu;
//             send f(x) to children
//   backward  all children's errors arrived -> g = sum_c W_c[:, i] eps_c (pushed at
//             delivery);  x += gamma (-(x - mu) + f'(x) g)  =>  eps = gamma f'(mu) g;
//             send eps to parents; G += eps * x_pre (Hebbian, local)
//   timer     after its own errors have been read: W += (lr / n) G at batch ends
//             (a timer is local to its neuron; one event per shard and tick carries
//             the timers its neurons set in that tick)
// Eager mode: a neuron recomputes mu on every arrival and sends each partial f(mu)
// that differs from its last message by more than the threshold as a refinement
// (repeat >= 1); once every parent's settled message (repeat 0) is in, it computes
// its settled mu and sends it with repeat 0, which is what receivers' gates count.
// The backward step waits for the settled mu: the error is computed once and never
// corrected, so a partial prediction (half this sample, half the previous one) would
// teach every weight the wrong sample.
// The output neuron's error is -dL/dmu: y - softmax(mu) (softmax from lateral
// messages of its siblings) or (t - f(mu)) f'(mu) for squared loss.
//
// Computational graphs (spec §3.3): a product vertex (mu = prod_k u_k, u_k = W_k x_k)
// sends each parent eps times the other factors, its VJP; synapses with shared
// weights (conv kernels, unrolled RNNs) do not write their copy but add eps * x_pre to
// their tie group, which steps once the error wave is over (tie_population.hpp).
#include <memory>
#include <vector>

#include "sim/neurons/learning_population.hpp"
#include "sim/neurons/output_inbox.hpp"
#include "sim/neurons/population_parts.hpp"
#include "sim/neurons/synaptic_input.hpp"
#include "sim/rules/optimizer.hpp"

namespace phaseless::rules {

using namespace phaseless::neurons;

template <class Real>
class zil_population final : public learning_population<Real> {
 public:
  explicit zil_population(const population_wiring<Real>& w);
  void deliver(std::uint32_t local_port, std::span<const event> events, shard_context& ctx) override;
  void react(shard_context& ctx) override;

  std::vector<Real>& bias() override { return b_; }
  // Loss summed over samples (and output neurons) since the last call; output only.
  double take_loss() override;
  // Activity reports: value node x (element 0) and error node eps (element 1).
  std::vector<std::string> elements() const override { return {"x", "eps"}; }
  Real element(index_t i, unsigned k) const override { return k == 0 ? mu_[i] + eps_[i] : eps_[i]; }

 private:
  bool is_output() const { return spec_->role == role_kind::output; }
  void begin(index_t lo, index_t hi, tag_t tag);
  void process(index_t i, shard_context& ctx);
  void process_ready(index_t i, shard_context& ctx, bool fwd_ready, bool bwd_ready);
  bool forward_ready(index_t i, unsigned shard, tag_t tag) const;
  bool backward_ready(index_t i, unsigned shard, tag_t tag) const;
  void forward(index_t i, shard_context& ctx, bool settled);
  void backward(index_t i, shard_context& ctx);
  Real output_error(index_t i, unsigned shard);
  void learn(index_t i, Real eps, shard_context& ctx);
  void learned(index_t lo, index_t hi, tag_t tag, shard_context& ctx);
  void apply(index_t i, unsigned shard);
  void apply_rows(const std::vector<index_t>& rows, unsigned shard);
  bool plain_batch1_ = false;            // batch 1, plain SGD, no decay, sum vertex: apply_rows
  bool collects_ = true;                 // some in-link accumulates eps * x_pre at learn()
  void apply_optimizer(index_t i, unsigned shard);   // learning.optimizer set (SGD+momentum/decay, Adam)
  bool product() const { return spec_->combine == combine_kind::product; }
  Real link_error(std::size_t k, index_t i) const;   // the error in-link k carries back and learns from
  bool own_update(std::size_t k) const { return w_.in[k]->plastic && !w_.in[k]->tie_grad; }

  population_wiring<Real> w_;
  const population_spec* spec_;
  const learning_spec* learning_;
  bool shared_gates_ = false;   // dataflow, every gate counted per shard: readiness is per shard
  // The activity and errors a shard's neurons send in one tick, gathered into frames
  // of consecutive neurons (shared_gates_ only).
  per_shard<char> framing_;
  per_shard<frame_buffer> act_frames_, err_frames_;
  void send_activity(index_t i, double y, shard_context& ctx, std::uint32_t repeat);
  void send_error(index_t i, double eps, shard_context& ctx);
  void flush_frames(shard_context& ctx);
  // The shard's rows stepped together (zil_rows.cpp): a hidden sum vertex whose gates
  // all count per shard, so every row of the shard is ready at once.
  bool rows_ = false;
  void react_rows(shard_context& ctx, bool fwd_ready, bool bwd_ready);
  void forward_rows(index_t a, index_t b, shard_context& ctx);
  void backward_rows(index_t a, index_t b, shard_context& ctx);
  void collect_rows(index_t a, index_t b, unsigned shard);
  [[noreturn]] void diverged(index_t i, const char* what, Real v) const;
  std::vector<forward_input<Real>> in_;
  std::vector<error_input<Real>> back_;
  std::vector<std::vector<Real>> grad_;   // per in-link, same layout as its synapse_matrix (batch > 1)
  std::vector<Real> b_, grad_b_;
  // Per neuron state of the current step.
  std::vector<tag_t> tag_;
  std::vector<Real> mu_, eps_, g_, last_sent_;
  std::vector<std::vector<Real>> u_;      // product vertex: per in-link, W x_pre of each neuron
  std::vector<char> fwd_done_, bwd_done_, fwd_news_;
  std::vector<std::uint32_t> sent_, accumulated_;   // sent_: eager refinements of the step
  std::vector<double> loss_;
  // Per shard.
  per_shard<tag_t> shard_tag_;
  per_shard<std::pair<std::uint32_t, tag_t>> done_;   // neurons whose tie contributions are in, this tick
  ready_set ready_;
  timer_queue timers_;
  // Output only: target and lateral (softmax) inputs, per shard.
  output_inbox<Real> out_;
  std::vector<optimizer<Real>> opt_;   // per in-link, when learning.optimizer is set
  optimizer<Real> bias_opt_;
  std::vector<Real> opt_row_;          // one gradient row (batch 1)
};

}  // namespace phaseless::rules
