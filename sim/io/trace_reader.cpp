// Reading traces back (layout: docs/trace-format.md). Works on files still being
// written: the writer keeps file locking off and only changes metadata in flush(), so
// a reader sees the trace as of the last flush.
#include "sim/io/trace_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <system_error>
#include <variant>

#include "sim/core/errors.hpp"
#include "sim/io/h5_util.hpp"
#include "sim/io/isolated_read.hpp"
#include "sim/io/trace_reader_detail.hpp"

namespace phaseless::io {
namespace trace_detail {

namespace fs = std::filesystem;

std::string quoted(const fs::path& file) { return std::string("'").append(file.string()).append("'"); }

// True when HDF5's message says the file is marked as open by a writer, the one case
// an SWMR-read open can succeed where a plain one failed.
bool open_for_write(const std::string& why) {
  return why.find("open for write") != std::string::npos || why.find("SWMR") != std::string::npos;
}

h5::handle open_trace(const fs::path& file) {
  h5::quiet_errors();
  const std::string what = "cannot read trace " + quoted(file);
  std::error_code ec;
  if (!fs::exists(file, ec)) throw core::user_error(what + ": file does not exist");
  if (fs::is_directory(file, ec)) throw core::user_error(what + ": it is a folder");
  if (!fs::is_regular_file(file, ec)) throw core::user_error(what + ": it is not a regular file");
  h5::handle fapl = h5::file_access_plist(what);
  // An SWMR-read open retries a metadata read whose checksum fails (100 times with
  // backoff by default: minutes on a damaged file). A damaged file stays damaged: try twice.
  h5::check(H5Pset_metadata_read_attempts(fapl.get(), 2), what);
  if (H5Fis_hdf5(file.c_str()) <= 0)
    throw core::user_error(what + ": not an HDF5 file");
  hid_t id = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) {
    const std::string why = h5::error_text();
    // A file from an SWMR writer (other tools, or a live 1.10-format file) opens only
    // in SWMR-read mode; any other failure (a bad checksum, a truncated file) is final.
    if (open_for_write(why)) id = H5Fopen(file.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.get());
    if (id < 0) throw core::user_error(what + ": " + why + " (the file is damaged or not a trace)");
  }
  return {id, H5Fclose};
}

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type == H5O_TYPE_DATASET)
    static_cast<std::vector<std::string>*>(data)->push_back(std::string("/") + name);
  return 0;
}

std::vector<std::string> datasets_in(hid_t f, const fs::path& file) {
  std::vector<std::string> names;
  h5::check(H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &names, H5O_INFO_BASIC),
            "cannot list the datasets of " + quoted(file));
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Opens `dataset` ("/metrics/samples" or "metrics/samples"), or explains what exists.
h5::handle open_dataset(hid_t f, const fs::path& file, std::string& dataset) {
  if (dataset.empty() || dataset[0] != '/') {   // (not insert(0, "/"): g++ 12 warns falsely on it)
    std::string rooted(1, '/');
    dataset = rooted.append(dataset);
  }
  const auto names = datasets_in(f, file);
  if (!std::binary_search(names.begin(), names.end(), dataset))
    throw core::user_error("trace " + quoted(file) + " has no dataset '" + dataset +
                           "'; available: " + join(names));
  return h5::own(H5Dopen2(f, dataset.c_str(), H5P_DEFAULT), H5Dclose,
                 "cannot open " + dataset + " in " + quoted(file));
}

template <class T>
void read_all(hid_t ds, hid_t mem_type, std::size_t n, std::vector<T>& out, const std::string& what) {
  out.resize(n);
  if (n > 0) h5::check(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), what);
}

