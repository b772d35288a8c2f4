#include "sim/rules/event_network.hpp"

#include <algorithm>

#include "sim/core/errors.hpp"
#include "sim/neurons/data_source.hpp"
#include "sim/neurons/input_population.hpp"
#include "sim/rules/registry.hpp"

namespace phaseless::rules {

using neurons::population_wiring;

namespace {

// A population learns only if an error reaches it.
std::vector<char> reached(const network_spec& spec) {
  std::vector<char> r(spec.populations.size(), 0);
  r[spec.output] = 1;
  for (const auto& p : spec.projections)
    if (p.feedback != feedback_kind::none) r[p.pre] = 1;
  return r;
}

bool sends_errors(const network_spec& spec, pop_t v) {
  for (const auto& p : spec.projections)
    if (p.post == v && p.feedback != feedback_kind::none) return true;
  return false;
}

}  // namespace

// What the constructor's steps hand to each other: ids of ports and populations
// and the wiring descriptions, until the models are made.
template <class Real>
struct event_network<Real>::build {
  build(const network_spec& s, const dataset& d, mode_kind m, unsigned t) : spec(s), train(d), mode(m), threads(t) {}
  const network_spec& spec;
  const dataset& train;
  mode_kind mode;
  unsigned threads;
  graph_builder gb;
  std::vector<char> learns;                     // by spec population: an error reaches it
  std::vector<std::vector<pop_t>> tie_members;  // by tie: the learning populations that use it
  std::vector<pop_t> tie_pop;                   // by tie: engine population (~0: nothing learns it)
  std::vector<population_wiring<Real>> w;       // by spec population
  std::vector<std::uint32_t> next_local;        // by spec population: next local input port
  std::vector<port_t> fwd_port, back_port;      // by projection
  std::vector<std::size_t> link_of;             // by projection: index among its post's in-links
  out_t clamp_out = 0, target_out = 0, source_timer_out = 0;
  port_t source_timer = 0, clamp_port = 0, target_port = 0, lateral_port = ~port_t{0};
};

namespace {
pop_t pop_of(pop_t spec_pop) { return spec_pop + 1; }   // engine population 0 is the data source
}  // namespace

template <class Real>
event_network<Real>::event_network(const network_spec& spec, const dataset& train, std::vector<std::uint64_t> order,
                                   tick_t interval, mode_kind mode, unsigned threads)
    : spec_(spec), interval_(interval), total_(order.size()) {
  check_vertices(spec);
  if (interval <= critical_path(spec))
    throw internal_error("event_network: presentation interval shorter than the critical path");
  exec_ = std::make_unique<executor>(threads);
  engine_ = std::make_unique<engine>(threads, *exec_);
  build b(spec, train, mode, threads);
  add_populations(b);
  add_links(b);
  add_source_and_timers(b);
  connect(b);
  graph_ = b.gb.build();
  make_delivery_tables(b);
  name_port_roles(b);
  make_models(b, std::move(order));
  engine_->finalize();
  if (total_ > 0) engine_->schedule(event{0, b.source_timer, 0, 0, 0, 0, -1, make_tag(0, 0), 0.0});
}

// The data source, one engine population per spec population, and one single-neuron
// population per tie group (shared parameters) that something learns.
template <class Real>
void event_network<Real>::add_populations(build& b) {
  const network_spec& spec = b.spec;
  const std::size_t np = spec.populations.size();
  engine_->add_population("data_source", 1);
  b.gb.add_population(0, 1);
  for (pop_t v = 0; v < np; ++v) {
    engine_->add_population(spec.populations[v].name, spec.populations[v].size);
    b.gb.add_population(pop_of(v), spec.populations[v].size);
  }
  // Members of a tie group: the learning populations whose synapses or bias use it.
  b.learns = reached(spec);
  b.tie_members.resize(spec.ties.size());
  auto add_member = [&](int t, pop_t v) {
    auto& m = b.tie_members[t];
    if (b.learns[v] && std::find(m.begin(), m.end(), v) == m.end()) m.push_back(v);
  };
  for (const auto& p : spec.projections)
    if (p.tie >= 0 && p.plastic) add_member(p.tie, p.post);
  for (pop_t v = 0; v < np; ++v)
    if (spec.populations[v].bias && spec.populations[v].bias_plastic && spec.populations[v].bias_tie >= 0)
      add_member(spec.populations[v].bias_tie, v);
  b.tie_pop.assign(spec.ties.size(), ~pop_t{0});
  pop_t next_pop = static_cast<pop_t>(np + 1);
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (b.tie_members[t].empty()) continue;
    b.tie_pop[t] = next_pop++;
    engine_->add_population("tie:" + spec.ties[t].name, 1);
    b.gb.add_population(b.tie_pop[t], 1);
  }
}

