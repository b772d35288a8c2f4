#pragma once
// A message in flight. One event stands for one emission of one neuron to the part
// of its fan-out on one input port that shares a delay (its "delay class"): never
// one event per synapse. A frame (count > 1) carries the emissions of the senders
// source .. source + count - 1 of one shard, port, delay class and tick, in source
// order; their values sit in the bucket's payload from offset `first` (value_of).
#include <tuple>

#include "sim/core/types.hpp"

namespace phaseless::core {

struct event {
  tick_t tick;            // delivery time
  port_t port;            // target input port (identifies the target population)
  index_t source;         // sender, index within its population
  klass_t klass;          // delay class: which subset of the sender's fan-out on this port
  std::uint16_t marker;   // 1: sigma-delta step markers, not messages (sim/neurons/sigma_delta.hpp):
                          // they keep the step structure but are not counted, lost, late or rounded
  std::uint32_t repeat;   // 0: the sender's first message of this step on this port; >0: a
                          // refinement (eager mode). Dataflow gates count first messages only.
  tick_t seq;             // sender's emission tick: orders two emissions of one sender
  tag_t tag;              // sample/iteration the payload belongs to
  double value;           // graded payload (float payloads are carried exactly)
  std::uint32_t count = 1;   // senders carried (frame: > 1)
  std::uint32_t first = 0;   // frame: offset of its values in the payload
};

// Every event is copied a few times on its way (outbox, calendar, bucket): keep it at
// seven words (klass is 16 bits so that the marker fits without growing it).
static_assert(sizeof(event) == 56, "event grew: the delivery path copies every event");

// The value sent by sender e.source + q (q < e.count); `payload` is the delivering
// bucket's (shard_context::payload).
inline double value_of(const event& e, const double* payload, std::uint32_t q) {
  return e.count == 1 ? e.value : payload[e.first + q];
}

// DESIGN R2: the one total order, (tick, target port, source, seq). It never looks
// at which shard or thread produced the event, so delivery order is decomposition
// independent. (klass is implied: one emission has one tick per class.) Frames of one
// port hold disjoint source ranges, so ordering them by their first source keeps
// every sender in this order.
inline bool event_before(const event& a, const event& b) {
  return std::tie(a.tick, a.port, a.source, a.seq) < std::tie(b.tick, b.port, b.source, b.seq);
}

}  // namespace phaseless::core
