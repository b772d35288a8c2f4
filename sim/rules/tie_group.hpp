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
#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>
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
    auto& m = synapses_.emplace_back(member{&syn.w, &param, std::vector<Real>(syn.size(), Real(0)), {}});
    m.find_runs();
    return m.contribution.data();
  }
  // Registers the copies held by a population's biases; returns its eps buffer.
  // The bias vector may be bound later (the event engine's populations own theirs
  // and need the buffer to be built): bind_bias(buffer, b).
  Real* add_bias(const std::vector<std::uint32_t>& param, std::vector<Real>* b = nullptr) {
    auto& m = biases_.emplace_back(member{b, &param, std::vector<Real>(param.size(), Real(0)), {}});
    m.find_runs();
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
      for (auto& m : *group) m.move_to(sum_.data());
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
      for (auto& m : *group) m.copy_from(theta_.data());
    accumulated_ = 0;
  }

 private:
  struct member {
    std::vector<Real>* copies;                 // the member's weights (or biases)
    const std::vector<std::uint32_t>* param;   // copy -> parameter index
    std::vector<Real> contribution;            // per copy: summed eps * x_pre since the last step
    // Runs of copies s .. s + len - 1 of parameters param[s] .. param[s] + len - 1
    // (a convolution row holds its output channel's whole kernel); empty when the runs
    // are short (per-channel biases), then the copies go one by one.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;   // (s, len)

    void find_runs() {
      const auto& p = *param;
      std::vector<std::pair<std::uint32_t, std::uint32_t>> r;
      for (std::size_t s = 0; s < p.size();) {
        std::size_t e = s + 1;
        while (e < p.size() && p[e] == p[e - 1] + 1) ++e;
        r.emplace_back(std::uint32_t(s), std::uint32_t(e - s));
        s = e;
      }
      if (4 * r.size() <= p.size()) runs = std::move(r);
    }
    // sum[param[s]] += contribution[s], copies in order, and the contribution restarts
    // at 0 in the same pass: each parameter still adds its copies' contributions in
    // copy order (a run's parameters are distinct).
    void move_to(Real* __restrict sum) {
      const auto& p = *param;
      Real* __restrict c = contribution.data();
      if (runs.empty()) {
        for (std::size_t s = 0; s < p.size(); ++s) {
          sum[p[s]] += c[s];
          c[s] = Real(0);
        }
        return;
      }
      for (const auto& [s, len] : runs) {
        Real* __restrict to = sum + p[s];
        Real* __restrict from = c + s;
        for (std::uint32_t q = 0; q < len; ++q) {
          to[q] += from[q];
          from[q] = Real(0);
        }
      }
    }
    void copy_from(const Real* theta) {
      const auto& p = *param;
      Real* w = copies->data();
      if (runs.empty()) {
        for (std::size_t s = 0; s < p.size(); ++s) w[s] = theta[p[s]];
        return;
      }
      for (const auto& [s, len] : runs) std::copy_n(theta + p[s], len, w + s);
    }
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
