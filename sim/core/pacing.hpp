#pragma once
// Whether a multi-shard window runs its shards on the workers (in parallel) or one
// after another on the calling thread. Either way gives the same result (the shards of
// a window are independent, R7); only the time differs. Threads pay when a window holds
// enough work and the cores are free for this run; on a machine shared with other jobs
// a barrier can wait a whole scheduling slice for a descheduled worker, and a window
// with little work (a softmax over ten rows) gains nothing from a second core.
//
// So the choice is made per kind of window, not for the run: the windows of one kind
// (the same ports receiving, e.g. "the first hidden layer's forward step") repeat every
// sample with the same work, and are timed against each other only. Each kind keeps
// the better of its last two times each way (a scheduling hiccup in one window does
// not flip the choice), runs the faster way, and times the other way again in one
// window after `gap` windows of its kind; the gap doubles while the probes confirm
// the choice (a probe of the slower way costs time) and falls back to its minimum
// when one overturns it. A kind's first window (caches and buffers cold) is not timed.
//
// A parallel window also tells what it would have cost serially: about the sum of its
// shards' times. When it took less than `clear_win` of that, the parallel way wins
// beyond doubt and the next serial probe is skipped (counted as confirming): on free
// cores a heavy window pays for one probe only, its kind's third window. The sum overstates the serial time a little when
// the shards slow each other down (shared caches), hence the margin.
#include <array>
#include <cstdint>

namespace phaseless::core {

class pacing {
 public:
  static constexpr std::uint32_t min_gap = 4, max_gap = 128;
  static constexpr std::size_t kinds = 64;   // beyond this, windows share the last slot
  static constexpr double clear_win = 0.75;

  // Whether the next window, of kind `key`, runs one shard after another.
  bool serial(std::uint64_t key) {
    cur_ = &find(key);
    kind& k = *cur_;
    if (k.seen <= 1) return k.way = false;   // untimed, then the first timed parallel run
    if (k.seen == 2) return k.way = true;    // the first timed serial run (always: every kind is timed both ways)
    const bool probe = k.seen == k.next_probe, faster_serial = k.best(1) < k.best(0);
    k.skipped = probe && !faster_serial && k.clear;   // no doubt: the serial probe is skipped
    return k.way = !k.skipped && faster_serial != probe;
  }

  // The window chosen by serial() took `seconds`; `shard_sum`: its shards' times added
  // (what one shard after another would have taken, roughly; parallel windows only).
  void ran(double seconds, double shard_sum) {
    kind& k = *cur_;
    ++ran_[k.way];
    if (k.seen > 0) {
      double* t = k.time[k.way];
      t[1] = t[0];
      t[0] = seconds;
      if (t[1] == 0) t[1] = seconds;
      if (!k.way) k.clear = seconds < clear_win * shard_sum;
    }
    if (k.seen == k.next_probe) {   // the probed way still slower: probe half as often
      const bool confirmed = k.skipped || k.best(k.way) >= k.best(!k.way);
      k.gap = confirmed ? (k.gap * 2 > max_gap ? max_gap : k.gap * 2) : min_gap;
      k.next_probe = k.seen + k.gap;
    }
    ++k.seen;
  }

  // Windows run each way: on the workers, and one shard after another.
  std::uint64_t ran_parallel() const { return ran_[0]; }
  std::uint64_t ran_serial() const { return ran_[1]; }

 private:
  struct kind {
    std::uint64_t key = 0;
    bool used = false, way = false;   // way: this window runs serially
    bool clear = false;               // the last parallel run won beyond doubt
    bool skipped = false;             // this window's probe was skipped (clear)
    std::uint32_t seen = 0, gap = min_gap, next_probe = 2;   // the first probe: the third window
    double time[2][2] = {{0, 0}, {0, 0}};   // [way][the last two runs]
    double best(bool w) const {
      return time[w][0] < time[w][1] ? time[w][0] : time[w][1];
    }
  };
  kind& find(std::uint64_t key) {
    for (auto& k : kind_) {
      if (k.used && k.key == key) return k;
      if (!k.used) {
        k.used = true;
        k.key = key;
        return k;
      }
    }
    return kind_.back();   // too many kinds: the rest share one (still correct, less apt)
  }
  std::array<kind, kinds> kind_{};
  kind* cur_ = nullptr;
  std::uint64_t ran_[2] = {0, 0};
};

}  // namespace phaseless::core
