#pragma once
// The discrete-event scheduler. Neurons live in populations (contiguous vertex
// ranges); each population is split into `shards` contiguous row ranges, and a
// shard owns its rows of every population. Time advances in windows no longer
// than the smallest delay, so nothing sent inside a window can arrive inside it:
// shards step a window independently (in parallel on the executor), then their
// outboxes are merged, in shard order, into the calendar and each bucket is put
// into the total order (R2). Results therefore do not depend on the thread count.
//
// Per window [t0, t1):
//   S(k)   every shard k steps ticks t0..t1-1: deliver each port's events, then react
//   M      merge outboxes of shards 0..S-1 into the calendar; canonicalize buckets
// S(k) for all k precede M; M precedes the next window.
//
// Each shard's mutable kernel state (outbox, "delivered this tick" flags) sits on
// cache lines of its own, so that two cores never write the same line (false sharing).
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/core/calendar.hpp"
#include "sim/core/executor.hpp"
#include "sim/core/pacing.hpp"
#include "sim/core/per_shard.hpp"
#include "sim/core/population.hpp"

namespace phaseless::core {

// How many shards pay off: a window costs a barrier (a few microseconds when both cores
// are free, far more when they are shared), so a shard must get enough synaptic work
// per window to amortize it. The work per window is estimated as the synapses swept
// per sample (forward, error and update: 3 x synapses) over the ticks of a
// presentation interval (one window per tick at the usual minimum delay of one tick).
// Every shard gets at least min_ops_per_shard of it: shards = min(threads, estimate /
// min_ops_per_shard), at least 1. The count never changes a result (R7), only speed.
inline constexpr std::uint64_t min_ops_per_shard = std::uint64_t{1} << 17;
unsigned auto_shards(unsigned threads, std::uint64_t synapses, tick_t interval);

struct population_info {
  std::string name;
  index_t size;
  population_model* model;   // not owned
};

// Watches a run from outside the kernel (e.g. recording what happens inside a sample).
// Called on the engine's thread between windows, with every shard idle, so it may read
// any population's state. No observer: one pointer test per window, nothing per event.
class observer {
 public:
  virtual ~observer() = default;
  // Whether tick t is watched. A watched tick runs as a window of its own (results do
  // not depend on the window length, R7), so the state read in after_tick is the state
  // right after that tick.
  virtual bool watches(tick_t t) const = 0;
  // Tick t was delivered and reacted to. `bucket`: its events in the total order (R2),
  // timers included; `payload`: the frames' values (value_of).
  virtual void after_tick(tick_t t, std::span<const event> bucket, const double* payload) = 0;
};

struct port_info {
  pop_t pop;
  std::uint32_t local;       // the model's own number for this port
};

class engine {
 public:
  engine(unsigned shards, executor& exec);

  pop_t add_population(std::string name, index_t size);
  void set_model(pop_t p, population_model* m) { pops_[p].model = m; }
  out_t add_out_port(pop_t owner);
  port_t add_in_port(pop_t owner, std::uint32_t local);
  // Every emission on `from` reaches `to` after `delay` ticks, tagged with delay class `klass`.
  // `noise`: the route's unreliable link (owned by the caller), or none.
  void connect(out_t from, port_t to, klass_t klass, tick_t delay, channel* noise = nullptr);

  // Freezes the wiring: sizes the calendar and the window. Call once, before run.
  void finalize();

  void observe(observer* o) { observer_ = o; }   // null: none (not owned)
  void schedule(const event& e);          // an initial event (e.g. the data source's first timer)
  void run_until(tick_t end);             // processes every tick < end
  tick_t now() const { return now_; }
  bool idle() const { return cal_ && cal_->pending() == 0; }

  unsigned shards() const { return shards_; }
  // Rows [lo, hi) of population p owned by shard s.
  std::pair<index_t, index_t> rows(unsigned s, pop_t p) const;
  const std::vector<population_info>& populations() const { return pops_; }
  tick_t window() const { return window_; }
  const std::vector<std::vector<route>>& routes() const { return routes_; }   // by out port
  tick_t max_delay() const { return max_delay_; }
  counters totals() const;
  // The share of multi-shard windows that ran on the workers (the rest one shard after
  // another on the calling thread, see pacing.hpp); 1 with a single shard. Speed only.
  double parallel_share() const;

 private:
  void step(unsigned s, tick_t t);
  void window(tick_t t1);   // every shard steps [now_, t1), on the workers or one after another
  void merge();

  pacing pace_;   // per kind of window: on the workers or one shard after another
  per_shard<double> shard_seconds_;   // each shard's time in the last window (for pace_)

  unsigned shards_;
  executor& exec_;
  std::vector<population_info> pops_;
  std::vector<pop_t> out_owner_;
  std::vector<port_info> in_ports_;
  std::vector<std::vector<route>> routes_;      // by out port
  std::unique_ptr<calendar> cal_;
  // One per shard, each on its own cache lines (aligned allocation, see the header).
  struct alignas(64) shard_state {
    explicit shard_state(const std::vector<std::vector<route>>& routes, counters& stats, std::size_t pops)
        : out(routes, stats), touched((pops + 63) / 64) {}
    struct alignas(64) flags {
      char f[64] = {};
    };
    outbox out;
    std::vector<flags> touched;   // by population: delivered this tick (whole lines: never shared)
    char& touched_at(pop_t p) { return touched[p / 64].f[p % 64]; }
  };
  std::vector<counters> stats_;                 // by shard (counters are cache-line aligned)
  std::vector<std::unique_ptr<shard_state>> shard_;
  observer* observer_ = nullptr;
  tick_t now_ = 0;
  tick_t window_ = 1;
  tick_t max_delay_ = 1;
  std::vector<event> scratch_;
};

}  // namespace phaseless::core
