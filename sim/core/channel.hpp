#pragma once
// An unreliable link: per-message jitter and loss on the messages of one projection in
// one direction (forward activity or feedback errors). Each message's fate is a pure
// function of (channel stream = seed and projection, sender, tag = sample and step,
// repeat), so runs are bit-identical at any thread count (R7); all delay classes of one
// message share it.
//
// Jitter: an extra delay drawn uniformly in 0..jitter ticks. Links stay FIFO: a message
// never overtakes an earlier one of the same sender (its extra delay is raised to the
// previous message's if needed; with one extra delay per message this is one hold per
// sender for every delay class). Without FIFO a stale value could overwrite a newer one
// and a dataflow step counter could be reset by the next step's message.
//
// Loss: a dropped message still arrives, at the tick it was due, but carries what the
// receivers held before it: the sender's last delivered activity (they keep their last
// value), or 0 for an error, whose receivers accumulate (it adds nothing). A receiver
// that counts its inputs (dataflow, settled predictions) therefore never waits forever:
// the loss is a timeout after the synapse's own delay with the last value held.
//
// Precision: a message's value may be rounded to fixed point (fixed_point below), by
// nearest or by stochastic rounding with a draw from the same key, so every route of a
// message carries the same rounded value.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/core/types.hpp"

namespace phaseless::core {

// Signed fixed point with `bits` bits: q * step, step = scale / 2^(bits-1), q an integer
// in [-2^(bits-1), 2^(bits-1) - 1]; beyond the range a value saturates. bits 0: exact.
struct fixed_point {
  std::uint32_t bits = 0;
  double scale = 1;
  bool stochastic = false;   // false: nearest, ties to even
  bool exact() const { return bits == 0; }
  double step() const { return scale / std::ldexp(1.0, int(bits) - 1); }
  // v rounded; u in [0, 1) is the stochastic draw: floor(v/step + u) rounds up with
  // probability frac(v/step), so the mean is v (unbiased) and the error is below a step.
  double round(double v, double u) const {
    const double top = std::ldexp(1.0, int(bits) - 1), s = step();
    const double q = stochastic ? std::floor(v / s + u) : std::nearbyint(v / s);
    return std::clamp(q, -top, top - 1) * s;   // NaN stays NaN (divergence is still seen)
  }
};

class channel {
 public:
  channel(std::uint64_t stream, tick_t jitter, double drop, bool additive, index_t senders, fixed_point format = {})
      : stream_(stream), jitter_(jitter), drop_(drop), additive_(additive), format_(format), free_at_(senders, 0),
        held_(senders, 0.0) {}
  tick_t jitter() const { return jitter_; }

  struct fate {
    tick_t extra;   // ticks beyond the route's delay (> 0: late)
    bool dropped;
    double value;   // what the receivers get
  };
  // The fate of `source`'s message (tag, repeat) emitted at `now`. Called once per
  // route (delay class) of the message, from the sender's shard only; every call for
  // one message returns the same fate. A step marker (`news` false, sigma-delta) keeps
  // its place in the FIFO order but is never lost or rounded: it carries what the
  // receivers hold.
  fate pass(index_t source, tag_t tag, std::uint32_t repeat, tick_t now, double value, bool news = true) {
    const std::uint64_t r = draw(source, tag, repeat);
    const bool dropped = lost(r);
    tick_t extra = jitter_ > 0 ? tick_t(mix64(r) % std::uint64_t(jitter_ + 1)) : 0;
    if (now + extra < free_at_[source]) extra = free_at_[source] - now;   // FIFO
    free_at_[source] = now + extra;
    if (!news) return {extra, false, additive_ ? 0.0 : held_[source]};
    if (dropped) return {extra, true, additive_ ? 0.0 : held_[source]};
    if (!format_.exact()) value = format_.round(value, double(mix64(r ^ 0x9e3779b97f4a7c15ull) >> 11) * 0x1.0p-53);
    held_[source] = value;
    return {extra, false, value};
  }
  // Whether that message is lost, as pass() decides it (a pure function): for observers.
  bool drops(index_t source, tag_t tag, std::uint32_t repeat) const { return lost(draw(source, tag, repeat)); }

 private:
  std::uint64_t draw(index_t source, tag_t tag, std::uint32_t repeat) const {
    return mix64(stream_ ^ mix64(tag ^ mix64((std::uint64_t(source) << 24) ^ repeat)));
  }
  bool lost(std::uint64_t r) const { return drop_ > 0 && double(r >> 11) * 0x1.0p-53 < drop_; }
  std::uint64_t stream_;
  tick_t jitter_;
  double drop_;
  bool additive_;
  fixed_point format_;
  std::vector<tick_t> free_at_;   // per sender: emission tick + extra delay of its last message
  std::vector<double> held_;      // per sender: the activity its receivers hold
};

}  // namespace phaseless::core
