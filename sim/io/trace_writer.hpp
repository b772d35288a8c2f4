#pragma once
// The HDF5 trace of one run: the only header of the project that stands for HDF5
// (HDF5 itself is included only in trace_writer.cpp and trace_reader.cpp).
// Layout: docs/trace-format.md. Streamed: datasets are chunked and appendable, and
// HDF5 writes metadata only at flush()/close() (HDF5 1.8 file format, no SWMR: a
// SIGKILLed SWMR file stays marked "open for writing" and h5dump/h5py refuse it), so
// a killed run is readable up to the last flush(). See docs/trace-format.md.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/io/output_path.hpp"

namespace phaseless::io {

struct provenance {
  std::string model_name;
  std::string model_text;          // the model file's bytes as read
  std::string effective_model;     // text format after --set overrides and defaults
  std::string overrides;           // the --set arguments, one per line
  std::string command_line;
  std::string software_version;
  std::string git_commit;          // the commit the software was built from ("unknown" without git)
  std::uint64_t seed = 0;
  std::uint32_t threads = 1;
  std::vector<std::uint64_t> sample_order;   // training rows in the order presented
};

struct metrics_row {
  std::uint64_t samples = 0;       // training samples completed
  std::int64_t ticks = 0;          // simulated time
  double train_loss = 0;           // mean over the samples since the previous row
  double test_accuracy = 0;        // fraction in [0,1]
  double test_loss = 0;
  std::uint64_t events = 0;        // cumulative messages (one per neuron emission per delay class)
  std::uint64_t synaptic_ops = 0;  // cumulative multiply-adds done by synapses
  double wall_time = 0;            // seconds since start (excluded from determinism checks)
  std::vector<double> extra;       // the columns declared with add_metric, in that order
};

struct report_spec {
  std::string population;
  std::uint32_t nodes = 0;             // SONATA node_ids 0..nodes-1 within the population
  std::vector<std::string> elements;   // per-node elements, e.g. {"x","eps"}; SONATA element_ids 0..k-1
  std::uint64_t sample_step = 1;       // training samples between two frames (SONATA time step)
};

// A group of appendable columns that grow together, one row per record (the messages
// and the per-tick states of /events). `real` columns are stored in the run's precision.
enum class column_kind { u8, u32, u64, i64, real };
struct table_column {
  std::string name;
  column_kind kind = column_kind::real;
  std::uint64_t width = 0;   // 0: 1-D [rows]; else 2-D [rows, width]
};
struct table_spec {
  std::string path;   // absolute, e.g. "/events/h1/state"; missing groups are created
  std::vector<table_column> columns;
  std::vector<std::pair<std::string, std::string>> text_attrs;     // on the group
  std::vector<std::pair<std::string, std::uint64_t>> number_attrs;  // on the group, u64
  // u64 datasets written once, by path inside the group ("mapping/node_ids": groups made)
  std::vector<std::pair<std::string, std::vector<std::uint64_t>>> fixed;
};

// Storage type of weights, biases and reports: the run's precision, so a FLOAT64 run
// can be checked from its trace to its own accuracy.
enum class value_type { f32, f64 };

class trace_writer {
 public:
  // Starts the trace for `file`: written as ".NAME.partial" beside it and renamed to
  // `file` at the first flush(), under an exclusive lock (".NAME.lock") until close().
  // Throws core::user_error naming the path and the reason when it cannot be created
  // (missing folder, no permission, another run writing it) or must not be replaced:
  // an existing file that is not a trace (unless `force`), one of `inputs`, anything
  // that is not a regular file. A writer destroyed before its first flush() removes the
  // partial file and leaves the path as it was.
  explicit trace_writer(const std::filesystem::path& file, const std::vector<named_path>& inputs = {},
                        bool force = false);
  ~trace_writer();
  trace_writer(const trace_writer&) = delete;
  trace_writer& operator=(const trace_writer&) = delete;

  // --- structure: call these before start_streaming() ---
  void set_value_type(value_type t);   // before add_projection/add_report; default f32
  void write_provenance(const provenance& p);
  void add_projection(const std::string& name, const std::string& pre, const std::string& post,
                      std::uint32_t n_post, std::uint32_t n_pre, bool bias);
  void add_report(const report_spec& r);
  // A rule- or experiment-specific f64 column under /metrics, e.g. "energy" or
  // "alignment/w2/weight_cosine" (groups are created as needed).
  void add_metric(const std::string& path);
  void add_table(const table_spec& t);
  // Ends the structure phase (flushes it); afterwards only appends are allowed.
  void start_streaming();

  // --- appends ---
  void append_metrics(const metrics_row& r);
  // w: n_post * n_pre row-major (post-major, PyTorch layout); b: n_post or empty.
  // Values are converted to the value_type on storage (exact for an f32 run's values).
  void append_snapshot(const std::string& projection, std::uint64_t samples,
                       std::span<const double> w, std::span<const double> b);
  // values: nodes * elements, node-major (node 0's elements first). Frames come every
  // sample_step samples; mapping/time is rewritten to cover them.
  void append_report(const std::string& population, std::uint64_t samples, std::int64_t tick,
                     std::span<const double> values);

  // `rows` rows of the table at `path`: one span per column, in declaration order, each of
  // rows * max(1, width) values (integer columns hold exact integers).
  void append_table(const std::string& path, std::span<const std::span<const double>> columns, std::uint64_t rows);

  // Everything appended so far is readable after this, even after SIGKILL. The first
  // flush renames the partial file to the target path.
  void flush();
  // Idempotent. Publishes the file if no flush did. The destructor calls it, except
  // before the first flush (an error path), when it removes the partial file instead.
  void close();

 private:
  struct impl;
  void create(impl& m);
  std::unique_ptr<impl> impl_;
};

}  // namespace phaseless::io
