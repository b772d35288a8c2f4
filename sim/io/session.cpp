#include "sim/io/session.hpp"

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <numeric>

#include "sim/baseline/alignment.hpp"
#include "sim/baseline/backprop.hpp"
#include "sim/core/errors.hpp"
#include "sim/core/rng.hpp"
#include "sim/io/data_source.hpp"
#include "sim/io/network_builder.hpp"
#include "sim/io/run_guards.hpp"
#include "sim/io/trace_writer.hpp"
#include "sim/io/version.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/rules/registry.hpp"

namespace phaseless::io {

using namespace phaseless::core;
namespace pb = phaseless::v1;
using clock_type = std::chrono::steady_clock;

// Time left at the rate so far (wall time incl. evaluations), as "42s", "3m05s" or "1h02m".
static std::string eta_text(std::uint64_t left, std::uint64_t done, double elapsed_s) {
  if (done == 0 || elapsed_s <= 0) return "?";
  const auto t = static_cast<unsigned long long>(elapsed_s * double(left) / double(done) + 0.5);
  char buf[32];
  if (t < 60) std::snprintf(buf, sizeof buf, "%llus", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%llum%02llus", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lluh%02llum", t / 3600, t / 60 % 60);
  return buf;
}

std::vector<std::uint64_t> sample_order(const pb::Model& m, std::uint64_t train_rows) {
  std::vector<std::uint64_t> order;
  std::vector<std::uint64_t> epoch(train_rows);
  // Only the epochs max_samples reaches are drawn: 1e6 epochs of which 100 samples run
  // must not cost 1e6 epochs of memory (validation bounds the rest).
  const std::uint64_t cap = m.schedule().max_samples() ? m.schedule().max_samples() : ~std::uint64_t{0};
  for (std::uint32_t e = 0; e < m.schedule().epochs() && order.size() < cap && train_rows > 0; ++e) {
    std::iota(epoch.begin(), epoch.end(), 0);
    if (m.data().shuffle()) {   // Fisher-Yates on a counter-based stream per epoch
      counter_rng rng(mix64(m.seed() ^ hash_name("shuffle")), e);
      for (std::uint64_t i = train_rows; i > 1; --i) std::swap(epoch[i - 1], epoch[rng.below(i)]);
    }
    order.insert(order.end(), epoch.begin(), epoch.end());
  }
  if (m.schedule().max_samples() && order.size() > m.schedule().max_samples()) order.resize(m.schedule().max_samples());
  return order;
}

namespace {

// What the loop needs of an engine, event-driven or synchronous.
template <class Real>
struct trainer {
  virtual ~trainer() = default;
  virtual void run_samples(std::uint64_t n) = 0;
  virtual std::vector<synapse_matrix<Real>>& synapses() = 0;
  virtual const std::vector<Real>* bias(pop_t v) = 0;
  virtual double take_loss() = 0;
  virtual double take_energy() = 0;   // relaxation energy summed since the last call (0: rule has none)
  virtual counters totals() const = 0;
  virtual tick_t now() const = 0;
  virtual std::vector<double> report(pop_t v, std::uint64_t last_row) = 0;
  virtual std::vector<std::string> elements(pop_t v) = 0;   // names of report() values per neuron
  // After a numeric_error in run_samples(to) started at `from`: the 1-based number of
  // the sample that was being learned.
  virtual std::uint64_t failed_sample(std::uint64_t from, std::uint64_t to) const = 0;
};

template <class Real>
struct event_trainer final : trainer<Real> {
  event_trainer(const network_spec& s, const dataset& d, std::vector<std::uint64_t> o, tick_t iv, mode_kind m,
                unsigned threads)
      : spec(s), data(d), interval(iv), net(s, d, std::move(o), iv, m, threads) {}
  void run_samples(std::uint64_t n) override { net.run_samples(n); }
  std::vector<synapse_matrix<Real>>& synapses() override { return net.synapses(); }
  const std::vector<Real>* bias(pop_t v) override { return v == spec.input ? &empty : &net.bias(v); }
  double take_loss() override { return net.take_loss(); }
  double take_energy() override {
    double e = 0;   // in population order: deterministic at any thread count
    for (pop_t v = 0; v < spec.populations.size(); ++v)
      if (v != spec.input) e += net.learner(v)->take_energy();
    return e;
  }
  counters totals() const override { return net.totals(); }
  tick_t now() const override { return net.now(); }
  std::vector<double> report(pop_t v, std::uint64_t last_row) override {
    std::vector<double> out;
    if (v == spec.input) {
      for (float x : data.sample(last_row)) out.push_back(x);
      return out;
    }
    auto* l = net.learner(v);
    const auto k = static_cast<unsigned>(l->elements().size());
    for (index_t i = 0; i < spec.populations[v].size; ++i)
      for (unsigned e = 0; e < k; ++e) out.push_back(l->element(i, e));
    return out;
  }
  std::vector<std::string> elements(pop_t v) override {
    return v == spec.input ? std::vector<std::string>{"x"} : net.learner(v)->elements();
  }
  std::uint64_t failed_sample(std::uint64_t from, std::uint64_t to) const override {
    // Sample k (0-based) is presented at tick k * interval and done by (k + 1) * interval.
    const auto k = static_cast<std::uint64_t>(std::max<tick_t>(net.now(), 0) / interval);
    return std::clamp<std::uint64_t>(k + 1, from + 1, std::max(from + 1, to));
  }
  const network_spec& spec;
  const dataset& data;
  tick_t interval;
  rules::event_network<Real> net;
  std::vector<Real> empty;
};

template <class Real>
struct baseline_trainer final : trainer<Real> {
  baseline_trainer(const network_spec& s, const dataset& d, std::vector<std::uint64_t> o)
      : spec(s), data(d), order(std::move(o)), sync(rules::find_rule<Real>(s.learning.rule).make_sync(s)) {}
  void run_samples(std::uint64_t n) override {
    for (; done < n && done < order.size(); ++done) sync->train(data, order[done], done, order.size());
  }
  std::vector<synapse_matrix<Real>>& synapses() override { return sync->synapses(); }
  const std::vector<Real>* bias(pop_t v) override { return &sync->bias(v); }
  double take_loss() override { return sync->take_loss(); }
  double take_energy() override { return sync->take_energy(); }
  counters totals() const override { return counters{0, sync->synaptic_ops(), 0}; }
  tick_t now() const override { return 0; }
  std::vector<double> report(pop_t v, std::uint64_t last_row) override {
    std::vector<double> out;
    if (v == spec.input)
      for (float x : data.sample(last_row)) out.push_back(x);
    return out;   // the synchronous form keeps no per-neuron relaxation state to report
  }
  std::vector<std::string> elements(pop_t v) override {
    return v == spec.input ? std::vector<std::string>{"x"} : std::vector<std::string>{};
  }
  std::uint64_t failed_sample(std::uint64_t, std::uint64_t) const override { return done + 1; }
  const network_spec& spec;
  const dataset& data;
  std::vector<std::uint64_t> order;
  std::unique_ptr<baseline::sync_engine<Real>> sync;
  std::uint64_t done = 0;
};

template <class Real>
std::vector<double> dense_weights(const synapse_matrix<Real>& s) {
  std::vector<Real> row(s.n_pre);
  std::vector<double> out;
  out.reserve(std::size_t(s.n_post) * s.n_pre);
  for (index_t i = 0; i < s.n_post; ++i) {
    s.dense_row(i, row.data());
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// A tie's parameters as the copies hold them now (every engine keeps its copies in
// step with the parameter); entries no copy uses keep their initial values.
template <class Real>
std::vector<double> shared_values(const network_spec& spec, const std::vector<synapse_matrix<Real>>& syn, int tie) {
  std::vector<double> theta = spec.ties[tie].theta;
  std::vector<char> seen(theta.size(), 0);
  for (std::size_t k = 0; k < spec.projections.size(); ++k) {
    const auto& p = spec.projections[k];
    if (p.tie != tie) continue;
    for (std::size_t s = 0; s < p.param.size(); ++s)
      if (!seen[p.param[s]]) {
        seen[p.param[s]] = 1;
        theta[p.param[s]] = double(syn[k].w[s]);
      }
  }
  return theta;
}

// Learning that has blown up is stopped before it reaches NaN (see weight_bound).
template <class Real>
void check_weight_bound(const network_spec& spec, trainer<Real>& t, std::uint64_t s, mode_kind mode) {
  for (std::size_t k = 0; k < spec.projections.size(); ++k)
    check_bound("projection '" + spec.projections[k].name + "': a weight", t.synapses()[k].w, s, mode);
  for (pop_t v = 0; v < spec.populations.size(); ++v)
    if (v != spec.input) check_bound("population '" + spec.populations[v].name + "': a bias", *t.bias(v), s, mode);
}

template <class Real>
run_result run_typed(const loaded_model& lm, const run_options& opt) {
  const pb::Model& m = lm.model;
  const dataset train = load_split(lm, false);
  const dataset test = load_split(lm, true);
  const network_spec spec = build_network_spec(m);
  const auto& out_pop = spec.populations[spec.output];
  if (spec.learning.loss == loss_kind::softmax_ce && out_pop.size < train.classes)
    throw user_error(lm.path.string() + ": populations[" + out_pop.name + "].size: " + std::to_string(out_pop.size) +
                     " output neurons cannot represent the " + std::to_string(train.classes) +
                     " classes of the training labels; allowed: at least " + std::to_string(train.classes));
  // Named by their label files when the data are IDX files, else by the model file.
  const bool idx = m.data().has_idx();
  check_labels(train, idx ? resolve_data_path(lm, m.data().idx().train_labels()) : lm.path, out_pop);
  check_labels(test, idx ? resolve_data_path(lm, m.data().idx().test_labels()) : lm.path, out_pop);
  const auto order = sample_order(m, train.rows);
  const unsigned threads = opt.threads ? opt.threads : std::max(1u, m.execution().threads());
  const tick_t interval = presentation_interval(m, spec);
  const mode_kind mode = m.execution().mode() == pb::EAGER ? mode_kind::eager : mode_kind::dataflow;

  run_result res;
  res.interval = interval;
  std::unique_ptr<trainer<Real>> t;
  if (opt.engine == engine_kind::event) {
    auto e = std::make_unique<event_trainer<Real>>(spec, train, order, interval, mode, threads);
    res.vertices = e->net.graph_vertices();
    res.edges = e->net.graph_edges();
    t = std::move(e);
  } else {
    t = std::make_unique<baseline_trainer<Real>>(spec, train, order);
  }
  for (const auto& p : spec.projections) res.projections.push_back(p.name);
  // Synapse order, not dense: a convolution's dense matrix is n_post x n_pre.
  for (const auto& s : t->synapses()) res.w_start.emplace_back(s.w.begin(), s.w.end());

  // Shared parameters (conv kernels, unrolled RNN weights) are recorded once, under the
  // tie's name, as found in the first projection that uses them.
  std::vector<std::size_t> first_member(spec.ties.size(), spec.projections.size());
  for (std::size_t k = spec.projections.size(); k-- > 0;)
    if (spec.projections[k].tie >= 0) first_member[spec.projections[k].tie] = k;

  // Extra metrics: regression error, and feedback alignment per random-feedback projection.
  std::vector<std::string> extra_columns;
  if (test.target_cols) extra_columns.push_back("test_nse");
  // Rules that relax (IL, IL-prox) report their energy per sample at the end of inference.
  const bool relaxes = spec.learning.rule == "il" || spec.learning.rule == "il_prox";
  if (relaxes) extra_columns.push_back("energy");
  for (const auto& p : spec.projections)
    if (p.feedback == feedback_kind::random) {
      extra_columns.push_back("alignment/" + p.name + "/weight_cosine");
      extra_columns.push_back("alignment/" + p.name + "/signal_cosine");
    }
  // Unreliable links: messages lost and messages delayed by jitter, cumulative (events).
  bool noisy = false;
  for (const auto& p : spec.projections)
    noisy = noisy || p.forward.jitter || p.forward.drop > 0 || p.backward.jitter || p.backward.drop > 0;
  if (noisy) {
    extra_columns.push_back("messages_dropped");
    extra_columns.push_back("messages_late");
  }
  res.extra_columns = extra_columns;

  const std::uint64_t eval_every = m.schedule().eval_every() ? m.schedule().eval_every() : train.rows;
  // Unset record intervals: about 10 snapshots and 20 activity frames per run (and at least one
  // per evaluation interval), so that a short run shows activity too.
  const std::uint64_t snap_every = m.record().snapshot_every()
                                       ? m.record().snapshot_every()
                                       : std::clamp<std::uint64_t>(order.size() / 10, 1, eval_every);
  const std::uint64_t rep_every = m.record().sample_every()
                                      ? m.record().sample_every()
                                      : std::clamp<std::uint64_t>(order.size() / 20, 1, eval_every);

  // The trace: structure first, then streaming appends.
  std::unique_ptr<trace_writer> tw;
  std::vector<pop_t> reported;
  if (!opt.trace.empty()) {
    tw = std::make_unique<trace_writer>(opt.trace, run_inputs(lm), opt.force);
    tw->set_value_type(std::is_same_v<Real, double> ? value_type::f64 : value_type::f32);
    provenance pv;
    pv.model_name = m.name();
    pv.model_text = lm.text;
    std::string eff;
    google::protobuf::TextFormat::PrintToString(m, &eff);
    pv.effective_model = eff;
    for (const auto& o : lm.overrides) pv.overrides += o + "\n";
    pv.command_line = opt.command_line;
    pv.software_version = software_version();
    pv.git_commit = git_commit();
    pv.seed = m.seed();
    pv.threads = threads;
    pv.sample_order = order;
    tw->write_provenance(pv);
    for (std::size_t k = 0; k < spec.projections.size(); ++k) {
      const auto& p = spec.projections[k];
      if (p.tie >= 0 && first_member[p.tie] != k) continue;   // a shared parameter: once, under its name
      const auto name = p.tie >= 0 ? spec.ties[p.tie].name : p.name;
      const index_t rows = p.tie >= 0 ? spec.ties[p.tie].rows : p.syn.n_post;
      const index_t cols = p.tie >= 0 ? index_t(spec.ties[p.tie].theta.size() / rows) : p.syn.n_pre;
      tw->add_projection(name, spec.populations[p.pre].name, spec.populations[p.post].name, rows, cols,
                         spec.populations[p.post].bias);
    }
    for (const auto& name : m.record().populations())
      for (pop_t v = 0; v < spec.populations.size(); ++v)
        if (spec.populations[v].name == name) {
          report_spec r;
          r.population = name;
          r.nodes = spec.populations[v].size;
          r.sample_step = rep_every;
          r.elements = t->elements(v);   // each rule names its state (x/eps, s_plus/s_minus/...)
          if (r.elements.empty()) continue;   // the synchronous forms keep no per-neuron state
          tw->add_report(r);
          reported.push_back(v);
        }
    for (const auto& c : extra_columns) tw->add_metric(c);
    tw->start_streaming();
  }
  // The recorded weights: one matrix per projection, a shared parameter once under its name.
  auto weight_matrices = [&] {
    std::vector<weight_matrix> out;
    for (std::size_t k = 0; k < spec.projections.size(); ++k) {
      const auto& p = spec.projections[k];
      if (p.tie >= 0 && first_member[p.tie] != k) continue;
      weight_matrix wm;
      wm.name = p.tie >= 0 ? spec.ties[p.tie].name : p.name;
      wm.rows = p.tie >= 0 ? spec.ties[p.tie].rows : p.syn.n_post;
      wm.w = p.tie >= 0 ? shared_values(spec, t->synapses(), p.tie) : dense_weights(t->synapses()[k]);
      wm.cols = static_cast<std::uint32_t>(wm.w.size() / wm.rows);
      const auto& post = spec.populations[p.post];
      if (post.bias) {
        const auto* b = t->bias(p.post);
        wm.b.assign(b->begin(), b->end());
        if (p.tie >= 0 && post.bias_tie >= 0) {   // a kernel's bias: one per channel
          std::vector<double> per(spec.ties[post.bias_tie].theta.size());
          for (index_t i = 0; i < post.size; ++i) per[post.bias_param[i]] = wm.b[i];
          wm.b = per;
        }
      }
      out.push_back(std::move(wm));
    }
    return out;
  };
  auto snapshot = [&](std::uint64_t s) {
    if (!tw) return;
    for (const auto& wm : weight_matrices()) tw->append_snapshot(wm.name, s, wm.w, wm.b);
  };

  const std::uint64_t total = order.size();
  const std::uint64_t flush_every = m.record().flush_every() ? m.record().flush_every() : 1000;
  const auto t0 = clock_type::now();
  double train_s = 0, loss_sum = 0, energy_sum = 0;
  std::uint64_t loss_n = 0, s = 0;
  auto last_print = t0;
  const char* tag = opt.engine == engine_kind::event ? "event" : "baseline";

  auto evaluate_now = [&] {
    std::vector<const std::vector<Real>*> b(spec.populations.size());
    for (pop_t v = 0; v < spec.populations.size(); ++v) b[v] = t->bias(v);
    const auto ev = baseline::evaluate<Real>(spec, t->synapses(), b, test);
    const counters c = t->totals();
    eval_row r{s, t->now(), loss_n ? loss_sum / double(loss_n) : std::nan(""), ev.accuracy, ev.loss,
               c.events, c.synaptic_ops,
               std::chrono::duration<double>(clock_type::now() - t0).count(), {}};
    if (test.target_cols) r.extra.push_back(ev.nse);
    if (relaxes) r.extra.push_back(loss_n ? energy_sum / double(loss_n) : std::nan(""));
    loss_sum = energy_sum = 0;
    loss_n = 0;
    // Alignment is probed on (at most) the first 100 test samples.
    for (const auto& a : baseline::measure_alignment<Real>(spec, t->synapses(), b, test, 100)) {
      r.extra.push_back(a.weight_cosine);
      r.extra.push_back(a.signal_cosine);
    }
    if (noisy) {
      r.extra.push_back(double(c.dropped));
      r.extra.push_back(double(c.late));
    }
    res.rows.push_back(r);
    if (tw) {
      tw->append_metrics({r.samples, r.ticks, r.train_loss, r.test_accuracy, r.test_loss, r.events,
                          r.synaptic_ops, r.wall_time, r.extra});
      tw->flush();
    }
    const std::string eta = s > 0 && s < total ? "  ETA " + eta_text(total - s, s, r.wall_time) : "";
    if (opt.progress && test.target_cols)
      std::fprintf(stderr, "[%s] %llu/%llu samples  test NSE %.4g  test loss %.4g  train loss %.4g%s\n", tag,
                   (unsigned long long)s, (unsigned long long)total, ev.nse, r.test_loss, r.train_loss, eta.c_str());
    else if (opt.progress)
      std::fprintf(stderr, "[%s] %llu/%llu samples  test accuracy %.2f%%  test loss %.4f  train loss %.4f%s\n", tag,
                   (unsigned long long)s, (unsigned long long)total, 100 * r.test_accuracy, r.test_loss,
                   r.train_loss, eta.c_str());
  };

  // Trains up to sample `to` in steps of about 0.1 s (at least one sample), checking
  // the stop flag between steps, so Ctrl-C is honoured within one sample even for a slow
  // rule. The engines give the same result however run_samples is split, and losses are
  // taken only at the caller's (deterministic) chunk ends, so the trace does not depend
  // on the step sizes.
  std::uint64_t step = 1, step_from = 0, step_to = 0;
  bool in_step = false;
  auto train_until = [&](std::uint64_t to) {
    while (s < to && !(opt.stop && opt.stop->load())) {
      step_from = s;
      step_to = std::min(to, s + step);
      const auto c0 = clock_type::now();
      in_step = true;
      t->run_samples(step_to);
      in_step = false;
      const double dt = std::chrono::duration<double>(clock_type::now() - c0).count();
      train_s += dt;
      s = step_to;
      if (dt < 0.05 && step < 1000) step *= 2;
      else if (dt > 0.2 && step > 1) step /= 2;
    }
  };

  evaluate_now();
  snapshot(0);
  try {
    while (s < total) {
      if (opt.stop && opt.stop->load()) {
        res.interrupted = true;
        break;
      }
      auto next = [&](std::uint64_t every) { return (s / every + 1) * every; };
      const std::uint64_t to = std::min({total, next(eval_every), next(snap_every), next(rep_every),
                                         next(flush_every), s + 1000});
      const std::uint64_t from = s;
      train_until(to);
      loss_sum += t->take_loss();
      energy_sum += t->take_energy();
      loss_n += s - from;
      if (s < to) {
        res.interrupted = true;
        break;
      }
      check_weight_bound(spec, *t, s, mode);
      if (tw && s % rep_every == 0)
        for (pop_t v : reported) tw->append_report(spec.populations[v].name, s, t->now(), t->report(v, order[s - 1]));
      if (s % snap_every == 0 || s == total) snapshot(s);
      if (s % eval_every == 0 || s == total) {
        evaluate_now();
      } else if (tw && s % flush_every == 0) {
        tw->flush();
      }
      // (Right after an evaluation the training-loss window is empty: the line waits.)
      if (opt.progress && loss_n > 0 && std::chrono::duration<double>(clock_type::now() - last_print).count() > 2.0) {
        last_print = clock_type::now();
        std::fprintf(stderr, "[%s] %llu/%llu samples  %.0f samples/s  train loss %.4f  ETA %s\n", tag,
                     (unsigned long long)s, (unsigned long long)total, double(s) / train_s, loss_sum / double(loss_n),
                     eta_text(total - s, s, std::chrono::duration<double>(clock_type::now() - t0).count()).c_str());
      }
    }
  } catch (const numeric_error& e) {
    // The NaN row's `samples` is the sample in which learning diverged (1-based).
    const std::uint64_t at = in_step ? t->failed_sample(step_from, step_to) : s;
    res.diverged = e.what();
    if (in_step)
      res.diverged += " (training sample " + std::to_string(at) + " of " + std::to_string(total) + ", counting from 1)";
    const counters c = t->totals();
    eval_row r{at, t->now(), std::nan(""), std::nan(""), std::nan(""), c.events, c.synaptic_ops,
               std::chrono::duration<double>(clock_type::now() - t0).count(),
               std::vector<double>(extra_columns.size(), std::nan(""))};
    res.rows.push_back(r);
    if (tw) {
      tw->append_metrics({r.samples, r.ticks, r.train_loss, r.test_accuracy, r.test_loss, r.events, r.synaptic_ops,
                          r.wall_time, r.extra});
      tw->flush();
    }
  }
  if (res.interrupted && (res.rows.empty() || res.rows.back().samples != s)) evaluate_now();
  for (const auto& syn : t->synapses()) res.w_end.emplace_back(syn.w.begin(), syn.w.end());
  res.weights = weight_matrices();
  res.samples = s;
  res.train_seconds = train_s;
  if (tw) tw->close();
  return res;
}

}  // namespace

run_result run(const loaded_model& model, const run_options& opt) {
  return model.model.execution().precision() == pb::FLOAT64 ? run_typed<double>(model, opt)
                                                              : run_typed<float>(model, opt);
}

}  // namespace phaseless::io
