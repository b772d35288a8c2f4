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
#include "sim/io/event_recorder.hpp"
#include "sim/io/network_builder.hpp"
#include "sim/io/run_guards.hpp"
#include "sim/io/trace_writer.hpp"
#include "sim/io/trainers.hpp"
#include "sim/io/version.hpp"
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

using detail::baseline_trainer;
using detail::event_trainer;
using detail::trainer;

// Learning that has blown up is stopped before it reaches NaN (see weight_bound).
template <class Real>
void check_weight_bound(const network_spec& spec, trainer<Real>& t, std::uint64_t s, mode_kind mode) {
  for (std::size_t k = 0; k < spec.projections.size(); ++k)
    check_bound("projection '" + spec.projections[k].name + "': a weight", t.synapses()[k].w, s, mode);
  for (pop_t v = 0; v < spec.populations.size(); ++v)
    if (v != spec.input) check_bound("population '" + spec.populations[v].name + "': a bias", *t.bias(v), s, mode);
}

// One run of a model: data and network, the engine, the trace, and the loop that trains
// in chunks between the recording points (evaluation, snapshot, report frame, flush).
template <class Real>
class training_run {
 public:
  training_run(const loaded_model& lm, const run_options& opt)
      : lm_(lm), m_(lm.model), opt_(opt), train_(load_split(lm, false)), test_(load_split(lm, true)),
        spec_(build_network_spec(m_)) {
    check_outputs();
    order_ = sample_order(m_, train_.rows);
    threads_ = opt.threads ? opt.threads : std::max(1u, m_.execution().threads());
    res_.interval = presentation_interval(m_, spec_);
    make_trainer();
    plan_recording();
    plan_events();
  }

  run_result run() {
    if (!opt_.trace.empty()) open_trace();
    t0_ = last_print_ = clock_type::now();
    evaluate_now();
    snapshot(0);
    try {
      train_all();
    } catch (const numeric_error& e) {
      record_divergence(e);
    }
    if (res_.interrupted && (res_.rows.empty() || res_.rows.back().samples != s_)) evaluate_now();
    for (const auto& syn : t_->synapses()) res_.w_end.emplace_back(syn.w.begin(), syn.w.end());
    res_.weights = weight_matrices();
    res_.samples = s_;
    res_.train_seconds = train_s_;
    res_.parallel_share = t_->parallel_share();
    if (recorder_ && tw_) recorder_->write(s_, *tw_);   // an interrupted run: the samples it completed
    if (tw_) tw_->close();
    return res_;
  }

 private:
  // The output layer must hold every class, and every label must name one of its neurons.
  void check_outputs() const {
    const auto& out_pop = spec_.populations[spec_.output];
    if (spec_.learning.loss == loss_kind::softmax_ce && out_pop.size < train_.classes)
      throw user_error(lm_.path.string() + ": populations[" + out_pop.name + "].size: " +
                       std::to_string(out_pop.size) + " output neurons cannot represent the " +
                       std::to_string(train_.classes) + " classes of the training labels; allowed: at least " +
                       std::to_string(train_.classes));
    // Named by their label files when the data are IDX files, else by the model file.
    const bool idx = m_.data().has_idx();
    check_labels(train_, idx ? resolve_data_path(lm_, m_.data().idx().train_labels()) : lm_.path, out_pop);
    check_labels(test_, idx ? resolve_data_path(lm_, m_.data().idx().test_labels()) : lm_.path, out_pop);
  }

  mode_kind mode() const { return m_.execution().mode() == pb::EAGER ? mode_kind::eager : mode_kind::dataflow; }

  void make_trainer() {
    if (opt_.engine == engine_kind::event) {
      std::uint64_t synapses = 0;
      for (const auto& p : spec_.projections) synapses += p.syn.size();
      res_.shards = opt_.shards ? opt_.shards : core::auto_shards(threads_, synapses, res_.interval);
      auto e = std::make_unique<event_trainer<Real>>(spec_, train_, order_, res_.interval, mode(), res_.shards);
      events_net_ = &e->net;
      res_.vertices = e->net.graph_vertices();
      res_.edges = e->net.graph_edges();
      t_ = std::move(e);
    } else {
      t_ = std::make_unique<baseline_trainer<Real>>(spec_, train_, order_);
    }
    for (const auto& p : spec_.projections) res_.projections.push_back(p.name);
    // Synapse order, not dense: a convolution's dense matrix is n_post x n_pre.
    for (const auto& s : t_->synapses()) res_.w_start.emplace_back(s.w.begin(), s.w.end());
    // Shared parameters (conv kernels, unrolled RNN weights) are recorded once, under the
    // tie's name, as found in the first projection that uses them.
    first_member_.assign(spec_.ties.size(), spec_.projections.size());
    for (std::size_t k = spec_.projections.size(); k-- > 0;)
      if (spec_.projections[k].tie >= 0) first_member_[spec_.projections[k].tie] = k;
  }

