#pragma once
// The synchronous baseline: backprop in matrix form, layer by layer, one sample
// at a time, with mini-batch accumulation. It runs the same network_spec, initial
// weights and sample order as the event engine, and is the oracle the event engine
// must equal in dataflow mode (DESIGN R4). It shares only the numeric primitives
// (core/kernels.hpp) with the engine, so equal arithmetic means equal results.
#include <deque>
#include <vector>

#include "sim/core/dataset.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/baseline/forward_pass.hpp"
#include "sim/baseline/sync_engine.hpp"
#include "sim/rules/optimizer.hpp"
#include "sim/rules/tie_group.hpp"

namespace phaseless::baseline {

using namespace phaseless::core;

template <class Real>
class backprop final : public sync_engine<Real> {
 public:
  explicit backprop(const network_spec& spec);

  // One training sample: forward, loss gradient, backward, accumulate; apply at
  // batch ends (every `batch` samples and at the last of `samples_total`).
  void train(const dataset& data, std::uint64_t row, std::uint64_t sample, std::uint64_t samples_total) override;

  // Forward pass only; returns the output pre-activations (logits).
  const std::vector<Real>& predict(std::span<const float> x);

  std::vector<synapse_matrix<Real>>& synapses() override { return syn_; }
  std::vector<Real>& bias(pop_t v) override { return b_[v]; }
  double take_loss() override;
  std::uint64_t synaptic_ops() const override { return ops_; }
  // The update of the last applied batch is not kept; callers diff snapshots.

 private:
  void forward(std::span<const float> x);
  void apply();
  void apply_optimizer();   // learning.optimizer set: the same local optimizer as the event engine
  Real link_error(std::size_t k, index_t i) const;   // the error projection k's row i learns from
  bool learns(std::size_t k) const;                  // plastic, untied, and an error reaches its post

  const network_spec& spec_;
  std::vector<synapse_matrix<Real>> syn_;
  std::vector<synapse_matrix<Real>> feedback_;   // B per projection (random feedback), else empty
  std::vector<std::vector<Real>> b_, mu_, act_, eps_, g_, grad_b_;
  std::vector<std::vector<Real>> grad_;   // per projection
  std::vector<std::vector<Real>> gather_; // per projection: presynaptic values of one row (sparse)
  vjp_state<Real> vjp_;                   // product factors, Jacobian rows (forward_pass.hpp)
  std::deque<rules::tie_group<Real>> ties_;
  std::vector<Real*> tie_grad_;           // per projection: its tie's contribution buffer (or null)
  std::vector<Real*> bias_tie_grad_;      // per population
  std::vector<char> reached_;             // per population: an error reaches it
  std::uint32_t accumulated_ = 0;
  std::vector<rules::optimizer<Real>> opt_, bias_opt_;   // per projection / population (optimizer set)
  std::vector<Real> opt_row_;
  double loss_ = 0;
  std::uint64_t ops_ = 0;
};

// Test-set evaluation of any weights (the event engine's or the baseline's): a
// feed-forward pass per sample, argmax for accuracy, the rule's loss.
struct evaluation {
  double accuracy = 0;   // classification only (0 for regression)
  double loss = 0;       // mean per-sample loss of the rule
  double nse = 0;        // regression: sum ||t - y||^2 / sum ||t||^2 (NaN for classification)
};
template <class Real>
evaluation evaluate(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn,
                    const std::vector<const std::vector<Real>*>& bias, const dataset& test);

}  // namespace phaseless::baseline