// The wiring descriptions, the synapses, and one input port per projection and
// direction: activity into its post, errors into its pre.
template <class Real>
void event_network<Real>::add_links(build& b) {
  const network_spec& spec = b.spec;
  const std::size_t np = spec.populations.size(), nk = spec.projections.size();
  b.w.resize(np);
  b.next_local.assign(np, 0);
  for (pop_t v = 0; v < np; ++v) {
    auto& w = b.w[v];
    w.id = v;
    w.spec = &spec.populations[v];
    w.learning = &spec.learning;
    w.mode = b.mode;
    w.shards = b.threads;
    w.data = &b.train;
    w.samples_total = total_;
    w.activity_out = engine_->add_out_port(pop_of(v));
    w.fan_out.assign(spec.populations[v].size, 0);
  }
  syn_.reserve(nk);
  feedback_syn_.resize(nk);
  jac_.resize(nk);
  b.fwd_port.resize(nk);
  b.back_port.assign(nk, ~port_t{0});
  b.link_of.resize(nk);
  for (std::size_t k = 0; k < nk; ++k) {
    const auto& p = spec.projections[k];
    if (!p.b.w.empty()) feedback_syn_[k] = convert<Real>(p.b);
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
    link->local_port = b.next_local[p.post]++;
    b.fwd_port[k] = engine_->add_in_port(pop_of(p.post), link->local_port);
    b.link_of[k] = b.w[p.post].in.size();
    b.w[p.post].in.push_back(link.get());
    fwd_links_.push_back(std::move(link));
  }
  for (std::size_t k = 0; k < nk; ++k) {
    const auto& p = spec.projections[k];
    if (p.feedback == feedback_kind::none) continue;
    auto link = std::make_unique<neurons::feedback_link<Real>>();
    link->syn = fwd_links_[k]->jac ? fwd_links_[k]->jac : &syn_[k];   // W^T (read live), or the Jacobian
    if (p.feedback == feedback_kind::random && !p.b_tied()) link->syn = &feedback_syn_[k];
    link->local_port = b.next_local[p.pre]++;
    b.back_port[k] = engine_->add_in_port(pop_of(p.pre), link->local_port);
    b.w[p.pre].back.push_back(link.get());
    back_links_.push_back(std::move(link));
  }
}

