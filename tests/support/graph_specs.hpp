#pragma once
// Small computational graphs built directly as network_spec (no model file), with
// random weights and per-synapse delays, for the Z-IL graph tests: populations and
// projections are added one by one; finish() computes the topological order.
#include <string>
#include <vector>

#include "tests/support/specs.hpp"

namespace phaseless::test {

class graph_spec {
 public:
  graph_spec(std::uint64_t seed, tick_t delay_min, tick_t delay_max)
      : rng_(seed, 13), lo_(delay_min), hi_(delay_max) {}

  pop_t pop(const std::string& name, index_t size, role_kind role, activation_kind f, bool bias,
            combine_kind combine = combine_kind::sum) {
    population_spec p;
    p.name = name;
    p.size = size;
    p.role = role;
    p.activation = f;
    p.bias = bias;
    p.combine = combine;
    if (bias)
      for (index_t i = 0; i < size; ++i) p.b.push_back(rng_.uniform(-0.5, 0.5));
    const pop_t id = static_cast<pop_t>(s_.populations.size());
    if (role == role_kind::input) s_.input = id;
    if (role == role_kind::output) s_.output = id;
    s_.populations.push_back(std::move(p));
    return id;
  }
  // Dense, learned.
  void dense(pop_t pre, pop_t post) {
    auto& p = add(pre, post);
    p.syn.w.resize(std::size_t(p.syn.n_pre) * p.syn.n_post);
    const double a = 1.5 / std::sqrt(double(p.syn.n_pre));
    for (auto& w : p.syn.w) w = rng_.uniform(-a, a);
    delays(p);
  }
  // One-to-one with fixed weight 1: an identity edge (residual skip, product input).
  void identity(pop_t pre, pop_t post) {
    auto& p = add(pre, post);
    p.syn.dense = false;
    for (index_t i = 0; i <= p.syn.n_post; ++i) p.syn.row_ptr.push_back(i);
    for (index_t i = 0; i < p.syn.n_post; ++i) p.syn.col.push_back(i);
    p.syn.w.assign(p.syn.n_post, 1.0);
    p.plastic = false;
    delays(p);
  }
  network_spec finish(loss_kind loss, double lr, std::uint32_t batch, double gamma = 1.0) {
    const std::size_t n = s_.populations.size();
    std::vector<int> indeg(n, 0);
    for (const auto& p : s_.projections) ++indeg[p.post];
    std::vector<char> done(n, 0);
    while (s_.topo.size() < n) {
      pop_t v = 0;
      while (done[v] || indeg[v]) ++v;
      done[v] = 1;
      s_.topo.push_back(v);
      for (const auto& p : s_.projections)
        if (p.pre == v) --indeg[p.post];
    }
    s_.learning.loss = loss;
    s_.learning.lr = lr;
    s_.learning.batch = batch;
    s_.learning.gamma = gamma;
    return s_;
  }

 private:
  projection_spec& add(pop_t pre, pop_t post) {
    projection_spec p;
    p.name = s_.populations[pre].name + "->" + s_.populations[post].name;
    p.pre = pre;
    p.post = post;
    p.syn.name = p.name;
    p.syn.n_pre = s_.populations[pre].size;
    p.syn.n_post = s_.populations[post].size;
    p.feedback = pre == s_.input ? feedback_kind::none : feedback_kind::symmetric;
    s_.projections.push_back(std::move(p));
    return s_.projections.back();
  }
  void delays(projection_spec& p) {
    p.forward = random_delays(p.syn.w.size(), lo_, hi_, rng_);
    p.backward = random_delays(p.syn.w.size(), lo_, hi_, rng_);
  }
  network_spec s_;
  counter_rng rng_;
  tick_t lo_, hi_;
};

// out = W3 f(W2 f(x1)) + f(x1): h1 has paths of length 1 and 2 to the output
// (spec Z4); MSE.
inline network_spec make_residual(std::uint64_t seed, tick_t delay_min, tick_t delay_max, double gamma = 1.0) {
  graph_spec g(seed, delay_min, delay_max);
  const pop_t in = g.pop("in", 6, role_kind::input, activation_kind::identity, false);
  const pop_t h1 = g.pop("h1", 4, role_kind::hidden, activation_kind::tanh, true);
  const pop_t h2 = g.pop("h2", 4, role_kind::hidden, activation_kind::tanh, true);
  const pop_t out = g.pop("out", 4, role_kind::output, activation_kind::identity, true);
  g.dense(in, h1);
  g.dense(h1, h2);
  g.dense(h2, out);
  g.identity(h1, out);
  return g.finish(loss_kind::mse, 0.1, 4, gamma);
}

// out = W (f(Wa x) * g(Wb x)): a multiplicative vertex p; softmax cross-entropy.
inline network_spec make_product(std::uint64_t seed, tick_t delay_min, tick_t delay_max) {
  graph_spec g(seed, delay_min, delay_max);
  const pop_t in = g.pop("in", 6, role_kind::input, activation_kind::identity, false);
  const pop_t a = g.pop("a", 4, role_kind::hidden, activation_kind::tanh, true);
  const pop_t b = g.pop("b", 4, role_kind::hidden, activation_kind::sigmoid, true);
  const pop_t p = g.pop("p", 4, role_kind::hidden, activation_kind::identity, false, combine_kind::product);
  const pop_t out = g.pop("out", 3, role_kind::output, activation_kind::identity, true);
  g.dense(in, a);
  g.dense(in, b);
  g.identity(a, p);
  g.identity(b, p);
  g.dense(p, out);
  return g.finish(loss_kind::softmax_ce, 0.1, 4);
}

}  // namespace phaseless::test
