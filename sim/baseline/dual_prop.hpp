#pragma once
// The synchronous form of dual propagation (DP, DP-top, damped DP; spec dp-fa.md
// §2-§3, §2.6): matrix form, layer by layer, one sample at a time, with mini-batch
// accumulation and the rule's optimizer. Per sample, `rounds` sweeps:
//   up      every dyad in topological order: a = b + W s_bar_pre; closed-form update
//           with fb = W^T Delta of the previous sweep (round 0: the forward pass);
//           the output is nudged (closed form for MSE, linearised for CE / DP-top);
//   down    hidden dyads in reverse topological order: g = sum_c W_c^T Delta_c, then
//           the closed-form update with the a of this sweep's up step;
// then G += Delta_post s_bar_pre^T with the final states, and at batch ends
// W <- optimizer(W, -(1/beta) G / n). It is the oracle the dyads of
// sim/rules/dual_prop.hpp must equal in dataflow mode, and the baseline of
// `phaseless compare` for rule dp.
#include <vector>

#include "sim/baseline/sync_engine.hpp"
#include "sim/rules/dual_prop.hpp"
#include "sim/rules/optimizer.hpp"

namespace phaseless::baseline {

using namespace phaseless::core;

template <class Real>
class dual_prop final : public sync_engine<Real> {
 public:
  explicit dual_prop(const network_spec& spec);
  void train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) override;
  std::vector<synapse_matrix<Real>>& synapses() override { return syn_; }
  std::vector<Real>& bias(pop_t v) override { return b_[v]; }
  double take_loss() override;
  std::uint64_t synaptic_ops() const override { return ops_; }

  // States after the last sample (tests): s+, s-, and a per population.
  const std::vector<Real>& s_plus(pop_t v) const { return sp_[v]; }
  const std::vector<Real>& s_minus(pop_t v) const { return sm_[v]; }
  // The gradient the last sample produced for projection k, -(1/beta) Delta s_bar^T,
  // dense post-major (tests; filled only when `keep_gradient` is set).
  bool keep_gradient = false;
  std::vector<std::vector<double>> last_gradient;

 private:
  void hidden(pop_t v, std::uint32_t r, bool up);
  void output(std::uint32_t r, const dataset& data, std::uint64_t row);
  void apply();
  Real s_bar(pop_t v, index_t i) const;
  Real damping(pop_t v, std::uint64_t sample);

  const network_spec& spec_;
  const learning_spec::dp_params& dp_;
  std::uint32_t rounds_;
  std::vector<synapse_matrix<Real>> syn_;
  std::vector<rules::optimizer<Real>> opt_, bias_opt_;
  std::vector<std::vector<Real>> b_, a_, sp_, sm_, sbar_, g_, grad_, grad_b_, x_;
  std::vector<Real> g0_, row_;
  std::vector<char> static_a_;
  std::vector<Real> damping_;
  std::vector<std::uint64_t> damping_sample_;
  std::uint32_t accumulated_ = 0;
  std::uint64_t cur_sample_ = 0;
  double loss_ = 0;
  std::uint64_t ops_ = 0;
};

}  // namespace phaseless::baseline
