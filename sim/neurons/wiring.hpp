#pragma once
// What a population model is connected to. Every rule in Phaseless uses the same
// two-way wiring: activity travels pre -> post over forward synapses, errors (or
// differences, for dyads) travel post -> pre over feedback synapses; the output
// also receives targets and talks laterally (softmax); each population has a timer
// (a message to itself) for deferred, local actions.
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/core/dataset.hpp"
#include "sim/core/fanout.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/core/population.hpp"

namespace phaseless::neurons {

using namespace phaseless::core;
constexpr std::uint32_t no_port = std::numeric_limits<std::uint32_t>::max();

// An in-projection seen from its post population.
template <class Real>
struct forward_link {
  synapse_matrix<Real>* syn = nullptr;     // owned by the network; rows updated by the post population only
  fanout fan;                              // events pre -> post
  std::vector<std::uint8_t> klass;         // delay class of each synapse (empty: all 0)
  std::uint32_t classes = 1;
  std::uint32_t local_port = no_port;
  bool from_input = false;                 // the pre population is the clamped input (IL: sends once per sample)
  double lr_scale = 1;        // this projection's share of the rule's learning rate
  double weight_decay = 0;    // its l2 penalty
  bool plastic = true;        // false: fixed weights, never updated
  synapse_matrix<Real>* jac = nullptr;   // into a bilinear/softmax vertex: the post-neurons' Jacobian rows,
                                         // written at their forward step, read by the errors going back
  Real* tie_grad = nullptr;   // shared weights: the tie group's buffer for this link's eps * x_pre
                              // (rules/tie_group.hpp); the post population never writes the row itself
};

// An out-projection seen from its pre population: errors come back through it.
template <class Real>
struct feedback_link {
  const synapse_matrix<Real>* syn = nullptr;   // W of the projection (W^T is read by rows)
  fanout fan;                                  // events post -> pre
  std::uint32_t local_port = no_port;
};

template <class Real>
struct population_wiring {
  pop_t id = 0;
  const population_spec* spec = nullptr;
  const learning_spec* learning = nullptr;
  mode_kind mode = mode_kind::dataflow;
  unsigned shards = 1;
  const dataset* data = nullptr;            // training data (targets for the output)
  std::vector<forward_link<Real>*> in;      // in-projections
  std::vector<feedback_link<Real>*> back;   // out-projections that send errors back
  out_t activity_out = ~out_t{0};           // to children's forward ports
  out_t error_out = ~out_t{0};              // to parents' feedback ports (none if no parent learns from it)
  std::vector<out_t> link_error_out;        // product vertex: one error port per in-link (each parent gets
                                            // eps times the other factors); empty otherwise
  out_t done_out = ~out_t{0};               // to tie groups: "my contribution of this sample is in"
  Real* bias_tie_grad = nullptr;            // shared bias: the tie group's eps buffer
  out_t timer_out = ~out_t{0};
  out_t lateral_out = ~out_t{0};            // output only (softmax)
  std::uint32_t timer_port = no_port, target_port = no_port, lateral_port = no_port, clamp_port = no_port;
  const fanout* lateral_fan = nullptr;
  std::vector<std::uint32_t> fan_out;       // per neuron: synapses its activity reaches (sigma-delta counts)
  std::uint64_t samples_total = 0;          // length of the training stream (for the last partial batch)
};

}  // namespace phaseless::neurons
