#include "sim/rules/event_network.hpp"

#include <algorithm>

#include "sim/core/errors.hpp"
#include "sim/neurons/data_source.hpp"
#include "sim/neurons/input_population.hpp"
#include "sim/rules/registry.hpp"

namespace phaseless::rules {

using neurons::population_wiring;

namespace {

tick_t min_delay(const network_spec& spec) {
  tick_t m = 1;   // clamp, target and lateral messages take one tick
  for (const auto& p : spec.projections) {
    m = std::min(m, p.forward.class_delay.front());
    if (p.feedback != feedback_kind::none) m = std::min(m, p.backward.class_delay.front());
  }
  return m;
}

bool sends_errors(const network_spec& spec, pop_t v);

// A population learns only if an error reaches it.
std::vector<char> reached(const network_spec& spec) {
  std::vector<char> r(spec.populations.size(), 0);
  r[spec.output] = 1;
  for (const auto& p : spec.projections)
    if (p.feedback != feedback_kind::none) r[p.pre] = 1;
  return r;
}

}  // namespace

// A learning neuron applies its batch update once every error it sent has been
// delivered (they read its row of W) and a whole window later, so the write never
// shares a window with a read on another shard.
tick_t timer_delay(const network_spec& spec, pop_t v) {
  tick_t d = 0;
  for (const auto& p : spec.projections)
    if (p.post == v && p.feedback != feedback_kind::none) d = std::max(d, p.backward.max());
  return d + min_delay(spec);
}

namespace {

bool sends_errors(const network_spec& spec, pop_t v) {
  for (const auto& p : spec.projections)
    if (p.post == v && p.feedback != feedback_kind::none) return true;
  return false;
}

}  // namespace

tick_t critical_path(const network_spec& spec) {
  return find_rule<double>(spec.learning.rule).critical_path(spec);
}

tick_t wave_critical_path(const network_spec& spec) {
  const std::size_t n = spec.populations.size();
  std::vector<tick_t> fwd(n, 0), err(n, 0);
  fwd[spec.input] = 1;   // the clamp message
  for (pop_t v : spec.topo)
    for (const auto& p : spec.projections)
      if (p.post == v) fwd[v] = std::max(fwd[v], fwd[p.pre] + p.forward.max());
  const bool lateral = spec.learning.loss == loss_kind::softmax_ce;
  err[spec.output] = fwd[spec.output] + (lateral ? 1 : 0);
  for (auto it = spec.topo.rbegin(); it != spec.topo.rend(); ++it) {
    const pop_t v = *it;
    if (v == spec.output) continue;
    err[v] = fwd[v];
    for (const auto& p : spec.projections)
      if (p.pre == v && p.feedback != feedback_kind::none) err[v] = std::max(err[v], err[p.post] + p.backward.max());
  }
  tick_t cp = 0;
  for (pop_t v = 0; v < n; ++v)
    if (v != spec.input) cp = std::max(cp, err[v] + timer_delay(spec, v));
  return cp;
}

template <class Real>
event_network<Real>::event_network(const network_spec& spec, const dataset& train, std::vector<std::uint64_t> order,
                                   tick_t interval, mode_kind mode, unsigned threads)
    : spec_(spec), interval_(interval), total_(order.size()) {
  check_vertices(spec);
  if (interval <= critical_path(spec))
    throw internal_error("event_network: presentation interval shorter than the critical path");
  exec_ = std::make_unique<executor>(threads);
  engine_ = std::make_unique<engine>(threads, *exec_);
  engine& E = *engine_;
  const std::size_t np = spec.populations.size();
  auto pop_of = [](pop_t spec_pop) { return spec_pop + 1; };   // engine population 0 is the data source

  graph_builder gb;
  E.add_population("data_source", 1);
  gb.add_population(0, 1);
  for (pop_t v = 0; v < np; ++v) {
    E.add_population(spec.populations[v].name, spec.populations[v].size);
    gb.add_population(pop_of(v), spec.populations[v].size);
  }
  // Tie groups (shared parameters) that something learns: one neuron each, after
  // the spec populations. Members: the learning populations whose synapses or bias use it.
  const auto learns = reached(spec);
  std::vector<std::vector<pop_t>> tie_members(spec.ties.size());
  auto add_member = [&](int t, pop_t v) {
    auto& m = tie_members[t];
    if (learns[v] && std::find(m.begin(), m.end(), v) == m.end()) m.push_back(v);
  };
  for (const auto& p : spec.projections)
    if (p.tie >= 0 && p.plastic) add_member(p.tie, p.post);
  for (pop_t v = 0; v < np; ++v)
    if (spec.populations[v].bias && spec.populations[v].bias_plastic && spec.populations[v].bias_tie >= 0)
      add_member(spec.populations[v].bias_tie, v);
  std::vector<pop_t> tie_pop(spec.ties.size(), ~pop_t{0});
  pop_t next_pop = static_cast<pop_t>(np + 1);
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (tie_members[t].empty()) continue;
    tie_pop[t] = next_pop++;
    E.add_population("tie:" + spec.ties[t].name, 1);
    gb.add_population(tie_pop[t], 1);
  }

