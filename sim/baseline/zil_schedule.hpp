#pragma once
// Z-IL as the papers run it (Song et al. 2020; Salvatori et al. AAAI 2022; spec
// pc-family.md §3.2-§3.3): global synchronous inference steps t = 0, 1, ..., with
// every value node moved from the time-t state at once, and the parameters of
// vertex v updated at the fixed step t = d_v, its distance to the output. This is
// the schedule the event engine does *not* need: there a neuron learns when the
// errors of all its children have arrived. Here, a vertex whose paths to the output
// have unequal lengths (a skip or residual connection) reads its error too early or
// too late, and the update is not backprop's, unless the graph is levelled first
// (levelling.hpp). Kept as the paper's reference and for the ablations (Z4, Z5, Z7).
//
//   C1  x_v(0) = mu_v (feed-forward), so eps_v(0) = 0 except at the output
//   C3  x_v += gamma (-eps_v + f'(x_v) * sum_children VJP(eps_child)), gamma = 1
//   C2  at t = d_v: G_v += eps_v(t) f(x_parents(t))^T (product vertices: times the
//       other factors); applied at batch ends, shared parameters summed (tie_group)
#include <deque>
#include <vector>

#include "sim/baseline/forward_pass.hpp"
#include "sim/baseline/sync_engine.hpp"
#include "sim/rules/tie_group.hpp"

namespace phaseless::baseline {

using namespace phaseless::core;

// d_v when paths to the output differ in length (never matters on a levelled graph).
enum class distance_kind { shortest, longest };

// Number of edges on the shortest or longest path from each population to the output
// (a population with no path: -1).
std::vector<int> distance_to_output(const network_spec& spec, distance_kind kind);

template <class Real>
class zil_schedule final : public sync_engine<Real> {
 public:
  explicit zil_schedule(const network_spec& spec, distance_kind distance = distance_kind::longest);
  void train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) override;
  std::vector<synapse_matrix<Real>>& synapses() override { return syn_; }
  std::vector<Real>& bias(pop_t v) override { return b_[v]; }
  double take_loss() override;
  std::uint64_t synaptic_ops() const override { return ops_; }

 private:
  void predict();                           // mu, u from the current value nodes
  void output_error(const dataset& data, std::uint64_t row);
  void apply();

  const network_spec& spec_;
  std::vector<int> d_;
  std::vector<synapse_matrix<Real>> syn_;
  std::vector<std::vector<Real>> b_, x_, mu_, act_, eps_, g_, grad_, grad_b_;
  vjp_state<Real> vjp_;
  std::vector<Real> tmp_;
  std::deque<rules::tie_group<Real>> ties_;
  std::vector<Real*> tie_grad_, bias_tie_grad_;
  std::uint32_t accumulated_ = 0;
  double loss_ = 0;
  std::uint64_t ops_ = 0;
};

}  // namespace phaseless::baseline
