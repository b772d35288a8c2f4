#pragma once
// Who receives an event on an input port, and how many events a target waits
// for in dataflow mode. Built from the neuron graph (graph.hpp): the out-edges of a
// source vertex are contiguous, sorted by (port, delay class, target), so the
// receivers of one event are one contiguous slice.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "sim/core/event.hpp"
#include "sim/core/per_shard.hpp"

namespace phaseless::core {

struct fanout {
  index_t n_sources = 0, n_targets = 0;
  std::uint32_t classes = 1;
  // True when every event reaches every target (one delay class, full
  // connectivity): the common dense case needs no tables at all.
  bool all_targets = true;
  std::vector<std::uint64_t> ptr;       // (n_sources * classes + 1) offsets into target/synapse
  std::vector<index_t> target;          // ascending within one (source, class)
  std::vector<std::uint64_t> synapse;   // index into the projection's synapse_matrix
  std::vector<std::uint32_t> expected;  // per target: events per step in dataflow mode

  // Receivers of (source, class) that lie in rows [lo, hi): offsets [a, b).
  std::pair<std::uint64_t, std::uint64_t> slice(index_t source, std::uint32_t klass, index_t lo, index_t hi) const {
    const std::uint64_t s = std::uint64_t(source) * classes + klass;
    if (lo == 0 && hi >= n_targets) return {ptr[s], ptr[s + 1]};   // one shard: every receiver
    auto first = target.begin() + static_cast<std::ptrdiff_t>(ptr[s]);
    auto last = target.begin() + static_cast<std::ptrdiff_t>(ptr[s + 1]);
    auto a = std::lower_bound(first, last, lo);
    auto b = std::lower_bound(a, last, hi);
    return {std::uint64_t(a - target.begin()), std::uint64_t(b - target.begin())};
  }
  // Links that are not all_targets, in dataflow mode (set by the engine's builder):
  // random delays or sparse rows (convolutions) make a neuron's inputs a subset of the
  // step's events, but its result does not depend on the tick it reacts at, so the
  // shard counts every event of the step (n_sources x classes: every source emits
  // once per step, once per class) and its neurons react together, at most the
  // longest delay after their own last input; the per-synapse arrival count is saved.
  // Eager mode, where the tick matters, counts per target.
  bool shard_counted = false;
  std::uint32_t expected_of(index_t i) const { return all_targets ? n_sources : expected[i]; }
  bool counted_per_shard() const { return all_targets || shard_counted; }
  std::uint32_t shard_expected() const { return all_targets ? n_sources : n_sources * classes; }
};

// Counts, per target, the events of the current step that have arrived (R4
// dataflow). With all_targets every target sees the same events, so one counter
// per shard stands for all of its rows; so does it for a shard_counted link.
class fan_in_gate {
 public:
  void init(const fanout& f, unsigned shards) {
    fan_ = &f;
    if (f.counted_per_shard()) {
      shared_.assign(shards, slot{no_tag, 0, f.shard_expected()});
    } else {
      per_target_.resize(f.n_targets);
      for (index_t i = 0; i < f.n_targets; ++i) per_target_[i] = {no_tag, 0, f.expected[i]};
    }
  }
  bool shared() const { return fan_->counted_per_shard(); }

  // An event reached the shard (shared mode). True when that completes the step.
  // Refinements (repeat > 0) are news but do not count: each sender counts once.
  bool arrive_shard(unsigned shard, const event& e) { return e.repeat == 0 && bump(shared_[shard], e.tag, 1); }
  // A frame: its e.count senders at once (first messages, like e).
  bool arrive_shard_frame(unsigned shard, const event& e) {
    return e.repeat == 0 && bump(shared_[shard], e.tag, e.count);
  }
  // An event reached target i. True when that completes i's step.
  bool arrive(index_t i, const event& e) { return e.repeat == 0 && bump(per_target_[i], e.tag, 1); }

  // A target that expects nothing (no synapse of this projection reaches it, e.g.
  // a pixel a strided convolution never reads) is complete: waiting would stall it.
  bool complete(unsigned shard, index_t i, tag_t tag) const {
    const slot& s = shared() ? shared_[shard] : per_target_[i];
    return s.expected == 0 || (s.tag == tag && s.count == s.expected);
  }
  // Any arrival at all for step `tag` (eager mode).
  bool any(unsigned shard, index_t i, tag_t tag) const {
    const slot& s = shared() ? shared_[shard] : per_target_[i];
    return s.tag == tag && s.count > 0;
  }

 private:
  // The expected count sits in the slot's padding: one memory access per arrival
  // (the per-target loop of a convolution is bound by these loads).
  struct slot {
    tag_t tag;
    std::uint32_t count;
    std::uint32_t expected;
  };
  static bool bump(slot& s, tag_t tag, std::uint32_t n) {
    if (s.tag != tag) {
      if (!tag_newer(tag, s.tag)) return false;   // a stale step: ignored by the counter
      s.tag = tag;
      s.count = 0;
    }
    s.count += n;
    return s.count == s.expected;
  }
  const fanout* fan_ = nullptr;
  per_shard<slot> shared_;
  std::vector<slot> per_target_;
};

}  // namespace phaseless::core
