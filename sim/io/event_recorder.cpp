#include "sim/io/event_recorder.hpp"

#include <algorithm>
#include <tuple>

#include "sim/core/errors.hpp"
#include "sim/io/model_limits.hpp"

namespace phaseless::io {

using namespace phaseless::core;
using rules::port_kind;

namespace {
constexpr index_t default_neurons = 64;   // record.events.neurons empty: the first 64 of each population
}

template <class Real>
event_recorder<Real>::event_recorder(rules::event_network<Real>& net, const network_spec& spec, event_request req)
    : net_(net), spec_(spec), samples_(std::move(req.samples)), slot_(spec.populations.size(), -1),
      interval_(net.interval()) {
  std::sort(samples_.begin(), samples_.end());
  std::uint64_t state_values = 0;
  for (pop_t v : req.populations) {
    slot_[v] = static_cast<int>(rows_.size());
    rows r;
    r.pop = v;
    std::string names;
    if (auto* l = net.learner(v)) {
      r.state = true;
      const index_t n = spec.populations[v].size;
      if (req.neurons.empty())
        for (index_t i = 0; i < std::min(n, default_neurons); ++i) r.neurons.push_back(i);
      else
        r.neurons = req.neurons;   // validated against every listed population's size
      const auto el = l->elements();
      for (std::size_t e = 0; e < el.size(); ++e) names += (e ? "," : "") + el[e];
      r.width = r.neurons.size() * el.size();
      state_values += r.width;
    }
    elements_.push_back(names);
    rows_.push_back(std::move(r));
  }
  state_values *= samples_.size() * static_cast<std::uint64_t>(interval_);
  if (state_values > max_recorded_state_values)
    throw user_error("record.events: the per-tick states would hold " + std::to_string(state_values) +
                     " values (samples x " + std::to_string(interval_) +
                     " ticks per sample x neurons x elements); allowed: at most " +
                     std::to_string(max_recorded_state_values) + " (list fewer samples, populations or neurons)");
  net_.observe(this);
}

template <class Real>
event_recorder<Real>::~event_recorder() {
  net_.observe(nullptr);
}

template <class Real>
bool event_recorder<Real>::watches(tick_t t) const {
  return t >= 0 && std::binary_search(samples_.begin(), samples_.end(), std::uint64_t(t / interval_));
}

template <class Real>
void event_recorder<Real>::read_state(rows& r, std::uint64_t s, tick_t t) {
  auto* l = net_.learner(r.pop);
  const unsigned k = static_cast<unsigned>(r.width / std::max<std::size_t>(1, r.neurons.size()));
  r.st_sample.push_back(double(s));
  r.st_tick.push_back(double(t));
  for (index_t i : r.neurons)
    for (unsigned e = 0; e < k; ++e) r.st_data.push_back(double(l->element(i, e)));
}

template <class Real>
void event_recorder<Real>::fill_states(tick_t until) {
  for (; next_tick_ < until; ++next_tick_)   // idle ticks: nothing delivered, nothing changed
    for (rows& r : rows_)
      if (r.state) {
        r.st_sample.push_back(double(current_));
        r.st_tick.push_back(double(next_tick_));
        r.st_data.insert(r.st_data.end(), r.st_data.end() - std::ptrdiff_t(r.width), r.st_data.end());
      }
}

template <class Real>
void event_recorder<Real>::after_tick(tick_t t, std::span<const event> bucket, const double* payload) {
  const std::uint64_t s = std::uint64_t(t / interval_);
  if (s != current_) {   // a new sample starts at its first tick (the data source's timer)
    if (current_ != ~std::uint64_t{0}) fill_states(tick_t(current_ + 1) * interval_);
    current_ = s;
    next_tick_ = t;
  }
  const auto& roles = net_.port_roles();
  tick_.clear();
  for (const event& e : bucket) {
    // Sigma-delta step markers are not messages (nothing was sent): left out, so the
    // rows are what /metrics/events counts.
    if (e.marker || e.port >= roles.size() || roles[e.port].kind == port_kind::internal ||
        slot_[roles[e.port].target] < 0)
      continue;
    for (std::uint32_t q = 0; q < e.count; ++q)
      tick_.push_back({e.port, e.source + q, e.seq, e.repeat, e.klass, e.tag, value_of(e, payload, q)});
  }
  // Frames are cut where the shards' rows are: putting each message in the total order
  // (R2) by itself makes the rows the same at any thread count.
  std::sort(tick_.begin(), tick_.end(), [](const delivered& a, const delivered& b) {
    return std::tie(a.port, a.source, a.seq, a.repeat, a.klass) < std::tie(b.port, b.source, b.seq, b.repeat, b.klass);
  });
  messages_ += tick_.size();
  if (messages_ > max_recorded_messages)
    throw user_error("record.events: the recorded samples deliver more than " + std::to_string(max_recorded_messages) +
                     " messages to the listed populations (sample " + std::to_string(s) +
                     "); allowed: at most that many in all (list fewer samples or populations)");
  const auto n_pops = double(spec_.populations.size());   // the source index of the data source
  for (const delivered& d : tick_) {
    const auto& role = roles[d.port];
    rows& r = rows_[slot_[role.target]];
    r.sample.push_back(double(s));
    r.tick.push_back(double(t));
    r.step.push_back(double(tag_iteration(d.tag)));
    r.kind.push_back(double(static_cast<int>(role.kind)));
    r.source.push_back(role.source == ~pop_t{0} ? n_pops : double(role.source));
    r.neuron.push_back(double(d.source));
    r.value.push_back(d.value);
    r.dropped.push_back(role.noise && role.noise->drops(d.source, d.tag, d.repeat) ? 1.0 : 0.0);
  }
  fill_states(t);
  for (rows& r : rows_)
    if (r.state) read_state(r, s, t);
  next_tick_ = t + 1;
}

template <class Real>
void event_recorder<Real>::declare(trace_writer& tw) const {
  std::string sources;
  for (const auto& p : spec_.populations) sources += p.name + ",";
  sources += "data";
  for (std::size_t k = 0; k < rows_.size(); ++k) {
    const rows& r = rows_[k];
    const std::string base = "/events/" + spec_.populations[r.pop].name;
    table_spec m;
    m.path = base + "/messages";
    m.columns = {{"sample", column_kind::u64}, {"tick", column_kind::i64}, {"step", column_kind::u32},
                 {"kind", column_kind::u8},    {"source", column_kind::u32}, {"neuron", column_kind::u32},
                 {"value", column_kind::real}, {"dropped", column_kind::u8}};
    m.text_attrs = {{"kind_names", message_kind_names}, {"source_names", sources}};
    m.number_attrs = {{"interval", std::uint64_t(interval_)}};
    tw.add_table(m);
    if (!r.state) continue;
    table_spec st;
    st.path = base + "/state";
    st.columns = {{"sample", column_kind::u64}, {"tick", column_kind::i64}, {"data", column_kind::real, r.width}};
    st.text_attrs = {{"element_names", elements_[k]}};
    st.number_attrs = {{"interval", std::uint64_t(interval_)}};
    st.fixed = {{"mapping/node_ids", std::vector<std::uint64_t>(r.neurons.begin(), r.neurons.end())}};
    tw.add_table(st);
  }
}

template <class Real>
void event_recorder<Real>::write(std::uint64_t done, trace_writer& tw) {
  if (current_ == ~std::uint64_t{0} || current_ >= done) return;   // nothing complete since the last write
  fill_states(tick_t(current_ + 1) * interval_);
  current_ = ~std::uint64_t{0};
  for (rows& r : rows_) {
    const std::string base = "/events/" + spec_.populations[r.pop].name;
    const std::span<const double> m[] = {r.sample, r.tick, r.step, r.kind, r.source, r.neuron, r.value, r.dropped};
    tw.append_table(base + "/messages", m, r.sample.size());
    for (auto* c : {&r.sample, &r.tick, &r.step, &r.kind, &r.source, &r.neuron, &r.value, &r.dropped}) c->clear();
    if (!r.state) continue;
    const std::span<const double> st[] = {r.st_sample, r.st_tick, r.st_data};
    tw.append_table(base + "/state", st, r.st_sample.size());
    r.st_sample.clear();
    r.st_tick.clear();
    r.st_data.clear();
  }
}

template class event_recorder<float>;
template class event_recorder<double>;

}  // namespace phaseless::io
