// Benchmark (never a test): samples/s of the event engine and the synchronous
// baseline on the same model, data and order, measured in one run, plus PyTorch
// at batch 1 and 64 through tools/bench_torch.py when Debian's python3-torch is
// there. Prints ratios against the baselines of this run; absolute times drift.
//
//   phaseless_bench [MODEL] [--samples N] [--threads N] [--repeat R] [--no-torch]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sim/core/errors.hpp"
#include "sim/io/session.hpp"

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
    }
  }
  return best;
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
    else if (a == "--help") {
      std::puts("usage: phaseless_bench [MODEL] [--samples N] [--threads N] [--repeat R] [--no-torch]");
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
    const auto ev = measure(m, io::engine_kind::event, threads, repeat);
    const auto bp = measure(m, io::engine_kind::baseline, threads, repeat);
    std::printf("%-34s %12.0f samples/s  (%.0f events/s, %.0f synaptic ops/sample)\n", "event engine (message passing)",
                ev.rate, ev.events, ev.ops);
    std::printf("%-34s %12.0f samples/s\n", "synchronous baseline (matrix form)", bp.rate);
    std::printf("ratio event / synchronous            %12.2f   (target >= 0.5)\n", ev.rate / bp.rate);
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
        std::printf("pytorch setup: ");
        for (const char* key : {"torch_version", "cpu_capability", "blas_library"}) {
          const auto at = out.find(key);
          if (at != std::string::npos) std::printf("%s ", out.substr(at, out.find('\n', at) - at).c_str());
        }
        std::printf("\n");
      } else {
        std::printf("pytorch: not measured (/usr/bin/python3 with python3-torch not available)\n");
      }
    }
  } catch (const core::user_error& e) {
    std::fprintf(stderr, "phaseless_bench: %s\n", e.what());
    return 2;
  }
  return 0;
}
