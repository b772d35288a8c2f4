// `phaseless inspect --csv`: one dataset or a whole group of a trace as one CSV table,
// keyed by its samples column; string datasets (the model text) as plain text.
#include <algorithm>
#include <cstdio>
#include <map>

#include "sim/core/errors.hpp"
#include "sim/io/trace_reader.hpp"
#include "sim/io/trace_reader_detail.hpp"

namespace phaseless::io {
namespace {

namespace fs = std::filesystem;
using namespace trace_detail;

std::string quoted(const fs::path& file) { return std::string("'").append(file.string()).append("'"); }

std::string parent_of(const std::string& path) {
  const auto k = path.find_last_of('/');
  return k == 0 || k == std::string::npos ? "" : path.substr(0, k);
}

bool is_string_dataset(hid_t f, const std::string& path) {
  h5::handle ds = h5::own(H5Dopen2(f, path.c_str(), H5P_DEFAULT), H5Dclose, "cannot open " + path);
  h5::handle t = h5::own(H5Dget_type(ds.get()), H5Tclose, "cannot read " + path);
  return H5Tget_class(t.get()) == H5T_STRING;
}

// A scalar string dataset (variable or fixed length), in the file's own character set.
std::string read_text(hid_t f, const std::string& path, const fs::path& file) {
  const std::string what = "cannot read " + path + " in " + quoted(file);
  h5::handle ds = h5::own(H5Dopen2(f, path.c_str(), H5P_DEFAULT), H5Dclose, what);
  h5::handle t = h5::own(H5Dget_type(ds.get()), H5Tclose, what);
  if (!h5::extent(ds.get(), what).empty())
    throw core::user_error(path + " in " + quoted(file) + " is an array of strings; only scalar strings are printed");
  h5::handle mt = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, what);
  h5::check(H5Tset_cset(mt.get(), H5Tget_cset(t.get())), what);
  if (H5Tis_variable_str(t.get()) > 0) {
    h5::check(H5Tset_size(mt.get(), H5T_VARIABLE), what);
    char* p = nullptr;
    h5::check(H5Dread(ds.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), what);
    std::string s = p != nullptr ? p : "";
    H5free_memory(p);
    return s;
  }
  const std::size_t size = H5Tget_size(t.get());
  h5::check(H5Tset_size(mt.get(), size + 1), what);
  std::string buf(size + 1, '\0');
  h5::check(H5Dread(ds.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), what);
  return buf.c_str();
}

struct column_set {
  std::string name;   // header stem
  numeric d;
  std::size_t cols = 1;   // values per row
};

column_set load_column(hid_t f, const fs::path& file, const std::string& path, const std::string& name) {
  column_set c{name, read_numeric(f, file, path), 1};
  for (std::size_t i = 1; i < c.d.dims.size(); ++i) c.cols *= static_cast<std::size_t>(c.d.dims[i]);
  return c;
}

std::size_t rows_of(const numeric& d) { return d.dims.empty() ? 1 : static_cast<std::size_t>(d.dims[0]); }

// The samples column that keys `path`'s rows: a sibling `samples`, a report's
// `mapping/samples`, or an enclosing group's `samples` (/metrics/alignment/... -> /metrics).
std::string key_for(const std::vector<std::string>& names, std::string group) {
  for (; !group.empty(); group = parent_of(group))
    for (const char* c : {"/samples", "/mapping/samples"})
      if (std::binary_search(names.begin(), names.end(), group + c)) return group + c;
  return "";
}

void header_of(std::string& line, const column_set& c) {
  if (c.d.dims.size() <= 1) {
    line += c.name;
    return;
  }
  const std::size_t inner = c.d.dims.size() == 3 ? static_cast<std::size_t>(c.d.dims[2]) : 1;
  for (std::size_t k = 0; k < c.cols; ++k) {
    line += (k ? "," : "") + c.name + "_";
    line += c.d.dims.size() == 3 ? std::to_string(k / inner) + "_" + std::to_string(k % inner) : std::to_string(k);
  }
}

void write_table(const std::vector<column_set>& cs, std::size_t rows, std::ostream& out) {
  std::string line;
  for (std::size_t j = 0; j < cs.size(); ++j) {
    if (j) line += ',';
    header_of(line, cs[j]);
  }
  out << line << '\n';
  for (std::size_t r = 0; r < rows && out; ++r) {
    line.clear();
    for (std::size_t j = 0; j < cs.size(); ++j)
      for (std::size_t k = 0; k < cs[j].cols; ++k) {
        if (j || k) line += ',';
        append_value(line, cs[j].d.v, r * cs[j].cols + k);
      }
    line += '\n';
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  }
}

}  // namespace

