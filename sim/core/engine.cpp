#include "sim/core/engine.hpp"

#include <algorithm>
#include <limits>

#include "sim/core/errors.hpp"

namespace phaseless::core {

unsigned auto_shards(unsigned threads, std::uint64_t synapses, tick_t interval) {
  const std::uint64_t per_window = 3 * synapses / static_cast<std::uint64_t>(std::max<tick_t>(1, interval));
  const std::uint64_t affordable = std::max<std::uint64_t>(1, per_window / min_ops_per_shard);
  return static_cast<unsigned>(std::min<std::uint64_t>(std::max(1u, threads), affordable));
}

engine::engine(unsigned shards, executor& exec) : shards_(shards == 0 ? 1 : shards), exec_(exec) {}

pop_t engine::add_population(std::string name, index_t size) {
  pops_.push_back({std::move(name), size, nullptr});
  return static_cast<pop_t>(pops_.size() - 1);
}

out_t engine::add_out_port(pop_t owner) {
  out_owner_.push_back(owner);
  routes_.emplace_back();
  return static_cast<out_t>(routes_.size() - 1);
}

port_t engine::add_in_port(pop_t owner, std::uint32_t local) {
  in_ports_.push_back({owner, local});
  return static_cast<port_t>(in_ports_.size() - 1);
}

void engine::connect(out_t from, port_t to, klass_t klass, tick_t delay, channel* noise) {
  // DESIGN R3: a message takes at least one tick; the loader already rejects zero
  // delays with a message naming the field, so reaching this is a bug.
  if (delay < 1) throw internal_error("engine::connect: delay < 1");
  routes_.at(from).push_back({to, klass, delay, noise});
}

void engine::finalize() {
  tick_t lo = std::numeric_limits<tick_t>::max(), hi = 1;
  for (auto& rs : routes_)
    for (auto& r : rs) {
      lo = std::min(lo, r.delay);   // jitter only adds: the window stays the smallest delay
      hi = std::max(hi, r.delay + (r.noise ? r.noise->jitter() : 0));
    }
  window_ = lo == std::numeric_limits<tick_t>::max() ? 1 : lo;
  max_delay_ = hi;
  for (auto& p : pops_)
    if (!p.model) throw internal_error("engine::finalize: population '" + p.name + "' has no model");
  cal_ = std::make_unique<calendar>(max_delay_ + window_ + 1);
  stats_.assign(shards_, counters{});
  shard_seconds_.assign(shards_, 0.0);
  shard_.clear();
  for (unsigned s = 0; s < shards_; ++s) shard_.push_back(std::make_unique<shard_state>(routes_, stats_[s], pops_.size()));
}

void engine::schedule(const event& e) {
  if (!cal_) throw internal_error("engine::schedule before finalize");
  cal_->push(now_ - 1, e);
  cal_->canonicalize(e.tick, in_ports_.size());
}

std::pair<index_t, index_t> engine::rows(unsigned s, pop_t p) const {
  // Contiguous, balanced split; a population smaller than the shard count leaves
  // some shards without rows of it.
  const std::uint64_t n = pops_[p].size;
  return {static_cast<index_t>(n * s / shards_), static_cast<index_t>(n * (s + 1) / shards_)};
}

counters engine::totals() const {
  counters c;
  for (auto& s : stats_) c += s;
  return c;
}

void engine::step(unsigned s, tick_t t) {
  const auto& bucket = cal_->bucket(t);
  shard_state& st = *shard_[s];
  outbox& out = st.out;
  out.set_now(t);
  // Deliver: one call per run of events on the same port (the bucket is sorted by port).
  for (std::size_t a = 0; a < bucket.size();) {
    std::size_t b = a + 1;
    while (b < bucket.size() && bucket[b].port == bucket[a].port) ++b;
    const port_info& pi = in_ports_[bucket[a].port];
    auto [lo, hi] = rows(s, pi.pop);
    if (lo < hi) {
      shard_context ctx{t, s, lo, hi, out, stats_[s], cal_->payload(t).data()};
      pops_[pi.pop].model->deliver(pi.local, std::span<const event>(bucket.data() + a, b - a), ctx);
      st.touched_at(pi.pop) = 1;
    }
    a = b;
  }
  // React: each population that received something reacts once, in population order.
  for (pop_t p = 0; p < pops_.size(); ++p) {
    if (!st.touched_at(p)) continue;
    st.touched_at(p) = 0;
    auto [lo, hi] = rows(s, p);
    shard_context ctx{t, s, lo, hi, out, stats_[s]};
    pops_[p].model->react(ctx);
  }
}

void engine::merge() {
  // Shards' outboxes in shard order, then only the buckets that received events
  // are brought into the total order (the others are unchanged and already are).
  tick_t lo = std::numeric_limits<tick_t>::max(), hi = std::numeric_limits<tick_t>::min();
  for (unsigned s = 0; s < shards_; ++s) {
    outbox& out = shard_[s]->out;
    cal_->append(now_ - 1, out.events(), out.payload(), lo, hi);
    out.events().clear();
    out.payload().clear();
  }
  for (tick_t t = lo; t <= hi; ++t) cal_->canonicalize(t, in_ports_.size());
}

double engine::parallel_share() const {
  const double all = double(pace_.ran_parallel() + pace_.ran_serial());
  return all == 0 ? (shards_ > 1 && exec_.threads() > 1 ? 0.0 : 1.0) : double(pace_.ran_parallel()) / all;
}

void engine::window(tick_t t1) {
  if (shards_ == 1 || exec_.threads() == 1) {
    exec_.parallel_for(shards_, [&](unsigned s) {   // nothing to choose
      for (tick_t t = now_; t < t1; ++t) step(s, t);
    });
    return;
  }
  // The window's kind: which ports its first tick delivers to (the bucket is sorted by
  // port), and its length. Windows of one kind repeat every sample with the same work.
  const auto& b = cal_->bucket(now_);
  const std::uint64_t key = (std::uint64_t{b.front().port} << 40) ^ (std::uint64_t{b.back().port} << 16) ^
                            static_cast<std::uint64_t>(t1 - now_);
  const bool serial = pace_.serial(key);
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  exec_.parallel_for(
      shards_,
      [&](unsigned s) {
        const auto a = clock::now();
        for (tick_t t = now_; t < t1; ++t) step(s, t);
        shard_seconds_[s] = std::chrono::duration<double>(clock::now() - a).count();
      },
      serial);
  double sum = 0;
  for (unsigned s = 0; s < shards_; ++s) sum += shard_seconds_[s];
  pace_.ran(std::chrono::duration<double>(clock::now() - t0).count(), sum);
}

void engine::run_until(tick_t end) {
  if (!cal_) throw internal_error("engine::run_until before finalize");
  while (now_ < end) {
    if (cal_->pending() == 0) {
      now_ = end;
      break;
    }
    // Skip idle ticks quickly: nothing can be created while nothing is delivered.
    while (now_ < end && cal_->bucket(now_).empty()) ++now_;
    if (now_ >= end) break;
    tick_t t1 = std::min(end, now_ + window_);
    const bool watched = observer_ && observer_->watches(now_);
    if (observer_)   // a watched tick is a window of its own
      for (tick_t t = now_ + 1; t < t1; ++t)
        if (watched || observer_->watches(t)) t1 = t;
    window(t1);
    if (watched) observer_->after_tick(now_, cal_->bucket(now_), cal_->payload(now_).data());
    for (tick_t t = now_; t < t1; ++t) cal_->consume(t);
    now_ = t1;
    merge();
  }
}

}  // namespace phaseless::core
