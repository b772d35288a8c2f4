#pragma once
// A network as both engines consume it: populations, projections with their
// initial weights and per-synapse delays, the learning rule's parameters. Built by
// sim/io from a model file; the event engine (sim/rules) and the synchronous
// baselines (sim/baseline) each take their own copy, so they start identical.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/activation.hpp"
#include "sim/core/channel.hpp"
#include "sim/core/errors.hpp"
#include "sim/core/synapses.hpp"

namespace phaseless::core {

enum class role_kind { input, hidden, output };
enum class loss_kind { softmax_ce, mse };
// How a population combines its in-projections into the prediction mu, with
// u_k = W_k x_pre_k the k-th in-projection's input (rows in synapse order).
enum class combine_kind {
  sum,        // mu = b + sum_k u_k (every vertex of an MLP, CNN, RNN, residual merge)
  product,    // mu = prod_k u_k, elementwise (multiplicative vertex, spec pc-family.md §3.3)
  bilinear,   // two in-projections with rows of equal length: mu_i = sum_s (w0_s a_s)(w1_s b_s),
              // a dot product of two neurons' vectors (attention scores q.k, weighted sums A v)
  softmax     // one in-projection whose row i holds neuron i's group (say n inputs):
              // mu_i = softmax(w_s x_s)_{i mod n} (attention weights over a row of scores)
};
enum class feedback_kind {
  symmetric,   // errors go back through W^T (the forward weights, read live)
  random,      // through a fixed matrix B of the same layout as W (feedback alignment)
  none
};

struct population_spec {
  std::string name;
  role_kind role = role_kind::hidden;
  index_t size = 0;
  activation_kind activation = activation_kind::identity;
  bool bias = false;
  std::vector<double> b;          // initial bias (size entries when bias)
  bool bias_plastic = true;       // false: the bias keeps its initial value
  combine_kind combine = combine_kind::sum;
  int bias_tie = -1;                     // >= 0: the bias is shared (index into network_spec::ties):
  std::vector<std::uint32_t> bias_param; //   neuron i's bias is ties[bias_tie].theta[bias_param[i]]
};

struct delay_spec {
  std::vector<tick_t> class_delay;     // the distinct delays, ascending
  std::vector<std::uint8_t> klass;     // per synapse (in synapse_matrix order); empty: all class 0
  tick_t jitter = 0;                   // per-message extra delay, uniform in 0..jitter (core/channel.hpp)
  double drop = 0;                     // per-message loss probability
  std::uint64_t stream = 0;            // key of the per-message draws (from the seed and the projection)
  fixed_point format;                  // the messages' number format (bits 0: the run's precision)
  // The longest time a message takes, jitter included (critical paths, timers).
  tick_t max() const { return (class_delay.empty() ? 1 : class_delay.back()) + jitter; }
};

struct projection_spec {
  std::string name;
  pop_t pre = 0, post = 0;
  synapse_matrix<double> syn;          // initial weights, post-major
  delay_spec forward;                  // pre -> post activity
  feedback_kind feedback = feedback_kind::symmetric;
  delay_spec backward;                 // post -> pre errors (per synapse of syn)
  synapse_matrix<double> b;            // random feedback: B, same layout as syn (row i: post i's
                                       // feedback synapses); empty when B := W^T is tied
  double lr_scale = 1;                 // this projection's learning rate = lr * lr_scale
  double weight_decay = 0;             // l2 penalty on this projection's weights
  bool plastic = true;                 // false: fixed weights (identity relays, inputs of a product)
  int tie = -1;                        // >= 0: weights shared with other synapses (conv kernel, unrolled
  std::vector<std::uint32_t> param;    //   RNN): synapse s has weight ties[tie].theta[param[s]]
  bool b_tied() const { return feedback == feedback_kind::random && b.w.empty(); }
};

// One shared parameter vector (spec pc-family.md §3.3, "shared (tied) weights"): the
// kernel of a convolution, the recurrent or input weights of an unrolled RNN, a
// per-channel bias. Every member synapse (or bias) holds a copy of its parameter;
// each copy's update is that copy's backprop contribution, and the tied parameter
// receives their sum once the sample's error wave is over (deferred), then every
// copy is rewritten. Applying copies immediately is not backprop (measured 0.44).
struct tie_spec {
  std::string name;                    // the projection's name, or "<population>.bias"
  std::vector<double> theta;           // initial shared parameters
  index_t rows = 1;                    // theta as a rows x (size / rows) matrix, post-major like a
                                       // projection's W (conv: C_out x C_in k k; unrolled: n_post x n_pre)
  double lr_scale = 1;
  double weight_decay = 0;
};

struct learning_spec {
  std::string rule = "zil";            // registry key
  loss_kind loss = loss_kind::softmax_ce;
  double lr = 0.01;
  double gamma = 1.0;                  // Z-IL inference rate
  std::uint32_t batch = 1;             // synapses apply their updates every `batch` samples
  double threshold = 0;                // eager: emit when the change exceeds this
  // Inference learning (rules "il" and "il_prox"; spec pc-family.md §2.3-§2.5, defaults §5).
  // IL uses `lr` above as the weight rate alpha; IL-prox has no weight rate.
  struct il_params {
    std::uint32_t iterations = 25;     // T relaxation steps per sample
    double gamma_top = 0.015;          // step on the neuron's own error
    double gamma_bot = 0.02;           // step on the error fed back from its children
    double gamma_dec = 0;              // activity decay
    double clamp = 1;                  // IL: output clamp strength n (1: hard clamp to the label)
    double alpha = 2.5;                // IL-prox: output-target rate (implicit-SGD alpha)
    double eps_n = 0.25;               // IL-prox: normalizer offset
  } il;
  // A local optimizer (sim/rules/optimizer.hpp), used when `set`; else plain SGD with lr
  // (IL-prox: the normalized step, SGD at rate 1 on G/nu).
  struct optimizer_params {
    bool set = false;
    bool adam = false;                 // false: SGD
    double lr = 0.01, momentum = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  } optimizer;
  // Dual propagation (spec dp-fa.md §2-§3; rule "dp").
  struct dp_params {
    enum class variant_kind { dp, dp_top, damped } variant = variant_kind::dp;
    double beta = 0.5;                 // nudging strength
    double alpha = 0.5;                // s_bar = alpha s+ + (1 - alpha) s-
    std::uint32_t rounds = 1;          // (up, nudge, down) sweeps per sample
    bool output_error_at_forward = false;   // DP-top: output error at the round-0 prediction (JAX)
    bool symmetric_hidden = false;     // DP: alpha at the output only, 1/2 in hidden layers
    std::uint32_t power_iterations = 3;     // damped: power iterations for |W_k|_2
    double max_state = 1e6;            // |compartment| beyond this: diverged
  } dp;
};

struct network_spec {
  std::vector<population_spec> populations;
  std::vector<projection_spec> projections;   // in topological order of their post population
  std::vector<tie_spec> ties;
  learning_spec learning;
  pop_t input = 0, output = 0;
  std::vector<pop_t> topo;                    // populations in topological order (input first)
};

// Kahn's algorithm, lowest population index first: deterministic, and for a layered
// model the order of its file. A cycle is a user error (validation names it first).
inline std::vector<pop_t> topological_order(const network_spec& spec) {
  const std::size_t n = spec.populations.size();
  std::vector<int> indeg(n, 0);
  for (const auto& p : spec.projections) ++indeg[p.post];
  std::vector<pop_t> order;
  std::vector<char> done(n, 0);
  while (order.size() < n) {
    pop_t pick = 0;
    while (pick < n && (done[pick] || indeg[pick] != 0)) ++pick;
    if (pick == n) throw user_error("the population graph has a cycle");
    done[pick] = 1;
    order.push_back(pick);
    for (const auto& p : spec.projections)
      if (p.pre == pick) --indeg[p.post];
  }
  return order;
}

// The in-projections of nonlinear vertices (bilinear, softmax) carry fixed weights
// (the learnable maps sit before them, as in attention), in the numbers each needs.
inline void check_vertices(const network_spec& spec) {
  for (pop_t v = 0; v < spec.populations.size(); ++v) {
    const auto& p = spec.populations[v];
    if (p.combine != combine_kind::bilinear && p.combine != combine_kind::softmax) continue;
    std::vector<const projection_spec*> in;
    for (const auto& q : spec.projections)
      if (q.post == v) in.push_back(&q);
    const std::size_t want = p.combine == combine_kind::bilinear ? 2 : 1;
    if (in.size() != want)
      throw user_error("population '" + p.name + "': a " + (want == 2 ? "bilinear" : "softmax") + " vertex takes " +
                       std::to_string(want) + " in-projection(s), not " + std::to_string(in.size()));
    for (const auto* q : in) {
      if (q->plastic || q->tie >= 0)
        throw user_error("projection '" + q->name + "' into nonlinear vertex '" + p.name + "' must be fixed");
      if (p.bias) throw user_error("population '" + p.name + "': a nonlinear vertex has no bias");
      for (index_t i = 0; want == 2 && i < p.size; ++i)
        if (in[0]->syn.row_end(i) - in[0]->syn.row_begin(i) != in[1]->syn.row_end(i) - in[1]->syn.row_begin(i))
          throw user_error("population '" + p.name + "': the rows of a bilinear vertex's two in-projections differ in length");
    }
  }
}

}  // namespace phaseless::core