// The data source's clamp, target and timer; each learning population's timer and
// error output(s); the softmax output's lateral messages.
template <class Real>
void event_network<Real>::add_source_and_timers(build& b) {
  const network_spec& spec = b.spec;
  engine& E = *engine_;
  auto& w = b.w;
  b.clamp_out = E.add_out_port(0);
  b.target_out = E.add_out_port(0);
  b.source_timer_out = E.add_out_port(0);
  b.source_timer = E.add_in_port(0, 0);
  const pop_t in = spec.input, out = spec.output;
  w[in].clamp_port = b.next_local[in]++;
  b.clamp_port = E.add_in_port(pop_of(in), w[in].clamp_port);
  for (pop_t v = 0; v < spec.populations.size(); ++v) {
    if (v == in) continue;
    w[v].timer_port = b.next_local[v]++;
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
  w[out].target_port = b.next_local[out]++;
  b.target_port = E.add_in_port(pop_of(out), w[out].target_port);
  if (spec.learning.loss == loss_kind::softmax_ce) {
    w[out].lateral_port = b.next_local[out]++;
    w[out].lateral_out = E.add_out_port(pop_of(out));
    b.lateral_port = E.add_in_port(pop_of(out), w[out].lateral_port);
    E.connect(w[out].lateral_out, b.lateral_port, 0, 1);
  }
  E.connect(b.clamp_out, b.clamp_port, 0, 1);
  E.connect(b.target_out, b.target_port, 0, 1);
  E.connect(b.source_timer_out, b.source_timer, 0, interval_);
}

// Routes (one per delay class, with the projection's unreliable link if it asks for
// jitter, loss or a message format) and synapses (one graph edge each); the lateral
// edges; and the tie groups' "contribution in" messages, delayed like the member's
// timer: by then every error the member sent through its copies has been delivered.
template <class Real>
void event_network<Real>::connect(build& b) {
  const network_spec& spec = b.spec;
  engine& E = *engine_;
  auto& w = b.w;
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
      E.connect(w[p.pre].activity_out, b.fwd_port[k], c, p.forward.class_delay[c], up);
    if (p.feedback != feedback_kind::none) {
      const out_t from = w[p.post].link_error_out.empty() ? w[p.post].error_out : w[p.post].link_error_out[b.link_of[k]];
      channel* down = noise(p.backward, true, p.post);
      for (std::uint32_t c = 0; c < p.backward.class_delay.size(); ++c)
        E.connect(from, b.back_port[k], c, p.backward.class_delay[c], down);
    }
    const std::uint32_t pre0 = b.gb.first_vertex(pop_of(p.pre)), post0 = b.gb.first_vertex(pop_of(p.post));
    for (index_t i = 0; i < p.syn.n_post; ++i)
      for (auto s = p.syn.row_begin(i); s < p.syn.row_end(i); ++s) {
        const index_t j = p.syn.pre_of(s);
        ++w[p.pre].fan_out[j];
        const std::uint32_t fc = p.forward.klass.empty() ? 0 : p.forward.klass[s];
        b.gb.add_edge(pre0 + j, post0 + i, {b.fwd_port[k], fc, s});
        if (p.feedback != feedback_kind::none) {
          const std::uint32_t bc = p.backward.klass.empty() ? 0 : p.backward.klass[s];
          b.gb.add_edge(post0 + i, pre0 + j, {b.back_port[k], bc, s});
        }
      }
  }
  const std::uint32_t out0 = b.gb.first_vertex(pop_of(spec.output)), n_out = spec.populations[spec.output].size;
  if (b.lateral_port != ~port_t{0})
    for (index_t a = 0; a < n_out; ++a)
      for (index_t c = 0; c < n_out; ++c) b.gb.add_edge(out0 + a, out0 + c, {b.lateral_port, 0, 0});
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (b.tie_pop[t] == ~pop_t{0}) continue;
    const port_t tie_port = E.add_in_port(b.tie_pop[t], 0);
    for (pop_t v : b.tie_members[t]) {
      if (w[v].done_out == ~out_t{0}) w[v].done_out = E.add_out_port(pop_of(v));
      E.connect(w[v].done_out, tie_port, 0, timer_delay(spec, v));
      const std::uint32_t v0 = b.gb.first_vertex(pop_of(v)), t0 = b.gb.first_vertex(b.tie_pop[t]);
      for (index_t i = 0; i < spec.populations[v].size; ++i) b.gb.add_edge(v0 + i, t0, {tie_port, 0, 0});
    }
  }
}

// Delivery tables from the graph: who receives each sender's message, per class.
template <class Real>
void event_network<Real>::make_delivery_tables(build& b) {
  const network_spec& spec = b.spec;
  // In dataflow every link is counted per shard (fanout.hpp).
  const bool per_shard = b.mode == mode_kind::dataflow;
  std::size_t bl = 0;
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    const std::uint32_t pre0 = b.gb.first_vertex(pop_of(p.pre)), post0 = b.gb.first_vertex(pop_of(p.post));
    fanout& f = fwd_links_[k]->fan;
    f = make_fanout(graph_, b.fwd_port[k], pre0, p.syn.n_pre, post0, p.syn.n_post, fwd_links_[k]->classes);
    f.shard_counted = per_shard && !f.all_targets;
    if (p.feedback != feedback_kind::none) {
      fanout& g = back_links_[bl++]->fan;
      g = make_fanout(graph_, b.back_port[k], post0, p.syn.n_post, pre0, p.syn.n_pre,
                      static_cast<std::uint32_t>(p.backward.class_delay.size()));
      g.shard_counted = per_shard && !g.all_targets;
    }
  }
  if (b.lateral_port != ~port_t{0}) {
    const std::uint32_t out0 = b.gb.first_vertex(pop_of(spec.output)), n_out = spec.populations[spec.output].size;
    lateral_fan_ = std::make_unique<fanout>(make_fanout(graph_, b.lateral_port, out0, n_out, out0, n_out, 1));
    b.w[spec.output].lateral_fan = lateral_fan_.get();
  }
}

