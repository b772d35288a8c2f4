#include "sim/neurons/input_population.hpp"

#include <algorithm>

namespace phaseless::neurons {

input_population::input_population(const population_spec& spec, const dataset* data, out_t activity_out,
                                   unsigned shards)
    : data_(data),
      f_(spec.activation),
      activity_out_(activity_out),
      row_(shards, 0),
      tag_(shards, no_tag),
      pending_(shards, 0) {
  values_.assign(shards, {});
}

void input_population::deliver(std::uint32_t, std::span<const event> events, shard_context& ctx) {
  for (const event& e : events) {   // only the clamp port exists
    row_[ctx.shard] = static_cast<std::uint64_t>(e.value);
    tag_[ctx.shard] = e.tag;
    pending_[ctx.shard] = 1;
  }
}

void input_population::react(shard_context& ctx) {
  if (!pending_[ctx.shard]) return;
  pending_[ctx.shard] = 0;
  const auto x = data_->sample(row_[ctx.shard]);
  const tag_t tag = tag_[ctx.shard];
  // A clamped neuron speaks exactly once per sample, in both modes: its first message
  // of a step is what lets receivers count their inputs (R4). The shard's neurons
  // speak in the same tick, so their messages travel as one frame, in neuron order.
  auto& y = values_[ctx.shard];
  y.resize(ctx.hi - ctx.lo);
  if (f_ == activation_kind::identity)   // the usual clamp: a plain copy, no switch per pixel
    std::copy(x.begin() + ctx.lo, x.begin() + ctx.hi, y.begin());
  else
    for (index_t i = ctx.lo; i < ctx.hi; ++i) y[i - ctx.lo] = activate<double>(f_, x[i]);
  ctx.stats.reactions += ctx.hi - ctx.lo;
  if (ctx.hi > ctx.lo) ctx.out.emit_values(activity_out_, ctx.lo, tag, y.data(), ctx.hi - ctx.lo);
}

}  // namespace phaseless::neurons
