#pragma once
// Inference learning (IL, "Algorithm A") and IL-prox ("Algorithm B", with its Fast
// and Adam variants) of Alonso et al., NeurIPS 2022 (spec pc-family.md §2.3-§2.5)
// as neuron behaviour. Relaxation is a conversation between neighbours: values go
// up as predictions, errors go down, and each step t of sample s is the tag
// make_tag(s, t). No global "inference is over" signal exists: a neuron updates its
// in-synapses when it has finished its own T-th step and holds its parents' final
// values (DESIGN §2, rule table).
//
// Per sample, for a hidden neuron i (value node x, prediction mu, error eps = x - mu):
//   step 0      all parents' activity tagged 0 arrived -> a = b + W_i . s_pre;
//               mu = f(a) (IL, value node after the activation) or a (IL-prox, value
//               node before it, §2.2); x = mu (feed-forward init, eps = 0); send up s(x)
//               = x (IL) or f(x) (IL-prox), tagged 0; send eps' down, tagged 0
//   step t < T  all children's errors tagged t arrived (pushed through W^T into g) ->
//               x += -gamma_top eps + gamma_bot fb - gamma_dec x, fb = g (IL) or
//               g f'(x) (IL-prox); send s(x) up tagged t+1
//   t+1         all parents' activity tagged t+1 arrived -> mu, eps from the new
//               values; send eps' down tagged t+1 (unless t+1 = T)
//   T           learn: gradient of the local loss from eps and the parents' final
//               values; applied through the timer at batch ends (errors in flight
//               read row i of W)
// eps' is what the children send down: eps f'(a) for IL (the parent multiplies by
// W^T), eps for IL-prox (the parent multiplies by its own ReLU'(x)).
//
// The output neuron (logits a = mu) holds the target x_L: IL x_L = n y + (1-n) p,
// IL-prox x_L = p/(1+alpha nu) + (alpha nu/(1+alpha nu)) y with p = softmax(mu) from
// lateral messages (or f(mu) for MSE) and nu = ||s_{L-1}||^2 (+1 bias) + eps_n from
// the activity it receives; refreshed at every step from the previous step's p
// (§2.8). Its error is 1/2 (x_L - p) for IL softmax-CE (the code's 1/2), x_L - p
// otherwise.
//
// eager mode (R4): the feed-forward initialization (step 0) waits for the whole
// feed-forward input, as in dataflow; then the relaxation runs asynchronously: a
// neuron takes step t >= 1 as soon as any message of the current sample with
// iteration >= t has arrived on the inputs the step needs, using the newest values
// it holds. Values are stored as they come; errors travel as the
// change since the sender's previous error of the sample and g is reset only when a
// sample starts, so g is always the sum of every child's newest error. (Summing the
// errors that arrived since the last step, as dataflow may, would count a fast
// child twice and a slow one not at all: IL-prox diverged on Fashion-MNIST so.)
#include <vector>

#include "sim/neurons/frame_sender.hpp"
#include "sim/neurons/learning_population.hpp"
#include "sim/neurons/output_inbox.hpp"
#include "sim/neurons/population_parts.hpp"
#include "sim/neurons/sigma_delta.hpp"
#include "sim/neurons/synaptic_input.hpp"
#include "sim/rules/optimizer.hpp"

namespace phaseless::rules {

using namespace phaseless::neurons;

// Ticks from a presentation to the last local action of the sample: T relaxation
// round trips on the slowest delays after the feed-forward wave, plus the timer.
tick_t il_critical_path(const network_spec& spec);

// The optimizer a variant uses for its weight and bias steps (shared with the
// synchronous form): IL: SGD or Adam at rate lr; IL-prox: the normalized step
// (SGD at rate 1 on G/nu) or the model's optimizer fed G/nu (IL-prox Adam).
optimizer_spec il_optimizer(const learning_spec& L);

template <class Real>
class il_population final : public learning_population<Real> {
 public:
  explicit il_population(const population_wiring<Real>& w);
  void deliver(std::uint32_t local_port, std::span<const event> events, shard_context& ctx) override;
  void react(shard_context& ctx) override;

