#pragma once
// Reader internals shared by trace_reader.cpp (summaries, datasets) and trace_csv.cpp
// (CSV export). Not for tools: they use trace_reader.hpp.
#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "sim/io/h5_util.hpp"

namespace phaseless::io::trace_detail {

// A numeric dataset in the widest native type of its class, so that the CSV export can
// print integers as integers and floats with the digits their width needs.
using values = std::variant<std::vector<std::uint64_t>, std::vector<std::int64_t>,
                            std::vector<float>, std::vector<double>>;
struct numeric {
  std::vector<hsize_t> dims;
  values v;
};

h5::handle open_trace(const std::filesystem::path& file);
std::vector<std::string> datasets_in(hid_t f, const std::filesystem::path& file);
numeric read_numeric(hid_t f, const std::filesystem::path& file, std::string dataset);
// Appends element i: integers exactly, f32 with 9 and f64 with 17 significant digits.
void append_value(std::string& s, const values& v, std::size_t i);

}  // namespace phaseless::io::trace_detail
