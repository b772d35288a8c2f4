// Benchmark (never a test): samples/s of the event engine, the synchronous baseline
// and an independent hand-written batch-1 backprop loop (handwritten.hpp) on the same
// model, data and order, measured in one run, plus PyTorch at batch 1 and 64 through
// tools/bench_torch.py when Debian's python3-torch is there. Prints ratios against
// the references of this run (absolute times drift); each figure is the best of
// --repeat runs. --json FILE writes every rate and ratio for tools that compare runs.
//
//   phaseless_bench [MODEL] [--samples N] [--threads N] [--repeat R] [--json FILE] [--no-torch] [--no-il]
//                   [--il-model M] [--no-dp] [--no-cnn] [--no-delays] [--scaling]
//
// --scaling: the event engine at 1 and 2 threads on MODEL and on MODEL with its hidden
// layers widened to 2048 (h1, h2), each ratio 2 threads / 1 thread, and next to each
// the same ratio of a hand-written loop split between two threads (handwritten_split.hpp):
// what two threads can give that work on this machine in this run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include "sim/core/errors.hpp"
#include "sim/io/session.hpp"
#include "tools/bench/handwritten_split.hpp"
#include "tools/bench/setup.hpp"

#ifndef PHASELESS_SOURCE_DIR
#define PHASELESS_SOURCE_DIR "."
#endif

using namespace phaseless;

namespace {

struct measurement {
  double rate = 0;      // samples/s (best of repeats)
  double events = 0;    // events/s at that rate
  double ops = 0;       // synaptic ops per sample
  double accuracy = 0;
  unsigned shards = 1;  // the event engine's shards (chosen from the network's size and the threads)
  double parallel = 1;  // the share of its multi-shard windows it ran on both threads
};

measurement measure(const io::loaded_model& m, io::engine_kind k, unsigned threads, int repeat) {
  measurement best;
  for (int r = 0; r < repeat; ++r) {
    io::run_options o;
    o.engine = k;
    o.threads = threads;
    o.progress = false;
    const auto res = io::run(m, o);
    const double rate = double(res.samples) / res.train_seconds;
    if (rate > best.rate) {
      best.rate = rate;
      best.events = double(res.rows.back().events) / res.train_seconds;
      best.ops = double(res.rows.back().synaptic_ops) / double(res.samples);
      best.accuracy = res.rows.back().test_accuracy;
      best.shards = res.shards;
      best.parallel = res.parallel_share;
    }
  }
  return best;
}

// Samples/s of the hand-written loop (best of repeats), 0 when the model is not a
// dense softmax MLP at batch 1.
double measure_hand(const io::loaded_model& m, unsigned samples, int repeat) {
  const auto s = bench::load_setup(m);
  const auto layers = bench::hand_layers(s.spec);
  if (layers.empty()) return 0;
  const std::size_t n = std::min<std::size_t>(samples, s.order.size());
  double best = 0, check = 0;
  for (int r = 0; r < repeat; ++r) {
    bench::handwritten_mlp net(layers, static_cast<float>(s.spec.learning.lr));
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < n; ++k) check += net.train(s.train.sample(s.order[k]).data(), s.train.labels[s.order[k]]);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(n) / sec);
  }
  if (!(check == check)) std::printf("hand-written loop: loss became NaN\n");
  return best;
}

// Samples/s of the hand-written loop split between `threads` threads
// (handwritten_split.hpp; best of repeats), 0 when the model is not a dense softmax
// MLP of ReLU layers at batch 1.
double measure_split(const io::loaded_model& m, unsigned samples, unsigned threads, int repeat) {
  const auto s = bench::load_setup(m);
  const auto layers = bench::hand_layers(s.spec);
  if (!bench::handwritten_split::supports(layers)) return 0;
  const std::size_t n = std::min<std::size_t>(samples, s.order.size());
  double best = 0, check = 0;
  for (int r = 0; r < repeat; ++r) {
    bench::handwritten_split net(layers, static_cast<float>(s.spec.learning.lr), threads);
    const auto t0 = std::chrono::steady_clock::now();
    check += net.train(
        n, [&](std::size_t k) { return s.train.sample(s.order[k]).data(); },
        [&](std::size_t k) { return int(s.train.labels[s.order[k]]); });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(n) / sec);
  }
  if (!(check == check)) std::printf("hand-written split loop: loss became NaN\n");
  return best;
}

