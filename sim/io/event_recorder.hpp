#pragma once
// Recording inside a sample (record.events): an engine observer that keeps, for the
// chosen training samples, every message delivered to the chosen populations and the
// per-tick state of the chosen neurons, and hands them to the trace (/events/<population>).
// The kernel only calls it between windows (core::observer); everything else is here.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/io/trace_writer.hpp"

namespace phaseless::io {

// record.events resolved against the built network.
struct event_request {
  std::vector<core::pop_t> populations;   // spec populations, in the model's order
  std::vector<std::uint64_t> samples;     // 0-based positions in the sample order
  std::vector<core::index_t> neurons;     // empty: the first min(size, 64) of each population
};

template <class Real>
class event_recorder final : public core::observer {
 public:
  // Attaches itself to `net` (and detaches in the destructor). Throws core::user_error
  // naming record.events when the per-tick states would exceed max_recorded_state_values.
  event_recorder(rules::event_network<Real>& net, const core::network_spec& spec, event_request req);
  ~event_recorder() override;
  event_recorder(const event_recorder&) = delete;
  event_recorder& operator=(const event_recorder&) = delete;

  bool watches(core::tick_t t) const override;
  void after_tick(core::tick_t t, std::span<const core::event> bucket, const double* payload) override;

  void declare(trace_writer& tw) const;                 // the /events tables (structure phase)
  void write(std::uint64_t done, trace_writer& tw);     // rows of the samples < done, then forgets them
  std::uint64_t messages() const { return messages_; }  // recorded so far, in all samples

  // One population's rows, as columns (integers held exactly as doubles).
  struct rows {
    core::pop_t pop = 0;
    bool state = false;                          // a learning population (the input keeps no state)
    std::vector<core::index_t> neurons;          // whose state is kept
    std::size_t width = 0;                       // neurons x elements
    std::vector<double> sample, tick, step, kind, source, neuron, value, dropped;   // messages
    std::vector<double> st_sample, st_tick, st_data;                                // states
  };
  const std::vector<rows>& recorded() const { return rows_; }

 private:
  void read_state(rows& r, std::uint64_t s, core::tick_t t);
  void fill_states(core::tick_t until);   // repeats the last state for ticks before `until`
  rules::event_network<Real>& net_;
  const core::network_spec& spec_;
  std::vector<std::uint64_t> samples_;   // sorted
  std::vector<int> slot_;                // by spec population: index in rows_, or -1
  std::vector<rows> rows_;
  std::vector<std::string> elements_;    // per rows_ entry: comma-joined element names
  core::tick_t interval_;
  std::uint64_t current_ = ~std::uint64_t{0};   // sample being recorded
  core::tick_t next_tick_ = 0;                  // first tick whose state is not yet kept
  std::uint64_t messages_ = 0;
  struct delivered {
    core::port_t port;
    core::index_t source;
    core::tick_t seq;
    std::uint32_t repeat, klass;
    core::tag_t tag;
    double value;
  };
  std::vector<delivered> tick_;   // this tick's messages to recorded populations, put in order
};

// Names for the `kind` column (index = value) and the `source` column's last entry.
inline constexpr const char* message_kind_names = "activity,error,clamp,target,lateral";

}  // namespace phaseless::io
