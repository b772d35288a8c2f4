#pragma once
// A network as both engines consume it: populations, projections with their
// initial weights and per-synapse delays, the learning rule's parameters. Built by
// sim/io from a model file; the event engine (sim/rules) and the synchronous
// baselines (sim/baseline) each take their own copy, so they start identical.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/activation.hpp"
#include "sim/core/synapses.hpp"

namespace phaseless::core {

enum class role_kind { input, hidden, output };
enum class loss_kind { softmax_ce, mse };
enum class feedback_kind { symmetric, none };

struct population_spec {
  std::string name;
  role_kind role = role_kind::hidden;
  index_t size = 0;
  activation_kind activation = activation_kind::identity;
  bool bias = false;
  std::vector<double> b;          // initial bias (size entries when bias)
};

struct delay_spec {
  std::vector<tick_t> class_delay;     // the distinct delays, ascending
  std::vector<std::uint8_t> klass;     // per synapse (in synapse_matrix order); empty: all class 0
  tick_t max() const { return class_delay.empty() ? 1 : class_delay.back(); }
};

struct projection_spec {
  std::string name;
  pop_t pre = 0, post = 0;
  synapse_matrix<double> syn;          // initial weights, post-major
  delay_spec forward;                  // pre -> post activity
  feedback_kind feedback = feedback_kind::symmetric;
  delay_spec backward;                 // post -> pre errors (per synapse of syn)
};

struct learning_spec {
  std::string rule = "zil";            // registry key
  loss_kind loss = loss_kind::softmax_ce;
  double lr = 0.01;
  double gamma = 1.0;                  // Z-IL inference rate
  std::uint32_t batch = 1;             // synapses apply their updates every `batch` samples
  double threshold = 0;                // eager: emit when the change exceeds this
};

struct network_spec {
  std::vector<population_spec> populations;
  std::vector<projection_spec> projections;   // in topological order of their post population
  learning_spec learning;
  pop_t input = 0, output = 0;
  std::vector<pop_t> topo;                    // populations in topological order (input first)
};

}  // namespace phaseless::core
