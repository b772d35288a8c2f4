#pragma once
// The extension point of the kernel: a population_model owns the state of one
// population's neurons and says what they do with messages. Neuron kinds and
// learning rules implement it (sim/neurons, sim/rules); the kernel never knows
// which rule runs. Two calls per tick, per shard:
//   deliver(port, events)  all of this tick's events on one input port, in the
//                          total order (R2), applied to the shard's rows;
//   react()                each neuron that became ready reacts once (R2) and may emit.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "sim/core/channel.hpp"
#include "sim/core/event.hpp"

namespace phaseless::core {

struct route {        // one output port -> one input port, for one delay class
  port_t port;
  klass_t klass;
  tick_t delay;
  channel* noise = nullptr;   // jitter and loss of the projection this route belongs to (none: reliable)
};

struct alignas(64) counters {   // one cache line each: every shard updates its own (per_shard.hpp)
  std::uint64_t events = 0;        // events created (one per emission per port per delay class)
  std::uint64_t synaptic_ops = 0;  // multiply-adds done to transmit messages over synapses
  std::uint64_t reactions = 0;     // neuron reactions
  std::uint64_t dropped = 0;       // events lost on an unreliable link (channel.hpp)
  std::uint64_t late = 0;          // events delivered after their synapses' delay (jitter)
  counters& operator+=(const counters& o) {
    events += o.events;
    synaptic_ops += o.synaptic_ops;
    reactions += o.reactions;
    dropped += o.dropped;
    late += o.late;
    return *this;
  }
};

// What a neuron may do while reacting: send on one of its population's output
// ports. The kernel fans the emission out along the port's routes.
class outbox {
 public:
  outbox(const std::vector<std::vector<route>>& routes, counters& stats) : routes_(&routes), stats_(&stats) {
    for (const auto& rs : routes) {
      bool noisy = false;
      for (const route& r : rs) noisy = noisy || r.noise;
      noisy_.push_back(noisy);
    }
  }
  // `news` false: a sigma-delta step marker (sim/neurons/sigma_delta.hpp). It keeps the
  // step structure (receivers count it like a message and keep their value) but is not
  // a message a chip would send: not counted as an event, never lost, late or rounded.
  void emit(out_t port, index_t source, tag_t tag, double value, std::uint32_t repeat = 0, bool news = true) {
    if (noisy_[port]) {
      emit_noisy(port, source, tag, value, repeat, news);
      return;
    }
    const std::uint16_t marker = !news;
    for (const route& r : (*routes_)[port])
      events_.push_back(event{now_ + r.delay, r.port, source, r.klass, marker, repeat, now_, tag, value});
    if (news) stats_->events += (*routes_)[port].size();
  }
  // One record that stands for `messages` neuron-level messages of this shard and tick
  // (e.g. "my contribution is in", summed over the shard's neurons in `value`). It is
  // counted as those messages, so the count does not depend on how rows are sharded.
  void emit_frame(out_t port, index_t source, tag_t tag, double value, std::uint64_t messages) {
    for (const route& r : (*routes_)[port])
      events_.push_back(event{now_ + r.delay, r.port, source, r.klass, 0, 0, now_, tag, value});
    stats_->events += messages * (*routes_)[port].size();
  }
  // The emissions of senders first .. first + n - 1 (n values, source order), all of
  // one tag, as one frame per route: counted as n messages per route, like n emit()s
  // (`news`, when given: per sender, false for a step marker, as in emit()).
  void emit_values(out_t port, index_t first, tag_t tag, const double* values, std::uint32_t n,
                   const char* news = nullptr) {
    if (n == 1 || noisy_[port]) {   // jitter may part the senders: one message each
      for (std::uint32_t q = 0; q < n; ++q) emit(port, first + q, tag, values[q], 0, !news || news[q]);
      return;
    }
    if (!news) {
      emit_run(port, first, tag, values, n, true);
      return;
    }
    // Messages and markers in separate frames, one per run of either, so the marker
    // bit stays per event; runs keep the senders' order, as a shard's cut does.
    for (std::uint32_t a = 0; a < n;) {
      std::uint32_t b = a + 1;
      while (b < n && news[b] == news[a]) ++b;
      emit_run(port, first + a, tag, values + a, b - a, news[a]);
      a = b;
    }
  }
  // A timer: a message to the population itself, for deferred local actions. It is
  // not communication between neurons, so it is not counted as an event (and its
  // count may depend on the shard count without breaking R7's identical traces).
  void set_timer(out_t port, index_t source, tag_t tag) {
    for (const route& r : (*routes_)[port])
      events_.push_back(event{now_ + r.delay, r.port, source, r.klass, 0, 0, now_, tag, 0.0});
  }
  void set_now(tick_t t) { now_ = t; }
  std::vector<event>& events() { return events_; }
  std::vector<double>& payload() { return payload_; }

 private:
  void emit_run(out_t port, index_t first, tag_t tag, const double* values, std::uint32_t n, bool news) {
    if (n == 1) {
      emit(port, first, tag, values[0], 0, news);
      return;
    }
    const auto at = static_cast<std::uint32_t>(payload_.size());
    payload_.insert(payload_.end(), values, values + n);
    const std::uint16_t marker = !news;
    for (const route& r : (*routes_)[port])
      events_.push_back(event{now_ + r.delay, r.port, first, r.klass, marker, 0, now_, tag, 0.0, n, at});
    if (news) stats_->events += std::uint64_t(n) * (*routes_)[port].size();
  }
  // The one place where jitter and loss touch a message (channel.hpp).
  void emit_noisy(out_t port, index_t source, tag_t tag, double value, std::uint32_t repeat, bool news) {
    for (const route& r : (*routes_)[port]) {
      const std::uint16_t marker = !news;
      if (!r.noise) {
        events_.push_back(event{now_ + r.delay, r.port, source, r.klass, marker, repeat, now_, tag, value});
        continue;
      }
      const auto f = r.noise->pass(source, tag, repeat, now_, value, news);
      events_.push_back(event{now_ + r.delay + f.extra, r.port, source, r.klass, marker, repeat, now_, tag, f.value});
      stats_->dropped += f.dropped;
      stats_->late += news && f.extra > 0;
    }
    if (news) stats_->events += (*routes_)[port].size();
  }
  std::vector<char> noisy_;   // by out port: some route has a channel
  const std::vector<std::vector<route>>* routes_;
  counters* stats_;
  std::vector<event> events_;
  std::vector<double> payload_;   // frames' values
  tick_t now_ = 0;
};

struct shard_context {
  tick_t now;
  unsigned shard;
  index_t lo, hi;     // the rows of this population owned by this shard: [lo, hi)
  outbox& out;
  counters& stats;
  const double* payload = nullptr;   // frames' values of the events being delivered (value_of)
};

class population_model {
 public:
  virtual ~population_model() = default;
  virtual void deliver(std::uint32_t local_port, std::span<const event> events, shard_context& ctx) = 0;
  virtual void react(shard_context& ctx) = 0;
};

}  // namespace phaseless::core
