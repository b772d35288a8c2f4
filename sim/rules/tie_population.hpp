#pragma once
// A tie group on the event engine: one neuron that holds a shared parameter
// (rules/tie_group.hpp). Every neuron whose synapses or bias use it reports once per
// sample that its contribution is in, delayed until that neuron's errors have been
// delivered (they are read through the copies); a shard sends one message per tick
// whose value counts the neurons that finished then. When all have arrived the
// sample's error wave is over for every copy: the group sums the contributions
// and, at batch ends, steps the parameter and rewrites the copies. No other shard
// reads the copies then: the next sample starts after the critical path.
#include <cstdint>
#include <span>

#include "sim/core/population.hpp"
#include "sim/rules/tie_group.hpp"

namespace phaseless::rules {

template <class Real>
class tie_population final : public population_model {
 public:
  tie_population(const tie_spec& tie, const learning_spec& learning, std::uint64_t expected,
                 std::uint64_t samples_total)
      : expected_(expected), total_(samples_total) {
    group_.init(tie, learning);
  }
  tie_group<Real>& group() { return group_; }

  void deliver(std::uint32_t, std::span<const event> events, shard_context&) override {
    for (const event& e : events) {
      if (e.tag != tag_) {
        tag_ = e.tag;
        count_ = 0;
      }
      count_ += static_cast<std::uint64_t>(e.value);
      if (count_ == expected_) group_.sample_done(tag_sample(tag_), total_);
    }
  }
  void react(shard_context&) override {}

 private:
  tie_group<Real> group_;
  std::uint64_t expected_, total_;
  tag_t tag_ = no_tag;
  std::uint64_t count_ = 0;
};

}  // namespace phaseless::rules
