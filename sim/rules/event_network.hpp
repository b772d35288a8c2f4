#pragma once
// A network_spec made into neurons on the event engine: the data source, the
// input population, and one learning population per hidden/output population
// from the rule registry, wired both ways (activity up, errors down), with every
// neuron a vertex and every synapse an edge of the neuron graph.
//
// Samples do not overlap: sample s is presented at tick s * interval, and the
// interval is at least the critical path (forward wave, error wave, timers), so
// `run_samples(n)` leaves the network quiescent with n samples fully learned.
#include <memory>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/graph.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/neurons/learning_population.hpp"
#include "sim/neurons/wiring.hpp"
#include "sim/rules/tie_population.hpp"

namespace phaseless::rules {

using namespace phaseless::core;

// Longest time, in ticks, from a presentation to the last local action it causes,
// for rules with one forward wave and one error wave (Z-IL, FA): clamp, forward
// along the slowest path, lateral softmax, errors back along the slowest path, timer.
tick_t wave_critical_path(const network_spec& spec);
// The critical path of the spec's rule (from the registry).
tick_t critical_path(const network_spec& spec);
// Ticks after which a learning population's timer fires: once every error it sent
// has been delivered, plus one window, so no row is written while another shard reads it.
tick_t timer_delay(const network_spec& spec, pop_t v);

// What an engine input port carries, for an observer of the run (recording inside a
// sample): messages between neurons, or the network's own machinery (timers, tie groups).
enum class port_kind : std::uint8_t { activity, error, clamp, target, lateral, internal };
struct port_role {
  port_kind kind = port_kind::internal;
  pop_t source = ~pop_t{0};          // spec population of the senders; ~0: the data source
  pop_t target = ~pop_t{0};          // spec population of the receivers
  const channel* noise = nullptr;    // the link's jitter and loss (channel::drops), or none
};

// `threads`: the shards every population is split into, one thread each (io::run
// chooses it with core::auto_shards unless told).
template <class Real>
class event_network {
 public:
  event_network(const network_spec& spec, const dataset& train, std::vector<std::uint64_t> order, tick_t interval,
                mode_kind mode, unsigned threads);
  ~event_network();

  void run_samples(std::uint64_t n);   // until the first n samples of the stream are complete
  std::uint64_t samples_done() const { return done_; }
  tick_t now() const { return engine_->now(); }
  counters totals() const { return engine_->totals(); }
  double parallel_share() const { return engine_->parallel_share(); }
  std::size_t graph_vertices() const { return num_vertices(graph_); }
  std::size_t graph_edges() const { return num_edges(graph_); }

  std::vector<synapse_matrix<Real>>& synapses() { return syn_; }   // by projection
  std::vector<Real>& bias(pop_t spec_pop);                          // by spec population (hidden/output)
  const std::vector<Real>* shared(std::size_t tie) const {          // a tie group's parameters (or null)
    return ties_.at(tie) ? &ties_[tie]->group().theta() : nullptr;
  }
  neurons::learning_population<Real>* learner(pop_t spec_pop) { return learners_[spec_pop]; }

  const std::vector<port_role>& port_roles() const { return roles_; }   // by engine port id
  void observe(observer* o) { engine_->observe(o); }
  tick_t interval() const { return interval_; }
  double take_loss();                                               // output loss since the last call

 private:
  // The constructor's steps, in order (event_network.cpp).
  struct build;
  void add_populations(build& b);
  void add_links(build& b);
  void add_source_and_timers(build& b);
  void connect(build& b);
  void make_delivery_tables(build& b);
  void name_port_roles(const build& b);
  void make_models(build& b, std::vector<std::uint64_t> order);

  const network_spec& spec_;
  tick_t interval_;
  std::uint64_t done_ = 0;
  std::uint64_t total_;
  std::unique_ptr<executor> exec_;
  std::unique_ptr<engine> engine_;
  neuron_graph graph_;
  std::vector<synapse_matrix<Real>> syn_;
  std::vector<synapse_matrix<Real>> feedback_syn_;   // by projection: B of random feedback (else empty)
  std::vector<synapse_matrix<Real>> jac_;            // by projection into a bilinear/softmax vertex (else empty)
  std::vector<std::unique_ptr<neurons::forward_link<Real>>> fwd_links_;
  std::vector<std::unique_ptr<neurons::feedback_link<Real>>> back_links_;
  std::unique_ptr<fanout> lateral_fan_;
  std::vector<std::unique_ptr<channel>> channels_;            // unreliable links (jitter, loss), by creation
  std::vector<std::unique_ptr<population_model>> models_;
  std::vector<neurons::learning_population<Real>*> learners_;   // by spec population; null for input
  std::vector<port_role> roles_;
  std::vector<tie_population<Real>*> ties_;                      // by spec tie; null when nothing learns it
};

}  // namespace phaseless::rules
