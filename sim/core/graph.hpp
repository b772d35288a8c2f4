#pragma once
// The neuron graph: every neuron is a vertex of a Boost.Graph compressed sparse
// row graph, every synapse (forward or feedback) an edge. Vertices of a population
// are contiguous; the out-edges of a vertex are contiguous and sorted by (input
// port, delay class, target), which is what makes delivering one event one tight
// loop over a slice. The delivery tables (fanout) are derived from it.
#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <cstdint>
#include <vector>

#include "sim/core/fanout.hpp"

namespace phaseless::core {

struct vertex_props {
  pop_t pop = 0;
  index_t index = 0;
};

struct edge_props {
  port_t port = 0;            // the input port at the target this synapse delivers to
  std::uint32_t klass = 0;    // delay class on that port
  std::uint64_t synapse = 0;  // index into the projection's synapse_matrix (shared by tied edges)
};

using neuron_graph = boost::compressed_sparse_row_graph<boost::directedS, vertex_props, edge_props,
                                                        boost::no_property, std::uint32_t, std::uint64_t>;

struct edge_spec {
  std::uint32_t source, target;   // global vertex ids
  edge_props props;
};

class graph_builder {
 public:
  // Populations get contiguous vertex ranges in the order they are added.
  std::uint32_t add_population(pop_t p, index_t size);
  std::uint32_t first_vertex(pop_t p) const { return first_.at(p); }
  void add_edge(std::uint32_t source, std::uint32_t target, const edge_props& e) { edges_.push_back({source, target, e}); }
  std::size_t edge_count() const { return edges_.size(); }
  // Sorts the edges and builds the CSR graph (consumes the edge list).
  neuron_graph build();

 private:
  std::vector<std::uint32_t> first_;
  std::vector<vertex_props> vertices_;
  std::vector<edge_spec> edges_;
};

// Delivery table of input port `port` for events from population (first_src,
// n_src) to population (first_dst, n_dst), with `classes` delay classes.
fanout make_fanout(const neuron_graph& g, port_t port, std::uint32_t first_src, index_t n_src,
                   std::uint32_t first_dst, index_t n_dst, std::uint32_t classes);

}  // namespace phaseless::core
