#pragma once
// The future-event set: a ring of per-tick buckets ("calendar queue" with bucket
// width one tick). Delays are bounded at build time, so a ring of more than
// max-delay + window ticks never wraps onto live events. Appending is O(1); no heap.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/core/event.hpp"

namespace phaseless::core {

class calendar {
 public:
  explicit calendar(tick_t horizon) {
    std::size_t n = 1;
    while (n < static_cast<std::size_t>(horizon) + 1) n <<= 1;
    buckets_.resize(n);
    payloads_.resize(n);
    mask_ = n - 1;
  }

  std::vector<event>& bucket(tick_t t) { return buckets_[static_cast<std::size_t>(t) & mask_]; }
  const std::vector<event>& bucket(tick_t t) const { return buckets_[static_cast<std::size_t>(t) & mask_]; }
  tick_t horizon() const { return static_cast<tick_t>(mask_); }
  // Frames' values of a bucket (event::first indexes it).
  const std::vector<double>& payload(tick_t t) const { return payloads_[static_cast<std::size_t>(t) & mask_]; }

  void push(tick_t now, const event& e) {
    if (e.tick <= now || e.tick - now > horizon())
      throw internal_error("calendar: event outside the horizon (delay < 1 or beyond max delay)");
    bucket(e.tick).push_back(e);
    ++pending_;
  }

  // Appends a window's emissions (any order of ticks): runs of one delivery tick are
  // copied as blocks, and the horizon is checked once for the whole range.
  void append(tick_t now, const std::vector<event>& ev, const std::vector<double>& values, tick_t& lo, tick_t& hi) {
    for (std::size_t a = 0; a < ev.size();) {
      std::size_t z = a + 1;
      while (z < ev.size() && ev[z].tick == ev[a].tick) ++z;
      if (ev[a].tick <= now || ev[a].tick - now > horizon())
        throw internal_error("calendar: event outside the horizon (delay < 1 or beyond max delay)");
      auto& b = bucket(ev[a].tick);
      const std::size_t from = b.size();
      if (z == a + 1)   // alternating delays (one event per route): a plain append is cheaper
        b.push_back(ev[a]);
      else
        b.insert(b.end(), ev.begin() + static_cast<std::ptrdiff_t>(a), ev.begin() + static_cast<std::ptrdiff_t>(z));
      auto& pl = payloads_[static_cast<std::size_t>(ev[a].tick) & mask_];
      for (std::size_t k = from; k < b.size(); ++k)   // frames: their values move to the bucket
        if (b[k].count > 1) {
          const auto at = static_cast<std::uint32_t>(pl.size());
          pl.insert(pl.end(), values.begin() + b[k].first, values.begin() + b[k].first + b[k].count);
          b[k].first = at;
        }
      lo = std::min(lo, ev[a].tick);
      hi = std::max(hi, ev[a].tick);
      a = z;
    }
    pending_ += ev.size();
  }

  // Brings a bucket into the total order (R2). Events of one emission tick arrive
  // sorted by source within a port, so the usual work is an O(n) check. Otherwise:
  // a stable counting sort by port (ports are few), then a sort of any port run
  // that several emission ticks (different delays) interleaved.
  void canonicalize(tick_t t, std::size_t ports) {
    auto& b = bucket(t);
    if (std::is_sorted(b.begin(), b.end(), event_before)) return;
    count_.assign(ports + 1, 0);
    for (const event& e : b) ++count_[e.port + 1];
    for (std::size_t p = 1; p <= ports; ++p) count_[p] += count_[p - 1];
    scratch_.resize(b.size());
    for (const event& e : b) scratch_[count_[e.port]++] = e;
    b.swap(scratch_);
    for (std::size_t a = 0; a < b.size();) {
      std::size_t z = a + 1;
      while (z < b.size() && b[z].port == b[a].port) ++z;
      if (!std::is_sorted(b.begin() + a, b.begin() + z, event_before))
        std::stable_sort(b.begin() + a, b.begin() + z, event_before);
      a = z;
    }
  }

  void consume(tick_t t) {
    auto& b = bucket(t);
    pending_ -= b.size();
    b.clear();
    payloads_[static_cast<std::size_t>(t) & mask_].clear();
  }

  std::size_t pending() const { return pending_; }

 private:
  std::vector<std::vector<event>> buckets_;
  std::vector<std::vector<double>> payloads_;   // per bucket: frames' values
  std::size_t mask_ = 0;
  std::size_t pending_ = 0;
  std::vector<std::size_t> count_;
  std::vector<event> scratch_;
};

}  // namespace phaseless::core