std::vector<std::string> export_csv(const fs::path& file, const std::string& what, std::ostream& out) {
  h5::handle fh = open_trace(file);
  const hid_t f = fh.get();
  std::string path = what.empty() || what[0] != '/' ? "/" + what : what;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const auto names = datasets_in(f, file);
  const bool is_dataset = std::binary_search(names.begin(), names.end(), path);
  const std::string prefix = path == "/" ? "/" : path + "/";
  std::vector<std::string> members;
  for (const auto& n : names)
    if (n.compare(0, prefix.size(), prefix) == 0) members.push_back(n);
  if (!is_dataset && members.empty()) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    throw core::user_error("trace " + quoted(file) + " has no dataset or group '" + path + "'; available: " + all);
  }
  if (is_dataset && is_string_dataset(f, path)) {
    const std::string text = read_text(f, path, file);
    out << text << (text.empty() || text.back() == '\n' ? "" : "\n");
    if (!out) throw core::io_error("cannot write " + path);
    return {};
  }
  // The key column first, then the dataset (or the group's datasets with as many rows).
  std::string key = key_for(names, is_dataset ? parent_of(path) : path);
  if (key == path) key.clear();
  std::vector<column_set> cs;
  if (!key.empty()) cs.push_back(load_column(f, file, key, key.substr(key.find_last_of('/') + 1)));
  std::vector<std::string> skipped;
  // A report's per-frame datasets are appended together, but a kill during a flush can
  // leave one a row ahead of the others: such a table is read up to the shorter.
  const std::string frame_key = "/mapping/samples";
  const bool frames = key.size() >= frame_key.size() && key.compare(key.size() - frame_key.size(), frame_key.size(), frame_key) == 0;
  std::size_t rows = cs.empty() ? 0 : rows_of(cs[0].d);
  // A report's mapping (other than its ticks) is one row per element, not per frame.
  auto per_frame = [](const std::string& n) {
    const auto m = n.rfind("/mapping/");
    return m == std::string::npos || n.substr(m) == "/mapping/ticks";
  };
  auto same_rows = [&](const column_set& c, const std::string& n) {
    if (cs.empty() || rows_of(c.d) == rows) return true;
    if (!frames || !per_frame(n)) return false;
    skipped.push_back(c.name + ": rows after " + std::to_string(std::min(rows, rows_of(c.d))) +
                      " (cut short by a kill during a flush; the table ends there)");
    rows = std::min(rows, rows_of(c.d));
    return true;
  };
  if (is_dataset) {
    column_set c = load_column(f, file, path, path.substr(path.find_last_of('/') + 1));
    if (!same_rows(c, path)) cs.clear();   // not keyed by it
    cs.push_back(std::move(c));
    if (cs.size() == 1) rows = rows_of(cs[0].d);
  } else {
    for (const auto& n : members) {
      if (n == key) continue;
      if (!per_frame(n)) {   // SONATA's neuron layout, not frames
        skipped.push_back(n + " (report mapping, one row per element, not per frame)");
        continue;
      }
      if (is_string_dataset(f, n)) {
        skipped.push_back(n + " (text: export it on its own)");
        continue;
      }
      column_set c = load_column(f, file, n, n.substr(prefix.size()));
      if (!same_rows(c, n)) {
        skipped.push_back(n + " (" + std::to_string(rows_of(c.d)) + " rows, not " + std::to_string(rows) + ")");
        continue;
      }
      if (cs.empty()) rows = rows_of(c.d);
      cs.push_back(std::move(c));
    }
    if (cs.empty()) throw core::user_error("group '" + path + "' in " + quoted(file) + " holds no numeric dataset");
  }
  write_table(cs, rows, out);
  if (!out) throw core::io_error("cannot write the CSV of " + path);
  return skipped;
}

}  // namespace phaseless::io