numeric read_numeric(hid_t f, const fs::path& file, std::string dataset) {
  h5::handle ds = open_dataset(f, file, dataset);
  const std::string what = "cannot read " + dataset + " in " + quoted(file);
  h5::handle type = h5::own(H5Dget_type(ds.get()), H5Tclose, what);
  numeric out;
  out.dims = h5::extent(ds.get(), what);
  if (out.dims.size() > 3)
    throw core::user_error(dataset + " in " + quoted(file) + " has rank " +
                           std::to_string(out.dims.size()) + "; at most 3 is supported");
  const std::size_t n = h5::checked_count(out.dims, sizeof(double), "trace " + quoted(file) + ": dataset " + dataset);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_INTEGER && H5Tget_sign(type.get()) == H5T_SGN_NONE) {
    read_all(ds.get(), H5T_NATIVE_UINT64, n, out.v.emplace<std::vector<std::uint64_t>>(), what);
  } else if (cls == H5T_INTEGER) {
    read_all(ds.get(), H5T_NATIVE_INT64, n, out.v.emplace<std::vector<std::int64_t>>(), what);
  } else if (cls == H5T_FLOAT && H5Tget_size(type.get()) <= sizeof(float)) {
    read_all(ds.get(), H5T_NATIVE_FLOAT, n, out.v.emplace<std::vector<float>>(), what);
  } else if (cls == H5T_FLOAT) {
    read_all(ds.get(), H5T_NATIVE_DOUBLE, n, out.v.emplace<std::vector<double>>(), what);
  } else {
    throw core::user_error(dataset + " in " + quoted(file) + " is not numeric (type " +
                           h5::type_name(type.get()) + ")");
  }
  return out;
}

std::vector<double> as_doubles(const values& v) {
  return std::visit(
      [](const auto& xs) {
        std::vector<double> d(xs.size());
        std::transform(xs.begin(), xs.end(), d.begin(), [](auto x) { return static_cast<double>(x); });
        return d;
      },
      v);
}

// Integers exactly; f32 with 9 and f64 with 17 significant digits: enough to round-trip.
void append_value(std::string& s, const values& v, std::size_t i) {
  char buf[64];
  if (const auto* u = std::get_if<std::vector<std::uint64_t>>(&v)) {
    s.append(buf, std::to_chars(buf, buf + sizeof buf, (*u)[i]).ptr);
  } else if (const auto* k = std::get_if<std::vector<std::int64_t>>(&v)) {
    s.append(buf, std::to_chars(buf, buf + sizeof buf, (*k)[i]).ptr);
  } else if (const auto* x = std::get_if<std::vector<float>>(&v)) {
    s.append(buf, static_cast<std::size_t>(
                      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>((*x)[i]))));
  } else {
    s.append(buf, static_cast<std::size_t>(
                      std::snprintf(buf, sizeof buf, "%.17g", std::get<std::vector<double>>(v)[i])));
  }
}

// An attribute opened after checking that it is what the reader expects: `cls`
// (H5T_STRING, or H5T_INTEGER / H5T_FLOAT for "a number") and `points` elements
// (0: any count). Every buffer is then sized from what was checked, never from the
// file alone. Absent: an invalid handle. Wrong: core::user_error naming file and object.
struct checked_attr {
  h5::handle a, type;
  std::size_t points = 0;
};
checked_attr open_attr(hid_t obj, const char* name, bool string, std::size_t points, const fs::path& file,
                       const std::string& owner) {
  checked_attr c;
  const std::string what = "trace " + quoted(file) + ": attribute '" + name + "' of " + owner;
  if (H5Aexists(obj, name) <= 0) return c;
  c.a = h5::own(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, what);
  c.type = h5::own(H5Aget_type(c.a.get()), H5Tclose, what);
  h5::handle space = h5::own(H5Aget_space(c.a.get()), H5Sclose, what);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank < 0 || (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)) h5::fail(what);
  const H5T_class_t cls = H5Tget_class(c.type.get());
  const bool class_ok = string ? cls == H5T_STRING : (cls == H5T_INTEGER || cls == H5T_FLOAT);
  const bool scalar = H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
  c.points = scalar ? 1 : h5::checked_count(dims, sizeof(double), what);
  const bool shape_ok = points == 0 ? !string || scalar : (points == 1 ? scalar || (rank == 1 && c.points == 1)
                                                                       : c.points == points);
  if (!class_ok || !shape_ok)
    throw core::user_error(what + " must be " +
                           (points == 1 ? std::string("a scalar ") : points == 0 ? "" : std::to_string(points) + " ") +
                           (string ? "string" : "number" + std::string(points > 1 ? "s" : "")) + "; found " +
                           h5::type_name(c.type.get()) + " " + h5::shape_text(scalar ? std::vector<hsize_t>{} : dims));
  return c;
}

