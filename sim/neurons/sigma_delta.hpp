#pragma once
// Sigma-delta sends for the rules that relax in steps (IL, IL-prox, DP): with
// execution.threshold theta > 0, a neuron sends in a step only when what it would
// send changed by more than theta since its last message; otherwise its receivers
// keep what they hold. The residue is kept: the next comparison is against the last
// value sent, not the last value computed, so the receivers' error never exceeds theta
// and never drifts.
//
// Activity travels as a level: the message carries the value itself, and a receiver
// holds the last one it got. Errors (IL's eps', DP's Delta) travel as changes, since
// receivers sum them over children through W^T (g = sum_c W_c^T e_c): the message
// carries e - e_last_sent and the receivers' g is reset only when a sample starts.
//
// The steps themselves stay in lockstep, as on a time-stepped neuromorphic chip whose
// barrier tells every core that a step is over: a neuron with nothing to say still
// emits a marker for the step, which carries what the receivers already hold (the held
// level, or a change of 0), so a dataflow receiver never waits for a message that was
// not sent. Markers are not counted: events and synaptic_ops count only the messages
// sent and the multiply-adds they cause at their receivers (one per synapse reached).
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/core/population.hpp"

namespace phaseless::neurons {

using namespace phaseless::core;

class sigma_delta {
 public:
  void init(double theta, index_t n) {
    theta_ = theta;
    if (on()) {
      level_.assign(n, 0.0);
      change_.assign(n, 0.0);
    }
  }
  bool on() const { return theta_ > 0; }

  // Neuron i's activity v: the value its message carries (v itself, or the held level
  // for a marker) and whether it is a message (true) or a marker (false). `always`
  // forces a message (the feed-forward pass that opens a sample).
  struct send {
    double value;
    bool sent;
  };
  send level(index_t i, double v, bool always) {
    if (!always && std::abs(v - level_[i]) <= theta_) return {level_[i], false};
    level_[i] = v;
    return {v, true};
  }
  // Neuron i's error e: the change it carries since the last error sent in this sample.
  send change(index_t i, double e) {
    const double d = e - change_[i];
    if (std::abs(d) <= theta_) return {0.0, false};
    change_[i] = e;
    return {d, true};
  }
  // A new sample: receivers' sums of errors start from 0 again.
  void start(index_t i) {
    if (on()) change_[i] = 0.0;
  }

 private:
  double theta_ = 0;
  std::vector<double> level_;    // per neuron: the last activity sent
  std::vector<double> change_;   // per neuron: the error its receivers sum (last error sent)
};

}  // namespace phaseless::neurons
