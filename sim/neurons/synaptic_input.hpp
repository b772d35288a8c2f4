#pragma once
// The two ways messages reach a neuron's synapses, shared by every rule.
//
// forward_input: activity from the pre population. A message only stores the
// sender's value where the receiving synapses read it (one slot per sender per
// delay class per shard: O(1) per event, never O(fan-out)); the post-neuron then
// computes its input as one dot product over its row of W when it reacts. The
// same gathered vector feeds its Hebbian update. With several delay classes or
// sparse rows, each synapse's slot is precomputed (slot_), so the gather is one
// indexed load per synapse.
//
// error_input: errors from the post population, pushed through W^T at delivery:
// g[pre] += e * W[post][pre], an axpy over row `post` of W, restricted to the
// shard's rows.
#include <algorithm>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/kernels.hpp"
#include "sim/neurons/wiring.hpp"

namespace phaseless::neurons {

// Calls fn(e) for each sender a frame carries (or the one of a plain event), in
// source order, each as a plain event with its own value.
template <class Fn>
void for_each_sender(const event& f, const double* payload, Fn&& fn) {
  for (std::uint32_t q = 0; q < f.count; ++q) {
    event e = f;
    e.source = f.source + q;
    e.value = value_of(f, payload, q);
    e.count = 1;
    fn(e);
  }
}

template <class Real>
class forward_input {
 public:
  void init(forward_link<Real>& link, unsigned shards) {
    link_ = &link;
    const auto& s = *link.syn;
    // Padded by one chunk: a run's copy may read and write up to chunk - 1 past its end.
    buf_.assign(shards, std::vector<Real>(std::size_t(link.classes) * s.n_pre + chunk, Real(0)));
    gate_.init(link.fan, shards);
    scratch_.assign(shards, std::vector<Real>(s.n_pre + chunk));
    if (!direct()) {
      if (std::uint64_t(link.classes) * s.n_pre > std::numeric_limits<std::uint32_t>::max())
        throw std::length_error("projection '" + s.name + "': delay classes x pre-neurons exceed 2^32 slots");
      slot_.resize(s.size());
      for (std::uint64_t k = 0; k < s.size(); ++k)
        slot_[k] = static_cast<std::uint32_t>(
            std::uint64_t(link.classes == 1 || link.fan.shard_counted ? 0 : link.klass[k]) * s.n_pre + s.pre_of(k));
      find_runs(s);
    }
  }
  const forward_link<Real>& link() const { return *link_; }
  fan_in_gate& gate() { return gate_; }

  // Applies one port's events. on_shard(tag, complete) is called for the dense
  // single-class case (every row saw the event); on_target(i, tag, complete) otherwise.
  // With `whole_frames` a frame counts all its senders and calls on_shard once (for
  // a caller to whom only the step and its completion matter); otherwise once per sender.
  template <class Shard, class Target>
  void deliver(std::span<const event> events, shard_context& ctx, Shard&& on_shard, Target&& on_target,
               bool whole_frames = false) {
    Real* b = buf_[ctx.shard].data();
    // Per delay class, unless the link is counted per shard: then every class of the
    // step has arrived when a neuron reads, and one emission has one value.
    const std::uint64_t class_stride = link_->fan.shard_counted ? 0 : link_->syn->n_pre;
    for (const event& f : events) {
      if (f.count > 1 && gate_.shared()) {   // a frame: its senders' values, then one count for all
        Real* at = b + f.klass * class_stride + f.source;
        const double* v = ctx.payload + f.first;
        for (std::uint32_t q = 0; q < f.count; ++q) at[q] = static_cast<Real>(v[q]);
        if (whole_frames)
          on_shard(f.tag, gate_.arrive_shard_frame(ctx.shard, f));
        else
          for (std::uint32_t q = 0; q < f.count; ++q) on_shard(f.tag, gate_.arrive_shard(ctx.shard, f));
        continue;
      }
      for_each_sender(f, ctx.payload,
                      [&](const event& e) { deliver_one(e, b, class_stride, ctx, on_shard, on_target); });
    }
  }

 private:
  template <class Shard, class Target>
  void deliver_one(const event& e, Real* b, std::uint64_t class_stride, shard_context& ctx, Shard&& on_shard,
                   Target&& on_target) {
    {
      b[e.klass * class_stride + e.source] = static_cast<Real>(e.value);
      if (gate_.shared()) {
        on_shard(e.tag, gate_.arrive_shard(ctx.shard, e));
      } else {
        auto [a, z] = link_->fan.slice(e.source, e.klass, ctx.lo, ctx.hi);
        const index_t* target = link_->fan.target.data();
        for (auto k = a; k < z; ++k) on_target(target[k], e.tag, gate_.arrive(target[k], e));
      }
    }
  }