  // Extra metric columns, and how often each kind of record is written.
  void plan_recording() {
    if (test_.target_cols) res_.extra_columns.push_back("test_nse");   // regression error
    // Rules that relax (IL, IL-prox) report their energy per sample at the end of inference.
    relaxes_ = rules::find_rule<double>(spec_.learning.rule).reports_energy;
    if (relaxes_) res_.extra_columns.push_back("energy");
    for (const auto& p : spec_.projections)   // feedback alignment per random-feedback projection
      if (p.feedback == feedback_kind::random) {
        res_.extra_columns.push_back("alignment/" + p.name + "/weight_cosine");
        res_.extra_columns.push_back("alignment/" + p.name + "/signal_cosine");
      }
    // Messages lost and messages delayed by jitter (cumulative events), in every run:
    // 0 on reliable links and in the synchronous form.
    res_.extra_columns.push_back("messages_dropped");
    res_.extra_columns.push_back("messages_late");
    const auto& rec = m_.record();
    eval_every_ = m_.schedule().eval_every() ? m_.schedule().eval_every() : train_.rows;
    // Unset record intervals: about 10 snapshots and 20 activity frames per run (and at
    // least one per evaluation interval), so that a short run shows activity too.
    snap_every_ = rec.snapshot_every() ? rec.snapshot_every()
                                       : std::clamp<std::uint64_t>(order_.size() / 10, 1, eval_every_);
    rep_every_ = rec.sample_every() ? rec.sample_every()
                                    : std::clamp<std::uint64_t>(order_.size() / 20, 1, eval_every_);
    flush_every_ = rec.flush_every() ? rec.flush_every() : 1000;
  }

  // record.events: the observer that keeps the chosen samples' messages and states (the
  // event engine only, and only when there is a trace to write them to).
  void plan_events() {
    if (!m_.record().has_events() || !events_net_ || opt_.trace.empty()) return;
    const auto& ev = m_.record().events();
    event_request req;
    for (const auto& name : ev.population())
      for (pop_t v = 0; v < spec_.populations.size(); ++v)
        if (spec_.populations[v].name == name) req.populations.push_back(v);
    req.samples.assign(ev.samples().begin(), ev.samples().end());
    req.neurons.assign(ev.neurons().begin(), ev.neurons().end());
    recorder_ = std::make_unique<event_recorder<Real>>(*events_net_, spec_, std::move(req));
  }

  provenance make_provenance() const {
    provenance pv;
    pv.model_name = m_.name();
    pv.model_text = lm_.text;
    google::protobuf::TextFormat::PrintToString(m_, &pv.effective_model);
    for (const auto& o : lm_.overrides) pv.overrides += o + "\n";
    pv.command_line = opt_.command_line;
    pv.software_version = software_version();
    pv.git_commit = git_commit();
    pv.seed = m_.seed();
    pv.threads = threads_;
    pv.sample_order = order_;
    return pv;
  }