  std::vector<Real>& bias() override { return b_; }
  double take_loss() override;
  double take_energy() override;
  // Activity reports: value node x (element 0) and error node eps = x - mu (element 1).
  std::vector<std::string> elements() const override { return {"x", "eps"}; }
  Real element(index_t i, unsigned k) const override { return k == 0 ? x_[i] : eps_[i]; }

 private:
  bool is_output() const { return spec_->role == role_kind::output; }
  bool prox() const { return prox_; }   // asked per neuron and step: decided once
  void start(index_t lo, index_t hi, std::uint64_t sample);
  void process(index_t i, shard_context& ctx);
  void react_shard(shard_context& ctx);
  bool forward_ready(index_t i, unsigned shard, std::uint32_t t) const;
  bool backward_ready(index_t i, unsigned shard, std::uint32_t t) const;
  bool lateral_ready(index_t i, unsigned shard, std::uint32_t t) const;
  void forward(index_t i, shard_context& ctx);
  void forward_rows(index_t lo, index_t hi, shard_context& ctx);   // il_rows.cpp
  void settle_output(index_t i, shard_context& ctx);
  void relax(index_t i, shard_context& ctx);
  void relax_rows(index_t lo, index_t hi, shard_context& ctx);     // il_rows.cpp
  void learn(index_t i, Real delta, shard_context& ctx);
  void send_down(index_t i, tag_t tag, Real down, shard_context& ctx);
  void heard_forward(index_t i, tag_t tag);
  void send_up(index_t i, tag_t tag, Real value, shard_context& ctx);
  void apply(index_t i, unsigned shard);
  Real target_of(index_t i, unsigned shard) const;
  [[noreturn]] void diverged(index_t i, const char* what, double v) const;

  population_wiring<Real> w_;
  const population_spec* spec_;
  const learning_spec* learning_;
  std::uint32_t T_;
  bool prox_;
  bool frames_;   // dataflow: a shard's activity and errors of one tick travel as frames
  bool shared_;   // dataflow, every gate counted per shard: the shard's neurons step together
  bool batch1_;   // dataflow at batch 1: the update is applied from delta and x_pre, no gradient buffer
  frame_sender up_frames_, down_frames_;
  sigma_delta sd_;   // execution.threshold > 0: sends only what changed by more (sigma_delta.hpp)
  std::vector<forward_input<Real>> in_;
  std::vector<error_input<Real>> back_;
  std::vector<bool> in_from_input_;       // per in-link: the pre population is the clamped input
  std::vector<std::vector<Real>> grad_;   // per in-link, layout of its synapse_matrix
  std::vector<optimizer<Real>> opt_;      // per in-link
  optimizer<Real> bias_opt_;
  std::vector<Real> b_, grad_b_;
  std::vector<std::vector<Real>> row_;    // per shard: one gradient row (batch1_)
  // Per neuron.
  std::vector<std::uint64_t> sample_;     // sample + 1 of the current sample (0: none yet)
  std::vector<std::uint32_t> iter_;
  std::vector<char> fwd_done_, out_done_;
  std::vector<Real> x_, a_, mu_, eps_, g_, p_, sq_, sq_acc_, delta_;
  std::vector<std::uint32_t> accumulated_;
  std::vector<tag_t> seen_fwd_, seen_err_;   // eager: newest tag seen per neuron
  std::vector<Real> sent_down_;              // eager: the error the last message brought the parents to
  std::vector<std::uint32_t> ff_in_, ff_expected_;   // eager: feed-forward (step 0) messages in / due
  std::vector<double> loss_, energy_;
  // Per shard.
  std::vector<std::uint64_t> shard_sample_;
  ready_set ready_;
  timer_queue timers_;
  // Output only.
  output_inbox<Real> out_;
  std::vector<tag_t> seen_lat_;   // eager: the newest lateral step heard, per shard
};

}  // namespace phaseless::rules
