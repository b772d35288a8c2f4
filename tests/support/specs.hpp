#pragma once
// Small networks built directly as network_spec (no files), with random weights
// and per-synapse delays, for reference tests of the engines.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/core/dataset.hpp"
#include "sim/core/network_spec.hpp"
#include "sim/core/rng.hpp"

namespace phaseless::test {

using namespace phaseless::core;

struct mlp_options {
  std::vector<index_t> sizes;                 // input, hidden..., output
  activation_kind hidden = activation_kind::tanh;
  loss_kind loss = loss_kind::mse;
  double lr = 0.1;
  std::uint32_t batch = 1;
  tick_t delay_min = 1, delay_max = 1;        // per-synapse uniform delays (both directions)
  std::uint64_t seed = 1;
  bool bias = true;
  double gamma = 1.0;
  bool random_feedback = false;               // feedback alignment: fixed random B per projection
  bool tie_feedback = false;                  // random feedback with B := W^T (tied, read live)
  double weight_decay = 0, lr_scale = 1;      // applied to the last projection
};

inline delay_spec random_delays(std::uint64_t n, tick_t lo, tick_t hi, counter_rng& rng) {
  delay_spec d;
  if (lo == hi) {
    d.class_delay = {lo};
    return d;
  }
  for (tick_t t = lo; t <= hi; ++t) d.class_delay.push_back(t);
  d.klass.resize(n);
  for (auto& k : d.klass) k = static_cast<std::uint8_t>(rng.below(std::uint64_t(hi - lo + 1)));
  return d;
}

inline network_spec make_mlp(const mlp_options& o) {
  network_spec s;
  counter_rng rng(o.seed, 7);
  for (std::size_t l = 0; l < o.sizes.size(); ++l) {
    population_spec p;
    p.name = std::string("p").append(std::to_string(l));
    p.size = o.sizes[l];
    p.role = l == 0 ? role_kind::input : (l + 1 == o.sizes.size() ? role_kind::output : role_kind::hidden);
    p.activation = p.role == role_kind::hidden ? o.hidden : activation_kind::identity;
    p.bias = o.bias && l > 0;
    if (p.bias)
      for (index_t i = 0; i < p.size; ++i) p.b.push_back(rng.uniform(-0.5, 0.5));
    s.populations.push_back(p);
    s.topo.push_back(static_cast<pop_t>(l));
  }
  s.input = 0;
  s.output = static_cast<pop_t>(o.sizes.size() - 1);
  for (std::size_t l = 1; l < o.sizes.size(); ++l) {
    projection_spec p;
    p.name = std::string("w").append(std::to_string(l));
    p.pre = static_cast<pop_t>(l - 1);
    p.post = static_cast<pop_t>(l);
    p.syn.name = p.name;
    p.syn.n_pre = o.sizes[l - 1];
    p.syn.n_post = o.sizes[l];
    p.syn.w.resize(std::size_t(p.syn.n_pre) * p.syn.n_post);
    const double a = 1.0 / std::sqrt(double(p.syn.n_pre));
    for (auto& w : p.syn.w) w = rng.uniform(-a, a) * 1.5;
    p.forward = random_delays(p.syn.w.size(), o.delay_min, o.delay_max, rng);
    p.feedback = l == 1 ? feedback_kind::none
                 : (o.random_feedback || o.tie_feedback) ? feedback_kind::random
                                                         : feedback_kind::symmetric;
    p.backward = random_delays(p.syn.w.size(), o.delay_min, o.delay_max, rng);
    if (p.feedback == feedback_kind::random && !o.tie_feedback) {
      p.b = p.syn;
      for (auto& w : p.b.w) w = rng.uniform(-0.5, 0.5);
    }
    if (l + 1 == o.sizes.size()) {
      p.weight_decay = o.weight_decay;
      p.lr_scale = o.lr_scale;
    }
    s.projections.push_back(p);
  }
  s.learning.loss = o.loss;
  s.learning.lr = o.lr;
  s.learning.batch = o.batch;
  s.learning.gamma = o.gamma;
  return s;
}

// n random samples: features in [0, 1), labels in [0, classes), regression targets in [-1, 1).
inline dataset make_data(std::size_t n, std::size_t cols, std::size_t classes, std::size_t target_cols,
                         std::uint64_t seed) {
  dataset d;
  counter_rng rng(seed, 11);
  d.rows = n;
  d.cols = cols;
  d.classes = classes;
  d.target_cols = target_cols;
  for (std::size_t k = 0; k < n * cols; ++k) d.x.push_back(static_cast<float>(rng.uniform()));
  for (std::size_t r = 0; r < n; ++r) d.labels.push_back(static_cast<std::uint8_t>(rng.below(classes)));
  for (std::size_t k = 0; k < n * target_cols; ++k) d.y.push_back(static_cast<float>(rng.uniform(-1, 1)));
  return d;
}

// n samples labelled by one fixed random linear teacher, argmax(T (x - 1/2)): a task
// a small student learns well above chance (the eager-mode tests).
inline dataset teacher_data(std::size_t n, std::size_t cols, std::size_t classes, std::uint64_t seed) {
  dataset d = make_data(n, cols, classes, 0, seed);
  counter_rng r(1234, 99);   // one teacher for every data seed
  std::vector<double> t(classes * cols);
  for (auto& v : t) v = r.uniform(-1, 1);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t best = 0;
    double bv = -1e300;
    for (std::size_t c = 0; c < classes; ++c) {
      double s = 0;
      for (std::size_t j = 0; j < cols; ++j) s += t[c * cols + j] * (d.x[k * cols + j] - 0.5);
      if (s > bv) bv = s, best = c;
    }
    d.labels[k] = static_cast<std::uint8_t>(best);
  }
  return d;
}

}  // namespace phaseless::test
