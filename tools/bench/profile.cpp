// Profile driver (never a test): trains one engine on a model for N samples and
// nothing else, with the training loop in one function, phaseless_training_loop, so
// that callgrind can count its instructions alone (--toggle-collect). Used by
// tools/callgrind_per_sample.sh, which takes the difference of two sample counts.
//
//   phaseless_profile MODEL --engine event|sync|hand --samples N [--threads T] [--set PATH=VALUE]...
//
// --threads T runs T shards, one thread each (no automatic choice: this measures the
// count given). It prints the training loop's wall time and the calling thread's CPU time.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/rules/event_network.hpp"
#include "sim/rules/registry.hpp"
#include "tools/bench/setup.hpp"

using namespace phaseless;

// The calling thread's CPU time: unlike wall time it leaves out the time the thread
// waited for a core, so it stays comparable on a loaded machine (1 thread only).
static double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

extern "C" __attribute__((noinline)) void phaseless_training_loop(const std::function<void()>* body) { (*body)(); }

int main(int argc, char** argv) {
  std::string model, engine = "event";
  std::uint64_t samples = 1000;
  unsigned threads = 1;
  std::vector<std::string> sets;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "phaseless_profile: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (a == "--engine") engine = value();
    else if (a == "--samples") samples = std::stoull(value());
    else if (a == "--threads") threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--set") sets.push_back(value());
    else model = a;
  }
  if (model.empty() || (engine != "event" && engine != "sync" && engine != "hand")) {
    std::fprintf(stderr, "usage: phaseless_profile MODEL --engine event|sync|hand --samples N [--threads T] [--set P=V]\n");
    return 2;
  }
  try {
    sets.push_back("schedule.max_samples=" + std::to_string(samples));
    const auto lm = io::load_model(model, sets);
    const auto s = bench::load_setup(lm);
    const std::uint64_t n = std::min<std::uint64_t>(samples, s.order.size());
    const auto mode = lm.model.execution().mode() == phaseless::v1::EAGER ? core::mode_kind::eager
                                                                            : core::mode_kind::dataflow;
    double check = 0;   // something the loop computed, printed so that nothing is optimized away
    std::function<void()> body;
    std::unique_ptr<rules::event_network<float>> net;
    std::unique_ptr<baseline::sync_engine<float>> sync;
    std::unique_ptr<bench::handwritten_mlp> hand;
    if (engine == "event") {
      net = std::make_unique<rules::event_network<float>>(s.spec, s.train, s.order, s.interval, mode, threads);
      body = [&] { net->run_samples(n); };
    } else if (engine == "sync") {
      sync = rules::find_rule<float>(s.spec.learning.rule).make_sync(s.spec);
      body = [&] {
        for (std::uint64_t k = 0; k < n; ++k) sync->train(s.train, s.order[k], k, n);
      };
    } else {
      auto layers = bench::hand_layers(s.spec);
      if (layers.empty()) throw std::runtime_error("the hand-written reference needs a dense MLP with softmax CE at batch 1");
      hand = std::make_unique<bench::handwritten_mlp>(std::move(layers), static_cast<float>(s.spec.learning.lr));
      body = [&] {
        for (std::uint64_t k = 0; k < n; ++k)
          check += hand->train(s.train.sample(s.order[k]).data(), s.train.labels[s.order[k]]);
      };
    }
    const double c0 = thread_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    phaseless_training_loop(&body);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = thread_cpu_seconds() - c0;
    if (net) check = double(net->totals().events);
    std::printf("%s: %llu samples (check %g), training loop %.3f s: %.1f samples/s; CPU time %.3f s: %.1f samples/s\n",
                engine.c_str(), static_cast<unsigned long long>(n), check, sec, double(n) / sec, cpu, double(n) / cpu);
  } catch (const core::user_error& e) {
    std::fprintf(stderr, "phaseless_profile: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phaseless_profile: %s\n", e.what());
    return 2;
  }
  return 0;
}
