#pragma once
// Reading traces back: `phaseless inspect` and the tests. Layout: docs/trace-format.md.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace phaseless::io {

// Prints what the trace holds: root attributes, provenance summary, every dataset with
// shape and dtype, last metrics row. Throws core::user_error if the file is not a trace.
void print_trace_summary(const std::filesystem::path& file, std::ostream& out);

// Writes a dataset or a whole group as one CSV table. Its first column is the key of the
// rows: the `samples` dataset beside it (a report's mapping/samples; /metrics/samples for
// everything under /metrics); then the dataset's values (2-D: name_j, 3-D: name_i_j) or,
// for a group, every numeric dataset in it with as many rows, named by its path inside
// the group. A string dataset (e.g. /provenance/model_text) is written as plain text.
// Returns the group's datasets left out (text, or another row count), for a note.
// Throws core::user_error naming the path and listing what exists when it does not;
// core::io_error when `out` fails.
std::vector<std::string> export_csv(const std::filesystem::path& file, const std::string& path, std::ostream& out);

// True when `file` is an HDF5 file whose root attribute 'format' is "phaseless-trace".
bool is_trace(const std::filesystem::path& file);

// All dataset paths in the file (sorted), e.g. "/metrics/train_loss".
std::vector<std::string> list_datasets(const std::filesystem::path& file);

// Reads a numeric dataset fully as doubles (flattened), for tests and tools.
std::vector<double> read_dataset(const std::filesystem::path& file, const std::string& dataset);

}  // namespace phaseless::io