// Reads a scalar string attribute, fixed- or variable-length. Returns false if absent.
bool read_string_attr(hid_t obj, const char* name, std::string& out, const fs::path& file,
                      const std::string& owner) {
  checked_attr c = open_attr(obj, name, true, 1, file, owner);
  if (!c.a.valid()) return false;
  const std::string what = "cannot read attribute '" + std::string(name) + "' of " + owner + " in " + quoted(file);
  h5::handle mt = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, what);
  // HDF5 does not convert between character sets: read in the file's own.
  h5::check(H5Tset_cset(mt.get(), H5Tget_cset(c.type.get())), what);
  if (H5Tis_variable_str(c.type.get()) > 0) {
    h5::check(H5Tset_size(mt.get(), H5T_VARIABLE), what);
    char* p = nullptr;
    h5::check(H5Aread(c.a.get(), mt.get(), &p), what);
    out = p != nullptr ? p : "";
    H5free_memory(p);
  } else {
    const std::size_t size = H5Tget_size(c.type.get());
    if (size == 0 || size > (std::size_t{1} << 20))
      throw core::user_error("trace " + quoted(file) + ": attribute '" + name + "' of " + owner + " is a string of " +
                             std::to_string(size) + " bytes; allowed: 1 byte to 1 MiB");
    h5::check(H5Tset_size(mt.get(), size + 1), what);   // +1: room for the terminator
    std::string buf(size + 1, '\0');
    h5::check(H5Aread(c.a.get(), mt.get(), buf.data()), what);
    out = buf.c_str();
  }
  return true;
}

// Reads a numeric attribute of `points` elements (0: any) as doubles (empty if absent).
std::vector<double> read_number_attr(hid_t obj, const char* name, std::size_t points, const fs::path& file,
                                     const std::string& owner) {
  checked_attr c = open_attr(obj, name, false, points, file, owner);
  if (!c.a.valid()) return {};
  std::vector<double> v(c.points);
  if (!v.empty())
    h5::check(H5Aread(c.a.get(), H5T_NATIVE_DOUBLE, v.data()),
              "cannot read attribute '" + std::string(name) + "' of " + owner + " in " + quoted(file));
  return v;
}

// True when `name` under loc exists and is an object of type `type`; when it exists
// as something else, throws core::user_error naming it (a crafted or damaged file).
bool has_object(hid_t loc, const char* name, H5O_type_t type, const fs::path& file, const std::string& path) {
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return false;
  H5O_info_t info{};
  if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 || info.type != type)
    throw core::user_error("trace " + quoted(file) + ": " + path + " must be a " +
                           (type == H5O_TYPE_GROUP ? "group" : "dataset") + " (the file is damaged or not a trace)");
  return true;
}

