#pragma once
// The two ways messages reach a neuron's synapses, shared by every rule.
//
// forward_input: activity from the pre population. A message only stores the
// sender's value where the receiving synapses read it (one slot per sender per
// delay class per shard: O(1) per event, never O(fan-out)); the post-neuron then
// computes its input as one dot product over its row of W when it reacts. The
// same gathered vector feeds its Hebbian update.
//
// error_input: errors from the post population, pushed through W^T at delivery:
// g[pre] += e * W[post][pre], an axpy over row `post` of W, restricted to the
// shard's rows.
#include <span>
#include <vector>

#include "sim/core/kernels.hpp"
#include "sim/neurons/wiring.hpp"

namespace phaseless::neurons {

template <class Real>
class forward_input {
 public:
  void init(forward_link<Real>& link, unsigned shards) {
    link_ = &link;
    buf_.assign(shards, std::vector<std::vector<Real>>(link.classes, std::vector<Real>(link.syn->n_pre, Real(0))));
    gate_.init(link.fan, shards);
    scratch_.assign(shards, std::vector<Real>(link.syn->n_pre));
  }
  const forward_link<Real>& link() const { return *link_; }
  fan_in_gate& gate() { return gate_; }

  // Applies one port's events. on_shard(tag, complete) is called for the dense
  // single-class case (every row saw the event); on_target(i, tag, complete) otherwise.
  template <class Shard, class Target>
  void deliver(std::span<const event> events, shard_context& ctx, Shard&& on_shard, Target&& on_target) {
    auto& b = buf_[ctx.shard];
    for (const event& e : events) {
      b[e.klass][e.source] = static_cast<Real>(e.value);
      if (gate_.shared()) {
        on_shard(e.tag, gate_.arrive_shard(ctx.shard, e));
      } else {
        auto [a, z] = link_->fan.slice(e.source, e.klass, ctx.lo, ctx.hi);
        for (auto k = a; k < z; ++k) {
          const index_t i = link_->fan.target[k];
          on_target(i, e.tag, gate_.arrive(i, e));
        }
      }
    }
  }

  // The presynaptic values post-neuron i sees, in the order of its row of W.
  const Real* pre_values(index_t i, unsigned shard) {
    const auto& s = *link_->syn;
    const auto& b = buf_[shard];
    if (s.dense && link_->classes == 1) return b[0].data();
    Real* x = scratch_[shard].data();
    const auto rb = s.row_begin(i), re = s.row_end(i);
    for (auto k = rb; k < re; ++k) x[k - rb] = b[link_->classes == 1 ? 0 : link_->klass[k]][s.pre_of(k)];
    return x;
  }

  // sum_j W[i][j] * x_j over the row, with x from pre_values.
  Real potential(index_t i, const Real* x) const {
    const auto& s = *link_->syn;
    const auto rb = s.row_begin(i);
    return kernels::dot(s.w.data() + rb, x, s.row_end(i) - rb);
  }
  std::uint64_t fan_in(index_t i) const { return link_->syn->row_end(i) - link_->syn->row_begin(i); }

 private:
  forward_link<Real>* link_ = nullptr;
  std::vector<std::vector<std::vector<Real>>> buf_;   // [shard][class][pre]
  std::vector<std::vector<Real>> scratch_;            // [shard][row length]
  fan_in_gate gate_;
};

template <class Real>
class error_input {
 public:
  void init(feedback_link<Real>& link, unsigned shards) {
    link_ = &link;
    gate_.init(link.fan, shards);
  }
  fan_in_gate& gate() { return gate_; }

  // Adds each event's error through W^T into g (indexed by this population's rows).
  template <class Shard, class Target, class Begin>
  void deliver(std::span<const event> events, shard_context& ctx, Real* g, Begin&& begin, Shard&& on_shard,
               Target&& on_target) {
    const auto& s = *link_->syn;
    for (const event& e : events) {
      const Real v = static_cast<Real>(e.value);
      if (gate_.shared()) {
        begin(ctx.lo, ctx.hi, e.tag);   // the error may be the first message of a new step (eager)
        if (v != Real(0)) {
          const auto rb = s.row_begin(e.source);
          kernels::axpy(v, s.w.data() + rb + ctx.lo, g + ctx.lo, ctx.hi - ctx.lo);
          ctx.stats.synaptic_ops += ctx.hi - ctx.lo;
        }
        on_shard(e.tag, gate_.arrive_shard(ctx.shard, e));
      } else {
        auto [a, z] = link_->fan.slice(e.source, e.klass, ctx.lo, ctx.hi);
        for (auto k = a; k < z; ++k) {
          const index_t j = link_->fan.target[k];
          begin(j, j + 1, e.tag);
          if (v != Real(0)) g[j] += v * s.w[link_->fan.synapse[k]];
          on_target(j, e.tag, gate_.arrive(j, e));
        }
        if (v != Real(0)) ctx.stats.synaptic_ops += z - a;
      }
    }
  }

 private:
  feedback_link<Real>* link_ = nullptr;
  fan_in_gate gate_;
};

}  // namespace phaseless::neurons
