#include "sim/baseline/levelling.hpp"

#include <algorithm>
#include <string>

#include "sim/baseline/zil_schedule.hpp"

namespace phaseless::baseline {

namespace {

// Identity relay synapses: row i reads pre neuron i with weight 1.
synapse_matrix<double> one_to_one(const std::string& name, index_t n) {
  synapse_matrix<double> s;
  s.name = name;
  s.n_pre = s.n_post = n;
  s.dense = false;
  for (index_t i = 0; i <= n; ++i) s.row_ptr.push_back(i);
  for (index_t i = 0; i < n; ++i) s.col.push_back(i);
  s.w.assign(n, 1.0);
  return s;
}

}  // namespace

network_spec level(const network_spec& spec) {
  network_spec out = spec;
  const auto L = distance_to_output(spec, distance_kind::longest);
  const std::size_t n_proj = spec.projections.size();
  for (std::size_t k = 0; k < n_proj; ++k) {
    const pop_t u = spec.projections[k].pre, c = spec.projections[k].post;
    if (u == spec.input || L[u] < 0 || L[u] - L[c] <= 1) continue;
    const auto& pu = spec.populations[u];
    pop_t from = u;
    for (int r = 1; r < L[u] - L[c]; ++r) {
      const std::string name = pu.name + "~" + spec.populations[c].name + "#" + std::to_string(r);
      population_spec relay;
      relay.name = name;
      relay.size = pu.size;
      const pop_t id = static_cast<pop_t>(out.populations.size());
      out.populations.push_back(relay);
      projection_spec in;
      in.name = name + ":in";
      in.pre = from;
      in.post = id;
      in.syn = one_to_one(in.name, pu.size);
      in.forward.class_delay = {1};
      in.backward.class_delay = {1};
      in.plastic = false;
      out.projections.push_back(std::move(in));
      from = id;
    }
    out.projections[k].pre = from;
  }
  out.topo = topological_order(out);
  return out;
}

}  // namespace phaseless::baseline