// Rows of each group of datasets appended together (a report's data and mapping
// samples/ticks, a projection's snapshots). A run killed during a flush can leave one
// of them a row longer than the others; readers use the shortest (docs/trace-format.md).
void print_row_groups(hid_t root, const fs::path& file, const std::vector<std::string>& names, std::ostream& out) {
  for (const auto& name : names) {
    std::string base;
    std::vector<std::string> members;
    const auto ends = [&](const std::string& tail) {
      return name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (name.rfind("/report/", 0) == 0 && ends("/data") && std::count(name.begin(), name.end(), '/') == 3) {
      base = name.substr(0, name.size() - 5);
      members = {name, base + "/mapping/samples", base + "/mapping/ticks"};
    } else if (name.rfind("/weights/", 0) == 0 && ends("/snapshots/data")) {
      base = name.substr(0, name.size() - 5);
      members = {name, base + "/samples", base + "/bias"};
    } else if (name.rfind("/events/", 0) == 0 && ends("/messages/value")) {
      base = name.substr(0, name.size() - 6);   // the messages delivered to one population
      for (const char* c : {"sample", "tick", "step", "kind", "source", "neuron", "value", "dropped"})
        members.push_back(base + "/" + c);
    } else if (name.rfind("/events/", 0) == 0 && ends("/state/data")) {
      base = name.substr(0, name.size() - 5);
      members = {name, base + "/sample", base + "/tick"};
    } else {
      continue;
    }
    hsize_t lo = ~hsize_t{0}, hi = 0;
    for (const auto& m : members) {
      if (!std::binary_search(names.begin(), names.end(), m)) continue;
      h5::handle ds =
          h5::own(H5Dopen2(root, m.c_str(), H5P_DEFAULT), H5Dclose, "cannot open " + m + " in " + quoted(file));
      const auto dims = h5::extent(ds.get(), "cannot read " + m + " in " + quoted(file));
      const hsize_t rows = dims.empty() ? 1 : dims[0];
      lo = std::min(lo, rows);
      hi = std::max(hi, rows);
    }
    out << "  " << base << ": " << lo << " rows";
    if (hi != lo)
      out << " (some of its datasets hold up to " << hi << ": the run was killed during a flush; use the first "
          << lo << ")";
    out << '\n';
  }
}

std::string number_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

// One line per SONATA report: nodes, elements, frames and the time axis.
void print_reports(hid_t root, const fs::path& file, std::ostream& out) {
  if (H5Lexists(root, "report", H5P_DEFAULT) <= 0) return;
  const std::string what = "cannot read /report in " + quoted(file);
  h5::handle g = h5::own(H5Gopen2(root, "report", H5P_DEFAULT), H5Gclose, what);
  std::vector<std::string> pops;
  h5::check(H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &pops), what);
  for (const auto& pop : pops) {
    const std::string base = "/report/" + pop;
    if (H5Lexists(root, (base + "/mapping/time").c_str(), H5P_DEFAULT) <= 0) continue;
    h5::handle map = h5::own(H5Gopen2(root, (base + "/mapping").c_str(), H5P_DEFAULT), H5Gclose, what);
    h5::handle t = h5::own(H5Dopen2(map.get(), "time", H5P_DEFAULT), H5Dclose, what);
    std::string units, elements;
    read_string_attr(t.get(), "units", units, file, base + "/mapping/time");
    read_string_attr(map.get(), "element_names", elements, file, base + "/mapping");
    const auto time = as_doubles(read_numeric(root, file, base + "/mapping/time").v);
    const auto nodes = h5::extent(h5::own(H5Dopen2(map.get(), "node_ids", H5P_DEFAULT), H5Dclose, what).get(), what);
    if (time.size() != 3 || nodes.size() != 1 || time[2] <= 0) continue;
    out << "  report " << pop << ": " << nodes[0] << " nodes x (" << elements << "), "
        << number_text((time[1] - time[0]) / time[2]) << " frames, time [" << number_text(time[0]) << ", "
        << number_text(time[1]) << ") step " << number_text(time[2]) << " " << units << "\n";
  }
}

}  // namespace trace_detail
using namespace trace_detail;

