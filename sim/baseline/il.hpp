#pragma once
// The synchronous (Jacobi-sweep, matrix) form of IL and IL-prox (spec pc-family.md
// §2.3-§2.5), one sample at a time: feed-forward initialization, T sweeps in which
// every error is computed from the state at the start of the sweep before any value
// node moves, then one local weight step per layer. It is the user-facing baseline
// of `phaseless compare` for the rules "il" and "il_prox", and the oracle of the
// event engine (sim/rules/il.hpp): it shares the numeric primitives and the
// summation orders with it, so uniform delays give bit-identical results.
//
// Deviation from the authors' code, for B > 1 only: inference runs per sample (the
// event engine presents one sample at a time), so IL-prox's in-loop nu is the
// per-sample ||ReLU(x_{L-1})||^2 + 1 + eps_n rather than the code's batch sum
// (identical at B = 1, the setting of every batch-1 experiment). The weight step's
// nu_l = mean_b ||a_b||^2 + 1 + eps_n is the code's.
#include <vector>

#include "sim/baseline/sync_engine.hpp"
#include "sim/rules/optimizer.hpp"

namespace phaseless::baseline {

using namespace phaseless::core;

template <class Real>
class il_sync final : public sync_engine<Real> {
 public:
  explicit il_sync(const network_spec& spec);
  void train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) override;
  std::vector<synapse_matrix<Real>>& synapses() override { return syn_; }
  std::vector<Real>& bias(pop_t v) override { return b_[v]; }
  double take_loss() override;
  double take_energy() override;
  std::uint64_t synaptic_ops() const override { return ops_; }
  // State after the last sample (tests): value nodes x and errors eps per population.
  const std::vector<Real>& x(pop_t v) const { return x_[v]; }
  const std::vector<Real>& eps(pop_t v) const { return eps_[v]; }

 private:
  bool prox() const { return spec_.learning.rule == "il_prox"; }
  void predict(pop_t v, std::uint32_t t, const dataset& data, std::uint64_t row);
  void settle_output(std::uint32_t t, const dataset& data, std::uint64_t row);
  void send_errors();
  Real target(const dataset& data, std::uint64_t row, index_t i) const;
  void apply();

  const network_spec& spec_;
  std::vector<synapse_matrix<Real>> syn_;
  std::vector<rules::optimizer<Real>> opt_, bias_opt_;
  std::vector<std::vector<Real>> b_, x_, a_, mu_, eps_, down_, up_, g_, sq_, sq_acc_, grad_b_, p_;
  std::vector<std::vector<Real>> grad_;   // per projection
  std::vector<Real> tmp_, row_;           // row_: one gradient row (batch 1)
  std::vector<bool> learns_;              // per projection: its post population learns
  std::uint32_t accumulated_ = 0;
  double loss_ = 0, energy_ = 0;
  std::uint64_t ops_ = 0;
};

}  // namespace phaseless::baseline