// Port roles for observers: only the ports that carry messages between neurons.
template <class Real>
void event_network<Real>::name_port_roles(const build& b) {
  for (const auto& r : engine_->routes())   // every port some route reaches; the channels sit on the routes
    for (const auto& x : r) {
      if (x.port >= roles_.size()) roles_.resize(x.port + 1);
      if (x.noise) roles_[x.port].noise = x.noise;
    }
  auto role = [&](port_t port, port_kind kind, pop_t source, pop_t target) {
    roles_[port].kind = kind;
    roles_[port].source = source;
    roles_[port].target = target;
  };
  for (std::size_t k = 0; k < b.spec.projections.size(); ++k) {
    const auto& p = b.spec.projections[k];
    role(b.fwd_port[k], port_kind::activity, p.pre, p.post);
    if (b.back_port[k] != ~port_t{0}) role(b.back_port[k], port_kind::error, p.post, p.pre);
  }
  role(b.clamp_port, port_kind::clamp, ~pop_t{0}, b.spec.input);
  role(b.target_port, port_kind::target, ~pop_t{0}, b.spec.output);
  if (b.lateral_port != ~port_t{0}) role(b.lateral_port, port_kind::lateral, b.spec.output, b.spec.output);
}

// The population models: data source, tie groups (bound to the synapses and biases
// they share), the input population and one learning population per other
// population, made by the rule's registry entry.
template <class Real>
void event_network<Real>::make_models(build& b, std::vector<std::uint64_t> order) {
  const network_spec& spec = b.spec;
  engine& E = *engine_;
  auto& w = b.w;
  models_.push_back(std::make_unique<neurons::data_source>(std::move(order), b.clamp_out, b.target_out,
                                                           b.source_timer_out));
  E.set_model(0, models_.back().get());
  ties_.assign(spec.ties.size(), nullptr);
  for (std::size_t t = 0; t < spec.ties.size(); ++t) {
    if (b.tie_pop[t] == ~pop_t{0}) continue;
    std::uint64_t expected = 0;
    for (pop_t v : b.tie_members[t]) expected += spec.populations[v].size;
    auto m = std::make_unique<tie_population<Real>>(spec.ties[t], spec.learning, expected, total_);
    ties_[t] = m.get();
    E.set_model(b.tie_pop[t], m.get());
    models_.push_back(std::move(m));
  }
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.tie >= 0 && p.plastic && b.learns[p.post])
      fwd_links_[k]->tie_grad = ties_[p.tie]->group().add_synapses(syn_[k], p.param);
  }
  const std::size_t np = spec.populations.size();
  for (pop_t v = 0; v < np; ++v) {
    const auto& ps = spec.populations[v];
    if (ps.bias && ps.bias_plastic && ps.bias_tie >= 0 && b.learns[v])
      w[v].bias_tie_grad = ties_[ps.bias_tie]->group().add_bias(ps.bias_param);
  }
  learners_.assign(np, nullptr);
  const auto& make = find_rule<Real>(spec.learning.rule).make;
  for (pop_t v = 0; v < np; ++v) {
    if (v == spec.input) {
      models_.push_back(
          std::make_unique<neurons::input_population>(spec.populations[v], &b.train, w[v].activity_out, b.threads));
    } else {
      auto m = make(w[v]);
      learners_[v] = m.get();
      models_.push_back(std::move(m));
    }
    E.set_model(pop_of(v), models_.back().get());
    if (w[v].bias_tie_grad)
      ties_[spec.populations[v].bias_tie]->group().bind_bias(w[v].bias_tie_grad, learners_[v]->bias());
  }
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