 public:
  // The presynaptic values post-neuron i sees, in the order of its row of W.
  const Real* pre_values(index_t i, unsigned shard) {
    const Real* b = buf_[shard].data();
    if (direct()) return b;
    const auto& s = *link_->syn;
    Real* x = scratch_[shard].data();
    if (!run_ptr_.empty()) {
      // Runs of consecutive slots (a convolution row: one per kernel row and input
      // channel) copied a chunk at a time; a chunk reaching past its run is overwritten
      // by the next run's copy, or lies past the row.
      const run* r = runs_.data() + run_ptr_[i];
      const run* const end = runs_.data() + run_ptr_[i + 1];
      Real* __restrict to = x;
      const Real* __restrict from = b;
      if (short_runs_) {   // every run fits one chunk (kernels up to chunk wide)
        for (; r < end; ++r) std::memcpy(to + r->k, from + r->slot, chunk * sizeof(Real));
        return x;
      }
      for (; r < end; ++r) {
        const run u = *r;
        std::uint32_t q = 0;
        do {
          std::memcpy(to + (u.k + q), from + (u.slot + q), chunk * sizeof(Real));
          q += chunk;
        } while (q < u.len);
      }
      return x;
    }
    const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
    const std::uint32_t* slot = slot_.data() + rb;
    for (std::uint64_t k = 0; k < n; ++k) x[k] = b[slot[k]];
    return x;
  }

  // sum_j W[i][j] * x_j over the row, with x from pre_values.
  Real potential(index_t i, const Real* x) const {
    const auto& s = *link_->syn;
    const auto rb = s.row_begin(i);
    return kernels::dot(s.w.data() + rb, x, s.row_end(i) - rb);
  }
  std::uint64_t fan_in(index_t i) const { return link_->syn->row_end(i) - link_->syn->row_begin(i); }
  // Full rows and one value per sender: the buffer is the row's input vector itself
  // (pre_values is the same for every row).
  bool direct() const { return link_->syn->dense && (link_->classes == 1 || link_->fan.shard_counted); }

 private:
  static constexpr std::uint32_t chunk = 8;
  struct run {
    std::uint32_t k, slot, len;   // a row's synapses k .. k + len - 1 read slots slot .. slot + len - 1
  };
  // Splits each row into runs of consecutive slots; kept only when runs average at
  // least two synapses (a convolution's rows), otherwise pre_values gathers one by one.
  void find_runs(const synapse_matrix<Real>& s) {
    std::vector<run> runs;
    std::vector<std::uint64_t> ptr{0};
    for (index_t i = 0; i < s.n_post; ++i) {
      const auto rb = s.row_begin(i), n = s.row_end(i) - rb;
      for (std::uint64_t k = 0; k < n;) {
        std::uint64_t e = k + 1;
        while (e < n && slot_[rb + e] == slot_[rb + e - 1] + 1) ++e;
        runs.push_back({std::uint32_t(k), slot_[rb + k], std::uint32_t(e - k)});
        k = e;
      }
      ptr.push_back(runs.size());
    }
    if (2 * runs.size() > s.size()) return;
    short_runs_ = std::all_of(runs.begin(), runs.end(), [](const run& u) { return u.len <= chunk; });
    runs_ = std::move(runs);
    run_ptr_ = std::move(ptr);
  }

  forward_link<Real>* link_ = nullptr;
  std::vector<run> runs_;                    // per row, its runs (find_runs)
  bool short_runs_ = false;                  // no run longer than a chunk
  std::vector<std::uint64_t> run_ptr_;       // row i's runs: run_ptr_[i] .. run_ptr_[i + 1] - 1
  std::vector<std::vector<Real>> buf_;       // [shard][class * n_pre + pre]
  std::vector<std::vector<Real>> scratch_;   // [shard][row length]
  std::vector<std::uint32_t> slot_;          // per synapse: its sender's slot in buf_ (unless direct())
  fan_in_gate gate_;
};

template <class Real>
class error_input {
 public:
  void init(feedback_link<Real>& link, unsigned shards) {
    link_ = &link;
    gate_.init(link.fan, shards);
    if (link.fan.shard_counted)
      added_.assign(shards, std::vector<tag_t>(link.fan.n_sources, no_tag));
    find_runs();
  }
  fan_in_gate& gate() { return gate_; }

