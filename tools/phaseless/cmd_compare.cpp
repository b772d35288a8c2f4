#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sim/core/errors.hpp"
#include "sim/io/output_path.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

namespace {

struct agreement {
  double cosine = 0, relative_error = 0, max_abs = 0;
};

// Compares two weight updates dW = W_end - W_start: cosine and ||a - b|| / ||b||.
agreement compare_updates(const std::vector<double>& a0, const std::vector<double>& a1, const std::vector<double>& b0,
                          const std::vector<double>& b1) {
  double ab = 0, aa = 0, bb = 0, dd = 0, mx = 0;
  for (std::size_t k = 0; k < a0.size(); ++k) {
    const double da = a1[k] - a0[k], db = b1[k] - b0[k];
    ab += da * db;
    aa += da * da;
    bb += db * db;
    dd += (da - db) * (da - db);
    mx = std::max(mx, std::abs(da - db));
  }
  agreement g;
  g.cosine = (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
  g.relative_error = bb > 0 ? std::sqrt(dd / bb) : std::sqrt(dd);
  g.max_abs = mx;
  return g;
}

constexpr const char* report_head = "phaseless compare ";

// A file `compare` wrote: it starts with report_head.
bool is_report(const std::filesystem::path& file) {
  std::ifstream f(file, std::ios::binary);
  std::string head(std::char_traits<char>::length(report_head), '\0');
  return f.read(head.data(), static_cast<std::streamsize>(head.size())) && head == report_head;
}

void check_report_target(const std::string& report, const std::string& trace, const std::vector<io::named_path>& inputs,
                         bool force) {
  std::error_code ec;
  if (!trace.empty() && (report == trace || std::filesystem::equivalent(report, trace, ec)))
    throw core::user_error("--report and --out name the same file '" + report + "'; give them different paths");
  const std::filesystem::path dir = std::filesystem::path(report).parent_path();
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
    throw core::user_error("cannot write report '" + report + "': folder '" + dir.string() + "' does not exist");
  io::check_replaceable(report, "report", inputs, force, is_report);
}

}  // namespace

int cmd_compare(int argc, char** argv) {
  po::options_description opts("options");
  std::string model, report, out;
  std::string threads;
  std::vector<std::string> sets;
  opts.add_options()("model", po::value(&model)->required(), "model file (.textproto)")(
      "report,r", po::value(&report), "write the comparison here (default: <model name>-compare.txt)")(
      "out,o", po::value(&out), "also write the event engine's trace here")(
      "threads,t", po::value(&threads), "worker threads of the event engine, 1 to 2 x the hardware threads")(
      "set,s", po::value(&sets)->composing(), "override a scalar field: path.to.field=value (repeatable)")(
      "force,f", "let --report and --out replace existing files of another kind (never an input of the run)")(
      "quiet,q", "no progress output");
  po::variables_map vm;
  if (!parse("compare", "MODEL [--report FILE] [--out TRACE] [--force] [--threads N] [--set path=value]...", opts,
             "model", argc, argv, vm))
    return exit_ok;
  const unsigned n_threads = thread_flag(threads);   // before the model: a flag mistake is found at once
  const auto lm = io::load_model(model, sets);
  if (report.empty()) report = lm.path.stem().string() + "-compare.txt";
  const bool force = vm.count("force") > 0;
  // Checked before the runs (they take long) and again when the report is written.
  const auto inputs = io::run_inputs(lm);
  check_report_target(report, out, inputs, force);
  install_signal_handlers();
  io::run_options o;
  o.threads = n_threads;
  o.progress = !vm.count("quiet");
  o.command_line = joined_command_line(argc, argv);
  o.stop = &stop_flag();
  o.trace = out;
  o.force = force;
  const auto ev = io::run(lm, o);
  if (ev.interrupted) return exit_interrupted;
  o.engine = io::engine_kind::baseline;
  o.trace.clear();
  const auto bp = io::run(lm, o);
  if (bp.interrupted) return exit_interrupted;

  std::ostringstream s;
  char line[256];
  s << report_head << model << " (model '" << lm.model.name() << "', seed " << lm.model.seed() << ", "
    << ev.samples << " samples, same order)\n\n";
  s << "weight updates dW = W_end - W_start, event engine vs synchronous baseline\n";
  std::snprintf(line, sizeof line, "  %-14s %12s %14s %14s\n", "projection", "cosine", "relative err", "max |diff|");
  s << line;
  for (std::size_t k = 0; k < ev.projections.size(); ++k) {
    const auto g = compare_updates(ev.w_start[k], ev.w_end[k], bp.w_start[k], bp.w_end[k]);
    std::snprintf(line, sizeof line, "  %-14s %12.9f %14.3e %14.3e\n", ev.projections[k].c_str(), g.cosine,
                  g.relative_error, g.max_abs);
    s << line;
  }
  s << "\nlearning curves (test set)\n";
  std::snprintf(line, sizeof line, "  %10s %14s %14s %12s %12s %12s %12s\n", "samples", "acc event", "acc baseline",
                "loss event", "loss base", "train event", "train base");
  s << line;
  for (std::size_t k = 0; k < std::min(ev.rows.size(), bp.rows.size()); ++k) {
    const auto &a = ev.rows[k], &b = bp.rows[k];
    std::snprintf(line, sizeof line, "  %10llu %13.2f%% %13.2f%% %12.4f %12.4f %12.4f %12.4f\n",
                  (unsigned long long)a.samples, 100 * a.test_accuracy, 100 * b.test_accuracy, a.test_loss,
                  b.test_loss, a.train_loss, b.train_loss);
    s << line;
  }
  const auto &le = ev.rows.back(), &lb = bp.rows.back();
  s << "\ncost\n";
  std::snprintf(line, sizeof line, "  %-22s %16s %16s\n", "", "event engine", "baseline");
  s << line;
  std::snprintf(line, sizeof line, "  %-22s %16llu %16s\n", "events", (unsigned long long)le.events, "-");
  s << line;
  std::snprintf(line, sizeof line, "  %-22s %16llu %16llu\n", "synaptic ops", (unsigned long long)le.synaptic_ops,
                (unsigned long long)lb.synaptic_ops);
  s << line;
  std::snprintf(line, sizeof line, "  %-22s %16.2f %16.2f\n", "training wall time (s)", ev.train_seconds,
                bp.train_seconds);
  s << line;
  const double rate_e = ev.train_seconds > 0 ? double(ev.samples) / ev.train_seconds : 0;
  const double rate_b = bp.train_seconds > 0 ? double(bp.samples) / bp.train_seconds : 0;
  std::snprintf(line, sizeof line, "  %-22s %16.0f %16.0f   (ratio event/baseline %.2f)\n", "samples/s", rate_e, rate_b,
                rate_b > 0 ? rate_e / rate_b : 0.0);
  s << line;
  std::snprintf(line, sizeof line, "\nfinal test accuracy: event %.2f%%, baseline %.2f%%, difference %.2f points\n",
                100 * le.test_accuracy, 100 * lb.test_accuracy, 100 * (le.test_accuracy - lb.test_accuracy));
  s << line;
  if (!ev.diverged.empty()) s << "event engine diverged: " << ev.diverged << "\n";
  if (!bp.diverged.empty()) s << "baseline diverged: " << bp.diverged << "\n";
  std::cout << s.str();
  check_report_target(report, out, inputs, force);
  io::write_text_output(report, "report", s.str());
  std::cout << "report written to " << report << "\n";
  return (ev.diverged.empty() && bp.diverged.empty()) ? exit_ok : exit_diverged;
}

}  // namespace phaseless::cli
