#pragma once
// Private to the trace writer (trace_writer.cpp: the file's lifecycle; trace_writer_tables.cpp:
// the datasets and their appends): the open file's state and the HDF5 steps both parts use.
// The layout and crash-safety contract are in docs/trace-format.md and trace_writer.cpp.
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sim/core/errors.hpp"
#include "sim/io/h5_util.hpp"
#include "sim/io/output_path.hpp"
#include "sim/io/trace_writer.hpp"
#include "sim/io/utf8.hpp"

namespace phaseless::io::trace_detail {

namespace fs = std::filesystem;

// Raw-data chunk target: large enough that the chunk index stays small, small enough
// that one append rewrites little.
constexpr hsize_t chunk_bytes = 64 * 1024;

inline std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

inline void check_name(const fs::path& file, const char* what, const std::string& name) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos)
    throw core::user_error("trace '" + file.string() + "': " + what + " name '" + name +
                           "' cannot be stored (it must be non-empty and contain no '/')");
}

// One appendable dataset: extent [rows, row...], grown along the first dimension only.
struct series {
  h5::handle ds;
  hid_t mem_type = H5I_INVALID_HID;
  std::vector<hsize_t> row;   // dims after the first; empty for 1-D
  hsize_t rows = 0;
  std::string path;           // for messages
  std::size_t row_size() const {
    std::size_t n = 1;
    for (hsize_t d : row) n *= static_cast<std::size_t>(d);
    return n;
  }
};

struct projection_sets {
  series samples, data, bias;
  bool has_bias = false;
};

struct report_sets {
  series samples, ticks, data;
  h5::handle time;              // SONATA mapping/time [start, stop, step], compact (see add_report)
  std::uint64_t step = 1, start = 0;
};