  // Adds each event's error through W^T into g (indexed by this population's rows).
  template <class Shard, class Target, class Begin>
  void deliver(std::span<const event> events, shard_context& ctx, Real* g, Begin&& begin, Shard&& on_shard,
               Target&& on_target) {
    for (const event& f : events) {
      if (f.count > 1 && whole_rows()) {
        deliver_frame(f, ctx, g, begin, on_shard);
        continue;
      }
      for_each_sender(f, ctx.payload, [&](const event& e) { deliver_one(e, ctx, g, begin, on_shard, on_target); });
    }
  }

 private:
  // Every sender's error reaches every row of the shard, counted per shard.
  bool whole_rows() const { return link_->fan.all_targets || (gate_.shared() && link_->syn->dense); }

  // A frame on whole rows: what deliver_one does for each of its senders, in source
  // order (the same axpys), with the step opened once and the senders counted at once
  // (a frame holds first messages of one step, so only its last sender could complete it).
  template <class Shard, class Begin>
  void deliver_frame(const event& f, shard_context& ctx, Real* g, Begin& begin, Shard& on_shard) {
    const auto& s = *link_->syn;
    begin(ctx.lo, ctx.hi, f.tag);
    const double* v = ctx.payload + f.first;
    for (std::uint32_t q = 0; q < f.count; ++q) {
      const Real e = static_cast<Real>(v[q]);
      if (e == Real(0) || !first_of_emission(ctx.shard, f.source + q, f.tag)) continue;
      kernels::axpy(e, s.w.data() + s.row_begin(f.source + q) + ctx.lo, g + ctx.lo, ctx.hi - ctx.lo);
      ctx.stats.synaptic_ops += ctx.hi - ctx.lo;
    }
    on_shard(f.tag, gate_.arrive_shard_frame(ctx.shard, f));
  }

  template <class Shard, class Target, class Begin>
  void deliver_one(const event& e, shard_context& ctx, Real* g, Begin& begin, Shard& on_shard, Target& on_target) {
    const auto& s = *link_->syn;
    {
      const Real v = static_cast<Real>(e.value);
      if (whole_rows()) {
        begin(ctx.lo, ctx.hi, e.tag);   // the error may be the first message of a new step (eager)
        if (v != Real(0) && first_of_emission(ctx.shard, e.source, e.tag)) {
          const auto rb = s.row_begin(e.source);
          kernels::axpy(v, s.w.data() + rb + ctx.lo, g + ctx.lo, ctx.hi - ctx.lo);
          ctx.stats.synaptic_ops += ctx.hi - ctx.lo;
        }
        on_shard(e.tag, gate_.arrive_shard(ctx.shard, e));
      } else if (gate_.shared()) {
        // Sparse rows counted per shard (dataflow): this class's synapses, one scatter.
        begin(ctx.lo, ctx.hi, e.tag);
        if (v != Real(0) && !runs_.empty()) {
          ctx.stats.synaptic_ops += scatter(v, e.source, e.klass, ctx.lo, ctx.hi, s.w.data(), g);
        } else if (v != Real(0)) {
          auto [a, z] = link_->fan.slice(e.source, e.klass, ctx.lo, ctx.hi);
          const index_t* target = link_->fan.target.data();
          const std::uint64_t* synapse = link_->fan.synapse.data();
          const Real* w = s.w.data();
          for (auto k = a; k < z; ++k) g[target[k]] += v * w[synapse[k]];
          ctx.stats.synaptic_ops += z - a;
        }
        on_shard(e.tag, gate_.arrive_shard(ctx.shard, e));
      } else {
        // Three passes over the event's receivers, each a tight loop: open their step,
        // add the error through W^T, count the arrival (in this order, as one pass would).
        auto [a, z] = link_->fan.slice(e.source, e.klass, ctx.lo, ctx.hi);
        const index_t* target = link_->fan.target.data();
        for (auto k = a; k < z; ++k) begin(target[k], target[k] + 1, e.tag);
        if (v != Real(0)) {
          const std::uint64_t* synapse = link_->fan.synapse.data();
          const Real* w = s.w.data();
          for (auto k = a; k < z; ++k) g[target[k]] += v * w[synapse[k]];
          ctx.stats.synaptic_ops += z - a;
        }
        for (auto k = a; k < z; ++k) on_target(target[k], e.tag, gate_.arrive(target[k], e));
      }
    }
  }