  // The trace: structure first, then streaming appends.
  void open_trace() {
    tw_ = std::make_unique<trace_writer>(opt_.trace, run_inputs(lm_), opt_.force);
    tw_->set_value_type(std::is_same_v<Real, double> ? value_type::f64 : value_type::f32);
    tw_->write_provenance(make_provenance());
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (p.tie >= 0 && first_member_[p.tie] != k) continue;   // a shared parameter: once, under its name
      const auto name = p.tie >= 0 ? spec_.ties[p.tie].name : p.name;
      const index_t rows = p.tie >= 0 ? spec_.ties[p.tie].rows : p.syn.n_post;
      const index_t cols = p.tie >= 0 ? index_t(spec_.ties[p.tie].theta.size() / rows) : p.syn.n_pre;
      tw_->add_projection(name, spec_.populations[p.pre].name, spec_.populations[p.post].name, rows, cols,
                          spec_.populations[p.post].bias);
    }
    for (const auto& name : m_.record().populations())
      for (pop_t v = 0; v < spec_.populations.size(); ++v)
        if (spec_.populations[v].name == name) {
          report_spec r;
          r.population = name;
          r.nodes = spec_.populations[v].size;
          r.sample_step = rep_every_;
          r.elements = t_->elements(v);   // each rule names its state (x/eps, s_plus/s_minus/...)
          if (r.elements.empty()) continue;   // the synchronous forms keep no per-neuron state
          tw_->add_report(r);
          reported_.push_back(v);
        }
    for (const auto& c : res_.extra_columns) tw_->add_metric(c);
    if (recorder_) recorder_->declare(*tw_);
    tw_->start_streaming();
  }

  // The recorded weights: one matrix per projection, a shared parameter once under its name.
  std::vector<weight_matrix> weight_matrices() {
    std::vector<weight_matrix> out;
    for (std::size_t k = 0; k < spec_.projections.size(); ++k) {
      const auto& p = spec_.projections[k];
      if (p.tie >= 0 && first_member_[p.tie] != k) continue;
      weight_matrix wm;
      wm.name = p.tie >= 0 ? spec_.ties[p.tie].name : p.name;
      wm.rows = p.tie >= 0 ? spec_.ties[p.tie].rows : p.syn.n_post;
      wm.w = p.tie >= 0 ? detail::shared_values(spec_, t_->synapses(), p.tie) : detail::dense_weights(t_->synapses()[k]);
      wm.cols = static_cast<std::uint32_t>(wm.w.size() / wm.rows);
      const auto& post = spec_.populations[p.post];
      if (post.bias) {
        const auto* b = t_->bias(p.post);
        wm.b.assign(b->begin(), b->end());
        if (p.tie >= 0 && post.bias_tie >= 0) {   // a kernel's bias: one per channel
          std::vector<double> per(spec_.ties[post.bias_tie].theta.size());
          for (index_t i = 0; i < post.size; ++i) per[post.bias_param[i]] = wm.b[i];
          wm.b = per;
        }
      }
      out.push_back(std::move(wm));
    }
    return out;
  }

  void snapshot(std::uint64_t s) {
    if (!tw_) return;
    for (const auto& wm : weight_matrices()) tw_->append_snapshot(wm.name, s, wm.w, wm.b);
  }

  double wall() const { return std::chrono::duration<double>(clock_type::now() - t0_).count(); }
  const char* tag() const { return opt_.engine == engine_kind::event ? "event" : "baseline"; }

  void append_row(const eval_row& r) {
    res_.rows.push_back(r);
    if (!tw_) return;
    tw_->append_metrics({r.samples, r.ticks, r.train_loss, r.test_accuracy, r.test_loss, r.events, r.synaptic_ops,
                         r.wall_time, r.extra});
    tw_->flush();
  }

  void evaluate_now() {
    std::vector<const std::vector<Real>*> b(spec_.populations.size());
    for (pop_t v = 0; v < spec_.populations.size(); ++v) b[v] = t_->bias(v);
    const auto ev = baseline::evaluate<Real>(spec_, t_->synapses(), b, test_);
    const counters c = t_->totals();
    const double train_loss = loss_n_ ? loss_sum_ / double(loss_n_) : std::nan("");
    eval_row r{s_, t_->now(), train_loss, ev.accuracy, ev.loss, c.events, c.synaptic_ops, wall(), {}};
    if (test_.target_cols) r.extra.push_back(ev.nse);
    if (relaxes_) r.extra.push_back(loss_n_ ? energy_sum_ / double(loss_n_) : std::nan(""));
    loss_sum_ = energy_sum_ = 0;
    loss_n_ = 0;
    // Alignment is probed on (at most) the first 100 test samples.
    for (const auto& a : baseline::measure_alignment<Real>(spec_, t_->synapses(), b, test_, 100)) {
      r.extra.push_back(a.weight_cosine);
      r.extra.push_back(a.signal_cosine);
    }
    r.extra.push_back(double(c.dropped));
    r.extra.push_back(double(c.late));
    append_row(r);
    if (!opt_.progress) return;
    const std::uint64_t total = order_.size();
    const std::string eta = s_ > 0 && s_ < total ? "  ETA " + eta_text(total - s_, s_, r.wall_time) : "";
    if (test_.target_cols)
      std::fprintf(stderr, "[%s] %llu/%llu samples  test NSE %.4g  test loss %.4g  train loss %.4g%s\n", tag(),
                   (unsigned long long)s_, (unsigned long long)total, ev.nse, r.test_loss, r.train_loss, eta.c_str());
    else
      std::fprintf(stderr, "[%s] %llu/%llu samples  test accuracy %.2f%%  test loss %.4f  train loss %.4f%s\n",
                   tag(), (unsigned long long)s_, (unsigned long long)total, 100 * r.test_accuracy, r.test_loss,
                   r.train_loss, eta.c_str());
  }

  bool stop_requested() const { return opt_.stop && opt_.stop->load(); }

  // Trains up to sample `to` in steps of about 0.1 s (at least one sample), checking the
  // stop flag between steps, so Ctrl-C is honoured within one sample even for a slow
  // rule. The engines give the same result however run_samples is split, and losses are
  // taken only at the caller's (deterministic) chunk ends, so the trace does not depend
  // on the step sizes.
  void train_until(std::uint64_t to) {
    while (s_ < to && !stop_requested()) {
      step_from_ = s_;
      step_to_ = std::min(to, s_ + step_);
      const auto c0 = clock_type::now();
      in_step_ = true;
      t_->run_samples(step_to_);
      in_step_ = false;
      const double dt = std::chrono::duration<double>(clock_type::now() - c0).count();
      train_s_ += dt;
      s_ = step_to_;
      if (dt < 0.05 && step_ < 1000) step_ *= 2;
      else if (dt > 0.2 && step_ > 1) step_ /= 2;
    }
  }

  // Chunks end at every recording point (and at least every 1,000 samples, for the
  // divergence check); what is due there is written in a fixed order.
  void train_all() {
    const std::uint64_t total = order_.size();
    while (s_ < total) {
      if (stop_requested()) {
        res_.interrupted = true;
        return;
      }
      auto next = [&](std::uint64_t every) { return (s_ / every + 1) * every; };
      const std::uint64_t to = std::min({total, next(eval_every_), next(snap_every_), next(rep_every_),
                                         next(flush_every_), s_ + 1000});
      const std::uint64_t from = s_;
      train_until(to);
      loss_sum_ += t_->take_loss();
      energy_sum_ += t_->take_energy();
      loss_n_ += s_ - from;
      if (s_ < to) {
        res_.interrupted = true;
        return;
      }
      check_weight_bound(spec_, *t_, s_, mode());
      if (tw_ && s_ % rep_every_ == 0)
        for (pop_t v : reported_)
          tw_->append_report(spec_.populations[v].name, s_, t_->now(), t_->report(v, order_[s_ - 1]));
      if (recorder_ && tw_) recorder_->write(s_, *tw_);
      if (s_ % snap_every_ == 0 || s_ == total) snapshot(s_);
      if (s_ % eval_every_ == 0 || s_ == total) evaluate_now();
      else if (tw_ && s_ % flush_every_ == 0) tw_->flush();
      print_progress();
    }
  }

  // (Right after an evaluation the training-loss window is empty: the line waits.)
  void print_progress() {
    if (!opt_.progress || loss_n_ == 0 || std::chrono::duration<double>(clock_type::now() - last_print_).count() <= 2.0)
      return;
    last_print_ = clock_type::now();
    const std::uint64_t total = order_.size();
    std::fprintf(stderr, "[%s] %llu/%llu samples  %.0f samples/s  train loss %.4f  ETA %s\n", tag(),
                 (unsigned long long)s_, (unsigned long long)total, double(s_) / train_s_,
                 loss_sum_ / double(loss_n_), eta_text(total - s_, s_, wall()).c_str());
  }

  // The NaN row's `samples` is the sample in which learning diverged (1-based).
  void record_divergence(const numeric_error& e) {
    const std::uint64_t total = order_.size();
    const std::uint64_t at = in_step_ ? t_->failed_sample(step_from_, step_to_) : s_;
    res_.diverged = e.what();
    if (in_step_)
      res_.diverged +=
          " (training sample " + std::to_string(at) + " of " + std::to_string(total) + ", counting from 1)";
    const counters c = t_->totals();
    std::vector<double> extra(res_.extra_columns.size(), std::nan(""));
    extra[extra.size() - 2] = double(c.dropped);   // the message counts stay counts
    extra.back() = double(c.late);
    append_row({at, t_->now(), std::nan(""), std::nan(""), std::nan(""), c.events, c.synaptic_ops, wall(), extra});
  }

  const loaded_model& lm_;
  const pb::Model& m_;
  const run_options& opt_;
  const dataset train_, test_;
  const network_spec spec_;
  std::vector<std::uint64_t> order_;
  unsigned threads_ = 1;
  run_result res_;
  std::unique_ptr<trainer<Real>> t_;
  std::vector<std::size_t> first_member_;
  bool relaxes_ = false;
  std::uint64_t eval_every_ = 1, snap_every_ = 1, rep_every_ = 1, flush_every_ = 1000;
  std::unique_ptr<trace_writer> tw_;
  rules::event_network<Real>* events_net_ = nullptr;   // the event engine's network (null: baseline)
  std::unique_ptr<event_recorder<Real>> recorder_;     // record.events, or null
  std::vector<pop_t> reported_;
  // The loop's state: samples trained, the current step, losses since the last evaluation.
  clock_type::time_point t0_, last_print_;
  double train_s_ = 0, loss_sum_ = 0, energy_sum_ = 0;
  std::uint64_t loss_n_ = 0, s_ = 0, step_ = 1, step_from_ = 0, step_to_ = 0;
  bool in_step_ = false;
};

}  // namespace

run_result run(const loaded_model& model, const run_options& opt) {
  if (model.model.execution().precision() == pb::FLOAT64) return training_run<double>(model, opt).run();
  return training_run<float>(model, opt).run();
}

}  // namespace phaseless::io