// The machine's 1-minute load average (/proc/loadavg), -1 where there is none.
double load_average() {
  double v = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &v) != 1) v = -1;
    std::fclose(f);
  }
  return v;
}

// Every figure of the run, in print order, for --json.
std::vector<std::pair<std::string, double>> figures;
std::vector<std::pair<std::string, std::string>> facts;
void note(const std::string& key, double v) { figures.emplace_back(key, v); }

void write_json(const std::string& file) {
  FILE* f = std::fopen(file.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "phaseless_bench: --json %s: cannot write the file\n", file.c_str());
    std::exit(4);
  }
  std::fprintf(f, "{\n");
  for (const auto& [k, v] : facts) {
    std::string esc;
    for (char c : v) {
      if (c == '"' || c == '\\') esc += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) esc += c;
    }
    std::fprintf(f, "  \"%s\": \"%s\",\n", k.c_str(), esc.c_str());
  }
  for (std::size_t i = 0; i < figures.size(); ++i)
    std::fprintf(f, "  \"%s\": %.6g%s\n", figures[i].first.c_str(), figures[i].second,
                 i + 1 < figures.size() ? "," : "");
  std::fprintf(f, "}\n");
  if (std::fclose(f) != 0) {
    std::fprintf(stderr, "phaseless_bench: --json %s: write failed\n", file.c_str());
    std::exit(4);
  }
}

