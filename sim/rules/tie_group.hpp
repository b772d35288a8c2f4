#pragma once
// Shared (tied) parameters, spec pc-family.md §3.3: a convolution kernel, the input
// and recurrent weights of an unrolled RNN, a per-channel bias. Every synapse (or
// bias) that uses a shared parameter holds a copy of it, so predictions and error
// messages read their own copy like any other weight. A copy's post-neuron adds
// its own contribution, eps * x_pre, to a buffer of the copy's layout; once the
// sample's error wave is over, the contributions are summed per parameter in a
// fixed order (members in registration order, synapses in row order: the same at
// any shard count), the parameter takes one step, and every copy is rewritten.
// Deferral is what makes it backprop: applying copies as they come is not (the
// spec measured a relative error of 0.44 on an unrolled RNN).
//
// Used by the event engine (one tie population per group) and by the synchronous
// baselines, with the same arithmetic.
#include <cstdint>
#include <deque>
#include <vector>

#include "sim/core/kernels.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/rules/optimizer.hpp"

namespace phaseless::rules {

using namespace phaseless::core;

template <class Real>
class tie_group {
 public:
  void init(const tie_spec& spec, const learning_spec& learning) {
    spec_ = &spec;
    learning_ = &learning;
    theta_.assign(spec.theta.begin(), spec.theta.end());
    sum_.assign(theta_.size(), Real(0));
    if (learning.optimizer.set) {
      opt_.init(to_optimizer_spec(learning.optimizer), theta_.size(), 1);
      has_opt_ = true;
    }
  }
  const tie_spec& spec() const { return *spec_; }
  const std::vector<Real>& theta() const { return theta_; }

  // Registers the copies held by a projection's synapses; returns the buffer (one
  // entry per synapse, the synapse_matrix layout) its post-neurons add eps * x_pre to.
  Real* add_synapses(synapse_matrix<Real>& syn, const std::vector<std::uint32_t>& param) {
    auto& m = synapses_.emplace_back(member{&syn.w, &param, std::vector<Real>(syn.size(), Real(0))});
    return m.contribution.data();
  }
  // Registers the copies held by a population's biases; returns its eps buffer.
  // The bias vector may be bound later (the event engine's populations own theirs
  // and need the buffer to be built): bind_bias(buffer, b).
  Real* add_bias(const std::vector<std::uint32_t>& param, std::vector<Real>* b = nullptr) {
    auto& m = biases_.emplace_back(member{b, &param, std::vector<Real>(param.size(), Real(0))});
    return m.contribution.data();
  }
  void bind_bias(const Real* buffer, std::vector<Real>& b) {
    for (auto& m : biases_)
      if (m.contribution.data() == buffer) m.copies = &b;
  }

  // Called once per sample when every copy has contributed; steps at batch ends.
  void sample_done(std::uint64_t sample, std::uint64_t samples_total) {
    ++accumulated_;
    if ((sample + 1) % learning_->batch == 0 || sample + 1 == samples_total) apply();
  }

  // The summed, deferred step: theta += lr lr_scale / n * sum(contributions)
  // (the contributions are -dL/dtheta per copy), minus l2 decay; then the copies.
  void apply() {
    if (accumulated_ == 0) return;
    for (auto* group : {&synapses_, &biases_})
      for (auto& m : *group) {
        const auto& param = *m.param;
        for (std::size_t s = 0; s < param.size(); ++s) sum_[param[s]] += m.contribution[s];
        std::fill(m.contribution.begin(), m.contribution.end(), Real(0));
      }
    if (has_opt_) {
      opt_.step(0, 0, theta_.size(), theta_.data(), sum_.data(), static_cast<Real>(-1.0 / double(accumulated_)));
    } else {
      const double rate = learning_->lr * spec_->lr_scale;
      const Real scale = static_cast<Real>(rate / double(accumulated_));
      if (spec_->weight_decay != 0) {
        const Real decay = static_cast<Real>(rate * spec_->weight_decay);
        for (std::size_t k = 0; k < theta_.size(); ++k) theta_[k] += scale * sum_[k] - decay * theta_[k];
      } else {
        kernels::axpy(scale, sum_.data(), theta_.data(), theta_.size());
      }
    }
    std::fill(sum_.begin(), sum_.end(), Real(0));
    for (auto* group : {&synapses_, &biases_})
      for (auto& m : *group) {
        const auto& param = *m.param;
        for (std::size_t s = 0; s < param.size(); ++s) (*m.copies)[s] = theta_[param[s]];
      }
    accumulated_ = 0;
  }

 private:
  struct member {
    std::vector<Real>* copies;                 // the member's weights (or biases)
    const std::vector<std::uint32_t>* param;   // copy -> parameter index
    std::vector<Real> contribution;            // per copy: summed eps * x_pre since the last step
  };
  const tie_spec* spec_ = nullptr;
  const learning_spec* learning_ = nullptr;
  std::vector<Real> theta_, sum_;
  std::deque<member> synapses_, biases_;       // deque: returned buffers stay put
  std::uint32_t accumulated_ = 0;
  optimizer<Real> opt_;
  bool has_opt_ = false;
};

}  // namespace phaseless::rules
