#pragma once
// Building blocks every learning population needs, whatever its rule:
//   ready_set    which neurons react this tick (each once, in index order; R2)
//   timer_queue  local timers: a neuron arms one to act later (e.g. apply its batch
//                update after its errors were delivered); one event per shard and
//                tick carries all timers armed in that tick
//   target_inbox the dataset row of the current sample's target (output neurons)
// All state is per shard, so shards never share writes.
#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "sim/core/per_shard.hpp"
#include "sim/core/population.hpp"

namespace phaseless::neurons {

using namespace phaseless::core;

class ready_set {
 public:
  void init(index_t neurons, unsigned shards) {
    queued_.assign(neurons, 0);
    all_.assign(shards, 0);
    list_.assign(shards, std::vector<index_t>{});
  }
  void mark(unsigned shard, index_t i) {
    if (!queued_[i]) {
      queued_[i] = 1;
      list_[shard].push_back(i);
    }
  }
  void mark_all(unsigned shard) { all_[shard] = 1; }
  // True, and the shard's set cleared, when every row of the shard is ready: the
  // caller steps them all in index order (as drain would). False: nothing changed.
  bool take_all(const shard_context& ctx) {
    if (!all_[ctx.shard]) return false;
    auto& list = list_[ctx.shard];
    for (index_t i : list) queued_[i] = 0;
    list.clear();
    all_[ctx.shard] = 0;
    return true;
  }

  // Calls f(i) once for every ready neuron of the shard, in index order, and clears.
  template <class F>
  void drain(const shard_context& ctx, F&& f) {
    auto& list = list_[ctx.shard];
    for (index_t i : list) queued_[i] = 0;
    if (all_[ctx.shard]) {
      all_[ctx.shard] = 0;
      list.clear();
      for (index_t i = ctx.lo; i < ctx.hi; ++i) f(i);
      return;
    }
    std::sort(list.begin(), list.end());   // whatever the arrival order
    for (index_t i : list) f(i);
    list.clear();
  }

 private:
  std::vector<char> queued_;
  per_shard<char> all_;
  per_shard<std::vector<index_t>> list_;
};

class timer_queue {
 public:
  void init(unsigned shards) {
    due_.assign(shards, std::vector<armed>{});
    fired_.assign(shards, std::vector<index_t>{});
  }
  // Neuron i wants its timer: fires after the port's route delay.
  void arm(shard_context& ctx, out_t timer_out, index_t i, tag_t tag) { arm_rows(ctx, timer_out, i, i + 1, tag); }
  // Neurons lo .. hi - 1 want theirs (consecutive neurons of one tick share an entry).
  void arm_rows(shard_context& ctx, out_t timer_out, index_t lo, index_t hi, tag_t tag) {
    auto& due = due_[ctx.shard];
    if (due.empty() || due.back().tick != ctx.now) {
      ctx.out.set_timer(timer_out, ctx.lo, tag);
    } else if (due.back().hi == lo) {
      due.back().hi = hi;
      return;
    }
    due.push_back({ctx.now, lo, hi});
  }
  // The timer events of one tick: f(i) for each neuron whose timer was armed at the
  // event's emission tick (e.seq), in the order they were armed.
  template <class F>
  void fire(std::span<const event> events, const shard_context& ctx, F&& f) {
    auto& due = due_[ctx.shard];
    for (const event& e : events) {
      if (e.source < ctx.lo || e.source >= ctx.hi) continue;
      std::size_t k = 0;
      for (; k < due.size() && due[k].tick == e.seq; ++k)
        for (index_t i = due[k].lo; i < due[k].hi; ++i) f(i);
      due.erase(due.begin(), due.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  // The same neurons, gathered for a step over rows (valid until the shard's next call).
  const std::vector<index_t>& fired(std::span<const event> events, const shard_context& ctx) {
    auto& rows = fired_[ctx.shard];
    rows.clear();
    fire(events, ctx, [&](index_t i) { rows.push_back(i); });
    return rows;
  }

 private:
  struct armed {
    tick_t tick;
    index_t lo, hi;
  };
  per_shard<std::vector<armed>> due_;   // per shard: (tick armed, neurons)
  per_shard<std::vector<index_t>> fired_;   // per shard: fired()'s neurons
};

// The messages a shard's neurons send on one port in one tick, gathered into frames
// of consecutive senders (one record per run, outbox::emit_values): the receivers
// see the same messages, in the same order, as from one emit() per neuron. Only for
// first messages of a step (repeat 0), which is all that dataflow sends.
class frame_buffer {
 public:
  void add(index_t i, tag_t tag, double v, out_t port, outbox& out) {
    if (values_.empty() || tag != tag_ || i != first_ + values_.size()) {
      flush(port, out);
      first_ = i;
      tag_ = tag;
    }
    values_.push_back(v);
  }
  // Room for the run of senders first .. first + n - 1 (a new frame), to fill in order.
  double* run(index_t first, tag_t tag, std::size_t n, out_t port, outbox& out) {
    flush(port, out);
    first_ = first;
    tag_ = tag;
    values_.resize(n);
    return values_.data();
  }
  void flush(out_t port, outbox& out) {
    if (values_.empty()) return;
    out.emit_values(port, first_, tag_, values_.data(), static_cast<std::uint32_t>(values_.size()));
    values_.clear();
  }

 private:
  index_t first_ = 0;
  tag_t tag_ = no_tag;
  std::vector<double> values_;
};

class target_inbox {
 public:
  void init(unsigned shards) {
    row_.assign(shards, 0);
    tag_.assign(shards, no_tag);
  }
  void deliver(std::span<const event> events, unsigned shard) {
    for (const event& e : events) {
      row_[shard] = static_cast<std::uint64_t>(e.value);
      tag_[shard] = e.tag;
    }
  }
  std::uint64_t row(unsigned shard) const { return row_[shard]; }
  tag_t tag(unsigned shard) const { return tag_[shard]; }

 private:
  per_shard<std::uint64_t> row_;
  per_shard<tag_t> tag_;
};

// Per-neuron accumulators (loss, energy) read by the runner: the sum, in neuron
// order (deterministic at any shard count), and reset.
inline double drain_sum(std::vector<double>& acc) {
  double s = 0;
  for (double& v : acc) {
    s += v;
    v = 0;
  }
  return s;
}

}  // namespace phaseless::neurons
