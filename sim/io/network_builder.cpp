#include "sim/io/network_builder.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "sim/core/errors.hpp"
#include "sim/core/rng.hpp"
#include "sim/rules/event_network.hpp"

namespace phaseless::io {

using namespace phaseless::core;
namespace pb = phaseless::v1;

namespace {

activation_kind to_activation(pb::Activation a) {
  switch (a) {
    case pb::RELU: return activation_kind::relu;
    case pb::TANH: return activation_kind::tanh;
    case pb::SIGMOID: return activation_kind::sigmoid;
    default: return activation_kind::identity;
  }
}

role_kind to_role(pb::Role r) {
  return r == pb::INPUT ? role_kind::input : r == pb::OUTPUT ? role_kind::output : role_kind::hidden;
}

std::uint64_t stream_seed(const pb::WeightInit& init, std::uint64_t model_seed, const std::string& what) {
  return init.seed() ? init.seed() : mix64(model_seed ^ hash_name(what));
}

double draw(const pb::WeightInit& init, counter_rng& rng, double fan_in, double fan_out) {
  switch (init.law()) {
    case pb::NORMAL: return init.scale() * rng.normal();
    case pb::UNIFORM: return rng.uniform(-init.scale(), init.scale());
    case pb::CONSTANT: return init.scale();
    case pb::XAVIER_UNIFORM: {
      const double a = (init.scale() == 0 ? 1.0 : init.scale()) * std::sqrt(6.0 / (fan_in + fan_out));
      return rng.uniform(-a, a);
    }
    default: {   // UNIFORM_FAN_IN, the PyTorch nn.Linear default
      const double a = 1.0 / std::sqrt(std::max(fan_in, 1.0));
      return rng.uniform(-a, a);
    }
  }
}

// Per-synapse delays in synapse order; distinct values become delay classes.
delay_spec draw_delays(const pb::Delay& d, std::uint64_t n, std::uint64_t seed) {
  delay_spec out;
  if (!d.has_uniform() || d.uniform().min() == d.uniform().max()) {
    out.class_delay = {static_cast<tick_t>(d.has_uniform() ? d.uniform().min() : d.constant().ticks())};
    return out;
  }
  counter_rng rng(seed, 0);
  const std::uint64_t lo = d.uniform().min(), span = d.uniform().max() - lo + 1;
  std::vector<std::uint32_t> raw(n);
  std::set<std::uint32_t> seen;
  for (auto& r : raw) seen.insert(r = static_cast<std::uint32_t>(lo + rng.below(span)));
  out.class_delay.assign(seen.begin(), seen.end());
  std::map<std::uint32_t, std::uint8_t> klass;
  for (auto v : seen) klass[v] = static_cast<std::uint8_t>(klass.size());
  out.klass.resize(n);
  for (std::uint64_t k = 0; k < n; ++k) out.klass[k] = klass[raw[k]];
  if (out.class_delay.size() == 1) out.klass.clear();
  return out;
}

std::vector<pop_t> topological_order(const pb::Model& m, const std::map<std::string, pop_t>& id) {
  const std::size_t n = m.populations_size();
  std::vector<int> indeg(n, 0);
  for (const auto& p : m.projections()) ++indeg[id.at(p.post())];
  std::vector<pop_t> order;
  std::vector<char> done(n, 0);
  while (order.size() < n) {   // Kahn's algorithm, lowest id first: deterministic
    pop_t pick = static_cast<pop_t>(n);
    for (pop_t v = 0; v < n; ++v)
      if (!done[v] && indeg[v] == 0) {
        pick = v;
        break;
      }
    if (pick == n) throw user_error("the population graph has a cycle");   // validation reports which
    done[pick] = 1;
    order.push_back(pick);
    for (const auto& p : m.projections())
      if (id.at(p.pre()) == pick) --indeg[id.at(p.post())];
  }
  return order;
}

}  // namespace

network_spec build_network_spec(const pb::Model& m) {
  network_spec spec;
  std::map<std::string, pop_t> id;
  for (const auto& p : m.populations()) {
    const pop_t v = static_cast<pop_t>(spec.populations.size());
    id[p.name()] = v;
    population_spec ps;
    ps.name = p.name();
    ps.role = to_role(p.role());
    ps.size = p.size();
    ps.activation = to_activation(p.activation());
    ps.bias = p.bias();
    if (ps.role == role_kind::input) spec.input = v;
    if (ps.role == role_kind::output) spec.output = v;
    spec.populations.push_back(std::move(ps));
  }
  spec.topo = topological_order(m, id);
  for (const auto& p : m.projections()) {
    projection_spec ps;
    ps.name = p.name();
    ps.pre = id.at(p.pre());
    ps.post = id.at(p.post());
    auto& s = ps.syn;
    s.name = p.name();
    s.n_pre = spec.populations[ps.pre].size;
    s.n_post = spec.populations[ps.post].size;
    s.dense = !p.has_sparse();
    if (!s.dense) {   // each possible synapse exists with probability p, its own stream
      counter_rng mask(mix64(m.seed() ^ hash_name("mask:" + p.name())), 0);
      s.row_ptr.push_back(0);
      for (index_t i = 0; i < s.n_post; ++i) {
        for (index_t j = 0; j < s.n_pre; ++j)
          if (mask.uniform() < p.sparse().p()) s.col.push_back(j);
        s.row_ptr.push_back(s.col.size());
      }
    }
    const std::uint64_t n = s.dense ? std::uint64_t(s.n_post) * s.n_pre : s.col.size();
    s.w.resize(n);
    counter_rng rng(stream_seed(p.init(), m.seed(), "weights:" + p.name()), 0);
    for (index_t i = 0; i < s.n_post; ++i) {
      const double fan_in = double(s.row_end(i) - s.row_begin(i));
      for (auto k = s.row_begin(i); k < s.row_end(i); ++k) s.w[k] = draw(p.init(), rng, fan_in, s.n_post);
    }
    auto& post = spec.populations[ps.post];
    if (post.bias && post.b.empty()) {   // the first in-projection initializes the bias, as nn.Linear does
      const auto& bi = p.has_bias_init() ? p.bias_init() : p.init();
      counter_rng brng(stream_seed(bi, m.seed(), "bias:" + p.name()) ^ 0x5bd1e995u, 0);
      post.b.resize(post.size);
      for (auto& b : post.b) b = draw(bi, brng, double(s.n_pre), s.n_post);
    }
    ps.forward = draw_delays(p.delay(), n, mix64(m.seed() ^ hash_name("delay:" + p.name())));
    ps.feedback = p.feedback().kind() == pb::NONE     ? feedback_kind::none
                  : p.feedback().kind() == pb::RANDOM ? feedback_kind::random
                                                      : feedback_kind::symmetric;
    if (ps.feedback == feedback_kind::random && !p.feedback().tie_to_forward()) {
      // B: the layout of W (row i = post i's feedback synapses), its own stream, never trained.
      ps.b = s;
      counter_rng brng(stream_seed(p.feedback().init(), m.seed(), "feedback:" + p.name()), 0);
      for (index_t i = 0; i < s.n_post; ++i) {
        const double fan_in = double(s.row_end(i) - s.row_begin(i));
        for (auto k = s.row_begin(i); k < s.row_end(i); ++k) ps.b.w[k] = draw(p.feedback().init(), brng, fan_in, s.n_post);
      }
    }
    ps.lr_scale = p.lr_scale() == 0 ? 1.0 : p.lr_scale();
    ps.weight_decay = p.weight_decay();
    ps.backward = draw_delays(p.feedback().delay(), n, mix64(m.seed() ^ hash_name("feedback-delay:" + p.name())));
    spec.projections.push_back(std::move(ps));
  }
  for (auto& ps : spec.populations)
    if (ps.bias && ps.b.empty()) ps.b.assign(ps.size, 0.0);
  auto& L = spec.learning;
  L.loss = m.rule().loss() == pb::MSE ? loss_kind::mse : loss_kind::softmax_ce;
  L.batch = m.schedule().batch_size();
  L.threshold = m.execution().threshold();
  if (m.rule().has_zil()) {
    L.rule = "zil";
    L.lr = m.rule().zil().lr();
    L.gamma = m.rule().zil().gamma();
  }
  if (m.rule().has_il()) {   // defaults already applied by the loader (spec pc-family.md §5)
    const auto& r = m.rule().il();
    L.rule = "il";
    L.lr = r.lr();
    L.il.iterations = r.iterations();
    L.il.gamma_top = r.gamma_top();
    L.il.gamma_bot = r.gamma_bot();
    L.il.gamma_dec = r.gamma_dec();
    L.il.clamp = r.clamp();
    L.il.adam = r.adam();
  }
  if (m.rule().has_il_prox()) {
    const auto& r = m.rule().il_prox();
    L.rule = "il_prox";
    L.il.alpha = r.alpha();
    L.il.eps_n = r.eps_n();
    L.il.iterations = r.iterations();
    L.il.gamma_top = r.gamma_top();
    L.il.gamma_bot = r.gamma_bot();
    L.il.gamma_dec = r.gamma_dec();
    L.il.adam_lr = r.adam_lr();
  }
  // A rule's optimizer (shared by every rule; sim/rules/optimizer.hpp).
  auto set_optimizer = [&L](const pb::Optimizer& o) {
    L.optimizer.set = true;
    L.optimizer.adam = o.kind() == pb::Optimizer::ADAM;
    L.optimizer.lr = o.lr();
    L.optimizer.momentum = o.momentum();
    L.optimizer.weight_decay = o.weight_decay();
    L.optimizer.beta1 = o.beta1();
    L.optimizer.beta2 = o.beta2();
    L.optimizer.eps = o.eps();
    L.lr = o.lr();
  };
  if (m.rule().has_zil() && m.rule().zil().has_optimizer()) set_optimizer(m.rule().zil().optimizer());
  if (m.rule().has_dp()) {
    const auto& d = m.rule().dp();
    L.rule = "dp";
    set_optimizer(d.optimizer());
    using vk = learning_spec::dp_params::variant_kind;
    L.dp.variant = d.variant() == pb::DP::DP_TOP ? vk::dp_top : d.variant() == pb::DP::DAMPED ? vk::damped : vk::dp;
    L.dp.beta = d.beta();
    L.dp.alpha = d.alpha();
    L.dp.rounds = d.rounds();
    L.dp.output_error_at_forward = d.output_error_at_forward();
    L.dp.symmetric_hidden = d.symmetric_hidden();
    L.dp.power_iterations = d.power_iterations();
    L.dp.max_state = d.max_state();
  }
  return spec;
}

tick_t presentation_interval(const pb::Model& m, const network_spec& spec) {
  const tick_t need = rules::critical_path(spec) + 1;
  const tick_t given = m.schedule().presentation_interval();
  if (given == 0) return need;
  if (given < need)
    throw user_error("schedule.presentation_interval: " + std::to_string(given) +
                     " ticks is shorter than this network's critical path; allowed: 0 (auto) or at least " +
                     std::to_string(need) + " ticks, so that samples do not overlap");
  return given;
}

}  // namespace phaseless::io
