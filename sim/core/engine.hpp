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
#include <memory>
#include <string>
#include <vector>

#include "sim/core/calendar.hpp"
#include "sim/core/executor.hpp"
#include "sim/core/population.hpp"

namespace phaseless::core {

struct population_info {
  std::string name;
  index_t size;
  population_model* model;   // not owned
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
  void connect(out_t from, port_t to, std::uint32_t klass, tick_t delay, channel* noise = nullptr);

  // Freezes the wiring: sizes the calendar and the window. Call once, before run.
  void finalize();

  void schedule(const event& e);          // an initial event (e.g. the data source's first timer)
  void run_until(tick_t end);             // processes every tick < end
  tick_t now() const { return now_; }
  bool idle() const { return cal_ && cal_->pending() == 0; }

  unsigned shards() const { return shards_; }
  // Rows [lo, hi) of population p owned by shard s.
  std::pair<index_t, index_t> rows(unsigned s, pop_t p) const;
  const std::vector<population_info>& populations() const { return pops_; }
  tick_t window() const { return window_; }
  tick_t max_delay() const { return max_delay_; }
  counters totals() const;

 private:
  void step(unsigned s, tick_t t);
  void merge();

  unsigned shards_;
  executor& exec_;
  std::vector<population_info> pops_;
  std::vector<pop_t> out_owner_;
  std::vector<port_info> in_ports_;
  std::vector<std::vector<route>> routes_;      // by out port
  std::unique_ptr<calendar> cal_;
  std::vector<counters> stats_;                 // by shard
  std::vector<std::unique_ptr<outbox>> outboxes_;
  std::vector<std::vector<char>> touched_;      // by shard, by population: delivered this tick
  tick_t now_ = 0;
  tick_t window_ = 1;
  tick_t max_delay_ = 1;
  std::vector<event> scratch_;
};

}  // namespace phaseless::core