// Metrics columns in file order; append_metrics fills them in this order.
struct metric_column {
  const char* name;
  hid_t (*file_type)();
  hid_t (*mem_type)();
};
inline const std::array<metric_column, 8> metric_columns = {{
    {"samples", [] { return H5T_STD_U64LE; }, [] { return H5T_NATIVE_UINT64; }},
    {"ticks", [] { return H5T_STD_I64LE; }, [] { return H5T_NATIVE_INT64; }},
    {"train_loss", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
    {"test_accuracy", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
    {"test_loss", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
    {"events", [] { return H5T_STD_U64LE; }, [] { return H5T_NATIVE_UINT64; }},
    {"synaptic_ops", [] { return H5T_STD_U64LE; }, [] { return H5T_NATIVE_UINT64; }},
    {"wall_time", [] { return H5T_IEEE_F64LE; }, [] { return H5T_NATIVE_DOUBLE; }},
}};

}  // namespace phaseless::io::trace_detail

namespace phaseless::io {

using namespace trace_detail;

struct trace_writer::impl {
  fs::path file;       // the target path
  fs::path partial;    // where the file is written until the first flush renames it to `file`
  output_lock lock;    // held from construction to close
  bool published = false;
  std::string where;   // "trace 'PATH'", the prefix of every runtime error
  h5::handle f;
  std::array<series, metric_columns.size()> metrics;
  std::vector<series> extra_metrics;   // add_metric, in order
  std::map<std::string, projection_sets> projections;
  std::map<std::string, report_sets> reports;
  std::map<std::string, std::vector<series>> tables;   // add_table, by path
  hid_t real_type = H5T_IEEE_F32LE;    // weights, biases, reports: the run's precision
  std::size_t real_bytes = 4;
  bool provenance_written = false;
  bool streaming = false;
  bool closed = false;

  std::string at(const std::string& what) const { return where + ": cannot " + what; }

  // A write that hits a full disk can leave an HDF5 file unreadable, so the writer
  // stops before that: when the next append (plus room for metadata and the final
  // close) would not fit, it flushes, closes the file cleanly and throws io_error.
  // The trace then holds everything up to the last complete append.
  void ensure_space(std::uintmax_t bytes, trace_writer& self) {
    constexpr std::uintmax_t headroom = 4u << 20;   // metadata, chunk index, close
    std::error_code ec;
    const auto sp = fs::space(file.parent_path().empty() ? fs::path(".") : file.parent_path(), ec);
    if (ec || sp.available >= bytes + headroom) return;
    const std::string left = where + ": only " + std::to_string(sp.available >> 10) +
                             " KiB left on its disk (" + std::to_string((bytes + headroom) >> 10) + " KiB needed); ";
    if (!published) {
      abandon();
      throw core::io_error(left + "stopped before writing it, and left whatever was at that path untouched");
    }
    self.close();
    throw core::io_error(left + "stopped writing before the disk filled, and closed the trace (it holds "
                         "everything recorded so far)");
  }

  // Puts the file at its path (the first flush). A reader of the path sees a complete,
  // flushed trace from then on; before it, whatever was there before.
  void publish() {
    if (published) return;
    if (std::rename(partial.c_str(), file.c_str()) != 0)
      throw core::io_error(where + ": cannot rename '" + partial.string() + "' to it: " + errno_text(errno));
    published = true;
  }

  // The error path before the first flush: drop the partial file, keep the target as it was.
  void abandon() noexcept {
    if (closed) return;
    closed = true;
    close_handles();
    std::error_code ignored;
    if (!published) fs::remove(partial, ignored);
    lock.release();
  }

  // Closes every dataset and the file; returns the first failure ("" if none).
  std::string close_handles() noexcept;

  [[noreturn]] void bug(const std::string& what) const {
    throw core::internal_error("trace_writer (" + file.string() + "): " + what);
  }
  void require_structure_phase(const char* call) const {
    if (closed) bug(std::string(call) + " after close()");
    if (streaming) bug(std::string(call) + " after start_streaming()");
  }

  // Object creation properties shared by groups and datasets: no timestamps, so two
  // identical runs differ in as few bytes as possible.
  h5::handle creation_plist(hid_t cls, const std::string& path) const {
    h5::handle p = h5::own(H5Pcreate(cls), H5Pclose, at("create " + path));
    h5::check(H5Pset_obj_track_times(p.get(), false), at("create " + path));
    return p;
  }

  h5::handle group(hid_t loc, const std::string& name, const std::string& path) const {
    h5::handle gcpl = creation_plist(H5P_GROUP_CREATE, path);
    return h5::own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                   H5Gclose, at("create group " + path));
  }

  void attr_raw(hid_t obj, const char* name, hid_t file_type, hid_t mem_type,
                const std::vector<hsize_t>& dims, const void* value) const {
    const std::string what = at(std::string("write attribute ") + name);
    h5::handle space = h5::own(dims.empty() ? H5Screate(H5S_SCALAR)
                                            : H5Screate_simple(static_cast<int>(dims.size()),
                                                               dims.data(), nullptr),
                               H5Sclose, what);
    h5::handle a = h5::own(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                           H5Aclose, what);
    h5::check(H5Awrite(a.get(), mem_type, value), what);
  }
  // Strings are stored as UTF-8 (the type says so): other bytes (a Latin-1 file name in
  // the command line) are transcoded as Latin-1.
  void attr(hid_t obj, const char* name, const std::string& text) const {
    h5::handle t = utf8_type();
    const std::string value = utf8::from_utf8_or_latin1(text);
    const char* p = value.c_str();
    attr_raw(obj, name, t.get(), t.get(), {}, &p);
  }
  void attr(hid_t obj, const char* name, std::uint32_t v) const {
    attr_raw(obj, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, {}, &v);
  }
  void attr(hid_t obj, const char* name, std::uint64_t v) const {
    attr_raw(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, {}, &v);
  }

  h5::handle utf8_type() const {
    h5::handle t = h5::own(H5Tcopy(H5T_C_S1), H5Tclose, at("make string type"));
    h5::check(H5Tset_size(t.get(), H5T_VARIABLE), at("make string type"));
    h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), at("make string type"));
    return t;
  }

  void string_dataset(hid_t loc, const char* name, const std::string& text) const {
    const std::string value = utf8::from_utf8_or_latin1(text);
    const std::string what = at(std::string("write /provenance/") + name);
    h5::handle t = utf8_type();
    h5::handle space = h5::own(H5Screate(H5S_SCALAR), H5Sclose, what);
    h5::handle dcpl = creation_plist(H5P_DATASET_CREATE, name);
    h5::handle ds = h5::own(
        H5Dcreate2(loc, name, t.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
        H5Dclose, what);
    const char* p = value.c_str();
    h5::check(H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), what);
  }

  // Fixed-size dataset written once (report mappings).
  void fixed_dataset(hid_t loc, const std::string& name, const std::string& path, hid_t file_type,
                     hid_t mem_type, hsize_t n, const void* data) const {
    const std::string what = at("write " + path);
    h5::handle space = h5::own(H5Screate_simple(1, &n, nullptr), H5Sclose, what);
    h5::handle dcpl = creation_plist(H5P_DATASET_CREATE, path);
    h5::handle ds = h5::own(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                       dcpl.get(), H5P_DEFAULT),
                            H5Dclose, what);
    if (n > 0) h5::check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), what);
  }

  // Creates an empty chunked dataset [0, row...] with an unlimited first dimension.
  // chunk_rows = 0 picks rows so that a chunk holds about chunk_bytes.
  series appendable(hid_t loc, const std::string& name, const std::string& path, hid_t file_type,
                    hid_t mem_type, std::vector<hsize_t> row, hsize_t chunk_rows = 0) const {
    series s;
    s.mem_type = mem_type;
    s.row = std::move(row);
    s.path = path;
    const std::string what = at("create " + path);
    std::vector<hsize_t> dims{0}, max{H5S_UNLIMITED}, chunk{chunk_rows};
    for (hsize_t d : s.row) {
      dims.push_back(d);
      max.push_back(d);
      chunk.push_back(d);
    }
    if (chunk_rows == 0) {
      const hsize_t row_bytes = s.row_size() * H5Tget_size(file_type);
      chunk[0] = std::max<hsize_t>(1, chunk_bytes / std::max<hsize_t>(1, row_bytes));
    }
    const int rank = static_cast<int>(dims.size());
    h5::handle space = h5::own(H5Screate_simple(rank, dims.data(), max.data()), H5Sclose, what);
    h5::handle dcpl = creation_plist(H5P_DATASET_CREATE, path);
    h5::check(H5Pset_chunk(dcpl.get(), rank, chunk.data()), what);
    s.ds = h5::own(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(),
                              H5P_DEFAULT),
                   H5Dclose, what);
    return s;
  }

  // The public appends: the first one freezes the structure (implicit start_streaming).
  void append(series& s, const void* data, hsize_t rows) {
    if (closed) bug("append to " + s.path + " after close()");
    if (!streaming) start_streaming();
    write_rows(s, data, rows);
  }

  // Grows s by `rows` rows and writes them; data holds rows * row_size() values.
  void write_rows(series& s, const void* data, hsize_t rows) const {
    const std::string what = at("append to " + s.path);
    std::vector<hsize_t> start{s.rows}, count{rows}, total{s.rows + rows};
    for (hsize_t d : s.row) {
      start.push_back(0);
      count.push_back(d);
      total.push_back(d);
    }
    h5::check(H5Dset_extent(s.ds.get(), total.data()), what);
    h5::handle fspace = h5::own(H5Dget_space(s.ds.get()), H5Sclose, what);
    h5::check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                                  nullptr),
              what);
    const int rank = static_cast<int>(count.size());
    h5::handle mspace = h5::own(H5Screate_simple(rank, count.data(), nullptr), H5Sclose, what);
    if (rows > 0)
      h5::check(H5Dwrite(s.ds.get(), s.mem_type, mspace.get(), fspace.get(), H5P_DEFAULT, data),
                what);
    s.rows += rows;
  }

  void start_streaming() {
    if (closed) bug("start_streaming() after close()");
    if (streaming) return;
    streaming = true;
    // Puts the complete structure on disk: from here on a killed run always leaves
    // every group and dataset readable, with whatever rows were flushed.
    h5::check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), at("flush"));
  }
};

}  // namespace phaseless::io
