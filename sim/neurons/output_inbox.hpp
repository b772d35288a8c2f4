#pragma once
// What an output population hears besides its synapses, whatever its rule: the
// sample's target (a dataset row, from the data source) and, for a softmax output,
// its siblings' predictions (lateral messages), with a gate that says when all of
// them are in for the current step. All state is per shard.
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
