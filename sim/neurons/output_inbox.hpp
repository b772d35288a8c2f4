#pragma once
// What an output population hears besides its synapses, whatever its rule: the
// sample's target (a dataset row, from the data source) and, for a softmax output,
// its siblings' predictions (lateral messages), with a gate that says when all of
// them are in for the current step. All state is per shard.
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "sim/neurons/population_parts.hpp"
#include "sim/neurons/wiring.hpp"

namespace phaseless::neurons {

template <class Real>
class output_inbox {
 public:
  void init(const population_wiring<Real>& w, index_t n) {
    target_port_ = w.target_port;
    lateral_port_ = w.lateral_port;
    target_.init(w.shards);
    if (w.lateral_fan) {
      lateral_.assign(w.shards, std::vector<Real>(n, Real(0)));
      gate_.init(*w.lateral_fan, w.shards);
    }
  }

  // Applies the target and lateral ports' events and marks the shard's neurons
  // ready; false for any other port.
  bool deliver(std::uint32_t port, std::span<const event> events, unsigned s, ready_set& ready) {
    if (port == target_port_) {
      target_.deliver(events, s);
    } else if (port == lateral_port_) {
      for (const event& e : events) {
        lateral_[s][e.source] = static_cast<Real>(e.value);
        gate_.arrive_shard(s, e);
      }
    } else {
      return false;
    }
    ready.mark_all(s);
    return true;
  }

  const target_inbox& target() const { return target_; }
  const std::vector<Real>& lateral(unsigned s) const { return lateral_[s]; }

  // Output neuron i's softmax probability from its siblings' predictions of the step
  // and its own, `own`, which it holds itself: the lateral copy of it can be stale in
  // eager mode (in dataflow it equals own). nll = -log p_i, the cross-entropy when
  // i is the label.
  struct softmax_at {
    Real p, nll;
  };
  softmax_at softmax(unsigned s, index_t i, Real own) const {
    const auto& z = lateral_[s];
    auto zk = [&](index_t k) { return k == i ? own : z[k]; };
    Real m = zk(0);
    for (index_t k = 1; k < z.size(); ++k) m = std::max(m, zk(k));
    Real sum = 0;
    for (index_t k = 0; k < z.size(); ++k) sum += std::exp(zk(k) - m);
    return {std::exp(own - m) / sum, std::log(sum) - (own - m)};
  }
  // Every sibling's prediction of step `tag` has arrived (true without a softmax).
  bool lateral_complete(unsigned s, index_t i, tag_t tag) const {
    return lateral_.empty() || gate_.complete(s, i, tag);
  }

 private:
  std::uint32_t target_port_ = no_port, lateral_port_ = no_port;
  target_inbox target_;
  std::vector<std::vector<Real>> lateral_;
  fan_in_gate gate_;
};

}  // namespace phaseless::neurons
