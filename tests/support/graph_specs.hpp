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
  // Sparse rows (pre indices, ascending per row). With `tie` (a name), the synapses
  // share the weights of a new tie_spec of `params` entries: synapse s uses param(i, j)
  // for row i's j-th synapse; without, every weight is `fixed_weight` and fixed.
  template <class Param>
  void rows(pop_t pre, pop_t post, const std::vector<std::vector<index_t>>& cols, const std::string& tie,
            std::size_t params, Param&& param, double fixed_weight = 1.0) {
    auto& p = add(pre, post);
    p.syn.dense = false;
    p.syn.row_ptr.push_back(0);
    for (index_t i = 0; i < p.syn.n_post; ++i) {
      for (std::size_t j = 0; j < cols[i].size(); ++j) {
        p.syn.col.push_back(cols[i][j]);
        if (!tie.empty()) p.param.push_back(static_cast<std::uint32_t>(param(i, j)));
      }
      p.syn.row_ptr.push_back(p.syn.col.size());
    }
    if (tie.empty()) {
      p.syn.w.assign(p.syn.col.size(), fixed_weight);
      p.plastic = false;
    } else {
      tie_spec t;
      t.name = tie;
      const double a = 1.5 / std::sqrt(double(cols[0].size()));
      for (std::size_t k = 0; k < params; ++k) t.theta.push_back(rng_.uniform(-a, a));
      p.tie = static_cast<int>(s_.ties.size());
      for (auto q : p.param) p.syn.w.push_back(t.theta[q]);
      s_.ties.push_back(std::move(t));
    }
    delays(p);
  }
  void set_name(pop_t pre, pop_t post, const std::string& name) {
    for (auto& p : s_.projections)
      if (p.pre == pre && p.post == post) p.name = p.syn.name = name;
  }

  network_spec finish(loss_kind loss, double lr, std::uint32_t batch, double gamma = 1.0) {
    s_.topo = topological_order(s_);
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

// Single-head attention over T = 3 tokens of 4 features (spec Z6), the layout of
// tools/make_zil_graph_reference.py case_attention: token t's features x[4t .. 4t+3];
// q, k, v = per-token maps shared by the tokens (ties "wq", "wk", "wv": q[4t + j] =
// sum_c wq[j][c] x[4t + c]); S[3t + u] = q_t . k_u / 2 (bilinear); A = softmax over each
// row of S; z[4t + j] = sum_u A[3t + u] v[4u + j] (bilinear); out = wo z + b.
inline network_spec make_attention(std::uint64_t seed, tick_t delay_min, tick_t delay_max) {
  constexpr index_t T = 3, D = 4;
  graph_spec g(seed, delay_min, delay_max);
  const auto id = activation_kind::identity;
  const pop_t in = g.pop("in", T * D, role_kind::input, id, false);
  pop_t qkv[3];
  const char* names[3] = {"q", "k", "v"};
  for (int m = 0; m < 3; ++m) qkv[m] = g.pop(names[m], T * D, role_kind::hidden, id, false);
  const pop_t S = g.pop("S", T * T, role_kind::hidden, id, false, combine_kind::bilinear);
  const pop_t A = g.pop("A", T * T, role_kind::hidden, id, false, combine_kind::softmax);
  const pop_t z = g.pop("z", T * D, role_kind::hidden, id, false, combine_kind::bilinear);
  const pop_t out = g.pop("out", 3, role_kind::output, id, true);
  std::vector<std::vector<index_t>> token(T * D);   // row 4t + j reads x[4t .. 4t + 3]
  for (index_t t = 0; t < T; ++t)
    for (index_t j = 0; j < D; ++j)
      for (index_t c = 0; c < D; ++c) token[t * D + j].push_back(t * D + c);
  const char* ties[3] = {"wq", "wk", "wv"};
  for (int m = 0; m < 3; ++m)
    g.rows(in, qkv[m], token, ties[m], D * D, [&](index_t i, std::size_t c) { return (i % D) * D + c; });
  std::vector<std::vector<index_t>> q_rows(T * T), k_rows(T * T), s_rows(T * T), a_rows(T * D), v_rows(T * D);
  for (index_t t = 0; t < T; ++t)
    for (index_t u = 0; u < T; ++u)
      for (index_t j = 0; j < D; ++j) {
        q_rows[t * T + u].push_back(t * D + j);
        k_rows[t * T + u].push_back(u * D + j);
      }
  for (index_t t = 0; t < T; ++t)
    for (index_t u = 0; u < T; ++u)
      for (index_t w = 0; w < T; ++w) s_rows[t * T + u].push_back(t * T + w);
  for (index_t t = 0; t < T; ++t)
    for (index_t j = 0; j < D; ++j)
      for (index_t u = 0; u < T; ++u) {
        a_rows[t * D + j].push_back(t * T + u);
        v_rows[t * D + j].push_back(u * D + j);
      }
  auto none = [](index_t, std::size_t) { return 0; };
  g.rows(qkv[0], S, q_rows, "", 0, none, 0.5);   // 1 / sqrt(D)
  g.rows(qkv[1], S, k_rows, "", 0, none);
  g.rows(S, A, s_rows, "", 0, none);
  g.rows(A, z, a_rows, "", 0, none);
  g.rows(qkv[2], z, v_rows, "", 0, none);
  g.dense(z, out);
  g.set_name(z, out, "wo");
  return g.finish(loss_kind::softmax_ce, 0.1, 4);
}

}  // namespace phaseless::test