  // g[target] += v * w[synapse] over the receivers of (source, class) in rows [lo, hi):
  // one event's receivers, each once, so their order changes nothing. Its runs of
  // consecutive targets and synapses (a convolution: one per kernel row and channel),
  // cut to the shard's rows, go four at a time. Returns the multiply-adds done.
  std::uint64_t scatter(Real v, index_t source, std::uint32_t klass, index_t lo, index_t hi, const Real* w,
                        Real* g) const {
    const std::uint64_t sc = std::uint64_t(source) * link_->fan.classes + klass;
    const run* r = runs_.data() + run_ptr_[sc];
    const run* const end = runs_.data() + run_ptr_[sc + 1];
    std::uint64_t ops = 0;
    if (lo == 0 && hi >= link_->fan.n_targets) {   // one shard: whole runs
      for (; r < end; ++r) add_scaled(v, w + r->synapse, g + r->target, r->len);
      return receivers_[sc];
    }
    for (; r < end; ++r) {
      const index_t t0 = std::max(r->target, lo), t1 = std::min(r->target + r->len, hi);
      if (t0 >= t1) continue;
      add_scaled(v, w + (r->synapse + (t0 - r->target)), g + t0, t1 - t0);
      ops += t1 - t0;
    }
    return ops;
  }
  // to[q] += v * from[q] for q < n, a short run: four at a time in one vector, then the
  // last 0..3 without a loop (each element's arithmetic is the scalar one).
  [[gnu::always_inline]] static void add_scaled(Real v, const Real* __restrict from, Real* __restrict to, index_t n) {
    typedef Real v4 __attribute__((vector_size(4 * sizeof(Real))));
    index_t q = 0;
    for (; q + 4 <= n; q += 4) {
      v4 a, b;
      std::memcpy(&a, to + q, sizeof a);
      std::memcpy(&b, from + q, sizeof b);
      a += v * b;
      std::memcpy(to + q, &a, sizeof a);
    }
    switch (n - q) {
      case 3: to[q + 2] += v * from[q + 2]; [[fallthrough]];
      case 2: to[q + 1] += v * from[q + 1]; [[fallthrough]];
      case 1: to[q] += v * from[q]; break;
      default: break;
    }
  }
  // The receivers of each (source, class) as runs of consecutive targets and synapses;
  // kept when runs average four receivers or more (else the receivers go one by one).
  void find_runs() {
    const auto& f = link_->fan;
    if (f.all_targets || f.target.empty()) return;
    std::vector<run> runs;
    std::vector<std::uint64_t> ptr{0};
    for (std::uint64_t sc = 0; sc + 1 < f.ptr.size(); ++sc) {
      for (auto k = f.ptr[sc]; k < f.ptr[sc + 1];) {
        auto e = k + 1;
        while (e < f.ptr[sc + 1] && f.target[e] == f.target[e - 1] + 1 && f.synapse[e] == f.synapse[e - 1] + 1) ++e;
        runs.push_back({f.synapse[k], f.target[k], index_t(e - k)});
        k = e;
      }
      ptr.push_back(runs.size());
      receivers_.push_back(f.ptr[sc + 1] - f.ptr[sc]);
    }
    if (4 * runs.size() > f.target.size()) {
      receivers_.clear();
      return;
    }
    runs_ = std::move(runs);
    run_ptr_ = std::move(ptr);
  }

  // A shard_counted link's emission arrives once per delay class, all with the same
  // value: its row is added at the first of them.
  bool first_of_emission(unsigned shard, index_t source, tag_t tag) {
    if (!link_->fan.shard_counted) return true;
    tag_t& last = added_[shard][source];
    if (last == tag) return false;
    last = tag;
    return true;
  }

  feedback_link<Real>* link_ = nullptr;
  fan_in_gate gate_;
  std::vector<std::vector<tag_t>> added_;   // shard_counted: per shard and sender, the step last added
  struct run {
    std::uint64_t synapse;   // of its first receiver
    index_t target, len;     // receivers target .. target + len - 1
  };
  std::vector<run> runs_;                   // by (source, class), ascending targets (find_runs)
  std::vector<std::uint64_t> run_ptr_;      // (source, class) sc's runs: run_ptr_[sc] .. run_ptr_[sc + 1] - 1
  std::vector<std::uint64_t> receivers_;    // (source, class) sc's receivers, all shards
};

}  // namespace phaseless::neurons
