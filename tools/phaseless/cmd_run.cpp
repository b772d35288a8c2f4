#include <cstdio>

#include "sim/io/network_builder.hpp"
#include "sim/io/output_path.hpp"
#include "sim/io/trace_reader.hpp"
#include "tools/phaseless/cli.hpp"

namespace phaseless::cli {

int cmd_run(int argc, char** argv) {
  po::options_description opts("options");
  std::string model, out;
  std::string threads, shards;
  std::vector<std::string> sets;
  opts.add_options()("model", po::value(&model)->required(), "model file (.textproto)")(
      "out,o", po::value(&out), "trace file to write (default: <model name>.h5 in this folder)")(
      "threads,t", po::value(&threads), "worker threads, 1 to 2 x the hardware threads (default: the model's execution.threads); "
      "a network too small to pay for them uses fewer")(
      "shards", po::value(&shards), "split every population into N shards, one thread each, instead of the count chosen "
      "from the network's size and --threads (results are identical at any count)")(
      "set,s", po::value(&sets)->composing(), "override a scalar field: path.to.field=value (repeatable)")(
      "force,f", "let --out replace an existing file that is not a trace (never an input of the run)")(
      "quiet,q", "no progress output");
  po::variables_map vm;
  if (!parse("run", "MODEL [--out TRACE] [--force] [--threads N] [--shards N] [--set path=value]...", opts, "model", argc, argv, vm))
    return exit_ok;
  const unsigned n_threads = thread_flag(threads);   // before the model: a flag mistake is found at once
  const unsigned n_shards = thread_flag(shards, "--shards");
  const auto lm = io::load_model(model, sets);
  if (out.empty()) out = lm.path.stem().string() + ".h5";
  // Before loading the data (slow): the writer checks again when it starts.
  io::check_replaceable(out, "trace", io::run_inputs(lm), vm.count("force") > 0, io::is_trace);
  install_signal_handlers();
  io::run_options o;
  o.trace = out;
  o.force = vm.count("force") > 0;
  o.threads = n_threads;
  o.shards = n_shards;
  o.progress = !vm.count("quiet");
  o.command_line = joined_command_line(argc, argv);
  o.stop = &stop_flag();
  const auto r = io::run(lm, o);
  const auto& last = r.rows.back();
  std::printf("model        %s (%s)\n", lm.model.name().c_str(), model.c_str());
  std::printf("network      %zu neurons, %zu synapses (graph vertices incl. data source, edges incl. feedback)\n",
              r.vertices, r.edges);
  std::printf("samples      %llu in %.1f s of training: %.0f samples/s\n", (unsigned long long)r.samples,
              r.train_seconds, r.train_seconds > 0 ? double(r.samples) / r.train_seconds : 0.0);
  std::printf("events       %llu (%.0f per sample), synaptic ops %llu (%.0f per sample)\n",
              (unsigned long long)last.events, r.samples ? double(last.events) / double(r.samples) : 0.0,
              (unsigned long long)last.synaptic_ops,
              r.samples ? double(last.synaptic_ops) / double(r.samples) : 0.0);
  // Every run reports its lost and late messages (0 on reliable links): the last two metric columns.
  const std::size_t nx = r.extra_columns.size();
  if (nx >= 2 && last.extra.size() == nx && r.extra_columns[nx - 2] == "messages_dropped")
    std::printf("messages     %.0f dropped, %.0f late (jitter)\n", last.extra[nx - 2], last.extra[nx - 1]);
  std::printf("simulated    %lld ticks (presentation interval %lld)\n", (long long)last.ticks, (long long)r.interval);
  std::printf("shards       %u (one thread each)\n", r.shards);
  if (!r.diverged.empty()) {
    std::fprintf(stderr, "phaseless run: %s\ntrace (closed, readable): %s\n", r.diverged.c_str(),
                 out.c_str());
    return exit_diverged;
  }
  bool regression = false;
  for (std::size_t k = 0; k < r.extra_columns.size() && k < last.extra.size(); ++k) {
    if (r.extra_columns[k] == "messages_dropped" || r.extra_columns[k] == "messages_late") continue;   // above
    if (r.extra_columns[k] == "test_nse") {
      regression = true;
      std::printf("test         normalized squared error %.4g, loss %.4g\n", last.extra[k], last.test_loss);
    } else {
      std::printf("%-12s %s %.4f\n", k == 0 || regression ? "metrics" : "", r.extra_columns[k].c_str(), last.extra[k]);
    }
  }
  if (!regression)
    std::printf("test         accuracy %s, loss %.4f\n", percent(last.test_accuracy).c_str(), last.test_loss);
  std::printf("trace        %s\n", out.c_str());
  if (r.interrupted) {
    std::fprintf(stderr, "phaseless run: interrupted after %llu samples; trace flushed and closed\n",
                 (unsigned long long)r.samples);
    return exit_interrupted;
  }
  return exit_ok;
}

}  // namespace phaseless::cli
