#pragma once
// One training run of a model, on the event engine or on the synchronous
// baseline, with evaluation, progress output and an optional HDF5 trace. The same
// loop drives both engines so that `phaseless compare` compares like with like.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/io/model_loader.hpp"
#include "sim/io/output_path.hpp"

namespace phaseless::io {

enum class engine_kind { event, baseline };

struct run_options {
  engine_kind engine = engine_kind::event;
  std::filesystem::path trace;        // empty: no trace
  bool force = false;                 // --force: the trace may replace a file that is not a trace
  unsigned threads = 0;               // 0: the model's execution.threads
  // Shards of the event engine, one thread each. 0: chosen from the network's size, at
  // most `threads` (core::auto_shards); N forces N (results are the same at any count).
  unsigned shards = 0;
  bool progress = true;               // progress lines on stderr
  std::string command_line;
  const std::atomic<bool>* stop = nullptr;   // set by SIGINT/SIGTERM: checked between samples; flush, close
};

struct eval_row {
  std::uint64_t samples = 0;
  std::int64_t ticks = 0;
  double train_loss = 0, test_accuracy = 0, test_loss = 0;
  std::uint64_t events = 0, synaptic_ops = 0;
  double wall_time = 0;
  std::vector<double> extra;   // run_result::extra_columns, in order
};

// A projection's weights as the trace records them: dense rows x cols, post-major (a
// shared parameter once, under its name), with the post population's bias if it has one.
struct weight_matrix {
  std::string name;
  std::uint32_t rows = 0, cols = 0;
  std::vector<double> w, b;
};

struct run_result {
  std::vector<eval_row> rows;
  std::vector<std::string> extra_columns;   // /metrics/<name> beyond the standard ones
  std::vector<std::string> projections;
  // Per projection, in its synapse_matrix's order (the same for both engines of a model).
  std::vector<std::vector<double>> w_start, w_end;
  std::vector<weight_matrix> weights;   // at the end of the run, as in the trace's last snapshot
  std::uint64_t samples = 0;
  double train_seconds = 0;    // wall time spent training (evaluation excluded)
  std::int64_t interval = 0;   // presentation interval (event engine)
  std::size_t vertices = 0, edges = 0;
  unsigned shards = 1;         // shards the event engine ran with (1 for the baseline)
  double parallel_share = 1;   // of its multi-shard windows, the share run on the workers (speed only)
  bool interrupted = false;
  std::string diverged;        // non-empty: the numeric error that stopped learning
};

// The training rows in presentation order: epochs x (subset, reshuffled per epoch
// when data.shuffle), cut at schedule.max_samples.
std::vector<std::uint64_t> sample_order(const phaseless::v1::Model& m, std::uint64_t train_rows);

run_result run(const loaded_model& model, const run_options& opt);

// The files a run reads (model file, IDX files), which its outputs must never replace.
std::vector<named_path> run_inputs(const loaded_model& model);

// Learning counts as diverged, before any NaN, when a weight or bias leaves
// [-weight_bound, weight_bound]; checked wherever the run records or flushes.
constexpr double weight_bound = 1e6;

}  // namespace phaseless::io
