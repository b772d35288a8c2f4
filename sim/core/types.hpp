#pragma once
// Vocabulary of the kernel: integer time, ids, and the step tag that names which
// sample (and which relaxation iteration of it) a message belongs to.
#include <cstdint>

namespace phaseless::core {

using tick_t = std::int64_t;     // simulated time; integers only, so order never depends on rounding
using index_t = std::uint32_t;   // neuron index within its population
using pop_t = std::uint32_t;     // population id
using port_t = std::uint32_t;    // global id of an input port (a population's mailbox for one kind of message)
using out_t = std::uint32_t;     // global id of an output port (an axon bundle)
using klass_t = std::uint16_t;   // delay class of one sender's fan-out on one port (at most one per distinct delay)

// A tag orders the work of a sample: sample-major, iteration-minor, so a plain
// integer comparison tells "newer". Iterations (relaxation steps) need < 2^20.
using tag_t = std::uint64_t;
constexpr int iteration_bits = 20;
constexpr tag_t make_tag(std::uint64_t sample, std::uint32_t iteration) {
  return (sample << iteration_bits) | iteration;
}
constexpr std::uint64_t tag_sample(tag_t t) { return t >> iteration_bits; }
constexpr std::uint32_t tag_iteration(tag_t t) {
  return static_cast<std::uint32_t>(t & ((tag_t{1} << iteration_bits) - 1));
}
constexpr tag_t no_tag = ~tag_t{0};   // "nothing received yet"; compares as older via tag_newer

// True when a is a newer step than b (no_tag is older than everything).
constexpr bool tag_newer(tag_t a, tag_t b) { return b == no_tag ? a != no_tag : (a != no_tag && a > b); }

// Which kind of arithmetic a run uses.
enum class precision_kind { f32, f64 };

// DESIGN R4: how a neuron decides to react.
enum class mode_kind {
  dataflow,   // when it holds, for the current step, a message from every input it expects
  eager       // to whatever has arrived
};

}  // namespace phaseless::core
