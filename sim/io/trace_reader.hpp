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

// Writes one dataset (any rank <= 3, numeric) as CSV: 1-D -> one column with a header;
// 2-D -> one row per first index; 3-D -> flattened trailing dims. Throws core::user_error
// naming the dataset path and listing the available ones when it does not exist.
void export_csv(const std::filesystem::path& file, const std::string& dataset, std::ostream& out);

// True when `file` is an HDF5 file whose root attribute 'format' is "phaseless-trace".
bool is_trace(const std::filesystem::path& file);

// All dataset paths in the file (sorted), e.g. "/metrics/train_loss".
std::vector<std::string> list_datasets(const std::filesystem::path& file);

// Reads a numeric dataset fully as doubles (flattened), for tests and tools.
std::vector<double> read_dataset(const std::filesystem::path& file, const std::string& dataset);

}  // namespace phaseless::io