double torch_rate(const std::string& which, const std::string& out) {
  const auto at = out.find(which);
  return at == std::string::npos ? 0 : std::atof(out.c_str() + at + which.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = std::string(PHASELESS_SOURCE_DIR) + "/models/fmnist_zil.textproto";
  unsigned samples = 10000, threads = 1;
  int repeat = 3;
  bool torch = true;
  bool dp = true;   // dual propagation, one sweep, against its synchronous form and BP (batch 1)
  bool il = true;
  bool cnn = true;   // Z-IL on the convolutional model (shared kernels) against its synchronous baseline
  bool delays = true;   // MODEL again with per-synapse random delays 1..5 (per-target dataflow gates)
  std::string il_model = std::string(PHASELESS_SOURCE_DIR) + "/models/fmnist_il.textproto";
  std::string json;
  bool scaling = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "phaseless_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (a == "--samples") samples = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--threads") threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--repeat") repeat = std::max(1, std::stoi(value()));
    else if (a == "--no-torch") torch = false;
    else if (a == "--no-dp") dp = false;
    else if (a == "--no-il") il = false;
    else if (a == "--no-cnn") cnn = false;
    else if (a == "--no-delays") delays = false;
    else if (a == "--il-model") il_model = value();
    else if (a == "--json") json = value();
    else if (a == "--scaling") scaling = true;
    else if (a == "--help") {
      std::puts("usage: phaseless_bench [MODEL] [--samples N] [--threads N] [--repeat R] [--json FILE] [--no-torch] [--no-il] "
                "[--il-model M] [--no-dp] [--no-cnn] [--no-delays]");
      return 0;
    } else model = a;
  }
  try {
    const std::vector<std::string> sets = {"schedule.max_samples=" + std::to_string(samples),
                                           "schedule.eval_every=" + std::to_string(samples),
                                           "data.test_subset=1000", "schedule.epochs=1"};
    const auto m = io::load_model(model, sets);
    std::printf("model %s, %u samples at batch %u, %u thread(s), best of %d\n", m.model.name().c_str(), samples,
                m.model.schedule().batch_size(), threads, repeat);
    facts.emplace_back("model", m.model.name());
    note("samples", samples);
    note("threads", threads);
    note("repeat", repeat);
    const auto ev = measure(m, io::engine_kind::event, threads, repeat);
    const auto bp = measure(m, io::engine_kind::baseline, threads, repeat);
    const double hand = measure_hand(m, samples, repeat);
    std::printf("%-34s %12.0f samples/s  (%.0f events/s, %.0f synaptic ops/sample)\n", "event engine (message passing)",
                ev.rate, ev.events, ev.ops);
    std::printf("%-34s %12.0f samples/s\n", "synchronous baseline (matrix form)", bp.rate);
    note("event_samples_per_s", ev.rate);
    note("sync_samples_per_s", bp.rate);
    if (hand > 0) {
      std::printf("%-34s %12.0f samples/s\n", "hand-written batch-1 loop", hand);
      note("hand_samples_per_s", hand);
    }
    std::printf("ratio event / synchronous            %12.2f\n", ev.rate / bp.rate);
    note("ratio_event_over_sync", ev.rate / bp.rate);
    if (hand > 0) {
      std::printf("ratio event / hand-written           %12.2f   (target >= 1)\n", ev.rate / hand);
      std::printf("ratio synchronous / hand-written     %12.2f\n", bp.rate / hand);
      note("ratio_event_over_hand", ev.rate / hand);
      note("ratio_sync_over_hand", bp.rate / hand);
    }
    if (torch) {
      const std::string cmd = std::string("/usr/bin/python3 ") + PHASELESS_SOURCE_DIR +
                              "/tools/bench_torch.py --threads " + std::to_string(threads) + " 2>&1";
      std::string out;
      if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[512];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
      }
      const double t1 = torch_rate("torch_batch1_samples_per_s", out), t64 = torch_rate("torch_batch64_samples_per_s", out);
      if (t1 > 0) {
        std::printf("%-34s %12.0f samples/s\n", "pytorch batch 1", t1);
        std::printf("%-34s %12.0f samples/s\n", "pytorch batch 64", t64);
        std::printf("ratio event / pytorch batch 1        %12.2f   (target >= 3)\n", ev.rate / t1);
        std::printf("ratio event / pytorch batch 64       %12.2f\n", ev.rate / t64);
        note("torch_batch1_samples_per_s", t1);
        note("torch_batch64_samples_per_s", t64);
        note("ratio_event_over_torch_batch1", ev.rate / t1);
        note("ratio_event_over_torch_batch64", ev.rate / t64);
        std::printf("pytorch setup:\n");
        for (const char* key : {"torch_version", "cpu_capability", "openblas_coretype", "blas_kernels", "blas_library"}) {
          const auto at = out.find(key);
          if (at == std::string::npos) continue;
          const auto line = out.substr(at, out.find('\n', at) - at);
          std::printf("  %s\n", line.c_str());
          facts.emplace_back(key, line.substr(std::string(key).size() + 1));
        }
      } else {
        std::printf("pytorch: not measured (/usr/bin/python3 with python3-torch not available)\n");
      }
    }
    if (scaling) {
      const auto wide = io::load_model(model, [&] {
        auto w = sets;
        w.push_back("schedule.max_samples=" + std::to_string(std::max(100u, samples / 10)));
        w.push_back("schedule.eval_every=" + std::to_string(std::max(100u, samples / 10)));
        for (const char* h : {"h1", "h2"}) w.push_back(std::string("populations[") + h + "].size=2048");
        return w;
      }());
      for (const auto* mm : {&m, &wide}) {
        // 1 and 2 threads alternate (1, 2, 1, 2, ...), so that other jobs starting or
        // ending during the measurement touch both alike; each rate the best of its runs.
        measurement one, two;
        const double load0 = load_average();
        for (int r = 0; r < repeat; ++r) {
          const auto a = measure(*mm, io::engine_kind::event, 1, 1), b = measure(*mm, io::engine_kind::event, 2, 1);
          if (a.rate > one.rate) one = a;
          if (b.rate > two.rate) two = b;
        }
        const bool is_wide = mm == &wide;
        std::printf("%s: event engine 1 thread %.0f, 2 threads (%u shard%s) %.0f samples/s, ratio 2/1 %.2f   (target %s)\n",
                    is_wide ? "784-2048-2048-10" : "default network", one.rate, two.shards, two.shards == 1 ? "" : "s",
                    two.rate, two.rate / one.rate, is_wide ? ">= 1.7" : ">= 1");
        if (two.shards > 1)
          std::printf("  (%.0f%% of its windows ran on both threads, the rest one shard after another: the engine "
                      "keeps the faster way)\n", 100 * two.parallel);
        note(is_wide ? "wide_ratio_2_over_1_threads" : "ratio_2_over_1_threads", two.rate / one.rate);
        // The same work written by hand and split between threads: what two threads can
        // give it on this machine now (bandwidth, barriers, other jobs), in the same run.
        const unsigned n = is_wide ? std::max(100u, samples / 10) : samples;
        double h1 = 0, h2 = 0;
        for (int r = 0; r < repeat; ++r) {
          h1 = std::max(h1, measure_split(*mm, n, 1, 1));
          h2 = std::max(h2, measure_split(*mm, n, 2, 1));
        }
        if (h1 > 0 && h2 > 0) {
          std::printf("%s: hand-written loop split by rows, 1 thread %.0f, 2 threads %.0f samples/s, ratio 2/1 %.2f   "
                      "(upper bound for the engine's ratio)\n",
                      is_wide ? "784-2048-2048-10" : "default network", h1, h2, h2 / h1);
          note(is_wide ? "wide_hand_split_ratio_2_over_1_threads" : "hand_split_ratio_2_over_1_threads", h2 / h1);
        }
        // Two threads need two free cores: with other jobs running the ratios say little.
        std::printf("  (load average %.2f before these runs, %.2f after, on %u cores)\n", load0, load_average(),
                    std::thread::hardware_concurrency());
      }
    }
    if (delays) {
      // The same model with every synapse's delay drawn from 1..5 ticks, both ways: an
      // event then reaches a subset of its fan-out (one delay class), so dataflow counts
      // arrivals per target and inputs are gathered per synapse. The baseline does not
      // depend on delays; the ratio shows what random delays cost the event engine.
      std::vector<std::string> rd = sets;
      rd.push_back("schedule.max_samples=" + std::to_string(std::max(100u, samples / 4)));
      rd.push_back("schedule.eval_every=" + std::to_string(std::max(100u, samples / 4)));
      for (const auto& q : m.model.projections())   // the feedback delay copies the forward law
        rd.push_back("projections[" + q.name() + "].delay={uniform {min: 1 max: 5}}");
      const auto mr = io::load_model(model, rd);
      const auto re = measure(mr, io::engine_kind::event, threads, repeat);
      std::printf("%s with random delays 1..5 per synapse (forward and feedback), %u samples\n",
                  mr.model.name().c_str(), std::max(100u, samples / 4));
      std::printf("%-34s %12.0f samples/s  (%.0f events/s)\n", "event engine, random delays", re.rate, re.events);
      std::printf("ratio random-delay event / synchronous %10.2f   (constant delays above: %.2f)\n", re.rate / bp.rate,
                  ev.rate / bp.rate);
      std::printf("ratio random-delay / uniform-delay event %8.2f   (target >= 0.8)\n", re.rate / ev.rate);
      note("delays_event_samples_per_s", re.rate);
      note("ratio_delays_over_uniform", re.rate / ev.rate);
    }
    if (cnn) {
      // Z-IL on a CNN (models/fmnist_cnn.textproto): every kernel weight is shared by its
      // copies (tie groups), so this also times the deferred summed kernel updates.
      const auto mc = io::load_model(std::string(PHASELESS_SOURCE_DIR) + "/models/fmnist_cnn.textproto", sets);
      const auto ce = measure(mc, io::engine_kind::event, threads, repeat);
      const auto cs = measure(mc, io::engine_kind::baseline, threads, repeat);
      std::printf("CNN model %s, %u samples at batch %u\n", mc.model.name().c_str(), samples,
                  mc.model.schedule().batch_size());
      std::printf("%-34s %12.0f samples/s  (%.0f synaptic ops/sample)\n", "CNN event engine (Z-IL messages)", ce.rate,
                  ce.ops);
      std::printf("%-34s %12.0f samples/s\n", "CNN synchronous baseline (backprop)", cs.rate);
      std::printf("CNN ratio event / synchronous        %12.2f   (target >= 1)\n", ce.rate / cs.rate);
      note("cnn_event_samples_per_s", ce.rate);
      note("cnn_sync_samples_per_s", cs.rate);
      note("cnn_ratio_event_over_sync", ce.rate / cs.rate);
    }
    if (il) {
      // IL (T relaxation steps per sample, spec pc-family.md §2.3) on the same network:
      // event engine against its own synchronous Jacobi form, and the work per sample
      // against the dense count of a synchronous sweep (every neuron every step).
      const unsigned n_il = std::max(100u, samples / 10);
      const auto mi = io::load_model(il_model, {"schedule.max_samples=" + std::to_string(n_il),
                                                "schedule.eval_every=" + std::to_string(n_il),
                                                "data.test_subset=1000", "schedule.epochs=1"});
      const unsigned T = mi.model.rule().has_il() ? mi.model.rule().il().iterations() : mi.model.rule().il_prox().iterations();
      double neurons = 0, fwd_macs = 0, back_macs = 0;
      std::map<std::string, double> size;
      for (const auto& p : mi.model.populations()) {
        size[p.name()] = p.size();
        if (p.role() != phaseless::v1::INPUT) neurons += p.size();
      }
      for (const auto& q : mi.model.projections()) {
        fwd_macs += size[q.pre()] * size[q.post()];
        if (q.feedback().kind() != phaseless::v1::NONE) back_macs += size[q.pre()] * size[q.post()];
      }
      const auto ie = measure(mi, io::engine_kind::event, threads, repeat);
      const auto ib = measure(mi, io::engine_kind::baseline, threads, repeat);
      std::printf("IL model %s, T = %u, %u samples at batch %u\n", mi.model.name().c_str(), T, n_il,
                  mi.model.schedule().batch_size());
      std::printf("%-34s %12.1f samples/s\n", "IL event engine (message passing)", ie.rate);
      std::printf("%-34s %12.1f samples/s\n", "IL synchronous form (Jacobi)", ib.rate);
      std::printf("IL ratio event / synchronous         %12.2f   (target >= 1)\n", ie.rate / ib.rate);
      note("il_event_samples_per_s", ie.rate);
      note("il_sync_samples_per_s", ib.rate);
      note("il_ratio_event_over_sync", ie.rate / ib.rate);
      std::printf("IL messages per sample               %12.0f   vs dense neuron updates neurons x T = %.0f x %u = %.0f\n",
                  ie.events / ie.rate, neurons, T, neurons * T);
      std::printf("IL synaptic ops per sample           %12.0f   vs dense sweeps (T+1) x W + T x W^T = %.0f (sync form: %.0f)\n",
                  ie.ops, (T + 1) * fwd_macs + T * back_macs, ib.ops);
    }
    if (dp) {
      // DP (spec dp-fa.md §6.2 runtime parity): one sweep (rounds 1: forward, nudge, one
      // top-down sweep), alpha 1/2, batch 1, on the 784-512-512-10 replication network;
      // the event engine against DP's synchronous form, and that against backprop (the
      // synchronous baseline of the BP row). Both with SGD: Adam's per-synapse step would
      // dominate both and hide the cost of the propagation itself.
      const unsigned n_dp = std::max(100u, samples / 4);
      const std::vector<std::string> common = {"schedule.max_samples=" + std::to_string(n_dp),
                                               "schedule.eval_every=" + std::to_string(n_dp), "data.test_subset=1000",
                                               "schedule.epochs=1", "schedule.batch_size=1"};
      auto with = [&](std::vector<std::string> extra) {
        extra.insert(extra.end(), common.begin(), common.end());
        return extra;
      };
      const auto md = io::load_model(std::string(PHASELESS_SOURCE_DIR) + "/models/fmnist_dp_a05.textproto",
                                     with({"rule.dp.rounds=1", "rule.dp.optimizer.kind=SGD"}));
      const auto mb = io::load_model(std::string(PHASELESS_SOURCE_DIR) + "/models/fmnist_dp_bp.textproto",
                                     with({"rule.zil.optimizer.kind=SGD"}));
      const auto de = measure(md, io::engine_kind::event, threads, repeat);
      const auto ds = measure(md, io::engine_kind::baseline, threads, repeat);
      const auto bs = measure(mb, io::engine_kind::baseline, threads, repeat);
      std::printf("DP model %s, one sweep (rounds 1), alpha 1/2, %u samples at batch 1, SGD\n", md.model.name().c_str(),
                  n_dp);
      std::printf("%-34s %12.0f samples/s  (%.0f synaptic ops/sample)\n", "DP event engine (dyads)", de.rate, de.ops);
      std::printf("%-34s %12.0f samples/s  (%.0f synaptic ops/sample)\n", "DP synchronous form", ds.rate, ds.ops);
      std::printf("%-34s %12.0f samples/s  (%.0f synaptic ops/sample)\n", "BP synchronous (same net, SGD)", bs.rate,
                  bs.ops);
      std::printf("DP ratio event / synchronous         %12.2f   (target >= 1)\n", de.rate / ds.rate);
      note("dp_event_samples_per_s", de.rate);
      note("dp_sync_samples_per_s", ds.rate);
      note("dp_ratio_event_over_sync", de.rate / ds.rate);
      std::printf("DP cost synchronous DP / BP          %12.2f   (time per sample; paper: about 1, target <= 1.5)\n",
                  bs.rate / ds.rate);
    }
  } catch (const core::user_error& e) {
    std::fprintf(stderr, "phaseless_bench: %s\n", e.what());
    return 2;
  }
  if (!json.empty()) write_json(json);
  return 0;
}
