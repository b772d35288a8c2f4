#include "sim/core/graph.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

#include <boost/range/iterator_range.hpp>

#include "sim/core/errors.hpp"

namespace phaseless::core {

std::uint32_t graph_builder::add_population(pop_t p, index_t size) {
  if (first_.size() != p) throw internal_error("graph_builder: populations must be added in id order");
  const auto first = static_cast<std::uint32_t>(vertices_.size());
  first_.push_back(first);
  for (index_t i = 0; i < size; ++i) vertices_.push_back({p, i});
  return first;
}

neuron_graph graph_builder::build() {
  std::sort(edges_.begin(), edges_.end(), [](const edge_spec& a, const edge_spec& b) {
    return std::tie(a.source, a.props.port, a.props.klass, a.target) <
           std::tie(b.source, b.props.port, b.props.klass, b.target);
  });
  std::vector<std::pair<std::uint32_t, std::uint32_t>> ends;
  std::vector<edge_props> props;
  ends.reserve(edges_.size());
  props.reserve(edges_.size());
  for (const auto& e : edges_) {
    ends.emplace_back(e.source, e.target);
    props.push_back(e.props);
  }
  edges_.clear();
  edges_.shrink_to_fit();
  neuron_graph g(boost::edges_are_sorted, ends.begin(), ends.end(), props.begin(),
                 static_cast<std::uint32_t>(vertices_.size()));
  for (std::uint32_t v = 0; v < vertices_.size(); ++v) g[v] = vertices_[v];
  return g;
}

fanout make_fanout(const neuron_graph& g, port_t port, std::uint32_t first_src, index_t n_src,
                   std::uint32_t first_dst, index_t n_dst, std::uint32_t classes) {
  // An event names its class in 16 bits (event.hpp); the loader caps delays far below.
  if (classes > std::uint32_t(std::numeric_limits<klass_t>::max()) + 1)
    throw internal_error("make_fanout: more delay classes than an event can name");
  fanout f;
  f.n_sources = n_src;
  f.n_targets = n_dst;
  f.classes = classes;
  f.ptr.assign(std::uint64_t(n_src) * classes + 1, 0);
  f.expected.assign(n_dst, 0);
  std::uint64_t total = 0;
  for (index_t s = 0; s < n_src; ++s) {
    for (auto e : boost::make_iterator_range(out_edges(first_src + s, g))) {
      const edge_props& p = g[e];
      if (p.port != port) continue;
      const std::uint32_t t = static_cast<std::uint32_t>(target(e, g)) - first_dst;
      if (t >= n_dst || p.klass >= classes) throw internal_error("make_fanout: edge outside the port's range");
      ++f.ptr[std::uint64_t(s) * classes + p.klass + 1];
      ++f.expected[t];
      ++total;
    }
  }
  for (std::uint64_t k = 1; k < f.ptr.size(); ++k) f.ptr[k] += f.ptr[k - 1];
  f.all_targets = classes == 1 && total == std::uint64_t(n_src) * n_dst;
  if (f.all_targets) {   // the dense single-delay case: the tables would be the identity
    f.ptr.clear();
    f.expected.clear();
    return f;
  }
  f.target.resize(total);
  f.synapse.resize(total);
  std::vector<std::uint64_t> at(f.ptr.begin(), f.ptr.end() - 1);
  for (index_t s = 0; s < n_src; ++s)
    for (auto e : boost::make_iterator_range(out_edges(first_src + s, g))) {
      const edge_props& p = g[e];
      if (p.port != port) continue;
      const std::uint64_t k = at[std::uint64_t(s) * classes + p.klass]++;
      f.target[k] = static_cast<index_t>(target(e, g) - first_dst);
      f.synapse[k] = p.synapse;
    }
  return f;
}

}  // namespace phaseless::core