  // Wiring descriptions, one per spec population.
  std::vector<population_wiring<Real>> w(np);
  std::vector<std::uint32_t> next_local(np, 0);
  for (pop_t v = 0; v < np; ++v) {
    w[v].id = v;
    w[v].spec = &spec.populations[v];
    w[v].learning = &spec.learning;
    w[v].mode = mode;
    w[v].shards = threads;
    w[v].data = &train;
    w[v].samples_total = total_;
    w[v].activity_out = E.add_out_port(pop_of(v));
    w[v].fan_out.assign(spec.populations[v].size, 0);
  }
  syn_.reserve(spec.projections.size());
  feedback_syn_.resize(spec.projections.size());
  jac_.resize(spec.projections.size());
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    if (!spec.projections[k].b.w.empty()) feedback_syn_[k] = convert<Real>(spec.projections[k].b);
  }
  std::vector<port_t> fwd_port(spec.projections.size()), back_port(spec.projections.size(), ~port_t{0});
  std::vector<std::size_t> link_of(spec.projections.size());   // projection -> index among its post's in-links
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    auto& s = syn_.emplace_back(convert<Real>(p.syn));
    auto link = std::make_unique<neurons::forward_link<Real>>();
    link->syn = &s;
    link->klass = p.forward.klass;
    link->classes = static_cast<std::uint32_t>(p.forward.class_delay.size());
    link->from_input = p.pre == spec.input;
    link->lr_scale = p.lr_scale;
    link->weight_decay = p.weight_decay;
    link->plastic = p.plastic;
    const auto combine = spec.populations[p.post].combine;
    if (combine == combine_kind::bilinear || combine == combine_kind::softmax) {
      jac_[k] = convert<Real>(p.syn);   // the layout; each post-neuron writes its row per sample
      link->jac = &jac_[k];
    }
    link->local_port = next_local[p.post]++;
    fwd_port[k] = E.add_in_port(pop_of(p.post), link->local_port);
    link_of[k] = w[p.post].in.size();
    w[p.post].in.push_back(link.get());
    fwd_links_.push_back(std::move(link));
  }
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.feedback == feedback_kind::none) continue;
    auto link = std::make_unique<neurons::feedback_link<Real>>();
    link->syn = fwd_links_[k]->jac ? fwd_links_[k]->jac : &syn_[k];   // W^T (read live), or the Jacobian
    if (p.feedback == feedback_kind::random && !p.b_tied()) link->syn = &feedback_syn_[k];
    link->local_port = next_local[p.pre]++;
    back_port[k] = E.add_in_port(pop_of(p.pre), link->local_port);
    w[p.pre].back.push_back(link.get());
    back_links_.push_back(std::move(link));
  }
  // Source ports.
  const out_t clamp_out = E.add_out_port(0), target_out = E.add_out_port(0), source_timer_out = E.add_out_port(0);
  const port_t source_timer = E.add_in_port(0, 0);
  const pop_t in = spec.input, out = spec.output;
  w[in].clamp_port = next_local[in]++;
  const port_t clamp_port = E.add_in_port(pop_of(in), w[in].clamp_port);
  for (pop_t v = 0; v < np; ++v) {
    if (v == in) continue;
    w[v].timer_port = next_local[v]++;
    w[v].timer_out = E.add_out_port(pop_of(v));
    E.connect(w[v].timer_out, E.add_in_port(pop_of(v), w[v].timer_port), 0, timer_delay(spec, v));
    if (!sends_errors(spec, v)) continue;
    if (spec.populations[v].combine == combine_kind::product) {
      for (const auto& p : spec.projections)   // one error port per in-link, in link order
        if (p.post == v)
          w[v].link_error_out.push_back(p.feedback == feedback_kind::none ? ~out_t{0} : E.add_out_port(pop_of(v)));
    } else {
      w[v].error_out = E.add_out_port(pop_of(v));
    }
  }
  w[out].target_port = next_local[out]++;
  const port_t target_port = E.add_in_port(pop_of(out), w[out].target_port);
  port_t lateral_port = ~port_t{0};
  if (spec.learning.loss == loss_kind::softmax_ce) {
    w[out].lateral_port = next_local[out]++;
    w[out].lateral_out = E.add_out_port(pop_of(out));
    lateral_port = E.add_in_port(pop_of(out), w[out].lateral_port);
    E.connect(w[out].lateral_out, lateral_port, 0, 1);
  }
  E.connect(clamp_out, clamp_port, 0, 1);
  E.connect(target_out, target_port, 0, 1);
  E.connect(source_timer_out, source_timer, 0, interval);

  // Routes (one per delay class) and synapses (one graph edge each).
  // An unreliable link per projection and direction that asks for jitter or loss.
  auto noise = [&](const delay_spec& d, bool additive, pop_t sender) -> channel* {
    if (d.jitter == 0 && d.drop == 0 && d.format.exact()) return nullptr;
    channels_.push_back(
        std::make_unique<channel>(d.stream, d.jitter, d.drop, additive, spec.populations[sender].size, d.format));
    return channels_.back().get();
  };
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    channel* up = noise(p.forward, false, p.pre);
    for (std::uint32_t c = 0; c < p.forward.class_delay.size(); ++c)
      E.connect(w[p.pre].activity_out, fwd_port[k], c, p.forward.class_delay[c], up);
    if (p.feedback != feedback_kind::none) {
      const out_t from = w[p.post].link_error_out.empty() ? w[p.post].error_out : w[p.post].link_error_out[link_of[k]];
      channel* down = noise(p.backward, true, p.post);
      for (std::uint32_t c = 0; c < p.backward.class_delay.size(); ++c)
        E.connect(from, back_port[k], c, p.backward.class_delay[c], down);
    }
    const std::uint32_t pre0 = gb.first_vertex(pop_of(p.pre)), post0 = gb.first_vertex(pop_of(p.post));
    for (index_t i = 0; i < p.syn.n_post; ++i)
      for (auto s = p.syn.row_begin(i); s < p.syn.row_end(i); ++s) {
        const index_t j = p.syn.pre_of(s);
        ++w[p.pre].fan_out[j];
        const std::uint32_t fc = p.forward.klass.empty() ? 0 : p.forward.klass[s];
        gb.add_edge(pre0 + j, post0 + i, {fwd_port[k], fc, s});
        if (p.feedback != feedback_kind::none) {
          const std::uint32_t bc = p.backward.klass.empty() ? 0 : p.backward.klass[s];
          gb.add_edge(post0 + i, pre0 + j, {back_port[k], bc, s});
        }
      }
  }
  const std::uint32_t out0 = gb.first_vertex(pop_of(out)), n_out = spec.populations[out].size;
  if (lateral_port != ~port_t{0})
    for (index_t a = 0; a < n_out; ++a)
      for (index_t b = 0; b < n_out; ++b) gb.add_edge(out0 + a, out0 + b, {lateral_port, 0, 0});
  // "Contribution in" messages to tie groups, delayed like the member's timer: by
  // then every error the member sent through its copies has been delivered.
  std::vector<port_t> tie_port(spec.ties.size(), ~port_t{0});
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (tie_pop[t] == ~pop_t{0}) continue;
    tie_port[t] = E.add_in_port(tie_pop[t], 0);
    for (pop_t v : tie_members[t]) {
      if (w[v].done_out == ~out_t{0}) w[v].done_out = E.add_out_port(pop_of(v));
      E.connect(w[v].done_out, tie_port[t], 0, timer_delay(spec, v));
      const std::uint32_t v0 = gb.first_vertex(pop_of(v)), t0 = gb.first_vertex(tie_pop[t]);
      for (index_t i = 0; i < spec.populations[v].size; ++i) gb.add_edge(v0 + i, t0, {tie_port[t], 0, 0});
    }
  }
  graph_ = gb.build();

  // Delivery tables from the graph.
  std::size_t bl = 0;
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    const std::uint32_t pre0 = gb.first_vertex(pop_of(p.pre)), post0 = gb.first_vertex(pop_of(p.post));
    // In dataflow every link is counted per shard (fanout.hpp).
    const bool per_shard = mode == mode_kind::dataflow;
    fanout& f = fwd_links_[k]->fan;
    f = make_fanout(graph_, fwd_port[k], pre0, p.syn.n_pre, post0, p.syn.n_post, fwd_links_[k]->classes);
    f.shard_counted = per_shard && !f.all_targets;
    if (p.feedback != feedback_kind::none) {
      fanout& b = back_links_[bl++]->fan;
      b = make_fanout(graph_, back_port[k], post0, p.syn.n_post, pre0, p.syn.n_pre,
                      static_cast<std::uint32_t>(p.backward.class_delay.size()));
      b.shard_counted = per_shard && !b.all_targets;
    }
  }
  if (lateral_port != ~port_t{0}) {
    lateral_fan_ = std::make_unique<fanout>(make_fanout(graph_, lateral_port, out0, n_out, out0, n_out, 1));
    w[out].lateral_fan = lateral_fan_.get();
  }

  // Port roles for observers: only the ports that carry messages between neurons.
  for (const auto& r : E.routes())   // every port some route reaches; the channels sit on the routes
    for (const auto& x : r) {
      if (x.port >= roles_.size()) roles_.resize(x.port + 1);
      if (x.noise) roles_[x.port].noise = x.noise;
    }
  auto role = [&](port_t port, port_kind kind, pop_t source, pop_t target) {
    roles_[port].kind = kind;
    roles_[port].source = source;
    roles_[port].target = target;
  };
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    role(fwd_port[k], port_kind::activity, p.pre, p.post);
    if (back_port[k] != ~port_t{0}) role(back_port[k], port_kind::error, p.post, p.pre);
  }
  role(clamp_port, port_kind::clamp, ~pop_t{0}, in);
  role(target_port, port_kind::target, ~pop_t{0}, out);
  if (lateral_port != ~port_t{0}) role(lateral_port, port_kind::lateral, out, out);

  // Models.
  models_.push_back(std::make_unique<neurons::data_source>(std::move(order), clamp_out, target_out, source_timer_out));
  E.set_model(0, models_.back().get());
  ties_.assign(spec.ties.size(), nullptr);
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (tie_pop[t] == ~pop_t{0}) continue;
    std::uint64_t expected = 0;
    for (pop_t v : tie_members[t]) expected += spec.populations[v].size;
    auto m = std::make_unique<tie_population<Real>>(spec.ties[t], spec.learning, expected, total_);
    ties_[t] = m.get();
    E.set_model(tie_pop[t], m.get());
    models_.push_back(std::move(m));
  }
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.tie >= 0 && p.plastic && learns[p.post]) fwd_links_[k]->tie_grad = ties_[p.tie]->group().add_synapses(syn_[k], p.param);
  }
  for (pop_t v = 0; v < np; ++v) {
    const auto& ps = spec.populations[v];
    if (ps.bias && ps.bias_plastic && ps.bias_tie >= 0 && learns[v]) w[v].bias_tie_grad = ties_[ps.bias_tie]->group().add_bias(ps.bias_param);
  }
  learners_.assign(np, nullptr);
  const auto& make = find_rule<Real>(spec.learning.rule).make;
  for (pop_t v = 0; v < np; ++v) {
    if (v == in) {
      models_.push_back(std::make_unique<neurons::input_population>(spec.populations[v], &train, w[v].activity_out,
                                                                    threads));
    } else {
      auto m = make(w[v]);
      learners_[v] = m.get();
      models_.push_back(std::move(m));
    }
    E.set_model(pop_of(v), models_.back().get());
    if (w[v].bias_tie_grad) ties_[spec.populations[v].bias_tie]->group().bind_bias(w[v].bias_tie_grad, learners_[v]->bias());
  }
  E.finalize();
  if (total_ > 0) E.schedule(event{0, source_timer, 0, 0, 0, 0, -1, make_tag(0, 0), 0.0});
}

template <class Real>
event_network<Real>::~event_network() = default;

template <class Real>
void event_network<Real>::run_samples(std::uint64_t n) {
  n = std::min(n, total_);
  if (n <= done_) return;
  engine_->run_until(static_cast<tick_t>(n) * interval_);
  done_ = n;
}

template <class Real>
std::vector<Real>& event_network<Real>::bias(pop_t spec_pop) {
  if (!learners_.at(spec_pop)) throw internal_error("event_network::bias of the input population");
  return learners_[spec_pop]->bias();
}

template <class Real>
double event_network<Real>::take_loss() {
  return learners_[spec_.output]->take_loss();
}

template class event_network<float>;
template class event_network<double>;

}  // namespace phaseless::rules