namespace {

void write_summary(const std::filesystem::path& file, std::ostream& out) {
  h5::handle f = open_trace(file);
  const hid_t root = f.get();
  const std::string what = "cannot read the attributes of " + quoted(file);
  std::string format, units;
  if (!read_string_attr(root, "format", format, file, "/") || format != "phaseless-trace")
    throw core::user_error(quoted(file) + " is not a phaseless trace (root attribute 'format' is " +
                           (format.empty() ? "missing" : "'" + format + "'") + ")");
  read_string_attr(root, "time_units", units, file, "/");
  const auto fv = read_number_attr(root, "format_version", 1, file, "/");
  const auto magic = read_number_attr(root, "magic", 1, file, "/");
  const auto version = read_number_attr(root, "version", 2, file, "/");
  char magic_text[16] = "?";
  if (!magic.empty() && magic[0] >= 0 && magic[0] < 4294967296.0)
    std::snprintf(magic_text, sizeof magic_text, "0x%04llX", static_cast<unsigned long long>(magic[0]));
  out << "trace " << quoted(file) << "\n  format: " << format << " version "
      << (fv.empty() ? "?" : number_text(fv[0])) << ", SONATA magic " << magic_text << " version "
      << (version.size() == 2 ? number_text(version[0]) + "." + number_text(version[1]) : "?")
      << ", time units '" << units << "'\n";

  if (has_object(root, "provenance", H5O_TYPE_GROUP, file, "/provenance")) {
    h5::handle g = h5::own(H5Gopen2(root, "provenance", H5P_DEFAULT), H5Gclose, what);
    std::string model, software;
    read_string_attr(g.get(), "model_name", model, file, "/provenance");
    read_string_attr(g.get(), "software_version", software, file, "/provenance");
    std::string commit;
    if (read_string_attr(g.get(), "git_commit", commit, file, "/provenance") && !commit.empty())
      software.append(" commit ").append(commit);
    const auto threads = read_number_attr(g.get(), "threads", 1, file, "/provenance");
    // seed is a u64: read natively, as a double it could lose digits.
    std::uint64_t seed = 0;
    if (checked_attr c = open_attr(g.get(), "seed", false, 1, file, "/provenance"); c.a.valid())
      h5::check(H5Aread(c.a.get(), H5T_NATIVE_UINT64, &seed), what);
    hsize_t n_order = 0;
    if (has_object(g.get(), "sample_order", H5O_TYPE_DATASET, file, "/provenance/sample_order")) {
      h5::handle order = h5::own(H5Dopen2(g.get(), "sample_order", H5P_DEFAULT), H5Dclose, what);
      const auto dims = h5::extent(order.get(), what);
      n_order = dims.empty() ? 1 : dims[0];
    }
    out << "  provenance: model '" << model << "', seed " << seed << ", software '"
        << software << "', threads " << (threads.empty() ? "?" : number_text(threads[0])) << ", "
        << n_order << " samples in sample_order\n";
  } else {
    out << "  provenance: none\n";
  }

  out << "  datasets:\n";
  const auto names = datasets_in(root, file);
  for (const auto& name : names) {
    h5::handle ds = h5::own(H5Dopen2(root, name.c_str(), H5P_DEFAULT), H5Dclose,
                            "cannot open " + name + " in " + quoted(file));
    h5::handle t = h5::own(H5Dget_type(ds.get()), H5Tclose, "cannot read " + name);
    out << "    " << name << "  " << h5::type_name(t.get()) << ' '
        << h5::shape_text(h5::extent(ds.get(), "cannot read " + name)) << '\n';
  }

  print_reports(root, file, out);
  print_row_groups(root, file, names, out);

  if (H5Lexists(root, "metrics", H5P_DEFAULT) <= 0 ||
      H5Lexists(root, "metrics/samples", H5P_DEFAULT) <= 0) {
    out << "  metrics: none\n";
    return;
  }
  const auto samples = as_doubles(read_numeric(root, file, "/metrics/samples").v);
  if (samples.empty()) {
    out << "  metrics: no rows yet\n";
    return;
  }
  const auto acc = as_doubles(read_numeric(root, file, "/metrics/test_accuracy").v);
  const auto loss = as_doubles(read_numeric(root, file, "/metrics/train_loss").v);
  // Defensive: the columns are separate datasets (files from other writers may differ).
  const std::size_t last = std::min({samples.size(), acc.size(), loss.size()});
  if (last == 0) return;
  out << "  last of " << last << " metrics rows: samples " << number_text(samples[last - 1])
      << ", test_accuracy " << number_text(acc[last - 1]) << ", train_loss "
      << number_text(loss[last - 1]) << '\n';
}

}  // namespace

void print_trace_summary(const std::filesystem::path& file, std::ostream& out) {
  // Printed only when complete: a damaged file gives one error message, not half a summary.
  std::ostringstream text;
  write_summary(file, text);
  out << text.str();
}

bool is_trace(const std::filesystem::path& file) {
  try {
    // Asked of whatever sits at a run's --out path: a damaged file there must neither
    // crash nor hang the run, so the library first decodes its strings in a watched child.
    require_decodable(file.string(), "trace");
    h5::handle f = open_trace(file);
    std::string format;
    return read_string_attr(f.get(), "format", format, file, "/") && format == "phaseless-trace";
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> list_datasets(const std::filesystem::path& file) {
  h5::handle f = open_trace(file);
  return datasets_in(f.get(), file);
}

std::vector<double> read_dataset(const std::filesystem::path& file, const std::string& dataset) {
  h5::handle f = open_trace(file);
  return as_doubles(read_numeric(f.get(), file, dataset).v);
}

}  // namespace phaseless::io
